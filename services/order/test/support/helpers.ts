import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  generateEs256KeyPair,
  signAccessToken,
  verifyAccessToken,
  type AuthUser,
  type EventBus,
  type EventEnvelope,
} from '@ecom/common';

export const keys = generateEs256KeyPair();

export const jwtEnv = {
  JWT_ALGORITHM: 'ES256',
  JWT_PUBLIC_KEY: keys.publicKey,
  JWT_ISSUER: 'ecom-auth',
  JWT_AUDIENCE: 'ecom-api',
};

export function tokenFor(user: AuthUser): string {
  return signAccessToken(user, {
    algorithm: 'ES256',
    key: keys.privateKey,
    issuer: 'ecom-auth',
    audience: 'ecom-api',
    expiresIn: '15m',
  });
}

export const bearer = (user: AuthUser) => `Bearer ${tokenFor(user)}`;

/** Polls until `fn` returns a truthy value (or stops throwing), or fails after `timeoutMs`. */
export async function eventually<T>(
  fn: () => Promise<T> | T,
  { timeoutMs = 10000, intervalMs = 20, what = 'condition' } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value as NonNullable<T>;
      last = new Error(`${what}: got ${JSON.stringify(value)}`);
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw last instanceof Error ? last : new Error(String(last));
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Records every event of the given types in a group of its own. */
export async function spyOn(bus: EventBus, eventTypes: string[], group = 'spy') {
  const events: EventEnvelope[] = [];
  await bus.subscribe({
    group,
    eventTypes,
    handler: async (e) => {
      events.push(e);
    },
  });
  return {
    events,
    of: (type: string, orderId?: string) =>
      events.filter(
        (e) =>
          e.eventType === type &&
          (orderId === undefined || (e.data as { orderId?: string }).orderId === orderId),
      ),
  };
}

export interface StubProduct {
  id: string;
  name: string;
  priceCents: number;
  currency?: string;
  sellerId?: string;
}

/**
 * A tiny real HTTP product service answering GET /api/products/:id like the product service
 * does; `down` makes it answer 503, `calls` counts reads.
 */
export async function startProductStub(products: StubProduct[]) {
  const byId = new Map(products.map((p) => [p.id, p]));
  const state = { down: false, calls: 0, correlationIds: [] as string[] };
  const server = http.createServer((req, res) => {
    state.calls += 1;
    state.correlationIds.push(String(req.headers['x-correlation-id'] ?? ''));
    const match = /^\/api\/products\/([^/?]+)$/.exec(req.url ?? '');
    res.setHeader('content-type', 'application/json');
    if (state.down) {
      res.statusCode = 503;
      res.end(JSON.stringify({ error: { code: 'DOWN', message: 'down' } }));
      return;
    }
    const product = match ? byId.get(decodeURIComponent(match[1]!)) : undefined;
    if (!product) {
      res.statusCode = 404;
      res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'Product not found' } }));
      return;
    }
    res.end(
      JSON.stringify({
        id: product.id,
        sellerId: product.sellerId ?? 'seller-1',
        name: product.name,
        price: product.priceCents / 100,
        priceCents: product.priceCents,
        currency: product.currency ?? 'USD',
        inventory: { available: 10, reserved: 0, lowStockThreshold: 5 },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    products: byId,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface StubProfile {
  name: string;
  address?: { line1: string; city: string; country: string; postalCode?: string; region?: string };
}

/**
 * A tiny real HTTP auth service answering GET /api/auth/profile like auth does: it verifies
 * the bearer token (this file's key pair) and answers that user's profile, 404 for an
 * account it does not hold, 401 without a valid token; `down` makes it answer 503.
 */
export async function startAuthStub(profiles: Map<string, StubProfile>) {
  const state = { down: false, calls: 0 };
  const server = http.createServer((req, res) => {
    state.calls += 1;
    res.setHeader('content-type', 'application/json');
    const token = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    let userId: string | undefined;
    try {
      userId = token
        ? verifyAccessToken(token, {
            algorithm: 'ES256',
            key: keys.publicKey,
            issuer: 'ecom-auth',
            audience: 'ecom-api',
          }).sub
        : undefined;
    } catch {
      userId = undefined;
    }
    const send = (status: number, body: unknown) => {
      res.statusCode = status;
      res.end(JSON.stringify(body));
    };
    if (state.down) return send(503, { error: { code: 'DOWN', message: 'down' } });
    if (req.url !== '/api/auth/profile') return send(404, { error: { code: 'NOT_FOUND' } });
    if (!userId) return send(401, { error: { code: 'UNAUTHORIZED', message: 'no token' } });
    const profile = profiles.get(userId);
    if (!profile) return send(404, { error: { code: 'NOT_FOUND', message: 'User not found' } });
    send(200, {
      user: { id: userId, email: `${userId}@example.test`, role: 'customer', ...profile },
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
