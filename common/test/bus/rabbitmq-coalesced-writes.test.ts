import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import amqp, { type ChannelModel } from 'amqplib';
import { describeIfServer } from '@ecom/infrastructure/testing';
import { coalesceFrameWrites } from '../../src/bus/rabbitmq/coalesced-writes';

/** Counts the socket's writes to the kernel (one `_write` or `_writev` each). */
function countWrites(model: ChannelModel): () => number {
  const socket = (model as unknown as { connection: { stream: Socket } }).connection.stream;
  const s = socket as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
  let writes = 0;
  for (const name of ['_write', '_writev'] as const) {
    const original = s[name].bind(socket);
    s[name] = (...args: unknown[]) => {
      writes++;
      return original(...args);
    };
  }
  return () => writes;
}

describeIfServer('amqp', 'RabbitMQ frames written together (real RabbitMQ)', (url) => {
  const queue = `ecom-test.coalesced.${randomUUID()}`;
  const models: ChannelModel[] = [];

  afterAll(async () => {
    const ch = await models[0]?.createChannel();
    await ch?.deleteQueue(queue);
    for (const m of models) await m.close().catch(() => undefined);
  });

  /** Sends `n` messages in one turn over a new connection; resolves with its socket writes. */
  async function sendBurst(coalesce: boolean, n: number, tag: string): Promise<number> {
    const model = await amqp.connect(url, { noDelay: true });
    models.push(model);
    if (coalesce) expect(coalesceFrameWrites(model)).toBe(true);
    const channel = await model.createConfirmChannel();
    await channel.assertQueue(queue, { durable: false });
    const writes = countWrites(model);
    for (let i = 0; i < n; i++) channel.sendToQueue(queue, Buffer.from(`${tag}-${i}`));
    await channel.waitForConfirms();
    return writes();
  }

  it('one pass of the multiplexer is one socket write, every message delivered in order', async () => {
    const plain = await sendBurst(false, 20, 'plain');
    const coalesced = await sendBurst(true, 20, 'coalesced');
    // Without it, a write per frame (the measure is not blind); with it, the burst's pass.
    expect(plain).toBeGreaterThanOrEqual(20);
    expect(coalesced).toBeLessThanOrEqual(2);

    const reader = await models[0].createChannel();
    const bodies: string[] = [];
    for (;;) {
      const msg = await reader.get(queue, { noAck: true });
      if (!msg) break;
      bodies.push(msg.content.toString());
    }
    const expected = (tag: string) => Array.from({ length: 20 }, (_, i) => `${tag}-${i}`);
    expect(bodies).toEqual([...expected('plain'), ...expected('coalesced')]);
  });
});

describe('frames written together: an amqplib of another shape', () => {
  it('is left alone, and says so', () => {
    expect(coalesceFrameWrites({} as ChannelModel)).toBe(false);
    const stream = { cork: jest.fn(), uncork: jest.fn() };
    const shapeless = { connection: { stream, muxer: {} } } as unknown as ChannelModel;
    expect(coalesceFrameWrites(shapeless)).toBe(false);
    expect(stream.cork).not.toHaveBeenCalled();
  });

  it('uncorks when the pass throws', () => {
    const stream = { cork: jest.fn(), uncork: jest.fn() };
    const muxer = {
      _readIncoming: () => {
        throw new Error('pass failed');
      },
    };
    const model = { connection: { stream, muxer } } as unknown as ChannelModel;
    expect(coalesceFrameWrites(model)).toBe(true);
    expect(() => muxer._readIncoming()).toThrow('pass failed');
    expect(stream.cork).toHaveBeenCalledTimes(1);
    expect(stream.uncork).toHaveBeenCalledTimes(1);
  });
});
