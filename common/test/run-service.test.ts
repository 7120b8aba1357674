import Joi from 'joi';
import {
  InMemoryEventBus,
  baseConfigKeys,
  createLogger,
  busConfigKeys,
  runService,
  type EventBus,
  type ServiceBaseConfig,
} from '../src';

interface WidgetConfig extends ServiceBaseConfig {
  WIDGET_NAME: string;
}
const schema = Joi.object<WidgetConfig>({
  ...baseConfigKeys,
  ...busConfigKeys,
  WIDGET_NAME: Joi.string().required(),
});
const logger = createLogger('test', 'silent');

function harness(env: NodeJS.ProcessEnv, start?: () => Promise<never>) {
  const calls: string[] = [];
  const exit = jest.fn();
  const stderr = jest.fn();
  let signalled: ((signal?: string) => Promise<void>) | undefined;
  const bus = new InMemoryEventBus({ logger });
  const close = bus.close.bind(bus);
  bus.close = async () => {
    calls.push('bus closed');
    await close();
  };
  const run = runService({
    name: 'widget',
    configSchema: schema,
    env,
    exit,
    stderr,
    createLogger: () => logger,
    onSignals: (shutdown) => (signalled = shutdown),
    createBus: (config) => {
      calls.push(`bus for ${config.EVENT_BUS}`);
      return bus;
    },
    start:
      start ??
      (async ({ config, bus: given }: { config: WidgetConfig; bus: EventBus }) => {
        calls.push(`start ${config.WIDGET_NAME} ${config.SHUTDOWN_TIMEOUT_MS} ${given === bus}`);
        return {
          url: 'http://127.0.0.1:1',
          stop: async () => void calls.push('service stopped'),
        };
      }),
  });
  return { run, calls, exit, stderr, signal: () => signalled };
}

describe('runService (main.ts lifecycle)', () => {
  it('loads config, builds the bus, starts, and on a signal stops service then bus and exits 0', async () => {
    const h = harness({ WIDGET_NAME: 'w', SHUTDOWN_TIMEOUT_MS: '50' });
    const running = await h.run;
    expect(running?.service.url).toBe('http://127.0.0.1:1');
    expect(h.calls).toEqual(['bus for memory', 'start w 50 true']);
    expect(h.signal()).toBe(running?.shutdown);
    await h.signal()?.('SIGTERM');
    expect(h.calls).toEqual(['bus for memory', 'start w 50 true', 'service stopped', 'bus closed']);
    expect(h.exit).toHaveBeenCalledWith(0);
    expect(h.stderr).not.toHaveBeenCalled();
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

  it('reports a failed start as "<name> service failed to start" and exits 1', async () => {
    const h = harness({ WIDGET_NAME: 'w' }, async () => {
      throw new Error('port in use');
    });
    expect(await h.run).toBeUndefined();
    expect(h.exit).toHaveBeenCalledWith(1);
    expect(h.stderr).toHaveBeenCalledWith('widget service failed to start: port in use\n');
    expect(h.signal()).toBeUndefined();
  });
});
