import Redis from 'ioredis';
import { describeIfServer } from '@ecom/infrastructure/testing';
import { eventually } from '@ecom/test-support';
import { createEvent } from '@ecom/common/bus';
import { RedisStreamsEventBus } from '@ecom/common/bus/redis';
import { createLogger } from '@ecom/common/logging';
import { busContract, FAST_RETRY, letters, waitFor } from './contract';

const logger = createLogger('bus-contract');

/** Kills every client whose name starts with `namePrefix` (CLIENT KILL by id, found by name). */
async function killClients(admin: Redis, namePrefix: string): Promise<number> {
  const list = (await admin.client('LIST')) as string;
  const ids = list
    .split('\n')
    .map((line) =>
      Object.fromEntries(line.split(' ').map((kv) => kv.split('=') as [string, string])),
    )
    .filter((c) => c.name?.startsWith(namePrefix))
    .map((c) => c.id);
  for (const id of ids) await admin.client('KILL', 'ID', id);
  return ids.length;
}

async function deleteKeys(admin: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    if (keys.length > 0) await admin.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

describeIfServer('redis', 'event bus contract: Redis Streams', (url) => {
  const prefix = `test-bus-${letters(6)}`;
  let admin: Redis;
  beforeAll(() => {
    admin = new Redis(url);
  });
  afterAll(async () => {
    await deleteKeys(admin, prefix);
    await admin.quit();
  });

  busContract({ durable: true }, async () => ({
    createBus: (service, retry) =>
      new RedisStreamsEventBus({ url, service, logger, retry, prefix, claimIdleMs: 2000 }),
    deadLetters: (bus, group) => (bus as RedisStreamsEventBus).listDeadLetters(group),
    publishRaw: (bus, raw, eventType) => (bus as RedisStreamsEventBus).publishRaw(raw, eventType),
    async killConnections(service) {
      const killed = await killClients(admin, `${prefix}:${service}:`);
      if (killed === 0) throw new Error(`no Redis connection named ${prefix}:${service}:*`);
    },
    async cleanup() {},
  }));

  it('reclaims (XAUTOCLAIM) an entry left pending by a consumer that died, as its next attempt', async () => {
    const type = `contract.${letters()}`;
    const group = `crash${letters(4)}`;
    const bus = new RedisStreamsEventBus({
      url,
      service: 'survivor',
      logger,
      retry: FAST_RETRY,
      prefix,
      claimIdleMs: 200,
    });
    const stream = bus.streamKey(type);
    // A consumer of the group read the entry and died before XACK: the entry is orphaned.
    await admin.xgroup('CREATE', stream, group, '$', 'MKSTREAM');
    const event = createEvent('publisher', type, {});
    await admin.xadd(stream, '*', 'event', JSON.stringify(event));
    await admin.call(
      'XREADGROUP',
      'GROUP',
      group,
      'dead-consumer',
      'COUNT',
      1,
      'STREAMS',
      stream,
      '>',
    );
    const handled: [string, number][] = [];
    try {
      await bus.subscribe({
        group,
        eventTypes: [type],
        handler: async (e, { attempt }) => {
          handled.push([e.eventId, attempt]);
        },
      });
      await waitFor(() => handled.length === 1, 'the orphaned entry to be reclaimed');
      expect(handled).toEqual([[event.eventId, 2]]);
      // Acknowledged once handled (the XACK follows the handler, in its own round trip).
      await eventually(
        async () => Number(((await admin.call('XPENDING', stream, group)) as [number])[0]) === 0,
        { what: 'the reclaimed entry acknowledged' },
      );
    } finally {
      await bus.close();
    }
  });
});
