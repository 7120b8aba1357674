import type { Pool, PoolClient } from 'pg';
import { withTransaction, type Migration } from '@ecom/common/postgres';
import type { ChargeResult, RefundResult } from './gateway';

/**
 * The mock provider's own books: every idempotency key it was sent, the fingerprint of the
 * request that first used it and the answer it gave, plus the money it moved (charges, and
 * what was refunded of each). This is the PROVIDER's side of the adapter, not payment's
 * records: a real gateway keeps the same on its servers, which is why a retried call after a
 * payment restart must find it.
 */

/** One idempotency key of a charge, as the provider keeps it. */
export interface LedgerCharge {
  idempotencyKey: string;
  /** The request that first used the key (amount, currency, method, token), hashed. */
  fingerprint: string;
  amount: number;
  currency: string;
  /** The answer given to the first request and replayed to every later one. */
  result: ChargeResult;
  /** Refunded so far (succeeded refunds against `result.chargeId`). */
  refunded: number;
  /** How many requests presented the key, the first included (a refused reuse included). */
  requests: number;
}

/** One idempotency key of a refund, as the provider keeps it. */
export interface LedgerRefund {
  idempotencyKey: string;
  fingerprint: string;
  /** The charge the refund was asked for (possibly one the provider does not know). */
  chargeId: string;
  amount: number;
  currency: string;
  result: RefundResult;
  requests: number;
}

/** Keys matched exactly, or every key starting with a prefix (`${orderId}:` → each attempt). */
export type LedgerMatch = { idempotencyKey: string } | { keyPrefix: string };

export type NewCharge = Omit<LedgerCharge, 'refunded' | 'requests'>;
export type NewRefund = Omit<LedgerRefund, 'result' | 'requests'>;
/** Decides a new refund from the charge it is for as it stands (null: unknown charge). */
export type RefundDecision = (charge: { amount: number; refunded: number } | null) => RefundResult;

/**
 * Where the mock gateway keeps its keys. Both operations are atomic per key: of concurrent
 * first requests with one key exactly one is kept (`created`), the others get what it kept.
 */
export interface MockGatewayLedger {
  /** Keeps `charge` unless its key is known; answers what the key holds. */
  recordCharge(charge: NewCharge): Promise<{ stored: LedgerCharge; created: boolean }>;
  /**
   * Keeps a refund decided by `decide` (under the charge's lock: refunds of one charge never
   * sum above it) unless its key is known; answers what the key holds.
   */
  recordRefund(
    refund: NewRefund,
    decide: RefundDecision,
  ): Promise<{ stored: LedgerRefund; created: boolean }>;
  /** The charges kept under the matching keys, oldest first. */
  charges(match: LedgerMatch): Promise<LedgerCharge[]>;
  /** The refunds kept under the matching keys, or asked for one charge, oldest first. */
  refunds(match: LedgerMatch | { chargeId: string }): Promise<LedgerRefund[]>;
}

function matches(key: string, match: LedgerMatch): boolean {
  return 'idempotencyKey' in match ? key === match.idempotencyKey : key.startsWith(match.keyPrefix);
}

/**
 * Keys in process memory: forgotten when the process ends. For a gateway object that outlives
 * the payment instances it serves (the saga harness keeps one across payment restarts) and for
 * tests without a database.
 */
export class InMemoryMockGatewayLedger implements MockGatewayLedger {
  private readonly chargeKeys = new Map<string, LedgerCharge>();
  private readonly refundKeys = new Map<string, LedgerRefund>();

  async recordCharge(charge: NewCharge) {
    const known = this.chargeKeys.get(charge.idempotencyKey);
    if (known) {
      known.requests += 1;
      return { stored: { ...known }, created: false };
    }
    const stored: LedgerCharge = { ...charge, refunded: 0, requests: 1 };
    this.chargeKeys.set(charge.idempotencyKey, stored);
    return { stored: { ...stored }, created: true };
  }

