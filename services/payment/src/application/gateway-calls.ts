import type { Pool, PoolClient } from 'pg';
import type { AnchorPromise, AnchorSink } from '@ecom/common/anchoring';
import type { Logger } from '@ecom/common/logging';
import { sendOn, withTransaction, type SendStatement } from '@ecom/common/postgres';
import { declineIsRetryable, statusAfterDecline, statusAfterRefund } from '../domain/payment-rules';
import { publishPaymentEvent } from '../events/publisher';
import type {
  ChargeAnswer,
  ChargePending,
  ChargeResult,
  NextAction,
  PaymentGateway,
} from '../gateway/gateway';
import { paymentStore } from '../store/payment-store';
import type { PaymentClaims } from './claims';
import {
  anchorPayment,
  cents,
  paymentWrites,
  type ChargeClaim,
  type FollowUp,
  type RefundClaim,
} from './shared';

/** The promise signed for the entry the outcome wrote (null: none written, anchoring off). */
type Signed = { anchorPromise: AnchorPromise | null };

export type ChargeOutcome =
  | ({ outcome: 'completed'; next: FollowUp | null } & Signed)
  | ({ outcome: 'declined'; code: string; reason: string; retryable: boolean } & Signed)
  | { outcome: 'unavailable'; error: string }
  | { outcome: 'superseded' }
  /** An asynchronous provider has not decided yet: a webhook (or the reconciler) will. */
  | {
      outcome: 'pending';
      intentId: string;
      status: ChargePending['status'];
      nextAction: NextAction | null;
    };

export type RefundOutcome =
  | ({ outcome: 'refunded'; refundId: string } & Signed)
  | ({ outcome: 'refused'; code: string; reason: string } & Signed)
  | { outcome: 'unavailable'; error: string }
  | { outcome: 'superseded' };

export interface GatewayCallsDeps {
  pool: Pool;
  gateway: PaymentGateway;
  claims: PaymentClaims;
  anchor: AnchorSink;
  logger: Logger;
  /** Counts a refund the provider refused (its books and ours differ). */
  refundRefused?: () => void;
}

/**
 * Steps 2 and 3 of moving money: a claimed charge or refund sent to the gateway (outside any
 * transaction, with the claim's idempotency key), then its result recorded in a transaction
 * guarded by "still PENDING", with its event and anchored entries.
 */
export class GatewayCalls {
  constructor(private readonly deps: GatewayCallsDeps) {}

  /** Runs a claimed charge or refund and whatever follows it (a charge of a cancelled order → refund). */
  async runFollowUp(first: FollowUp | null): Promise<void> {
    let next: FollowUp | null = first;
    while (next) {
      const current: FollowUp = next;
      next = null;
      try {
        if (current.kind === 'charge') {
          const result = await this.charge(current);
          if (result.outcome === 'completed') next = result.next;
        } else {
          await this.refund(current);
        }
      } catch (err) {
        // Recording failed (database down): the claim stays PENDING for the reconciler.
        this.deps.logger.error('payment follow-up failed; left for the reconciler', {
          kind: current.kind,
          paymentId: current.paymentId,
          error: (err as Error).message,
        });
      }
    }
  }

  charge(claim: ChargeClaim): Promise<ChargeOutcome> {
    return this.askProvider(claim, () =>
      this.deps.gateway.charge({
        idempotencyKey: claim.idempotencyKey,
        amount: claim.amount,
        currency: claim.currency,
        method: claim.method,
        token: claim.token,
      }),
    );
  }

  /**
   * Asks an asynchronous provider where a pending charge stands (its webhook never came) and
   * records a final answer as the call's would be.
   */
  lookup(claim: ChargeClaim, intentId: string): Promise<ChargeOutcome> {
    const { lookupCharge } = this.deps.gateway;
    if (!lookupCharge) return Promise.resolve({ outcome: 'superseded' });
    return this.askProvider(claim, () => lookupCharge.call(this.deps.gateway, intentId), 'now');
  }

