import http from 'node:http';
import net from 'node:net';
import Joi from 'joi';
import { Router } from 'express';
import request from 'supertest';
import { createEvent, InMemoryEventBus, subscribeTracked } from '../src/bus';
import { baseConfigKeys, busConfigKeys, loadConfig, trustProxySchema } from '../src/config';
import { createLogger } from '../src/logging';
import { defineService, runService, type ServiceBaseConfig } from '../src/service';

interface WidgetConfig extends ServiceBaseConfig {
  WIDGET_NAME: string;
}
const schema = Joi.object<WidgetConfig>({
  ...baseConfigKeys,
  ...busConfigKeys,
  PORT: Joi.number().port().default(0),
  WIDGET_NAME: Joi.string().required(),
});
const logger = createLogger('test', 'silent');
const config = (env: Record<string, string> = {}) =>
  loadConfig(schema, { WIDGET_NAME: 'w', HOST: '127.0.0.1', SHUTDOWN_TIMEOUT_MS: '100', ...env });

/** A service whose every step is recorded; `failAt` makes that step throw. */
function widgetService(calls: string[], failAt?: string) {
  const step = (name: string) => {
    calls.push(name);
    if (failAt === name) throw new Error(`${name} failed`);
  };
  return defineService({
    name: 'widget',
    configSchema: schema,
    async build({ config: c, bus, onClose }, options: { greeting?: string }) {
      step('open store');
      onClose('store', () => void calls.push('close store'));
      step('migrate');
      onClose('cache', () => void calls.push('close cache'));
      const router = Router();
      router.get('/api/widgets', (_req, res) => {
        res.json({ name: c.WIDGET_NAME, greeting: options.greeting ?? 'hi' });
      });
      return {
        routers: [router],
        health: { store: async () => undefined },
        consumers: [
          async (observer) => {
            step('subscribe');
            const handle = await subscribeTracked({
              bus,
              group: 'widget',
              eventTypes: ['product.deleted'],
              logger,
              observer,
              run: async () => 'handled',
            });
            return {
              stop: async () => {
                calls.push('stop consumers');
                await handle.stop();
              },
            };
          },
        ],
        workers: [
          {
            start: () => step('start relay'),
            stop: async () => void calls.push('stop relay'),
          },
          {
            start: () => step('start sweeper'),
            stop: async () => void calls.push('stop sweeper'),
          },
        ],
        exports: { hello: () => 'exported' },
      };
    },
  });
}

function recordingBus(calls: string[]): InMemoryEventBus {
  const bus = new InMemoryEventBus({ logger });
  const close = bus.close.bind(bus);
  bus.close = async () => {
    calls.push('close bus');
    await close();
  };
  return bus;
}

/** The stop order of a fully started widget service: consumers, workers in reverse, bus, stores. */
const FULL_STOP = [
  'stop consumers',
  'stop sweeper',
  'stop relay',
  'close bus',
  'close cache',
  'close store',
];

describe('defineService (the service kit)', () => {
  it('starts in order, serves the app with health and metrics, exposes exports, stops in reverse', async () => {
    const calls: string[] = [];
    const bus = recordingBus(calls);
    const service = await widgetService(calls).start({
      config: config(),
      bus,
      ownsBus: true,
      logger,
      options: { greeting: 'hello' },
    });
    expect(calls).toEqual(['open store', 'migrate', 'subscribe', 'start relay', 'start sweeper']);
    expect(service.hello()).toBe('exported');
    const res = await request(service.url).get('/api/widgets');
    expect(res.body).toEqual({ name: 'w', greeting: 'hello' });
    const health = await request(service.url).get('/health/ready');
    expect(health.status).toBe(200);
    expect(Object.keys(health.body.checks).sort()).toEqual(['eventBus', 'store']);

    await bus.publish(createEvent('t', 'product.deleted', { productId: 'p' }));
    await bus.publish(createEvent('t', 'product.deleted', { productId: 7 }));
    await bus.idle();
    const metrics = (await request(service.url).get('/metrics')).text;
    expect(metrics).toMatch(
      /events_handled_total\{group="widget",event_type="product.deleted",outcome="handled",service="widget"\} 1/,
    );
    expect(metrics).toMatch(
      /events_dead_lettered_total\{group="widget",event_type="product.deleted",service="widget"\} 1/,
    );

    calls.length = 0;
    await Promise.all([service.stop(), service.stop()]); // once
    expect(calls).toEqual(FULL_STOP);
    await expect(request(service.url).get('/api/widgets')).rejects.toThrow();
  });

  it('leaves a shared bus open (its owner closes it)', async () => {
    const calls: string[] = [];
    const bus = recordingBus(calls);
    const service = await widgetService(calls).start({ config: config(), bus, logger });
    await service.stop();
    expect(calls).not.toContain('close bus');
    await bus.close();
  });

  it.each([
    ['migrate', ['close bus', 'close store']],
    ['subscribe', ['close bus', 'close cache', 'close store']],
    ['start sweeper', ['stop consumers', 'stop relay', 'close bus', 'close cache', 'close store']],
  ])('undoes what a start failing at "%s" did, in reverse', async (failAt, undone) => {
    const calls: string[] = [];
    const bus = recordingBus(calls);
    await expect(
      widgetService(calls, failAt).start({ config: config(), bus, ownsBus: true, logger }),
    ).rejects.toThrow(`${failAt} failed`);
    expect(calls.slice(calls.indexOf(failAt) + 1)).toEqual(undone);
  });

  it('undoes everything when the port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    const calls: string[] = [];
    try {
      await expect(
        widgetService(calls).start({
          config: config({ PORT: String(port) }),
          bus: recordingBus(calls),
          ownsBus: true,
          logger,
        }),
      ).rejects.toThrow(/EADDRINUSE/);
      expect(calls.slice(calls.indexOf('start sweeper') + 1)).toEqual(FULL_STOP);
    } finally {
      blocker.close();
    }
  });
});

