import querystring from 'node:querystring';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type Joi from 'joi';
import {
  findUnstorableText,
  isPublicAccess,
  isStorableText,
  parseStrictJson,
  withStrictScalars,
  type ApiSpec,
  type OperationSpec,
} from '@ecom/common/http';
import type { HostileRequest } from './client';
import type { Actor, Ownership } from './world';
import {
  caseVariant,
  Entries,
  HOSTILE_TEXT,
  hex,
  hostileNumber,
  hostileString,
  hostileValue,
  malformedSegment,
  operatorObject,
  pct,
  rawNumber,
  RawJson,
  toJson,
  trickySegment,
  withOwnKey,
} from './values';

/**
 * Requests generated from the assembled OpenAPI document the gateway serves: for every
 * operation, fast-check draws a caller (each role's token, another user's, none, a forgery),
 * path parameters (existing ids, the same in other letter cases, unknown ids, ids of another
 * kind, text that does not decode or routes elsewhere), query parameters (valid, hostile,
 * operator keys, repeated keys) and a body (valid-looking from the schema, then mutated:
 * hostile leaves, unknown and prototype keys, duplicate keys, wrong containers, numeric
 * strings, raw number tokens, deep nesting, malformed text, invalid UTF-8, 10 KB strings, a
 * body over the limit) under a content type (JSON, other charsets, not JSON at all).
 *
 * Writes are only ever sent when they must fail. Each drawn request is judged with the
 * operation's own joi schemas and access rule (SERVICE_APIS, the source of the document) and
 * with who owns which record; a write that would be legitimate is given one more flaw that
 * makes it certain to fail (no valid token, an unknown key, an unknown id). So every write in
 * the hostile phase has its reasons to fail (`mustFail`): a 2xx to one is a finding, and any
 * change in what an admin reads afterwards is an unintended write. Reads may succeed; a read
 * with a reason to fail (no token, wrong role, someone else's order) must not.
 */

type JsonSchema = Record<string, unknown>;

export interface DocParameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema: JsonSchema;
}

export interface DocOperation {
  operationId: string;
  method: string;
  /** '/api/orders/{id}' */
  template: string;
  parameters: DocParameter[];
  body?: JsonSchema;
  /** The operation in its service's spec (the gateway's own ones included). */
  spec: OperationSpec;
}

/** The operations of the document, each joined with its spec by operationId. */
export function docOperations(
  doc: { paths: Record<string, Record<string, Record<string, unknown>>> },
  apis: readonly ApiSpec[],
): DocOperation[] {
  const out: DocOperation[] = [];
  for (const [template, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const operationId = String(op.operationId);
      const [service, id] = operationId.split('.') as [string, string];
      const spec = apis.find((a) => a.service === service)?.operations[id];
      if (!spec) throw new Error(`${operationId} is in the document but in no API spec`);
      const body = (
        op.requestBody as { content?: Record<string, { schema?: JsonSchema }> } | undefined
      )?.content?.['application/json']?.schema;
      out.push({
        operationId,
        method: method.toUpperCase(),
        template,
        parameters: (op.parameters ?? []) as DocParameter[],
        body,
        spec,
      });
    }
  }
  return out;
}

/** Operations whose effects no admin view shows, or that write nothing: never forced to fail. */
const NOT_WRITES = new Set([
  'auth.login',
  'auth.refresh',
  'auth.logout',
  // A new empty guest cart: reachable only with the token it answers, shown in no admin view.
  'order.createGuestCart',
]);

export function isWrite(op: DocOperation): boolean {
  return op.method !== 'GET' && !NOT_WRITES.has(op.operationId);
}

const isGatewayOwn = (op: DocOperation) => op.operationId.startsWith('gateway.');

/** Which kind of record a path parameter names. */
export function paramKind(template: string, name: string): string {
  if (name === 'productId') return 'product';
  if (name === 'orderId') return 'order';
  if (name === 'paymentId') return 'payment';
  if (name === 'transactionHash') return 'tx';
  if (template.startsWith('/api/users')) return 'user';
  if (template.startsWith('/api/products/categories')) return 'category';
  if (template.startsWith('/api/products')) return 'product';
  if (template.startsWith('/api/comments')) return 'comment';
  if (template.startsWith('/api/orders')) return 'order';
  if (template.startsWith('/api/payments')) return 'payment';
  return 'unknown';
}

/** A well-formed id of `kind` that names nothing. */
function unknownId(kind: string): fc.Arbitrary<string> {
  if (kind === 'order' || kind === 'payment') return fc.uuid({ version: 4 });
  if (kind === 'tx') return hex(64).map((h) => `0x${h}`);
  // ObjectIds: a fixed leading timestamp far in the future, so no real one can match.
  return hex(16).map((h) => `ffffffff${h}`);
}

