import Joi from 'joi';
import {
  checkPayload,
  checkPayloadBySchema,
  EVENT_SCHEMAS,
  EVENT_TYPES,
  type EventPayloads,
  type EventType,
} from '../src/events';
import { compileFastAccept } from '../src/util/joi-fast-accept';

const id = 'd6f1c7c2-4a7e-4b8e-9d55-0f4a1c2b3e4d';
const money = { amount: 2598, currency: 'USD' };
const lines = [{ productId: 'p-1', quantity: 2 }];

/** One payload per event type, as this platform's publishers write them. */
const WRITTEN: { [T in EventType]: EventPayloads[T] } = {
  'user.created': { userId: id, email: 'a@b.co', name: 'Ann', role: 'customer' },
  'user.updated': { userId: id, email: 'a@b.co', name: 'Ann', role: 'seller' },
  'user.deleted': { userId: id },
  'product.created': {
    productId: id,
    sellerId: id,
    name: 'Lamp',
    price: money,
    category: null,
    inventory: 5,
  },
  'product.updated': { productId: id, changes: ['price'], price: money },
  'product.deleted': { productId: id },
  'product.inventory.low': { productId: id, available: 1, threshold: 3 },
  'inventory.reserved': { orderId: id, items: lines },
  'inventory.rejected': { orderId: id, productId: null, reason: '', requested: 3, available: 0 },
  'inventory.reservation.overdue': { orderId: id, since: '2026-12-06T10:00:00.000Z' },
  'order.created': {
    orderId: id,
    userId: id,
    items: [{ productId: 'p-1', quantity: 2, unitPrice: 1299, name: 'Lamp' }],
    total: money,
    payment: { method: 'card', token: 'tok_visa' },
  },
  'order.confirmed': { orderId: id, userId: id, items: lines, total: money },
  'order.failed': { orderId: id, reason: 'INSUFFICIENT_STOCK', items: [] },
  'order.cancelled': { orderId: id, userId: id, reason: '', previousStatus: null, items: lines },
  'order.shipped': { orderId: id, userId: id, items: lines, fullyShipped: true },
  'order.completed': { orderId: id },
  'order.payment.overdue': { orderId: id, userId: id, since: '2026-12-06T10:00:00.000Z' },
  'payment.initiated': { paymentId: id, orderId: id, amount: money, attempt: 1, source: 'order' },
  'payment.completed': { paymentId: id, orderId: id, amount: money },
  'payment.failed': {
    paymentId: id,
    orderId: id,
    reason: 'declined',
    code: 'card_declined',
    retryable: false,
  },
  'payment.refunded': {
    paymentId: id,
    orderId: id,
    refundId: id,
    amount: money,
    fullyRefunded: true,
  },
  'comment.created': { commentId: id, productId: id, userId: id, rating: 4, parentId: null },
  'comment.updated': { commentId: id, productId: id, rating: null, previousRating: 5 },
  'comment.deleted': { commentId: id, productId: id, rating: 1 },
  'comment.flagged': { commentId: id, productId: id, flags: 3, hidden: false },
};

/** Values put in place of a field: every kind, and the edges of the schemas' limits. */
const PALETTE: unknown[] = [
  undefined,
  null,
  '',
  'x',
  'USD',
  'usd',
  'a'.repeat(128),
  'a'.repeat(129),
  'a'.repeat(254),
  'a'.repeat(1001),
  'customer',
  'order',
  0,
  -0,
  1,
  -1,
  5,
  6,
  1.5,
  1_000_000,
  1_000_001,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 2,
  NaN,
  Infinity,
  true,
  false,
  {},
  [],
  [undefined],
  [{ productId: 'p', quantity: 1 }],
  Object.create(null) as object,
  new Date(0),
  { amount: 1, currency: 'EUR', extra: 1 },
];

/** Every path to a value inside `value`, the root ([]) included. */
function paths(value: unknown, at: Array<string | number> = []): Array<Array<string | number>> {
  const inner =
    value !== null && typeof value === 'object'
      ? Object.entries(value).flatMap(([k, v]) =>
          paths(v, [...at, Array.isArray(value) ? Number(k) : k]),
        )
      : [];
  return [at, ...inner];
}

