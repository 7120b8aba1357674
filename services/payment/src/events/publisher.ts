import type { PoolClient } from 'pg';
import { contractEvent } from '@ecom/common/bus';
import type { EventData, EventType } from '@ecom/common/events';
import { getContext } from '@ecom/common/logging';
import { addToOutbox } from '@ecom/common/postgres';
import type { PaymentRow } from '../store/payment-store';

export const SOURCE = 'payment-service';

/** The events payment publishes. */
export type PaymentEventType = Extract<EventType, `payment.${string}`>;

/**
 * Writes a payment event to the outbox, in the caller's transaction. Events keep the saga's
 * correlation id: the current request's or handled event's, else (reconciler) the one stored
 * with the payment.
 */
export async function publishPaymentEvent<T extends PaymentEventType>(
  client: PoolClient,
  row: PaymentRow,
  type: T,
  data: EventData<T>,
): Promise<void> {
  const overrides = getContext() ? {} : { correlationId: row.correlation_id ?? undefined };
  await addToOutbox(client, contractEvent(SOURCE, type, data, overrides));
}
