import {
  STATUS_CODES,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Duplex } from 'node:stream';
import { errorBody } from '../errors/error-body';

/**
 * More request headers than any client sends. Node keeps the first 1,000 and silently drops
 * the rest (a Host among them), so a request with more is refused whole, with 431.
 */
export const MAX_REQUEST_HEADERS = 100;

type Answer = [status: number, code: string, message: string];

function answerFor(code: string | undefined): Answer {
  if (code === 'HPE_HEADER_OVERFLOW') {
    return [431, 'HEADERS_TOO_LARGE', 'Request headers are too large'];
  }
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') {
    return [413, 'PAYLOAD_TOO_LARGE', 'Chunk extensions are too large'];
  }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return [408, 'REQUEST_TIMEOUT', 'The request was not received in time'];
  }
  return [400, 'MALFORMED_REQUEST', 'The request is not valid HTTP'];
}

/**
 * Requests Node's HTTP parser refuses before any handler runs (a bad Content-Length, both
 * Content-Length and Transfer-Encoding, control characters in a header, headers too large)
 * get the common error shape instead of Node's empty 400. There is no request object yet, so
 * the answer is written to the socket, which is then closed: after a framing error the rest of
 * the bytes on it cannot be trusted.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const inResponse = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })
      ._httpMessage?.headersSent;
    if (err.code === 'ECONNRESET' || !socket.writable || inResponse) {
      socket.destroy();
      return;
    }
    // A HEAD request's answer has no body (its Content-Length still says what GET would send).
    const head =
      (err as { rawPacket?: Buffer }).rawPacket?.subarray(0, 5).toString('latin1') === 'HEAD ';
    writeRawAnswer(socket, answerFor(err.code), { head });
  });
  // CONNECT (a tunnel): nothing here proxies; without a listener Node drops the connection.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    writeRawAnswer(socket, [405, 'METHOD_NOT_ALLOWED', 'CONNECT is not supported']);
  });
  // An Expect other than 100-continue: Node answers a bare 417 unless told otherwise.
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    refuse(res, [417, 'EXPECTATION_FAILED', 'Only "Expect: 100-continue" is supported']);
  });
}

/** The common error shape written straight to the socket, which is then closed. */
function writeRawAnswer(
  socket: Duplex,
  [status, code, message]: Answer,
  { head = false }: { head?: boolean } = {},
): void {
  const body = JSON.stringify(errorBody(code, message));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      (head ? '' : body),
  );
}

/** What the parser let through but no application should see. */
function refusalFor(req: IncomingMessage): Answer | undefined {
  if (req.httpVersionMajor === 0) {
    // `GET /` with no version: llhttp reads it as HTTP/0.9, which has no headers, no Host.
    return [400, 'MALFORMED_REQUEST', 'The request line has no HTTP/1.x version'];
  }
  if (req.rawHeaders.length / 2 > MAX_REQUEST_HEADERS) {
    return [431, 'HEADERS_TOO_LARGE', `More than ${MAX_REQUEST_HEADERS} request headers`];
  }
  if (req.httpVersion !== '1.0' && !req.headers.host) {
    return [400, 'MALFORMED_REQUEST', 'An HTTP/1.1 request must have a Host header'];
  }
  return undefined;
}

function refuse(res: ServerResponse, [status, code, message]: Answer): void {
  const body = JSON.stringify(errorBody(code, message));
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    Connection: 'close',
  });
  res.end(body);
}

/**
 * The listener behind a check of what Node's parser accepts but should not: an HTTP/0.9
 * request line, more than MAX_REQUEST_HEADERS headers, an HTTP/1.1 request without Host
 * (Node's own Host check answers a bare 400, so the server is created with
 * `requireHostHeader: false` and this one answers instead). Refusals are in the common error
 * shape and close the connection.
 */
export function refuseUnservableRequests(listener: RequestListener): RequestListener {
  return (req, res) => {
    const refusal = refusalFor(req);
    if (refusal) refuse(res, refusal);
    else listener(req, res);
  };
}
