import Joi from 'joi';
import type { AuthUser } from '../auth/types';
import { ForbiddenError } from '../errors/app-error';

/**
 * The platform's API conventions, in one place (README, "API conventions"):
 * - lists: `{ items, page, limit, total, totalPages }`, `page` 1..100000 (default 1) and
 *   `limit` 1..100 (default 20) everywhere but the public append-only logs; a list anyone may
 *   call is paged through its first 10,000 results (withinResultWindow);
 * - the public append-only logs: `{ items, limit, next, hasMore }`, read on with `after=next`
 *   (docs/adr/0051-public-logs-are-read-by-cursor.md);
 * - money in answers: `{ amount, currency }`, amount in integer minor units;
 * - one postal address shape for profiles and orders;
 * - single resources bare (no wrapper), DELETE 204, 201 with Location (see reply.ts).
 */

/**
 * A character that shows: not whitespace, not a control or format character (zero-width spaces
 * and joiners, bidi marks, the soft hyphen, tag characters), not a combining mark (any
 * script's), and not one of the letters that render as nothing (the Hangul fillers, the braille
 * blank).
 */
export const VISIBLE = /[^\s\p{Cc}\p{Cf}\p{Z}\p{M}\u115F\u1160\u3164\uFFA0\u2800]/u;

/**
 * Bidirectional embeddings, overrides and isolates: they reorder how the text around them is
 * shown, so a name can read as another (the "Trojan Source" trick, CVE-2021-42574). The marks
 * (U+200E, U+200F) and the joiners some scripts and emoji need stay allowed.
 */
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/;
/** Control characters; a text of several lines keeps its line breaks and tabs. */
const CONTROLS_IN_LINE = /\p{Cc}/u;
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROLS_IN_TEXT = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;

/**
 * `schema` that refuses control characters (line breaks and tabs too, unless `multiline`) and
 * bidirectional controls: what a customer reads (a product's name, a review, an address on a
 * receipt) shows what was written, in the order it was written.
 */
export function plainText(
  schema: Joi.StringSchema,
  { multiline }: { multiline: boolean },
): Joi.StringSchema {
  const controls = multiline ? CONTROLS_IN_TEXT : CONTROLS_IN_LINE;
  return schema
    .custom((value: string, helpers) =>
      controls.test(value) || BIDI_CONTROLS.test(value) ? helpers.error('string.plain') : value,
    )
    .messages({
      'string.plain': multiline
        ? '{{#label}} must not contain control characters or bidirectional overrides'
        : '{{#label}} must be one line, without control characters or bidirectional overrides',
    });
}

/**
 * `schema` that also asks for a character that shows (VISIBLE): a name or a text made only of
 * the others looks empty wherever it is shown. Control characters but line breaks and tabs,
 * and bidirectional controls, are refused (plainText). A custom rule, not a pattern: the
 * OpenAPI document cannot carry a Unicode property class, which a client's validator would
 * misread.
 */
export function visibleText(
  schema: Joi.StringSchema,
  { multiline = true }: { multiline?: boolean } = {},
): Joi.StringSchema {
  return plainText(schema, { multiline })
    .custom((value: string, helpers) =>
      VISIBLE.test(value) ? value : helpers.error('string.visible'),
    )
    .messages({ 'string.visible': '{{#label}} must hold a character that shows' });
}

/**
 * A line of text (a name, a reason, an address line): trimmed, 1..max, something that shows,
 * one line without control characters or bidirectional controls.
 */
export const visibleLine = (max: number): Joi.StringSchema =>
  visibleText(Joi.string().trim().min(1).max(max), { multiline: false });

export const PAGE_MAX = 100_000;
export const LIMIT_MAX = 100;
export const LIMIT_DEFAULT = 20;

/** `page` and `limit` query keys, to spread into a list operation's query schema. */
export const pageQueryKeys = {
  page: Joi.number().integer().min(1).max(PAGE_MAX).default(1),
  limit: Joi.number().integer().min(1).max(LIMIT_MAX).default(LIMIT_DEFAULT),
};

export interface PageQuery {
  page: number;
  limit: number;
}

export interface Page<T> {
  items: T[];
  page: number;
  limit: number;
  total: number;
  totalPages: number;
}

export function page<T>(items: T[], query: PageQuery, total: number): Page<T> {
  return {
    items,
    page: query.page,
    limit: query.limit,
    total,
    totalPages: Math.ceil(total / query.limit),
  };
}

/** Rows to skip for a page. */
export function pageOffset(query: PageQuery): number {
  return (query.page - 1) * query.limit;
}

/** How deep a list anyone may call is paged: a page must start within its first results. */
export const RESULT_WINDOW = 10_000;

/**
 * A public list's query, its pages held to the first RESULT_WINDOW results: skipping further
 * costs the store a walk past every result skipped, on a route anyone may call. A deeper page
 * is refused (400, on `page`); a client narrows the list (a search, a category) instead.
 * `exempt` names who may page on (a seller through its own products): it reads the query and
 * the signed-in caller, if any (the validation context's `user`).
 */
export function withinResultWindow<Q extends PageQuery>(
  query: Joi.ObjectSchema,
  exempt?: (value: Q, user: AuthUser | undefined) => boolean,
): Joi.ObjectSchema {
  return query
    .keys({
      page: pageQueryKeys.page.description(
        `a page must start within the first ${RESULT_WINDOW} results: (page - 1) × limit < ${RESULT_WINDOW}`,
      ),
    })
    .custom((value: Q, helpers) => {
      if (pageOffset(value) < RESULT_WINDOW) return value;
      const user = (helpers.prefs.context as { user?: AuthUser } | undefined)?.user;
      if (exempt?.(value, user)) return value;
      return helpers.error(
        'page.window',
        { window: RESULT_WINDOW, start: pageOffset(value) + 1 },
        { ...helpers.state, path: [...(helpers.state.path ?? []), 'page'] },
      );
    })
    .messages({
      'page.window':
        '"page" starts at result {{#start}}: this list is paged through its first {{#window}} results; narrow it instead',
    });
}

