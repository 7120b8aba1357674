import type { PoolClient } from 'pg';
import {
  anchoredWrites,
  type AnchorPromise,
  type AnchorSink,
  type PrefetchedAnchorReads,
} from '@ecom/common/anchoring';
import { contractEvent, type EventEnvelope } from '@ecom/common/bus';
import type { EventData, EventType } from '@ecom/common/events';
import { getContext, type Logger } from '@ecom/common/logging';
import { addToOutbox, type SendStatement } from '@ecom/common/postgres';
import { followLines, unshipped, type LineTarget } from '../domain/fulfilment';
import type { OrderStatus } from '../domain/state-machine';
import type { Cause, Order } from '../domain/types';
import type { OrderMetrics } from './order-metrics';
import { orderStore, type TransitionInput, type TransitionResult } from '../store/order-store';

export const SOURCE = 'order-service';

/** The lines of an order (or `items` of it) as events carry them. */
export const orderLines = (order: Order, items = order.items) =>
  items.map((i) => ({ productId: i.productId, quantity: i.quantity }));

/** A transition's result and, when it applied, the promise signed for its anchored entry. */
export type AppliedTransition = TransitionResult & { anchorPromise: AnchorPromise | null };

/**
 * Every status change goes through apply(): the guarded transition, its history row, its
 * anchored entry and its event, in the caller's transaction.
 */
export class OrderTransitions {
  constructor(
    private readonly deps: { anchor: AnchorSink; logger: Logger; metrics?: OrderMetrics },
  ) {}

  /**
   * Applies a transition and, when it changed something, writes what follows from it in the
   * same transaction: the outgoing event (outbox) and the anchor request. A transition that
   * does not apply (late or duplicate event) is logged and changes nothing.
   */
  async apply(client: PoolClient, input: TransitionInput): Promise<AppliedTransition> {
    // The move and its anchoring's locked reads in one round trip.
    const write = this.anchoredWrite(client, input.orderId);
    const result = await orderStore.transition(client, input, write.send);
    if (!result.applied) {
      this.deps.logger.info('order transition ignored', {
        orderId: input.orderId,
        transition: input.transition,
        ...(input.withoutPaymentDetails
          ? { withoutPaymentDetails: input.withoutPaymentDetails }
          : {}),
        current: result.current,
        // A stale payment.initiated: the outcome of its attempt was seen first.
        ...(input.paymentAttemptAbove !== undefined
          ? { attempt: input.paymentAttemptAbove, settledAttempt: result.settledAttempt }
          : {}),
        cause: input.cause,
      });
      return { ...result, anchorPromise: null };
    }
    const { order, from } = result;
    this.deps.logger.info('order transition', {
      orderId: order.id,
      from,
      to: order.status,
      transition: result.transition,
    });
    const anchorPromise = await this.anchor(client, order.id, write.reads());
    if (order.status === 'CONFIRMED') this.deps.metrics?.confirmed(order.createdAt);
    if (order.status === 'DELIVERED') {
      await this.publish(client, order, 'order.completed', {
        orderId: order.id,
        userId: order.userId,
      });
    } else {
      await this.announce(client, order, order.status, { from, reason: input.reason });
    }
    return { ...result, anchorPromise };
  }

  /**
   * Fulfilment per seller (docs/adr/0013): moves lines `lineNos` of `order` to `to`, then the
   * order to where its lines are (followLines): each order-level change through apply(), so its
   * history row, its event (order.completed on DELIVERED) and its anchored entry follow as for
   * any transition, and only when the order's status changes; a change of lines alone gets its
   * anchored entry here. Each shipment publishes order.shipped (the lines shipped now). The
   * caller holds the order's row lock (orderStore.get forUpdate) and has checked that the lines
   * may take this step.
   */
  async fulfil(
    client: PoolClient,
    order: Order,
    lineNos: number[],
    to: LineTarget,
    cause: Cause,
  ): Promise<{ order: Order; anchorPromise: AnchorPromise | null }> {
    const actorId = cause.type === 'request' ? cause.userId : null;
    await orderStore.setLineFulfilment(client, order.id, lineNos, to, actorId);
    this.deps.logger.info('order lines fulfilled', { orderId: order.id, lineNos, to, actorId });
    const lines = order.items.map((i) => (lineNos.includes(i.lineNo) ? to : i.fulfilmentStatus));
    if (to === 'SHIPPED') {
      // One per shipment (the lines moved now), for the customer; the order's status event, if
      // any, follows from apply() below.
      await this.publish(client, order, 'order.shipped', {
        orderId: order.id,
        userId: order.userId,
        items: order.items
          .filter((i) => lineNos.includes(i.lineNo))
          .map((i) => ({ productId: i.productId, quantity: i.quantity })),
        fullyShipped: lines.every((l) => l !== 'UNFULFILLED'),
      });
    }
    let written: { order: Order; anchorPromise: AnchorPromise | null } | null = null;
    for (const transition of followLines(order.status, lines)) {
      const result = await this.apply(client, { orderId: order.id, transition, cause });
      // Decided from the status read under the row lock: it cannot be refused. If it were, the
      // lines must not stay moved without their order.
      if (!result.applied) throw new Error(`order ${order.id}: ${transition} refused under lock`);
      written = { order: result.order, anchorPromise: result.anchorPromise };
    }
    if (written) return written;
    const anchorPromise = await this.anchor(client, order.id);
    const now = await orderStore.get(client, order.id);
    if (!now) throw new Error('order vanished during fulfilment');
    return { order: now, anchorPromise };
  }

