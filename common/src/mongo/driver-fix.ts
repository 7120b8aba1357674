import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

/**
 * A fix for a hang in the MongoDB Node.js driver (7.8 and 7.9, which mongoose 9 pins), found by
 * the fault suite: after an outage one service's client never recovered.
 *
 * `Connection.writeCommand` waits for the socket's 'drain' when `write()` returns false. When
 * Node has already destroyed the socket (the peer closed it) but has not yet emitted 'close'
 * (that comes in a later phase of the event loop), `write()` fails silently and returns false:
 * no 'drain' and no 'error' ever come, and the driver's own 'close' handler cannot reach the
 * wait. The command then never settles. On the server monitor's connection that stops
 * monitoring for good: the server stays Unknown, its pool paused, every operation fails with a
 * server selection timeout although MongoDB is back.
 *
 * The fix lets such a write fail as the driver fails any other write on a dead socket: the wait
 * is raced against the socket's 'close', and a socket already destroyed fails at once, with the
 * driver's network error, so the driver's usual recovery (reset the pool, re-check the server)
 * takes over. It touches the driver's internal `Connection` class, so it checks the shape first
 * and does nothing when the driver changed.
 */
interface DriverConnection {
  socket: Socket;
  id: unknown;
  address: string;
  onError(error: Error): void;
  writeCommand(...args: unknown[]): Promise<unknown>;
}

const PATCHED = Symbol.for('ecom.mongodb.writeCommandSettlesOnClose');

let state: 'unknown' | 'applied' | 'not-applicable' = 'unknown';

/** Installs the fix once per driver copy; answers whether it is in place. */
export function applyMongoDriverFix(): boolean {
  if (state !== 'unknown') return state === 'applied';
  state = install() ? 'applied' : 'not-applicable';
  return state === 'applied';
}

function install(): boolean {
  let Connection: { prototype: DriverConnection & { [PATCHED]?: true } };
  let MongoNetworkError: new (message: string) => Error;
  try {
    // The copy mongoose uses, wherever npm placed it.
    const fromMongoose = createRequire(require.resolve('mongoose'));
    ({ Connection } = fromMongoose('mongodb/lib/cmap/connection'));
    ({ MongoNetworkError } = fromMongoose('mongodb'));
  } catch {
    return false;
  }
  const proto = Connection?.prototype;
  if (typeof proto?.writeCommand !== 'function' || typeof proto.onError !== 'function')
    return false;
  if (proto[PATCHED]) return true;
  const original = proto.writeCommand;
  proto.writeCommand = function (this: DriverConnection, ...args: unknown[]) {
    const socket = this.socket;
    const closedError = () =>
      new MongoNetworkError(`connection ${String(this.id)} to ${this.address} closed`);
    if (socket.destroyed) {
      const error = closedError();
      this.onError(error);
      return Promise.reject(error);
    }
    let onClose!: () => void;
    const closed = new Promise<never>((_, reject) => {
      onClose = () => reject(closedError());
      socket.once('close', onClose);
    });
    closed.catch(() => undefined);
    return Promise.race([original.apply(this, args), closed]).finally(() =>
      socket.off('close', onClose),
    );
  };
  proto[PATCHED] = true;
  return true;
}
