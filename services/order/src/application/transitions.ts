import type { PoolClient } from 'pg';
import type { AnchorPromise, AnchorSink } from '@ecom/common/anchoring';
import { contractEvent, type EventEnvelope } from '@ecom/common/bus';
import type { EventData, EventType } from '@ecom/common/events';
import { getContext, type Logger } from '@ecom/common/logging';
import { addToOutbox } from '@ecom/common/postgres';
import type { Order } from '../domain/types';
import { orderStore, type TransitionInput, type TransitionResult } from '../store/order-store';

export const SOURCE = 'order-service';

/** The lines of an order as events carry them. */
export const orderLines = (order: Order) =>
  order.items.map((i) => ({ productId: i.productId, quantity: i.quantity }));

/** A transition's result and, when it applied, the promise signed for its anchored entry. */
export type AppliedTransition = TransitionResult & { anchorPromise: AnchorPromise | null };

/**
 * Every status change goes through apply(): the guarded transition, its history row, its
 * anchored entry and its event, in the caller's transaction.
 */
export class OrderTransitions {
  constructor(private readonly deps: { anchor: AnchorSink; logger: Logger }) {}

  /**
   * Applies a transition and, when it changed something, writes what follows from it in the
   * same transaction: the outgoing event (outbox) and the anchor request. A transition that
   * does not apply (late or duplicate event) is logged and changes nothing.
   */
  async apply(client: PoolClient, input: TransitionInput): Promise<AppliedTransition> {
    const result = await orderStore.transition(client, input);
    if (!result.applied) {
      this.deps.logger.info('order transition ignored', {
        orderId: input.orderId,
        transition: input.transition,
        current: result.current,
        cause: input.cause,
      });
      return { ...result, anchorPromise: null };
    }
    const { order, from } = result;
    this.deps.logger.info('order transition', {
      orderId: order.id,
      from,
      to: order.status,
      transition: input.transition,
    });
    const anchorPromise = await this.anchor(client, order.id);
    switch (order.status) {
      case 'CONFIRMED':
        await this.publish(client, order, 'order.confirmed', {
          orderId: order.id,
          userId: order.userId,
          items: orderLines(order),
          total: order.total,
        });
        break;
      case 'FAILED':
        await this.publish(client, order, 'order.failed', {
          orderId: order.id,
          reason: order.failureReason ?? input.reason ?? 'failed',
          items: orderLines(order),
        });
        break;
      case 'CANCELLED':
        await this.publish(client, order, 'order.cancelled', {
          orderId: order.id,
          userId: order.userId,
          reason: input.reason ?? 'cancelled',
          previousStatus: from,
          items: orderLines(order),
        });
        break;
      case 'DELIVERED':
        await this.publish(client, order, 'order.completed', { orderId: order.id });
        break;
      default:
        break;
    }
    return { ...result, anchorPromise };
  }

  /**
   * Writes the order's anchored entries for what this transaction changed (a status change, a
   * refund, the creation), in the caller's transaction; the newest entry's signed promise.
   * Call it after every write of an order.
   */
  async anchor(client: PoolClient, orderId: string): Promise<AnchorPromise | null> {
    const promises = await this.deps.anchor.record(client, {
      recordType: 'order',
      recordId: orderId,
    });
    return promises[promises.length - 1] ?? null;
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
