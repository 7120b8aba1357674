import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The provider's webhook signature (the scheme Stripe documents): the header
 * `Provider-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, with one
 * v1 per secret while a secret is being rotated. Pure: no I/O, the clock is passed in.
 */
export const SIGNATURE_HEADER = 'provider-signature';

/** How far the signed timestamp may be from now, in seconds (either way). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

function hmac(secret: string, timestamp: number, payload: Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(payload).digest('hex');
}

/** The header value for `payload` signed at `timestamp` with each secret (the provider's side). */
export function signatureHeader(
  payload: Buffer,
  secrets: readonly string[],
  timestamp: number,
): string {
  return [`t=${timestamp}`, ...secrets.map((s) => `v1=${hmac(s, timestamp, payload)}`)].join(',');
}

export type SignatureCheck =
  | { ok: true; timestamp: number }
  | { ok: false; reason: 'missing' | 'malformed' | 'no_match' | 'too_old' | 'too_new' };

/**
 * Checks a signature header over the raw body: well formed, one v1 matching one of `secrets`
 * (compared in constant time), a timestamp within `toleranceSeconds` of `nowSeconds`. The
 * timestamp is checked after the match, so an attacker learns nothing about secrets from it.
 */
export function verifySignature(
  header: string | undefined,
  payload: Buffer,
  secrets: readonly string[],
  nowSeconds: number,
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
): SignatureCheck {
  if (header === undefined || header.trim() === '') return { ok: false, reason: 'missing' };
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return { ok: false, reason: 'malformed' };
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (timestamp !== undefined || !/^\d{1,12}$/.test(value)) {
        return { ok: false, reason: 'malformed' };
      }
      timestamp = Number(value);
    } else if (key === 'v1') {
      if (!/^[0-9a-f]{64}$/i.test(value)) return { ok: false, reason: 'malformed' };
      signatures.push(Buffer.from(value, 'hex'));
    }
    // Other schemes (v0, future versions) are ignored, as Stripe's libraries do.
  }
  if (timestamp === undefined || signatures.length === 0) return { ok: false, reason: 'malformed' };
  const ts = timestamp;
  const expected = secrets.map((s) => Buffer.from(hmac(s, ts, payload), 'hex'));
  const matched = signatures.some((given) => expected.some((e) => timingSafeEqual(given, e)));
  if (!matched) return { ok: false, reason: 'no_match' };
  if (nowSeconds - ts > toleranceSeconds) return { ok: false, reason: 'too_old' };
  if (ts - nowSeconds > toleranceSeconds) return { ok: false, reason: 'too_new' };
  return { ok: true, timestamp: ts };
}
