import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'pg';
import type { AnchorSink } from '@ecom/common/anchoring';
import type { AuthUser } from '@ecom/common/auth';
import {
  BusinessRuleError,
  ConflictError,
  DependencyUnavailableError,
  NotFoundError,
  errorBody,
} from '@ecom/common/errors';
import { listedUserId, page, type Page, type PageQuery } from '@ecom/common/http';
import {
  withTransaction,
  type IdempotencyStore,
  type IdempotentResult,
} from '@ecom/common/postgres';
import { awaitsSagaEvents, declineIsRetryable, notPayableReason } from '../domain/payment-rules';
import { paymentStore, type PaymentRow } from '../store/payment-store';
import type { PaymentClaims } from './claims';
import type { GatewayCalls } from './gateway-calls';
import { anchorPayment, paymentWrites, type ChargeClaim } from './shared';
import { paymentView, type PaymentView } from './views';

export interface InitiateInput {
  orderId: string;
  payment: { method: string; token: string };
}

export interface RefundInput {
  amount?: number;
  reason?: string;
}

export type PaymentListQuery = PageQuery & { userId?: string };

export interface PaymentsDeps {
  pool: Pool;
  anchor: AnchorSink;
  idempotency: IdempotencyStore;
  claims: PaymentClaims;
  calls: GatewayCalls;
  /** How long initiate waits for payment to learn of an order's creation and reservation. */
  catchUpMs: number;
}

/** The first and the longest pause between two looks while initiate waits for the saga. */
const CATCH_UP_FIRST_PAUSE_MS = 10;
const CATCH_UP_MAX_PAUSE_MS = 200;

const isAdmin = (user: AuthUser) => user.role === 'admin';

const gatewayUnavailable = (details: Record<string, string>) =>
  new DependencyUnavailableError('payment-gateway', 'The payment gateway is unavailable', details);

/**
 * The payment use cases behind the HTTP API. Initiate and refund run at most once per
 * Idempotency-Key (scopes 'initiate' and 'refund'); their first answer, a decline included,
 * is replayed.
 */
export class Payments {
  constructor(private readonly deps: PaymentsDeps) {}

  /**
   * Pays an order placed without payment details (owner only, order reserved): 201 with the
   * payment, or 402 PAYMENT_DECLINED (the customer may try another card).
   */
  async initiate(user: AuthUser, input: InitiateInput, key?: string): Promise<IdempotentResult> {
    await this.untilSagaCaughtUp(user.id, input.orderId);
    return this.deps.idempotency.run(
      { scope: 'initiate', userId: user.id, key, body: input },
      async (claimKey) => {
        const claim = await withTransaction(this.deps.pool, async (client) => {
          const row = await paymentStore.lockByOrderIfExists(client, input.orderId);
          if (!row || !row.order_known || row.user_id !== user.id) {
            throw new NotFoundError(`No payment is due for order ${input.orderId}`);
          }
          if (row.status !== 'AWAITING_PAYMENT' || row.order_closed) {
            throw new ConflictError(notPayableReason(row.status), { status: row.status });
          }
          await claimKey(client, row.id);
          const write = paymentWrites(this.deps.anchor, client, row.id);
          const charge = await this.deps.claims.charge(
            client,
            row,
            'initiate',
            input.payment.method,
            input.payment.token,
            {},
            write.send,
          );
          await anchorPayment(this.deps.anchor, client, row.id, write.reads());
          return charge;
        });
        const outcome = await this.deps.calls.charge(claim);
        if (outcome.outcome === 'unavailable') {
          throw gatewayUnavailable({ paymentId: claim.paymentId });
        }
        if (outcome.outcome === 'completed') await this.deps.calls.runFollowUp(outcome.next);
        // A provider's webhook may have recorded the decline before the call returned.
        const declined = outcome.outcome === 'superseded' ? await this.declineOf(claim) : outcome;
        if (declined?.outcome === 'declined') {
          return {
            status: 402,
            body: errorBody('PAYMENT_DECLINED', declined.reason, {
              paymentId: claim.paymentId,
              code: declined.code,
              retryable: declined.retryable,
              // The decline is anchored too: the promise of its entry.
              anchorPromise: declined.anchorPromise,
            }),
          };
        }
        const anchorPromise = outcome.outcome === 'completed' ? outcome.anchorPromise : null;
        return { status: 201, body: { ...(await this.view(claim.paymentId)), anchorPromise } };
      },
    );
  }