/** The largest position a cursor names: positions are PostgreSQL bigserials read as numbers. */
export const CURSOR_MAX = Number.MAX_SAFE_INTEGER;

/**
 * `after` and `limit` query keys of an append-only log read by cursor. A page costs the same
 * wherever it starts and nothing is counted, so an anonymous reader cannot make the store walk
 * the log; `page` is refused by name, so a client of the paged envelope learns what to send.
 */
export const cursorQueryKeys = {
  after: Joi.number()
    .integer()
    .min(0)
    .max(CURSOR_MAX)
    .default(0)
    .description("the previous page's `next`; 0 (the default) reads from the start"),
  limit: pageQueryKeys.limit,
  page: Joi.any()
    .forbidden()
    .messages({ 'any.unknown': '"page" is not allowed: this log is read by cursor (after=next)' }),
};

export interface CursorQuery {
  after: number;
  limit: number;
}

/** What a store answers for a page read by cursor. */
export interface LogSlice<T> {
  items: T[];
  /** The position to read on from: the last one this page read, else the `after` asked. */
  next: number;
  /** Whether the log held more past `next` when this page was read. */
  hasMore: boolean;
}

export interface CursorPage<T> extends LogSlice<T> {
  limit: number;
}

export function cursorPage<T>(slice: LogSlice<T>, query: CursorQuery): CursorPage<T> {
  return { items: slice.items, limit: query.limit, next: slice.next, hasMore: slice.hasMore };
}

/**
 * Whose items a list shows: a customer's or seller's own; an admin's choice of one user
 * (`requested`) or everyone's (undefined). Anyone else asking for another user's is refused.
 */
export function listedUserId(
  user: AuthUser,
  requested: string | undefined,
  what: string,
): string | undefined {
  if (user.role === 'admin') return requested;
  if (requested !== undefined && requested !== user.id) {
    throw new ForbiddenError(`Only an admin may list the ${what} of another user`);
  }
  return user.id;
}

/** The list envelope's schema around an item schema (for the API spec and /docs). */
export function pageSchema(item: Joi.Schema): Joi.ObjectSchema {
  return Joi.object({
    items: Joi.array().items(item).required(),
    page: Joi.number().integer().min(1).required(),
    limit: Joi.number().integer().min(1).required(),
    total: Joi.number().integer().min(0).required(),
    totalPages: Joi.number().integer().min(0).required(),
  });
}

/** The cursor envelope's schema around an item schema. */
export function cursorPageSchema(item: Joi.Schema): Joi.ObjectSchema {
  return Joi.object({
    items: Joi.array().items(item).required(),
    limit: Joi.number().integer().min(1).max(LIMIT_MAX).required(),
    next: Joi.number().integer().min(0).required().description('pass as `after` to read on'),
    hasMore: Joi.boolean().required(),
  });
}

export interface Money {
  /** Integer minor units (cents). */
  amount: number;
  /** ISO 4217, upper case. */
  currency: string;
}

export const currencySchema = Joi.string()
  .uppercase()
  .pattern(/^[A-Z]{3}$/)
  .messages({ 'string.pattern.base': '{{#label}} must be an ISO 4217 currency code' });

export const moneySchema = Joi.object({
  amount: Joi.number()
    .integer()
    .min(0)
    .max(Number.MAX_SAFE_INTEGER)
    .required()
    .description('integer minor units (cents)'),
  currency: currencySchema.required(),
}).label('Money');

/**
 * Integer minor units from a decimal amount as written (`149.99` → 14999), read from its text
 * so no float arithmetic touches money; undefined for more than two decimals or a bad number.
 */
export function minorUnitsFromDecimal(value: number | string): number | undefined {
  const match = /^(\d+)(?:\.(\d{1,2}))?$/.exec(String(value));
  if (!match) return undefined;
  const cents = Number(match[1]) * 100 + Number((match[2] ?? '').padEnd(2, '0'));
  return Number.isSafeInteger(cents) ? cents : undefined;
}

/** A postal address: profiles and orders share it. */
export interface Address {
  /** Who receives it (orders); a profile's address takes the profile's name. */
  name?: string;
  line1: string;
  line2?: string;
  city: string;
  region?: string;
  postalCode?: string;
  /** ISO 3166-1 alpha-2. */
  country: string;
}

const addressText = visibleLine;

export const addressKeys = {
  line1: addressText(200).required(),
  line2: plainText(Joi.string().trim().max(200).allow(''), { multiline: false }),
  city: addressText(100).required(),
  region: addressText(100),
  postalCode: addressText(20),
  country: Joi.string()
    .trim()
    .uppercase()
    .pattern(/^[A-Z]{2}$/)
    .required()
    .messages({ 'string.pattern.base': '{{#label}} must be an ISO 3166-1 alpha-2 code' }),
};

/** The address without a recipient (a profile's). */
export const addressSchema = Joi.object(addressKeys).label('Address');

/** The address with its recipient (an order's shipping address). */
export const shippingAddressSchema = Joi.object({
  name: addressText(200).required(),
  ...addressKeys,
}).label('ShippingAddress');