/** Operations that answer 404 for an id that names nothing (a write then writes nothing). */
const LOOKS_UP_ITS_RECORD = new Set([
  'auth.getUser',
  'auth.setRole',
  'auth.deleteUser',
  'product.getProduct',
  'product.updateProduct',
  'product.deleteProduct',
  'product.changeInventory',
  'product.getAvailability',
  'product.getCategory',
  'product.renameCategory',
  'comments.getComment',
  'comments.editComment',
  'comments.deleteComment',
  'comments.flagComment',
  'comments.moderateComment',
  'comments.markHelpful',
  'comments.withdrawHelpful',
  'order.getOrder',
  'order.getOrderHistory',
  'order.cancelOrder',
  'order.setOrderStatus',
  'order.orderAnchors',
  'order.removeCartItem',
  'payment.getPayment',
  'payment.getPaymentOfOrder',
  'payment.refundPayment',
  'payment.paymentAnchors',
]);

type Rule = (actor: Actor, record: { owner?: string; sellers?: string[] }) => string | undefined;

const notOwnerNorAdmin: Rule = (a, r) =>
  a.role === 'admin' || a.id === r.owner ? undefined : 'not the owner nor an admin';

/**
 * Who may act on a record, per operation, where the code leaves no doubt (the platform's rules;
 * an actor outside them gets 403 or 404). Operations missing here have no ownership reason.
 */
const OWNERSHIP: Record<string, Rule> = {
  'product.updateProduct': notOwnerNorAdmin,
  'product.deleteProduct': notOwnerNorAdmin,
  'product.changeInventory': notOwnerNorAdmin,
  'comments.editComment': (a, r) => (a.id === r.owner ? undefined : 'not the author'),
  'comments.deleteComment': notOwnerNorAdmin,
  'comments.flagComment': (a, r) => (a.id === r.owner ? 'flags their own comment' : undefined),
  'comments.markHelpful': (a, r) => (a.id === r.owner ? 'votes for their own comment' : undefined),
  'order.getOrder': (a, r) =>
    a.role === 'admin' || a.id === r.owner || (a.id && r.sellers?.includes(a.id))
      ? undefined
      : 'not the owner, an admin nor a seller of a line',
  'order.getOrderHistory': notOwnerNorAdmin,
  'order.orderAnchors': notOwnerNorAdmin,
  'order.cancelOrder': notOwnerNorAdmin,
  'order.setOrderStatus': (a, r) =>
    a.role === 'admin' || (a.id && r.sellers?.includes(a.id)) ? undefined : 'sells no line of it',
  'payment.getPayment': notOwnerNorAdmin,
  'payment.getPaymentOfOrder': notOwnerNorAdmin,
  'payment.paymentAnchors': notOwnerNorAdmin,
  'auth.setRole': (a, r) => (a.id === r.owner ? 'changes their own role' : undefined),
  'auth.deleteUser': (a, r) => (a.id === r.owner ? 'deletes themselves' : undefined),
};

/** Content types, and what the services make of a body sent with each. */
const CONTENT_TYPES: {
  type: string | undefined;
  kind: 'json' | 'charset' | 'ignored' | 'unknown';
  weight: number;
}[] = [
  { type: 'application/json', kind: 'json', weight: 24 },
  { type: 'application/json; charset=utf-8', kind: 'json', weight: 4 },
  { type: 'application/json;charset=UTF8', kind: 'json', weight: 1 },
  { type: 'APPLICATION/JSON', kind: 'json', weight: 1 },
  { type: 'application/json; charset=utf-7', kind: 'charset', weight: 2 },
  { type: 'application/json; charset=iso-8859-1', kind: 'charset', weight: 1 },
  { type: 'application/json; charset=utf-16le', kind: 'charset', weight: 1 },
  { type: 'text/plain', kind: 'ignored', weight: 2 },
  { type: 'text/plain; charset=utf-8', kind: 'ignored', weight: 1 },
  { type: 'application/x-www-form-urlencoded', kind: 'ignored', weight: 1 },
  { type: undefined, kind: 'ignored', weight: 1 },
  { type: 'multipart/form-data; boundary=x', kind: 'unknown', weight: 1 },
  { type: 'application/json; charset', kind: 'unknown', weight: 1 },
  { type: 'application/json; charset="utf-8"', kind: 'unknown', weight: 1 },
  { type: 'application/json, text/html', kind: 'unknown', weight: 1 },
  { type: 'application/vnd.api+json', kind: 'unknown', weight: 1 },
  { type: 'application/json; boundary=--x; charset=utf-8; x=1', kind: 'unknown', weight: 1 },
  { type: '*/*', kind: 'unknown', weight: 1 },
  { type: 'application/jsonx', kind: 'unknown', weight: 1 },
];

const BODY_LIMIT = 100 * 1024;
const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,255}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

interface Segment {
  raw: string;
}

interface BodyDraft {
  bytes: Buffer;
  contentType: string | undefined;
  contentEncoding?: string;
  /** The valid-looking value before its mutation (a forced flaw is added to it). */
  base: unknown;
  mutation: string;
}

interface Draft {
  method: string;
  actor: Actor;
  params: Record<string, Segment>;
  query: string;
  body?: BodyDraft;
  headers: Record<string, string>;
  /** Which forced flaw to try first, and its ingredients. */
  fallback: number;
  fallbackActor: Actor;
  fallbackIds: Record<string, string>;
}

