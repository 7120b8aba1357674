import { verifyAccessToken } from '@ecom/common/auth';
import { sendJson, startHttpStub, testKeys, testJwtEnv } from '@ecom/test-support';

export interface StubProduct {
  id: string;
  name: string;
  priceCents: number;
  currency?: string;
  sellerId?: string;
  /** Free units product reports (10 when left out). */
  available?: number;
}

/**
 * A real HTTP product service answering GET /api/products/:id as the product service does;
 * `down` makes it answer 503, `calls` counts reads.
 */
export async function startProductStub(products: StubProduct[]) {
  const byId = new Map(products.map((p) => [p.id, p]));
  const state = { down: false, calls: 0, correlationIds: [] as string[] };
  const stub = await startHttpStub((req, res) => {
    state.calls += 1;
    state.correlationIds.push(String(req.headers['x-correlation-id'] ?? ''));
    if (state.down) return sendJson(res, 503, { error: { code: 'DOWN', message: 'down' } });
    const match = /^\/api\/products\/([^/?]+)$/.exec(req.url ?? '');
    const product = match ? byId.get(decodeURIComponent(match[1]!)) : undefined;
    if (!product) {
      return sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'Product not found' } });
    }
    sendJson(res, 200, {
      id: product.id,
      sellerId: product.sellerId ?? 'seller-1',
      name: product.name,
      price: { amount: product.priceCents, currency: product.currency ?? 'USD' },
      inventory: { available: product.available ?? 10, reserved: 0, lowStockThreshold: 5 },
    });
  });
  return { url: stub.url, state, products: byId, close: stub.close };
}

export interface StubProfile {
  name: string;
  address?: { line1: string; city: string; country: string; postalCode?: string; region?: string };
}

/**
 * A real HTTP auth service answering GET /api/auth/profile as auth does: it verifies the
 * bearer token (the test key pair) and answers that user's profile, 404 for an account it
 * does not hold, 401 without a valid token; `down` makes it answer 503.
 */
export async function startAuthStub(profiles: Map<string, StubProfile>) {
  const state = { down: false, calls: 0 };
  const stub = await startHttpStub((req, res) => {
    state.calls += 1;
    if (state.down) return sendJson(res, 503, { error: { code: 'DOWN', message: 'down' } });
    if (req.url !== '/api/auth/profile')
      return sendJson(res, 404, { error: { code: 'NOT_FOUND' } });
    const token = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    let userId: string | undefined;
    try {
      userId = token
        ? verifyAccessToken(token, {
            algorithm: 'ES256',
            key: testKeys.publicKey,
            issuer: testJwtEnv.JWT_ISSUER,
            audience: testJwtEnv.JWT_AUDIENCE,
          }).sub
        : undefined;
    } catch {
      userId = undefined;
    }
    if (!userId)
      return sendJson(res, 401, { error: { code: 'UNAUTHORIZED', message: 'no token' } });
    const profile = profiles.get(userId);
    if (!profile)
      return sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'User not found' } });
    sendJson(res, 200, {
      id: userId,
      email: `${userId}@example.test`,
      role: 'customer',
      ...profile,
    });
  });
  return { url: stub.url, state, close: stub.close };
}