/** A copy of `value` with the field at `path` replaced (undefined deletes it), or a key added. */
function variant(
  value: unknown,
  path: Array<string | number>,
  put: unknown,
  add?: string,
): unknown {
  // Through JSON, not structuredClone: under Jest that makes objects of another realm.
  const copy = JSON.parse(JSON.stringify(value)) as Record<string | number, unknown>;
  if (path.length === 0) return put;
  let parent: Record<string | number, unknown> = copy;
  for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (add !== undefined) {
    const target = parent[last];
    if (target !== null && typeof target === 'object' && !Array.isArray(target))
      (target as Record<string, unknown>)[add] = put;
  } else if (put === undefined && !Array.isArray(parent)) delete parent[last];
  else parent[last] = put;
  return copy;
}

function at(value: unknown, path: Array<string | number>): unknown {
  return path.reduce<unknown>((v, step) => (v as Record<string | number, unknown>)[step], value);
}

function variantsOf(value: unknown): unknown[] {
  const out: unknown[] = [value];
  for (const path of paths(value)) {
    for (const put of PALETTE) out.push(variant(value, path, put));
    out.push(variant(value, path, 1, 'note'));
    out.push(variant(value, path, undefined, 'ghost'));
    const here = at(value, path);
    // Arrays at and past the limits (100 and 500 in the contracts).
    if (Array.isArray(here))
      for (const n of [100, 101, 500, 501])
        out.push(
          variant(
            value,
            path,
            Array.from({ length: n }, () => here[0] ?? 'x'),
          ),
        );
    if (here !== null && typeof here === 'object' && !Array.isArray(here)) {
      // Objects a publisher could build in-process: an array with the keys, a key that is not
      // enumerable (joi's copy leaves it out).
      out.push(variant(value, path, Object.assign([], here)));
      const [first] = Object.keys(here);
      if (first !== undefined) {
        const hidden = { ...here };
        Object.defineProperty(hidden, first, { value: (here as never)[first], enumerable: false });
        out.push(variant(value, path, hidden));
      }
    }
  }
  // A key named __proto__ as JSON.parse makes it: an own property.
  out.push(JSON.parse(`{"__proto__": {"x": 1}, ${JSON.stringify(value).slice(1)}`));
  return out;
}