export interface GenerationContext {
  /** The records the generator draws ids from, and who owns each. */
  own: Ownership;
  /** Ids drawn more often, by kind: the records made for the suite. */
  mine: Record<string, string[]>;
  /** Every actor a request may carry: users with valid tokens and the invalid ones. */
  actors: Actor[];
  /** Category slugs that exist. */
  slugs: string[];
  /** An Idempotency-Key already used (by customer A, for an order). */
  usedKey: string;
  /** An admin's id, for made-up identity headers. */
  adminId: string;
  /**
   * true (the hostile phase): a write that may succeed gets one more flaw; false (the sandbox
   * phase): it is sent as drawn.
   */
  forceFailure: boolean;
}

/** A valid-looking value for a JSON schema, drawing ids from the records that exist. */
function validish(
  schema: JsonSchema,
  ctx: GenerationContext,
  name = '',
  depth = 0,
): fc.Arbitrary<unknown> {
  const own = ctx.own;
  const pool = (kind: string) => {
    const ids = own.ids(kind);
    return ids.length ? fc.constantFrom(...ids) : unknownId(kind);
  };
  if (name === 'productId') return fc.oneof(pool('product'), unknownId('product'));
  if (name === 'parentId')
    return fc.oneof(pool('comment'), unknownId('comment'), fc.constant(null));
  if (name === 'orderId') return fc.oneof(pool('order'), unknownId('order'));
  if (name === 'sellerId' || name === 'userId') return fc.oneof(pool('user'), unknownId('user'));
  if (name === 'category' && ctx.slugs.length) return fc.constantFrom(...ctx.slugs, null);
  if (name === 'token' && depth > 0) {
    return fc.constantFrom('tok_visa', 'tok_chargeDeclined', 'tok_mastercard', 'tok_unknown');
  }
  if (/password$/i.test(name)) {
    // The policy (8-256 characters) is checked past the schema: mostly passwords it accepts.
    return fc.oneof(
      {
        weight: 3,
        arbitrary: fc.string({ minLength: 8, maxLength: 64 }).filter((p) => p.trim().length >= 8),
      },
      { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
    );
  }
  if (name === 'attributes') {
    return fc.dictionary(
      fc.stringMatching(/^[A-Za-z][A-Za-z0-9_ -]{0,12}$/),
      fc.oneof(fc.string({ maxLength: 20 }), fc.integer({ min: -1000, max: 1000 }), fc.boolean()),
      { maxKeys: 4 },
    );
  }
  const nullable = schema.nullable === true;
  const withNull = (a: fc.Arbitrary<unknown>) =>
    nullable
      ? fc.oneof({ weight: 5, arbitrary: a }, { weight: 1, arbitrary: fc.constant(null) })
      : a;
  if (Array.isArray(schema.enum)) return withNull(fc.constantFrom(...(schema.enum as unknown[])));
  const alternatives = (schema.oneOf ?? schema.anyOf) as JsonSchema[] | undefined;
  if (alternatives && !schema.type) {
    return fc.oneof(...alternatives.map((s) => validish(s, ctx, name, depth + 1)));
  }
  const num = (k: string) => (typeof schema[k] === 'number' ? (schema[k] as number) : undefined);
  switch (schema.type) {
    case 'string': {
      const min = num('minLength') ?? 0;
      const max = Math.min(num('maxLength') ?? 40, 40);
      if (schema.format === 'email')
        return withNull(fc.emailAddress().filter((e) => e.length < 200));
      if (schema.format === 'uuid') return withNull(fc.uuid());
      if (typeof schema.pattern === 'string') {
        return withNull(fc.stringMatching(new RegExp(schema.pattern)));
      }
      // Hostile text that fits the field: markup, SQL, bidi overrides, emoji, the longest allowed.
      const full = num('maxLength');
      const fits = HOSTILE_TEXT.filter(
        (t) => t.trim().length >= Math.max(min, 1) && t.length <= (full ?? 40) && isStorableText(t),
      );
      return withNull(
        fc.oneof(
          fc.string({ minLength: Math.max(min, 1), maxLength: Math.max(max, min, 1) }),
          fc.string({
            unit: 'grapheme',
            minLength: Math.max(min, 1),
            maxLength: Math.max(max, min, 1),
          }),
          ...(fits.length ? [fc.constantFrom(...fits)] : []),
          ...(full !== undefined && full <= 20_000
            ? [fc.constantFrom('x', 'é', '💥').map((c) => c.repeat(Math.floor(full / c.length)))]
            : []),
        ),
      );
    }
    case 'integer': {
      const min = num('minimum') ?? -1000;
      const max = num('maximum') ?? 1000;
      return withNull(
        fc.integer({
          min: Math.ceil(min),
          max: Math.floor(Math.max(min, Math.min(max, min + 10_000))),
        }),
      );
    }
    case 'number': {
      const min = num('minimum') ?? 0;
      const max = Math.min(num('maximum') ?? 1000, 10_000);
      return withNull(
        fc.integer({ min: Math.ceil(min * 100), max: Math.floor(max * 100) }).map((c) => c / 100),
      );
    }
    case 'boolean':
      return withNull(fc.boolean());
    case 'array': {
      const items = (schema.items ?? {}) as JsonSchema;
      return withNull(
        fc.array(validish(items, ctx, name, depth + 1), {
          minLength: num('minItems') ?? 0,
          maxLength: Math.min(num('maxItems') ?? 3, 3),
        }),
      );
    }
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
      const required = new Set((schema.required ?? []) as string[]);
      const entries: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [key, s] of Object.entries(props)) {
        const value = validish(s, ctx, key, depth + 1);
        entries[key] = required.has(key)
          ? value
          : fc.oneof(
              { weight: 1, arbitrary: fc.constant(undefined) },
              { weight: 2, arbitrary: value },
            );
      }
      return withNull(
        fc.record(entries).map((r) => {
          const out: Record<string, unknown> = {};
          for (const [k, v] of Object.entries(r)) if (v !== undefined) out[k] = v;
          return out;
        }),
      );
    }
    default:
      return hostileValue;
  }
}

