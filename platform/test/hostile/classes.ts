import { gzipSync } from 'node:zlib';
import type { Answer, HostileRequest } from './client';
import type { World } from './world';

/**
 * Hand-written classes of hostile requests, each small, each with its reasons to fail or its
 * own expectation: spoofed identity headers, path tricks, JWT forgeries, oversized input,
 * Idempotency-Key abuse, IDOR probes with another user's token, method tricks, content types
 * and encodings, raw protocol abuse. The 429 class needs sequences and a gateway of its own:
 * it lives in the test file.
 */

const json = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8');
const JSON_HEADERS = { 'content-type': 'application/json' };

function bodyOf(a: Answer): unknown {
  try {
    return JSON.parse(a.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

const expectStatus =
  (...statuses: number[]) =>
  (a: Answer) =>
    statuses.includes(a.status) ? undefined : `expected ${statuses.join(' or ')}, got ${a.status}`;

const expectCode = (status: number, code: string) => (a: Answer) => {
  const error = (bodyOf(a) as { error?: { code?: string } } | undefined)?.error;
  return a.status === status && error?.code === code
    ? undefined
    : `expected ${status} ${code}, got ${a.status} ${error?.code ?? ''}`;
};

/** 405 METHOD_NOT_ALLOWED naming in Allow exactly the methods the path takes. */
const expectNotAllowed =
  (...allowed: string[]) =>
  (a: Answer) => {
    const problem = expectCode(405, 'METHOD_NOT_ALLOWED')(a);
    if (problem) return problem;
    const allow = String(a.headers.allow ?? '');
    return allow === allowed.join(', ')
      ? undefined
      : `expected Allow "${allowed.join(', ')}", got "${allow}"`;
  };

const raw = (text: string) => Buffer.from(text, 'latin1');
const rawUtf8 = (text: string) => Buffer.from(text, 'utf8');

type Req = Omit<HostileRequest, 'label'>;

function labelled(label: string, requests: Req[]): HostileRequest[] {
  return requests.map((r, i) => ({ ...r, label: `${label} #${i + 1}` }));
}

/** Identity headers a client makes up: the services trust only the token. */
export function spoofedIdentity(w: World): HostileRequest[] {
  const { customerA, customerB, sellerA, sellerB, admin2 } = w.users;
  const spoofs: Record<string, string>[] = [
    { 'x-user-id': admin2.id },
    { 'x-user-role': 'admin' },
    { 'x-user-id': admin2.id, 'x-user-role': 'admin', 'x-user-email': admin2.email },
    { 'x-user': JSON.stringify({ id: admin2.id, role: 'admin' }) },
    { 'x-forwarded-user': admin2.email, 'x-forwarded-groups': 'admin' },
    { 'x-auth-user': admin2.id, 'x-auth-role': 'admin' },
    { x_user_id: admin2.id, x_user_role: 'admin' },
    { 'X-USER-ROLE': 'admin' },
    { 'x-remote-user': 'admin', 'remote-user': 'admin' },
    { 'x-roles': 'admin', 'x-role': 'admin', 'x-admin': 'true' },
  ];
  const out: Req[] = [];
  for (const s of spoofs) {
    out.push({
      method: 'GET',
      target: '/api/users',
      headers: s,
      mustFail: ['no token, only made-up identity headers'],
      expect: expectStatus(401),
    });
    out.push({
      method: 'GET',
      target: '/api/users',
      headers: { ...s, authorization: customerA.authorization! },
      mustFail: ['a customer with made-up identity headers'],
      expect: expectStatus(403),
    });
  }
  for (const s of spoofs.slice(0, 5)) {
    out.push({
      method: 'GET',
      target: '/api/orders',
      headers: { ...s, 'x-user-id': customerB.id, authorization: customerA.authorization! },
      expect: (a) => {
        const items = (bodyOf(a) as { items?: { userId?: string }[] } | undefined)?.items;
        if (a.status !== 200 || !items) return `expected 200 with A's orders, got ${a.status}`;
        return items.every((o) => o.userId === customerA.id)
          ? undefined
          : 'customer A was shown orders of another user';
      },
    });
  }
  out.push(
    {
      method: 'GET',
      target: '/api/auth/profile',
      headers: { 'x-user-id': admin2.id, authorization: customerA.authorization! },
      expect: (a) =>
        (bodyOf(a) as { id?: string } | undefined)?.id === customerA.id
          ? undefined
          : "the profile is not the token's user",
    },
    {
      method: 'POST',
      target: '/api/products/categories',
      headers: { ...JSON_HEADERS, 'x-user-role': 'admin', authorization: customerA.authorization! },
      body: json({ name: 'Spoofed' }),
      mustFail: ['a customer creating a category'],
    },
    {
      method: 'PUT',
      target: `/api/products/${w.products.a1}`,
      headers: { ...JSON_HEADERS, 'x-user-id': sellerA.id, authorization: sellerB.authorization! },
      body: json({ name: 'Taken over' }),
      mustFail: ["seller B changing seller A's product"],
      expect: expectStatus(403),
    },
    {
      method: 'DELETE',
      target: `/api/users/${customerB.id}`,
      headers: {
        'x-auth-role': 'admin',
        'x-user-role': 'admin',
        authorization: customerA.authorization!,
      },
      mustFail: ['a customer deleting a user'],
      expect: expectStatus(403),
    },
  );
  return labelled('spoofed identity headers', out);
}

/** Paths that normalise, or route, to somewhere other than they seem. */
export function pathTricks(w: World): HostileRequest[] {
  const adminOnly = [
    '/api/../api/users',
    '/api/products/../users',
    '/api/products/..%2fusers',
    '/api/products/%2e%2e/%2e%2e/api/users',
    '/api/products%2F..%2F..%2Fapi%2Fusers',
    '/api/%2e%2e/users',
    '//api/users',
    '/api//users',
    '/API/USERS',
    '/api/Users/',
    '/api/users/',
    '/api/users%2f',
    '/api/users;x=1',
    '/api/users/.',
    '/api/users?/../auth/login',
    '/api/auth/..;/users',
    '/api/auth/login/../../users',
    '/api/auth/%2e%2e/users',
    '/api/users#/api/products',
    '/api/users\\..\\products',
    '/api/users%00',
    '/api/users/%00/role',
    '/api/users%20',
    '/api/users/./',
    '/./api/users',
    '/api/./users',
    '/api/users/%2e',
    '/api/users/..%00/',
    '/api/comments/moderation/queue/',
    '/api/comments/MODERATION/queue',
    '/api/comments/moderation//queue',
    `/api/users/${w.users.customerB.id}/role/..`,
  ];
  const out: Req[] = adminOnly.map((target) => ({
    method: 'GET',
    target,
    headers: {},
    mustFail: ['anonymous, aimed at an admin resource'],
  }));
  out.push(
    ...adminOnly.slice(0, 12).map((target) => ({
      method: 'GET',
      target,
      headers: { authorization: w.users.customerA.authorization! },
      mustFail: ['a customer, aimed at an admin resource'],
    })),
  );
  // Public routes under other spellings, with bodies that must be refused.
  for (const target of [
    '/API/AUTH/REGISTER',
    '/api/auth//register',
    '/api/auth/register/',
    '/api/auth/register;x',
    '/api/AUTH/register?role=admin',
  ]) {
    out.push({
      method: 'POST',
      target,
      headers: JSON_HEADERS,
      body: json({
        email: 'spelled@suite.test',
        password: 'long enough passphrase',
        name: 'X',
        role: 'admin',
      }),
      mustFail: ['registration with a role'],
    });
  }
  // Request targets in other forms, through a socket.
  const host = 'Host: 127.0.0.1\r\nConnection: close\r\n';
  for (const line of [
    'GET http://127.0.0.1/api/users HTTP/1.1',
    'GET http://evil.example/api/users HTTP/1.1',
    'OPTIONS * HTTP/1.1',
    'CONNECT 127.0.0.1:80 HTTP/1.1',
    'GET /api/users HTTP/1.0',
    'GET  /api/users HTTP/1.1',
    'GET /api/users HTTP/1.1 x',
    'GET /api/users?%00 HTTP/1.1',
    'GET /api/products/\u00e9 HTTP/1.1',
  ]) {
    out.push({
      method: line.split(' ')[0]!,
      target: line,
      headers: {},
      raw: raw(`${line}\r\n${host}\r\n`),
      mustFail: line.includes('/api/users') ? ['anonymous, aimed at an admin resource'] : undefined,
    });
  }
  return labelled('path tricks', out);
}

/** Every forgery against an admin read, a user read, a write, and an optional-token read. */
export function jwtForgeries(w: World): HostileRequest[] {
  const out: Req[] = [];
  for (const actor of w.invalid.filter((a) => a.authorization !== undefined)) {
    const headers = { authorization: actor.authorization! };
    const why = [`a refused token (${actor.name})`];
    out.push(
      { method: 'GET', target: '/api/users', headers, mustFail: why, expect: expectStatus(401) },
      {
        method: 'GET',
        target: '/api/auth/verify',
        headers,
        mustFail: why,
        expect: expectStatus(401),
      },
      {
        method: 'POST',
        target: '/api/products/categories',
        headers: { ...headers, ...JSON_HEADERS },
        body: json({ name: 'Forged category' }),
        mustFail: why,
        expect: expectStatus(401),
      },
      {
        method: 'GET',
        target: `/api/comments/${w.comments.reviewA}`,
        headers,
        mustFail: why,
        expect: expectStatus(401),
      },
    );
  }
  const token = w.users.customerA.token;
  for (const authorization of [
    `bearer ${token}`,
    `Bearer  ${token}`,
    `Bearer ${token}.`,
    `Bearer ${token}x`,
  ]) {
    out.push({
      method: 'GET',
      target: '/api/users',
      headers: { authorization },
      mustFail: ['a customer token, mangled'],
    });
  }
  // Header bytes Node's client will not send.
  const host = 'Host: 127.0.0.1\r\nConnection: close\r\n';
  for (const value of [
    `Bearer ${token}\u0000`,
    'Bearer ключ.ключ.ключ',
    `Bearer\t${token}`,
    `Bearer ${token}\u00a0`,
  ]) {
    out.push({
      method: 'GET',
      target: '/api/users',
      headers: {},
      raw: rawUtf8(`GET /api/users HTTP/1.1\r\n${host}Authorization: ${value}\r\n\r\n`),
      mustFail: ['a token with bytes that are not a token'],
    });
  }
  return labelled('jwt forgeries', out);
}

/** Bodies, headers, paths and queries bigger than anything legitimate. */
export function oversized(w: World): HostileRequest[] {
  const host = 'Host: 127.0.0.1\r\nConnection: close\r\n';
  const big = 'x'.repeat(200 * 1024);
  const login = json({ email: 'a@b.c', password: big });
  const keys = Object.fromEntries(Array.from({ length: 7000 }, (_, i) => [`k${i}`, 1]));
  const out: Req[] = [
    {
      method: 'GET',
      target: '/api/products',
      headers: { 'x-big': 'a'.repeat(20_000) },
      expect: expectStatus(431),
    },
    {
      method: 'GET',
      target: '/api/products',
      headers: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`x-h${i}`, 'v'])),
      expect: expectStatus(431),
    },
    { method: 'GET', target: `/api/products?q=${'a'.repeat(8000)}`, headers: {} },
    {
      method: 'GET',
      target: `/api/products?${Array.from({ length: 1500 }, (_, i) => `a${i}=1`).join('&')}`,
      headers: {},
    },
    { method: 'GET', target: `/api/products/${'a'.repeat(12_000)}`, headers: {} },
    {
      method: 'POST',
      target: '/api/auth/login',
      headers: JSON_HEADERS,
      body: login,
      expect: expectStatus(413),
    },
    {
      method: 'POST',
      target: '/api/auth/register',
      headers: JSON_HEADERS,
      body: json(keys),
      mustFail: ['7,000 unknown keys'],
    },
    {
      method: 'POST',
      target: '/api/auth/register',
      headers: JSON_HEADERS,
      body: Buffer.from(`${'['.repeat(40_000)}${']'.repeat(40_000)}`),
      mustFail: ['40,000 levels deep'],
      expect: expectStatus(400),
    },
    {
      method: 'POST',
      target: '/api/orders',
      headers: { ...JSON_HEADERS, authorization: w.users.customerA.authorization! },
      body: json({
        items: Array.from({ length: 5000 }, () => ({ productId: w.products.a1, quantity: 1 })),
      }),
      mustFail: ['5,000 lines'],
    },
    {
      method: 'GET',
      target: '/api/auth/verify',
      headers: { authorization: `Bearer ${'a'.repeat(15_000)}.b.c` },
      mustFail: ['a 15 KB token'],
    },
    {
      method: 'POST',
      target: '/api/auth/login',
      headers: {},
      raw: raw(
        `POST /api/auth/login HTTP/1.1\r\n${host}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n` +
          `${(200 * 1024).toString(16)}\r\n${big}\r\n0\r\n\r\n`,
      ),
      expect: expectStatus(413),
    },
    {
      method: 'POST',
      target: '/api/auth/login',
      headers: {},
      raw: raw(
        `POST /api/auth/login HTTP/1.1\r\n${host}Content-Length: 5\r\nContent-Length: 6\r\n\r\n{"a":1}`,
      ),
      expect: expectStatus(400),
    },
    {
      method: 'POST',
      target: '/api/auth/login',
      headers: {},
      raw: raw(
        `POST /api/auth/login HTTP/1.1\r\n${host}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/users HTTP/1.1\r\n${host}\r\n`,
      ),
      expect: expectStatus(400),
    },
    {
      method: 'POST',
      target: '/api/auth/login',
      headers: {},
      raw: raw(`POST /api/auth/login HTTP/1.1\r\n${host}Content-Length: -1\r\n\r\n`),
      expect: expectStatus(400),
    },
    {
      method: 'POST',
      target: '/api/auth/login',
      headers: {},
      raw: raw(
        `POST /api/auth/login HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`,
      ),
      expect: expectStatus(400),
    },
    {
      method: 'GET',
      target: '/api/products',
      headers: {},
      raw: raw(`GET /api/products HTTP/1.1\r\n${host}X-Bad\u0000Name: 1\r\n\r\n`),
      expect: expectStatus(400),
    },
    {
      method: 'GET',
      target: '/api/products',
      headers: {},
      raw: raw(`GET /api/products HTTP/1.1\r\n${host}X-Folded: a\r\n b\r\n\r\n`),
    },
    {
      method: 'PRI',
      target: '*',
      headers: {},
      raw: raw('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
    },
  ];
  return labelled('oversized and malformed framing', out);
}

/** The same Idempotency-Key with another body, another user, another spelling. */
export function idempotencyAbuse(w: World): HostileRequest[] {
  const { orderKey, orderBody, refundKey, refundBody } = w.idempotency;
  const a = w.users.customerA.authorization!;
  const headers = (key: string, authorization = a) => ({
    ...JSON_HEADERS,
    authorization,
    'idempotency-key': key,
  });
  const items = orderBody.items as { productId: string; quantity: number }[];
  const replayOf = (id: string) => (ans: Answer) => {
    const got = (bodyOf(ans) as { id?: string; payment?: { id?: string } } | undefined) ?? {};
    if (ans.status === 422) return undefined;
    if (ans.status !== 201 && ans.status !== 200)
      return `expected a replay or 422, got ${ans.status}`;
    if (String(ans.headers['idempotent-replayed'] ?? '') === '')
      return 'a 2xx that is not marked as a replay';
    return got.id === id || got.payment?.id === id
      ? undefined
      : `replayed another record (${got.id})`;
  };
  const out: Req[] = [
    {
      method: 'POST',
      target: '/api/orders',
      headers: headers(orderKey),
      body: json({ ...orderBody, items: [{ ...items[0]!, quantity: 3 }, items[1]] }),
      mustFail: ['the same key with another body'],
      expect: expectCode(422, 'IDEMPOTENCY_KEY_REUSED'),
    },
    {
      method: 'POST',
      target: '/api/orders',
      headers: headers(orderKey),
      body: json({ ...orderBody, payment: { method: 'card', token: 'tok_chargeDeclined' } }),
      mustFail: ['the same key with another card'],
      expect: expectCode(422, 'IDEMPOTENCY_KEY_REUSED'),
    },
    {
      method: 'POST',
      target: '/api/orders',
      headers: headers(orderKey),
      body: json(orderBody),
      expect: replayOf(w.orders.paidA),
    },
    {
      method: 'POST',
      target: '/api/orders',
      headers: headers(orderKey),
      body: json(Object.fromEntries(Object.entries(orderBody).reverse())),
      expect: replayOf(w.orders.paidA),
    },
    {
      method: 'POST',
      target: '/api/orders',
      headers: headers(orderKey),
      body: json({
        ...orderBody,
        items: items.map((i) => ({ ...i, productId: i.productId.toUpperCase() })),
      }),
      expect: replayOf(w.orders.paidA),
    },
    {
      method: 'POST',
      target: '/api/orders',
      headers: headers(orderKey.toUpperCase()),
      body: json({ ...orderBody, items: [{ productId: 'ffffffffffffffffffffffff', quantity: 1 }] }),
      mustFail: ['an unknown product'],
    },
    ...['has space', 'a'.repeat(256), '', 'a/b', '%41', '*', 'k;v', 'k,v'].map((key) => ({
      method: 'POST',
      target: '/api/orders',
      headers: headers(key),
      body: json(orderBody),
      mustFail: ['a malformed Idempotency-Key'],
      expect: expectStatus(400),
    })),
    {
      method: 'POST',
      target: '/api/orders',
      headers: {},
      raw: rawUtf8(
        `POST /api/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: ${a}\r\n` +
          `Content-Type: application/json\r\nIdempotency-Key: ${orderKey}\r\nIdempotency-Key: other\r\n` +
          `Content-Length: ${json(orderBody).length}\r\n\r\n${JSON.stringify(orderBody)}`,
      ),
      mustFail: ['two Idempotency-Key headers'],
    },
    {
      method: 'POST',
      target: '/api/orders',
      headers: {},
      raw: rawUtf8(
        `POST /api/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: ${a}\r\n` +
          `Content-Type: application/json\r\nIdempotency-Key: ключ\r\n` +
          `Content-Length: ${json(orderBody).length}\r\n\r\n${JSON.stringify(orderBody)}`,
      ),
      mustFail: ['a non-ASCII Idempotency-Key'],
    },
    {
      method: 'POST',
      target: `/api/payments/${w.payments.paidA}/refund`,
      headers: headers(refundKey, w.users.admin2.authorization!),
      body: json({ ...refundBody, amount: 2 }),
      mustFail: ['the same refund key with another amount'],
      expect: expectCode(422, 'IDEMPOTENCY_KEY_REUSED'),
    },
    {
      method: 'POST',
      target: `/api/payments/${w.payments.paidA}/refund`,
      headers: headers(refundKey, w.users.admin2.authorization!),
      body: json(refundBody),
      expect: (ans) =>
        ans.status === 201 && String(ans.headers['idempotent-replayed'] ?? '') !== ''
          ? undefined
          : `expected the refund replayed, got ${ans.status}`,
    },
    {
      method: 'POST',
      target: `/api/payments/${w.payments.paidA}/refund`,
      headers: headers(refundKey, w.users.customerA.authorization!),
      body: json(refundBody),
      mustFail: ["a customer replaying an admin's refund key"],
      expect: expectStatus(403),
    },
    {
      method: 'POST',
      target: '/api/payments/initiate',
      headers: headers(orderKey, w.users.customerB.authorization!),
      body: json({ orderId: w.orders.awaitingA, payment: { method: 'card', token: 'tok_visa' } }),
      mustFail: ["customer B paying customer A's order with A's key"],
    },
  ];
  return labelled('idempotency-key abuse', out);
}

/** Another user's token on records we made. */
export function idor(w: World): HostileRequest[] {
  const { customerA, customerB, sellerA, sellerB } = w.users;
  const B = customerB.authorization!;
  const up = (id: string) => id.toUpperCase();
  const get = (target: string, authorization: string, why: string): Req => ({
    method: 'GET',
    target,
    headers: { authorization },
    mustFail: [why],
    expect: expectStatus(403, 404),
  });
  const write = (
    method: string,
    target: string,
    authorization: string,
    body: unknown,
    why: string,
    statuses = [403, 404],
  ): Req => ({
    method,
    target,
    headers: { ...JSON_HEADERS, authorization },
    body: json(body),
    mustFail: [why],
    expect: expectStatus(...statuses),
  });
  const out: Req[] = [];
  for (const id of [w.orders.paidA, up(w.orders.paidA), w.orders.awaitingA]) {
    out.push(
      get(`/api/orders/${id}`, B, "customer B reading customer A's order"),
      get(`/api/orders/${id}/history`, B, "customer B reading A's order history"),
      get(`/api/blockchain/order/${id}`, B, "customer B reading A's anchored order"),
      get(`/api/payments/order/${id}`, B, "customer B reading A's payment"),
      write('PUT', `/api/orders/${id}/cancel`, B, {}, "customer B cancelling A's order"),
    );
  }
  // Seller B sells no line of A's order waiting for payment, seller A none of B's order.
  for (const [id, seller] of [
    [w.orders.awaitingA, sellerB],
    [up(w.orders.awaitingA), sellerB],
    [w.orders.paidB, sellerA],
  ] as const) {
    for (const status of ['SHIPPED', 'DELIVERED']) {
      out.push(
        write(
          'PUT',
          `/api/orders/${id}/status`,
          seller.authorization!,
          { status },
          `${seller.name} moving an order with none of their lines to ${status}`,
        ),
      );
    }
  }
  out.push(
    get(
      `/api/orders/${w.orders.paidA}/history`,
      sellerA.authorization!,
      'a seller reading the history of an order they only sell in',
    ),
    get(
      `/api/payments/order/${w.orders.paidA}`,
      sellerA.authorization!,
      "a seller reading the buyer's payment",
    ),
    get(
      `/api/orders/${w.orders.awaitingA}`,
      sellerB.authorization!,
      'seller B reading an order with none of their lines',
    ),
  );
  for (const id of [w.payments.paidA, up(w.payments.paidA)]) {
    out.push(
      get(`/api/payments/${id}`, B, "customer B reading A's payment"),
      get(`/api/blockchain/payment/${id}`, B, "customer B reading A's anchored payment"),
    );
  }
  out.push(
    write(
      'POST',
      '/api/payments/initiate',
      B,
      { orderId: w.orders.awaitingA, payment: { method: 'card', token: 'tok_visa' } },
      "customer B paying A's order",
    ),
    write(
      'POST',
      '/api/payments/initiate',
      B,
      { orderId: up(w.orders.awaitingA), payment: { method: 'card', token: 'tok_visa' } },
      "customer B paying A's order",
    ),
    write(
      'PUT',
      `/api/comments/${w.comments.reviewA}`,
      B,
      { text: 'Edited by B' },
      "B editing A's review",
    ),
    write(
      'PUT',
      `/api/comments/${up(w.comments.reviewA)}`,
      B,
      { rating: 1 },
      "B editing A's review",
    ),
    write(
      'PUT',
      `/api/comments/${w.comments.reviewA}`,
      w.users.admin2.authorization!,
      { text: 'Edited by an admin' },
      'an admin editing a review (author only)',
    ),
    {
      ...write(
        'POST',
        '/api/comments',
        sellerA.authorization!,
        { productId: w.products.a1, text: 'Best lamp ever', rating: 5 },
        'a seller reviewing its own product',
      ),
      expect: expectCode(403, 'FORBIDDEN'),
    },
    {
      method: 'DELETE',
      target: `/api/comments/${w.comments.reviewA}`,
      headers: { authorization: B },
      mustFail: ["B deleting A's review"],
      expect: expectStatus(403),
    },
    {
      method: 'DELETE',
      target: `/api/comments/${w.comments.replyB}`,
      headers: { authorization: customerA.authorization! },
      mustFail: ["A deleting B's reply"],
      expect: expectStatus(403),
    },
    write(
      'PUT',
      `/api/products/${w.products.a1}`,
      sellerB.authorization!,
      { name: 'Mine now' },
      "seller B renaming A's product",
    ),
    write(
      'PUT',
      `/api/products/${up(w.products.a1)}`,
      sellerB.authorization!,
      { price: 0.01 },
      "seller B repricing A's product",
    ),
    write(
      'PUT',
      `/api/products/${w.products.a1}/inventory`,
      sellerB.authorization!,
      { set: 0 },
      "seller B emptying A's stock",
    ),
    {
      method: 'DELETE',
      target: `/api/products/${w.products.a1}`,
      headers: { authorization: sellerB.authorization! },
      mustFail: ["seller B deleting A's product"],
      expect: expectStatus(403),
    },
    write(
      'POST',
      '/api/products',
      sellerB.authorization!,
      { name: 'For A', price: 1, inventory: 1, sellerId: sellerA.id },
      'seller B creating a product for seller A',
    ),
    write(
      'POST',
      '/api/products',
      customerA.authorization!,
      { name: 'By a customer', price: 1, inventory: 1 },
      'a customer creating a product',
    ),
    write(
      'PUT',
      `/api/users/${customerA.id}/role`,
      customerA.authorization!,
      { role: 'admin' },
      'a customer promoting themselves',
    ),
    write(
      'PUT',
      `/api/users/${sellerB.id}/role`,
      sellerB.authorization!,
      { role: 'admin' },
      'a seller promoting themselves',
    ),
    write(
      'PUT',
      '/api/auth/profile',
      customerA.authorization!,
      { name: 'A', role: 'admin' },
      'a role in the profile',
      [400],
    ),
    write(
      'PUT',
      '/api/users/profile',
      customerA.authorization!,
      { email: customerB.email },
      'an email in the profile',
      [400],
    ),
    get(`/api/users/${customerB.id}`, customerA.authorization!, 'a customer reading a user'),
    get(`/api/orders?userId=${customerA.id}`, B, "B listing A's orders"),
    get(`/api/payments?userId=${customerA.id}`, B, "B listing A's payments"),
    get(
      `/api/orders?seller=${sellerA.id}`,
      sellerB.authorization!,
      "seller B listing seller A's lines",
    ),
    get(`/api/orders?seller=${sellerA.id}`, B, "a customer listing a seller's lines"),
    get('/api/comments/moderation/queue', B, 'a customer reading the moderation queue'),
    {
      method: 'GET',
      target: `/api/orders/${w.orders.paidA}`,
      headers: { authorization: sellerA.authorization! },
      expect: (a) => {
        const order = bodyOf(a) as
          { items?: { sellerId?: string }[]; userId?: string; total?: unknown } | undefined;
        if (a.status !== 200 || !order?.items) return `expected seller A's view, got ${a.status}`;
        if (order.items.some((i) => i.sellerId !== sellerA.id))
          return "seller A was shown seller B's lines";
        if (order.userId !== undefined || order.total !== undefined)
          return "seller A was shown the buyer's order";
        return undefined;
      },
    },
  );
  if (w.txHash) {
    out.push({
      method: 'GET',
      target: `/api/blockchain/verify/${w.txHash}`,
      headers: { authorization: B },
      expect: (a) => {
        const records = (bodyOf(a) as { records?: { recordId?: string }[] } | undefined)?.records;
        if (a.status === 404) return undefined;
        if (a.status !== 200 || !records) return `expected B's own records only, got ${a.status}`;
        return records.some((r) => r.recordId === w.orders.paidA || r.recordId === w.payments.paidA)
          ? "customer B was shown customer A's anchored records"
          : undefined;
      },
    });
  }
  return labelled('IDOR with another user token', out);
}

/** Methods a route does not have, overrides, and methods no route has. */
export function methodTricks(w: World): HostileRequest[] {
  const sA = w.users.sellerA.authorization!;
  const host = 'Host: 127.0.0.1\r\nConnection: close\r\n';
  const out: Req[] = [
    {
      method: 'PATCH',
      target: `/api/products/${w.products.a1}`,
      headers: { ...JSON_HEADERS, authorization: sA },
      body: json({ name: 'Patched' }),
      mustFail: ['no PATCH route'],
      expect: expectNotAllowed('DELETE', 'GET', 'HEAD', 'PUT'),
    },
    {
      method: 'POST',
      target: `/api/products/${w.products.a1}`,
      headers: { ...JSON_HEADERS, authorization: sA, 'x-http-method-override': 'DELETE' },
      body: json({}),
      mustFail: ['no POST route, override ignored'],
      expect: expectNotAllowed('DELETE', 'GET', 'HEAD', 'PUT'),
    },
    {
      method: 'POST',
      target: `/api/products/${w.products.a1}?_method=DELETE`,
      headers: { authorization: sA },
      mustFail: ['no POST route'],
    },
    {
      method: 'GET',
      target: `/api/products/${w.products.a1}?_method=DELETE`,
      headers: {
        authorization: sA,
        'x-http-method-override': 'DELETE',
        'x-method-override': 'DELETE',
      },
    },
    {
      method: 'DELETE',
      target: '/api/products',
      headers: { authorization: w.users.admin2.authorization! },
      mustFail: ['no DELETE on the collection'],
      expect: expectNotAllowed('GET', 'HEAD', 'POST'),
    },
    {
      method: 'PUT',
      target: '/api/orders',
      headers: { ...JSON_HEADERS, authorization: w.users.admin2.authorization! },
      body: json({ status: 'SHIPPED' }),
      mustFail: ['no PUT on the collection'],
      expect: expectNotAllowed('GET', 'HEAD', 'POST'),
    },
    {
      method: 'DELETE',
      target: `/api/orders/${w.orders.paidA}`,
      headers: { authorization: w.users.admin2.authorization! },
      mustFail: ['orders are not deleted'],
      expect: expectNotAllowed('GET', 'HEAD'),
    },
    {
      method: 'DELETE',
      target: `/api/payments/${w.payments.paidA}`,
      headers: { authorization: w.users.admin2.authorization! },
      mustFail: ['payments are not deleted'],
      expect: expectNotAllowed('GET', 'HEAD'),
    },
    { method: 'TRACE', target: '/api/products', headers: {} },
    {
      method: 'TRACE',
      target: '/api/users',
      headers: { authorization: w.users.customerA.authorization! },
      mustFail: ['no TRACE route'],
    },
    {
      method: 'OPTIONS',
      target: '/api/users',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'DELETE' },
      mustFail: ['anonymous'],
    },
    { method: 'HEAD', target: '/api/users', headers: {}, mustFail: ['anonymous'] },
    {
      method: 'HEAD',
      target: `/api/orders/${w.orders.paidA}`,
      headers: { authorization: w.users.customerB.authorization! },
      mustFail: ["B's HEAD on A's order"],
    },
    { method: 'PROPFIND', target: '/api/products', headers: {} },
    {
      method: 'get',
      target: '/api/products',
      headers: {},
      raw: raw(`get /api/products HTTP/1.1\r\n${host}\r\n`),
    },
    {
      method: 'FOO',
      target: '/api/products',
      headers: {},
      raw: raw(`FOO /api/products HTTP/1.1\r\n${host}\r\n`),
    },
    {
      method: 'DELETE',
      target: `/api/comments/${w.comments.reviewA}/flag`,
      headers: { authorization: w.users.customerB.authorization! },
      mustFail: ['no DELETE on flags'],
      expect: expectNotAllowed('POST'),
    },
  ];
  return labelled('method tricks', out);
}