describe('payloads accepted without joi when plain', () => {
  it('accepts every payload the platform writes without joi, for the contracts it can compile', () => {
    const compiled = EVENT_TYPES.filter((t) => compileFastAccept(EVENT_SCHEMAS[t]));
    // The two contracts with an ISO date (joi's own rule) are left to joi.
    expect(EVENT_TYPES.filter((t) => !compiled.includes(t)).sort()).toEqual([
      'inventory.reservation.overdue',
      'order.payment.overdue',
    ]);
    for (const type of compiled) {
      const accept = compileFastAccept(EVENT_SCHEMAS[type])!;
      expect([type, accept(WRITTEN[type], false)]).toEqual([type, true]);
      expect([type, accept(WRITTEN[type], true)]).toEqual([type, true]);
      expect(checkPayloadBySchema(type, WRITTEN[type], { strict: true }).ok).toBe(true);
    }
  });

  it('gives the same verdict, value and reason as joi alone, for every payload and variant', () => {
    let checked = 0;
    let fast = 0;
    for (const type of EVENT_TYPES) {
      const accept = compileFastAccept(EVENT_SCHEMAS[type]);
      for (const value of variantsOf(WRITTEN[type])) {
        for (const strict of [false, true]) {
          const got = checkPayload(type, value, { strict });
          const joi = checkPayloadBySchema(type, value, { strict });
          expect({ type, value, strict, got }).toEqual({ type, value, strict, got: joi });
          // What the fast path accepts, joi accepts and gives back unchanged.
          if (accept?.(value, !strict)) {
            fast += 1;
            expect(joi).toEqual({ ok: true, data: value });
          }
          checked += 1;
        }
      }
    }
    expect(checked).toBeGreaterThan(5000);
    // Variants inside the limits (an optional key dropped, another allowed value) pass fast too.
    expect(fast).toBeGreaterThan(500);
  });

  it('leaves to joi what it does not model, and agrees with joi on what it does', () => {
    const notModelled = [
      Joi.object(),
      Joi.object({ a: Joi.string().default('x') }),
      Joi.object({ a: Joi.string().trim() }),
      Joi.object({ a: Joi.string().isoDate() }),
      Joi.object({ a: Joi.string().pattern(/x/, 'name') }),
      Joi.object({ a: Joi.string().min(1, 'utf8') }),
      Joi.object({ a: Joi.number().greater(1) }),
      Joi.object({ a: Joi.number().min(Joi.ref('b')), b: Joi.number() }),
      Joi.object({ a: Joi.number().allow(0) }),
      Joi.object({ a: Joi.any() }),
      Joi.object({ a: Joi.string().forbidden() }),
      Joi.object({ a: Joi.string().insensitive().valid('x') }),
      Joi.object({ a: Joi.array().items(Joi.string(), Joi.number()) }),
      Joi.object({ a: Joi.array().sparse() }),
      Joi.object({ a: Joi.boolean().truthy('yes') }),
      Joi.object({ a: Joi.string() }).rename('b', 'a'),
      Joi.object({ a: Joi.string() }).unknown(),
      Joi.object({ a: Joi.string() }).and('a', 'b'),
      Joi.object({ a: Joi.string().when('b', { is: 1, then: Joi.required() }), b: Joi.any() }),
      Joi.object({ a: Joi.string() }).prefs({ convert: true }),
      // A required item: the array must hold one that matches.
      Joi.object({ a: Joi.array().items(Joi.string().required()) }),
      // Allowed values joi would convert (with convert on): '5' comes back 5.
      Joi.object({ a: Joi.number().allow('5') }),
      Joi.object({ a: Joi.boolean().allow('TRUE') }),
      // A type made with Joi.extend describes as a plain string, and trims.
      Joi.object({
        a: Joi.extend({
          type: 'string',
          base: Joi.string(),
          coerce: (value: string) => ({ value: value.trim() }),
        }).string(),
      }),
    ];
    for (const schema of notModelled) expect(compileFastAccept(schema)).toBeNull();

    const modelled = Joi.object({
      name: Joi.string()
        .pattern(/^[a-z]+$/i)
        .min(2)
        .max(4)
        .required(),
      kind: Joi.string().valid('a', 'b').allow(null),
      ratio: Joi.number().min(-1).max(1),
      flag: Joi.boolean().allow(null).required(),
      tags: Joi.array().items(Joi.string().allow('')).min(1).max(2),
    });
    const accept = compileFastAccept(modelled)!;
    expect(accept).not.toBeNull();
    const base = { name: 'Ab', kind: 'a', ratio: 0.5, flag: true, tags: ['', 'x'] };
    expect(accept(base, false)).toBe(true);
    const more = [
      ...variantsOf(base),
      ...['aB', 'A1', 'abcd', 'abcde'].map((name) => ({ ...base, name })),
      ...[-1, 1, -1.5, 1e-9].map((ratio) => ({ ...base, ratio })),
    ];
    let fast = 0;
    for (const value of more) {
      for (const allowUnknown of [false, true]) {
        for (const convert of [false, true]) {
          if (!accept(value, allowUnknown)) continue;
          fast += 1;
          const joi = modelled.validate(value, { allowUnknown, convert });
          expect({ value, allowUnknown, convert, error: joi.error?.message }).toEqual({
            value,
            allowUnknown,
            convert,
            error: undefined,
          });
          expect(joi.value).toEqual(value);
        }
      }
    }
    expect(fast).toBeGreaterThan(40);
  });

  it('leaves to joi a key an object inherits, as joi reads it', () => {
    const { requested: _requested, ...data } = WRITTEN['inventory.rejected'];
    Object.defineProperty(Object.prototype, 'requested', { value: 'x', configurable: true });
    try {
      for (const strict of [false, true]) {
        const joi = checkPayloadBySchema('inventory.rejected', data, { strict });
        expect(joi.ok).toBe(false);
        expect(checkPayload('inventory.rejected', data, { strict })).toEqual(joi);
      }
    } finally {
      delete (Object.prototype as Record<string, unknown>).requested;
    }
    expect(checkPayload('inventory.rejected', data)).toEqual({ ok: true, data });
  });
});