  /**
   * Cancels a charge left waiting on the customer's action too long, and records where it then
   * stands: the decline of a cancelled intent, or what the customer's late action made of it.
   */
  cancelWaiting(claim: ChargeClaim, intentId: string): Promise<ChargeOutcome> {
    const { cancelCharge } = this.deps.gateway;
    if (!cancelCharge) return Promise.resolve({ outcome: 'superseded' });
    return this.askProvider(claim, () => cancelCharge.call(this.deps.gateway, intentId), 'now');
  }

  /** A gateway's answer about a charge, recorded: pending kept on the attempt, final settled. */
  private async askProvider(
    claim: ChargeClaim,
    ask: () => Promise<ChargeAnswer>,
    /**
     * How a pending answer ranks against webhooks: a charge call's is older than any webhook
     * about its intent, so it never overrides one; a lookup's or cancel's tells how the intent
     * stands now.
     */
    answered: 'first' | 'now' = 'first',
  ): Promise<ChargeOutcome> {
    const result = await this.reach(claim, ask);
    if ('unreachable' in result) return { outcome: 'unavailable', error: result.unreachable };
    if (result.ok === 'pending') {
      return this.recordPending(
        claim,
        result,
        answered === 'now' ? Math.floor(Date.now() / 1000) : 0,
      );
    }
    return this.recording(claim.paymentId, (client, send) =>
      this.settleCharge(client, claim, result, send),
    );
  }

  /** The intent a pending answer named, kept on the attempt (which stays PENDING). */
  private async recordPending(
    claim: ChargeClaim,
    pending: ChargePending,
    at: number,
  ): Promise<ChargeOutcome> {
    await withTransaction(this.deps.pool, (client) =>
      paymentStore.recordPendingAttempt(client, claim.paymentId, claim.attempt, {
        intentId: pending.intentId,
        status: pending.status,
        nextActionUrl: pending.nextAction?.url ?? null,
        at,
      }),
    );
    this.deps.logger.info('payment pending at the provider', {
      paymentId: claim.paymentId,
      orderId: claim.orderId,
      intentId: pending.intentId,
      status: pending.status,
    });
    return {
      outcome: 'pending',
      intentId: pending.intentId,
      status: pending.status,
      nextAction: pending.nextAction,
    };
  }

  /**
   * Step 3 of a charge, in the caller's transaction: the final result of a claimed attempt
   * recorded (COMPLETED + payment.completed, or the decline + payment.failed), once: an attempt
   * no longer PENDING (another recorder won: the call's answer, a webhook, the reconciler) is
   * `superseded`. The caller anchors the payment afterwards; `send` sends the payment's writes
   * (paymentWrites', so that needs no round trip of its own).
   */
  async settleCharge(
    client: PoolClient,
    claim: ChargeClaim,
    result: ChargeResult,
    send: SendStatement = sendOn(client),
  ): Promise<ChargeOutcome> {
    // A success moves the payment in the statement that settles its attempt (one round trip
    // on the saga's path); a decline's status depends on the row, so it follows (below).
    const locked = await paymentStore.lockAndSettleAttempt(
      client,
      claim.paymentId,
      claim.attempt,
      result,
      result.ok ? { status: 'COMPLETED', charge_id: result.chargeId, token: null } : undefined,
      send,
    );
    if (!locked?.settled) return { outcome: 'superseded' };
    const { row } = locked;
    if (result.ok ? !locked.moved : row.status !== 'PROCESSING' || row.attempts !== claim.attempt) {
      return { outcome: 'superseded' };
    }
    const amount = { amount: claim.amount, currency: claim.currency };
    if (result.ok) {
      const updated = row;
      await publishPaymentEvent(client, updated, 'payment.completed', {
        paymentId: row.id,
        orderId: row.order_id,
        amount,
      });
      this.deps.logger.info('payment completed', { paymentId: row.id, orderId: row.order_id });
      return {
        outcome: 'completed',
        next: await this.deps.claims.advance(client, updated, {}, send),
        anchorPromise: null,
      };
    }
    const retryable = declineIsRetryable(claim.source);
    const updated = await paymentStore.update(
      client,
      row.id,
      {
        status: statusAfterDecline(claim.source, row.order_closed),
        failure_code: result.code,
        failure_reason: result.reason,
        token: null,
      },
      send,
    );
    await publishPaymentEvent(client, updated, 'payment.failed', {
      paymentId: row.id,
      orderId: row.order_id,
      reason: result.reason,
      code: result.code,
      retryable,
      attempt: claim.attempt,
    });
    this.deps.logger.info('payment declined', {
      paymentId: row.id,
      orderId: row.order_id,
      code: result.code,
      retryable,
    });
    return {
      outcome: 'declined',
      code: result.code,
      reason: result.reason,
      retryable,
      anchorPromise: null,
    };
  }