/** Bodies in other types, charsets and encodings, against register and login. */
export function contentTypes(w: World): HostileRequest[] {
  const body = {
    email: 'ct@suite.test',
    password: 'long enough passphrase',
    name: 'CT',
    role: 'admin',
  };
  const text = JSON.stringify(body);
  const variants: [Record<string, string>, Buffer][] = [
    [
      { 'content-type': 'application/x-www-form-urlencoded' },
      Buffer.from('email=ct%40suite.test&password=long+enough+passphrase&name=CT&role=admin'),
    ],
    [
      { 'content-type': 'multipart/form-data; boundary=b' },
      Buffer.from(
        `--b\r\nContent-Disposition: form-data; name="email"\r\n\r\nct@suite.test\r\n--b--\r\n`,
      ),
    ],
    [{ 'content-type': 'text/plain' }, Buffer.from(text)],
    [
      { 'content-type': 'application/json; charset=utf-7' },
      Buffer.from(text.replace('{', '+AHs-')),
    ],
    [{ 'content-type': 'application/json; charset=utf-16le' }, Buffer.from(text, 'utf16le')],
    [
      { 'content-type': 'application/json' },
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]),
    ],
    [{ 'content-type': 'application/json' }, Buffer.from(`\ufeff${text}`)],
    [{ 'content-type': 'application/json; charset' }, Buffer.from(text)],
    [{ 'content-type': 'application/json;;' }, Buffer.from(text)],
    [{ 'content-type': 'application/json; charset=utf-8; charset=utf-7' }, Buffer.from(text)],
    [
      { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      gzipSync(Buffer.from(text)),
    ],
    [{ 'content-type': 'application/json', 'content-encoding': 'gzip' }, Buffer.from(text)],
    [{ 'content-type': 'application/json', 'content-encoding': 'br' }, Buffer.from(text)],
    [{ 'content-type': 'application/json', 'content-encoding': 'x-custom' }, Buffer.from(text)],
    [
      { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      gzipSync(Buffer.alloc(5_000_000, 0x20)),
    ],
    [
      { 'content-type': 'application/xml' },
      Buffer.from(
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
      ),
    ],
  ];
  const out: Req[] = variants.map(([headers, bytes]) => ({
    method: 'POST',
    target: '/api/auth/register',
    headers,
    body: bytes,
    mustFail: ['registration with a role, in another type or encoding'],
  }));
  out.push({
    method: 'POST',
    target: '/api/comments',
    headers: { authorization: w.users.customerA.authorization!, 'content-type': 'text/plain' },
    body: Buffer.from(JSON.stringify({ productId: w.products.b1, text: 'as text', rating: 3 })),
    mustFail: ['a review body that is not JSON'],
    // Refused for its type, never read as no body.
    expect: expectStatus(415),
  });
  return labelled('content types and encodings', out);
}