  /**
   * Publishes the event of the outcome product and payment act on (order.confirmed,
   * order.failed, order.cancelled) for an order in `status`; nothing for other statuses.
   * The one place these payloads are built: a transition's event and a re-announcement
   * (republishOutcome) cannot differ.
   */
  private async announce(
    client: PoolClient,
    order: Order,
    status: OrderStatus,
    last: { from: OrderStatus | null; reason?: string | null | undefined },
  ): Promise<boolean> {
    switch (status) {
      case 'CONFIRMED':
        await this.publish(client, order, 'order.confirmed', {
          orderId: order.id,
          userId: order.userId,
          items: orderLines(order),
          total: order.total,
        });
        return true;
      case 'FAILED':
        await this.publish(client, order, 'order.failed', {
          orderId: order.id,
          userId: order.userId,
          reason: order.failureReason ?? last.reason ?? 'failed',
          items: orderLines(order),
        });
        return true;
      case 'CANCELLED':
        // The stock that goes back: the lines not shipped, which before shipping are all of
        // them; a PARTIALLY_SHIPPED order ended by a full refund keeps its shipped lines out.
        await this.publish(client, order, 'order.cancelled', {
          orderId: order.id,
          userId: order.userId,
          reason: last.reason ?? 'cancelled',
          previousStatus: last.from,
          items: orderLines(order, unshipped(order.items)),
        });
        return true;
      default:
        return false;
    }
  }

  /**
   * Announces the order's outcome once more (a consumer lost the first announcement): a
   * confirmed, (partially) shipped or delivered order as order.confirmed (the stock was sold),
   * a failed or cancelled one as at its last change. Nothing for an open order: its own timers
   * move it. Returns the event type published, or null.
   */
  async republishOutcome(
    client: PoolClient,
    order: Order,
  ): Promise<'order.confirmed' | 'order.failed' | 'order.cancelled' | null> {
    const sold =
      order.status === 'PARTIALLY_SHIPPED' ||
      order.status === 'SHIPPED' ||
      order.status === 'DELIVERED';
    const status: OrderStatus = sold ? 'CONFIRMED' : order.status;
    const history = await orderStore.history(client, order.id);
    const last = history[history.length - 1];
    const published = await this.announce(client, order, status, {
      from: last?.from ?? null,
      reason: last?.reason,
    });
    if (!published) return null;
    return status === 'CONFIRMED'
      ? 'order.confirmed'
      : status === 'FAILED'
        ? 'order.failed'
        : 'order.cancelled';
  }

  /**
   * Writes the order's anchored entries for what this transaction changed (a status change, a
   * refund, the creation), in the caller's transaction; the newest entry's signed promise.
   * Call it after every write of an order.
   */
  async anchor(
    client: PoolClient,
    orderId: string,
    prefetched?: PrefetchedAnchorReads | null,
  ): Promise<AnchorPromise | null> {
    const promises = await this.deps.anchor.record(
      client,
      { recordType: 'order', recordId: orderId },
      prefetched,
    );
    return promises[promises.length - 1] ?? null;
  }

  /**
   * A sender for one write of the order whose anchoring reads travel with it: pass `send` to
   * the store, then `reads()` to anchor(), with no other write of the order in between.
   */
  anchoredWrite(
    client: PoolClient,
    orderId: string,
  ): { send: SendStatement; reads: () => PrefetchedAnchorReads | null } {
    return anchoredWrites(this.deps.anchor, client, { recordType: 'order', recordId: orderId });
  }

  /** Writes an event of the order to the outbox, in the caller's transaction. */
  async publish<T extends EventType>(
    client: PoolClient,
    order: Order,
    type: T,
    data: EventData<T>,
  ): Promise<void> {
    await addToOutbox(client, this.event(order, type, data));
  }

  /**
   * Events keep the saga's correlation id: the current request's or handled event's when
   * there is one, else the id stored with the order (timers have no context).
   */
  event<T extends EventType>(order: Order, type: T, data: EventData<T>): EventEnvelope {
    return contractEvent(
      SOURCE,
      type,
      data,
      getContext() ? {} : { correlationId: order.correlationId },
    );
  }
}