/** The dotted paths of the leaves of a JSON value. */
function leafPaths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (value instanceof RawJson || value instanceof Entries) return [prefix];
  if (Array.isArray(value)) {
    return value.length ? value.flatMap((v, i) => leafPaths(v, [...prefix, i])) : [prefix];
  }
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    return keys.length
      ? keys.flatMap((k) => leafPaths((value as Record<string, unknown>)[k], [...prefix, k]))
      : [prefix];
  }
  return [prefix];
}

function setAt(
  value: unknown,
  path: (string | number)[],
  leaf: (old: unknown) => unknown,
): unknown {
  if (path.length === 0) return leaf(value);
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  if (Array.isArray(value)) {
    const copy = [...value];
    copy[head as number] = setAt(copy[head as number], rest, leaf);
    return copy;
  }
  if (value !== null && typeof value === 'object') {
    return {
      ...(value as Record<string, unknown>),
      [head]: setAt((value as Record<string, unknown>)[head], rest, leaf),
    };
  }
  return value;
}

function mapLeaves(value: unknown, f: (leaf: unknown) => unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => mapLeaves(v, f));
  if (value !== null && typeof value === 'object' && !(value instanceof RawJson)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapLeaves(v, f)]));
  }
  return f(value);
}

const asObject = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

const MASS_ASSIGNMENT_KEYS = [
  'role',
  'isAdmin',
  'admin',
  'id',
  '_id',
  'userId',
  'status',
  'createdAt',
  'verified',
  'sid',
  'rating',
  'helpfulCount',
  'total',
  'refunded',
];

