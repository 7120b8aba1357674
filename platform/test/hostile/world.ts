import { createSign, createHmac, generateKeyPairSync, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { testAddress } from '../support';
import { call, must, type Snapshot } from './snapshot';

/**
 * The accounts and records the hostile suite aims at, made through the gateway like any
 * client would, before the first snapshot: two customers, two sellers and a second admin (the
 * configured admin only reads the snapshots), a category, products of each seller, reviews
 * and a reply, a paid order with lines of both sellers, an order waiting for payment, another
 * customer's order, a partial refund; and the tokens a forger could come up with.
 */

export type Role = 'customer' | 'seller' | 'admin';

export interface Actor {
  name: string;
  /** The role of a valid token; undefined for no token or a token the platform must refuse. */
  role?: Role;
  id?: string;
  /** The Authorization header, if any. */
  authorization?: string;
}

export const USER_ACTORS = ['customerA', 'customerB', 'sellerA', 'sellerB', 'admin2'] as const;
export type UserActorName = (typeof USER_ACTORS)[number];

export interface World {
  gateway: string;
  dataDir: string;
  rootAdmin: { token: string; id: string };
  users: Record<UserActorName, Actor & { id: string; role: Role; token: string; email: string }>;
  /** Requests with no valid identity: no header, forgeries, revoked sessions. */
  invalid: Actor[];
  categoryId: string;
  products: { a1: string; a2: string; b1: string };
  comments: { reviewA: string; reviewB: string; replyB: string };
  orders: { paidA: string; awaitingA: string; paidB: string };
  payments: { paidA: string };
  idempotency: {
    orderKey: string;
    orderBody: Record<string, unknown>;
    refundKey: string;
    refundBody: Record<string, unknown>;
  };
  /** A transaction that anchored records of customer A's order. */
  txHash?: string;
  /** The account the 429 class fails to sign in to, until its address must wait. */
  lockEmail: string;
  lockPassword: string;
  /** Customer B's order sent with customer A's Idempotency-Key (a new order, not A's). */
  idempotencyScope: { status: number; id?: string };
  /** Requests the setup sent. */
  requests: number;
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** A JWT signed (or not) however asked: the forger's toolbox. */
export function jwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  sign: (input: string) => string,
): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${sign(input)}`;
}

export const es256 = (privateKeyPem: string) => (input: string) =>
  createSign('SHA256')
    .update(input)
    .sign({ key: privateKeyPem, dsaEncoding: 'ieee-p1363' })
    .toString('base64url');

export const hs256 = (secret: string) => (input: string) =>
  createHmac('sha256', secret).update(input).digest('base64url');

export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

/** The platform's own signing key pair, as the launcher keeps it in the data directory. */
export function platformKeys(dataDir: string): { privateKey: string; publicKey: string } {
  return {
    privateKey: fs.readFileSync(path.join(dataDir, 'jwt', 'private.pem'), 'utf8'),
    publicKey: fs.readFileSync(path.join(dataDir, 'jwt', 'public.pem'), 'utf8'),
  };
}

/**
 * Tokens the platform must refuse (401), each with what it tries: no signature, the wrong key,
 * HS256 keyed with the public key, a payload changed under a valid signature, an expired or
 * foreign-issuer token signed with the real key, claims of the wrong shape, sessions that
 * ended (logout-all, account deleted), malformed headers.
 */
export function forgedActors(
  world: Pick<World, 'dataDir'>,
  customerToken: string,
  adminToken: string,
  ended: { revoked: string; deleted: string },
): Actor[] {
  const { privateKey, publicKey } = platformKeys(world.dataDir);
  const realSign = es256(privateKey);
  const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
  const admin = claimsOf(adminToken);
  const now = Math.floor(Date.now() / 1000);
  const asAdmin = { ...admin, jti: randomUUID() };
  const [cHeader, cPayload, cSignature] = customerToken.split('.') as [string, string, string];
  const tamperedPayload = b64url(
    JSON.stringify({ ...claimsOf(customerToken), role: 'admin', sub: admin.sub }),
  );
  const es = { alg: 'ES256', typ: 'JWT' };
  const bearer = (token: string) => `Bearer ${token}`;
  const forged: [string, string][] = [
    ['alg none', bearer(jwt({ alg: 'none', typ: 'JWT' }, asAdmin, () => ''))],
    ['alg NoNe', bearer(jwt({ alg: 'NoNe', typ: 'JWT' }, asAdmin, () => ''))],
    ['alg none, signature kept', bearer(`${jwt({ alg: 'none' }, asAdmin, () => '')}${cSignature}`)],
    [
      'HS256 keyed with the public key',
      bearer(jwt({ alg: 'HS256', typ: 'JWT' }, asAdmin, hs256(publicKey))),
    ],
    ['ES256 with another key', bearer(jwt(es, asAdmin, es256(otherKey)))],
    ['payload changed, signature kept', bearer(`${cHeader}.${tamperedPayload}.${cSignature}`)],
    ['signature cut', bearer(`${cHeader}.${cPayload}.`)],
    ['signature of another token', bearer(`${cHeader}.${cPayload}.${adminToken.split('.')[2]}`)],
    [
      'expired (real key)',
      bearer(jwt(es, { ...asAdmin, iat: now - 7200, exp: now - 3600 }, realSign)),
    ],
    ['other issuer (real key)', bearer(jwt(es, { ...asAdmin, iss: 'evil' }, realSign))],
    ['other audience (real key)', bearer(jwt(es, { ...asAdmin, aud: 'other-api' }, realSign))],
    ['no exp (real key)', bearer(jwt(es, { ...asAdmin, exp: undefined }, realSign))],
    ['refresh type (real key)', bearer(jwt(es, { ...asAdmin, type: 'refresh' }, realSign))],
    ['role superadmin (real key)', bearer(jwt(es, { ...asAdmin, role: 'superadmin' }, realSign))],
    ['sub not a string (real key)', bearer(jwt(es, { ...asAdmin, sub: { $ne: null } }, realSign))],
    [
      'kid path injection',
      bearer(jwt({ alg: 'HS256', kid: '../../../../dev/null' }, asAdmin, hs256(''))),
    ],
    [
      'jku pointing elsewhere',
      bearer(jwt({ ...es, jku: 'http://127.0.0.1:1/jwks' }, asAdmin, es256(otherKey))),
    ],
    ['session ended by logout-all', bearer(ended.revoked)],
    ['account deleted', bearer(ended.deleted)],
    ['no token after Bearer', 'Bearer '],
    ['two segments', 'Bearer abc.def'],
    ['not base64url', 'Bearer a$b.c%d.e^f'],
    ['Basic scheme', `Basic ${Buffer.from('admin@example.com:Admin#2026demo').toString('base64')}`],
    ['token twice', `Bearer ${customerToken} ${customerToken}`],
    ['10 KB token', bearer(`${cHeader}.${'A'.repeat(10_000)}.${cSignature}`)],
  ];
  return forged.map(([name, authorization]) => ({ name: `forged: ${name}`, authorization }));
}

const PASSWORD = 'Hostile#suite-2026!';

/** Builds the world through the gateway (`admin` is the configured admin's login). */
export async function buildWorld(
  gateway: string,
  dataDir: string,
  admin: { email: string; password: string },
): Promise<World> {
  let requests = 0;
  const m = <T = Record<string, unknown>>(...args: Parameters<typeof must>) => {
    requests += 1;
    return must<T>(...args);
  };
  type Session = { accessToken: string; user: { id: string; role: Role } };
  const login = async (email: string, password: string) =>
    (await m<Session>(gateway, 'POST', '/api/auth/login', { body: { email, password } })).body;
  const root = await login(admin.email, admin.password);
  const rootToken = root.accessToken;

  const register = async (name: string) => {
    const email = `hostile-${name.toLowerCase()}@suite.test`;
    const s = (
      await m<Session>(gateway, 'POST', '/api/auth/register', {
        body: { email, password: PASSWORD, name: `Hostile ${name}` },
      })
    ).body;
    return { email, id: s.user.id, token: s.accessToken };
  };
  const promote = async (id: string, role: Role) =>
    m(gateway, 'PUT', `/api/users/${id}/role`, { token: rootToken, body: { role } });

  const roles: Record<UserActorName, Role> = {
    customerA: 'customer',
    customerB: 'customer',
    sellerA: 'seller',
    sellerB: 'seller',
    admin2: 'admin',
  };
  const users = {} as World['users'];
  for (const name of USER_ACTORS) {
    const r = await register(name);
    if (roles[name] !== 'customer') {
      await promote(r.id, roles[name]);
      // A role change ends the account's sessions: sign in again.
      r.token = (await login(r.email, PASSWORD)).accessToken;
    }
    users[name] = {
      name,
      role: roles[name],
      id: r.id,
      email: r.email,
      token: r.token,
      authorization: `Bearer ${r.token}`,
    };
  }
  const lock = await register('LockMe');
  const revoked = await register('Revoked');
  await m(gateway, 'POST', '/api/auth/logout-all', { token: revoked.token });
  const deleted = await register('Deleted');
  await m(gateway, 'DELETE', `/api/users/${deleted.id}`, { token: rootToken }, [204]);

  const t = (name: UserActorName) => users[name].token;
  const category = await m<{ id: string }>(gateway, 'POST', '/api/products/categories', {
    token: rootToken,
    body: { name: 'Hostile Suite', slug: 'hostile-suite' },
  });
  const product = async (seller: UserActorName, name: string) =>
    (
      await m<{ id: string }>(gateway, 'POST', '/api/products', {
        token: t(seller),
        body: {
          name,
          description: `${name}, made by the hostile-input suite`,
          price: 19.99,
          inventory: 500,
          category: 'hostile-suite',
          attributes: { colour: 'red', size: 3 },
        },
      })
    ).body.id;
  const products = {
    a1: await product('sellerA', 'Hostile A1'),
    a2: await product('sellerA', 'Hostile A2'),
    b1: await product('sellerB', 'Hostile B1'),
  };
  const comment = async (who: UserActorName, body: Record<string, unknown>) =>
    (await m<{ id: string }>(gateway, 'POST', '/api/comments', { token: t(who), body })).body.id;
  const reviewA = await comment('customerA', {
    productId: products.a1,
    text: 'Fine.',
    rating: 4,
  });
  const reviewB = await comment('customerB', {
    productId: products.b1,
    text: 'Good.',
    rating: 5,
  });
  const replyB = await comment('customerB', {
    productId: products.a1,
    text: 'Agreed.',
    parentId: reviewA,
  });

  const orderKey = `hostile-order-${randomUUID()}`;
  const orderBody = {
    items: [
      { productId: products.a1, quantity: 1 },
      { productId: products.b1, quantity: 2 },
    ],
    payment: { method: 'card', token: 'tok_visa' },
    shippingAddress: testAddress('Hostile A'),
  };
  const order = async (who: UserActorName, body: unknown, key?: string) =>
    (
      await m<{ id: string }>(gateway, 'POST', '/api/orders', {
        token: t(who),
        body,
        headers: key ? { 'idempotency-key': key } : {},
      })
    ).body.id;
  const paidA = await order('customerA', orderBody, orderKey);
  const awaitingA = await order('customerA', {
    items: [{ productId: products.a2, quantity: 1 }],
    shippingAddress: testAddress('Hostile A'),
  });
  const paidB = await order('customerB', {
    items: [{ productId: products.b1, quantity: 1 }],
    payment: { method: 'card', token: 'tok_visa' },
    shippingAddress: testAddress('Hostile B'),
  });
  requests += 1;
  const scoped = await call<{ id?: string }>(gateway, 'POST', '/api/orders', {
    token: t('customerB'),
    body: {
      items: [{ productId: products.b1, quantity: 1 }],
      shippingAddress: testAddress('Hostile B'),
    },
    headers: { 'idempotency-key': orderKey },
  });
  const untilStatus = async (id: string, token: string, statuses: string[]) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      requests += 1;
      const r = await call<{ status: string }>(gateway, 'GET', `/api/orders/${id}`, { token });
      if (statuses.includes(r.body.status)) return;
      if (Date.now() > deadline) throw new Error(`order ${id} stayed ${r.body.status}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  await untilStatus(paidA, t('customerA'), ['CONFIRMED']);
  await untilStatus(awaitingA, t('customerA'), ['AWAITING_PAYMENT']);
  await untilStatus(paidB, t('customerB'), ['CONFIRMED']);

  const payment = (
    await m<{ id: string }>(gateway, 'GET', `/api/payments/order/${paidA}`, {
      token: t('customerA'),
    })
  ).body.id;
  const refundKey = `hostile-refund-${randomUUID()}`;
  const refundBody = { amount: 1, reason: 'hostile suite partial refund' };
  await m(gateway, 'POST', `/api/payments/${payment}/refund`, {
    token: t('admin2'),
    body: refundBody,
    headers: { 'idempotency-key': refundKey },
  });

  let txHash: string | undefined;
  const deadline = Date.now() + 20_000;
  while (!txHash && Date.now() < deadline) {
    requests += 1;
    const r = await call<{ records?: { receipt?: { txHash?: string | null } }[] }>(
      gateway,
      'GET',
      `/api/blockchain/order/${paidA}`,
      { token: t('customerA') },
    );
    txHash = r.body.records?.find((x) => x.receipt?.txHash)?.receipt?.txHash ?? undefined;
    if (!txHash) await new Promise((resolve) => setTimeout(resolve, 500));
  }

  const world: World = {
    gateway,
    dataDir,
    rootAdmin: { token: rootToken, id: root.user.id },
    users,
    invalid: [],
    categoryId: category.body.id,
    products,
    comments: { reviewA, reviewB, replyB },
    orders: { paidA, awaitingA, paidB },
    payments: { paidA: payment },
    idempotency: { orderKey, orderBody, refundKey, refundBody },
    txHash,
    idempotencyScope: { status: scoped.status, id: scoped.body.id },
    lockEmail: lock.email,
    lockPassword: PASSWORD,
    requests,
  };
  world.invalid = [
    { name: 'anonymous' },
    ...forgedActors(world, t('customerA'), t('admin2'), {
      revoked: revoked.token,
      deleted: deleted.token,
    }),
  ];
  return world;
}