describe('runService (main.ts)', () => {
  function harness(env: NodeJS.ProcessEnv, failAt?: string) {
    const calls: string[] = [];
    const exit = jest.fn();
    const stderr = jest.fn();
    let signalled: ((signal?: string) => Promise<void>) | undefined;
    let uncaught: ((err: unknown) => void) | undefined;
    const run = runService(widgetService(calls, failAt), {
      env: { HOST: '127.0.0.1', PORT: '0', ...env },
      exit,
      stderr,
      createLogger: () => logger,
      onSignals: (shutdown) => (signalled = shutdown),
      onUncaught: (handler) => (uncaught = handler),
      createBus: (c) => {
        calls.push(`bus for ${c.EVENT_BUS}`);
        return recordingBus(calls);
      },
    });
    return { run, calls, exit, stderr, signal: () => signalled, uncaught: () => uncaught };
  }

  it('loads config, opens its bus, starts; on a signal stops everything (its bus too) and exits 0', async () => {
    const h = harness({ WIDGET_NAME: 'w', SHUTDOWN_TIMEOUT_MS: '50' });
    const running = await h.run;
    expect(running?.service.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(h.calls[0]).toBe('bus for memory');
    expect(h.signal()).toBe(running?.shutdown);
    await h.signal()?.('SIGTERM');
    expect(h.calls.slice(-3)).toEqual(['close bus', 'close cache', 'close store']);
    expect(h.exit).toHaveBeenCalledWith(0);
    expect(h.stderr).not.toHaveBeenCalled();
  });

  it('survives a socket failure emitted on a request nobody listens to; any other uncaught error exits 1', async () => {
    const h = harness({ WIDGET_NAME: 'w', SHUTDOWN_TIMEOUT_MS: '50' });
    const running = await h.run;
    // A real one: a server that closes the connection without answering, and a request
    // whose 'error' nobody listens to (Node would throw it as uncaught: "socket hang up").
    const server = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const hangUp = await new Promise<Error>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/' });
      req.once('error', resolve); // caught here only to hand it to the handler as Node would
      req.end();
    });
    server.close();
    expect(hangUp.message).toBe('socket hang up');
    h.uncaught()!(hangUp);
    expect(h.exit).not.toHaveBeenCalled();
    h.uncaught()!(new TypeError('a bug'));
    expect(h.exit).toHaveBeenCalledWith(1);
    await running?.service.stop();
  });

  it('prints the bad variable on one line and exits 1 without starting', async () => {
    const h = harness({ SHUTDOWN_TIMEOUT_MS: '50' });
    expect(await h.run).toBeUndefined();
    expect(h.calls).toEqual([]);
    expect(h.exit).toHaveBeenCalledWith(1);
    expect(h.stderr).toHaveBeenCalledWith(
      expect.stringMatching(/^Invalid configuration: WIDGET_NAME: .*\n$/),
    );
  });

  it('prints a failed start on one line, closes what it opened and exits 1', async () => {
    const h = harness({ WIDGET_NAME: 'w' }, 'migrate');
    expect(await h.run).toBeUndefined();
    expect(h.exit).toHaveBeenCalledWith(1);
    expect(h.stderr).toHaveBeenCalledWith('widget service failed to start: migrate failed\n');
    expect(h.calls.slice(-2)).toEqual(['close bus', 'close store']);
    expect(h.signal()).toBeUndefined();
  });
});

describe('the client address behind a proxy (TRUST_PROXY)', () => {
  const ipSchema = Joi.object({
    ...baseConfigKeys,
    ...busConfigKeys,
    PORT: Joi.number().port().default(0),
    TRUST_PROXY: trustProxySchema('loopback'),
  });
  const ipService = defineService({
    name: 'ip',
    usesBus: false,
    configSchema: ipSchema,
    async build() {
      const router = Router();
      router.get('/ip', (req, res) => void res.json({ ip: req.ip }));
      return { routers: [router], exports: {} };
    },
  });
  const clientIp = async (env: Record<string, string>) => {
    const service = await ipService.start({
      config: loadConfig(ipSchema, { HOST: '127.0.0.1', SHUTDOWN_TIMEOUT_MS: '100', ...env }),
      logger,
    });
    try {
      const res = await request(service.url).get('/ip').set('X-Forwarded-For', '203.0.113.7');
      return res.body.ip as string;
    } finally {
      await service.stop();
    }
  };

  it('believes the gateway on loopback by default, and nobody when told so', async () => {
    expect(await clientIp({})).toBe('203.0.113.7');
    expect(await clientIp({ TRUST_PROXY: 'false' })).toMatch(/127\.0\.0\.1$/);
    expect(await clientIp({ TRUST_PROXY: '10.0.0.0/8' })).toMatch(/127\.0\.0\.1$/);
  });

  it('refuses a list Express could not compile, naming the variable', () => {
    expect(() => loadConfig(ipSchema, { TRUST_PROXY: 'not-an-address' })).toThrow(/TRUST_PROXY/);
  });
});
