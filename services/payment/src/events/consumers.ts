import type { Pool } from 'pg';
import type { ConsumerDeps, ConsumerHandle } from '@ecom/common/bus';
import { subscribePgConsumers } from '@ecom/common/postgres';
import type { GatewayCalls } from '../application/gateway-calls';
import type { PaymentSaga } from '../application/saga';

export const CONSUMER_GROUP = 'payment';

/**
 * What payment consumes (payloads checked against common's event contracts). Each event's
 * effects commit with its id (handled once); the gateway call a handler claimed runs after
 * that commit, so a redelivered event finds the claim and never calls the gateway again.
 */
export function subscribePaymentConsumers(
  deps: ConsumerDeps & { pool: Pool; saga: PaymentSaga; calls: GatewayCalls },
): Promise<ConsumerHandle> {
  const { saga, calls } = deps;
  return subscribePgConsumers({
    ...deps,
    group: CONSUMER_GROUP,
    handlers: {
      'order.created': (client, event) => saga.onOrderCreated(client, event),
      'inventory.reserved': (client, event) => saga.onInventoryReserved(client, event),
      'inventory.rejected': (client, event) => saga.onInventoryRejected(client, event),
      'order.cancelled': (client, event) => saga.onOrderCancelled(client, event),
      'order.failed': (client, event) => saga.onOrderFailed(client, event),
      'order.payment.overdue': (client, event) => saga.onPaymentOverdue(client, event),
    },
    afterCommit: (followUp) => calls.runFollowUp(followUp),
  });
}
