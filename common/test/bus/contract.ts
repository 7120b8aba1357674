import { eventually } from '@ecom/test-support';
import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { createTestPostgres, type TestPostgres } from '@ecom/infrastructure/testing';
import { createEvent, type DeadLetter, type EventBus, type RetryPolicy } from '@ecom/common/bus';
import { getContext } from '@ecom/common/logging';
import {
  createPgPool,
  handleEventOnce,
  processedEventsMigration,
  runMigrations,
} from '@ecom/common/postgres';

/** What the contract needs from one adapter (a real server behind it, or the in-memory bus). */
export interface ContractTarget {
  /** A bus for `service`; all buses of one target share a namespace unique to the test run. */
  createBus(service: string, retry?: Partial<RetryPolicy>): EventBus;
  deadLetters(bus: EventBus, group: string): Promise<DeadLetter[]>;
  /** Puts a raw (possibly invalid) message on the wire for `eventType`. */
  publishRaw(bus: EventBus, raw: string, eventType: string): Promise<void>;
  /** Kills every connection of `service` from the server side (durable adapters). */
  killConnections?(service: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** Short retries so failures resolve in well under a second. */
export const FAST_RETRY: Partial<RetryPolicy> = { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 80 };

export function letters(n = 8): string {
  return [...randomBytes(n)].map((b) => String.fromCharCode(97 + (b % 26))).join('');
}

/** Waits for a condition on what the consumers recorded (10 ms polls: buses are quick). */
export async function waitFor(
  condition: () => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  await eventually(condition, { what, timeoutMs, intervalMs: 10 });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The bus contract every adapter must meet (docs/architecture.md, "Events"). */
export function busContract(
  /** Messages outlive their consumer (a closed one gets them when it subscribes again) and its connection. */
  capabilities: { durable: boolean },
  makeTarget: () => Promise<ContractTarget>,
): void {
  let target: ContractTarget;
  let buses: EventBus[] = [];
  let db: TestPostgres;
  let pool: Pool;

  const bus = (service: string, retry: Partial<RetryPolicy> = FAST_RETRY): EventBus => {
    const created = target.createBus(service, retry);
    buses.push(created);
    return created;
  };
  const eventType = () => `contract.${letters()}`;

  beforeAll(async () => {
    target = await makeTarget();
    db = await createTestPostgres('bus_contract');
    pool = createPgPool(db.url, 4);
    await runMigrations(pool, [processedEventsMigration]);
    await pool.query('CREATE TABLE effects (event_id text NOT NULL)');
  });
  afterEach(async () => {
    await Promise.all(buses.map((b) => b.close()));
    buses = [];
  });
  afterAll(async () => {
    await pool?.end();
    await db?.cleanup();
    await target?.cleanup();
  });

  it('says whether what it accepted outlives this process (the outbox relays replay otherwise, ADR 0056)', () => {
    expect(bus('durability').durable).toBe(capabilities.durable);
  });

  it('delivers every published event to every subscribed group, in the event correlation context', async () => {
    const type = eventType();
    const publisher = bus('publisher');
    const seen: Record<string, string[]> = { a: [], b: [] };
    const contextOk: boolean[] = [];
    for (const group of ['a', 'b']) {
      await bus(`consumer-${group}`).subscribe({
        group: `${group}${letters(4)}`,
        eventTypes: [type],
        handler: async (event) => {
          contextOk.push(
            getContext()?.correlationId === event.metadata.correlationId &&
              getContext()?.causationId === event.eventId,
          );
          seen[group].push(event.eventId);
        },
      });
    }
    const events = Array.from({ length: 40 }, (_, n) => createEvent('publisher', type, { n }));
    await Promise.all(events.map((e) => publisher.publish(e)));
    const ids = events.map((e) => e.eventId).sort();
    await waitFor(() => new Set(seen.a).size === 40 && new Set(seen.b).size === 40, 'both groups');
    expect([...new Set(seen.a)].sort()).toEqual(ids);
    expect([...new Set(seen.b)].sort()).toEqual(ids);
    expect(contextOk.every(Boolean)).toBe(true);
  });

  it('retries a failing handler with the attempt number, then dead-letters it with the reason', async () => {
    const type = eventType();
    const group = `retry${letters(4)}`;
    const consumer = bus('consumer');
    const attempts: Record<string, number[]> = {};
    await consumer.subscribe({
      group,
      eventTypes: [type],
      handler: async (event, { attempt }) => {
        (attempts[event.eventId] ??= []).push(attempt);
        if ((event.data as { poison: boolean }).poison) throw new Error('card declined');
        if (attempt < 2) throw new Error('transient');
      },
    });
    const poison = createEvent('publisher', type, { poison: true });
    const flaky = createEvent('publisher', type, { poison: false });
    await bus('publisher').publish(poison);
    await bus('publisher').publish(flaky);
    let dead: DeadLetter[] = [];
    await waitFor(() => (attempts[flaky.eventId]?.length ?? 0) >= 2, 'the flaky event to succeed');
    const started = Date.now();
    while (dead.length === 0 && Date.now() - started < 15_000) {
      dead = await target.deadLetters(consumer, group);
      await sleep(20);
    }
    expect(attempts[poison.eventId]).toEqual([1, 2, 3]);
    expect(attempts[flaky.eventId]).toEqual([1, 2]);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ group, reason: 'card declined', attempts: 3 });
    expect(dead[0].event?.eventId).toBe(poison.eventId);
  });

  it('dead-letters invalid envelopes with the reason and keeps consuming', async () => {
    const type = eventType();
    const group = `invalid${letters(4)}`;
    const consumer = bus('consumer');
    const handled: string[] = [];
    await consumer.subscribe({
      group,
      eventTypes: [type],
      handler: async (event) => {
        handled.push(event.eventId);
      },
    });
    const publisher = bus('publisher');
    await target.publishRaw(publisher, '{not json', type);
    await target.publishRaw(publisher, JSON.stringify({ eventType: type, data: {} }), type);
    const valid = createEvent('publisher', type, {});
    await publisher.publish(valid);
    await waitFor(() => handled.length === 1, 'the valid event');
    let dead: DeadLetter[] = [];
    const started = Date.now();
    while (dead.length < 2 && Date.now() - started < 10_000) {
      dead = await target.deadLetters(consumer, group);
      await sleep(20);
    }
    expect(handled).toEqual([valid.eventId]);
    expect(dead.map((d) => d.reason).sort()).toEqual([
      expect.stringMatching(/^invalid envelope: "eventId" is required/),
      'message is not valid JSON',
    ]);
    expect(dead.map((d) => d.raw).sort()).toEqual([
      JSON.stringify({ eventType: type, data: {} }),
      '{not json',
    ]);
  });

  it('lists dead letters by id and replays them to their group as first deliveries: by id, by type, all; an invalid one stays', async () => {
    const [typeA, typeB] = [eventType(), eventType()];
    const group = `replay${letters(4)}`;
    const consumer = bus('consumer');
    let storeUp = false;
    const handled: { id: string; attempt: number }[] = [];
    await consumer.subscribe({
      group,
      eventTypes: [typeA, typeB],
      handler: async (event, { attempt }) => {
        if (!storeUp) throw new Error('store unreachable');
        handled.push({ id: event.eventId, attempt });
      },
    });
    const publisher = bus('publisher');
    const [a1, a2, b1] = [
      createEvent('publisher', typeA, { n: 1 }),
      createEvent('publisher', typeA, { n: 2 }),
      createEvent('publisher', typeB, { n: 3 }),
    ];
    for (const event of [a1, a2, b1]) await publisher.publish(event);
    await target.publishRaw(publisher, '{not json', typeA);
    const dead = await eventually(
      async () => {
        const letters = await consumer.listDeadLetters(group);
        return letters.length === 4 ? letters : undefined;
      },
      { what: 'four dead letters', timeoutMs: 15_000 },
    );
    expect(new Set(dead.map((d) => d.id)).size).toBe(4);
    storeUp = true;

    const a1Letter = dead.find((d) => d.event?.eventId === a1.eventId)!;
    expect(await consumer.replayDeadLetters(group, { ids: [a1Letter.id] })).toEqual({
      replayed: 1,
      skipped: 0,
      notFound: [],
    });
    await waitFor(() => handled.length === 1, 'the replay by id');
    expect(await consumer.replayDeadLetters(group, { eventType: typeB })).toEqual({
      replayed: 1,
      skipped: 0,
    });
    await waitFor(() => handled.length === 2, 'the replay by type');
    expect(await consumer.replayDeadLetters(group)).toEqual({ replayed: 1, skipped: 1 });
    await waitFor(() => handled.length === 3, 'the replay of all');
    await sleep(100);
    // Each handled once, as a first delivery (a fresh retry budget), in the order replayed.
    expect(handled).toEqual([
      { id: a1.eventId, attempt: 1 },
      { id: b1.eventId, attempt: 1 },
      { id: a2.eventId, attempt: 1 },
    ]);
    const left = await consumer.listDeadLetters(group);
    expect(left.map((d) => d.raw)).toEqual(['{not json']);
  });

  it('shows why a letter died, discards for good, and replays to the failing group only; an unknown or spent id is not found', async () => {
    const type = eventType();
    const [failing, other] = [`failing${letters(4)}`, `other${letters(4)}`];
    let storeUp = false;
    const handled: Record<string, string[]> = { [failing]: [], [other]: [] };
    const consumer = bus('consumer');
    await consumer.subscribe({
      group: failing,
      eventTypes: [type],
      handler: async (event) => {
        if (!storeUp) throw new Error('store unreachable');
        handled[failing]!.push(event.eventId);
      },
    });
    const bystander = bus('bystander');
    await bystander.subscribe({
      group: other,
      eventTypes: [type],
      handler: async (event) => void handled[other]!.push(event.eventId),
    });
    const publisher = bus('publisher');
    const [doomed, saved, marker] = [1, 2, 3].map((n) => createEvent('publisher', type, { n }));
    await publisher.publish(doomed!);
    await publisher.publish(saved!);
    const dead = await eventually(
      async () => {
        const found = await consumer.listDeadLetters(failing);
        return found.length === 2 ? found : undefined;
      },
      { what: 'two dead letters', timeoutMs: 15_000 },
    );
    for (const letter of dead) {
      expect(letter).toMatchObject({ group: failing, reason: 'store unreachable', attempts: 3 });
      // The first of its three failed deliveries, then the last.
      expect(Date.parse(letter.firstFailedAt!)).toBeLessThanOrEqual(Date.parse(letter.deadAt));
      expect(letter.event?.eventType).toBe(type);
    }
    const doomedLetter = dead.find((d) => d.event?.eventId === doomed!.eventId)!;
    const savedLetter = dead.find((d) => d.event?.eventId === saved!.eventId)!;

    expect(await consumer.discardDeadLetters(failing, { ids: [doomedLetter.id] })).toEqual({
      discarded: 1,
      notFound: [],
    });
    // Spent: a second discard or a replay of it does nothing and names it.
    expect(await consumer.discardDeadLetters(failing, { ids: [doomedLetter.id] })).toEqual({
      discarded: 0,
      notFound: [doomedLetter.id],
    });
    expect(
      await consumer.replayDeadLetters(failing, { ids: [doomedLetter.id, 'no-such-id'] }),
    ).toEqual({
      replayed: 0,
      skipped: 0,
      notFound: [doomedLetter.id, 'no-such-id'],
    });

    storeUp = true;
    expect(await consumer.replayDeadLetters(failing, { ids: [savedLetter.id] })).toEqual({
      replayed: 1,
      skipped: 0,
      notFound: [],
    });
    expect(await consumer.replayDeadLetters(failing, { ids: [savedLetter.id] })).toEqual({
      replayed: 0,
      skipped: 0,
      notFound: [savedLetter.id],
    });
    // Published after the replay: once both groups have it, a replay to every group would have shown.
    await publisher.publish(marker!);
    await waitFor(
      () =>
        handled[failing]!.includes(marker!.eventId) && handled[other]!.includes(marker!.eventId),
      'the marker in both groups',
    );
    await sleep(100);
    expect(handled[failing]!.sort()).toEqual([saved!.eventId, marker!.eventId].sort());
    expect(handled[other]!.sort()).toEqual(
      [doomed!.eventId, saved!.eventId, marker!.eventId].sort(),
    );
    expect(await consumer.listDeadLetters(failing)).toEqual([]);
  });

  it('discards the dead letters of one event type and leaves the others', async () => {
    const [typeA, typeB] = [eventType(), eventType()];
    const group = `discard${letters(4)}`;
    const consumer = bus('consumer');
    await consumer.subscribe({
      group,
      eventTypes: [typeA, typeB],
      handler: async () => {
        throw new Error('no handler yet');
      },
    });
    const publisher = bus('publisher');
    const [a1, a2, b1] = [
      createEvent('publisher', typeA, { n: 1 }),
      createEvent('publisher', typeA, { n: 2 }),
      createEvent('publisher', typeB, { n: 3 }),
    ];
    for (const event of [a1, a2, b1]) await publisher.publish(event);
    await eventually(async () => (await consumer.listDeadLetters(group)).length === 3, {
      what: 'three dead letters',
      timeoutMs: 15_000,
    });
    expect(await consumer.discardDeadLetters(group, { eventType: typeA })).toEqual({
      discarded: 2,
    });
    const left = await consumer.listDeadLetters(group);
    expect(left.map((d) => d.event?.eventId)).toEqual([b1.eventId]);
  });

  it('absorbs duplicate deliveries with the idempotent consumer helper', async () => {
    const type = eventType();
    const group = `dup${letters(4)}`;
    const outcomes: string[] = [];
    await bus('consumer').subscribe({
      group,
      eventTypes: [type],
      handler: async (event) => {
        outcomes.push(
          await handleEventOnce(pool, group, event, async (client) => {
            await client.query('INSERT INTO effects (event_id) VALUES ($1)', [event.eventId]);
          }),
        );
      },
    });
    const event = createEvent('publisher', type, { orderId: 'o1' });
    const publisher = bus('publisher');
    // The same envelope twice: what a publisher retry or a redelivery looks like to a consumer.
    await publisher.publish(event);
    await publisher.publish(event);
    await waitFor(() => outcomes.length === 2, 'both deliveries');
    expect(outcomes.sort()).toEqual(['duplicate', 'handled']);
    const { rows } = await pool.query(
      'SELECT count(*)::int AS n FROM effects WHERE event_id = $1',
      [event.eventId],
    );
    expect(rows[0].n).toBe(1);
  });

  it('close() waits for in-flight handlers to finish', async () => {
    const type = eventType();
    const consumer = bus('consumer');
    let started = false;
    let finished = false;
    await consumer.subscribe({
      group: `drain${letters(4)}`,
      eventTypes: [type],
      handler: async () => {
        started = true;
        await sleep(300);
        finished = true;
      },
    });
    await bus('publisher').publish(createEvent('publisher', type, {}));
    await waitFor(() => started, 'the handler to start');
    await consumer.close();
    expect(finished).toBe(true);
    await expect(consumer.health()).rejects.toThrow();
  });

  it('reports health while connected', async () => {
    await expect(bus('publisher').health()).resolves.toBeUndefined();
  });

  // The in-memory bus lives in one process, without connections: these two do not apply to it.
  if (!capabilities.durable) return;

  it('a consumer that was offline receives what was published meanwhile', async () => {
    const type = eventType();
    const group = `offline${letters(4)}`;
    const first = bus('consumer');
    await first.subscribe({ group, eventTypes: [type], handler: async () => undefined });
    await first.close();
    const events = Array.from({ length: 5 }, (_, n) => createEvent('publisher', type, { n }));
    const publisher = bus('publisher');
    for (const event of events) await publisher.publish(event);
    const received: string[] = [];
    await bus('consumer').subscribe({
      group,
      eventTypes: [type],
      handler: async (event) => {
        received.push(event.eventId);
      },
    });
    await waitFor(() => new Set(received).size === 5, 'the events published while offline');
    expect([...new Set(received)].sort()).toEqual(events.map((e) => e.eventId).sort());
  });

  it('survives its connections being killed by the server, losing no event', async () => {
    if (!target.killConnections)
      throw new Error('a durable target must be able to kill connections');
    const type = eventType();
    const received = new Set<string>();
    await bus('killed-consumer').subscribe({
      group: `kill${letters(4)}`,
      eventTypes: [type],
      handler: async (event) => {
        await sleep(2);
        received.add(event.eventId);
      },
    });
    const publisher = bus('killed-publisher');
    await publisher.health(); // connected, so there is a connection to kill
    // Publishes keep coming before, during and after the kill: none may fail or get lost.
    const published: string[] = [];
    const failures: unknown[] = [];
    let publishing = true;
    const loop = (async () => {
      let n = 0;
      while (publishing) {
        const event = createEvent('publisher', type, { n: n++ });
        await publisher.publish(event).then(
          () => published.push(event.eventId),
          (err: unknown) => failures.push(err),
        );
        await sleep(5);
      }
    })();
    await waitFor(() => published.length >= 10, 'publishing before the kill');
    await Promise.all([
      target.killConnections('killed-consumer'),
      target.killConnections('killed-publisher'),
    ]);
    const afterKill = published.length;
    await waitFor(() => published.length >= afterKill + 10, 'publishing after the kill', 30_000);
    publishing = false;
    await loop;
    expect(failures).toEqual([]);
    await waitFor(
      () => published.every((id) => received.has(id)),
      'every event after the kill',
      30_000,
    );
    expect(published.filter((id) => !received.has(id))).toEqual([]);
  }, 60_000);
}
