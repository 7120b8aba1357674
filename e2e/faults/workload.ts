import { randomUUID } from 'node:crypto';
import { ADMIN, sleep } from './platform';

const ADDRESS = {
  name: 'Fault Tester',
  line1: '1 Chaos Way',
  city: 'Springfield',
  postalCode: '12345',
  country: 'US',
};

/** The fields of the platform's answers the workload reads. */
interface Answer {
  id?: string;
  accessToken?: string;
  refreshToken?: string;
  user?: { id: string };
  error?: { details?: { reason?: string } };
  [key: string]: unknown;
}

/**
 * A client that behaves as a careful shop front would: every request that did not get an
 * answer (a service or the gateway down, a 5xx) is sent again, with the same Idempotency-Key
 * for an order, until `patienceMs` has passed.
 */
export class Client {
  constructor(
    private readonly baseUrl: string,
    private readonly patienceMs = 120_000,
  ) {}

  async call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: Answer }> {
    const deadline = Date.now() + this.patienceMs;
    let last = '';
    for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
      try {
        const res = await fetch(`${this.baseUrl}${path}`, {
          method,
          headers: { 'content-type': 'application/json', ...headers },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(15_000),
        });
        const text = await res.text();
        if (res.status < 500 && res.status !== 429 && res.status !== 409) {
          return { status: res.status, body: text ? (JSON.parse(text) as Answer) : {} };
        }
        // 409: an Idempotency-Key still in flight (the first request's answer is not stored yet).
        last = `${res.status} ${text.slice(0, 200)}`;
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`${method} ${path}: no answer (${last})`);
      await sleep(delay);
    }
  }
}

/** A signed-in customer: its access token is replaced when a refresh is asked for. */
export interface Customer {
  token: string;
  refreshToken: string;
  refreshing?: Promise<void>;
}

export interface Shop {
  sellerToken: string;
  customers: Customer[];
}

async function signIn(client: Client, email: string, password: string): Promise<Customer> {
  const res = await client.call('POST', '/api/auth/login', { email, password });
  if (res.status !== 200) throw new Error(`login ${email}: ${res.status}`);
  return { token: res.body.accessToken as string, refreshToken: res.body.refreshToken as string };
}

async function login(client: Client, email: string, password: string): Promise<string> {
  return (await signIn(client, email, password)).token;
}

/**
 * 401 `stale`: the token is older than the revoked-session list (Redis restarted). A shop front
 * refreshes once for all its requests (a refresh token is good for one rotation) and sends
 * them again, as this does.
 */
async function refresh(client: Client, customer: Customer, stale: string): Promise<void> {
  if (customer.token !== stale) return; // another request of this customer refreshed it
  customer.refreshing ??= (async () => {
    const res = await client.call('POST', '/api/auth/refresh', {
      refreshToken: customer.refreshToken,
    });
    if (res.status !== 200) throw new Error(`refresh: ${res.status} ${JSON.stringify(res.body)}`);
    customer.token = res.body.accessToken as string;
    customer.refreshToken = res.body.refreshToken as string;
  })().finally(() => (customer.refreshing = undefined));
  await customer.refreshing;
}

/** An admin, a seller (made one by the admin) and `customers` customers, signed in. */
export async function openShop(client: Client, customers: number): Promise<Shop> {
  const adminToken = await login(client, ADMIN.email, ADMIN.password);
  const password = 'Fault#Customer2026';
  const register = async (label: string) => {
    const email = `${label}-${randomUUID().slice(0, 8)}@example.com`;
    const res = await client.call('POST', '/api/auth/register', { email, password, name: label });
    if (res.status !== 201)
      throw new Error(`register ${label}: ${res.status} ${JSON.stringify(res.body)}`);
    return { id: res.body.user!.id, email };
  };
  const seller = await register('seller');
  const promoted = await client.call(
    'PUT',
    `/api/users/${seller.id}/role`,
    { role: 'seller' },
    { authorization: `Bearer ${adminToken}` },
  );
  if (promoted.status !== 200) throw new Error(`seller role: ${promoted.status}`);
  const people = [];
  for (let i = 0; i < customers; i++) {
    const c = await register(`customer${i}`);
    people.push(await signIn(client, c.email, password));
  }
  return { sellerToken: await login(client, seller.email, password), customers: people };
}

/** Products with the given stock, created by the seller; their ids and prices. */
export async function stockShop(client: Client, shop: Shop, stocks: number[]) {
  const products: { id: string; stock: number }[] = [];
  for (const [i, stock] of stocks.entries()) {
    const res = await client.call(
      'POST',
      '/api/products',
      { name: `Fault product ${i} ${randomUUID().slice(0, 6)}`, price: 19.99, inventory: stock },
      { authorization: `Bearer ${shop.sellerToken}`, 'idempotency-key': randomUUID() },
    );
    if (res.status !== 201)
      throw new Error(`create product: ${res.status} ${JSON.stringify(res.body)}`);
    products.push({ id: res.body.id as string, stock });
  }
  return products;
}

export interface Placed {
  orderId: string;
  declined: boolean;
}

/**
 * Places `count` one-line orders, `concurrency` at a time, for random products (so scarce
 * stock is raced for), one in ten with a declined card. Each order has its own
 * Idempotency-Key, kept across the client's retries.
 */
export async function placeOrders(
  client: Client,
  shop: Shop,
  products: { id: string }[],
  count: number,
  concurrency = 4,
): Promise<Placed[]> {
  const placed: Placed[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const n = next++;
        const declined = n % 10 === 9;
        const customer = shop.customers[n % shop.customers.length];
        const product = products[n % products.length];
        const key = `faults-${randomUUID()}`;
        const send = (token: string) =>
          client.call(
            'POST',
            '/api/orders',
            {
              items: [{ productId: product.id, quantity: 1 + (n % 2) }],
              shippingAddress: ADDRESS,
              payment: { method: 'card', token: declined ? 'tok_chargeDeclined' : 'tok_visa' },
            },
            { authorization: `Bearer ${token}`, 'idempotency-key': key },
          );
        const token = customer.token;
        let res = await send(token);
        if (res.status === 401 && res.body.error?.details?.reason === 'stale') {
          await refresh(client, customer, token);
          res = await send(customer.token);
        }
        if (res.status !== 201 && res.status !== 200)
          throw new Error(`order: ${res.status} ${JSON.stringify(res.body)}`);
        placed.push({ orderId: res.body.id as string, declined });
      }
    }),
  );
  return placed;
}
