import type { Pool } from 'pg';
import { testPool } from '@ecom/test-support';
import request from 'supertest';
import { startEmbeddedChain, type EmbeddedChain } from '@ecom/blockchain/src/embedded-chain';
import { describeIfServer } from '@ecom/infrastructure/testing';
import {
  InMemoryMockGatewayLedger,
  MockPaymentGateway,
  type ChargeRequest,
  type ChargeResult,
} from '@ecom/payment-service';
import { Saga, address, bearer, customer, eventually } from '../saga/harness';
import { killReplica } from './kill';

/** One replica's adapter to the provider (one ledger for all): may hold the next charge. */
class HoldingGateway extends MockPaymentGateway {
  hold = false;
  readonly held: Array<(err: Error) => void> = [];
  override charge(request: ChargeRequest): Promise<ChargeResult> {
    if (!this.hold) return super.charge(request);
    this.hold = false;
    // Never reaches the provider: the replica dies while waiting for its answer.
    return new Promise((_resolve, reject) => this.held.push(reject));
  }
}

/**
 * A replica dies (sessions terminated, AMQP socket dropped unacknowledged, timers stopped)
 * while it holds a charge in flight or the anchoring writer lock: the survivor finishes the
 * work, nothing is lost and nothing happens twice.
 */
describeIfServer('amqp', 'a replica dies with work in hand', (url) => {
  const ledger = new InMemoryMockGatewayLedger();
  const gateways = [new HoldingGateway({ ledger }), new HoldingGateway({ ledger })];
  let chain: EmbeddedChain;
  let saga: Saga;
  let admin: Pool;

  beforeAll(async () => {
    chain = await startEmbeddedChain({ port: 0, anchorers: 1 });
    saga = await new Saga({
      kind: 'rabbitmq',
      url,
      label: 'replicas_death',
      replicas: 2,
      captureLogs: false,
      gateway: new MockPaymentGateway({ ledger }),
      replicaGateway: (i) => gateways[i],
      env: {
        // Both order replicas anchor with one key: one writer at a time.
        order: {
          BLOCKCHAIN_RPC_URL: chain.url,
          ANCHOR_CONTRACT_ADDRESS: chain.contractAddress,
          ANCHOR_PRIVATE_KEY: chain.anchorerKeys[0],
          ANCHOR_WINDOW_MS: '30',
        },
        // A charge left unrecorded is finished by a survivor's reconciler a second later.
        payment: { RECONCILE_INTERVAL_MS: '200', RECONCILE_AFTER_MS: '1000' },
      },
    }).start();
    admin = testPool(saga.orderDbUrl, 1);
  }, 90000);

  afterAll(async () => {
    // The dead replica's blocked handler may end now (its bus and pool are gone).
    for (const g of gateways) for (const reject of g.held) reject(new Error('process gone'));
    await admin?.end();
    await saga?.close();
    await chain?.stop();
  });

  test('a payment replica killed while its charge is in flight: the survivor charges once', async () => {
    const productId = await saga.createProduct(100, 5);
    for (const g of gateways) g.hold = true;
    const { id: orderId } = await saga.placeOrder([{ productId, quantity: 1 }], 'tok_visa');
    const dead = await eventually(() => {
      const i = gateways.findIndex((g) => g.held.length > 0);
      return i >= 0 ? i : undefined;
    }, 'a charge held by one replica');
    const survivor = 1 - dead;
    gateways[survivor].hold = false;

    const victim = saga.payments[dead];
    const paymentAdmin = testPool(saga.paymentDbUrl, 1);
    try {
      await killReplica(
        {
          pool: victim.pool,
          bus: saga.busOf(Saga.replicaName('payment', dead)),
          timers: [victim.relay, victim.reconciler],
        },
        paymentAdmin,
      );
    } finally {
      await paymentAdmin.end();
    }

    await saga.waitOrder(orderId, 'CONFIRMED');
    await saga.settle(500);
    // The provider saw one charge for the order (the dead replica's never reached it).
    expect(await saga.gateway.chargesMade({ keyPrefix: `${orderId}:` })).toBe(1);
    expect(gateways[survivor].callsFor(`${orderId}:1`)).toBe(1);
    expect(gateways[dead].calls).toHaveLength(0);
    expect(new Set(saga.of('payment.completed', orderId).map((e) => e.eventId)).size).toBe(1);
    expect(saga.of('order.confirmed', orderId)).toHaveLength(1);
    expect(await saga.stock(productId)).toMatchObject({ available: 99, reserved: 0, sold: 1 });
  }, 90000);

  test('the order replica holding the anchoring writer lock is killed: the survivor takes over and anchors everything once', async () => {
    const productId = await saga.createProduct(100, 6);
    const writers = () => saga.orders.map((o) => o.anchoring!.status().writer);
    await eventually(
      () => writers().filter(Boolean).length === 1 && writers().some((w) => !w),
      'one writer and one standby',
    );
    const dead = writers().indexOf(true);
    const survivor = 1 - dead;

    const statusOf = async (id: string) =>
      (await admin.query('SELECT status FROM orders WHERE id = $1', [id])).rows[0]?.status;
    const placeOn = async (replica: number) => {
      const res = await request(saga.orders[replica].app)
        .post('/api/orders')
        .set('Authorization', bearer(customer))
        .send({
          items: [{ productId, quantity: 1 }],
          shippingAddress: address,
          payment: { method: 'card', token: 'tok_visa' },
        });
      expect(res.status).toBe(201);
      const id = res.body.id as string;
      await eventually(async () => (await statusOf(id)) === 'CONFIRMED', 'order confirmed');
      return id;
    };
    const anchoredAll = async () => {
      const { rows } = await admin.query(
        `SELECT
           (SELECT count(*) FROM anchor_records WHERE batch_id IS NULL) AS queued,
           (SELECT count(*) FROM anchor_batches WHERE status <> 'confirmed') AS open`,
      );
      return Number(rows[0].queued) === 0 && Number(rows[0].open) === 0;
    };
    const before = [await placeOn(0), await placeOn(1)];
    await eventually(anchoredAll, 'entries anchored by the first writer');
    expect(before).toHaveLength(2);

    const victim = saga.orders[dead];
    await killReplica(
      {
        pool: victim.pool,
        bus: saga.busOf(Saga.replicaName('order', dead)),
        timers: [victim.relay, victim.sweeper],
      },
      admin,
    );
    // The lock died with the session: the standby's next pass takes it.
    await eventually(() => saga.orders[survivor].anchoring!.status().writer, 'survivor writes');
    // Its own loop stopped last (a dead process's timers do not tick).
    await victim.anchoring!.stop().catch(() => undefined);

    const after = await placeOn(survivor);
    await eventually(anchoredAll, 'every entry anchored after the takeover');

    // Each entry in exactly one confirmed batch, the batches one chain on the contract.
    const { rows } = await admin.query(
      `SELECT b.status, count(r.id) AS n FROM anchor_batches b
         LEFT JOIN anchor_records r ON r.batch_id = b.id GROUP BY b.id, b.status`,
    );
    expect(rows.every((r) => r.status === 'confirmed' && Number(r.n) > 0)).toBe(true);
    for (const id of [...before, after]) {
      const verdict = await saga.orders[survivor].anchoring!.recordsFor('order', id);
      expect({ id, status: verdict.status }).toEqual({ id, status: 'VERIFIED' });
    }
  }, 120000);
});