  /**
   * Waits, at most catchUpMs, until payment has handled the order's creation and reservation.
   * The customer pays once the order shows AWAITING_PAYMENT, which the order service may show
   * before payment has handled the same event; answering 404 or 409 then would refuse a payment
   * that is due. Looks without a lock or a held connection; what it finds is checked again
   * under the lock.
   */
  private async untilSagaCaughtUp(userId: string, orderId: string): Promise<void> {
    if (this.deps.catchUpMs <= 0) return;
    const deadline = Date.now() + this.deps.catchUpMs;
    let pause = CATCH_UP_FIRST_PAUSE_MS;
    for (;;) {
      const facts = await paymentStore.payableFacts(this.deps.pool, orderId);
      if (!awaitsSagaEvents(facts, userId)) return;
      const left = deadline - Date.now();
      if (left <= 0) return;
      await sleep(Math.min(pause, left));
      pause = Math.min(pause * 2, CATCH_UP_MAX_PAUSE_MS);
    }
  }

  /** The decline another recorder (a webhook) wrote for the claimed attempt, if it did. */
  private async declineOf(claim: ChargeClaim) {
    const a = await paymentStore.attempt(this.deps.pool, claim.paymentId, claim.attempt);
    if (a?.status !== 'FAILED') return null;
    return {
      outcome: 'declined' as const,
      code: a.failure_code ?? 'declined',
      reason: a.failure_reason ?? 'declined',
      retryable: declineIsRetryable(claim.source),
      anchorPromise: null,
    };
  }

  /** Refunds part or all of what is left (admin): 201 `{ refund, payment }`. */
  async refund(
    user: AuthUser,
    paymentId: string,
    input: RefundInput,
    key?: string,
  ): Promise<IdempotentResult> {
    return this.deps.idempotency.run(
      { scope: 'refund', userId: user.id, key, body: { paymentId, ...input } },
      async (claimKey) => {
        const claim = await withTransaction(this.deps.pool, async (client) => {
          const row = await paymentStore.lockById(client, paymentId);
          if (!row || !row.order_known) throw new NotFoundError(`Payment ${paymentId} not found`);
          await claimKey(client, row.id);
          const refund = await this.deps.claims.refund(client, row, {
            cause: 'admin',
            reason: input.reason ?? null,
            requestedBy: user.id,
            ...(input.amount !== undefined ? { amount: input.amount } : {}),
          });
          await anchorPayment(this.deps.anchor, client, row.id);
          return refund;
        });
        const outcome = await this.deps.calls.refund(claim);
        if (outcome.outcome === 'unavailable') {
          throw gatewayUnavailable({ refundId: claim.refundId });
        }
        if (outcome.outcome === 'refused') {
          throw new BusinessRuleError(outcome.reason, { code: outcome.code }, 'REFUND_REFUSED');
        }
        const payment = await this.view(paymentId);
        const anchorPromise = outcome.outcome === 'refunded' ? outcome.anchorPromise : null;
        return {
          status: 201,
          body: {
            refund: payment.refunds.find((r) => r.id === claim.refundId)!,
            payment,
            anchorPromise,
          },
        };
      },
    );
  }

  /** Owner or admin; anyone else (and payments of orders we never saw) get 404. */
  async getVisible(user: AuthUser, by: { id: string } | { orderId: string }): Promise<PaymentView> {
    const row =
      'id' in by
        ? await paymentStore.get(this.deps.pool, by.id)
        : await paymentStore.getByOrder(this.deps.pool, by.orderId);
    if (!row || !row.order_known || !(isAdmin(user) || row.user_id === user.id)) {
      throw new NotFoundError(
        'id' in by ? `Payment ${by.id} not found` : `No payment for order ${by.orderId}`,
      );
    }
    return (await this.views([row]))[0]!;
  }

  /** Own payments, newest first (admin: all, or one user's). */
  async list(user: AuthUser, query: PaymentListQuery): Promise<Page<PaymentView>> {
    const userId = listedUserId(user, query.userId, 'payments');
    const { rows, total } = await paymentStore.list(this.deps.pool, {
      page: query.page,
      limit: query.limit,
      ...(userId !== undefined ? { userId } : {}),
    });
    return page(await this.views(rows), query, total);
  }

  /** Owners of payments (user ids), for the blockchain routes' access rule. */
  ownersOf(ids: string[]): Promise<Map<string, string | null>> {
    return paymentStore.owners(this.deps.pool, ids);
  }

  private async view(paymentId: string): Promise<PaymentView> {
    const row = await paymentStore.get(this.deps.pool, paymentId);
    if (!row) throw new NotFoundError(`Payment ${paymentId} not found`);
    return (await this.views([row]))[0]!;
  }

  /** Views of payments with their attempts and refunds, read in two queries for all of them. */
  private async views(rows: PaymentRow[]): Promise<PaymentView[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const [attempts, refunds] = await Promise.all([
      paymentStore.attemptsOf(this.deps.pool, ids),
      paymentStore.refundsOf(this.deps.pool, ids),
    ]);
    return rows.map((r) =>
      paymentView(
        r,
        attempts.filter((a) => a.payment_id === r.id),
        refunds.filter((f) => f.payment_id === r.id),
      ),
    );
  }
}
