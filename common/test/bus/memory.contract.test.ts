import {
  createEvent,
  DEFAULT_CONSUMER_CONCURRENCY,
  InMemoryEventBus,
  type EventBus,
} from '@ecom/common/bus';
import { createLogger, getContext, runWithContext } from '@ecom/common/logging';
import { busContract } from './contract';

describe('event bus contract: in-memory', () => {
  busContract({ durable: false }, async () => {
    // One process, one bus: every "service" of a test shares it, as in the embedded run.
    let shared: InMemoryEventBus | undefined;
    return {
      createBus(_service, retry) {
        if (!shared || (shared as unknown as { closed: boolean }).closed) {
          shared = new InMemoryEventBus({ retry, logger: createLogger('bus-contract') });
        }
        return shared;
      },
      async deadLetters(bus: EventBus, group: string) {
        return (bus as InMemoryEventBus).deadLetters.filter((d) => d.group === group);
      },
      publishRaw: (bus, raw, eventType) => (bus as InMemoryEventBus).publishRaw(raw, eventType),
      async cleanup() {},
    };
  });
});

describe('in-memory bus held', () => {
  it('keeps what is published while held, and routes it at release to the groups subscribed by then, in order', async () => {
    const bus = new InMemoryEventBus({ logger: createLogger('bus-held') });
    const seen: Record<string, string[]> = { early: [], late: [] };
    const subscribe = (group: string) =>
      bus.subscribe({
        group,
        eventTypes: ['order.completed'],
        handler: async (event) =>
          void seen[group]!.push((event.data as { orderId: string }).orderId),
      });
    await subscribe('early');
    bus.hold();
    for (const orderId of ['o1', 'o2'])
      await bus.publish(createEvent('order-service', 'order.completed', { orderId }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen).toEqual({ early: [], late: [] });
    // A group that subscribes before the release gets them too (a service started later).
    await subscribe('late');
    bus.release();
    await bus.idle();
    expect(seen).toEqual({ early: ['o1', 'o2'], late: ['o1', 'o2'] });
    // Released: routed at publish again.
    await bus.publish(createEvent('order-service', 'order.completed', { orderId: 'o3' }));
    await bus.idle();
    expect(seen.late).toEqual(['o1', 'o2', 'o3']);
    await bus.close();
  });
});

describe('in-memory bus under load', () => {
  const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

  it('handles at most its concurrency per group at once, the rest in turn, each group apart', async () => {
    const bus = new InMemoryEventBus({ concurrency: 2, logger: createLogger('bus-load') });
    const releases: Array<() => void> = [];
    const slow: string[] = [];
    const fast: string[] = [];
    let running = 0;
    let most = 0;
    await bus.subscribe({
      group: 'slow',
      eventTypes: ['order.completed'],
      handler: async (event) => {
        running += 1;
        most = Math.max(most, running);
        await new Promise<void>((resolve) => releases.push(resolve));
        running -= 1;
        slow.push((event.data as { orderId: string }).orderId);
      },
    });
    await bus.subscribe({
      group: 'fast',
      eventTypes: ['order.completed'],
      handler: async (event) => {
        fast.push((event.data as { orderId: string }).orderId);
      },
    });
    const ids = ['o1', 'o2', 'o3', 'o4', 'o5'];
    for (const orderId of ids)
      await bus.publish(createEvent('order-service', 'order.completed', { orderId }));
    for (let i = 0; i < 20 && fast.length < ids.length; i += 1) await tick();
    // The other group is not held back by this one's bound.
    expect(fast).toEqual(ids);
    expect(running).toBe(2);
    let idle = false;
    void bus.idle().then(() => (idle = true));
    for (;;) {
      await tick();
      if (slow.length === ids.length) break;
      // Deliveries still waiting or running are work: idle() waits for them.
      expect(idle).toBe(false);
      expect(running).toBeLessThanOrEqual(2);
      releases.shift()?.();
    }
    expect(most).toBe(2);
    // Waiting deliveries start in the order they became due.
    expect(slow).toEqual(ids);
    await bus.idle();
    await bus.close();
  });

  it('runs a waiting delivery in the context it became due in', async () => {
    const bus = new InMemoryEventBus({ concurrency: 1, logger: createLogger('bus-load') });
    let release = () => undefined as void;
    const deadIn: Array<string | undefined> = [];
    await bus.subscribe({
      group: 'slow',
      eventTypes: ['order.completed'],
      handler: () => new Promise<void>((resolve) => (release = resolve)),
      onDeadLetter: () => deadIn.push(getContext()?.correlationId),
    });
    await runWithContext({ correlationId: 'first' }, () =>
      bus.publish(createEvent('order-service', 'order.completed', { orderId: 'o1' })),
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
    // Malformed: dead-lettered at once when its turn comes, after the first is done.
    await runWithContext({ correlationId: 'second' }, () =>
      bus.publishRaw('not json', 'order.completed'),
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(deadIn).toEqual([]);
    release();
    await bus.idle();
    expect(deadIn).toEqual(['second']);
    await bus.close();
  });

  it('is bounded by default as the other buses are (DEFAULT_CONSUMER_CONCURRENCY)', async () => {
    const bus = new InMemoryEventBus({ logger: createLogger('bus-load') });
    const releases: Array<() => void> = [];
    let done = 0;
    await bus.subscribe({
      group: 'slow',
      eventTypes: ['order.completed'],
      handler: async () => {
        await new Promise<void>((resolve) => releases.push(resolve));
        done += 1;
      },
    });
    const total = DEFAULT_CONSUMER_CONCURRENCY + 4;
    for (let i = 0; i < total; i += 1)
      await bus.publish(createEvent('order-service', 'order.completed', { orderId: `o${i}` }));
    for (let i = 0; i < 20; i += 1) await tick();
    expect(DEFAULT_CONSUMER_CONCURRENCY).toBe(16);
    expect(releases).toHaveLength(DEFAULT_CONSUMER_CONCURRENCY);
    while (done < total) {
      releases.shift()?.();
      await tick();
    }
    await bus.idle();
    await bus.close();
  });

  it('refuses a bound that would hold every delivery back', () => {
    for (const concurrency of [0, -1, 1.5, NaN])
      expect(() => new InMemoryEventBus({ concurrency })).toThrow(RangeError);
  });
});
