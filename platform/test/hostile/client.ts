import http, { type IncomingHttpHeaders } from 'node:http';
import net from 'node:net';

/** One request of the hostile suite, as data: what a developer needs to send it again. */
export interface HostileRequest {
  /** The generator or class that made it ('openapi order.cancelOrder', 'jwt alg none', ...). */
  label: string;
  method: string;
  /** The request target exactly as sent (percent-encoded where meant to be). */
  target: string;
  headers: Record<string, string>;
  body?: Buffer;
  /**
   * Bytes written on a socket instead (what Node's client refuses to send: raw control
   * characters, broken framing, non-Latin-1 header text). The connection is closed after it.
   */
  raw?: Buffer;
  /** Why this request must not succeed (any reason makes a 2xx a finding). */
  mustFail?: string[];
  /** A further expectation on the answer: a problem, or undefined when it holds. */
  expect?: (answer: Answer) => string | undefined;
  /** The gateway it goes to, when not the platform's. */
  base?: string;
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  ms: number;
  /** The request got no HTTP answer (reset, timeout): why. */
  failure?: string;
}

const TIMEOUT_MS = 15_000;

/** Sends requests to one gateway over a small keep-alive pool. */
export class HostileClient {
  readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(
    readonly base: string,
    concurrency = 8,
  ) {
    const url = new URL(base);
    this.host = url.hostname;
    this.port = Number(url.port);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  }

  close(): void {
    this.agent.destroy();
  }

  send(req: HostileRequest): Promise<Answer> {
    return req.raw ? this.sendRaw(req.raw) : this.sendHttp(req);
  }

  private sendHttp(req: HostileRequest): Promise<Answer> {
    const started = performance.now();
    return new Promise<Answer>((resolve) => {
      const done = (answer: Omit<Answer, 'ms'>) =>
        resolve({ ...answer, ms: Math.round(performance.now() - started) });
      let request: http.ClientRequest;
      try {
        request = http.request({
          host: this.host,
          port: this.port,
          method: req.method,
          path: req.target,
          headers: {
            ...(req.body !== undefined ? { 'content-length': String(req.body.length) } : {}),
            ...req.headers,
          },
          agent: this.agent,
          // Sent as given: no `Host`-less or duplicated headers added behind our back.
          setHost: !Object.keys(req.headers).some((h) => h.toLowerCase() === 'host'),
        });
      } catch (err) {
        // Node refused to build it: a generator bug, reported like any missing answer.
        done({ status: 0, headers: {}, body: Buffer.alloc(0), failure: String(err) });
        return;
      }
      const timer = setTimeout(() => request.destroy(new Error('no answer in time')), TIMEOUT_MS);
      request.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('error', (err) => {
          clearTimeout(timer);
          done({ status: 0, headers: {}, body: Buffer.alloc(0), failure: err.message });
        });
      });
      request.on('error', (err) => {
        clearTimeout(timer);
        done({ status: 0, headers: {}, body: Buffer.alloc(0), failure: err.message });
      });
      request.end(req.body);
    });
  }

  /** Writes the bytes, reads until the server closes (or the wait ends), parses the answer. */
  private sendRaw(bytes: Buffer): Promise<Answer> {
    const started = performance.now();
    return new Promise<Answer>((resolve) => {
      const chunks: Buffer[] = [];
      let settled = false;
      const finish = (failure?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        const ms = Math.round(performance.now() - started);
        const parsed = parseRawAnswer(Buffer.concat(chunks));
        if (!parsed) {
          resolve({
            status: 0,
            headers: {},
            body: Buffer.alloc(0),
            ms,
            failure: failure ?? 'connection closed without an HTTP answer',
          });
        } else resolve({ ...parsed, ms });
      };
      const socket = net.connect(this.port, this.host, () => socket.write(bytes));
      // Long enough for any answer; the server closes after its answer to a refused request.
      const timer = setTimeout(() => finish('no answer in time'), 5_000);
      socket.on('data', (c: Buffer) => {
        chunks.push(c);
        // One complete answer is all we wait for (a kept-alive socket would wait for more).
        if (parseRawAnswer(Buffer.concat(chunks), true)) finish();
      });
      socket.on('close', () => finish());
      socket.on('error', (err) => finish(err.message));
    });
  }
}

/**
 * Parses the first HTTP/1.x answer in `bytes` (Content-Length or chunked bodies);
 * undefined when there is none, or, with `complete`, when it is not complete yet.
 */
export function parseRawAnswer(
  bytes: Buffer,
  complete = false,
): { status: number; headers: IncomingHttpHeaders; body: Buffer } | undefined {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  // An interim answer (100 Continue) comes before the real one.
  if (/^HTTP\/1\.[01] 1\d\d /.test(bytes.subarray(0, 13).toString('latin1'))) {
    return parseRawAnswer(bytes.subarray(end + 4), complete);
  }
  const lines = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!status) return undefined;
  const headers: IncomingHttpHeaders = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = bytes.subarray(end + 4);
  const length = headers['content-length'];
  if (length !== undefined) {
    if (complete && body.length < Number(length)) return undefined;
    body = body.subarray(0, Number(length));
  } else if (/chunked/i.test(String(headers['transfer-encoding'] ?? ''))) {
    const out: Buffer[] = [];
    let rest = body;
    for (;;) {
      const lineEnd = rest.indexOf('\r\n');
      if (lineEnd < 0) return complete ? undefined : { status: Number(status[1]), headers, body };
      const size = parseInt(rest.subarray(0, lineEnd).toString('latin1'), 16);
      if (Number.isNaN(size)) break;
      if (size === 0) break;
      out.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      rest = rest.subarray(lineEnd + 2 + size + 2);
    }
    body = Buffer.concat(out);
  } else if (complete) {
    // No length: the answer ends when the server closes.
    return undefined;
  }
  return { status: Number(status[1]), headers, body };
}

/** Runs `fn` over `items`, at most `limit` at a time, in order of start. */
export async function inPool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
