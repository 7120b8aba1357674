import type { Pool } from 'pg';
import type { Logger } from '@ecom/common/logging';
import { paymentStore } from '../store/payment-store';
import type { GatewayCalls } from './gateway-calls';
import { cents, currencyOf } from './shared';

/**
 * Finishes claims whose recording never happened (process died after the gateway call, or
 * the database failed): calls the gateway again with the SAME idempotency key (the gateway
 * answers with the first result, so nothing is charged twice) and records the result.
 */
export class Reconciliation {
  constructor(private readonly deps: { pool: Pool; calls: GatewayCalls; logger: Logger }) {}

  /** One pass over claims still PENDING after `olderThanMs`; how many it finished. */
  async run(olderThanMs: number): Promise<number> {
    const { pool, calls } = this.deps;
    let done = 0;
    for (const a of await paymentStore.stalePendingAttempts(pool, olderThanMs)) {
      const row = await paymentStore.get(pool, a.payment_id);
      // A pending attempt keeps its token until it is settled; without one there is no retry.
      if (!row || a.token === null) continue;
      await calls.runFollowUp({
        kind: 'charge',
        paymentId: row.id,
        orderId: row.order_id,
        attempt: a.attempt,
        idempotencyKey: a.idempotency_key,
        amount: cents(row.amount_cents),
        currency: currencyOf(row),
        method: a.method,
        token: a.token,
        source: a.source,
      });
      done += 1;
    }
    for (const r of await paymentStore.stalePendingRefunds(pool, olderThanMs)) {
      const row = await paymentStore.get(pool, r.payment_id);
      if (!row) continue;
      await calls.runFollowUp({
        kind: 'refund',
        refundId: r.id,
        paymentId: row.id,
        orderId: row.order_id,
        chargeId: row.charge_id ?? '',
        idempotencyKey: r.idempotency_key,
        amount: cents(r.amount_cents),
        currency: r.currency.trim(),
      });
      done += 1;
    }
    if (done > 0) this.deps.logger.warn('reconciled stale payment claims', { count: done });
    return done;
  }
}
