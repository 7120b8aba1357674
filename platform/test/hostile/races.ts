import { randomUUID } from 'node:crypto';
import { testAddress } from '../support';
import type { Answer, HostileClient, HostileRequest } from './client';
import type { Finding } from './oracle';
import { call, must } from './snapshot';
import type { Sandbox } from './world';

/**
 * Races, in the sandbox: the same request sent six times at once, where the platform promises
 * that it takes effect once (an Idempotency-Key, one review per product, one helpful vote,
 * one payment per order, refunds within what was paid, no stock below zero). Each answer is
 * judged like any other; what the requests did together is checked through the API after.
 */

export interface RaceResult {
  sent: { request: HostileRequest; answer: Answer }[];
  findings: Finding[];
  /** Requests made to set up and to check, not counted as hostile. */
  setup: number;
}

const TIMES = 6;

export async function races(
  client: HostileClient,
  gateway: string,
  sb: Sandbox,
  adminToken: string,
): Promise<RaceResult> {
  const sent: RaceResult['sent'] = [];
  const findings: Finding[] = [];
  let setup = 0;
  const m = <T = Record<string, unknown>>(...args: Parameters<typeof must>) => {
    setup += 1;
    return must<T>(...args);
  };
  const get = async <T>(path: string, token: string) => {
    setup += 1;
    return (await call<T>(gateway, 'GET', path, { token })).body;
  };
  const C = sb.users.customerC;
  const D = sb.users.customerD;
  const seller = sb.users.sellerC;
  const fail = (problem: string) => findings.push({ kind: 'unintended-write', problem });

  /** Sends `TIMES` requests at once; returns the answers. */
  const burst = async (
    label: string,
    make: (i: number) => Omit<HostileRequest, 'label'>,
  ): Promise<Answer[]> => {
    const requests = Array.from({ length: TIMES }, (_, i) => ({
      ...make(i),
      label: `race: ${label} #${i + 1}`,
    }));
    const answers = await Promise.all(requests.map((r) => client.send(r)));
    requests.forEach((request, i) => sent.push({ request, answer: answers[i]! }));
    return answers;
  };
  const post = (target: string, token: string, body: unknown, key?: string) => ({
    method: 'POST',
    target,
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
      ...(key ? { 'idempotency-key': key } : {}),
    },
    body: Buffer.from(JSON.stringify(body)),
  });
  const ok = (a: Answer) => a.status >= 200 && a.status < 300;
  const idOf = (a: Answer) => {
    try {
      return (JSON.parse(a.body.toString('utf8')) as { id?: string }).id;
    } catch {
      return undefined;
    }
  };
  type Page<T> = { items: T[]; total: number };
  type Order = { id: string; status: string; items: { productId: string }[] };
  const settled = async (token: string) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const orders = await get<Page<Order>>('/api/orders?limit=100', token);
      const moving = orders.items.filter((o) =>
        ['PENDING', 'PAYMENT_PROCESSING'].includes(o.status),
      );
      if (moving.length === 0 || Date.now() > deadline) return orders;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  };

  // Records of their own: the sandbox phase may have deleted or cancelled the others.
  const product = async (name: string, inventory: number) =>
    (
      await m<{ id: string }>(gateway, 'POST', '/api/products', {
        token: seller.token,
        body: { name, price: 10, inventory },
      })
    ).body.id;
  const r1 = await product('Race stock', 1000);
  const scarce = await product('Race scarce', 3);
  const reviewC = (
    await m<{ id: string }>(gateway, 'POST', '/api/comments', {
      token: C.token,
      body: { productId: r1, text: 'Race target', rating: 5 },
    })
  ).body.id;
  const orderOf = async (body: Record<string, unknown>, status: string) => {
    const id = (await m<{ id: string }>(gateway, 'POST', '/api/orders', { token: C.token, body }))
      .body.id;
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      if ((await get<{ status: string }>(`/api/orders/${id}`, C.token)).status === status) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return id;
  };
  const card = { method: 'card', token: 'tok_visa' };
  const address = testAddress('Race');
  const paidOrder = await orderOf(
    { items: [{ productId: r1, quantity: 1 }], payment: card, shippingAddress: address },
    'CONFIRMED',
  );
  const waiting = await orderOf(
    { items: [{ productId: r1, quantity: 1 }], shippingAddress: address },
    'AWAITING_PAYMENT',
  );
  const paid = (await get<{ id: string }>(`/api/payments/order/${paidOrder}`, C.token)).id;

  // 1. One Idempotency-Key, six times at once: one order.
  const ordersBefore = (await get<Page<Order>>('/api/orders?limit=1', C.token)).total;
  const key = `race-${randomUUID()}`;
  const orderBody = {
    items: [{ productId: r1, quantity: 1 }],
    payment: card,
    shippingAddress: address,
  };
  const sameKey = await burst('one Idempotency-Key', () =>
    post('/api/orders', C.token, orderBody, key),
  );
  const ids = new Set(sameKey.filter(ok).map(idOf));
  if (ids.size > 1) fail(`one Idempotency-Key sent ${TIMES} times at once made ${ids.size} orders`);
  if (sameKey.some((a) => !ok(a) && a.status !== 409)) {
    fail(`one Idempotency-Key at once: answers ${sameKey.map((a) => a.status).join(', ')}`);
  }
  const ordersAfter = (await settled(C.token)).total;
  if (ordersAfter - ordersBefore !== 1) {
    fail(
      `one Idempotency-Key sent ${TIMES} times at once: ${ordersAfter - ordersBefore} new orders`,
    );
  }

  // 2. Three in stock, six orders at once: at most three hold it, the stock never below zero.
  await burst('six orders for three in stock', () =>
    post(
      '/api/orders',
      D.token,
      { ...orderBody, items: [{ productId: scarce, quantity: 1 }] },
      `race-${randomUUID()}`,
    ),
  );
  const dOrders = await settled(D.token);
  const holding = dOrders.items.filter(
    (o) =>
      o.items.some((i) => i.productId === scarce) && !['FAILED', 'CANCELLED'].includes(o.status),
  ).length;
  const stock = await get<{ inventory: { available: number; reserved: number } }>(
    `/api/products/${scarce}`,
    D.token,
  );
  if (holding > 3 || stock.inventory.available < 0 || stock.inventory.reserved < 0) {
    fail(
      `six orders at once for three in stock: ${holding} hold it, stock ${JSON.stringify(stock.inventory)}`,
    );
  }

  // 3. One order waiting for payment, six payments at once: one charge.
  const pays = await burst('six payments of one order', () =>
    post(
      '/api/payments/initiate',
      C.token,
      { orderId: waiting, payment: { method: 'card', token: 'tok_visa' } },
      `race-${randomUUID()}`,
    ),
  );
  if (pays.filter(ok).length > 1)
    fail(`six payments of one order at once: ${pays.filter(ok).length} answered 2xx`);
  await settled(C.token);
  const payment = await get<{ attempts?: { status: string }[]; amount?: { amount: number } }>(
    `/api/payments/order/${waiting}`,
    C.token,
  );
  const charged = (payment.attempts ?? []).filter((a) => a.status === 'SUCCEEDED').length;
  if (charged > 1) fail(`six payments of one order at once: ${charged} successful charges`);

  // 4. One review per product, six at once.
  const reviews = await burst('six reviews of one product', () =>
    post('/api/comments', D.token, { productId: r1, text: 'Race review', rating: 4 }),
  );
  const reviewed = reviews.filter(ok).length;
  if (reviewed > 1) fail(`six reviews of one product by one user at once: ${reviewed} made`);

  // 5. One helpful vote per user, six at once.
  const target = reviewC;
  const countOf = async () =>
    (await get<{ helpfulCount: number }>(`/api/comments/${target}`, D.token)).helpfulCount;
  const votesBefore = await countOf();
  const votes = await burst('six helpful votes', () =>
    post(`/api/comments/${target}/helpful`, D.token, {}),
  );
  const votesAfter = await countOf();
  if (votesAfter - votesBefore > 1 || votes.filter(ok).length > 1) {
    fail(`six helpful votes by one user at once: count ${votesBefore} -> ${votesAfter}`);
  }

  // 6. Refunds over what was paid, six at once: never more than the payment.
  const before = await get<{ amount: { amount: number }; refunded: { amount: number } }>(
    `/api/payments/${paid}`,
    adminToken,
  );
  const left = before.amount.amount - before.refunded.amount;
  const part = Math.max(1, Math.ceil((left * 6) / 10));
  await burst('six refunds of 60 %', () =>
    post(`/api/payments/${paid}/refund`, adminToken, { amount: part }, `race-${randomUUID()}`),
  );
  const after = await get<{ amount: { amount: number }; refunded: { amount: number } }>(
    `/api/payments/${paid}`,
    adminToken,
  );
  if (after.refunded.amount > after.amount.amount) {
    fail(
      `six refunds of ${part} at once: refunded ${after.refunded.amount} of ${after.amount.amount}`,
    );
  }

  // 7. Six restocks of one at once: six more.
  const stockOf = async () =>
    (await get<{ inventory: { available: number } }>(`/api/products/${r1}`, seller.token)).inventory
      .available;
  const stockBefore = await stockOf();
  const restocks = await burst('six restocks of one', () => ({
    method: 'PUT',
    target: `/api/products/${r1}/inventory`,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${seller.token}` },
    body: Buffer.from(JSON.stringify({ restock: 1 })),
  }));
  const stockAfter = await stockOf();
  const restocked = restocks.filter(ok).length;
  if (stockAfter - stockBefore !== restocked) {
    fail(`${restocked} restocks of one at once moved the stock ${stockBefore} -> ${stockAfter}`);
  }

  return { sent, findings, setup };
}
