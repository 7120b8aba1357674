import { createHash } from 'node:crypto';
import { canonicalJson } from '@ecom/common';

/** SHA-256 of the canonical (key-sorted) body: what an Idempotency-Key is bound to. */
export function requestFingerprint(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}
