import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { canonicalJson } from '../util/canonical-json';
import { ValidationError } from '../errors/app-error';

const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,255}$/;

/** The optional `Idempotency-Key` header; a malformed one is a 400, never silently ignored. */
export function idempotencyKeyHeader(req: Request): string | undefined {
  const key = req.get('idempotency-key');
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new ValidationError('Invalid Idempotency-Key header', [
      {
        location: 'headers',
        field: 'idempotency-key',
        message: '1-255 characters from A-Z a-z 0-9 . _ : -',
      },
    ]);
  }
  return key;
}

/** SHA-256 of the canonical (key-sorted) body: what an Idempotency-Key is bound to. */
export function requestFingerprint(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}
