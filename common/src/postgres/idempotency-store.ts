import type { Pool, PoolClient } from 'pg';
import { AppError, BusinessRuleError, ConflictError } from '../errors/app-error';
import { requestFingerprint } from '../http/idempotency';
import { isUniqueViolation } from './errors';
import type { Migration } from './migrations';
import { writeAtCommit } from './transaction';

/**
 * HTTP Idempotency-Key records: the key (per scope and user), the fingerprint of the body it
 * was first sent with, what it created and, once known, the answer. The primary key makes two
 * concurrent requests with one key race-safe.
 */
export const httpIdempotencyMigration: Migration = {
  id: '000_http_idempotency',
  sql: `
    CREATE TABLE IF NOT EXISTS http_idempotency (
      scope text NOT NULL,
      user_id text NOT NULL,
      key text NOT NULL,
      fingerprint text NOT NULL,
      resource_id text,
      response_status int,
      response_body jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (scope, user_id, key)
    );
  `,
};

export interface IdempotentRequest {
  /** The operation ('orders.create', 'payments.refund'): one key may be reused across operations. */
  scope: string;
  userId: string;
  /** The Idempotency-Key header; without one the work simply runs. */
  key: string | undefined;
  /** What the key is bound to (the validated body, plus anything else that identifies the request). */
  body: unknown;
}

export interface IdempotentResult {
  status: number;
  body: unknown;
  /** True when the stored answer of an earlier request was returned. */
  replayed: boolean;
}

/**
 * Claims the key inside the work's own transaction, with the id of what it creates, so the key
 * and the resource commit (or roll back) together. With the answer (when it is known inside
 * the transaction), a concurrent duplicate gets that answer, never "still in progress".
 * `atCommit`: the claim travels with the COMMIT (withTransaction's writeAtCommit), saving its
 * round trip; a concurrent duplicate then runs its transaction up to its COMMIT before it waits
 * for the key, so use it only where nothing the work writes first would trip the duplicate up.
 */
export type ClaimKey = (
  client: PoolClient,
  resourceId: string,
  answer?: { status: number; body: unknown },
  options?: { atCommit?: boolean },
) => Promise<void>;

/**
 * Runs a request at most once per Idempotency-Key: the same key with the same body answers the
 * first answer again; with another body, 422 IDEMPOTENCY_KEY_REUSED; while the first is still
 * running, 409. Never check-then-insert: the claim is an INSERT under the primary key, and a
 * request that loses the race answers what the winner stored.
 */
export function createIdempotencyStore(pool: Pool) {
  async function stored(req: IdempotentRequest & { key: string }, fingerprint: string) {
    const { rows } = await pool.query<{
      fingerprint: string;
      resource_id: string | null;
      response_status: number | null;
      response_body: unknown;
    }>(
      `SELECT fingerprint, resource_id, response_status, response_body FROM http_idempotency
        WHERE scope = $1 AND user_id = $2 AND key = $3`,
      [req.scope, req.userId, req.key],
    );
    const row = rows[0];
    if (!row) return null;
    if (row.fingerprint !== fingerprint) {
      throw new BusinessRuleError(
        'This Idempotency-Key was used with a different request body',
        { idempotencyKey: req.key },
        'IDEMPOTENCY_KEY_REUSED',
      );
    }
    if (row.response_status === null) {
      throw new ConflictError('A request with this Idempotency-Key is still in progress', {
        resourceId: row.resource_id,
      });
    }
    return { status: row.response_status, body: row.response_body, replayed: true };
  }

  return {
    /**
     * `lookFirst: false` skips the read of a stored answer before the work, one round trip less
     * for every first request: a duplicate is then told apart by the work failing, as it must
     * when it claims the key (ClaimKey) in its transaction before anything outside that
     * transaction happens (a call, a message): the key's conflict, or any earlier refusal
     * (the thing it would create is gone now), and the stored answer is read then. Use it
     * only for such work; a duplicate pays a rolled-back attempt of the work. Looked for first
     * or not, work refused before its claim looks for the key again: a duplicate that lost the
     * race answers what the winner stored.
     */
    async run(
      req: IdempotentRequest,
      work: (claim: ClaimKey) => Promise<{ status: number; body: unknown }>,
      options: { lookFirst?: boolean } = {},
    ): Promise<IdempotentResult> {
      if (req.key === undefined) return { ...(await work(async () => undefined)), replayed: false };
      const keyed = { ...req, key: req.key };
      const fingerprint = requestFingerprint(req.body);
      const lookFirst = options.lookFirst ?? true;
      if (lookFirst) {
        const earlier = await stored(keyed, fingerprint);
        if (earlier) return earlier;
      }
      let result: { status: number; body: unknown };
      let answered = false;
      let claimed = false;
      try {
        result = await work(async (client, resourceId, answer, options) => {
          const values = [
            req.scope,
            req.userId,
            keyed.key,
            fingerprint,
            resourceId,
            answer?.status ?? null,
            answer ? JSON.stringify(answer.body) : null,
          ];
          const insert = `INSERT INTO http_idempotency (scope, user_id, key, fingerprint,
               resource_id, response_status, response_body)
             VALUES ($1, $2, $3, $4, $5, $6, $7)`;
          // With the COMMIT (writeAtCommit), or now.
          if (options?.atCommit) await writeAtCommit(client, { text: insert, values });
          else await client.query(insert, values);
          claimed = true;
          answered = answer !== undefined;
        });
      } catch (err) {
        // A concurrent request with the same key committed first (or, not looked for first, an
        // earlier one did): answer what it answered, or refuse as a look first would have. So
        // too when the work refused before it claimed the key: the first request may have used
        // up what this one read (a cart checked out is empty) after this one looked for the key
        // and before it read. A refusal after its own claim (a gateway down after the claim
        // committed) is this request's own answer: looking again would find its own claim.
        if (
          !lookFirst ||
          isUniqueViolation(err, 'http_idempotency_pkey') ||
          (err instanceof AppError && !claimed)
        ) {
          const other = await stored(keyed, fingerprint).catch((lookErr: unknown) => {
            // The store unreachable too: the work's own error is the one to report.
            throw lookErr instanceof AppError ? lookErr : err;
          });
          if (other) return other;
        }
        throw err;
      }
      if (!answered) {
        await pool.query(
          `UPDATE http_idempotency SET response_status = $4, response_body = $5
            WHERE scope = $1 AND user_id = $2 AND key = $3`,
          [req.scope, req.userId, req.key, result.status, JSON.stringify(result.body)],
        );
      }
      return { ...result, replayed: false };
    },
  };
}

export type IdempotencyStore = ReturnType<typeof createIdempotencyStore>;