/** Mutations of a valid-looking body: each returns the text to send and what it did. */
function mutation(base: unknown): fc.Arbitrary<{ text: Buffer; mutation: string }> {
  const json = (v: unknown, m: string) => ({ text: Buffer.from(toJson(v), 'utf8'), mutation: m });
  const paths = leafPaths(base);
  const path = fc.constantFrom(...paths);
  const obj = asObject(base);
  const keys = Object.keys(obj);
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant(json(base, 'as drawn')) },
    {
      weight: 6,
      arbitrary: fc.tuple(path, hostileValue).map(([p, v]) =>
        json(
          setAt(base, p, () => v),
          `hostile value at ${p.join('.') || '(body)'}`,
        ),
      ),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.oneof(fc.constantFrom(...MASS_ASSIGNMENT_KEYS), hostileString), hostileValue)
        .map(([k, v]) =>
          json(withOwnKey(obj, k, v), `extra key ${JSON.stringify(k).slice(0, 40)}`),
        ),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(path, operatorObject).map(([p, o]) =>
        json(
          setAt(base, p, () => o),
          `operator object at ${p.join('.')}`,
        ),
      ),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('__proto__', 'constructor')
        .map((k) =>
          json(
            withOwnKey(
              obj,
              k,
              k === 'constructor'
                ? { prototype: { role: 'admin' } }
                : { role: 'admin', isAdmin: true },
            ),
            `${k} key`,
          ),
        ),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(hostileValue, fc.boolean()).map(([v, first]) => {
        const key = keys[0] ?? 'role';
        const entries: [string, unknown][] = Object.entries(obj);
        const dup: [string, unknown] = [key, v];
        return json(
          new Entries(first ? [dup, ...entries] : [...entries, dup]),
          `duplicate key ${key}`,
        );
      }),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(...(keys.length ? keys : ['x'])).map((k) => {
        const { [k]: _dropped, ...rest } = obj;
        return json(rest, `without ${k}`);
      }),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          (n: number) => String(n),
          (n: number) => `${n}e0`,
          (n: number) => ` ${n} `,
        )
        .map((f) =>
          json(
            mapLeaves(base, (l) => (typeof l === 'number' ? f(l) : l)),
            'numbers as strings',
          ),
        ),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(path, rawNumber).map(([p, r]) =>
        json(
          setAt(base, p, () => r),
          `raw number ${r.text}`,
        ),
      ),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom<[unknown, string]>(
          [[base], 'body in an array'],
          [[], 'empty array'],
          [
            mapLeaves(base, (l) => (typeof l === 'string' || typeof l === 'number' ? [l] : l)),
            'scalars in arrays',
          ],
          [Object.fromEntries(keys.map((k) => [k, { value: obj[k] }])), 'scalars in objects'],
        )
        .map(([v, m]) => json(v, m)),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('null', '"text"', '1', 'true', '[]', '{}', '[null]', '""')
        .map((t) => ({ text: Buffer.from(t), mutation: `body ${t}` })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.integer({ min: 30, max: 5000 }), fc.boolean()).map(([n, arr]) => ({
        text: Buffer.from(
          arr ? `${'['.repeat(n)}${']'.repeat(n)}` : `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`,
        ),
        mutation: `nested ${n} deep`,
      })),
    },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom<(t: string) => string>(
          (t) => t.slice(0, Math.max(1, t.length - 1)),
          (t) => t.replace(/}$/, ',}'),
          (t) => t.replace(/"/g, "'"),
          (t) => t.replace(/^{/, '{/*c*/'),
          (t) => `\ufeff${t}`,
          (t) => `${t}${t}`,
          (t) => `${t} x`,
          (t) => t.replace(/:/, ':NaN,"z":'),
          (t) => t.replace(/"/, '"\u0001'),
          (t) => t.replace(/^{/, '{"a":"\n",'),
          (t) => t.replace(/^{/, '{"\\ud800":1,'),
          (t) => t.replace(/^{/, '{"\\u005f_proto__":{"role":"admin"},'),
          (t) => t.replace(/^{/, '{"a":"\\x41",'),
        )
        .map((f) => ({ text: Buffer.from(f(toJson(base)), 'utf8'), mutation: 'malformed text' })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          Buffer.from([0xff, 0xfe]),
          Buffer.from([0xc0, 0xaf]),
          Buffer.from([0xed, 0xa0, 0x80]),
        )
        .map((bad) => {
          const t = Buffer.from(toJson(withOwnKey(obj, 'x', 'BAD')), 'utf8');
          const at = t.indexOf('BAD');
          return {
            text: Buffer.concat([t.subarray(0, at), bad, t.subarray(at + 3)]),
            mutation: 'invalid UTF-8',
          };
        }),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          path,
          fc.integer({ min: 1000, max: 10_240 }),
          fc.constantFrom('A', 'é', '💥', '\\u0000'),
        )
        .map(([p, n, c]) =>
          c === '\\u0000'
            ? {
                text: Buffer.from(
                  toJson(setAt(base, p, () => new RawJson(`"${c.repeat(n / 6)}"`))),
                ),
                mutation: `escaped NULs at ${p.join('.')}`,
              }
            : json(
                setAt(base, p, () => c.repeat(n)),
                `${n}-character text at ${p.join('.')}`,
              ),
        ),
    },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: BODY_LIMIT + 1, max: BODY_LIMIT + 20_000 })
        .map((n) => json(withOwnKey(obj, 'pad', 'x'.repeat(n)), `${n}-byte padding`)),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(...['AbCdEf', 'ID']).map(() =>
        json(
          mapLeaves(base, (l) =>
            typeof l === 'string' && /^[0-9a-f-]{24,}$/.test(l) ? l.toUpperCase() : l,
          ),
          'ids in upper case',
        ),
      ),
    },
    { weight: 1, arbitrary: fc.constant({ text: Buffer.alloc(0), mutation: 'empty body' }) },
  );
}

function bodyDraft(op: DocOperation, ctx: GenerationContext): fc.Arbitrary<BodyDraft | undefined> {
  const contentType = fc.oneof(
    ...CONTENT_TYPES.map((c) => ({ weight: c.weight, arbitrary: fc.constant(c.type) })),
  );
  const encoding = fc.oneof(
    { weight: 30, arbitrary: fc.constant<string | undefined>(undefined) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-unknown', 'gzip, gzip'),
    },
  );
  if (!op.body) {
    // No body in the spec: mostly none, sometimes one anyway (the parser runs for every route).
    return fc.oneof(
      { weight: 4, arbitrary: fc.constant(undefined) },
      {
        weight: 1,
        arbitrary: fc.tuple(mutation({ x: 1 }), contentType, encoding).map(([m, t, e]) => ({
          bytes: m.text,
          contentType: t,
          contentEncoding: e,
          base: {},
          mutation: m.mutation,
        })),
      },
    );
  }
  return validish(op.body, ctx).chain((base) => {
    const mutated = fc.tuple(mutation(base), contentType, encoding).map(([m, t, e]) => ({
      bytes: m.text,
      contentType: t,
      contentEncoding: e,
      base,
      mutation: m.mutation,
    }));
    if (ctx.forceFailure) return mutated;
    // The sandbox: mostly the valid-looking body itself, as JSON, so that writes succeed.
    const asDrawn = fc.constant({
      bytes: Buffer.from(toJson(base), 'utf8'),
      contentType: 'application/json',
      base,
      mutation: 'as drawn',
    });
    return fc.oneof({ weight: 4, arbitrary: asDrawn }, { weight: 1, arbitrary: mutated });
  });
}

