import type { Pool, PoolClient } from 'pg';
import { isUniqueViolation } from './errors';
import type { Migration } from './migrations';
import { withTransaction } from './transaction';
import type { EventEnvelope } from '../bus/envelope';

import type { HandleOutcome } from '../bus/consumer';

/** (consumer, event_id) is the key: one row per event handled by each consumer. */
export const processedEventsMigration: Migration = {
  id: '000_processed_events',
  sql: `
    CREATE TABLE IF NOT EXISTS processed_events (
      consumer text NOT NULL,
      event_id text NOT NULL,
      event_type text NOT NULL,
      processed_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (consumer, event_id)
    );
  `,
};

/** The key was there: another delivery of the event was handled (or is being handled) first. */
class AlreadyHandled extends Error {}

// The event's key, sent with BEGIN in a simple query (withTransaction's opening): prepared on
// the connection, or written in.
const INSERT_KEY =
  'INSERT INTO processed_events (consumer, event_id, event_type) VALUES ($1, $2, $3)';
const INSERT_KEY_ONCE = `${INSERT_KEY} ON CONFLICT (consumer, event_id) DO NOTHING`;

/**
 * Runs `fn` once per (consumer, eventId). The key is inserted FIRST, under the primary key, in
 * the same transaction as fn's writes: a concurrent second delivery waits on that row lock and
 * then sees the conflict, so two deliveries never both run fn (no check-then-insert race).
 * A duplicate returns 'duplicate' (ack it, do nothing); if fn throws, everything including the
 * key rolls back and the error propagates, so the bus retries the event.
 *
 * The key travels with BEGIN and fn's first statement, in one round trip: for a duplicate, that
 * first statement fails (AlreadyHandled) before fn sees its answer, and the transaction with
 * whatever it did is rolled back. When fn sends nothing (its writes wait for the COMMIT), the
 * key goes as a plain INSERT with them and the COMMIT: one round trip for the whole event.
 */
export async function handleEventOnce(
  pool: Pool,
  consumer: string,
  event: EventEnvelope,
  fn: (client: PoolClient) => Promise<void>,
): Promise<HandleOutcome> {
  const values = [consumer, event.eventId, event.eventType];
  try {
    await withTransaction(pool, fn, {
      opening: {
        statement: { text: INSERT_KEY_ONCE, values },
        check: (inserted) => {
          if (inserted.rowCount === 0) throw new AlreadyHandled();
        },
        // A handler that only writes at the COMMIT: the plain INSERT's unique violation is the
        // duplicate, and stops the COMMIT in the same round trip.
        failing: {
          statement: { text: INSERT_KEY, values },
          refused: (err) =>
            isUniqueViolation(err, 'processed_events_pkey') &&
            String((err as { detail?: unknown }).detail).includes(event.eventId)
              ? new AlreadyHandled()
              : undefined,
        },
      },
    });
    return 'handled';
  } catch (err) {
    if (err instanceof AlreadyHandled) return 'duplicate';
    throw err;
  }
}
