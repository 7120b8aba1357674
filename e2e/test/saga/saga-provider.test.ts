import { gatewayService, loadGatewayConfig, type RunningGateway } from '@ecom/gateway';
import { createLogger } from '@ecom/common/logging';
import { ProviderPaymentGateway } from '@ecom/payment-service';
import { startProviderSim, testJwtEnv, type ProviderSimProcess } from '@ecom/test-support';
import { Saga, bearer, customer, eventually } from './harness';

/**
 * The order saga with payment in provider mode over the in-memory bus: payment charges through
 * the provider simulator (its own process) and learns outcomes from its signed webhooks, which
 * reach payment through the API gateway (public route, its own rate-limit bucket, the body
 * forwarded byte for byte, or the signature would not verify).
 */
const SECRET = 'whsec_e2e_saga_provider';

describe('order saga with asynchronous payments (provider mode, in-memory bus)', () => {
  let saga: Saga;
  let sim: ProviderSimProcess;
  let gw: RunningGateway;

  beforeAll(async () => {
    sim = await startProviderSim({ secret: SECRET, settleDelayMs: 300 });
    saga = await new Saga({
      kind: 'memory',
      label: 'saga_provider',
      env: {
        payment: {
          PAYMENT_GATEWAY: 'provider',
          PAYMENT_PROVIDER_URL: sim.url,
          PAYMENT_WEBHOOK_SECRET: SECRET,
        },
      },
      replicaGateway: () => new ProviderPaymentGateway({ url: sim.url }),
    }).start();
    gw = await gatewayService.start({
      config: loadGatewayConfig({
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        HOST: '127.0.0.1',
        PORT: '0',
        JWT_PUBLIC_KEY: testJwtEnv.JWT_PUBLIC_KEY,
        AUTH_SERVICE_URL: 'http://127.0.0.1:9',
        PRODUCT_SERVICE_URL: saga.product.url,
        COMMENTS_SERVICE_URL: 'http://127.0.0.1:9',
        PAYMENT_SERVICE_URL: saga.payment.url,
        ORDER_SERVICE_URL: saga.order.url,
        HEALTH_TIMEOUT_MS: '1000',
      }),
      logger: createLogger('gateway-saga-provider', 'silent'),
    });
    await sim.control('/sim/config', { webhookUrl: `${gw.url}/api/payments/webhooks` });
  }, 90000);

  afterAll(async () => {
    await gw?.stop();
    await saga?.close();
    await sim?.stop();
  }, 30000);

  it('tok_processing: the intent settles later, the webhook crosses the gateway, order CONFIRMED once', async () => {
    const productId = await saga.createProduct(10, 12.5);
    const order = await saga.placeOrder([{ productId, quantity: 2 }], 'tok_processing');
    await saga.waitOrder(order.id, 'CONFIRMED');
    await eventually(async () => (await saga.stock(productId)).sold === 2, 'stock sold');
    expect((await saga.paymentRow(order.id))?.status).toBe('COMPLETED');
    const deliveries = await sim.deliveries();
    expect(deliveries.some((d) => d.type === 'payment_intent.succeeded' && d.status === 200)).toBe(
      true,
    );
    await saga.settle();
    expect(saga.of('payment.completed', order.id)).toHaveLength(1);
    expect(saga.of('order.confirmed', order.id)).toHaveLength(1);
    const [completed] = saga.of('payment.completed', order.id);
    expect(completed!.metadata.correlationId).toBe(order.correlationId);
  });

  it('tok_threeDSecure: the order waits for the customer, who completes 3-D Secure at the provider; then CONFIRMED', async () => {
    const productId = await saga.createProduct(5);
    const order = await saga.placeOrder([{ productId, quantity: 1 }], 'tok_threeDSecure');
    // The customer reads the step to take from their payment, through the gateway.
    const nextAction = await eventually(async () => {
      const res = await fetch(`${gw.url}/api/payments/order/${order.id}`, {
        headers: { authorization: bearer(customer) },
      });
      return res.status === 200
        ? ((await res.json()) as { nextAction: { url: string } | null }).nextAction
        : null;
    }, 'next action');
    expect(await saga.orderStatus(order.id)).toBe('PAYMENT_PROCESSING');
    const done = await fetch(nextAction.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ result: 'succeed' }),
    });
    expect(done.status).toBe(200);
    await saga.waitOrder(order.id, 'CONFIRMED');
    await saga.settle();
    expect(saga.of('payment.completed', order.id)).toHaveLength(1);
  });

  it('tok_processingDeclined: payment.failed by webhook, order FAILED, stock back', async () => {
    const productId = await saga.createProduct(5);
    const order = await saga.placeOrder([{ productId, quantity: 2 }], 'tok_processingDeclined');
    await saga.waitOrder(order.id, 'FAILED');
    await eventually(async () => (await saga.stock(productId)).reserved === 0, 'stock released');
    expect(await saga.stock(productId)).toEqual({ available: 5, reserved: 0, sold: 0 });
    expect(saga.of('payment.completed', order.id)).toHaveLength(0);
    expect(saga.of('payment.failed', order.id)[0]!.data).toMatchObject({
      code: 'card_declined',
      retryable: false,
    });
  });
});