  async refund(claim: RefundClaim): Promise<RefundOutcome> {
    const result = await this.reach(claim, () =>
      this.deps.gateway.refund({
        idempotencyKey: claim.idempotencyKey,
        chargeId: claim.chargeId,
        amount: claim.amount,
        currency: claim.currency,
      }),
    );
    if ('unreachable' in result) return { outcome: 'unavailable', error: result.unreachable };
    return this.recording(claim.paymentId, async (client, send): Promise<RefundOutcome> => {
      const row = await paymentStore.lockById(client, claim.paymentId);
      const refund = await paymentStore.settleRefund(client, claim.refundId, result);
      if (!row || !refund) return { outcome: 'superseded' };
      if (!result.ok) {
        // Give the reserved amount back: the money did not move.
        await paymentStore.update(
          client,
          row.id,
          { refunded_cents: cents(row.refunded_cents) - claim.amount },
          send,
        );
        // The provider's books and ours differ (a refund made at its dashboard, a dispute): what
        // it still holds is not refunded again by itself (the PaymentRefundRefused alert).
        this.deps.logger.error('refund refused by the gateway', {
          refundId: claim.refundId,
          paymentId: row.id,
          orderId: row.order_id,
          code: result.code,
        });
        this.deps.refundRefused?.();
        return {
          outcome: 'refused',
          code: result.code,
          reason: result.reason,
          anchorPromise: null,
        };
      }
      const amountCents = cents(row.amount_cents);
      const refundedCents = cents(row.refunded_cents);
      const updated = await paymentStore.update(
        client,
        row.id,
        { status: statusAfterRefund(amountCents, refundedCents) },
        send,
      );
      await publishPaymentEvent(client, updated, 'payment.refunded', {
        paymentId: row.id,
        orderId: row.order_id,
        refundId: claim.refundId,
        amount: { amount: claim.amount, currency: claim.currency },
        fullyRefunded: refundedCents >= amountCents,
        ...(row.user_id ? { userId: row.user_id } : {}),
      });
      return { outcome: 'refunded', refundId: claim.refundId, anchorPromise: null };
    });
  }

  /**
   * The gateway's answer, or why it could not be reached: the claim then stays PENDING, for
   * the caller to report and the reconciler to finish.
   */
  private async reach<T>(
    claim: FollowUp,
    call: () => Promise<T>,
  ): Promise<T | { unreachable: string }> {
    try {
      return await call();
    } catch (err) {
      const error = (err as Error).message;
      this.deps.logger.error(`payment gateway unreachable; ${claim.kind} left pending`, {
        paymentId: claim.paymentId,
        idempotencyKey: claim.idempotencyKey,
        ...(claim.kind === 'refund' ? { refundId: claim.refundId } : {}),
        error,
      });
      return { unreachable: error };
    }
  }

  /**
   * Records an outcome in one transaction that ends by anchoring what it changed (the attempt
   * or refund settled, even a superseded one), its promise put on the outcome. `record` sends
   * the payment's writes with `send`, so the anchoring's reads travel with the last one.
   */
  private recording<T extends { outcome: string }>(
    paymentId: string,
    record: (client: PoolClient, send: SendStatement) => Promise<T>,
  ): Promise<T> {
    return withTransaction(this.deps.pool, async (client) => {
      const write = paymentWrites(this.deps.anchor, client, paymentId);
      const outcome = await record(client, write.send);
      const anchorPromise = await anchorPayment(this.deps.anchor, client, paymentId, write.reads());
      return 'anchorPromise' in outcome ? { ...outcome, anchorPromise } : outcome;
    });
  }
}
