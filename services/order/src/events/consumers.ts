import type { Pool } from 'pg';
import type { ConsumerDeps, ConsumerHandle } from '@ecom/common/bus';
import { subscribePgConsumers } from '@ecom/common/postgres';
import type { OrderSaga } from '../application/saga';

export const CONSUMER_GROUP = 'order';

/**
 * What order consumes (payloads checked against common's event contracts; each event's
 * effects commit together with its id, so it is handled once).
 */
export function subscribeOrderConsumers(
  deps: ConsumerDeps & { pool: Pool; saga: OrderSaga },
): Promise<ConsumerHandle> {
  const { saga } = deps;
  return subscribePgConsumers({
    ...deps,
    group: CONSUMER_GROUP,
    handlers: {
      'inventory.reserved': (client, event) => saga.onInventoryReserved(client, event),
      'inventory.rejected': (client, event) => saga.onInventoryRejected(client, event),
      'payment.initiated': (client, event) => saga.onPaymentInitiated(client, event),
      'payment.completed': (client, event) => saga.onPaymentCompleted(client, event),
      'payment.failed': (client, event) => saga.onPaymentFailed(client, event),
      'payment.refunded': (client, event) => saga.onPaymentRefunded(client, event),
      'user.deleted': (client, event) => saga.onUserDeleted(client, event),
      'inventory.reservation.overdue': (client, event) => saga.onReservationOverdue(client, event),
      'product.updated': async (_client, event) => saga.onProductChanged(event),
      'product.deleted': async (_client, event) => saga.onProductChanged(event),
    },
    skip: {
      // An attempt on the payment details the order came with: payment charges those only
      // after it saw inventory.reserved, and that event moves the order to PAYMENT_PROCESSING
      // itself (reservedWithPayment). Handling this one too would cost a transaction, and a wait
      // for the order's row lock beside inventory.reserved's, for at most an earlier move.
      'payment.initiated': (event) => event.data.source === 'order',
    },
  });
}
