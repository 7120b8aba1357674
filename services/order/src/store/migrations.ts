import {
  httpIdempotencyMigration,
  outboxMigrations,
  processedEventsMigration,
  type Migration,
} from '@ecom/common/postgres';

/** Versioned schema of order_db; ids sort in the order they run. Never edit a shipped one. */
export const orderMigrations: Migration[] = [
  // From common: the outbox (its table, then its due index), the idempotent-consumer table
  // and the HTTP Idempotency-Key records ('000_...' ids run first).
  ...outboxMigrations,
  processedEventsMigration,
  httpIdempotencyMigration,
  {
    id: '001_orders',
    sql: `
      CREATE TABLE orders (
        id uuid PRIMARY KEY,
        user_id text NOT NULL,
        status text NOT NULL CHECK (status IN ('PENDING', 'AWAITING_PAYMENT', 'PAYMENT_PROCESSING',
          'CONFIRMED', 'SHIPPED', 'DELIVERED', 'FAILED', 'CANCELLED')),
        currency char(3) NOT NULL,
        total_cents bigint NOT NULL CHECK (total_cents >= 0),
        refunded_cents bigint NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0),
        payment_method text,
        payment_id text,
        shipping_address jsonb NOT NULL,
        failure_reason text,
        correlation_id text NOT NULL,
        reservation_expires_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX orders_user_created_idx ON orders (user_id, created_at DESC, id);
      CREATE INDEX orders_status_created_idx ON orders (status, created_at DESC);
      CREATE INDEX orders_awaiting_expiry_idx ON orders (reservation_expires_at)
        WHERE status = 'AWAITING_PAYMENT';

      CREATE TABLE order_items (
        order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
        line_no int NOT NULL,
        product_id text NOT NULL,
        name text NOT NULL,
        seller_id text,
        quantity int NOT NULL CHECK (quantity > 0),
        unit_price_cents bigint NOT NULL CHECK (unit_price_cents >= 0),
        line_total_cents bigint NOT NULL CHECK (line_total_cents >= 0),
        PRIMARY KEY (order_id, line_no)
      );
      CREATE INDEX order_items_seller_idx ON order_items (seller_id);

      CREATE TABLE order_status_history (
        id bigserial PRIMARY KEY,
        order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
        from_status text,
        to_status text NOT NULL,
        cause_type text NOT NULL CHECK (cause_type IN ('request', 'event', 'system')),
        cause_id text,
        cause_event_type text,
        actor_id text,
        reason text,
        at timestamptz NOT NULL DEFAULT clock_timestamp()
      );
      CREATE INDEX order_status_history_order_idx ON order_status_history (order_id, id);

      -- HTTP idempotency: the unique key makes concurrent duplicates race-safe.
      CREATE TABLE idempotency_keys (
        user_id text NOT NULL,
        key text NOT NULL,
        fingerprint text NOT NULL,
        order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
        response_status int NOT NULL,
        response_body jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, key)
      );
    `,
  },
  {
    // The payment id known when a transition happened, so an anchored status change can be
    // rebuilt from its history row alone (orders.payment_id changes later).
    id: '002_history_payment_id',
    sql: `ALTER TABLE order_status_history ADD COLUMN IF NOT EXISTS payment_id text;`,
  },
  {
    // The highest payment attempt whose outcome order has seen. payment.initiated and the
    // decline of the same attempt may arrive in either order; a stale "initiated" must not
    // move an order that already went back to AWAITING_PAYMENT.
    id: '003_payment_attempt_settled',
    sql: `ALTER TABLE orders ADD COLUMN IF NOT EXISTS payment_attempt_settled integer NOT NULL DEFAULT 0;`,
  },
  {
    // When order last told payment that a PAYMENT_PROCESSING order is overdue (order.payment.overdue),
    // so the sweeper asks again only after another interval.
    id: '004_payment_checked_at',
    sql: `
      ALTER TABLE orders ADD COLUMN IF NOT EXISTS payment_checked_at timestamptz;
      CREATE INDEX IF NOT EXISTS orders_processing_since_idx ON orders (updated_at)
        WHERE status = 'PAYMENT_PROCESSING';
    `,
  },
  {
    // Idempotency-Key records moved to common's http_idempotency (scope 'orders.create'), and
    // the one address shape of the platform: `state` is now `region`.
    id: '005_common_idempotency_and_address',
    sql: `
      INSERT INTO http_idempotency (scope, user_id, key, fingerprint, resource_id,
                                    response_status, response_body, created_at)
        SELECT 'orders.create', user_id, key, fingerprint, order_id::text, response_status,
               response_body, created_at
          FROM idempotency_keys
        ON CONFLICT DO NOTHING;
      DROP TABLE idempotency_keys;
      UPDATE orders
         SET shipping_address = (shipping_address - 'state')
             || jsonb_build_object('region', shipping_address->'state')
       WHERE shipping_address ? 'state';
    `,
  },
  {
    // Each refund payment reports, once (its id is the key): a change of the order with a row of
    // its own, so it has its own anchored entry and cannot be added or removed unnoticed.
    id: '006_order_refunds',
    sql: `
      CREATE TABLE IF NOT EXISTS order_refunds (
        refund_id text PRIMARY KEY,
        order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
        payment_id text NOT NULL,
        amount_cents bigint NOT NULL CHECK (amount_cents > 0),
        currency char(3) NOT NULL,
        at timestamptz NOT NULL DEFAULT clock_timestamp()
      );
      CREATE INDEX IF NOT EXISTS order_refunds_order_idx ON order_refunds (order_id, at);
    `,
  },
  {
    // How often the sweeper re-sent order.created for an order left PENDING (nobody answered
    // it), and when last; and a way to find the order's original order.created in the outbox
    // (its payment token is kept nowhere else).
    id: '007_pending_resends',
    sql: `
      ALTER TABLE orders ADD COLUMN IF NOT EXISTS created_resends integer NOT NULL DEFAULT 0;
      ALTER TABLE orders ADD COLUMN IF NOT EXISTS created_resent_at timestamptz;
      CREATE INDEX IF NOT EXISTS orders_pending_since_idx ON orders (updated_at)
        WHERE status = 'PENDING';
      CREATE INDEX IF NOT EXISTS event_outbox_order_created_idx
        ON event_outbox ((payload->'data'->>'orderId')) WHERE event_type = 'order.created';
    `,
  },
  {
    // Fulfilment per seller (docs/adr/0013): each line is shipped and delivered on its own (by
    // its seller, or an admin), and the order follows its lines, through PARTIALLY_SHIPPED when
    // some but not all are shipped. Existing lines keep NULL: a line with nothing stored is
    // where its order is (domain/fulfilment.ts), and backfilling would change the anchored
    // state of every shipped order without a new entry (verification: TAMPERED).
    id: '008_line_fulfilment',
    sql: `
      ALTER TABLE order_items
        ADD COLUMN IF NOT EXISTS fulfilment_status text
          CHECK (fulfilment_status IN ('SHIPPED', 'DELIVERED')),
        ADD COLUMN IF NOT EXISTS shipped_at timestamptz,
        ADD COLUMN IF NOT EXISTS shipped_by text,
        ADD COLUMN IF NOT EXISTS delivered_at timestamptz,
        ADD COLUMN IF NOT EXISTS delivered_by text;
      ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_status_check;
      ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN ('PENDING',
        'AWAITING_PAYMENT', 'PAYMENT_PROCESSING', 'CONFIRMED', 'PARTIALLY_SHIPPED', 'SHIPPED',
        'DELIVERED', 'FAILED', 'CANCELLED'));
    `,
  },
  {
    // Carts (docs/adr/0022): beside the orders they become, so checkout closes the cart and
    // creates the order in one transaction. A customer has at most one OPEN cart; a guest cart
    // is found by the hash of its token (the token itself is never stored). Lines are read and
    // written whole under the row lock, so they live in the row.
    id: '009_carts',
    sql: `
      CREATE TABLE IF NOT EXISTS carts (
        id uuid PRIMARY KEY,
        user_id text,
        token_hash text,
        status text NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'CHECKED_OUT', 'MERGED')),
        lines jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(lines) = 'array'),
        version integer NOT NULL DEFAULT 0,
        order_id uuid REFERENCES orders (id) ON DELETE SET NULL,
        merged_into uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        closed_at timestamptz,
        CHECK ((user_id IS NULL) <> (token_hash IS NULL))
      );
      CREATE UNIQUE INDEX IF NOT EXISTS carts_open_user_idx ON carts (user_id)
        WHERE status = 'OPEN' AND user_id IS NOT NULL;
      CREATE UNIQUE INDEX IF NOT EXISTS carts_token_idx ON carts (token_hash)
        WHERE token_hash IS NOT NULL;
      CREATE INDEX IF NOT EXISTS carts_guest_updated_idx ON carts (updated_at)
        WHERE token_hash IS NOT NULL;
    `,
  },
  {
    // A cart's one currency kept with it (domain/cart.ts cartCurrency): set by the first line
    // added to the empty cart, NULL while empty. Only product knows a line's currency, so carts
    // stored before get it from their lines on their first read or change, not here. A nullable
    // column without a default changes the catalogue only (no rewrite, no scan); the lock
    // timeout fails this start (the next one runs it again) rather than queue every cart
    // request behind a transaction holding the table.
    id: '010_cart_currency',
    sql: `
      SET LOCAL lock_timeout = '5s';
      ALTER TABLE carts ADD COLUMN IF NOT EXISTS currency char(3);
    `,
  },
  {
    // An account's open orders placed without payment details, counted before each such order
    // (domain/unpaid-holds.ts): a few rows per account, whatever its history. The build blocks
    // writes to orders while it scans them (a partial index of few rows, but over the whole
    // table); the lock timeout fails this start (the next runs it again) rather than queue
    // every order behind a long transaction.
    id: '011_unpaid_holds',
    sql: `
      SET LOCAL lock_timeout = '5s';
      CREATE INDEX IF NOT EXISTS orders_unpaid_user_idx ON orders (user_id)
        WHERE payment_method IS NULL
          AND status IN ('PENDING', 'AWAITING_PAYMENT', 'PAYMENT_PROCESSING');
    `,
  },
  {
    // Accounts deleted (user.deleted), so an order request already past the gateway when its
    // account went cannot be placed after order cancelled the account's open orders. The
    // trigger and the event's handler (orderStore.closeAccount) take one lock per account: an
    // order inserted before the handler holds it shared until its commit, so the handler's
    // list of open orders, taken after the lock, sees it; one inserted after reads the closed
    // account (each statement of a VOLATILE function reads what was committed when it began).
    id: '012_closed_accounts',
    sql: `
      SET LOCAL lock_timeout = '5s';
      CREATE TABLE IF NOT EXISTS closed_accounts (
        user_id text PRIMARY KEY,
        closed_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE OR REPLACE FUNCTION orders_refuse_closed_account() RETURNS trigger
        LANGUAGE plpgsql VOLATILE AS $$
      BEGIN
        PERFORM pg_advisory_xact_lock_shared(hashtextextended('order:account:' || NEW.user_id, 0));
        IF EXISTS (SELECT 1 FROM closed_accounts WHERE user_id = NEW.user_id) THEN
          RAISE EXCEPTION 'account % was deleted', NEW.user_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'orders_account_open';
        END IF;
        RETURN NEW;
      END
      $$;
      CREATE TRIGGER orders_account_open BEFORE INSERT ON orders
        FOR EACH ROW EXECUTE FUNCTION orders_refuse_closed_account();
    `,
  },
];
