import {
  httpIdempotencyMigration,
  outboxMigrations,
  processedEventsMigration,
  type Migration,
} from '@ecom/common/postgres';
import { mockGatewayMigration } from '../gateway/mock-ledger';

/** Versioned schema of payment_db; ids sort in the order they run. Never edit a shipped one. */
export const paymentMigrations: Migration[] = [
  // From common: the outbox (its table, then its due index), the idempotent-consumer table
  // and the HTTP Idempotency-Key records ('000_...' ids run first).
  ...outboxMigrations,
  processedEventsMigration,
  httpIdempotencyMigration,
  {
    id: '001_payments',
    sql: `
      -- One payment per order, created by whichever saga event about the order comes first;
      -- its row lock serialises every handler of that order.
      CREATE TABLE payments (
        id uuid PRIMARY KEY,
        order_id text NOT NULL UNIQUE,
        user_id text,
        amount_cents bigint CHECK (amount_cents >= 0),
        currency char(3),
        method text,
        token text,
        order_known boolean NOT NULL DEFAULT false,
        reserved boolean NOT NULL DEFAULT false,
        order_closed text CHECK (order_closed IN ('CANCELLED', 'REJECTED')),
        status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'AWAITING_PAYMENT',
          'PROCESSING', 'COMPLETED', 'FAILED', 'CANCELLED', 'PARTIALLY_REFUNDED', 'REFUNDED')),
        attempts int NOT NULL DEFAULT 0,
        charge_id text,
        refunded_cents bigint NOT NULL DEFAULT 0,
        failure_code text,
        failure_reason text,
        correlation_id text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK (refunded_cents >= 0 AND refunded_cents <= COALESCE(amount_cents, 0))
      );
      CREATE INDEX payments_user_idx ON payments (user_id);

      CREATE TABLE payment_attempts (
        payment_id uuid NOT NULL REFERENCES payments (id),
        attempt int NOT NULL,
        idempotency_key text NOT NULL UNIQUE,
        source text NOT NULL CHECK (source IN ('order', 'initiate')),
        method text NOT NULL,
        token text NOT NULL,
        status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
        charge_id text,
        failure_code text,
        failure_reason text,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        completed_at timestamptz,
        PRIMARY KEY (payment_id, attempt)
      );
      CREATE INDEX payment_attempts_pending_idx ON payment_attempts (created_at) WHERE status = 'PENDING';

      CREATE TABLE refunds (
        id uuid PRIMARY KEY,
        payment_id uuid NOT NULL REFERENCES payments (id),
        amount_cents bigint NOT NULL CHECK (amount_cents > 0),
        currency char(3) NOT NULL,
        reason text,
        cause text NOT NULL CHECK (cause IN ('order.cancelled', 'admin')),
        idempotency_key text NOT NULL UNIQUE,
        status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
        gateway_refund_id text,
        failure_reason text,
        requested_by text,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        completed_at timestamptz
      );
      CREATE INDEX refunds_payment_idx ON refunds (payment_id, created_at);
      CREATE INDEX refunds_pending_idx ON refunds (created_at) WHERE status = 'PENDING';

      -- HTTP idempotency keys (initiate, refund): key + body fingerprint + first response.
      CREATE TABLE idempotency_keys (
        scope text NOT NULL,
        user_id text NOT NULL,
        key text NOT NULL,
        fingerprint text NOT NULL,
        payment_id uuid,
        response_status int,
        response_body jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (scope, user_id, key)
      );
    `,
  },
  {
    // order.failed closes a payment too (refunding a charge made for an order that failed).
    id: '002_order_failed',
    sql: `
      ALTER TABLE payments DROP CONSTRAINT IF EXISTS payments_order_closed_check;
      ALTER TABLE payments ADD CONSTRAINT payments_order_closed_check
        CHECK (order_closed IN ('CANCELLED', 'REJECTED', 'FAILED'));
      ALTER TABLE refunds DROP CONSTRAINT IF EXISTS refunds_cause_check;
      ALTER TABLE refunds ADD CONSTRAINT refunds_cause_check
        CHECK (cause IN ('order.cancelled', 'order.failed', 'admin'));
    `,
  },
  {
    // Idempotency-Key records moved to common's http_idempotency (scopes 'initiate' and
    // 'refund' unchanged, so keys sent before the move still replay).
    id: '003_common_idempotency',
    sql: `
      INSERT INTO http_idempotency (scope, user_id, key, fingerprint, resource_id,
                                    response_status, response_body, created_at)
        SELECT scope, user_id, key, fingerprint, payment_id::text, response_status,
               response_body, created_at
          FROM idempotency_keys
        ON CONFLICT DO NOTHING;
      DROP TABLE idempotency_keys;
    `,
  },
  {
    // GET /api/payments: one user's payments (or everyone's, for an admin), newest first.
    id: '004_payments_newest_first',
    sql: `
      CREATE INDEX IF NOT EXISTS payments_user_created_idx
        ON payments (user_id, created_at DESC, id DESC) WHERE order_known;
      CREATE INDEX IF NOT EXISTS payments_created_idx
        ON payments (created_at DESC, id DESC) WHERE order_known;
      DROP INDEX IF EXISTS payments_user_idx;
    `,
  },
  // The mock gateway's own books (the provider's side, never joined with payment's tables):
  // its idempotency keys and the charges and refunds it made (src/gateway/mock-ledger.ts).
  mockGatewayMigration,
  {
    // A card token is a secret needed only until its attempt is settled: settled attempts keep
    // none (and those settled before this migration lose theirs now).
    id: '006_attempt_tokens_erased',
    sql: `
      ALTER TABLE payment_attempts ALTER COLUMN token DROP NOT NULL;
      UPDATE payment_attempts SET token = NULL WHERE status <> 'PENDING' AND token IS NOT NULL;
    `,
  },
  {
    // An asynchronous provider's payment intent on its attempt (pending until a webhook or the
    // reconciler's lookup settles it), and the provider's webhook events seen (replays refused).
    id: '007_provider_intents',
    sql: `
      ALTER TABLE payment_attempts
        ADD COLUMN intent_id text,
        ADD COLUMN provider_status text,
        ADD COLUMN next_action_url text,
        ADD COLUMN provider_updated_at bigint;
      CREATE INDEX payment_attempts_intent_idx ON payment_attempts (intent_id)
        WHERE intent_id IS NOT NULL;
      CREATE TABLE provider_webhook_events (
        event_id text PRIMARY KEY,
        type text NOT NULL,
        intent_id text,
        effect text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
];
