import express from 'express';
import net from 'node:net';
import { MAX_REQUEST_HEADERS } from '../src/http';
import { closeHttpServer, listenHttp, type Listening } from '../src/lifecycle';

/**
 * Item 11 of issue 19: requests Node's parser lets through but no app should serve are
 * answered by the listening server in the common error shape, never with Node's bare
 * `400 Bad Request` and never by the app.
 */

/** Writes raw bytes and returns everything answered until the server closes (or 3 s pass). */
function rawExchange(url: string, bytes: string): Promise<{ answer: string; closed: boolean }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(bytes));
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ answer, closed: false });
    }, 3000);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (answer += d));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ answer, closed: true });
    });
    socket.on('error', reject);
  });
}

const headers = (n: number) => Array.from({ length: n }, (_, i) => `X-H${i}: v\r\n`).join('');

describe('requests the parser accepts but no app should serve', () => {
  let reached = 0;
  let listening: Listening;
  beforeAll(async () => {
    const app = express();
    app.use((req, res) => {
      reached += 1;
      res.set('connection', 'close').json({ ok: true, host: req.headers.host ?? null });
    });
    listening = await listenHttp(app, 0, '127.0.0.1');
  });
  afterAll(() => closeHttpServer(listening.server, 0));

  it.each([
    ['HTTP/1.1 without a Host header', 'GET / HTTP/1.1\r\n\r\n', 400, 'MALFORMED_REQUEST'],
    [
      'HTTP/1.1 with an empty Host header',
      'GET / HTTP/1.1\r\nHost:\r\n\r\n',
      400,
      'MALFORMED_REQUEST',
    ],
    [
      '1,000 headers, the Host last (Node would drop it)',
      `GET / HTTP/1.1\r\n${headers(1000)}Host: x\r\n\r\n`,
      431,
      'HEADERS_TOO_LARGE',
    ],
    [
      `${MAX_REQUEST_HEADERS} headers and a Host`,
      `GET / HTTP/1.1\r\nHost: x\r\n${headers(MAX_REQUEST_HEADERS)}\r\n`,
      431,
      'HEADERS_TOO_LARGE',
    ],
    ['a request line with no HTTP version (HTTP/0.9)', 'GET /\r\n\r\n', 400, 'MALFORMED_REQUEST'],
    [
      'a request line with no HTTP version, then headers',
      'GET /\r\nHost: x\r\n\r\n',
      400,
      'MALFORMED_REQUEST',
    ],
  ])('%s: the common error shape, the app never runs', async (_label, bytes, status, code) => {
    const before = reached;
    const { answer, closed } = await rawExchange(listening.url, bytes);
    const [head, body] = answer.split('\r\n\r\n');
    expect(head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(head).toMatch(/content-type: application\/json/i);
    expect(head).toMatch(/connection: close/i);
    expect(JSON.parse(body!)).toEqual({ error: { code, message: expect.any(String) } });
    expect(closed).toBe(true);
    expect(reached).toBe(before);
  });

  it(`up to ${MAX_REQUEST_HEADERS} headers, Host included, reach the app`, async () => {
    const { answer } = await rawExchange(
      listening.url,
      `GET / HTTP/1.1\r\nHost: x\r\n${headers(MAX_REQUEST_HEADERS - 1)}\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toContain('"host":"x"');
  });

  it('HTTP/1.0 needs no Host and still reaches the app', async () => {
    const { answer } = await rawExchange(listening.url, 'GET / HTTP/1.0\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toContain('"host":null');
  });
});

describe('what Node would answer bare or not at all', () => {
  let reached = 0;
  let listening: Listening;
  beforeAll(async () => {
    const app = express();
    app.use((_req, res) => {
      reached += 1;
      res.json({ ok: true });
    });
    listening = await listenHttp(app, 0, '127.0.0.1');
  });
  afterAll(() => closeHttpServer(listening.server, 0));

  const bodyOf = (answer: string) => answer.slice(answer.indexOf('\r\n\r\n') + 4);

  it('a HEAD the parser refuses is answered without a body', async () => {
    const long = 'a'.repeat(20_000);
    const { answer, closed } = await rawExchange(
      listening.url,
      `HEAD /?q=${long} HTTP/1.1\r\nHost: x\r\nX-Long: ${long}\r\n${headers(10)}\r\n`,
    );
    expect(closed).toBe(true);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(answer).toMatch(/Content-Length: \d+/);
    expect(bodyOf(answer)).toBe('');
  });

  it('an Expect other than 100-continue gets 417 in the common shape', async () => {
    const { answer } = await rawExchange(
      listening.url,
      'GET / HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nConnection: close\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 417 /);
    expect(JSON.parse(bodyOf(answer)).error.code).toBe('EXPECTATION_FAILED');
    expect(reached).toBe(0);
  });

  it('CONNECT gets 405 in the common shape instead of a dropped connection', async () => {
    const { answer, closed } = await rawExchange(
      listening.url,
      'CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n',
    );
    expect(closed).toBe(true);
    expect(answer).toMatch(/^HTTP\/1\.1 405 /);
    expect(JSON.parse(bodyOf(answer)).error.code).toBe('METHOD_NOT_ALLOWED');
    expect(reached).toBe(0);
  });
});
