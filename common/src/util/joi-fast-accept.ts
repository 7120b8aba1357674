import Joi from 'joi';
import { isPlainObject } from './plain-object';

/**
 * True only when joi would accept `value` and give it back unchanged: validate() with
 * `allowUnknown` as given and otherwise joi's default preferences (`convert` on or off,
 * `abortEarly` and `errors` do not change what is accepted). False says nothing: ask joi.
 */
export type FastAccept = (value: unknown, allowUnknown: boolean) => boolean;

type Check = (value: unknown, allowUnknown: boolean) => boolean;

interface Description {
  type: string;
  flags?: Record<string, unknown>;
  rules?: Array<{ name: string; args?: Record<string, unknown> }>;
  allow?: unknown[];
  keys?: Record<string, Description>;
  items?: Description[];
}

/** What joi's extension API shows of a schema: its root, and its children (`$_terms`). */
interface SchemaParts {
  $_root: unknown;
  $_terms: { keys?: Array<{ key: string; schema: Joi.Schema }> | null; items?: Joi.Schema[] };
}

// Anything else in a description (defaults, renames, conditions, references, custom rules...)
// could make joi refuse or change a value this does not model: such a schema is left to joi.
const DESCRIPTION_KEYS = new Set(['type', 'flags', 'rules', 'allow', 'keys', 'items']);
const FLAGS = new Set(['presence', 'only', 'label', 'description']);

/**
 * A predicate for the plain shapes event payloads use (objects of known keys, strings with
 * lengths, patterns and allowed values, integers within bounds, arrays of one item schema,
 * booleans), compiled from the schema itself, so it cannot drift from the schema. Null when the
 * schema uses anything else. Built for hot paths: joi takes 5-11 µs to accept a saga payload
 * (docs/adr/0050-payloads-accepted-without-joi-when-plain.md).
 */
export function compileFastAccept(schema: Joi.Schema): FastAccept | null {
  const check = compile(schema);
  return check && ((value, allowUnknown) => value !== undefined && check(value, allowUnknown));
}

function compile(schema: Joi.Schema): Check | null {
  const parts = schema as unknown as SchemaParts;
  // A type made with Joi.extend may coerce or validate in ways its description does not show.
  if (parts.$_root !== Joi) return null;
  const d = schema.describe() as Description;
  if (Object.keys(d).some((k) => !DESCRIPTION_KEYS.has(k))) return null;
  const flags = d.flags ?? {};
  if (Object.keys(flags).some((f) => !FLAGS.has(f))) return null;
  if (
    flags.presence !== undefined &&
    flags.presence !== 'required' &&
    flags.presence !== 'optional'
  )
    return null;
  // Allowed values are matched before the type's checks, but after its conversion: an allowed
  // '5' on a number would come back 5. So only null, and values of the type's own kind.
  const allowed = d.allow ?? [];
  const ownKind = d.type === 'string' || d.type === 'boolean' ? d.type : 'null';
  if (!allowed.every((v) => v === null || typeof v === ownKind)) return null;
  const allowedSet = new Set<unknown>(allowed);
  if (flags.only === true) return (v) => allowedSet.has(v);
  const base = compileType(d, parts);
  if (!base || allowedSet.size === 0) return base;
  return (v, u) => allowedSet.has(v) || base(v, u);
}

function compileType(d: Description, parts: SchemaParts): Check | null {
  const rules = d.rules ?? [];
  switch (d.type) {
    case 'string':
      return d.keys || d.items ? null : stringCheck(rules);
    case 'number':
      return d.keys || d.items ? null : numberCheck(rules);
    case 'boolean':
      return d.keys || d.items || rules.length > 0 ? null : (v) => typeof v === 'boolean';
    case 'object':
      return d.items || rules.length > 0 || !parts.$_terms.keys
        ? null
        : objectCheck(parts.$_terms.keys);
    case 'array':
      return d.keys || parts.$_terms.items?.length !== 1
        ? null
        : arrayCheck(parts.$_terms.items[0]!, rules);
    default:
      return null;
  }
}

