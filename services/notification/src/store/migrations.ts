import { processedEventsMigration, type Migration } from '@ecom/common/postgres';

/** Versioned schema of notification_db; ids sort in the order they run. Never edit a shipped one. */
export const notificationMigrations: Migration[] = [
  // From common: the idempotent-consumer table ('000_...' runs first).
  processedEventsMigration,
  {
    id: '001_notifications',
    sql: `
      -- The customers' addresses, kept from user.* events (no call to auth). A deleted user
      -- keeps a tombstone without address: a late event about them is skipped, not retried.
      CREATE TABLE recipients (
        user_id text PRIMARY KEY,
        email text,
        name text,
        deleted boolean NOT NULL DEFAULT false,
        -- The event time of the last change applied: an older event changes nothing.
        as_of timestamptz NOT NULL
      );

      -- Whose order it is (order.failed, order.completed and payment.refunded do not say).
      CREATE TABLE order_owners (
        order_id text PRIMARY KEY,
        user_id text NOT NULL
      );

      CREATE TABLE preferences (
        user_id text PRIMARY KEY,
        opted_out text[] NOT NULL DEFAULT '{}',
        updated_at timestamptz NOT NULL DEFAULT now()
      );

      -- One row per message: idempotent per event (event_id) and per business fact
      -- (business_key: the same order confirmed twice, under two event ids, is one message).
      CREATE TABLE notifications (
        id uuid PRIMARY KEY,
        event_id text NOT NULL UNIQUE,
        event_type text NOT NULL,
        business_key text NOT NULL UNIQUE,
        kind text NOT NULL,
        order_id text,
        user_id text,
        facts jsonb NOT NULL,
        status text NOT NULL DEFAULT 'PENDING'
          CHECK (status IN ('PENDING', 'SENT', 'SKIPPED', 'FAILED')),
        recipient text,
        subject text,
        attempts int NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz
      );
      CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'PENDING';
      CREATE INDEX notifications_user ON notifications (user_id, created_at DESC);
      CREATE INDEX notifications_order ON notifications (order_id) WHERE user_id IS NULL;

      -- Each attempt and what it came to: what the customer lists with the notification.
      CREATE TABLE notification_attempts (
        notification_id uuid NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
        attempt int NOT NULL,
        outcome text NOT NULL CHECK (outcome IN ('SENT', 'FAILED', 'SKIPPED')),
        detail text,
        at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (notification_id, attempt)
      );
    `,
  },
  {
    id: '002_safe_send_errors',
    sql: `
      -- Failed attempts kept the mail server's own words ('SMTP: ...'), which customers listed
      -- and which can name a relay's internal hosts. Which kind of failure they were is not
      -- known any more: they become the generic code the sender now records for an unknown one.
      UPDATE notification_attempts SET detail = 'SEND_FAILED: the mail could not be sent'
       WHERE detail LIKE 'SMTP: %';
      UPDATE notifications SET last_error = 'SEND_FAILED: the mail could not be sent'
       WHERE last_error LIKE 'SMTP: %';
    `,
  },
  {
    id: '003_recipient_budgets',
    sql: `
      -- The mails sent to each address within the budget's window (docs/adr/0059), one row per
      -- address, so taking a slot is one conditional upsert under the row's lock (atomic across
      -- replicas). The address is kept as a digest of its budget form (lower case, no
      -- +suffix): this is a counter, not another list of addresses, and it outlives the
      -- account (a deleted and re-registered account gets no fresh budget).
      CREATE TABLE recipient_budgets (
        address_digest text PRIMARY KEY,
        sent_at timestamptz[] NOT NULL,
        last_sent_at timestamptz NOT NULL
      );
      CREATE INDEX recipient_budgets_last_sent ON recipient_budgets (last_sent_at);
    `,
  },
];
