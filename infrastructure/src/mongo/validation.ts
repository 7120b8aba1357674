import { EJSON, type Document } from 'bson';
import type { Collection } from './collection';
import { MongoCommandError } from './errors';
import { isPlainObject } from './keys';
import { Query } from './matching';

// Collection validators (`validator`, `validationLevel`, `validationAction` on create and
// collMod): a write whose new document does not match answers DocumentValidationFailure (121).

const NOT_IN_VALIDATORS = ['$near', '$nearSphere', '$text', '$where', '$geoNear'];

function findOperator(v: unknown, names: string[]): string | undefined {
  if (Array.isArray(v)) {
    for (const x of v) {
      const f = findOperator(x, names);
      if (f) return f;
    }
    return undefined;
  }
  if (!isPlainObject(v)) return undefined;
  for (const [k, x] of Object.entries(v)) {
    if (names.includes(k)) return k;
    const f = findOperator(x, names);
    if (f) return f;
  }
  return undefined;
}

/** Checks the options of a validator (create, collMod); answers mongod's errors for bad ones. */
export function checkValidatorOptions(options: Document): void {
  if (options.validator !== undefined) {
    if (!isPlainObject(options.validator))
      throw new MongoCommandError(
        'TypeMismatch',
        "BSON field 'validator' is the wrong type, expected type 'object'",
      );
    const forbidden = findOperator(options.validator, NOT_IN_VALIDATORS);
    if (forbidden)
      throw new MongoCommandError(
        'QueryFeatureNotAllowed',
        `${forbidden} is not allowed in this context`,
      );
    // Compiling reports unknown operators and bad $jsonSchema keywords now, not on a write.
    new Query(options.validator);
  }
  const level = options.validationLevel;
  if (level !== undefined && !['off', 'strict', 'moderate'].includes(level as string))
    throw new MongoCommandError(
      'BadValue',
      `Enumeration value '${String(level)}' for field 'validationLevel' is not a valid value.`,
    );
  const action = options.validationAction;
  if (action !== undefined && !['error', 'warn'].includes(action as string))
    throw new MongoCommandError(
      'BadValue',
      `Enumeration value '${String(action)}' for field 'validationAction' is not a valid value.`,
    );
}

const compiled = new WeakMap<Collection, { source: string; query: Query }>();

function validatorOf(coll: Collection): Query | undefined {
  const validator = coll.options.validator as Document | undefined;
  if (!isPlainObject(validator) || Object.keys(validator).length === 0) return undefined;
  const source = EJSON.stringify(validator, { relaxed: false });
  const cached = compiled.get(coll);
  if (cached?.source === source) return cached.query;
  const query = new Query(validator, { collation: coll.defaultCollation });
  compiled.set(coll, { source, query });
  return query;
}

/**
 * Validates the new version of a document against the collection's validator. `before` is
 * the version it replaces (moderate level leaves documents that were already invalid alone).
 */
export function validateDocument(
  coll: Collection,
  doc: Document,
  before: Document | undefined,
  bypass: boolean,
): void {
  if (bypass) return;
  const level = (coll.options.validationLevel as string | undefined) ?? 'strict';
  if (level === 'off') return;
  const query = validatorOf(coll);
  if (!query || query.test(doc)) return;
  if (level === 'moderate' && before && !query.test(before)) return;
  if (coll.options.validationAction === 'warn') return;
  const validator = coll.options.validator as Document;
  const operator = Object.keys(validator).length === 1 ? Object.keys(validator)[0] : '$and';
  throw new MongoCommandError('DocumentValidationFailure', 'Document failed validation', {
    errInfo: {
      failingDocumentId: doc._id,
      details: {
        operatorName: operator.startsWith('$') ? operator : '$eq',
        specifiedAs: validator,
        reason:
          'the document does not match the validator (the stand-in does not itemise the rules it fails)',
      },
    },
  });
}