/** The limits of min and max, or null when a rule is another or takes more than a limit. */
function limits(
  rules: NonNullable<Description['rules']>,
  others: string[],
): { min: number; max: number; others: Set<string> } | null {
  let min = -Infinity;
  let max = Infinity;
  const seen = new Set<string>();
  for (const rule of rules) {
    if (rule.name === 'min' || rule.name === 'max') {
      const args = rule.args ?? {};
      const limit = args.limit;
      if (Object.keys(args).length !== 1 || typeof limit !== 'number' || !Number.isFinite(limit))
        return null;
      if (rule.name === 'min') min = Math.max(min, limit);
      else max = Math.min(max, limit);
    } else if (others.includes(rule.name)) seen.add(rule.name);
    else return null;
  }
  return { min, max, others: seen };
}

function stringCheck(rules: NonNullable<Description['rules']>): Check | null {
  const bounds = limits(
    rules.filter((r) => r.name !== 'pattern'),
    [],
  );
  if (!bounds) return null;
  const patterns: RegExp[] = [];
  for (const rule of rules.filter((r) => r.name === 'pattern')) {
    const args = rule.args ?? {};
    const source = /^\/(.*)\/([a-z]*)$/s.exec(typeof args.regex === 'string' ? args.regex : '');
    // Options (a name, invert) change what a test means: left to joi. (joi refuses the
    // stateful flags g and y itself.)
    if (Object.keys(args).length !== 1 || !source) return null;
    patterns.push(new RegExp(source[1]!, source[2]));
  }
  const { min, max } = bounds;
  return (v) =>
    typeof v === 'string' &&
    v !== '' &&
    v.length >= min &&
    v.length <= max &&
    patterns.every((p) => p.test(v));
}

function numberCheck(rules: NonNullable<Description['rules']>): Check | null {
  const bounds = limits(rules, ['integer']);
  if (!bounds) return null;
  const { min, max } = bounds;
  const integer = bounds.others.has('integer');
  // Only safe integers, and finite numbers in their range, are what joi returns as they came;
  // -0 comes back as 0.
  return (v) =>
    typeof v === 'number' &&
    Number.isFinite(v) &&
    Math.abs(v) <= Number.MAX_SAFE_INTEGER &&
    !Object.is(v, -0) &&
    (!integer || Number.isInteger(v)) &&
    v >= min &&
    v <= max;
}

function objectCheck(keys: NonNullable<SchemaParts['$_terms']['keys']>): Check | null {
  const children = new Map<string, { check: Check; required: boolean }>();
  for (const { key, schema } of keys) {
    const check = compile(schema);
    if (!check) return null;
    children.set(key, { check, required: presenceOf(schema) === 'required' });
  }
  return (v, allowUnknown) => {
    // joi's copy drops an own __proto__ key: its answer, not ours.
    if (!isPlainObject(v) || Object.hasOwn(v, '__proto__')) return false;
    if (!allowUnknown) {
      for (const key of Object.keys(v)) if (!children.has(key)) return false;
    }
    for (const [key, child] of children) {
      // joi reads inherited values and copies only own enumerable ones: any other is its call.
      const value = v[key];
      if (value === undefined) {
        if (child.required) return false;
      } else if (!isEnumerable.call(v, key) || !child.check(value, allowUnknown)) return false;
    }
    return true;
  };
}

const isEnumerable = Object.prototype.propertyIsEnumerable;

const presenceOf = (schema: Joi.Schema) => (schema.describe() as Description).flags?.presence;

function arrayCheck(item: Joi.Schema, rules: NonNullable<Description['rules']>): Check | null {
  // A required item means the array must hold one that matches: not modelled.
  const presence = presenceOf(item);
  const bounds = limits(rules, []);
  const check = presence === undefined || presence === 'optional' ? compile(item) : null;
  if (!bounds || !check) return null;
  const { min, max } = bounds;
  return (v, allowUnknown) => {
    if (!Array.isArray(v) || v.length < min || v.length > max) return false;
    for (let i = 0; i < v.length; i += 1) {
      const element: unknown = v[i];
      if (element === undefined || !check(element, allowUnknown)) return false;
    }
    return true;
  };
}
