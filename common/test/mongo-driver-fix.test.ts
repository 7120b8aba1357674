import net from 'node:net';
import { MongoNetworkError } from 'mongodb';
import mongoose from 'mongoose';
import { applyMongoDriverFix, connectServiceMongo, pingMongo } from '@ecom/common/mongo';
import {
  createTestMongo,
  eventually,
  sleep,
  startTcpRelay,
  type TestMongo,
} from '@ecom/test-support';

// The MongoDB driver's Connection waits for 'drain' forever when it writes to a socket Node has
// already destroyed but not yet reported closed: the fault suite found a service's client that
// never recovered after an outage because its server monitor was stuck in such a write.

const { makeConnection } = require('mongodb/lib/cmap/connect');
const { ns } = require('mongodb/lib/utils');

interface DriverConnection {
  command(ns: unknown, cmd: object, options: object): Promise<{ ok: number }>;
  closed: boolean;
  destroy(): void;
}

let mongo: TestMongo;
beforeAll(async () => {
  mongo = await createTestMongo('mongo_driver_fix');
});
afterAll(() => mongo.cleanup());

/** Settles within `ms` or says it did not. */
function settleWithin<T>(promise: Promise<T>, ms: number) {
  return Promise.race([
    promise.then(
      (value) => ({ settled: 'resolved' as const, value }),
      (error: unknown) => ({ settled: 'rejected' as const, error }),
    ),
    new Promise<{ settled: 'never' }>((resolve) =>
      setTimeout(() => resolve({ settled: 'never' }), ms).unref(),
    ),
  ]);
}

async function driverConnection(): Promise<{ connection: DriverConnection; socket: net.Socket }> {
  const { port, hostname } = new URL(mongo.url);
  const socket = net.connect(Number(port), hostname);
  await new Promise((resolve) => socket.once('connect', resolve));
  const connection: DriverConnection = makeConnection(
    { id: 1, generation: 0, hostAddress: { toString: () => `${hostname}:${port}` } },
    socket,
  );
  return { connection, socket };
}

it('is installed on the driver copy mongoose uses', () => {
  expect(applyMongoDriverFix()).toBe(true);
  // Applying twice changes nothing.
  expect(applyMongoDriverFix()).toBe(true);
});

it('fails a command on a socket destroyed before the driver saw it close, instead of hanging', async () => {
  applyMongoDriverFix();
  const { connection, socket } = await driverConnection();
  const ok = await connection.command(ns('admin.$cmd'), { ping: 1 }, {});
  expect(ok.ok).toBe(1);

  // What Node does when the peer goes away: the socket is destroyed now, 'close' comes later.
  socket.destroy();
  const outcome = await settleWithin(connection.command(ns('admin.$cmd'), { ping: 1 }, {}), 5000);
  expect(outcome.settled).toBe('rejected');
  if (outcome.settled === 'rejected') expect(outcome.error).toBeInstanceOf(MongoNetworkError);
  expect(connection.closed).toBe(true);
});

it('a service connection serves again after its store went away under load and came back', async () => {
  const relay = await startTcpRelay(mongo.url);
  const connection = await connectServiceMongo(relay.relayed(mongo.url), {
    serverSelectionTimeoutMS: 500,
  });
  const Thing = connection.model('Thing', new mongoose.Schema({ n: Number }));
  try {
    await Thing.create({ n: 0 });
    // Work in flight on every pooled connection while the store vanishes, as a busy service has.
    const load = setInterval(() => {
      void Thing.find()
        .limit(1)
        .exec()
        .catch(() => undefined);
      void Thing.create({ n: 1 }).catch(() => undefined);
    }, 5);
    try {
      for (let round = 0; round < 5; round++) {
        relay.cut();
        await sleep(300);
        relay.restore();
        await eventually(() => pingMongo(connection).then(() => true), {
          timeoutMs: 40_000,
          what: `MongoDB answering again after outage ${round + 1}`,
        });
      }
    } finally {
      clearInterval(load);
    }
    await expect(Thing.countDocuments()).resolves.toBeGreaterThan(0);
  } finally {
    await connection.close();
    await relay.close();
  }
});
