import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import {
  BusinessRuleError,
  ConflictError,
  DependencyUnavailableError,
  NotFoundError,
  addToOutbox,
  createEvent,
  errorBody,
  getContext,
  withTransaction,
  type AuthUser,
  type EventEnvelope,
  type Logger,
} from '@ecom/common';
import type { AnchorSink } from '@ecom/common';
import {
  chargeIdempotencyKey,
  checkRefund,
  declineIsRetryable,
  nextAction,
  refundIdempotencyKey,
  statusAfterRefund,
  type PaymentStatus,
} from './domain/payment-rules';
import type { ChargeResult, PaymentGateway, RefundResult } from './gateway/gateway';
import { requestFingerprint } from '@ecom/common';
import {
  completedSourceId,
  paymentStore,
  type AttemptRow,
  type PaymentRow,
  type RefundCause,
  type RefundRow,
} from './store/payment-store';

export const SOURCE = 'payment-service';

/** A charge claimed in the database, to be sent to the gateway after the claim commits. */
export interface ChargeClaim {
  kind: 'charge';
  paymentId: string;
  orderId: string;
  attempt: number;
  idempotencyKey: string;
  amount: number;
  currency: string;
  method: string;
  token: string;
  source: 'order' | 'initiate';
}

export interface RefundClaim {
  kind: 'refund';
  refundId: string;
  paymentId: string;
  orderId: string;
  chargeId: string;
  idempotencyKey: string;
  amount: number;
  currency: string;
}

export type FollowUp = ChargeClaim | RefundClaim;

export type ChargeOutcome =
  | { outcome: 'completed'; next: FollowUp | null }
  | { outcome: 'declined'; code: string; reason: string; retryable: boolean }
  | { outcome: 'unavailable'; error: string }
  | { outcome: 'superseded' };

export type RefundOutcome =
  | { outcome: 'refunded'; refundId: string }
  | { outcome: 'refused'; code: string; reason: string }
  | { outcome: 'unavailable'; error: string }
  | { outcome: 'superseded' };

export interface HttpResult {
  status: number;
  body: unknown;
  replayed: boolean;
}

export interface PaymentsDeps {
  pool: Pool;
  gateway: PaymentGateway;
  anchor: AnchorSink;
  logger: Logger;
}

const cents = (v: string | null): number => (v === null ? 0 : Number(v));
const cur = (row: PaymentRow): string => (row.currency ?? 'USD').trim();

function isUniqueViolation(err: unknown, constraint: string): boolean {
  const e = err as { code?: string; constraint?: string };
  return e?.code === '23505' && e.constraint === constraint;
}

