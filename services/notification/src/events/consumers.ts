import type { Pool } from 'pg';
import type { ConsumerDeps, ConsumerHandle } from '@ecom/common/bus';
import { subscribePgConsumers } from '@ecom/common/postgres';
import { intake } from '../application/intake';

export const CONSUMER_GROUP = 'notification';

/**
 * What notification consumes: user.* keep the local directory of addresses (no call to auth),
 * and the order and payment events a customer cares about each add one notification; each
 * names its customer, so the saga's first event, order.created, is not read here (ADR 0053). Payloads are checked against common's contracts; each event runs
 * once per eventId, in one transaction with its writes. `added` runs after the commit of every
 * notifying event (the sender is woken instead of waiting for its next tick; for a fact
 * already noted its pass finds nothing new).
 */
export function subscribeNotificationConsumers(
  deps: ConsumerDeps & { pool: Pool; added: () => void },
): Promise<ConsumerHandle> {
  return subscribePgConsumers<
    | 'user.created'
    | 'user.updated'
    | 'user.deleted'
    | 'order.confirmed'
    | 'order.failed'
    | 'order.cancelled'
    | 'order.shipped'
    | 'order.completed'
    | 'payment.refunded',
    boolean
  >({
    ...deps,
    group: CONSUMER_GROUP,
    handlers: {
      'user.created': async (client, event) => {
        await intake.userKnown(client, event);
        return true;
      },
      'user.updated': async (client, event) => {
        await intake.userKnown(client, event);
        return true;
      },
      'user.deleted': async (client, event) => {
        await intake.userDeleted(client, event);
        return true;
      },
      'order.confirmed': (client, event) => intake.notify(client, event),
      'order.failed': (client, event) => intake.notify(client, event),
      'order.cancelled': (client, event) => intake.notify(client, event),
      'order.shipped': (client, event) => intake.notify(client, event),
      'order.completed': (client, event) => intake.notify(client, event),
      'payment.refunded': (client, event) => intake.notify(client, event),
    },
    afterCommit: async (woken) => {
      if (woken) deps.added();
    },
  });
}
