import Joi from 'joi';

/**
 * One spelling per id, at every edge. The stores match some ids in any letter case (MongoDB
 * parses ObjectId hex either way, PostgreSQL's uuid type compares case-insensitively) while
 * the code compares strings exactly: two spellings of one id once let an order hold one product
 * on two lines (the second reserved nothing) and one account review a product twice. So every
 * id is put in its canonical form (lower case) when it is parsed, before anything compares,
 * stores or forwards it; what is stored and published is then always canonical.
 */

const lowerCase = (value: string) => value.toLowerCase();

/** A MongoDB ObjectId: 24 hex digits, any case accepted, lower case kept. */
export const objectIdSchema = Joi.string()
  .hex()
  .length(24)
  .custom(lowerCase)
  .description('24 hex digits (any letter case; answered in lower case)');

/**
 * A UUID (orders, payments): any case accepted, lower case kept. Only the hyphenated form with
 * no wrapper: joi also takes braces, brackets, colons or no separator, which PostgreSQL either
 * refuses (a 500) or reads as the same id under another spelling (a lookup by text misses it).
 */
export const uuidSchema = Joi.string()
  .guid({ separator: '-', wrapper: false })
  .custom(lowerCase)
  .description('a UUID (any letter case; answered in lower case)');

/**
 * An id issued by another service and only passed on here (a product or user id: ObjectId hex
 * today): a bounded plain token, case-insensitive, so lower case is its one spelling.
 */
export const idTokenSchema = (max = 64) =>
  Joi.string()
    .min(1)
    .max(max)
    .pattern(/^[A-Za-z0-9_-]+$/)
    .custom(lowerCase)
    .messages({ 'string.pattern.base': '{{#label}} must be an id (letters, digits, _ and -)' })
    .description('an id (any letter case; answered in lower case)');

/** The canonical spelling of an id that did not come through a schema (events, headers). */
export function canonicalId(id: string): string {
  return id.toLowerCase();
}
