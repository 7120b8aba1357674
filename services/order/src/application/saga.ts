import type { PoolClient } from 'pg';
import { contractEvent, type ContractEvent } from '@ecom/common/bus';
import type { InventoryRefusal } from '@ecom/common/events';
import type { Logger } from '@ecom/common/logging';
import { addToOutbox } from '@ecom/common/postgres';
import type { ProductCatalog } from '../clients/catalog';
import { TRANSITIONS, type TransitionName } from '../domain/state-machine';
import type { Cause, Order } from '../domain/types';
import { orderStore, type TransitionInput } from '../store/order-store';
import { SOURCE, orderLines, type OrderTransitions } from './transitions';

/** Refusals of product's that may mean a reused quote was stale. */
const QUOTE_REFUSALS: ReadonlySet<string> = new Set<InventoryRefusal>([
  'PRICE_CHANGED',
  'UNKNOWN_PRODUCT',
  'PRODUCT_UNAVAILABLE',
]);
/** product.updated's change names that do not touch a quote. */
const STOCK_FIELDS = new Set(['inventory', 'lowStockThreshold']);

export interface OrderSagaDeps {
  transitions: OrderTransitions;
  /** Its cached quotes are dropped when product says a price or a product changed. */
  catalog: Pick<ProductCatalog, 'forget'>;
  logger: Logger;
  reservationTtlMs: number;
}

function eventCause(event: { eventId: string; eventType: string }): Cause {
  return { type: 'event', eventId: event.eventId, eventType: event.eventType };
}

/**
 * The order's side of the saga: what each event of product, payment and auth does to an order.
 * Each runs inside the transaction that records the event as handled (handled once).
 */
export class OrderSaga {
  constructor(private readonly deps: OrderSagaDeps) {}

  private get apply() {
    return this.deps.transitions.apply.bind(this.deps.transitions);
  }

  /** Applies `transition` to the order the event is about, the event as its cause. */
  private applyEvent(
    client: PoolClient,
    event: { eventId: string; eventType: string; data: { orderId: string } },
    transition: TransitionName,
    more: Pick<TransitionInput, 'reason' | 'set' | 'paymentAttemptAbove'> = {},
  ) {
    return this.apply(client, {
      orderId: event.data.orderId,
      transition,
      cause: eventCause(event),
      ...more,
    });
  }

  async onInventoryReserved(client: PoolClient, event: ContractEvent<'inventory.reserved'>) {
    const { orderId } = event.data;
    // Whether the order came with payment details decides the move: the move's own statement
    // reads that under the row lock, so nothing is read before it.
    const result = await this.apply(client, {
      orderId,
      transition: 'reservedWithPayment',
      withoutPaymentDetails: 'reservedAwaitingPayment',
      cause: eventCause(event),
      set: { reservationTtlMs: this.deps.reservationTtlMs },
    });
    if (!result.applied && result.current === null) return this.unknownOrder(event);
    if (!result.applied && (result.current === 'CANCELLED' || result.current === 'FAILED')) {
      const order = await orderStore.get(client, orderId);
      if (order) await this.releaseLateReservation(client, order, event);
    }
  }

  async onInventoryRejected(client: PoolClient, event: ContractEvent<'inventory.rejected'>) {
    // The order may have been priced from a quote product no longer stands by (price, or the
    // product gone): the next order asks again.
    if (event.data.productId && QUOTE_REFUSALS.has(event.data.reason))
      this.deps.catalog.forget(event.data.productId);
    const reason = `inventory rejected: ${event.data.reason || 'unknown'}${
      event.data.productId ? ` (product ${event.data.productId})` : ''
    }`;
    await this.applyEvent(client, event, 'fail', { reason, set: { failureReason: reason } });
  }

  /** product.updated / product.deleted: its quote is asked again for the next order. */
  onProductChanged(event: ContractEvent<'product.updated' | 'product.deleted'>): void {
    // A change of stock alone leaves the quote as it was.
    if ('changes' in event.data && event.data.changes.every((c) => STOCK_FIELDS.has(c))) return;
    this.deps.catalog.forget(event.data.productId);
  }

  async onPaymentInitiated(client: PoolClient, event: ContractEvent<'payment.initiated'>) {
    // Not if the outcome of this attempt arrived first: the order already moved past it. The
    // check is part of the transition's statement, under its row lock.
    await this.applyEvent(client, event, 'paymentStarted', {
      set: { paymentId: event.data.paymentId },
      paymentAttemptAbove: event.data.attempt,
    });
  }

  async onPaymentCompleted(client: PoolClient, event: ContractEvent<'payment.completed'>) {
    await this.applyEvent(client, event, 'confirm', { set: { paymentId: event.data.paymentId } });
  }

  async onPaymentFailed(client: PoolClient, event: ContractEvent<'payment.failed'>) {
    if (event.data.attempt !== undefined) {
      // Bookkeeping only (not an anchored field of the order): which outcomes were seen.
      await orderStore.settlePaymentAttempt(client, event.data.orderId, event.data.attempt);
    }
    const reason = `payment failed: ${event.data.code}${
      event.data.reason ? ` (${event.data.reason})` : ''
    }`;
    // A decline on POST /api/payments/initiate: the customer may try another card.
    const retry = event.data.retryable;
    await this.applyEvent(client, event, retry ? 'paymentDeclinedRetryable' : 'fail', {
      reason,
      set: retry ? { reservationTtlMs: this.deps.reservationTtlMs } : { failureReason: reason },
    });
  }

