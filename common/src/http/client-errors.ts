import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorBody } from '../errors/error-body';

function answerFor(code: string | undefined): [number, string, string] {
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
    const [status, code, message] = answerFor(err.code);
    const body = JSON.stringify(errorBody(code, message));
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
  });
}