function queryDraft(op: DocOperation, ctx: GenerationContext): fc.Arbitrary<string> {
  const params = op.parameters.filter((p) => p.in === 'query');
  const value = (p: DocParameter) =>
    fc.oneof(
      { weight: 3, arbitrary: validish(p.schema, ctx, p.name).map((v) => pct(String(v))) },
      { weight: 2, arbitrary: hostileString.map(pct) },
      { weight: 1, arbitrary: hostileNumber.map((n) => pct(String(n))) },
      { weight: 1, arbitrary: malformedSegment },
    );
  const pairs = params.map((p) =>
    fc.oneof(
      { weight: 2, arbitrary: fc.constant<string[]>([]) },
      { weight: 3, arbitrary: value(p).map((v) => [`${p.name}=${v}`]) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(value(p), value(p))
          .map(([a, b]) => [`${p.name}=${a}`, `${p.name}=${b}`]),
      },
      { weight: 1, arbitrary: value(p).map((v) => [`${p.name}[$ne]=${v}`]) },
      { weight: 1, arbitrary: value(p).map((v) => [`${p.name}[]=${v}`]) },
      { weight: 1, arbitrary: fc.constant([`${p.name}`]) },
    ),
  );
  const extras = fc.oneof(
    { weight: 6, arbitrary: fc.constant<string[]>([]) },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(
          '__proto__[role]=admin',
          'constructor[prototype][role]=admin',
          'userId[$gt]=',
          'role=admin',
          '%ff=1',
          'q=%ff',
          'a=%00',
          '=',
          '&&&',
          `x=${'A'.repeat(8000)}`,
          'include=password',
          'fields=passwordHash',
          '_method=DELETE',
        )
        .map((e) => [e]),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(hostileString, hostileString).map(([k, v]) => [`${pct(k)}=${pct(v)}`]),
    },
  );
  return fc.tuple(fc.tuple(...pairs), extras).map(([ps, ex]) => [...ps.flat(), ...ex].join('&'));
}

function segmentDraft(kind: string, ctx: GenerationContext): fc.Arbitrary<Segment> {
  const own = ctx.own.ids(kind);
  const mine = ctx.mine;
  const preferred = (mine[kind] ?? []).length ? mine[kind]! : own;
  const existing = preferred.length
    ? fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...preferred) },
        {
          weight: 1,
          arbitrary: own.length ? fc.constantFrom(...own) : fc.constantFrom(...preferred),
        },
      )
    : unknownId(kind);
  const otherKind = fc.constantFrom('product', 'order', 'user', 'tx').chain((k) => unknownId(k));
  // The sandbox aims at its records far more often, so that its writes reach them.
  const aim = ctx.forceFailure ? 8 : 60;
  return fc
    .oneof(
      { weight: aim, arbitrary: existing },
      { weight: 2, arbitrary: existing.chain(caseVariant) },
      { weight: 2, arbitrary: unknownId(kind) },
      { weight: 1, arbitrary: otherKind },
      { weight: 1, arbitrary: existing.map((id) => `${id}x`) },
      { weight: 1, arbitrary: existing.map((id) => ` ${id}`).map(pct) },
      {
        weight: 2,
        arbitrary: hostileString.filter((s) => s !== '' && s !== '.' && s !== '..').map(pct),
      },
      { weight: 1, arbitrary: malformedSegment },
      { weight: 1, arbitrary: trickySegment },
      { weight: 1, arbitrary: fc.integer({ min: 300, max: 8000 }).map((n) => 'a'.repeat(n)) },
    )
    .map((raw) => ({ raw }));
}

const SPOOFED_HEADERS: Record<string, string>[] = [
  { 'x-user-id': 'ADMIN_ID' },
  { 'x-user-role': 'admin' },
  { 'x-user': '{"id":"ADMIN_ID","role":"admin"}' },
  { 'x-forwarded-user': 'admin@example.com' },
  { 'x-auth-user-id': 'ADMIN_ID', 'x-auth-role': 'admin' },
  { x_user_id: 'ADMIN_ID' },
  { 'x-http-method-override': 'DELETE' },
  { 'x-original-url': '/api/users' },
  { 'x-rewrite-url': '/api/users' },
  { 'x-forwarded-for': '127.0.0.1' },
  { 'x-real-ip': '10.0.0.1' },
  { 'x-request-id': '\u0000'.replace('\u0000', 'A'.repeat(300)) },
  { 'x-correlation-id': '../../etc' },
  { cookie: 'session=admin; role=admin' },
];

