import { createHmac } from 'node:crypto';
import { signatureHeader, verifySignature } from '../src/gateway/webhook-signature';

/** The scheme, computed here by hand: HMAC-SHA256(secret, "<t>.<body>") in hex. */
const v1 = (secret: string, t: number, body: string) =>
  createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');

describe('webhook signature (t=<unix>,v1=<hmac>)', () => {
  const body = Buffer.from('{"id":"evt_1","type":"payment_intent.succeeded"}');
  const now = 1_800_000_000;

  it('signs as the scheme says and verifies its own header', () => {
    const header = signatureHeader(body, ['whsec_a'], now);
    expect(header).toBe(`t=${now},v1=${v1('whsec_a', now, body.toString())}`);
    expect(verifySignature(header, body, ['whsec_a'], now)).toEqual({ ok: true, timestamp: now });
  });

  it('accepts any v1 matching any accepted secret (rotation on either side), ignores other schemes', () => {
    const header = `t=${now},v0=deadbeef,v1=${v1('whsec_old', now, body.toString())},v1=${v1('whsec_new', now, body.toString())}`;
    expect(verifySignature(header, body, ['whsec_new'], now).ok).toBe(true);
    expect(verifySignature(header, body, ['whsec_other', 'whsec_old'], now).ok).toBe(true);
    expect(verifySignature(header, body, ['whsec_other'], now)).toEqual({
      ok: false,
      reason: 'no_match',
    });
  });

  it('refuses a changed body, a missing or malformed header', () => {
    const header = signatureHeader(body, ['s'], now);
    expect(verifySignature(header, Buffer.from(`${body.toString()} `), ['s'], now).ok).toBe(false);
    expect(verifySignature(undefined, body, ['s'], now)).toEqual({ ok: false, reason: 'missing' });
    for (const bad of [
      'garbage',
      `v1=${v1('s', now, body.toString())}`,
      `t=${now}`,
      `t=${now},v1=xyz`,
      `t=abc,v1=${v1('s', now, body.toString())}`,
      `t=${now},t=${now},v1=${v1('s', now, body.toString())}`,
    ]) {
      expect(verifySignature(bad, body, ['s'], now)).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('allows 300 s either way by default, not more', () => {
    const at = (t: number) => signatureHeader(body, ['s'], t);
    expect(verifySignature(at(now - 300), body, ['s'], now).ok).toBe(true);
    expect(verifySignature(at(now - 301), body, ['s'], now)).toEqual({
      ok: false,
      reason: 'too_old',
    });
    expect(verifySignature(at(now + 301), body, ['s'], now)).toEqual({
      ok: false,
      reason: 'too_new',
    });
    expect(verifySignature(at(now - 20), body, ['s'], now, 10)).toEqual({
      ok: false,
      reason: 'too_old',
    });
  });
});