  /**
   * payment.refunded: recorded on the order. A refund of everything paid (an admin's) ends an
   * order not yet all shipped: it is cancelled (REFUNDED), so nothing more is shipped for money
   * given back and the stock of what was not shipped goes back (order.cancelled with those
   * lines; payment has nothing left to refund). A PARTIALLY_SHIPPED order ends too: its shipped
   * lines are gone, its others are never shipped (docs/adr/0054). A SHIPPED order keeps its
   * course: the money went back for goods already sent (a return, a goodwill refund).
   */
  async onPaymentRefunded(client: PoolClient, event: ContractEvent<'payment.refunded'>) {
    const { orderId, refundId, paymentId, amount } = event.data;
    const added = await orderStore.addRefund(client, { orderId, refundId, paymentId, amount });
    if (added === 'unknown') return this.unknownOrder(event);
    if (added !== 'added') return;
    await this.deps.transitions.anchor(client, orderId);
    // Not once every line is shipped: the transition's own guard, under the row lock (taken by
    // addRefund, so a shipment waits for this and then finds the order closed).
    if (event.data.fullyRefunded) {
      await this.applyEvent(client, event, 'refundedInFull', { reason: 'REFUNDED' });
    }
  }

  /**
   * user.deleted: the account is gone, so its open orders are cancelled (order.cancelled makes
   * product release the stock and payment refund what it charged). Shipped orders stay, and
   * no order is placed for the account from then on.
   */
  async onUserDeleted(client: PoolClient, event: ContractEvent<'user.deleted'>) {
    // First, so an order placed by a request already in flight is refused or listed here.
    await orderStore.closeAccount(client, event.data.userId);
    const ids = await orderStore.ordersOfUser(client, event.data.userId, TRANSITIONS.cancel.from);
    for (const orderId of ids) {
      await this.apply(client, {
        orderId,
        transition: 'cancel',
        cause: eventCause(event),
        reason: 'ACCOUNT_DELETED',
      });
    }
    if (ids.length > 0) {
      this.deps.logger.info('open orders of a deleted account cancelled', { count: ids.length });
    }
  }

  /**
   * inventory.reservation.overdue: product still holds stock for this order long after it
   * reserved it, so an outcome event was lost on its way (e.g. dead-lettered while product's
   * store was down). Order announces the outcome again and product's usual handlers act on
   * it: CONFIRMED, PARTIALLY_SHIPPED, SHIPPED or DELIVERED → order.confirmed (sale); FAILED →
   * order.failed and CANCELLED → order.cancelled (release); an order order does not know →
   * order.failed (UNKNOWN_ORDER, no lines). An open order is left alone: its own timers move it
   * (reservation expiry, overdue payments, PENDING re-sends), and product asks again later.
   */
  async onReservationOverdue(
    client: PoolClient,
    event: ContractEvent<'inventory.reservation.overdue'>,
  ) {
    const { orderId } = event.data;
    const order = await orderStore.get(client, orderId);
    if (!order) {
      this.deps.logger.warn('reservation overdue for an unknown order: product releases it', {
        orderId,
        eventId: event.eventId,
      });
      // No order row to take the correlation id from: the event's context gives it.
      await addToOutbox(
        client,
        contractEvent(SOURCE, 'order.failed', { orderId, reason: 'UNKNOWN_ORDER', items: [] }),
      );
      return;
    }
    const published = await this.deps.transitions.republishOutcome(client, order);
    this.deps.logger.info(
      published
        ? 'reservation overdue: outcome announced again'
        : 'reservation overdue for an open order: left to its timers',
      { orderId, status: order.status, published },
    );
  }

  /**
   * inventory.reserved for an order that was cancelled or failed while still PENDING: the
   * product reserved after it saw our compensation, so ask it to release once more.
   */
  private async releaseLateReservation(
    client: PoolClient,
    order: Order,
    event: { eventId: string },
  ) {
    const history = await orderStore.history(client, order.id);
    const last = history[history.length - 1];
    if (!last || last.from !== 'PENDING') return;
    this.deps.logger.warn('late reservation for a closed order: releasing it', {
      orderId: order.id,
      status: order.status,
      eventId: event.eventId,
    });
    const { transitions } = this.deps;
    if (order.status === 'CANCELLED') {
      await transitions.publish(client, order, 'order.cancelled', {
        orderId: order.id,
        userId: order.userId,
        reason: 'LATE_RESERVATION',
        previousStatus: 'PENDING',
        items: orderLines(order),
      });
    } else {
      await transitions.publish(client, order, 'order.failed', {
        orderId: order.id,
        userId: order.userId,
        reason: order.failureReason ?? 'failed',
        items: orderLines(order),
      });
    }
  }

  private unknownOrder(event: { eventId: string; eventType: string; data: unknown }): void {
    this.deps.logger.warn('event for an unknown order ignored', {
      eventId: event.eventId,
      eventType: event.eventType,
      orderId: (event.data as { orderId?: unknown }).orderId,
    });
  }
}