function draftFor(op: DocOperation, ctx: GenerationContext): fc.Arbitrary<Draft> {
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  const params = fc.record(
    Object.fromEntries(
      pathParams.map((p) => [p.name, segmentDraft(paramKind(op.template, p.name), ctx)]),
    ),
  ) as fc.Arbitrary<Record<string, Segment>>;
  const valid = ctx.actors.filter((a) => a.role);
  const invalid = ctx.actors.filter((a) => !a.role);
  const actor = fc.oneof(
    { weight: ctx.forceFailure ? 6 : 20, arbitrary: fc.constantFrom(...valid) },
    { weight: 1, arbitrary: fc.constant(invalid[0]!) },
    { weight: 1, arbitrary: fc.constantFrom(...invalid) },
  );
  const idempotent = op.parameters.some((p) => p.in === 'header' && p.name === 'Idempotency-Key');
  const key = idempotent
    ? fc.oneof(
        { weight: 2, arbitrary: fc.constant<string | undefined>(undefined) },
        { weight: 2, arbitrary: fc.uuid().map((u) => `hostile-${u}`) },
        { weight: 1, arbitrary: fc.constant(ctx.usedKey) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            'has space',
            'a'.repeat(256),
            // Non-ASCII as the UTF-8 bytes a client sends (Node writes header text as Latin-1).
            Buffer.from('ключ', 'utf8').toString('latin1'),
            'a/b',
            '',
            '%00',
            'k;drop',
            '*',
          ),
        },
      )
    : fc.constant<string | undefined>(undefined);
  const admin = ctx.adminId;
  const spoof = fc.oneof(
    { weight: 8, arbitrary: fc.constant<Record<string, string>>({}) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(...SPOOFED_HEADERS)
        .map((h) =>
          Object.fromEntries(Object.entries(h).map(([k, v]) => [k, v.replace('ADMIN_ID', admin)])),
        ),
    },
  );
  const kinds = Object.fromEntries(
    pathParams.map((p) => [p.name, unknownId(paramKind(op.template, p.name))]),
  );
  return fc.record({
    method:
      op.method === 'GET'
        ? fc.oneof(
            { weight: 8, arbitrary: fc.constant('GET') },
            { weight: 1, arbitrary: fc.constant('HEAD') },
          )
        : fc.constant(op.method),
    actor,
    params,
    query:
      op.method === 'GET'
        ? queryDraft(op, ctx)
        : fc.oneof(
            { weight: 4, arbitrary: fc.constant('') },
            { weight: 1, arbitrary: queryDraft(op, ctx) },
          ),
    body: bodyDraft(op, ctx),
    headers: fc
      .tuple(key, spoof)
      .map(([k, s]) => ({ ...s, ...(k !== undefined ? { 'idempotency-key': k } : {}) })),
    fallback: fc.nat(),
    fallbackActor: fc.constantFrom(...invalid),
    fallbackIds: fc.record(kinds) as fc.Arbitrary<Record<string, string>>,
  });
}

function targetOf(op: DocOperation, d: Draft): string {
  const path = op.template.replace(/\{([^}]+)\}/g, (_m, name: string) => d.params[name]!.raw);
  return d.query ? `${path}?${d.query}` : path;
}

const decode = (s: string): string | undefined => {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
};

/** Whether a joi schema refuses `value` as the service validates it. */
function refuses(schema: Joi.Schema | undefined, value: unknown, strict = false): boolean {
  if (!schema) return false;
  const s = strict ? withStrictScalars(schema) : schema;
  return !!s.validate(value, { abortEarly: true, convert: true }).error;
}

/**
 * The reasons a request must fail, each certain from the platform's own rules; none when it
 * may succeed (or when the rules leave it open).
 */
export function failReasons(op: DocOperation, d: Draft, ctx: GenerationContext): string[] {
  if (isGatewayOwn(op)) return [];
  const reasons: string[] = [];
  const target = targetOf(op, d);
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const rawQuery = q < 0 ? '' : target.slice(q + 1);
  const spec = op.spec;

  // The gateway's edge.
  if (decode(path) === undefined) reasons.push('the path does not percent-decode');
  if (/(^|\/|\\|%2f|%5c)(\.|%2e){1,2}(\/|\\|%2f|%5c|$)/i.test(path)) reasons.push('a dot segment');
  if (target.includes('#') || path.includes('\\')) reasons.push('# or \\ in the target');
  if ((d.body?.bytes.length ?? 0) > BODY_LIMIT) reasons.push('a body over 100 KB');

  // The caller.
  const actor = d.actor;
  if (!isPublicAccess(spec.access) && !actor.role) reasons.push(`no valid token (${actor.name})`);
  if (Array.isArray(spec.access) && actor.role && !spec.access.includes(actor.role)) {
    reasons.push(`role ${actor.role} not in ${spec.access.join('/')}`);
  }

  // A card processor's webhook counts only with its HMAC signature, which no drawn request has.
  if (op.operationId === 'payment.providerWebhook') reasons.push('no valid provider signature');

  // The service, before any route: the body parser and the storable-text check.
  let body: unknown = undefined;
  let bodyKnown = true;
  if (d.body && d.body.bytes.length > 0) {
    const kind = CONTENT_TYPES.find((c) => c.type === d.body!.contentType)?.kind ?? 'unknown';
    const encoded = d.body.contentEncoding !== undefined && d.body.contentEncoding !== 'identity';
    if (kind === 'charset') reasons.push('a JSON body in a charset other than UTF-8');
    else if (kind === 'json' && encoded)
      reasons.push(`a body that is not ${d.body.contentEncoding}`);
    else if (kind === 'json') {
      let text: string | undefined;
      try {
        text = utf8.decode(d.body.bytes);
      } catch {
        reasons.push('a body that is not UTF-8');
      }
      if (text !== undefined) {
        try {
          body = parseStrictJson(text);
          if (findUnstorableText(body) !== undefined)
            reasons.push('a NUL or lone surrogate in the body');
        } catch {
          reasons.push('a body that is not strict JSON');
        }
      }
    } else if (kind === 'unknown' || encoded) bodyKnown = false;
  }
  const segments = Object.values(d.params).map((s) => decode(s.raw));
  if (segments.some((s) => s !== undefined && /\0|[\uD800-\uDFFF]/.test(s))) {
    reasons.push('a NUL in a path segment');
  }
  const query = querystring.parse(rawQuery);
  if (findUnstorableText(query) !== undefined) reasons.push('a NUL or lone surrogate in the query');

  // The route: params, query and body against the operation's schemas.
  const routable = segments.every(
    (s) => s !== undefined && s !== '' && !s.includes('/') && s !== '.' && s !== '..',
  );
  const params = Object.fromEntries(
    Object.keys(d.params).map((k) => [k, decode(d.params[k]!.raw)]),
  );
  if (routable) {
    if (refuses(spec.params, params)) reasons.push('an invalid path parameter');
    if (refuses(spec.query, { ...query })) reasons.push('an invalid query');
    if (bodyKnown && refuses(spec.body, body ?? {}, true)) reasons.push('an invalid body');
  }
  if (
    spec.idempotent &&
    d.headers['idempotency-key'] !== undefined &&
    !IDEMPOTENCY_KEY.test(d.headers['idempotency-key'])
  ) {
    reasons.push('a malformed Idempotency-Key');
  }

  // The records: unknown ids, and who may act on which.
  if (routable && !refuses(spec.params, params)) {
    for (const [name, value] of Object.entries(params)) {
      const kind = paramKind(op.template, name);
      const record = ctx.own.byKind.get(kind)?.get(String(value).toLowerCase());
      if (!record) {
        if (LOOKS_UP_ITS_RECORD.has(op.operationId))
          reasons.push(`no ${kind} ${String(value).slice(0, 40)}`);
        continue;
      }
      const rule = OWNERSHIP[op.operationId];
      const why = actor.role ? rule?.(actor, record) : undefined;
      if (why) reasons.push(why);
    }
  }
  if (op.operationId === 'payment.initiatePayment' && actor.role && !reasons.length) {
    const orderId = String(asObject(body).orderId ?? '').toLowerCase();
    const order = ctx.own.byKind.get('order')?.get(orderId);
    if (!order) reasons.push('pays an order that does not exist');
    else if (order.owner !== actor.id) reasons.push("pays someone else's order");
  }
  return reasons;
}

