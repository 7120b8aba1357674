import type Joi from 'joi';

/** joi's extension API for rewriting the schemas inside a schema (what `tailor()` uses). */
interface Modifiable {
  $_modify(options: {
    ref: false;
    each: (child: Joi.Schema, at: { name: string; path: (string | number)[] }) => Joi.Schema;
  }): Joi.Schema;
}

const strictened = new WeakMap<Joi.Schema, Joi.Schema>();

/**
 * The schema with every number and boolean inside it strict: JSON has numbers and booleans of
 * its own, so `"1e3"` or `"true"` in a body is a client mistake, not a value to convert (a
 * quantity `"1e3"` once made a 1,000-unit order). Everything else keeps joi's conversions —
 * trimming and case of strings, ISO strings to `Joi.date()` — and query strings and path
 * parameters, text by nature, keep converting (validate uses this for bodies only). The key
 * schemas of `.pattern()` are left alone: object keys are always strings.
 */
export function withStrictScalars(schema: Joi.Schema): Joi.Schema {
  const known = strictened.get(schema);
  if (known) return known;
  let out = (schema as unknown as Modifiable).$_modify({
    ref: false,
    each: (child, { name, path }) =>
      name === 'patterns' && path[0] === 'schema' ? child : withStrictScalars(child),
  });
  // A rewritten copy must re-register its children (ids, references), as tailor() does.
  if (out !== schema) out = out.$_mutateRebuild();
  if (out.type === 'number' || out.type === 'boolean') out = out.strict();
  strictened.set(schema, out);
  return out;
}