  async recordRefund(refund: NewRefund, decide: RefundDecision) {
    const known = this.refundKeys.get(refund.idempotencyKey);
    if (known) {
      known.requests += 1;
      return { stored: { ...known }, created: false };
    }
    const charge = [...this.chargeKeys.values()].find(
      (c) => c.result.ok && c.result.chargeId === refund.chargeId,
    );
    const result = decide(charge ? { amount: charge.amount, refunded: charge.refunded } : null);
    if (charge && result.ok) charge.refunded += refund.amount;
    const stored: LedgerRefund = { ...refund, result, requests: 1 };
    this.refundKeys.set(refund.idempotencyKey, stored);
    return { stored: { ...stored }, created: true };
  }

  async charges(match: LedgerMatch) {
    return [...this.chargeKeys.values()]
      .filter((c) => matches(c.idempotencyKey, match))
      .map((c) => ({ ...c }));
  }

  async refunds(match: LedgerMatch | { chargeId: string }) {
    return [...this.refundKeys.values()]
      .filter((r) =>
        'chargeId' in match ? r.chargeId === match.chargeId : matches(r.idempotencyKey, match),
      )
      .map((r) => ({ ...r }));
  }
}

/**
 * The mock provider's tables, in payment_db beside (and never joined with) payment's own: the
 * mock stands for a remote system, so nothing of payment reads them except the mock gateway
 * and tests. Keys are per operation, as the service's formats never share one between a charge
 * (`<orderId>:<attempt>`) and a refund (`<paymentId>:refund:<n>`).
 */
export const mockGatewayMigration: Migration = {
  id: '005_mock_gateway',
  sql: `
    CREATE TABLE mock_gateway_charges (
      idempotency_key text PRIMARY KEY,
      fingerprint text NOT NULL,
      amount_cents bigint NOT NULL,
      currency text NOT NULL,
      charge_id text UNIQUE,
      failure_code text,
      failure_reason text,
      refunded_cents bigint NOT NULL DEFAULT 0,
      requests int NOT NULL DEFAULT 1,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      last_requested_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      -- Charged (a charge id) or declined (a code), never both.
      CHECK ((charge_id IS NULL) <> (failure_code IS NULL)),
      CHECK (refunded_cents >= 0 AND refunded_cents <= amount_cents)
    );
    CREATE TABLE mock_gateway_refunds (
      idempotency_key text PRIMARY KEY,
      fingerprint text NOT NULL,
      charge_id text NOT NULL,
      amount_cents bigint NOT NULL,
      currency text NOT NULL,
      refund_id text UNIQUE,
      failure_code text,
      failure_reason text,
      requests int NOT NULL DEFAULT 1,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      last_requested_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      CHECK ((refund_id IS NULL) <> (failure_code IS NULL))
    );
    CREATE INDEX mock_gateway_refunds_charge_idx ON mock_gateway_refunds (charge_id);
  `,
};

interface ChargeRow {
  idempotency_key: string;
  fingerprint: string;
  amount_cents: string;
  currency: string;
  charge_id: string | null;
  failure_code: string | null;
  failure_reason: string | null;
  refunded_cents: string;
  requests: number;
}

interface RefundRow {
  idempotency_key: string;
  fingerprint: string;
  charge_id: string;
  amount_cents: string;
  currency: string;
  refund_id: string | null;
  failure_code: string | null;
  failure_reason: string | null;
  requests: number;
}

const chargeOf = (r: ChargeRow): LedgerCharge => ({
  idempotencyKey: r.idempotency_key,
  fingerprint: r.fingerprint,
  amount: Number(r.amount_cents),
  currency: r.currency,
  result: r.charge_id
    ? { ok: true, chargeId: r.charge_id }
    : { ok: false, code: r.failure_code ?? '', reason: r.failure_reason ?? '' },
  refunded: Number(r.refunded_cents),
  requests: r.requests,
});

const refundOf = (r: RefundRow): LedgerRefund => ({
  idempotencyKey: r.idempotency_key,
  fingerprint: r.fingerprint,
  chargeId: r.charge_id,
  amount: Number(r.amount_cents),
  currency: r.currency,
  result: r.refund_id
    ? { ok: true, refundId: r.refund_id }
    : { ok: false, code: r.failure_code ?? '', reason: r.failure_reason ?? '' },
  requests: r.requests,
});

