import express from 'express';
import net from 'node:net';
import { closeHttpServer, listenHttp, stopOnce, type Listening } from '../src/lifecycle';

describe('listenHttp / closeHttpServer', () => {
  it('serves on a free port, names a reachable url for a wildcard host, and closes', async () => {
    const app = express();
    app.get('/ping', (_req, res) => res.set('connection', 'close').json({ pong: true }));
    const { server, url } = await listenHttp(app, 0, '0.0.0.0');
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url.endsWith(`:${(server.address() as { port: number }).port}`)).toBe(true);
    await expect(fetch(`${url}/ping`).then((r) => r.json())).resolves.toEqual({ pong: true });
    await closeHttpServer(server);
    expect(server.listening).toBe(false);
  });

  it('rejects when the port is taken', async () => {
    const first = await listenHttp(express(), 0, '127.0.0.1');
    const port = Number(new URL(first.url).port);
    await expect(listenHttp(express(), port, '127.0.0.1')).rejects.toThrow(/EADDRINUSE/);
    await closeHttpServer(first.server);
  });
});

/** Writes raw bytes to the server and returns everything it answers before closing. */
function rawExchange(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(bytes));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (answer += d));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('requests the HTTP parser refuses', () => {
  let reached = 0;
  let listening: Listening;
  beforeAll(async () => {
    const app = express();
    app.use(express.raw({ type: () => true }));
    app.use((_req, res) => {
      reached += 1;
      res.json({ ok: true });
    });
    listening = await listenHttp(app, 0, '127.0.0.1');
  });
  afterAll(() => closeHttpServer(listening.server, 0));

  it.each([
    [
      'Content-Length and Transfer-Encoding together',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc',
      400,
      'MALFORMED_REQUEST',
    ],
    [
      'a Content-Length that is not a number',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n',
      400,
      'MALFORMED_REQUEST',
    ],
    [
      'a control character in a header value',
      'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n',
      400,
      'MALFORMED_REQUEST',
    ],
    [
      'headers beyond the size limit',
      `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
      'HEADERS_TOO_LARGE',
    ],
    [
      'chunk extensions beyond the size limit',
      `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;${'e'.repeat(20_000)}\r\na\r\n`,
      413,
      'PAYLOAD_TOO_LARGE',
    ],
  ])('%s: the common error shape, the app never runs', async (_label, bytes, status, code) => {
    const before = reached;
    const answer = await rawExchange(listening.url, bytes);
    const [head, body] = answer.split('\r\n\r\n');
    expect(head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(head).toMatch(/content-type: application\/json/i);
    expect(head).toMatch(/connection: close/i);
    expect(JSON.parse(body!)).toEqual({ error: { code, message: expect.any(String) } });
    expect(reached).toBe(before);
  });

  it('a well-formed request still reaches the app', async () => {
    const answer = await rawExchange(
      listening.url,
      'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toContain('{"ok":true}');
  });
});

describe('listenHttp on IPv6 loopback', () => {
  it('brackets the host in the url', async () => {
    const app = express();
    app.get('/ping', (_req, res) => res.set('connection', 'close').json({ pong: true }));
    const { server, url } = await listenHttp(app, 0, '::1');
    expect(url).toMatch(/^http:\/\/\[::1\]:\d+$/);
    await expect(fetch(`${url}/ping`).then((r) => r.json())).resolves.toEqual({ pong: true });
    await closeHttpServer(server);
  });
});

describe('closeHttpServer with forceAfterMs', () => {
  it('waits for a running request, then cuts it once forceAfterMs has passed', async () => {
    const app = express();
    let arrived: () => void = () => undefined;
    const running = new Promise<void>((resolve) => (arrived = resolve));
    app.get('/slow', () => arrived()); // never answers
    const { server, url } = await listenHttp(app, 0, '127.0.0.1');
    const pending = fetch(`${url}/slow`).then(
      () => 'answered',
      () => 'cut',
    );
    // The request is in the server, however long that took (an answer first would be a bug).
    await Promise.race([
      running,
      pending.then((r) => {
        throw new Error(`request ${r} before reaching the handler`);
      }),
    ]);
    let closed = false;
    const closing = closeHttpServer(server, 100).then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(false);
    await closing;
    await expect(pending).resolves.toBe('cut');
  });
});

describe('stopOnce', () => {
  it('runs the steps in order, skipping undefined results, once however often it is called', async () => {
    const calls: string[] = [];
    const stop = stopOnce(
      async () => void calls.push('server'),
      () => undefined,
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        calls.push('pool');
      },
    );
    const first = stop();
    expect(stop()).toBe(first);
    await first;
    await stop();
    expect(calls).toEqual(['server', 'pool']);
  });

  it('rejects with the first failing step and runs none after it', async () => {
    const calls: string[] = [];
    const stop = stopOnce(
      async () => {
        throw new Error('relay stuck');
      },
      async () => void calls.push('pool'),
    );
    await expect(stop()).rejects.toThrow('relay stuck');
    expect(calls).toEqual([]);
  });
});