/** Headers about the answer, the gateway's own routes, and what Node answers by itself. */
export function edgeOddities(w: World): HostileRequest[] {
  const host = 'Host: 127.0.0.1\r\nConnection: close\r\n';
  const out: Req[] = [];
  for (const headers of <Record<string, string>[]>[
    { accept: 'application/xml' },
    { accept: 'text/html' },
    { 'accept-encoding': 'gzip, deflate, br' },
    { 'accept-charset': 'utf-7' },
    { 'accept-language': '../../etc/passwd' },
    { host: 'evil.example' },
    { host: '127.0.0.1:1' },
    { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'gopher' },
    { forwarded: 'for=127.0.0.1;host=evil.example;proto=https' },
    { 'x-request-id': 'a'.repeat(2000) },
    { 'x-request-id': 'forged-id' },
    { 'x-correlation-id': '<script>' },
    { expect: '100-continue' },
    { range: 'bytes=0-10' },
    { 'if-none-match': '*' },
    { 'max-forwards': '0' },
  ]) {
    out.push({ method: 'GET', target: '/api/users', headers, mustFail: ['anonymous'] });
    out.push({ method: 'GET', target: `/api/products/${w.products.a1}`, headers });
  }
  for (const target of [
    '/',
    '/api',
    '/api/',
    '/apix/users',
    '/api/unknown',
    '/api/blockchain',
    '/api/blockchain/verify',
    '/api/blockchain/verify/',
    '/api/blockchain/order',
    '/health/..',
    '/health/%2e%2e/api/users',
    '/health?x=%ff',
    '/health/%ff',
    '/%ff',
    '/%',
    '/docs/',
    '/docs//openapi.json',
    '/DOCS/OPENAPI.JSON',
    '/docs/openapi.json%00',
    '/docs/openapi.json/..',
    '/metrics?name[]=x',
    '/favicon.ico',
    `/${'a'.repeat(10_000)}`,
  ]) {
    out.push({ method: 'GET', target, headers: {} });
    out.push({
      method: 'POST',
      target,
      headers: JSON_HEADERS,
      body: json({ a: 1 }),
      mustFail: ['no route takes a POST here'],
    });
  }
  out.push(
    {
      method: 'GET',
      target: '/api/products',
      headers: {},
      raw: raw(`GET /api/products HTTP/1.1\r\n${host}Expect: something-else\r\n\r\n`),
    },
    {
      method: 'POST',
      target: '/api/auth/login',
      headers: {},
      raw: raw(
        `POST /api/auth/login HTTP/1.1\r\n${host}Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}`,
      ),
    },
    {
      method: 'GET',
      target: '/api/products',
      headers: {},
      raw: raw(
        `GET /api/products HTTP/1.1\r\n${host}Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n`,
      ),
    },
    {
      method: 'GET',
      target: '/api/products',
      headers: {},
      raw: raw(
        `GET /api/products HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n`,
      ),
    },
    {
      method: 'GET',
      target: '/api/users',
      headers: {},
      raw: raw(
        `GET /api/users HTTP/1.1\r\n${host}Authorization: ${w.users.customerA.authorization}\r\nAuthorization: ${w.users.admin2.authorization}\r\n\r\n`,
      ),
      mustFail: ['two Authorization headers'],
    },
  );
  return labelled('edge oddities', out);
}

export const ALL_CLASSES = [
  edgeOddities,
  spoofedIdentity,
  pathTricks,
  jwtForgeries,
  oversized,
  idempotencyAbuse,
  idor,
  methodTricks,
  contentTypes,
];
