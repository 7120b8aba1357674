import type { ChannelModel } from 'amqplib';

/** The parts of amqplib 2.x's connection this reaches into (its frame multiplexer). */
interface MuxedConnection {
  connection?: {
    stream?: { cork?: () => void; uncork?: () => void };
    muxer?: { _readIncoming?: () => void };
  };
}

/**
 * Makes one socket write of every frame amqplib's multiplexer sends in one pass (publishes,
 * acks, confirms' channel traffic of all channels), instead of one write per frame.
 *
 * amqplib queues each channel's frames and writes them out in a pass scheduled with
 * setImmediate, one `socket.write` per frame; with `noDelay` each is a syscall and a TCP
 * segment of its own, and on loopback the sender also pays the receiver's wake-up. Corking the
 * socket around the pass turns the pass into one `writev`, the frames in the same order. The
 * pass is synchronous, so frames still leave at the end of the same turn, up to the socket's
 * buffer (16 KiB): past that the multiplexer stops and goes on at 'drain', a turn or more
 * later, as it did when the kernel refused a write.
 *
 * Returns false (and changes nothing) when the connection does not have the expected shape, so
 * a future amqplib only loses the saving.
 */
export function coalesceFrameWrites(model: ChannelModel): boolean {
  const inner = (model as unknown as MuxedConnection).connection;
  const socket = inner?.stream;
  const muxer = inner?.muxer;
  const pass = muxer?._readIncoming;
  if (!socket?.cork || !socket.uncork || !muxer || typeof pass !== 'function') return false;
  const { cork, uncork } = socket;
  muxer._readIncoming = () => {
    cork.call(socket);
    try {
      pass.call(muxer);
    } finally {
      uncork.call(socket);
    }
  };
  return true;
}