export function paymentView(row: PaymentRow, attempts: AttemptRow[], refunds: RefundRow[]) {
  const currency = cur(row);
  return {
    id: row.id,
    orderId: row.order_id,
    userId: row.user_id,
    status: row.status,
    amount: { amount: cents(row.amount_cents), currency },
    refunded: {
      amount: refunds
        .filter((r) => r.status === 'SUCCEEDED')
        .reduce((sum, r) => sum + cents(r.amount_cents), 0),
      currency,
    },
    method: row.method,
    chargeId: row.charge_id,
    failure: row.failure_code ? { code: row.failure_code, reason: row.failure_reason } : null,
    attempts: attempts.map((a) => ({
      attempt: a.attempt,
      source: a.source,
      status: a.status,
      failure: a.failure_code ? { code: a.failure_code, reason: a.failure_reason } : null,
      createdAt: a.created_at.toISOString(),
      completedAt: a.completed_at?.toISOString() ?? null,
    })),
    refunds: refunds.map(refundView),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

function refundView(r: RefundRow) {
  return {
    id: r.id,
    amount: { amount: cents(r.amount_cents), currency: r.currency.trim() },
    status: r.status,
    reason: r.reason,
    cause: r.cause,
    createdAt: r.created_at.toISOString(),
    completedAt: r.completed_at?.toISOString() ?? null,
  };
}

/**
 * The payment use cases. Money moves in three steps so the gateway is called at most once per
 * idempotency key: (1) claim the attempt or refund in a transaction (row locked, state guarded,
 * payment.initiated in the outbox), (2) call the gateway outside any transaction, (3) record
 * the result in a transaction guarded by "still PENDING" (events + anchor request with it).
 */
export class Payments {
  constructor(private readonly deps: PaymentsDeps) {}

  // ---------- events (called inside handleEventOnce's transaction) ----------

  async onOrderCreated(
    client: PoolClient,
    event: EventEnvelope<{
      orderId: string;
      userId: string;
      total: { amount: number; currency: string };
      payment: { method: string; token: string } | null;
    }>,
  ): Promise<FollowUp | null> {
    const d = event.data;
    const row = await this.lock(client, d.orderId, event);
    if (row.order_known) return null; // business key: this order is already known
    const updated = await paymentStore.update(client, row.id, {
      user_id: d.userId,
      amount_cents: d.total.amount,
      currency: d.total.currency,
      method: d.payment?.method ?? null,
      token: d.payment?.token ?? null,
      order_known: true,
      correlation_id: event.metadata.correlationId,
    });
    return this.advance(client, updated);
  }

  async onInventoryReserved(
    client: PoolClient,
    event: EventEnvelope<{ orderId: string }>,
  ): Promise<FollowUp | null> {
    const row = await this.lock(client, event.data.orderId, event);
    if (row.reserved) return null;
    return this.advance(client, await paymentStore.update(client, row.id, { reserved: true }));
  }

  async onInventoryRejected(
    client: PoolClient,
    event: EventEnvelope<{ orderId: string }>,
  ): Promise<FollowUp | null> {
    const row = await this.lock(client, event.data.orderId, event);
    if (row.order_closed) return null;
    return this.advance(
      client,
      await paymentStore.update(client, row.id, { order_closed: 'REJECTED' }),
    );
  }

  async onOrderCancelled(
    client: PoolClient,
    event: EventEnvelope<{ orderId: string }>,
  ): Promise<FollowUp | null> {
    const row = await this.lock(client, event.data.orderId, event);
    if (row.order_closed) return null;
    return this.advance(
      client,
      await paymentStore.update(client, row.id, { order_closed: 'CANCELLED' }),
    );
  }

  /** order.failed: a charge made for it goes back; one not made yet never will be. */
  async onOrderFailed(
    client: PoolClient,
    event: EventEnvelope<{ orderId: string }>,
  ): Promise<FollowUp | null> {
    const row = await this.lock(client, event.data.orderId, event);
    if (row.order_closed) return null;
    return this.advance(
      client,
      await paymentStore.update(client, row.id, { order_closed: 'FAILED' }),
    );
  }

  /**
   * order.payment.overdue: order has waited too long for this payment's outcome (an event was
   * lost, or payment never saw the order). Publishes the outcome again; when there was no
   * charge, closes the payment first (so it is never charged later) and answers payment.failed.
   * A charge still in flight is left to the reconciler, which publishes its outcome.
   */
  async onPaymentOverdue(
    client: PoolClient,
    event: EventEnvelope<{ orderId: string }>,
  ): Promise<FollowUp | null> {
    let row = await this.lock(client, event.data.orderId, event);
    const amount = { amount: cents(row.amount_cents), currency: cur(row) };
    switch (row.status) {
      case 'COMPLETED':
      case 'PARTIALLY_REFUNDED':
      case 'REFUNDED':
        await this.emit(client, row, 'payment.completed', {
          paymentId: row.id,
          orderId: row.order_id,
          amount,
        });
        return null;
      case 'FAILED':
        await this.emit(client, row, 'payment.failed', {
          paymentId: row.id,
          orderId: row.order_id,
          reason: row.failure_reason ?? 'declined',
          code: row.failure_code ?? 'declined',
          retryable: false,
        });
        return null;
      case 'PROCESSING':
        this.deps.logger.warn('payment overdue with a charge in flight: left to the reconciler', {
          paymentId: row.id,
          orderId: row.order_id,
        });
        return null;
      default: {
        if (!row.order_closed) {
          row = await paymentStore.update(client, row.id, { order_closed: 'FAILED' });
          await this.advance(client, row);
        }
        await this.emit(client, row, 'payment.failed', {
          paymentId: row.id,
          orderId: row.order_id,
          reason: 'payment has no charge for this order',
          code: 'no_charge',
          retryable: false,
        });
        return null;
      }
    }
  }

  private lock(client: PoolClient, orderId: string, event: EventEnvelope): Promise<PaymentRow> {
    return paymentStore.lockForOrder(client, orderId, randomUUID(), event.metadata.correlationId);
  }

  /** Applies what the payment rules say follows from the payment's current facts. */
  private async advance(client: PoolClient, row: PaymentRow): Promise<FollowUp | null> {
    const action = nextAction({
      status: row.status,
      orderKnown: row.order_known,
      reserved: row.reserved,
      closed: row.order_closed,
      hasDetails: Boolean(row.method && row.token),
      amountCents: cents(row.amount_cents),
      refundedCents: cents(row.refunded_cents),
    });
    switch (action) {
      case 'charge':
        return this.claimCharge(client, row, 'order', row.method!, row.token!);
      case 'await':
        await paymentStore.update(client, row.id, { status: 'AWAITING_PAYMENT' });
        return null;
      case 'cancel':
        await paymentStore.update(client, row.id, { status: 'CANCELLED' });
        this.deps.logger.info('payment cancelled before any charge', {
          paymentId: row.id,
          orderId: row.order_id,
          closed: row.order_closed,
        });
        return null;
      case 'refund':
        return this.claimRefund(client, row, {
          cause: row.order_closed === 'FAILED' ? 'order.failed' : 'order.cancelled',
          reason: row.order_closed === 'FAILED' ? 'order failed' : 'order cancelled',
          requestedBy: null,
        });
      default:
        return null;
    }
  }

  private async claimCharge(
    client: PoolClient,
    row: PaymentRow,
    source: 'order' | 'initiate',
    method: string,
    token: string,
  ): Promise<ChargeClaim> {
    const attempt = row.attempts + 1;
    const idempotencyKey = chargeIdempotencyKey(row.order_id, attempt);
    await paymentStore.insertAttempt(client, {
      payment_id: row.id,
      attempt,
      idempotency_key: idempotencyKey,
      source,
      method,
      token,
    });
    const updated = await paymentStore.update(client, row.id, {
      status: 'PROCESSING',
      attempts: attempt,
      method,
      failure_code: null,
      failure_reason: null,
    });
    await this.emit(client, updated, 'payment.initiated', {
      paymentId: row.id,
      orderId: row.order_id,
      amount: { amount: cents(row.amount_cents), currency: cur(row) },
      attempt,
    });
    return {
      kind: 'charge',
      paymentId: row.id,
      orderId: row.order_id,
      attempt,
      idempotencyKey,
      amount: cents(row.amount_cents),
      currency: cur(row),
      method,
      token,
      source,
    };
  }

  private async claimRefund(
    client: PoolClient,
    row: PaymentRow,
    opts: {
      cause: RefundCause;
      reason: string | null;
      requestedBy: string | null;
      amount?: number;
    },
  ): Promise<RefundClaim> {
    const check = checkRefund(
      row.status,
      cents(row.amount_cents),
      cents(row.refunded_cents),
      opts.amount,
    );
    if (!check.ok) {
      if (check.code === 'NOT_REFUNDABLE')
        throw new ConflictError(check.reason, { status: row.status });
      throw new BusinessRuleError(check.reason, { status: row.status }, check.code);
    }
    const refundId = randomUUID();
    const idempotencyKey = refundIdempotencyKey(
      row.id,
      (await paymentStore.refundCount(client, row.id)) + 1,
    );
    await paymentStore.insertRefund(client, {
      id: refundId,
      payment_id: row.id,
      amount_cents: check.amount,
      currency: cur(row),
      reason: opts.reason,
      cause: opts.cause,
      idempotency_key: idempotencyKey,
      requested_by: opts.requestedBy,
    });
    // Reserved now, so concurrent partial refunds can never sum above the amount.
    await paymentStore.update(client, row.id, {
      refunded_cents: cents(row.refunded_cents) + check.amount,
    });
    return {
      kind: 'refund',
      refundId,
      paymentId: row.id,
      orderId: row.order_id,
      chargeId: row.charge_id ?? '',
      idempotencyKey,
      amount: check.amount,
      currency: cur(row),
    };
  }

  // ---------- gateway calls and their recording ----------

  /** Runs a claimed charge or refund and whatever follows it (a charge of a cancelled order → refund). */
  async runFollowUp(first: FollowUp | null): Promise<void> {
    let next: FollowUp | null = first;
    while (next) {
      const current: FollowUp = next;
      next = null;
      try {
        if (current.kind === 'charge') {
          const result = await this.executeCharge(current);
          if (result.outcome === 'completed') next = result.next;
        } else {
          await this.executeRefund(current);
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

  async executeCharge(claim: ChargeClaim): Promise<ChargeOutcome> {
    let result: ChargeResult;
    try {
      result = await this.deps.gateway.charge({
        idempotencyKey: claim.idempotencyKey,
        amount: claim.amount,
        currency: claim.currency,
        method: claim.method,
        token: claim.token,
      });
    } catch (err) {
      this.deps.logger.error('payment gateway unreachable; charge left pending', {
        paymentId: claim.paymentId,
        idempotencyKey: claim.idempotencyKey,
        error: (err as Error).message,
      });
      return { outcome: 'unavailable', error: (err as Error).message };
    }
    return withTransaction(this.deps.pool, async (client): Promise<ChargeOutcome> => {
      const row = await paymentStore.lockById(client, claim.paymentId);
      const settled = await paymentStore.settleAttempt(
        client,
        claim.paymentId,
        claim.attempt,
        result,
      );
      if (!row || !settled || row.status !== 'PROCESSING' || row.attempts !== claim.attempt) {
        return { outcome: 'superseded' };
      }
      const amount = { amount: claim.amount, currency: claim.currency };
      if (result.ok) {
        const updated = await paymentStore.update(client, row.id, {
          status: 'COMPLETED',
          charge_id: result.chargeId,
          token: null,
        });
        await this.emit(client, updated, 'payment.completed', {
          paymentId: row.id,
          orderId: row.order_id,
          amount,
        });
        await this.anchorRecord(client, row.id, completedSourceId(row.id));
        this.deps.logger.info('payment completed', { paymentId: row.id, orderId: row.order_id });
        return { outcome: 'completed', next: await this.advance(client, updated) };
      }
      const retryable = declineIsRetryable(claim.source);
      const status: PaymentStatus = retryable
        ? row.order_closed
          ? 'CANCELLED'
          : 'AWAITING_PAYMENT'
        : 'FAILED';
      const updated = await paymentStore.update(client, row.id, {
        status,
        failure_code: result.code,
        failure_reason: result.reason,
        token: null,
      });
      await this.emit(client, updated, 'payment.failed', {
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
      return { outcome: 'declined', code: result.code, reason: result.reason, retryable };
    });
  }

  async executeRefund(claim: RefundClaim): Promise<RefundOutcome> {
    let result: RefundResult;
    try {
      result = await this.deps.gateway.refund({
        idempotencyKey: claim.idempotencyKey,
        chargeId: claim.chargeId,
        amount: claim.amount,
        currency: claim.currency,
      });
    } catch (err) {
      this.deps.logger.error('payment gateway unreachable; refund left pending', {
        refundId: claim.refundId,
        error: (err as Error).message,
      });
      return { outcome: 'unavailable', error: (err as Error).message };
    }
    return withTransaction(this.deps.pool, async (client): Promise<RefundOutcome> => {
      const row = await paymentStore.lockById(client, claim.paymentId);
      const refund = await paymentStore.settleRefund(client, claim.refundId, result);
      if (!row || !refund) return { outcome: 'superseded' };
      if (!result.ok) {
        // Give the reserved amount back: the money did not move.
        await paymentStore.update(client, row.id, {
          refunded_cents: cents(row.refunded_cents) - claim.amount,
        });
        this.deps.logger.error('refund refused by the gateway', {
          refundId: claim.refundId,
          code: result.code,
        });
        return { outcome: 'refused', code: result.code, reason: result.reason };
      }
      const amountCents = cents(row.amount_cents);
      const refundedCents = cents(row.refunded_cents);
      const updated = await paymentStore.update(client, row.id, {
        status: statusAfterRefund(amountCents, refundedCents),
      });
      const amount = { amount: claim.amount, currency: claim.currency };
      await this.emit(client, updated, 'payment.refunded', {
        paymentId: row.id,
        orderId: row.order_id,
        refundId: claim.refundId,
        amount,
        fullyRefunded: refundedCents >= amountCents,
      });
      await this.anchorRecord(client, row.id, claim.refundId);
      return { outcome: 'refunded', refundId: claim.refundId };
    });
  }

  // ---------- HTTP use cases ----------

  async initiate(
    user: AuthUser,
    body: { orderId: string; payment: { method: string; token: string } },
    key?: string,
  ): Promise<HttpResult> {
    return this.idempotent('initiate', user, body, key, async (claimKey) => {
      const claim = await withTransaction(this.deps.pool, async (client) => {
        const row = await paymentStore.lockByOrderIfExists(client, body.orderId);
        if (!row || !row.order_known || row.user_id !== user.id) {
          throw new NotFoundError(`No payment is due for order ${body.orderId}`);
        }
        if (row.status !== 'AWAITING_PAYMENT' || row.order_closed) {
          throw new ConflictError(this.notPayableReason(row.status), { status: row.status });
        }
        await claimKey(client, row.id);
        return this.claimCharge(client, row, 'initiate', body.payment.method, body.payment.token);
      });
      const outcome = await this.executeCharge(claim);
      if (outcome.outcome === 'unavailable') {
        throw new DependencyUnavailableError(
          'payment-gateway',
          'The payment gateway is unavailable',
          {
            paymentId: claim.paymentId,
          },
        );
      }
      if (outcome.outcome === 'completed') await this.runFollowUp(outcome.next);
      if (outcome.outcome === 'declined') {
        return {
          status: 402,
          body: errorBody('PAYMENT_DECLINED', outcome.reason, {
            paymentId: claim.paymentId,
            code: outcome.code,
            retryable: outcome.retryable,
          }),
        };
      }
      return { status: 201, body: await this.view(claim.paymentId) };
    });
  }

  private notPayableReason(status: PaymentStatus): string {
    switch (status) {
      case 'PENDING':
        return 'The order is not reserved yet; try again shortly';
      case 'PROCESSING':
        return 'A payment for this order is already in progress';
      case 'COMPLETED':
      case 'PARTIALLY_REFUNDED':
      case 'REFUNDED':
        return 'This order is already paid';
      default:
        return `This order can no longer be paid (payment ${status})`;
    }
  }

  async refund(
    user: AuthUser,
    paymentId: string,
    body: { amount?: number; reason?: string },
    key?: string,
  ): Promise<HttpResult> {
    return this.idempotent('refund', user, { paymentId, ...body }, key, async (claimKey) => {
      const claim = await withTransaction(this.deps.pool, async (client) => {
        const row = await paymentStore.lockById(client, paymentId);
        if (!row || !row.order_known) throw new NotFoundError(`Payment ${paymentId} not found`);
        await claimKey(client, row.id);
        return this.claimRefund(client, row, {
          cause: 'admin',
          reason: body.reason ?? null,
          requestedBy: user.id,
          ...(body.amount !== undefined ? { amount: body.amount } : {}),
        });
      });
      const outcome = await this.executeRefund(claim);
      if (outcome.outcome === 'unavailable') {
        throw new DependencyUnavailableError(
          'payment-gateway',
          'The payment gateway is unavailable',
          {
            refundId: claim.refundId,
          },
        );
      }
      if (outcome.outcome === 'refused') {
        throw new BusinessRuleError(outcome.reason, { code: outcome.code }, 'REFUND_REFUSED');
      }
      const refunds = await paymentStore.refunds(this.deps.pool, paymentId);
      return {
        status: 201,
        body: {
          refund: refundView(refunds.find((r) => r.id === claim.refundId)!),
          payment: await this.view(paymentId),
        },
      };
    });
  }

  /**
   * HTTP Idempotency-Key handling: the key is inserted in the claim's transaction (a unique
   * constraint makes concurrent duplicates safe), bound to a fingerprint of the body, and the
   * first response is stored and replayed.
   */
  private async idempotent(
    scope: string,
    user: AuthUser,
    body: unknown,
    key: string | undefined,
    run: (
      claimKey: (client: PoolClient, paymentId: string) => Promise<void>,
    ) => Promise<{ status: number; body: unknown }>,
  ): Promise<HttpResult> {
    if (!key) {
      const result = await run(async () => undefined);
      return { ...result, replayed: false };
    }
    const fingerprint = requestFingerprint(body);
    const replay = async (): Promise<HttpResult | null> => {
      const stored = await paymentStore.findIdempotencyKey(this.deps.pool, scope, user.id, key);
      if (!stored) return null;
      if (stored.fingerprint !== fingerprint) {
        throw new BusinessRuleError(
          'This Idempotency-Key was used with a different request body',
          { idempotencyKey: key },
          'IDEMPOTENCY_KEY_REUSED',
        );
      }
      if (stored.status === null) {
        throw new ConflictError('A request with this Idempotency-Key is still in progress', {
          paymentId: stored.paymentId,
        });
      }
      return { status: stored.status, body: stored.body, replayed: true };
    };
    const earlier = await replay();
    if (earlier) return earlier;
    let result: { status: number; body: unknown };
    try {
      result = await run((client, paymentId) =>
        paymentStore.insertIdempotencyKey(client, {
          scope,
          userId: user.id,
          key,
          fingerprint,
          paymentId,
        }),
      );
    } catch (err) {
      if (isUniqueViolation(err, 'idempotency_keys_pkey')) {
        const other = await replay();
        if (other) return other;
      }
      throw err;
    }
    await paymentStore.storeIdempotentResponse(this.deps.pool, {
      scope,
      userId: user.id,
      key,
      status: result.status,
      body: result.body,
    });
    return { ...result, replayed: false };
  }

  async view(paymentId: string) {
    const row = await paymentStore.get(this.deps.pool, paymentId);
    if (!row) throw new NotFoundError(`Payment ${paymentId} not found`);
    return paymentView(
      row,
      await paymentStore.attempts(this.deps.pool, row.id),
      await paymentStore.refunds(this.deps.pool, row.id),
    );
  }

  /** Owner or admin; anyone else (and payments of orders we never saw) get 404. */
  async getVisible(user: AuthUser, by: { id: string } | { orderId: string }) {
    const row =
      'id' in by
        ? await paymentStore.get(this.deps.pool, by.id)
        : await paymentStore.getByOrder(this.deps.pool, by.orderId);
    if (!row || !row.order_known || (user.role !== 'admin' && row.user_id !== user.id)) {
      throw new NotFoundError(
        'id' in by ? `Payment ${by.id} not found` : `No payment for order ${by.orderId}`,
      );
    }
    return this.view(row.id);
  }

  // ---------- recovery ----------

  /**
   * Finishes claims whose recording never happened (process died after the gateway call, or
   * the database failed): calls the gateway again with the SAME idempotency key (the gateway
   * answers with the first result, so nothing is charged twice) and records the result.
   */
  async reconcile(olderThanMs: number): Promise<number> {
    let done = 0;
    for (const a of await paymentStore.stalePendingAttempts(this.deps.pool, olderThanMs)) {
      const row = await paymentStore.get(this.deps.pool, a.payment_id);
      if (!row) continue;
      await this.runFollowUp({
        kind: 'charge',
        paymentId: row.id,
        orderId: row.order_id,
        attempt: a.attempt,
        idempotencyKey: a.idempotency_key,
        amount: cents(row.amount_cents),
        currency: cur(row),
        method: a.method,
        token: a.token,
        source: a.source,
      });
      done += 1;
    }
    for (const r of await paymentStore.stalePendingRefunds(this.deps.pool, olderThanMs)) {
      const row = await paymentStore.get(this.deps.pool, r.payment_id);
      if (!row) continue;
      await this.runFollowUp({
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

  /**
   * Queues the anchor record of a completion or refund, in the caller's transaction. The payload
   * is read back from the rows just written by the function that rebuilds it for verification.
   */
  private async anchorRecord(client: PoolClient, paymentId: string, sourceId: string) {
    const payload = await paymentStore.anchorPayload(client, { recordId: paymentId, sourceId });
    if (!payload) {
      // Cannot happen (the rows were just written); anchoring must never fail the saga anyway.
      this.deps.logger.error('anchor payload not found; record not anchored', { sourceId });
      return;
    }
    await this.deps.anchor.enqueue(client, {
      recordType: 'payment',
      recordId: paymentId,
      sourceId,
      payload: { ...payload },
    });
  }

  /** Owners of payments (user ids), for the blockchain routes' access rule. */
  ownersOf(ids: string[]): Promise<Map<string, string | null>> {
    return paymentStore.owners(this.deps.pool, ids);
  }

  /**
   * Events keep the saga's correlation id: the current request's or handled event's, else
   * (reconciler) the one stored with the payment.
   */
  private async emit(client: PoolClient, row: PaymentRow, type: string, data: object) {
    const overrides = getContext() ? {} : { correlationId: row.correlation_id ?? undefined };
    await addToOutbox(client, createEvent(SOURCE, type, data, overrides));
  }
}
