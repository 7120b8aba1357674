import type { Pool } from 'pg';
import { runMigrations } from '@ecom/common/postgres';
import {
  createTestPostgres,
  untilWaitingForLock,
  type TestPostgres,
  testPool,
} from '@ecom/test-support';
import { orderMigrations } from '../src/store/migrations';
import { orderSnapshot } from '../src/store/order-record';
import { orderStore } from '../src/store/order-store';

/**
 * The order's snapshot is what its anchored entries describe: one value read differently (a
 * timestamp rounded instead of truncated, a bigint as a number, a row missed) and every order
 * anchored before would verify TAMPERED. It is read in one statement, the child rows through
 * JSON; here exact rows give exactly the values the per-table reading gave.
 */
describe('orderSnapshot (real PostgreSQL)', () => {
  let db: TestPostgres;
  let pool: Pool;
  const id = '7b0c9a52-9b1e-4f57-8d6c-3f2a1e0b9c11';

  beforeAll(async () => {
    db = await createTestPostgres('order_record');
    pool = testPool(db.url, 3);
    await runMigrations(pool, orderMigrations);
    await pool.query(
      `INSERT INTO orders (id, user_id, status, currency, total_cents, refunded_cents,
         payment_method, payment_id, shipping_address, correlation_id, reservation_expires_at, created_at)
       VALUES ($1, 'user-1', 'PARTIALLY_SHIPPED', 'USD', 9007199254740, 250, 'card', 'pay-1', $2,
         'corr-1', '2026-01-02 03:04:05.678999+00', '2026-01-02 03:00:00.000001+00')`,
      [id, JSON.stringify({ name: 'Zoë', city: 'Zürich', country: 'CH' })],
    );
    await pool.query(
      `INSERT INTO order_items (order_id, line_no, product_id, name, seller_id, quantity,
         unit_price_cents, line_total_cents, fulfilment_status, shipped_at, shipped_by)
       VALUES ($1, 2, 'p-b', 'B "quoted"', NULL, 1, 2500, 2500, NULL, NULL, NULL),
              ($1, 1, 'p-a', 'A', 'seller-a', 3, 1000, 3000, 'SHIPPED',
               '2026-01-03 10:00:00.999999+02', 'seller-a')`,
      [id],
    );
    for (const [from, to, at] of [
      [null, 'PENDING', '2026-01-02 03:00:00.5+00'],
      ['PENDING', 'CONFIRMED', '2026-01-02 03:00:01.0004+00'],
    ] as const) {
      await pool.query(
        `INSERT INTO order_status_history (order_id, from_status, to_status, cause_type, cause_id,
           actor_id, at) VALUES ($1, $2, $3, 'request', 'req-1', 'user-1', $4)`,
        [id, from, to, at],
      );
    }
    await pool.query(
      `INSERT INTO order_refunds (refund_id, order_id, payment_id, amount_cents, currency, at)
       VALUES ('r-1', $1, 'pay-1', 250, 'USD', '2026-01-04 00:00:00.123456+00')`,
      [id],
    );
  });

  /** The history rows of an order, these columns. */
  const history = async (orderId: string, columns: string) =>
    (
      await pool.query(
        `SELECT ${columns} FROM order_status_history WHERE order_id = $1 ORDER BY id`,
        [orderId],
      )
    ).rows;

  /** An order row alone (no lines, no history), for the store's moves and locked reads. */
  const bareOrder = (orderId: string, status: string, currency: string, total: number) =>
    pool.query(
      `INSERT INTO orders (id, user_id, status, currency, total_cents, shipping_address, correlation_id)
       VALUES ($1, 'user-2', $2, $3, $4, '{}', 'corr-2')`,
      [orderId, status, currency, total],
    );

  afterAll(async () => {
    await pool?.end();
    await db?.cleanup();
  });

  it('reads the order, its lines, its history and its refunds as they were always read', async () => {
    const historyIds = (
      await pool.query<{ id: string }>(
        'SELECT id FROM order_status_history WHERE order_id = $1 ORDER BY id',
        [id],
      )
    ).rows.map((r) => r.id);
    const cause = { type: 'request', id: 'req-1', eventType: null, actorId: 'user-1' };
    expect(await orderSnapshot(pool, id)).toEqual({
      state: {
        orderId: id,
        userId: 'user-1',
        status: 'PARTIALLY_SHIPPED',
        currency: 'USD',
        total: 9007199254740,
        refunded: 250,
        items: [
          {
            lineNo: 1,
            productId: 'p-a',
            name: 'A',
            sellerId: 'seller-a',
            quantity: 3,
            unitPrice: 1000,
            lineTotal: 3000,
            fulfilment: {
              status: 'SHIPPED',
              shippedAt: '2026-01-03T08:00:00.999Z', // truncated, as pg's Date is
              shippedBy: 'seller-a',
              deliveredAt: null,
              deliveredBy: null,
            },
          },
          {
            lineNo: 2,
            productId: 'p-b',
            name: 'B "quoted"',
            sellerId: null,
            quantity: 1,
            unitPrice: 2500,
            lineTotal: 2500,
          },
        ],
        shippingAddress: { name: 'Zoë', city: 'Zürich', country: 'CH' },
        paymentMethod: 'card',
        paymentId: 'pay-1',
        failureReason: null,
        reservationExpiresAt: '2026-01-02T03:04:05.678Z',
        createdAt: '2026-01-02T03:00:00.000Z',
      },
      rows: {
        [`history:${historyIds[0]}`]: {
          kind: 'status',
          from: null,
          to: 'PENDING',
          at: '2026-01-02T03:00:00.500Z',
          reason: null,
          cause,
          paymentId: null,
        },
        [`history:${historyIds[1]}`]: {
          kind: 'status',
          from: 'PENDING',
          to: 'CONFIRMED',
          at: '2026-01-02T03:00:01.000Z',
          reason: null,
          cause,
          paymentId: null,
        },
        'refund:r-1': {
          kind: 'refund',
          refundId: 'r-1',
          paymentId: 'pay-1',
          amount: 250,
          currency: 'USD',
          at: '2026-01-04T00:00:00.123Z',
        },
      },
    });
    expect(await orderSnapshot(pool, '00000000-0000-4000-8000-000000000000')).toBeNull();
  });

  it('reads an order alike with its row locked or not (lines in order, timestamps truncated)', async () => {
    const plain = await orderStore.get(pool, id);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      expect(await orderStore.get(client, id, { forUpdate: true })).toEqual(plain);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    expect(plain!.items.map((i) => [i.lineNo, i.shippedAt, i.unitPrice.amount])).toEqual([
      [1, '2026-01-03T08:00:00.999Z', 1000],
      [2, null, 2500],
    ]);
  });

  it('reads a locked order in one statement, and its lines as the lock holder left them when it waited for the lock', async () => {
    const order = '3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f';
    await bareOrder(order, 'CONFIRMED', 'USD', 3000);
    await pool.query(
      `INSERT INTO order_items (order_id, line_no, product_id, name, seller_id, quantity,
         unit_price_cents, line_total_cents)
       VALUES ($1, 1, 'p-a', 'A', 'seller-a', 1, 1000, 1000), ($1, 2, 'p-b', 'B', 'seller-b', 1, 2000, 2000)`,
      [order],
    );
    const holder = await pool.connect();
    const reader = await pool.connect();
    const readerPid = (await reader.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))
      .rows[0]!.pid;
    /** Holds the order's lock, ships `lineNo`, and commits once `read` waits for the lock. */
    const whileHolderShips = async <T>(lineNo: number, read: () => Promise<T>): Promise<T> => {
      await holder.query('BEGIN');
      await orderStore.get(holder, order, { forUpdate: true });
      await orderStore.setLineFulfilment(holder, order, [lineNo], 'SHIPPED', 'seller-x');
      await reader.query('BEGIN');
      const reading = read();
      await untilWaitingForLock(pool, readerPid);
      await holder.query('COMMIT');
      const result = await reading;
      await reader.query('ROLLBACK');
      return result;
    };
    try {
      // Uncontended: one statement.
      await reader.query('BEGIN');
      const queries = jest.spyOn(reader, 'query');
      const alone = await orderStore.get(reader, order, { forUpdate: true });
      expect(queries).toHaveBeenCalledTimes(1);
      queries.mockRestore();
      await reader.query('ROLLBACK');
      expect(alone!.items.map((i) => i.fulfilmentStatus)).toEqual(['UNFULFILLED', 'UNFULFILLED']);

      const locked = await whileHolderShips(1, () =>
        orderStore.get(reader, order, { forUpdate: true }),
      );
      expect(locked!.items.map((i) => i.fulfilmentStatus)).toEqual(['SHIPPED', 'UNFULFILLED']);

      const moved = await whileHolderShips(2, () =>
        orderStore.transition(reader, {
          orderId: order,
          transition: 'shipPart',
          cause: { type: 'request', requestId: 'req-4', userId: 'seller-x' },
        }),
      );
      expect(moved).toMatchObject({ applied: true, order: { status: 'PARTIALLY_SHIPPED' } });
      if (moved.applied)
        expect(moved.order.items.map((i) => i.fulfilmentStatus)).toEqual(['SHIPPED', 'SHIPPED']);
    } finally {
      holder.release();
      reader.release();
    }
  });

  it('moves an order in one statement (update, history row, the order as moved); a refused move is one statement naming the status, and writes nothing', async () => {
    const other = '0d7f3a8e-1c2b-4e5f-9a6b-7c8d9e0f1a2b';
    await bareOrder(other, 'PENDING', 'EUR', 500);
    const client = await pool.connect();
    let historyId: string | undefined;
    try {
      await client.query('BEGIN');
      const queries = jest.spyOn(client, 'query');
      const moved = await orderStore.transition(client, {
        orderId: other,
        transition: 'reservedAwaitingPayment',
        cause: { type: 'event', eventId: 'ev-1', eventType: 'inventory.reserved' },
        set: { reservationTtlMs: 60_000 },
      });
      expect(queries).toHaveBeenCalledTimes(1);
      queries.mockRestore();
      expect(moved).toMatchObject({
        applied: true,
        from: 'PENDING',
        order: { id: other, status: 'AWAITING_PAYMENT' },
      });
      // What the move answers is what a read after it gives.
      if (moved.applied) expect(moved.order).toEqual(await orderStore.get(client, other));
      if (moved.applied) historyId = moved.historyId;
      const refusing = jest.spyOn(client, 'query');
      const refused = await orderStore.transition(client, {
        orderId: other,
        transition: 'reservedAwaitingPayment',
        cause: { type: 'event', eventId: 'ev-2', eventType: 'inventory.reserved' },
      });
      // The status that stopped it comes back from the same statement.
      expect(refusing).toHaveBeenCalledTimes(1);
      refusing.mockRestore();
      expect(refused).toEqual({ applied: false, current: 'AWAITING_PAYMENT', settledAttempt: 0 });
      const missing = await orderStore.transition(client, {
        orderId: '5a5a5a5a-0000-4000-8000-000000000000',
        transition: 'reservedAwaitingPayment',
        cause: { type: 'event', eventId: 'ev-3', eventType: 'inventory.reserved' },
      });
      expect(missing).toEqual({ applied: false, current: null });
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    expect(
      await history(
        other,
        'id::text, from_status, to_status, cause_type, cause_id, cause_event_type',
      ),
    ).toEqual([
      {
        id: historyId,
        from_status: 'PENDING',
        to_status: 'AWAITING_PAYMENT',
        cause_type: 'event',
        cause_id: 'ev-1',
        cause_event_type: 'inventory.reserved',
      },
    ]);
  });

  it('places an order in one statement (order, lines, first history row) and answers what get reads', async () => {
    const placed = '3e9a1c7b-5d2f-4a8e-b6c0-9f1e2d3c4b5a';
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const queries = jest.spyOn(client, 'query');
      const created = await orderStore.insert(
        client,
        {
          id: placed,
          userId: 'user-3',
          priced: {
            currency: 'USD',
            totalCents: 9007199254740,
            lines: [
              {
                lineNo: 1,
                productId: "p-'x'",
                name: 'Zoë\'s "best" \\ mug',
                sellerId: null,
                quantity: 2,
                unitPriceCents: 4503599627370,
                lineTotalCents: 9007199254740,
              },
              {
                lineNo: 2,
                productId: 'p-y',
                name: 'Y',
                sellerId: 'seller-y',
                quantity: 1,
                unitPriceCents: 0,
                lineTotalCents: 0,
              },
            ],
          },
          paymentMethod: 'card',
          shippingAddress: { name: 'Zoë', line1: '1 Main St', city: 'Zürich', country: 'CH' },
          correlationId: 'corr-3',
        },
        { type: 'request', requestId: 'req-3', userId: 'user-3' },
      );
      expect(queries).toHaveBeenCalledTimes(1);
      queries.mockRestore();
      expect(created).toEqual(await orderStore.get(client, placed));
      expect(created).toMatchObject({
        status: 'PENDING',
        total: { amount: 9007199254740, currency: 'USD' },
        items: [
          { lineNo: 1, productId: "p-'x'", name: 'Zoë\'s "best" \\ mug', sellerId: null },
          { lineNo: 2, productId: 'p-y', sellerId: 'seller-y', unitPrice: { amount: 0 } },
        ],
      });
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    expect(
      await history(
        placed,
        'from_status, to_status, cause_type, cause_id, cause_event_type, actor_id, reason',
      ),
    ).toEqual([
      {
        from_status: null,
        to_status: 'PENDING',
        cause_type: 'request',
        cause_id: 'req-3',
        cause_event_type: null,
        actor_id: 'user-3',
        reason: null,
      },
    ]);
  });
});
