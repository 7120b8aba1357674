import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import type { SendStatement } from '@ecom/common/postgres';
import type { ContractEvent, EventEnvelope } from '@ecom/common/bus';
import type { Logger } from '@ecom/common/logging';
import type { OrderClosed } from '../domain/payment-rules';
import { publishPaymentEvent } from '../events/publisher';
import { paymentStore, type PaymentPatch, type PaymentRow } from '../store/payment-store';
import type { PaymentClaims } from './claims';
import type { AnchorSink } from '@ecom/common/anchoring';
import { amountOf, anchorPayment, paymentWrites, type FollowUp } from './shared';

/**
 * Payment's side of the saga: what each event about an order does to its payment. Each runs
 * inside the transaction that records the event as handled (handled once), on the order's
 * payment locked, ends by anchoring what it changed, and returns what it claimed, which the
 * consumer runs at the gateway after the commit.
 */
export class PaymentSaga {
  constructor(
    private readonly deps: { claims: PaymentClaims; anchor: AnchorSink; logger: Logger },
  ) {}

  async onOrderCreated(client: PoolClient, event: ContractEvent<'order.created'>) {
    const d = event.data;
    const facts: PaymentPatch = {
      user_id: d.userId,
      amount_cents: d.total.amount,
      currency: d.total.currency,
      method: d.payment?.method ?? null,
      token: d.payment?.token ?? null,
      order_known: true,
      correlation_id: event.metadata.correlationId,
    };
    // Usually the order's first event: its payment is created with these facts in one
    // statement, rather than created empty and then written. The rules still decide what
    // follows (for a payment not yet reserved: nothing, and advance writes nothing).
    const id = randomUUID();
    const write = paymentWrites(this.deps.anchor, client, id);
    const created = await paymentStore.createForOrder(
      client,
      { id, orderId: d.orderId },
      facts,
      write.send,
    );
    if (created) {
      const followUp = await this.deps.claims.advance(client, created, {}, write.send);
      await anchorPayment(this.deps.anchor, client, id, write.reads());
      return followUp;
    }
    // Another event of the order came first (the reads taken with the failed insert, of no
    // payment, go unused): its payment is locked and written as for any event.
    return this.onPayment(client, event, async (row, send) => {
      if (row.order_known) return null; // business key: this order is already known
      return this.deps.claims.advance(client, row, facts, send);
    });
  }

  onInventoryReserved(client: PoolClient, event: ContractEvent<'inventory.reserved'>) {
    return this.onPayment(client, event, async (row, send) => {
      if (row.reserved) return null;
      return this.deps.claims.advance(client, row, { reserved: true }, send);
    });
  }

  onInventoryRejected(client: PoolClient, event: ContractEvent<'inventory.rejected'>) {
    return this.close(client, event, 'REJECTED');
  }

  onOrderCancelled(client: PoolClient, event: ContractEvent<'order.cancelled'>) {
    return this.close(client, event, 'CANCELLED');
  }

  /** order.failed: a charge made for it goes back; one not made yet never will be. */
  onOrderFailed(client: PoolClient, event: ContractEvent<'order.failed'>) {
    return this.close(client, event, 'FAILED');
  }

  /**
   * order.payment.overdue: order has waited too long for this payment's outcome (an event was
   * lost, or payment never saw the order). Publishes the outcome again; when there was no
   * charge, closes the payment first (so it is never charged later) and answers payment.failed.
   * A charge still in flight is left to the reconciler, which publishes its outcome.
   */
  onPaymentOverdue(client: PoolClient, event: ContractEvent<'order.payment.overdue'>) {
    return this.onPayment(client, event, (row, send) => this.answerOverdue(client, row, send));
  }

  private async answerOverdue(
    client: PoolClient,
    locked: PaymentRow,
    send: SendStatement,
  ): Promise<FollowUp | null> {
    let row = locked;
    switch (row.status) {
      case 'COMPLETED':
      case 'PARTIALLY_REFUNDED':
      case 'REFUNDED':
        await publishPaymentEvent(client, row, 'payment.completed', {
          paymentId: row.id,
          orderId: row.order_id,
          amount: amountOf(row),
        });
        return null;
      case 'FAILED':
        await publishPaymentEvent(client, row, 'payment.failed', {
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
          row = await paymentStore.update(client, row.id, { order_closed: 'FAILED' }, send);
          await this.deps.claims.advance(client, row, {}, send);
        }
        await publishPaymentEvent(client, row, 'payment.failed', {
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

  /** The order will not be fulfilled: nothing is charged any more, a charge goes back. */
  private close(
    client: PoolClient,
    event: EventEnvelope<{ orderId: string }>,
    closed: OrderClosed,
  ): Promise<FollowUp | null> {
    return this.onPayment(client, event, async (row, send) => {
      if (row.order_closed) return null;
      return this.deps.claims.advance(client, row, { order_closed: closed }, send);
    });
  }

  /**
   * Runs `handle` on the payment of the event's order (created by the first event about it),
   * locked, then anchors what it changed in the same transaction. `handle` sends the payment's
   * writes with `send`, so the anchoring's reads travel with the last one.
   */
  private async onPayment(
    client: PoolClient,
    event: EventEnvelope<{ orderId: string }>,
    handle: (row: PaymentRow, send: SendStatement) => Promise<FollowUp | null>,
  ): Promise<FollowUp | null> {
    const row = await paymentStore.lockForOrder(
      client,
      event.data.orderId,
      randomUUID(),
      event.metadata.correlationId,
    );
    const write = paymentWrites(this.deps.anchor, client, row.id);
    const followUp = await handle(row, write.send);
    await anchorPayment(this.deps.anchor, client, row.id, write.reads());
    return followUp;
  }
}
