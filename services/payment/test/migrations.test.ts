import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Pool } from 'pg';
import { InMemoryEventBus } from '@ecom/common/bus';
import { requestFingerprint } from '@ecom/common/http';
import { httpIdempotencyMigration, runMigrations } from '@ecom/common/postgres';
import { bearer, createTestPostgres, type TestPostgres, testPool } from '@ecom/test-support';
import { paymentService, type RunningPaymentService } from '../src/service';
import { paymentMigrations } from '../src/store/migrations';
import { STARTUP_TIMEOUT_MS, testConfig } from './support';

const alice = { id: 'user-alice', role: 'customer' as const };

describe('payment_db migrations', () => {
  let db: TestPostgres;
  let pool: Pool;
  let service: RunningPaymentService | undefined;
  const bus = new InMemoryEventBus();

  beforeAll(async () => {
    db = await createTestPostgres('payment_migrations');
    pool = testPool(db.url, 2);
  }, STARTUP_TIMEOUT_MS);
  afterAll(async () => {
    await service?.stop();
    await bus.close();
    await pool?.end();
    await db?.cleanup();
  });

  it('carries Idempotency-Key records over to http_idempotency, so an old key still replays', async () => {
    // payment_db as it was before the move: its own idempotency_keys table.
    const shipped = paymentMigrations.filter(
      (m) => m.id !== httpIdempotencyMigration.id && m.id < '003',
    );
    await runMigrations(pool, shipped);
    const paymentId = randomUUID();
    const orderId = randomUUID();
    const body = { orderId, payment: { method: 'card', token: 'tok_visa' } };
    const answer = { id: paymentId, orderId, status: 'COMPLETED' };
    await pool.query(
      "INSERT INTO payments (id, order_id, user_id, order_known, status) VALUES ($1, $2, $3, true, 'COMPLETED')",
      [paymentId, orderId, alice.id],
    );
    await pool.query(
      `INSERT INTO idempotency_keys (scope, user_id, key, fingerprint, payment_id, response_status,
         response_body, created_at)
       VALUES ('initiate', $1, 'pay-1', $2, $3, 201, $4, '2024-01-02T03:04:05Z'),
              ('refund', $1, 'refund-1', $5, $3, NULL, NULL, now())`,
      [
        alice.id,
        requestFingerprint(body),
        paymentId,
        JSON.stringify(answer),
        requestFingerprint({ paymentId }),
      ],
    );

    expect(await runMigrations(pool, paymentMigrations)).toEqual([
      '000_http_idempotency',
      '003_common_idempotency',
      '004_payments_newest_first',
      '005_mock_gateway',
      '006_attempt_tokens_erased',
      '007_provider_intents',
    ]);
    const { rows } = await pool.query(
      `SELECT scope, user_id, key, resource_id, response_status, response_body, created_at
         FROM http_idempotency ORDER BY scope`,
    );
    expect(rows).toEqual([
      {
        scope: 'initiate',
        user_id: alice.id,
        key: 'pay-1',
        resource_id: paymentId,
        response_status: 201,
        response_body: answer,
        created_at: new Date('2024-01-02T03:04:05Z'),
      },
      expect.objectContaining({ scope: 'refund', key: 'refund-1', response_status: null }),
    ]);
    expect((await pool.query("SELECT to_regclass('idempotency_keys') AS t")).rows[0].t).toBeNull();

    service = await paymentService.start({
      config: testConfig(db.url),
      bus,
    });
    const replay = await request(service.app)
      .post('/api/payments/initiate')
      .set('Authorization', bearer(alice))
      .set('Idempotency-Key', 'pay-1')
      .send(body);
    expect(replay.status).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.headers.location).toBe(`/api/payments/${paymentId}`);
    expect(replay.body).toEqual(answer);
    // The refund that never got its answer is still in progress for its key.
    const inProgress = await request(service.app)
      .post(`/api/payments/${paymentId}/refund`)
      .set('Authorization', bearer({ id: alice.id, role: 'admin' }))
      .set('Idempotency-Key', 'refund-1')
      .send({});
    expect(inProgress.status).toBe(409);
    expect(inProgress.body.error.details).toEqual({ resourceId: paymentId });
  });
});