/** WHERE clause of a LedgerMatch on idempotency_key ($1). */
const keyCondition = (match: LedgerMatch) =>
  'idempotencyKey' in match
    ? { sql: 'idempotency_key = $1', value: match.idempotencyKey }
    : { sql: 'starts_with(idempotency_key, $1)', value: match.keyPrefix };

/**
 * Keys in PostgreSQL (the mock_gateway_* tables of payment_db): they survive a payment
 * restart, so a retried call with a known key gets the first answer, as from a real provider.
 * A known key bumps `requests` in the same statement that finds it (INSERT ... ON CONFLICT).
 */
export class PgMockGatewayLedger implements MockGatewayLedger {
  constructor(private readonly pool: Pool) {}

  async recordCharge(c: NewCharge) {
    const { rows } = await this.pool.query<ChargeRow>(
      `INSERT INTO mock_gateway_charges AS t (idempotency_key, fingerprint, amount_cents, currency,
         charge_id, failure_code, failure_reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (idempotency_key) DO UPDATE
         SET requests = t.requests + 1, last_requested_at = clock_timestamp()
       RETURNING *`,
      [
        c.idempotencyKey,
        c.fingerprint,
        c.amount,
        c.currency,
        c.result.ok ? c.result.chargeId : null,
        c.result.ok ? null : c.result.code,
        c.result.ok ? null : c.result.reason,
      ],
    );
    const stored = chargeOf(rows[0]!);
    return { stored, created: stored.requests === 1 };
  }

  recordRefund(r: NewRefund, decide: RefundDecision) {
    return withTransaction(this.pool, async (client) => {
      // The charge's row lock serialises every refund of it: their sum stays within it.
      const charge = await this.lockCharge(client, r.chargeId);
      const result = decide(charge);
      const { rows } = await client.query<RefundRow>(
        `INSERT INTO mock_gateway_refunds AS t (idempotency_key, fingerprint, charge_id,
           amount_cents, currency, refund_id, failure_code, failure_reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (idempotency_key) DO UPDATE
           SET requests = t.requests + 1, last_requested_at = clock_timestamp()
         RETURNING *`,
        [
          r.idempotencyKey,
          r.fingerprint,
          r.chargeId,
          r.amount,
          r.currency,
          result.ok ? result.refundId : null,
          result.ok ? null : result.code,
          result.ok ? null : result.reason,
        ],
      );
      const stored = refundOf(rows[0]!);
      const created = stored.requests === 1;
      if (created && result.ok) {
        await client.query(
          `UPDATE mock_gateway_charges SET refunded_cents = refunded_cents + $2
            WHERE charge_id = $1`,
          [r.chargeId, r.amount],
        );
      }
      return { stored, created };
    });
  }

  async charges(match: LedgerMatch) {
    const where = keyCondition(match);
    const { rows } = await this.pool.query<ChargeRow>(
      `SELECT * FROM mock_gateway_charges WHERE ${where.sql} ORDER BY created_at, idempotency_key`,
      [where.value],
    );
    return rows.map(chargeOf);
  }

  async refunds(match: LedgerMatch | { chargeId: string }) {
    const where =
      'chargeId' in match ? { sql: 'charge_id = $1', value: match.chargeId } : keyCondition(match);
    const { rows } = await this.pool.query<RefundRow>(
      `SELECT * FROM mock_gateway_refunds WHERE ${where.sql} ORDER BY created_at, idempotency_key`,
      [where.value],
    );
    return rows.map(refundOf);
  }

  private async lockCharge(client: PoolClient, chargeId: string) {
    const { rows } = await client.query<Pick<ChargeRow, 'amount_cents' | 'refunded_cents'>>(
      'SELECT amount_cents, refunded_cents FROM mock_gateway_charges WHERE charge_id = $1 FOR UPDATE',
      [chargeId],
    );
    const row = rows[0];
    return row ? { amount: Number(row.amount_cents), refunded: Number(row.refunded_cents) } : null;
  }
}