/**
 * The sandbox: accounts and records of their own (a seller, two customers, the seller's
 * products, reviews, orders, a payment), on which legitimate writes with hostile-but-valid
 * values are sent after the hostile phase. Whatever those writes change stays inside the
 * sandbox (its users, the seller's products and their comments, its customers' orders and
 * payments), so the rest of what an admin reads must still not change.
 */
export interface Sandbox {
  users: Record<
    'customerC' | 'customerD' | 'sellerC',
    Actor & { id: string; role: Role; token: string }
  >;
  products: string[];
  comments: string[];
  orders: string[];
  payments: string[];
  usedKey: string;
  requests: number;
}

export async function buildSandbox(gateway: string, rootToken: string): Promise<Sandbox> {
  let requests = 0;
  const m = <T = Record<string, unknown>>(...args: Parameters<typeof must>) => {
    requests += 1;
    return must<T>(...args);
  };
  type Session = { accessToken: string; user: { id: string } };
  const users = {} as Sandbox['users'];
  for (const [name, role] of [
    ['customerC', 'customer'],
    ['customerD', 'customer'],
    ['sellerC', 'seller'],
  ] as const) {
    const email = `sandbox-${name.toLowerCase()}@suite.test`;
    const s = (
      await m<Session>(gateway, 'POST', '/api/auth/register', {
        body: { email, password: PASSWORD, name: `Sandbox ${name}` },
      })
    ).body;
    let token = s.accessToken;
    if (role !== 'customer') {
      await m(gateway, 'PUT', `/api/users/${s.user.id}/role`, { token: rootToken, body: { role } });
      token = (
        await m<Session>(gateway, 'POST', '/api/auth/login', {
          body: { email, password: PASSWORD },
        })
      ).body.accessToken;
    }
    users[name] = { name, role, id: s.user.id, token, authorization: `Bearer ${token}` };
  }
  const t = (name: keyof Sandbox['users']) => users[name].token;
  const products: string[] = [];
  for (const name of ['Sandbox C1', 'Sandbox C2']) {
    products.push(
      (
        await m<{ id: string }>(gateway, 'POST', '/api/products', {
          token: t('sellerC'),
          body: { name, price: 5, inventory: 1_000_000, attributes: { kind: 'sandbox' } },
        })
      ).body.id,
    );
  }
  const comment = async (who: keyof Sandbox['users'], body: Record<string, unknown>) =>
    (await m<{ id: string }>(gateway, 'POST', '/api/comments', { token: t(who), body })).body.id;
  const reviewD = await comment('customerD', { productId: products[0], text: 'D says', rating: 3 });
  const reviewC = await comment('customerC', { productId: products[1], text: 'C says', rating: 2 });
  const replyC = await comment('customerC', {
    productId: products[0],
    text: 'C answers',
    parentId: reviewD,
  });
  const usedKey = `sandbox-order-${randomUUID()}`;
  const order = async (who: keyof Sandbox['users'], body: unknown, key?: string) =>
    (
      await m<{ id: string }>(gateway, 'POST', '/api/orders', {
        token: t(who),
        body,
        headers: key ? { 'idempotency-key': key } : {},
      })
    ).body.id;
  const card = { method: 'card', token: 'tok_visa' };
  const orders = [
    await order(
      'customerC',
      {
        items: [{ productId: products[0], quantity: 1 }],
        payment: card,
        shippingAddress: testAddress('C'),
      },
      usedKey,
    ),
    await order('customerC', {
      items: [{ productId: products[1], quantity: 2 }],
      shippingAddress: testAddress('C'),
    }),
    await order('customerD', {
      items: products.map((productId) => ({ productId, quantity: 1 })),
      payment: card,
      shippingAddress: testAddress('D'),
    }),
  ];
  const payments: string[] = [];
  const deadline = Date.now() + 30_000;
  for (const [i, id] of [orders[0]!, orders[2]!].entries()) {
    const token = i === 0 ? t('customerC') : t('customerD');
    for (;;) {
      requests += 1;
      const r = await call<{ id?: string }>(gateway, 'GET', `/api/payments/order/${id}`, { token });
      if (r.status === 200 && r.body.id) {
        payments.push(r.body.id);
        break;
      }
      if (Date.now() > deadline) throw new Error(`no payment for sandbox order ${id}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  return {
    users,
    products,
    comments: [reviewD, reviewC, replyC],
    orders,
    payments,
    usedKey,
    requests,
  };
}

/** Who owns what, from what an admin reads: the generators' knowledge of the records. */
export interface Ownership {
  /** kind → canonical id → the owner's user id (and, for orders, the sellers of its lines). */
  byKind: Map<string, Map<string, { owner?: string; sellers?: string[] }>>;
  /** A kind's ids, for drawing. */
  ids(kind: string): string[];
}

/** The records of a snapshot by kind; `keep` leaves some out (the sandbox keeps its own). */
export function ownershipOf(
  snapshot: Snapshot,
  txHash?: string,
  keep: (kind: string, record: Record<string, unknown>) => boolean = () => true,
): Ownership {
  const byKind = new Map<string, Map<string, { owner?: string; sellers?: string[] }>>();
  const add = (
    kind: string,
    record: Record<string, unknown> & { id: string },
    info: { owner?: string; sellers?: string[] },
  ) => {
    if (!keep(kind, record)) return;
    if (!byKind.has(kind)) byKind.set(kind, new Map());
    byKind.get(kind)!.set(record.id.toLowerCase(), info);
  };
  for (const u of snapshot.users) add('user', u, { owner: u.id });
  for (const p of snapshot.products) add('product', p, { owner: String(p.sellerId) });
  for (const c of snapshot.categories) add('category', c, {});
  for (const o of snapshot.orders) {
    const items = (o.items ?? []) as { sellerId?: string | null }[];
    add('order', o, {
      owner: String(o.userId),
      sellers: items.map((i) => i.sellerId).filter((s): s is string => !!s),
    });
  }
  for (const p of snapshot.payments) add('payment', p, { owner: String(p.userId) });
  for (const c of snapshot.comments) {
    const author = c.author as { id?: string | null } | null;
    add('comment', c, { owner: author?.id ?? undefined });
  }
  if (txHash) add('tx', { id: txHash }, {});
  return {
    byKind,
    ids: (kind) => [...(byKind.get(kind)?.keys() ?? [])],
  };
}

/** The records made for the hostile phase, drawn more often than the seeded ones. */
export function worldIds(w: World): Record<string, string[]> {
  return {
    product: Object.values(w.products),
    comment: Object.values(w.comments),
    order: Object.values(w.orders),
    payment: Object.values(w.payments),
    user: Object.values(w.users).map((u) => u.id),
    category: [w.categoryId],
    tx: w.txHash ? [w.txHash] : [],
  };
}

/** Whether a record (as an admin reads it) belongs to the sandbox. */
export function inSandbox(
  sandbox: Sandbox,
  created: Set<string>,
): (kind: string, record: Record<string, unknown>) => boolean {
  const users = new Set(Object.values(sandbox.users).map((u) => u.id));
  const products = new Set(sandbox.products);
  const id = (v: unknown) => String(v ?? '').toLowerCase();
  return (kind, r) => {
    if (created.has(id(r.id))) return true;
    switch (kind) {
      case 'user':
        return users.has(id(r.id));
      case 'product':
        return users.has(id(r.sellerId));
      case 'order':
      case 'payment':
        return users.has(id(r.userId));
      case 'comment':
      case 'queued':
        return products.has(id(r.productId)) || created.has(id(r.productId));
      default:
        return false;
    }
  };
}
