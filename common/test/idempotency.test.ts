import express from 'express';
import request from 'supertest';
import { noopAnchor } from '../src/anchoring';
import { requireUser } from '../src/auth';
import { errorHandler, idempotencyKeyHeader, requestFingerprint } from '../src/http';
import { createLogger } from '../src/logging';

describe('Idempotency-Key helpers', () => {
  const app = express();
  app.get('/key', (req, res) => res.json({ key: idempotencyKeyHeader(req) ?? null }));
  app.get('/me', (req, res) => res.json(requireUser(req)));
  app.use(errorHandler(createLogger('test', 'silent')));

  it('returns the header when well-formed and nothing when absent', async () => {
    expect((await request(app).get('/key').set('idempotency-key', 'order-42:a.b_c')).body).toEqual({
      key: 'order-42:a.b_c',
    });
    expect((await request(app).get('/key')).body).toEqual({ key: null });
  });

  it('answers 400 in the common shape for a malformed or oversized key', async () => {
    for (const key of ['has space', 'x'.repeat(256), 'semi;colon']) {
      const res = await request(app).get('/key').set('idempotency-key', key);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'VALIDATION_ERROR' });
      expect(res.body.error.details[0]).toMatchObject({ field: 'idempotency-key' });
    }
  });

  it('binds a key to the body, whatever the key order, and tells bodies apart', () => {
    const a = requestFingerprint({ items: [{ productId: 'p', quantity: 2 }], note: 'x' });
    const b = requestFingerprint({ note: 'x', items: [{ quantity: 2, productId: 'p' }] });
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(a).toBe(b);
    expect(requestFingerprint({ items: [{ productId: 'p', quantity: 3 }], note: 'x' })).not.toBe(a);
  });

  it('requireUser answers 401 when no verified user is on the request', async () => {
    const res = await request(app).get('/me');
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('UNAUTHORIZED');
  });

  it('the no-op anchor sink records nothing', async () => {
    await expect(
      noopAnchor.record({} as never, { recordType: 'order', recordId: 'o' }),
    ).resolves.toEqual([]);
  });
});
