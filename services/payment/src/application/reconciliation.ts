import type { Pool } from 'pg';
import type { Logger } from '@ecom/common/logging';
import { runExclusively } from '@ecom/common/postgres';
import { paymentStore } from '../store/payment-store';
import type { GatewayCalls } from './gateway-calls';
import { chargeClaimOf, cents, type ChargeClaim } from './shared';

/**
 * Finishes claims whose recording never happened (process died after the gateway call, or
 * the database failed): calls the gateway again with the SAME idempotency key (the gateway
 * answers with the first result, so nothing is charged twice) and records the result.
 */
export class Reconciliation {
  constructor(
    private readonly deps: {
      pool: Pool;
      calls: GatewayCalls;
      logger: Logger;
      /**
       * A charge waiting on the customer's action (3-D Secure) this long is cancelled at the
       * provider and declined: the order fails and its stock goes back, or (paid through
       * /initiate) it waits for another card until its reservation runs out
       * (PAYMENT_ACTION_TIMEOUT_MS).
       */
      actionTimeoutMs: number;
    },
  ) {}

  /**
   * One pass over claims still PENDING after `olderThanMs`; how many it finished (0 when
   * another replica's pass is running). One pass at a time across replicas: the claims are
   * read without a lock and each is sent to the gateway outside any transaction, so two
   * replicas' reconcilers would otherwise both call the gateway for every stale claim (the
   * idempotency key kept the money right, but each call was made once per replica).
   */
  async run(olderThanMs: number): Promise<number> {
    const pass = await runExclusively(this.deps.pool, 'payment-reconciler', () =>
      this.pass(olderThanMs),
    );
    return pass.ran ? pass.result : 0;
  }

  private async lookUp(claim: ChargeClaim, intentId: string): Promise<void> {
    try {
      const outcome = await this.deps.calls.lookup(claim, intentId);
      if (outcome.outcome === 'completed') await this.deps.calls.runFollowUp(outcome.next);
    } catch (err) {
      this.deps.logger.error('provider lookup failed; left for the next pass', {
        paymentId: claim.paymentId,
        intentId,
        error: (err as Error).message,
      });
    }
  }

  /**
   * Cancels the charges left waiting on the customer too long, or for an order that has closed
   * meanwhile (its step would charge the card only for the charge to be refunded). Each holds
   * its order's stock, and anyone can leave one waiting (a card that asks for 3-D Secure, never
   * completed), so the wait is bounded as an unpaid order's is. A customer who authenticated just before
   * wins: the provider refuses the cancel and names the intent as it now stands.
   */
  private async expireWaiting(): Promise<number> {
    const { pool, calls, logger, actionTimeoutMs } = this.deps;
    let done = 0;
    for (const a of await paymentStore.waitingAttemptsToCancel(pool, actionTimeoutMs)) {
      const row = await paymentStore.get(pool, a.payment_id);
      if (!row || !a.intent_id) continue;
      const outcome = await calls.cancelWaiting(chargeClaimOf(row, a), a.intent_id);
      // Unreachable: already logged, and the next pass tries again.
      if (outcome.outcome === 'unavailable') continue;
      if (outcome.outcome === 'completed') await calls.runFollowUp(outcome.next);
      logger.warn(
        "a charge waited on the customer's action too long or for a closed order: cancel asked",
        {
          paymentId: row.id,
          orderId: row.order_id,
          intentId: a.intent_id,
          outcome: outcome.outcome,
        },
      );
      done += 1;
    }
    return done;
  }

  private async pass(olderThanMs: number): Promise<number> {
    const { pool, calls } = this.deps;
    let done = await this.expireWaiting();
    for (const a of await paymentStore.stalePendingAttempts(pool, olderThanMs)) {
      const row = await paymentStore.get(pool, a.payment_id);
      // A pending attempt keeps its token until it is settled; without one there is no retry.
      if (!row || a.token === null) continue;
      const claim = chargeClaimOf(row, a);
      if (a.intent_id) {
        // The provider took the charge and its webhook never came: ask where it stands (a
        // retried create would only replay its first, pending, answer).
        await this.lookUp(claim, a.intent_id);
      } else {
        await calls.runFollowUp(claim);
      }
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
