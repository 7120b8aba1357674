import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { BusinessRuleError, ConflictError } from '@ecom/common/errors';
import type { PaymentAttemptSource } from '@ecom/common/events';
import type { Logger } from '@ecom/common/logging';
import { sendOn, type SendStatement } from '@ecom/common/postgres';
import {
  chargeIdempotencyKey,
  checkRefund,
  nextAction,
  refundIdempotencyKey,
} from '../domain/payment-rules';
import { publishPaymentEvent } from '../events/publisher';
import {
  paymentStore,
  withPatch,
  type PaymentPatch,
  type PaymentRow,
  type RefundCause,
} from '../store/payment-store';
import {
  amountOf,
  cents,
  currencyOf,
  type ChargeClaim,
  type FollowUp,
  type RefundClaim,
} from './shared';

/**
 * Step 1 of moving money: charges and refunds claimed in the caller's transaction, on a
 * payment row it has locked. The gateway is called only after that transaction commits.
 */
export class PaymentClaims {
  constructor(private readonly deps: { logger: Logger }) {}

  /**
   * Writes `facts` (what an event told about the order) and applies what the payment rules say
   * follows from them, in one UPDATE: the rules are asked about the row as it will be, and the
   * status they move it to goes with the facts. Nothing is written when neither changes.
   * `send` sends the payment's writes (anchoring's, so its reads travel with them).
   */
  async advance(
    client: PoolClient,
    row: PaymentRow,
    facts: PaymentPatch = {},
    send: SendStatement = sendOn(client),
  ): Promise<FollowUp | null> {
    const next = withPatch(row, facts);
    const action = nextAction({
      status: next.status,
      orderKnown: next.order_known,
      reserved: next.reserved,
      closed: next.order_closed,
      hasDetails: Boolean(next.method && next.token),
      amountCents: cents(next.amount_cents),
      refundedCents: cents(next.refunded_cents),
    });
    const write = async (patch: PaymentPatch): Promise<PaymentRow> =>
      Object.keys(facts).length + Object.keys(patch).length === 0
        ? row
        : paymentStore.update(client, row.id, { ...facts, ...patch }, send);
    switch (action) {
      case 'charge':
        return this.charge(client, next, 'order', next.method!, next.token!, facts, send);
      case 'await':
        await write({ status: 'AWAITING_PAYMENT' });
        return null;
      case 'cancel':
        await write({ status: 'CANCELLED' });
        this.deps.logger.info('payment cancelled before any charge', {
          paymentId: row.id,
          orderId: row.order_id,
          closed: next.order_closed,
        });
        return null;
      case 'refund': {
        const written = await write({});
        return this.refund(client, written, {
          cause: written.order_closed === 'FAILED' ? 'order.failed' : 'order.cancelled',
          reason: written.order_closed === 'FAILED' ? 'order failed' : 'order cancelled',
          requestedBy: null,
        });
      }
      default:
        await write({});
        return null;
    }
  }

  /**
   * A new attempt (its own gateway idempotency key), PROCESSING, payment.initiated. `facts`
   * not yet written go in the same UPDATE (`row` already shows them).
   */
  async charge(
    client: PoolClient,
    row: PaymentRow,
    source: PaymentAttemptSource,
    method: string,
    token: string,
    facts: PaymentPatch = {},
    send: SendStatement = sendOn(client),
  ): Promise<ChargeClaim> {
    const attempt = row.attempts + 1;
    const idempotencyKey = chargeIdempotencyKey(row.order_id, attempt);
    const updated = await paymentStore.insertAttemptAndUpdate(
      client,
      { payment_id: row.id, attempt, idempotency_key: idempotencyKey, source, method, token },
      {
        ...facts,
        status: 'PROCESSING',
        attempts: attempt,
        method,
        failure_code: null,
        failure_reason: null,
      },
      send,
    );
    const amount = amountOf(row);
    await publishPaymentEvent(client, updated, 'payment.initiated', {
      paymentId: row.id,
      orderId: row.order_id,
      amount,
      attempt,
      source,
    });
    return {
      kind: 'charge',
      paymentId: row.id,
      orderId: row.order_id,
      attempt,
      idempotencyKey,
      amount: amount.amount,
      currency: amount.currency,
      method,
      token,
      source,
    };
  }

  /**
   * A refund row, its amount reserved on the payment (409 when nothing was charged or all is
   * refunded, 422 above what is left).
   */
  async refund(
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
      currency: currencyOf(row),
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
      currency: currencyOf(row),
    };
  }
}
