import { randomBytes } from 'node:crypto';
import { describeIfServer } from '@ecom/infrastructure/testing';
import { eventually, removeBusNamespace } from '@ecom/test-support';
import { createEvent, createEventBus, type EventBus, type EventBusConfig } from '@ecom/common/bus';
import { createLogger } from '@ecom/common/logging';
import { deadLettersCommand } from '../src/dead-letters';

const logger = createLogger('dead-letters-cli-test', 'silent');
const retry = { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20 };

describe('npm run dead-letters: usage', () => {
  it.each([
    [[]],
    [['list']],
    [['purge', 'order']],
    [['list', 'order', '--bogus']],
    // Discarding is for good: never a whole group by default.
    [['discard', 'order']],
  ])('answers the usage and exit code 2 for %j', async (argv) => {
    const lines: string[] = [];
    const code = await deadLettersCommand(argv as string[], { AMQP_URL: 'amqp://x' }, (l) =>
      lines.push(l),
    );
    expect(code).toBe(2);
    expect(lines.join('\n')).toContain('usage: npm run dead-letters');
  });

  it('refuses the in-memory bus, which lives inside a running process', async () => {
    const lines: string[] = [];
    expect(await deadLettersCommand(['list', 'order'], {}, (l) => lines.push(l))).toBe(2);
    expect(lines[0]).toMatch(/EVENT_BUS is memory/);
  });
});

describe.each([
  ['amqp', 'rabbitmq', 'AMQP_URL'],
  ['redis', 'redis', 'REDIS_URL'],
] as const)('npm run dead-letters on %s', (server, kind, variable) => {
  describeIfServer(server, `lists and replays a group's dead letters (${kind})`, (url) => {
    const prefix = `cli-${randomBytes(4).toString('hex')}`;
    const open = (config: EventBusConfig): EventBus =>
      createEventBus(config, { service: 'cli-test', logger, prefix, retry });
    let consumer: EventBus;
    let up = false;
    const handled: string[] = [];

    beforeAll(async () => {
      consumer = open({ EVENT_BUS: kind, [variable]: url });
      await consumer.subscribe({
        group: 'stock',
        eventTypes: ['product.deleted', 'user.deleted'],
        handler: async (e) => {
          if (!up) throw new Error('store unreachable');
          handled.push(e.eventId);
        },
      });
    });
    afterAll(async () => {
      await consumer.close();
      await removeBusNamespace(kind, url, prefix);
    });

    it('lists them as JSON lines (filtered by type) and replays by id', async () => {
      const deleted = createEvent('product', 'product.deleted', { productId: 'p1' });
      const gone = createEvent('auth', 'user.deleted', { userId: 'u1' });
      await consumer.publish(deleted);
      await consumer.publish(gone);
      await eventually(async () => (await consumer.listDeadLetters('stock')).length === 2, {
        what: 'two dead letters',
      });
      const env = { EVENT_BUS: kind, [variable]: url };
      const lines: string[] = [];
      const run = (argv: string[]) =>
        deadLettersCommand(argv, env, (l) => lines.push(l), open).then((code) => {
          expect(code).toBe(0);
          return lines.splice(0).map((l) => JSON.parse(l));
        });
      const all = await run(['list', 'stock']);
      expect(all.map((d) => d.event.eventId).sort()).toEqual(
        [deleted.eventId, gone.eventId].sort(),
      );
      const ofType = await run(['list', 'stock', '--type', 'user.deleted']);
      expect(ofType).toHaveLength(1);
      expect(ofType[0]).toMatchObject({ reason: 'store unreachable', group: 'stock' });

      up = true;
      expect(await run(['replay', 'stock', '--id', ofType[0].id])).toEqual([
        { replayed: 1, skipped: 0, notFound: [] },
      ]);
      await eventually(() => handled.length === 1, { what: 'replayed by id' });
      expect(handled).toEqual([gone.eventId]);
      expect((await run(['list', 'stock'])).map((d) => d.event.eventId)).toEqual([deleted.eventId]);

      // A spent or unknown id is named, exit code 1, and nothing happens.
      const failing = async (argv: string[]) => {
        expect(await deadLettersCommand(argv, env, (l) => lines.push(l), open)).toBe(1);
        return lines.splice(0);
      };
      const again = await failing(['replay', 'stock', '--id', ofType[0].id]);
      expect(JSON.parse(again[0]!)).toEqual({ replayed: 0, skipped: 0, notFound: [ofType[0].id] });
      expect(again[1]).toBe(
        `not a dead letter of stock (never one, or already replayed or discarded): ${ofType[0].id}`,
      );
      expect((await failing(['discard', 'stock', '--id', 'no-such-id']))[1]).toMatch(
        /not a dead letter of stock .*: no-such-id$/,
      );

      const [left] = await run(['list', 'stock']);
      expect(await run(['discard', 'stock', '--id', left.id])).toEqual([
        { discarded: 1, notFound: [] },
      ]);
      expect(await run(['list', 'stock'])).toEqual([]);
      // Discarded for good: an event published after it is handled, the discarded one never.
      const marker = createEvent('product', 'product.deleted', { productId: 'p2' });
      await consumer.publish(marker);
      await eventually(() => handled.includes(marker.eventId), { what: 'the marker handled' });
      expect(handled).toEqual([gone.eventId, marker.eventId]);
    });
  });
});
