import Joi from 'joi';
import {
  backoffCeilingMs,
  DEFAULT_RETRY_POLICY,
  InMemoryEventBus,
  createEvent,
  retryBudgetMs,
  retryDelayMs,
  retryPolicyFromConfig,
  type EventBusConfig,
} from '@ecom/common/bus';
import { busConfigKeys, loadConfig } from '@ecom/common/config';
import { eventually } from '@ecom/test-support';

const busConfig = (env: NodeJS.ProcessEnv) =>
  loadConfig(Joi.object<EventBusConfig>(busConfigKeys), env);

describe('retry policy', () => {
  it('gives a failed event minutes before it is dead-lettered by default, not seconds', () => {
    expect(DEFAULT_RETRY_POLICY.maxAttempts).toBeGreaterThanOrEqual(20);
    const budget = retryBudgetMs(DEFAULT_RETRY_POLICY);
    expect(budget).toBeGreaterThanOrEqual(10 * 60_000);
    expect(budget).toBeLessThanOrEqual(15 * 60_000);
  });

  it('doubles the ceiling from the base delay up to the cap', () => {
    const policy = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1000 };
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffCeilingMs(policy, a))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect(retryBudgetMs(policy)).toBe(100 + 200 + 400 + 800 + 1000 * 5);
  });

  it('jitters each delay between half the ceiling and the ceiling', () => {
    const policy = { maxAttempts: 10, baseDelayMs: 1000, maxDelayMs: 8000 };
    expect(retryDelayMs(policy, 3, () => 0)).toBe(2000);
    expect(retryDelayMs(policy, 3, () => 0.999999)).toBe(4000);
    const delays = new Set(Array.from({ length: 50 }, () => retryDelayMs(policy, 4)));
    expect(delays.size).toBeGreaterThan(10);
    for (const d of delays) expect(d >= 4000 && d <= 8000).toBe(true);
  });

  it('is set per service by EVENT_RETRY_* variables, validated', () => {
    expect(
      retryPolicyFromConfig(
        busConfig({
          EVENT_RETRY_ATTEMPTS: '50',
          EVENT_RETRY_BASE_DELAY_MS: '500',
          EVENT_RETRY_MAX_DELAY_MS: '60000',
        }),
      ),
    ).toEqual({ maxAttempts: 50, baseDelayMs: 500, maxDelayMs: 60_000 });
    expect(retryPolicyFromConfig(busConfig({}))).toEqual(DEFAULT_RETRY_POLICY);
    expect(() => busConfig({ EVENT_RETRY_ATTEMPTS: '0' })).toThrow(/EVENT_RETRY_ATTEMPTS/);
    expect(() =>
      busConfig({ EVENT_RETRY_BASE_DELAY_MS: '5000', EVENT_RETRY_MAX_DELAY_MS: '1000' }),
    ).toThrow(/EVENT_RETRY_MAX_DELAY_MS/);
    expect(busConfig({}).RABBITMQ_QUEUE_TYPE).toBe('quorum');
    expect(() => busConfig({ RABBITMQ_QUEUE_TYPE: 'stream' })).toThrow(/RABBITMQ_QUEUE_TYPE/);
    expect(busConfig({}).EVENT_BUS_PREFIX).toBe('ecom');
    expect(() => busConfig({ EVENT_BUS_PREFIX: 'a b' })).toThrow(/EVENT_BUS_PREFIX/);
  });

  it('keeps retrying through an outage that outlasts five attempts, without a dead letter', async () => {
    // The same shape as the default, scaled down 100x: 30 attempts, 2.5 ms doubling to 300 ms.
    const bus = new InMemoryEventBus({
      retry: { maxAttempts: 30, baseDelayMs: 2.5, maxDelayMs: 300 },
    });
    const outageEndsAt = Date.now() + 1500;
    let handledOn = 0;
    await bus.subscribe({
      group: 'product',
      eventTypes: ['order.confirmed'],
      handler: async (_event, { attempt }) => {
        if (Date.now() < outageEndsAt) throw new Error('MongoDB unreachable');
        handledOn = attempt;
      },
    });
    await bus.publish(createEvent('order', 'order.confirmed', { orderId: 'o1' }));
    await eventually(() => handledOn, { timeoutMs: 10_000, what: 'handled after the outage' });
    expect(handledOn).toBeGreaterThan(5);
    expect(bus.deadLetters).toEqual([]);
    await bus.close();
  });
});
