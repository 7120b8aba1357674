import { createHmac, randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { InMemoryEventBus, createEvent } from '@ecom/common/bus';
import type { ResponseSpec } from '@ecom/common/http';
import { openApiFragment } from '@ecom/common/openapi';
import {
  bearer,
  createTestPostgres,
  eventually,
  spyOnEvents,
  startProviderSim,
  type ProviderSimProcess,
  type TestPostgres,
  testPool,
} from '@ecom/test-support';
import { paymentApi } from '../src/http/api';
import { paymentService, type RunningPaymentService } from '../src/service';
import { STARTUP_TIMEOUT_MS, testConfig } from './support';

/**
 * Provider mode end to end on payment's side: the service on real PostgreSQL and real HTTP, the
 * provider simulator as a child process (its adapter calls it, it posts signed webhooks back).
 */
const SECRET = 'whsec_test_provider_webhooks';
/** How long a charge may wait on 3-D Secure here (PAYMENT_ACTION_TIMEOUT_MS). */
const ACTION_TIMEOUT_MS = 5000;
/** A reconciler pass that looks up no other test's stale claim, only the charges waiting too long. */
const EXPIRY_PASS_AFTER_MS = 600_000;
const alice = { id: 'user-alice', role: 'customer' as const };

/** The signature, computed here independently of the service's code. */
function sign(body: string, secret = SECRET, t = Math.floor(Date.now() / 1000)): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

function matchesSpec(operation: keyof typeof paymentApi.operations, body: unknown) {
  const { schema }: ResponseSpec = paymentApi.operations[operation].response;
  const { error } = schema!.validate(body, { presence: 'required' });
  expect(error?.message).toBeUndefined();
}

describe('payment provider mode: signed webhooks from a provider process (real PostgreSQL, real HTTP)', () => {
  let db: TestPostgres;
  let bus: InMemoryEventBus;
  let service: RunningPaymentService;
  let sim: ProviderSimProcess;
  let pool: Pool;
  let spy: Awaited<ReturnType<typeof spyOnEvents>>;
  let webhookUrl: string;

  beforeAll(async () => {
    sim = await startProviderSim({ secret: SECRET, settleDelayMs: 300 });
    db = await createTestPostgres('payment_provider_webhooks');
    bus = new InMemoryEventBus({ retry: { baseDelayMs: 10, maxAttempts: 3 } });
    spy = await spyOnEvents(bus, ['payment.initiated', 'payment.completed', 'payment.failed']);
    pool = testPool(db.url, 4);
    pool.on('error', () => undefined);
    service = await paymentService.start({
      config: testConfig(db.url, {
        OUTBOX_POLL_INTERVAL_MS: '20',
        PAYMENT_GATEWAY: 'provider',
        PAYMENT_PROVIDER_URL: sim.url,
        PAYMENT_WEBHOOK_SECRET: SECRET,
        PAYMENT_ACTION_TIMEOUT_MS: String(ACTION_TIMEOUT_MS),
        // Only the passes the tests run.
        RECONCILE_INTERVAL_MS: '3600000',
      }),
      bus,
    });
    webhookUrl = `${service.url}/api/payments/webhooks`;
    await sim.control('/sim/config', { webhookUrl });
  }, STARTUP_TIMEOUT_MS);

  afterEach(async () => {
    await sim?.control('/sim/config', {
      webhookUrl,
      holdDeliveries: false,
      duplicate: 1,
      respondAfterWebhook: false,
      settleDelayMs: 300,
    });
  });

  afterAll(async () => {
    await service?.stop();
    await sim?.stop();
    await bus?.close();
    await pool?.end();
    await db?.cleanup();
  }, 30000);

  const of = (type: string, orderId: string) => spy.of(type, orderId);
  /**
   * An address of the service that answers 404: the receiver down, as the provider sees it. A
   * path nothing serves: under /api/payments/ it would name a payment, asked with POST (405).
   */
  const downUrl = () => `${service.url}/webhooks-down`;

  /** order.created (with the card, or none) then inventory.reserved, as the saga sends them. */
  async function placeOrder(token: string | null, amount = 2500) {
    const orderId = randomUUID();
    await bus.publish(
      createEvent('order-service', 'order.created', {
        orderId,
        userId: alice.id,
        items: [{ productId: 'p1', quantity: 1, unitPrice: amount, name: 'Thing' }],
        total: { amount, currency: 'USD' },
        payment: token ? { method: 'card', token } : null,
      }),
    );
    await bus.publish(
      createEvent('product-service', 'inventory.reserved', {
        orderId,
        items: [{ productId: 'p1', quantity: 1 }],
      }),
    );
    return orderId;
  }

  /** order.cancelled for an order placeOrder placed, as order sends it. */
  const cancelOrder = (orderId: string, previousStatus: string) =>
    bus.publish(
      createEvent('order-service', 'order.cancelled', {
        orderId,
        userId: alice.id,
        reason: 'CUSTOMER_REQUEST',
        previousStatus,
        items: [{ productId: 'p1', quantity: 1 }],
      }),
    );

  /** The customer pays an order waiting for payment through /initiate with `token`. */
  const initiate = (orderId: string, token: string) =>
    fetch(`${service.url}/api/payments/initiate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: bearer(alice) },
      body: JSON.stringify({ orderId, payment: { method: 'card', token } }),
    });

  const paymentOf = async (orderId: string) =>
    (await pool.query('SELECT * FROM payments WHERE order_id = $1', [orderId])).rows[0] as
      { id: string; status: string } | undefined;
  const attemptOf = async (orderId: string) =>
    (
      await pool.query('SELECT * FROM payment_attempts WHERE idempotency_key = $1', [
        `${orderId}:1`,
      ])
    ).rows[0] as { status: string; intent_id: string | null; provider_status: string | null };

  async function waitPayment(orderId: string, status: string) {
    await eventually(async () => (await paymentOf(orderId))?.status === status, {
      what: `payment of ${orderId} ${status}`,
      timeoutMs: 20000,
    });
    return (await paymentOf(orderId))!;
  }

  async function waitIntent(orderId: string) {
    await eventually(async () => (await attemptOf(orderId))?.intent_id, {
      what: 'intent recorded',
      timeoutMs: 20000,
    });
    return attemptOf(orderId);
  }

  /** Webhook events payment recorded about an intent, with what each did. */
  const effects = async (intentId: string) =>
    (
      await pool.query<{ type: string; effect: string }>(
        'SELECT type, effect FROM provider_webhook_events WHERE intent_id = $1 ORDER BY received_at',
        [intentId],
      )
    ).rows;

  const post = (body: string, signature?: string) =>
    fetch(webhookUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(signature !== undefined ? { 'provider-signature': signature } : {}),
      },
      body,
    });

  /** A provider event for the order's first attempt, as the provider would send it. */
  function intentEvent(orderId: string, intentId: string, type: string, amount = 2500) {
    return JSON.stringify({
      id: `evt_${randomUUID().replace(/-/g, '')}`,
      object: 'event',
      type,
      created: Math.floor(Date.now() / 1000),
      data: {
        object: {
          id: intentId,
          object: 'payment_intent',
          status: type === 'payment_intent.succeeded' ? 'succeeded' : 'requires_payment_method',
          amount,
          currency: 'usd',
          latest_charge: type === 'payment_intent.succeeded' ? 'ch_forged' : null,
          metadata: { payment_key: `${orderId}:1` },
          next_action: null,
          last_payment_error:
            type === 'payment_intent.succeeded'
              ? null
              : { code: 'card_declined', message: 'Your card was declined' },
        },
      },
    });
  }

  it('refuses a bad signature, an old timestamp and a malformed event with 4xx in the common shape, changing nothing; a replayed id is 200 with no effect', async () => {
    // 3-D Secure: the intent waits for the customer, so nothing settles it meanwhile.
    const orderId = await placeOrder('tok_threeDSecure');
    const { intent_id: intentId } = await waitIntent(orderId);
    const body = intentEvent(orderId, intentId!, 'payment_intent.succeeded');
    const unchanged = async () => {
      expect((await paymentOf(orderId))!.status).toBe('PROCESSING');
      expect((await attemptOf(orderId)).status).toBe('PENDING');
      expect(await effects(intentId!)).toEqual([
        { type: 'payment_intent.requires_action', effect: 'requires_action' },
      ]);
    };
    await eventually(async () => (await effects(intentId!)).length === 1, {
      what: 'requires_action delivered',
    });

    const refusals: Array<[string, string | undefined, string]> = [
      ['wrong secret', sign(body, 'whsec_not_the_secret'), 'WEBHOOK_SIGNATURE_INVALID'],
      ['no header', undefined, 'WEBHOOK_SIGNATURE_INVALID'],
      ['garbage header', 'v1=zz,t=now', 'WEBHOOK_SIGNATURE_INVALID'],
      [
        'body changed after signing',
        sign(body.replace('2500', '2501')),
        'WEBHOOK_SIGNATURE_INVALID',
      ],
      [
        'timestamp 301 s old',
        sign(body, SECRET, Math.floor(Date.now() / 1000) - 301),
        'WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE',
      ],
    ];
    for (const [what, signature, code] of refusals) {
      const res = await post(body, signature);
      expect({ what, status: res.status }).toEqual({ what, status: 400 });
      const answer = (await res.json()) as { error: { code: string; message: string } };
      expect(answer.error.code).toBe(code);
      expect(JSON.stringify(answer)).not.toContain('at ');
    }
    // Signed right but not an event payment can read.
    const malformed = JSON.stringify({ id: 'evt_x', type: 'payment_intent.succeeded' });
    const bad = await post(malformed, sign(malformed));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe(
      'WEBHOOK_MALFORMED',
    );
    // Not JSON at all.
    const notJson = await post('{"id":', sign('{"id":'));
    expect(notJson.status).toBe(400);
    await unchanged();
    expect(of('payment.completed', orderId)).toHaveLength(0);

    // The genuine event is applied once; the same id again changes nothing.
    const first = await post(body, sign(body));
    expect(first.status).toBe(200);
    const receipt = await first.json();
    expect(receipt).toEqual({ received: true, duplicate: false, effect: 'completed' });
    matchesSpec('providerWebhook', receipt);
    await waitPayment(orderId, 'COMPLETED');
    const again = await post(body, sign(body));
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ received: true, duplicate: true, effect: 'duplicate' });
    await eventually(() => of('payment.completed', orderId).length === 1, {
      what: 'payment.completed',
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(of('payment.completed', orderId)).toHaveLength(1);
  });

  /** A POST to the webhook route with any body: bytes with a type, bytes with none, or none. */
  const postAs = (body: string | undefined, contentType?: string, signature?: string) =>
    fetch(webhookUrl, {
      method: 'POST',
      headers: {
        ...(contentType !== undefined ? { 'content-type': contentType } : {}),
        ...(signature !== undefined ? { 'provider-signature': signature } : {}),
      },
      // Bytes, not a string: fetch would call a string text/plain.
      ...(body !== undefined ? { body: Buffer.from(body) } : {}),
    });

  /** Bodies no event payment reads, as a prober sends them: wrong types, another media type. */
  const probes: Array<[string, string | undefined, string | undefined]> = [
    ['wrong field types', '{"id":5,"created":1.5,"data":{"object":1}}', 'application/json'],
    ['an array', '[]', 'application/json'],
    ['an empty object', '{}', 'application/json'],
    ['an empty JSON body', '', 'application/json'],
    ['text', 'hello', 'text/plain'],
    ['an event as text', '{"id":"evt_as_text","type":"payment_intent.succeeded"}', 'text/plain'],
    ['a form', 'id=evt_form&created=1.5', 'application/x-www-form-urlencoded'],
    ['bytes of no type', 'id=evt_untyped', undefined],
    ['no body at all', undefined, undefined],
  ];

  it('checks the signature before the body: unsigned or wrongly signed, any body answers WEBHOOK_SIGNATURE_INVALID and names none of its fields', async () => {
    for (const [what, body, type] of probes) {
      const signatures: Array<[string, string | undefined, string]> = [
        ['unsigned', undefined, 'missing'],
        ['garbage header', 'v1=zz,t=now', 'malformed'],
        ['wrong secret', sign(body ?? '', 'whsec_not_the_secret'), 'no_match'],
      ];
      for (const [how, signature, reason] of signatures) {
        const res = await postAs(body, type, signature);
        const answer = (await res.json()) as { error: { code: string; details?: unknown } };
        expect({ what, how, status: res.status, error: answer.error }).toEqual({
          what,
          how,
          status: 400,
          error: expect.objectContaining({
            code: 'WEBHOOK_SIGNATURE_INVALID',
            details: { reason },
          }),
        });
      }
    }
    const recorded = await pool.query(
      "SELECT 1 FROM provider_webhook_events WHERE event_id LIKE 'evt_as_text%' OR event_id LIKE 'evt_form%' OR event_id LIKE 'evt_untyped%'",
    );
    expect(recorded.rows).toHaveLength(0);
  });

  it('a correctly signed body that is no event payment reads answers WEBHOOK_MALFORMED with its problems, whatever is wrong', async () => {
    for (const [what, body, type] of probes) {
      const res = await postAs(body, type, sign(body ?? ''));
      const answer = (await res.json()) as { error: { code: string; details?: unknown } };
      expect({ what, status: res.status, code: answer.error.code }).toEqual({
        what,
        status: 400,
        code: 'WEBHOOK_MALFORMED',
      });
    }
    // The problems of a JSON body, each named, in one answer (only now: the sender is known).
    const body = '{"id":5,"created":1.5,"data":{"object":1}}';
    const res = await postAs(body, 'application/json', sign(body));
    const { error } = (await res.json()) as {
      error: { details: Array<{ location: string; field: string; message: string }> };
    };
    expect(error.details.map((d) => [d.location, d.field])).toEqual([
      ['body', 'id'],
      ['body', 'type'],
      ['body', 'created'],
      ['body', 'data.object'],
    ]);
    const array = await postAs('[]', 'application/json', sign('[]'));
    expect(((await array.json()) as { error: { details: unknown } }).error.details).toEqual([
      { location: 'body', field: '', message: expect.stringContaining('object') },
    ]);
  });

  it('reads at most 100 KB of a body of another type (413), as the JSON parser bounds a JSON one', async () => {
    const big = 'x'.repeat(100 * 1024 + 1);
    for (const type of ['text/plain', undefined]) {
      const res = await postAs(big, type, sign(big));
      expect({ type, status: res.status }).toEqual({ type, status: 413 });
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
        'PAYLOAD_TOO_LARGE',
      );
    }
  });

  it("documents the event payment reads as the route's request body in the OpenAPI document", () => {
    const { paths } = openApiFragment(paymentApi);
    const requestBody = paths['/api/payments/webhooks']!.post!.requestBody as {
      content: Record<string, { schema: { properties?: Record<string, unknown> } }>;
    };
    expect(Object.keys(requestBody.content['application/json']!.schema.properties ?? {})).toEqual(
      expect.arrayContaining(['id', 'type', 'created', 'data']),
    );
  });

  it('processing, then succeeded after a delay: payment.completed once, with the fields the synchronous mock publishes', async () => {
    const orderId = await placeOrder('tok_processing', 4100);
    const { intent_id: intentId } = await waitIntent(orderId);
    const payment = await waitPayment(orderId, 'COMPLETED');
    await eventually(() => of('payment.completed', orderId).length === 1, {
      what: 'payment.completed',
    });
    expect(of('payment.completed', orderId)[0]!.data).toEqual({
      paymentId: payment.id,
      orderId,
      amount: { amount: 4100, currency: 'USD' },
    });
    expect(await effects(intentId!)).toEqual([
      { type: 'payment_intent.processing', effect: 'processing' },
      { type: 'payment_intent.succeeded', effect: 'completed' },
    ]);
    expect((await attemptOf(orderId)).status).toBe('SUCCEEDED');
  });

  it('processing, then declined: payment.failed as the synchronous mock publishes it, order fails', async () => {
    const orderId = await placeOrder('tok_processingDeclined');
    const payment = await waitPayment(orderId, 'FAILED');
    await eventually(() => of('payment.failed', orderId).length === 1, { what: 'payment.failed' });
    expect(of('payment.failed', orderId)[0]!.data).toEqual({
      paymentId: payment.id,
      orderId,
      reason: 'Your card was declined',
      code: 'card_declined',
      retryable: false,
      attempt: 1,
    });
    expect(of('payment.completed', orderId)).toHaveLength(0);
  });

  it('requires_action (3-D Secure) on /initiate: 201 PROCESSING with the next action; the customer completes it at the provider, then payment.completed', async () => {
    const orderId = await placeOrder(null);
    await waitPayment(orderId, 'AWAITING_PAYMENT');
    const res = await initiate(orderId, 'tok_threeDSecure');
    expect(res.status).toBe(201);
    const view = (await res.json()) as {
      status: string;
      nextAction: { type: string; url: string } | null;
      attempts: Array<{ providerStatus: string | null }>;
    };
    expect(view.status).toBe('PROCESSING');
    expect(view.nextAction).toEqual({
      type: 'redirect_to_url',
      url: expect.stringMatching(new RegExp(`^${sim.url}/authenticate/pi_`)),
    });
    expect(view.attempts[0]!.providerStatus).toBe('requires_action');
    matchesSpec('initiatePayment', view);
    expect(of('payment.completed', orderId)).toHaveLength(0);

    // The customer passes 3-D Secure on the provider's page.
    const done = await fetch(view.nextAction!.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'result=succeed',
    });
    expect(done.status).toBe(200);
    await waitPayment(orderId, 'COMPLETED');
    await eventually(() => of('payment.completed', orderId).length === 1, {
      what: 'payment.completed',
    });
    const after = await fetch(`${service.url}/api/payments/order/${orderId}`, {
      headers: { authorization: bearer(alice) },
    });
    expect(((await after.json()) as { nextAction: unknown }).nextAction).toBeNull();
  });

  it('duplicated and reordered deliveries (succeeded before processing, each twice) are handled once', async () => {
    await sim.control('/sim/config', { holdDeliveries: true, duplicate: 2 });
    const orderId = await placeOrder('tok_processing');
    const { intent_id: intentId } = await waitIntent(orderId);
    await eventually(
      async () => (await sim.control<{ held: number }>('/sim/deliveries')).held === 2,
      { what: 'processing and succeeded held', timeoutMs: 20000 },
    );
    expect((await paymentOf(orderId))!.status).toBe('PROCESSING');
    await sim.control('/sim/release', { order: 'reverse' });
    await waitPayment(orderId, 'COMPLETED');
    expect(await effects(intentId!)).toEqual([
      { type: 'payment_intent.succeeded', effect: 'completed' },
      { type: 'payment_intent.processing', effect: 'already_settled' },
    ]);
    const delivered = (await sim.deliveries()).filter((d) => d.intentId === intentId);
    expect(delivered.map((d) => [d.type, d.status])).toEqual([
      ['payment_intent.succeeded', 200],
      ['payment_intent.succeeded', 200],
      ['payment_intent.processing', 200],
      ['payment_intent.processing', 200],
    ]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(of('payment.completed', orderId)).toHaveLength(1);
    expect((await paymentOf(orderId))!.status).toBe('COMPLETED');
  });

  it('a webhook that arrives before the charge call returns: recorded by the webhook, the late answer changes nothing', async () => {
    await sim.control('/sim/config', { respondAfterWebhook: true });
    // From the saga: the succeeded event is handled while the create call is still open.
    const orderId = await placeOrder('tok_visa');
    await waitPayment(orderId, 'COMPLETED');
    await eventually(() => of('payment.completed', orderId).length === 1, {
      what: 'payment.completed',
    });
    // The sim answered the create call only after this delivery got its 2xx: the webhook did it.
    const delivery = (await sim.deliveries()).filter(
      (d) => d.type === 'payment_intent.succeeded' && d.status === 200,
    );
    expect(await effects(delivery.at(-1)!.intentId)).toEqual([
      { type: 'payment_intent.succeeded', effect: 'completed' },
    ]);

    // From /initiate: a decline delivered first still answers the customer 402.
    const awaiting = await placeOrder(null);
    await waitPayment(awaiting, 'AWAITING_PAYMENT');
    const declined = await initiate(awaiting, 'tok_chargeDeclined');
    expect(declined.status).toBe(402);
    expect(await declined.json()).toMatchObject({
      error: { code: 'PAYMENT_DECLINED', details: { code: 'card_declined', retryable: true } },
    });
    await eventually(() => of('payment.failed', awaiting).length === 1, { what: 'payment.failed' });
    expect((await paymentOf(awaiting))!.status).toBe('AWAITING_PAYMENT');

    // And a success on /initiate answers 201 COMPLETED.
    const paid = await initiate(awaiting, 'tok_visa');
    expect(paid.status).toBe(201);
    expect(((await paid.json()) as { status: string }).status).toBe('COMPLETED');
    await eventually(() => of('payment.completed', awaiting).length === 1, {
      what: 'payment.completed',
    });
  });

  it('retries a delivery with backoff until the payment service answers 2xx', async () => {
    await sim.control('/sim/config', { webhookUrl: downUrl() });
    const orderId = await placeOrder('tok_processing');
    const { intent_id: intentId } = await waitIntent(orderId);
    await eventually(
      async () =>
        (await sim.deliveries()).filter((d) => d.intentId === intentId && d.status === 404)
          .length >= 3,
      { what: 'failed attempts', timeoutMs: 20000 },
    );
    expect((await paymentOf(orderId))!.status).toBe('PROCESSING');
    await sim.control('/sim/config', { webhookUrl });
    await waitPayment(orderId, 'COMPLETED');
    const tries = (await sim.deliveries()).filter(
      (d) => d.intentId === intentId && d.type === 'payment_intent.succeeded',
    );
    expect(tries.at(-1)!.status).toBe(200);
    expect(tries.at(-1)!.attempt).toBeGreaterThan(1);
    await eventually(() => of('payment.completed', orderId).length === 1, {
      what: 'payment.completed',
    });
  });

  it('the reconciler asks the provider about an intent whose webhook never came', async () => {
    await sim.control('/sim/config', { webhookUrl: downUrl() });
    const orderId = await placeOrder('tok_processing', 3300);
    const { intent_id: intentId } = await waitIntent(orderId);
    // Settled at the provider, still unknown to payment.
    await eventually(
      async () =>
        (
          (await (await fetch(`${sim.url}/v1/payment_intents/${intentId}`)).json()) as {
            status: string;
          }
        ).status === 'succeeded',
      { what: 'intent settled at the provider', timeoutMs: 20000 },
    );
    expect((await paymentOf(orderId))!.status).toBe('PROCESSING');
    await service.reconciliation.run(0);
    const payment = await waitPayment(orderId, 'COMPLETED');
    await eventually(() => of('payment.completed', orderId).length === 1, {
      what: 'payment.completed',
    });
    expect(of('payment.completed', orderId)[0]!.data).toEqual({
      paymentId: payment.id,
      orderId,
      amount: { amount: 3300, currency: 'USD' },
    });
    // The late delivery then finds it settled.
    await sim.control('/sim/config', { webhookUrl });
    await eventually(
      async () =>
        (await effects(intentId!)).some(
          (e) => e.type === 'payment_intent.succeeded' && e.effect === 'already_settled',
        ),
      { what: 'late webhook', timeoutMs: 20000 },
    );
    expect(of('payment.completed', orderId)).toHaveLength(1);
  });
  /** The intent as the provider shows it now. */
  const intentAtProvider = async (intentId: string) =>
    (await (await fetch(`${sim.url}/v1/payment_intents/${intentId}`)).json()) as {
      status: string;
      cancellation_reason: string | null;
    };

  /** Runs reconciler passes until the payment reaches `status` (the wait has to pass first). */
  async function passUntil(orderId: string, status: string) {
    await eventually(
      async () => {
        await service.reconciliation.run(EXPIRY_PASS_AFTER_MS);
        return (await paymentOf(orderId))?.status === status;
      },
      { what: `payment of ${orderId} ${status} after passes`, timeoutMs: 30000, intervalMs: 250 },
    );
  }

  it('a charge left waiting on 3-D Secure is cancelled at the provider after PAYMENT_ACTION_TIMEOUT_MS, not before: payment.failed, and the customer can no longer authenticate', async () => {
    const orderId = await placeOrder('tok_threeDSecure', 4100);
    const { intent_id: intentId, provider_status: waiting } = await waitIntent(orderId);
    expect(waiting).toBe('requires_action');
    // Well inside the wait: a pass leaves it alone.
    await service.reconciliation.run(EXPIRY_PASS_AFTER_MS);
    expect((await paymentOf(orderId))!.status).toBe('PROCESSING');
    expect((await intentAtProvider(intentId!)).status).toBe('requires_action');

    await passUntil(orderId, 'FAILED');
    expect(await intentAtProvider(intentId!)).toMatchObject({
      status: 'canceled',
      cancellation_reason: 'abandoned',
    });
    await eventually(() => of('payment.failed', orderId).length === 1, { what: 'payment.failed' });
    expect(of('payment.failed', orderId)[0]!.data).toMatchObject({
      orderId,
      code: 'payment_canceled',
      reason: "The card's authentication was not completed in time",
      retryable: false,
    });
    expect((await attemptOf(orderId)).status).not.toBe('PENDING');
    // The provider's own word of the cancel then finds it settled; a late 3-D Secure is refused.
    await eventually(
      async () =>
        (await effects(intentId!)).some(
          (e) => e.type === 'payment_intent.canceled' && e.effect === 'already_settled',
        ),
      { what: 'the canceled webhook', timeoutMs: 20000 },
    );
    const late = await fetch(`${sim.url}/authenticate/${intentId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'result=succeed',
    });
    expect(late.status).toBe(400);
    expect(of('payment.completed', orderId)).toHaveLength(0);
    expect(of('payment.failed', orderId)).toHaveLength(1);
  });

  it('paid through /initiate and left waiting: cancelled the same way, and the payment waits for another card (a retryable decline)', async () => {
    const orderId = await placeOrder(null, 4400);
    await waitPayment(orderId, 'AWAITING_PAYMENT');
    const res = await initiate(orderId, 'tok_threeDSecure');
    expect(res.status).toBe(201);
    const { intent_id: intentId } = await waitIntent(orderId);

    await passUntil(orderId, 'AWAITING_PAYMENT');
    expect((await intentAtProvider(intentId!)).status).toBe('canceled');
    await eventually(() => of('payment.failed', orderId).length === 1, { what: 'payment.failed' });
    expect(of('payment.failed', orderId)[0]!.data).toMatchObject({
      code: 'payment_canceled',
      retryable: true,
    });
  });

  it('a customer who authenticated just before the cancel wins: the provider refuses it, the attempt learns the intent is processing, and the charge completes once', async () => {
    const orderId = await placeOrder('tok_threeDSecure', 4200);
    const { intent_id: intentId } = await waitIntent(orderId);
    // Payment does not hear of the authentication: its record still says requires_action. The
    // intent then stays processing past the wait, so the cancel meets it there.
    await sim.control('/sim/config', {
      holdDeliveries: true,
      settleDelayMs: ACTION_TIMEOUT_MS + 5000,
    });
    const done = await fetch(`${sim.url}/authenticate/${intentId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'result=succeed',
    });
    expect(done.status).toBe(200);
    expect((await attemptOf(orderId)).provider_status).toBe('requires_action');

    // Refused: the intent is processing, newer news than the webhook that said requires_action.
    await eventually(
      async () => {
        await service.reconciliation.run(EXPIRY_PASS_AFTER_MS);
        return (await attemptOf(orderId)).provider_status === 'processing';
      },
      { what: 'the attempt processing after a refused cancel', timeoutMs: 30000, intervalMs: 250 },
    );
    expect((await paymentOf(orderId))!.status).toBe('PROCESSING');
    expect((await intentAtProvider(intentId!)).status).toBe('processing');
    // A later pass does not cancel it again; the provider's news settles it.
    await service.reconciliation.run(EXPIRY_PASS_AFTER_MS);
    expect((await intentAtProvider(intentId!)).status).toBe('processing');
    await sim.control('/sim/release', {});
    await waitPayment(orderId, 'COMPLETED');
    expect((await intentAtProvider(intentId!)).status).toBe('succeeded');
    await eventually(() => of('payment.completed', orderId).length === 1, {
      what: 'payment.completed',
    });
    expect(of('payment.completed', orderId)).toHaveLength(1);
    expect(of('payment.failed', orderId)).toHaveLength(0);
  }, 90_000);

  it('an intent cancelled at the provider by someone else fails the payment when its webhook comes', async () => {
    const orderId = await placeOrder('tok_threeDSecure', 4300);
    const { intent_id: intentId } = await waitIntent(orderId);
    const cancel = await fetch(`${sim.url}/v1/payment_intents/${intentId}/cancel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cancellation_reason: 'requested_by_customer' }),
    });
    expect(cancel.status).toBe(200);
    await waitPayment(orderId, 'FAILED');
    await eventually(() => of('payment.failed', orderId).length === 1, { what: 'payment.failed' });
    expect(of('payment.failed', orderId)[0]!.data).toMatchObject({
      code: 'payment_canceled',
      reason: 'The payment was cancelled at the provider',
    });
    expect(await effects(intentId!)).toContainEqual({
      type: 'payment_intent.canceled',
      effect: 'declined',
    });
  });

  /** A counter's value on the service's /metrics. */
  async function counter(name: string): Promise<number> {
    const text = await (await fetch(`${service.url}/metrics`)).text();
    // `name{service="payment"} 1`: the registry's default labels come with every line.
    const value = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1];
    if (value === undefined) throw new Error(`${name} is not on /metrics`);
    return Number(value);
  }

  it("a refund the provider refuses (its books differ: a refund made at its dashboard) is counted and logged for an operator, the charge's amount untouched", async () => {
    const orderId = await placeOrder('tok_visa', 2900);
    await waitPayment(orderId, 'COMPLETED');
    const paid = (
      await pool.query<{ charge_id: string }>(
        'SELECT charge_id FROM payments WHERE order_id = $1',
        [orderId],
      )
    ).rows[0]!;
    const before = await counter('payment_refunds_refused_total');
    // A goodwill cent refunded at the provider's dashboard: the shop is not told.
    const dashboard = await fetch(`${sim.url}/v1/refunds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ charge: paid.charge_id, amount: 1, currency: 'usd' }),
    });
    expect(dashboard.status).toBe(200);
    await cancelOrder(orderId, 'CONFIRMED');
    await eventually(async () => (await counter('payment_refunds_refused_total')) === before + 1, {
      what: 'the refused refund counted',
      timeoutMs: 20000,
    });
    // Nothing was taken as refunded: the reservation went back.
    expect(await paymentOf(orderId)).toMatchObject({ status: 'COMPLETED', refunded_cents: '0' });
    const refunds = await pool.query(
      'SELECT r.status, r.failure_reason FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE p.order_id = $1',
      [orderId],
    );
    expect(refunds.rows).toEqual([
      {
        status: 'FAILED',
        failure_reason: expect.stringContaining('amount_too_large'),
      },
    ]);
  });

  it('a capture the provider reports for an attempt recorded as failed is not taken silently: its own effect, counted', async () => {
    const orderId = await placeOrder('tok_threeDSecure', 3700);
    const { intent_id: intentId } = await waitIntent(orderId);
    await eventually(async () => (await effects(intentId!)).length === 1, {
      what: 'requires_action delivered',
    });
    // Recorded as failed (a decline the provider then let the customer retry on the same intent).
    const failed = intentEvent(orderId, intentId!, 'payment_intent.payment_failed', 3700);
    expect((await post(failed, sign(failed))).status).toBe(200);
    expect((await attemptOf(orderId)).status).toBe('FAILED');
    const before = await counter('payment_captures_unclaimed_total');
    // The customer then authenticates, and the provider captures.
    const authenticated = await fetch(`${sim.url}/authenticate/${intentId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'result=succeed',
    });
    expect(authenticated.status).toBeLessThan(400);
    await eventually(
      async () =>
        (await effects(intentId!)).some(
          (e) => e.type === 'payment_intent.succeeded' && e.effect === 'capture_unclaimed',
        ),
      { what: 'the capture flagged', timeoutMs: 20000 },
    );
    expect(await counter('payment_captures_unclaimed_total')).toBe(before + 1);
    expect(of('payment.completed', orderId)).toHaveLength(0);
  });

  it("an order cancelled while its charge waits on 3-D Secure: the step is no longer offered and the reconciler's next pass cancels the intent, well before PAYMENT_ACTION_TIMEOUT_MS", async () => {
    const orderId = await placeOrder('tok_threeDSecure', 3900);
    const { intent_id: intentId } = await waitIntent(orderId);
    const view = async () =>
      (await (
        await fetch(`${service.url}/api/payments/order/${orderId}`, {
          headers: { authorization: bearer(alice) },
        })
      ).json()) as { nextAction: { url: string } | null };
    expect((await view()).nextAction).not.toBeNull();
    await cancelOrder(orderId, 'PAYMENT_PROCESSING');
    const closed = async () =>
      (
        await pool.query<{ order_closed: string | null }>(
          'SELECT order_closed FROM payments WHERE order_id = $1',
          [orderId],
        )
      ).rows[0]?.order_closed;
    await eventually(async () => (await closed()) === 'CANCELLED', {
      what: 'the payment knows its order closed',
    });
    expect((await view()).nextAction).toBeNull();
    // One pass, seconds after the order was placed (the action timeout is 5 s here, an hour by
    // default): the intent is cancelled at the provider, and a late authentication charges nothing.
    await service.reconciliation.run(EXPIRY_PASS_AFTER_MS);
    expect((await intentAtProvider(intentId!)).status).toBe('canceled');
    const late = await fetch(`${sim.url}/authenticate/${intentId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'result=succeed',
    });
    expect(late.status).toBe(400);
    expect((await attemptOf(orderId)).status).toBe('FAILED');
    expect(of('payment.completed', orderId)).toHaveLength(0);
  });

  it('acknowledges what payment does not act on (another event type, an intent status it does not know) with 200, so the provider does not send it again for days, and changes nothing', async () => {
    const orderId = await placeOrder('tok_threeDSecure', 2600);
    const { intent_id: intentId } = await waitIntent(orderId);
    const event = (type: string, object: object) =>
      JSON.stringify({
        id: `evt_${randomUUID().replace(/-/g, '')}`,
        object: 'event',
        type,
        created: Math.floor(Date.now() / 1000),
        data: { object },
      });
    const unknownStatus = JSON.parse(
      intentEvent(orderId, intentId!, 'payment_intent.processing', 2600),
    ) as { data: { object: { status: string } } };
    unknownStatus.data.object.status = 'requires_capture';
    const cases: Array<[string, string, string]> = [
      ['an intent status payment does not know', JSON.stringify(unknownStatus), 'unknown_status'],
      [
        'a charge event',
        event('charge.refunded', { id: 'ch_1', object: 'charge', amount: 2600, refunded: true }),
        'ignored',
      ],
      ['a customer event', event('customer.created', { id: 'cus_1' }), 'ignored'],
    ];
    for (const [what, body, effect] of cases) {
      const res = await post(body, sign(body));
      expect({ what, status: res.status, body: await res.json() }).toEqual({
        what,
        status: 200,
        body: { received: true, duplicate: false, effect },
      });
    }
    expect((await attemptOf(orderId)).status).toBe('PENDING');
    expect((await paymentOf(orderId))!.status).toBe('PROCESSING');
    // An intent event still needs what payment reads of it.
    const noAmount = event('payment_intent.succeeded', { id: intentId, status: 'succeeded' });
    expect((await post(noAmount, sign(noAmount))).status).toBe(400);
  });
});