/** The one flaw more that makes a legitimate write certain to fail. */
function forceFailure(op: DocOperation, d: Draft, ctx: GenerationContext): Draft {
  const options: ((d: Draft) => Draft | undefined)[] = [
    (x) => (isPublicAccess(op.spec.access) ? undefined : { ...x, actor: x.fallbackActor }),
    (x) =>
      op.spec.body
        ? {
            ...x,
            body: {
              bytes: Buffer.from(toJson(withOwnKey(asObject(x.body?.base), 'isAdmin', true))),
              contentType: 'application/json',
              base: x.body?.base,
              mutation: 'unknown key isAdmin (forced)',
            },
          }
        : undefined,
    (x) => {
      const name = Object.keys(x.params)[0];
      if (!name || !LOOKS_UP_ITS_RECORD.has(op.operationId)) return undefined;
      return { ...x, params: { ...x.params, [name]: { raw: x.fallbackIds[name]! } } };
    },
  ];
  for (let i = 0; i < options.length; i += 1) {
    const forced = options[(d.fallback + i) % options.length]!(d);
    if (forced && failReasons(op, forced, ctx).length > 0) return forced;
  }
  throw new Error(`${op.operationId}: no flaw makes this write certain to fail`);
}

function toRequest(op: DocOperation, d: Draft, reasons: string[]): HostileRequest {
  const headers: Record<string, string> = { ...d.headers };
  if (d.actor.authorization !== undefined) headers.authorization = d.actor.authorization;
  if (d.body?.contentType !== undefined) headers['content-type'] = d.body.contentType;
  if (d.body?.contentEncoding !== undefined) headers['content-encoding'] = d.body.contentEncoding;
  return {
    label: `openapi ${op.operationId} as ${d.actor.name}${d.body ? ` (${d.body.mutation})` : ''}`,
    method: d.method,
    target: targetOf(op, d),
    headers,
    body: d.body?.bytes,
    mustFail: reasons.length ? reasons : undefined,
  };
}

/** `count` requests for `op`, drawn with `seed`. */
export function casesFor(
  op: DocOperation,
  ctx: GenerationContext,
  count: number,
  seed: number,
): HostileRequest[] {
  if (count <= 0) return [];
  const drafts = fc.sample(draftFor(op, ctx), { seed, numRuns: count });
  return drafts.map((draft) => {
    let d = draft;
    let reasons = failReasons(op, d, ctx);
    if (ctx.forceFailure && isWrite(op) && reasons.length === 0) {
      d = forceFailure(op, d, ctx);
      reasons = failReasons(op, d, ctx);
    }
    return toRequest(op, d, reasons);
  });
}

/** Spreads `total` requests over the operations (the first ones take the remainder). */
export function generate(
  doc: DocOperation[],
  ctx: GenerationContext,
  total: number,
  seed: number,
): HostileRequest[] {
  const per = Math.floor(total / doc.length);
  const extra = total % doc.length;
  return doc.flatMap((op, i) => casesFor(op, ctx, per + (i < extra ? 1 : 0), seed + i));
}

export const newKey = () => `hostile-${randomUUID()}`;
