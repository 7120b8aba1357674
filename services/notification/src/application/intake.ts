import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import type { ContractEvent } from '@ecom/common/bus';
import type { EventType } from '@ecom/common/events';
import type { NotificationFacts, NotificationKind } from '../domain/kinds';
import { directoryStore } from '../store/directory-store';
import { notificationStore } from '../store/notification-store';

/** An order event's reason that is not the customer's business (the order service never knew it). */
const UNKNOWN_ORDER = 'UNKNOWN_ORDER';

interface Intended {
  kind: NotificationKind;
  /** The business fact: one message per key, whatever the event ids. */
  businessKey: string;
  orderId: string;
  userId: string | null;
  facts: NotificationFacts;
}

/**
 * What the consumed events do here, inside the consumer's handled-once transaction: keep the
 * directory (users' addresses, orders' owners) and add the notifications the sender delivers.
 */
export const intake = {
  async userKnown(
    client: PoolClient,
    event: ContractEvent<'user.created'> | ContractEvent<'user.updated'>,
  ): Promise<void> {
    const applied = await directoryStore.upsertRecipient(
      client,
      event.data,
      new Date(event.timestamp),
    );
    // Notifications waiting for this address are due now rather than at their next look.
    if (applied) await notificationStore.wake(client, event.data.userId);
  },

  async userDeleted(client: PoolClient, event: ContractEvent<'user.deleted'>): Promise<void> {
    await directoryStore.markDeleted(client, event.data.userId, new Date(event.timestamp));
    // Notifications waiting for this customer are settled now (skipped), not at their next look.
    await notificationStore.wake(client, event.data.userId);
  },

  async notify(client: PoolClient, event: ContractEvent<NotifyingEvent>): Promise<boolean> {
    const intended = intend(event);
    if (!intended) return false;
    // An event that names its customer records the order's owner, for an older event of the
    // order that does not (published before every order event named it).
    if (intended.userId) await ownerKnown(client, intended.orderId, intended.userId);
    const userId = intended.userId ?? (await directoryStore.orderOwner(client, intended.orderId));
    // With the COMMIT: an event that names its customer is then one round trip. The sender is
    // woken either way; for a fact already noted (its business key taken) its pass finds
    // nothing new.
    await notificationStore.add(client, {
      id: randomUUID(),
      eventId: event.eventId,
      eventType: event.eventType,
      businessKey: intended.businessKey,
      kind: intended.kind,
      orderId: intended.orderId,
      userId,
      facts: intended.facts,
    });
    return true;
  },
};

/** Both writes go with the COMMIT: nothing before it reads them. */
async function ownerKnown(client: PoolClient, orderId: string, userId: string): Promise<void> {
  await directoryStore.setOrderOwner(client, orderId, userId);
  await notificationStore.assignOwnerAtCommit(client, orderId, userId);
}

/** The events that notify a customer. */
export const NOTIFYING_EVENTS = [
  'order.confirmed',
  'order.failed',
  'order.cancelled',
  'order.shipped',
  'order.completed',
  'payment.refunded',
] as const satisfies readonly EventType[];

export type NotifyingEvent = (typeof NOTIFYING_EVENTS)[number];

/** The notification an event calls for, or null when none. */
export function intend(event: ContractEvent<NotifyingEvent>): Intended | null {
  switch (event.eventType) {
    case 'order.confirmed': {
      const d = (event as ContractEvent<'order.confirmed'>).data;
      return {
        kind: 'order_confirmed',
        // The order service announces an outcome again (new event id) when a reservation is
        // overdue: the same fact, no second message.
        businessKey: `order_confirmed:${d.orderId}`,
        orderId: d.orderId,
        userId: d.userId,
        facts: { orderId: d.orderId, amount: d.total, lineCount: d.items.length },
      };
    }
    case 'order.failed': {
      const d = (event as ContractEvent<'order.failed'>).data;
      if (d.reason === UNKNOWN_ORDER) return null;
      return {
        kind: 'order_failed',
        businessKey: `order_failed:${d.orderId}`,
        orderId: d.orderId,
        userId: d.userId ?? null,
        facts: { orderId: d.orderId, reason: d.reason },
      };
    }
    case 'order.cancelled': {
      const d = (event as ContractEvent<'order.cancelled'>).data;
      return {
        kind: 'order_cancelled',
        businessKey: `order_cancelled:${d.orderId}`,
        orderId: d.orderId,
        userId: d.userId,
        facts: { orderId: d.orderId, reason: d.reason },
      };
    }
    case 'order.shipped': {
      const d = (event as ContractEvent<'order.shipped'>).data;
      // A line ships once: the lines of a shipment name it.
      const shipment = d.items
        .map((i) => i.productId)
        .sort()
        .join(',');
      return {
        kind: 'order_shipped',
        businessKey: `order_shipped:${d.orderId}:${shipment}`,
        orderId: d.orderId,
        userId: d.userId,
        facts: { orderId: d.orderId, lineCount: d.items.length, fullyShipped: d.fullyShipped },
      };
    }
    case 'order.completed': {
      const d = (event as ContractEvent<'order.completed'>).data;
      return {
        kind: 'order_delivered',
        businessKey: `order_delivered:${d.orderId}`,
        orderId: d.orderId,
        userId: d.userId ?? null,
        facts: { orderId: d.orderId },
      };
    }
    case 'payment.refunded': {
      const d = (event as ContractEvent<'payment.refunded'>).data;
      return {
        kind: 'payment_refunded',
        businessKey: `payment_refunded:${d.refundId}`,
        orderId: d.orderId,
        userId: d.userId ?? null,
        facts: { orderId: d.orderId, amount: d.amount, fullyRefunded: d.fullyRefunded },
      };
    }
    default:
      return null;
  }
}
