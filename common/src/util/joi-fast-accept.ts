import type Joi from 'joi';
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

// Anything else in a description (defaults, renames, conditions, references, custom rules...)
// could make joi refuse or change a value this does not model: such a schema is left to joi.
const DESCRIPTION_KEYS = new Set(['type', 'flags', 'rules', 'allow', 'keys', 'items']);
const FLAGS = new Set(['presence', 'only', 'label', 'description']);

/**
 * A predicate for the plain shapes event payloads use (objects of known keys, strings with
 * lengths, patterns and allowed values, integers within bounds, arrays of one item schema,
 * booleans), compiled from the schema's own description, so it cannot drift from the schema.
 * Null when the schema uses anything else. Built for hot paths: joi costs some 10 µs a check
 * even on a payload it accepts (docs/adr/0050-payloads-accepted-without-joi-when-plain.md).
 */
export function compileFastAccept(schema: Joi.Schema): FastAccept | null {
  const check = compile(schema.describe() as Description);
  return check && ((value, allowUnknown) => value !== undefined && check(value, allowUnknown));
}

function compile(d: Description): Check | null {
  if (Object.keys(d).some((k) => !DESCRIPTION_KEYS.has(k))) return null;
  const flags = d.flags ?? {};
  if (Object.keys(flags).some((f) => !FLAGS.has(f))) return null;
  if (
    flags.presence !== undefined &&
    flags.presence !== 'required' &&
    flags.presence !== 'optional'
  )
    return null;
  // Numbers are left out: joi matches them as a Set does, so -0 would pass as 0 and come back 0.
  const allowed = d.allow ?? [];
  if (!allowed.every((v) => v === null || typeof v === 'string' || typeof v === 'boolean'))
    return null;
  const allowedSet = new Set<unknown>(allowed);
  if (flags.only === true) return (v) => allowedSet.has(v);
  const base = compileType(d);
  if (!base || allowedSet.size === 0) return base;
  return (v, u) => allowedSet.has(v) || base(v, u);
}

function compileType(d: Description): Check | null {
  const rules = d.rules ?? [];
  switch (d.type) {
    case 'string':
      return d.keys || d.items ? null : stringCheck(rules);
    case 'number':
      return d.keys || d.items ? null : numberCheck(rules);
    case 'boolean':
      return d.keys || d.items || rules.length > 0 ? null : (v) => typeof v === 'boolean';
    case 'object':
      return d.items || rules.length > 0 || !d.keys ? null : objectCheck(d.keys);
    case 'array':
      return d.keys || d.items?.length !== 1 ? null : arrayCheck(d.items[0]!, rules);
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

function objectCheck(keys: Record<string, Description>): Check | null {
  const children = new Map<string, { check: Check; required: boolean }>();
  for (const [key, description] of Object.entries(keys)) {
    const check = compile(description);
    if (!check) return null;
    children.set(key, { check, required: description.flags?.presence === 'required' });
  }
  return (v, allowUnknown) => {
    // joi's copy turns an own __proto__ key into the copy's prototype: its answer, not ours.
    if (!isPlainObject(v) || Object.hasOwn(v, '__proto__')) return false;
    if (!allowUnknown) {
      for (const key of Object.keys(v)) if (!children.has(key)) return false;
    }
    for (const [key, child] of children) {
      const value = Object.hasOwn(v, key) ? v[key] : undefined;
      if (value === undefined) {
        if (child.required) return false;
      } else if (!child.check(value, allowUnknown)) return false;
    }
    return true;
  };
}

function arrayCheck(item: Description, rules: NonNullable<Description['rules']>): Check | null {
  const bounds = limits(rules, []);
  const check = compile(item);
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
