import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '@ecom/common/logging';

export interface ClientConnectionLimits {
  /**
   * Requests one connection may have dispatched and unanswered (its pipelining depth). One
   * more is not dispatched: the connection closes once the answers in progress are out.
   */
  maxInFlight: number;
  /** A connection whose queued answer bytes make no write progress for this long is destroyed. */
  stallTimeoutMs: number;
  logger: Logger;
  /** Called once per connection the gateway closes or cuts for these reasons. */
  onClose?: (reason: ClientConnectionCloseReason) => void;
}

/**
 * `pipelining`: more requests than `maxInFlight` unanswered on one connection; `stalled`: the
 * client took none of the queued answer bytes for `stallTimeoutMs`.
 */
export type ClientConnectionCloseReason = 'pipelining' | 'stalled';

/** The bits of a net.Socket's libuv handle read to see partial writes (net.js reads it too). */
type WithHandle = Socket & { _handle?: { writeQueueSize?: number } | null };

/**
 * Where the socket's writing stands: bytes whose writes completed, and what is left of the
 * write libuv is working on (partial writes shrink it). Appending more answer bytes changes
 * neither, so a change means the kernel took bytes.
 */
function writeProgress(socket: Socket): string {
  const completed = socket.bytesWritten - socket.writableLength;
  return `${completed}:${(socket as WithHandle)._handle?.writeQueueSize ?? 0}`;
}

/** One client connection's requests in flight and write-stall watch. */
class ClientConnection {
  /** A request over the bound arrived: nothing more is dispatched; closes when none is in flight. */
  refusing = false;
  /** Requests parsed but not dispatched since `refusing`. */
  ignored = 0;
  /** The answers of the requests in flight (dispatched, not yet closed). */
  private readonly answers = new Set<ServerResponse>();
  private watch: NodeJS.Timeout | undefined;
  private mark = '';
  private stuckSince = 0;

  constructor(
    readonly socket: Socket,
    private readonly limits: ClientConnectionLimits,
  ) {
    socket.once('close', () => this.closed());
  }

  /** Whether this request may be dispatched; when it may, it is counted until its answer closes. */
  admit(res: ServerResponse): boolean {
    if (this.socket.destroyed) return false;
    if (this.refusing || this.answers.size >= this.limits.maxInFlight) {
      this.refuse();
      return false;
    }
    this.answers.add(res);
    // 'close' follows 'finish' (the whole answer handed to the kernel) and ends a cut one too.
    res.on('close', () => this.answered(res));
    this.startWatching();
    return true;
  }

  private answered(res: ServerResponse): void {
    if (!this.answers.delete(res)) return;
    // The answers in progress are out: FIN after them, then close.
    if (this.refusing && this.answers.size === 0) this.socket.destroySoon();
  }

  /**
   * Node emits 'close' on the answer being written when its connection goes, not on those
   * queued behind it (pipelined requests): they would keep their upstream requests and
   * response streams (and the memory they fill) until those end by themselves. They are
   * destroyed (later writes are refused, not buffered) and closed, as the first one is.
   */
  private closed(): void {
    this.stopWatching();
    for (const res of this.answers) {
      if (res.socket) continue; // Node closes the one that had the socket
      res.destroy();
      res.emit('close');
    }
  }

  private refuse(): void {
    if (!this.refusing) {
      this.refusing = true;
      this.limits.logger.warn('client pipelined too many requests; closing its connection', {
        remoteAddress: this.socket.remoteAddress,
        maxInFlight: this.limits.maxInFlight,
      });
      this.limits.onClose?.('pipelining');
    }
    this.ignored += 1;
    // Parsed requests are held until the connection closes: a client that goes on sending
    // while its answers are written out is cut at once, answers in progress and all.
    if (this.ignored > this.limits.maxInFlight) this.socket.destroy();
  }

  private startWatching(): void {
    if (this.watch) return;
    this.stuckSince = 0;
    // Four looks per timeout: a stalled connection goes between 1 and 1.25 timeouts after the
    // last byte the kernel took.
    const every = Math.max(1, Math.ceil(this.limits.stallTimeoutMs / 4));
    this.watch = setInterval(() => this.check(), every).unref();
  }

  private stopWatching(): void {
    clearInterval(this.watch);
    this.watch = undefined;
  }

  /**
   * Answer bytes queued in the process (writableLength: not yet taken by the kernel) and no
   * write progress since the previous look: the stall clock runs; any progress restarts it.
   * Nothing queued (waiting for an upstream, or everything handed over): no clock.
   */
  private check(): void {
    const { socket } = this;
    if (socket.destroyed) {
      this.stopWatching();
      return;
    }
    if (socket.writableLength === 0) {
      this.stuckSince = 0;
      if (this.answers.size === 0) this.stopWatching();
      return;
    }
    const mark = writeProgress(socket);
    const now = performance.now();
    if (this.stuckSince === 0 || mark !== this.mark) {
      this.mark = mark;
      this.stuckSince = now;
      return;
    }
    if (now - this.stuckSince < this.limits.stallTimeoutMs) return;
    this.limits.logger.warn('client stopped reading; connection cut', {
      remoteAddress: socket.remoteAddress,
      queuedBytes: socket.writableLength,
      stalledMs: Math.round(now - this.stuckSince),
    });
    this.limits.onClose?.('stalled');
    this.stopWatching();
    socket.destroy();
  }
}

/**
 * Wraps the gateway's request listener with two bounds per client connection:
 *
 * - pipelining depth: Node's HTTP server dispatches every request of a read (up to 64 KB, so
 *   hundreds of pipelined GETs) before it pauses the socket, and their answers pile up in
 *   memory behind the first. A request arriving while `maxInFlight` are unanswered (their
 *   answers not yet closed) is not dispatched, nor any after it: the answers in progress are
 *   written, then the connection is closed without answers for the rest (RFC 9112 §9.3.2: the
 *   client retries them; none was started). More than `maxInFlight` such requests: cut at once.
 * - write stall: answer bytes the client does not take (it stopped reading, and the kernel's
 *   socket buffers are full) for `stallTimeoutMs`: the connection is destroyed, freeing them.
 *   Node's own socket timeout is not used: the server sets it for keep-alive idling and clears
 *   it per request, and with none set (the default) nothing ever cuts such a connection.
 */
export function limitClientConnections(
  listener: RequestListener,
  limits: ClientConnectionLimits,
): RequestListener {
  const connections = new WeakMap<Socket, ClientConnection>();
  return (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    let connection = connections.get(socket);
    if (!connection) {
      connection = new ClientConnection(socket, limits);
      connections.set(socket, connection);
    }
    if (connection.admit(res)) listener(req, res);
  };
}
