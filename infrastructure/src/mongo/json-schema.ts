import type { Document } from 'bson';
import {
  BSON_TYPE_NUMBERS,
  bsonTypeNumber,
  Canon,
  canonicalType,
  compareNumbers,
  compareValues,
} from './compare';
import { MongoCommandError } from './errors';
import { isPlainObject } from './keys';

// MongoDB's $jsonSchema (JSON Schema draft 4 plus `bsonType`, without $ref, format, default,
// definitions, id and $schema), for queries and collection validators.

const KEYWORDS = new Set([
  'additionalItems',
  'additionalProperties',
  'allOf',
  'anyOf',
  'bsonType',
  'dependencies',
  'description',
  'enum',
  'exclusiveMaximum',
  'exclusiveMinimum',
  'items',
  'maximum',
  'maxItems',
  'maxLength',
  'maxProperties',
  'minimum',
  'minItems',
  'minLength',
  'minProperties',
  'multipleOf',
  'not',
  'oneOf',
  'pattern',
  'patternProperties',
  'properties',
  'required',
  'title',
  'type',
  'uniqueItems',
]);

const UNSUPPORTED = new Set(['$ref', '$schema', 'default', 'definitions', 'format', 'id']);

const JSON_TYPES = new Set(['object', 'array', 'number', 'boolean', 'string', 'null']);

type Check = (v: unknown) => boolean;

function fail(message: string): never {
  throw new MongoCommandError('FailedToParse', message);
}

/** Compiles a schema into a predicate; invalid schemas answer mongod's parse errors. */
export function compileJsonSchema(schema: unknown, path = ''): Check {
  if (!isPlainObject(schema)) fail(`$jsonSchema must be an object`);
  const checks: Check[] = [];
  for (const k of Object.keys(schema)) {
    if (UNSUPPORTED.has(k)) fail(`$jsonSchema keyword '${k}' is not currently supported`);
    if (!KEYWORDS.has(k)) fail(`Unknown $jsonSchema keyword: ${k}`);
  }
  const sub = (s: unknown, where: string): Check => compileJsonSchema(s, where);
  const isObj = (v: unknown): v is Document => canonicalType(v) === Canon.Object;
  const isNum = (v: unknown): boolean => canonicalType(v) === Canon.Number;

  if (schema.type !== undefined && schema.bsonType !== undefined)
    fail("Cannot specify both $jsonSchema keywords 'type' and 'bsonType'");
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    for (const t of types) {
      if (t === 'integer') fail("$jsonSchema type 'integer' is not currently supported.");
      if (typeof t !== 'string' || !JSON_TYPES.has(t))
        fail(`Unknown type name alias: ${String(t)}`);
    }
    checks.push((v) =>
      types.some((t: string) => {
        switch (t) {
          case 'object':
            return isObj(v);
          case 'array':
            return Array.isArray(v);
          case 'number':
            return isNum(v);
          case 'boolean':
            return typeof v === 'boolean';
          case 'string':
            return typeof v === 'string';
          default:
            return v === null;
        }
      }),
    );
  }
  if (schema.bsonType !== undefined) {
    const types = Array.isArray(schema.bsonType) ? schema.bsonType : [schema.bsonType];
    const wanted = types.map((t: unknown) => {
      if (t === 'number') return 'number';
      if (typeof t !== 'string' || BSON_TYPE_NUMBERS[t] === undefined)
        fail(`Unknown type name alias: ${String(t)}`);
      return BSON_TYPE_NUMBERS[t];
    });
    checks.push((v) =>
      wanted.some((w: number | 'number') => (w === 'number' ? isNum(v) : bsonTypeNumber(v) === w)),
    );
  }
  if (schema.enum !== undefined) {
    if (!Array.isArray(schema.enum) || schema.enum.length === 0)
      fail("$jsonSchema keyword 'enum' must be a non-empty array");
    const values = schema.enum as unknown[];
    checks.push((v) => values.some((e) => compareValues(v, e) === 0));
  }
  const numberKeyword = (name: string): number | undefined => {
    const n = schema[name];
    if (n === undefined) return undefined;
    if (!isNum(n)) fail(`$jsonSchema keyword '${name}' must be a number`);
    return Number(n);
  };
  if (schema.minimum !== undefined) {
    numberKeyword('minimum');
    const excl = schema.exclusiveMinimum === true;
    checks.push(
      (v) =>
        !isNum(v) ||
        (excl ? compareNumbers(v, schema.minimum) > 0 : compareNumbers(v, schema.minimum) >= 0),
    );
  }
  if (schema.maximum !== undefined) {
    numberKeyword('maximum');
    const excl = schema.exclusiveMaximum === true;
    checks.push(
      (v) =>
        !isNum(v) ||
        (excl ? compareNumbers(v, schema.maximum) < 0 : compareNumbers(v, schema.maximum) <= 0),
    );
  }
  if (schema.exclusiveMinimum !== undefined && schema.minimum === undefined)
    fail("$jsonSchema keyword 'minimum' must be a present if exclusiveMinimum is present");
  if (schema.exclusiveMaximum !== undefined && schema.maximum === undefined)
    fail("$jsonSchema keyword 'maximum' must be a present if exclusiveMaximum is present");
  const multipleOf = numberKeyword('multipleOf');
  if (multipleOf !== undefined) {
    if (!(multipleOf > 0)) fail("$jsonSchema keyword 'multipleOf' must have a positive value");
    checks.push((v) => !isNum(v) || Number(v) % multipleOf === 0);
  }
  const lengthOf = (s: string): number => [...s].length;
  const minLength = numberKeyword('minLength');
  if (minLength !== undefined)
    checks.push((v) => typeof v !== 'string' || lengthOf(v) >= minLength);
  const maxLength = numberKeyword('maxLength');
  if (maxLength !== undefined)
    checks.push((v) => typeof v !== 'string' || lengthOf(v) <= maxLength);
  if (schema.pattern !== undefined) {
    if (typeof schema.pattern !== 'string') fail("$jsonSchema keyword 'pattern' must be a string");
    const re = new RegExp(schema.pattern, 'u');
    checks.push((v) => typeof v !== 'string' || re.test(v));
  }
  const minItems = numberKeyword('minItems');
  if (minItems !== undefined) checks.push((v) => !Array.isArray(v) || v.length >= minItems);
  const maxItems = numberKeyword('maxItems');
  if (maxItems !== undefined) checks.push((v) => !Array.isArray(v) || v.length <= maxItems);
  if (schema.uniqueItems === true)
    checks.push(
      (v) =>
        !Array.isArray(v) || v.every((x, i) => v.findIndex((y) => compareValues(x, y) === 0) === i),
    );
  if (schema.items !== undefined) {
    if (Array.isArray(schema.items)) {
      const itemChecks = schema.items.map((s: unknown, i: number) => sub(s, `${path}.${i}`));
      let additional: Check | undefined;
      if (schema.additionalItems === false) additional = () => false;
      else if (isPlainObject(schema.additionalItems))
        additional = sub(schema.additionalItems, path);
      checks.push(
        (v) =>
          !Array.isArray(v) ||
          v.every((x, i) =>
            i < itemChecks.length ? itemChecks[i](x) : additional ? additional(x) : true,
          ),
      );
    } else {
      const item = sub(schema.items, path);
      checks.push((v) => !Array.isArray(v) || v.every(item));
    }
  }
  const minProperties = numberKeyword('minProperties');
  if (minProperties !== undefined)
    checks.push((v) => !isObj(v) || Object.keys(v).length >= minProperties);
  const maxProperties = numberKeyword('maxProperties');
  if (maxProperties !== undefined)
    checks.push((v) => !isObj(v) || Object.keys(v).length <= maxProperties);
  if (schema.required !== undefined) {
    if (
      !Array.isArray(schema.required) ||
      schema.required.length === 0 ||
      schema.required.some((r: unknown) => typeof r !== 'string')
    )
      fail("$jsonSchema keyword 'required' must be a non-empty array of strings");
    const required = schema.required as string[];
    checks.push((v) => !isObj(v) || required.every((r) => Object.hasOwn(v, r)));
  }
  const properties = new Map<string, Check>();
  if (schema.properties !== undefined) {
    if (!isPlainObject(schema.properties))
      fail("$jsonSchema keyword 'properties' must be an object");
    for (const [k, s] of Object.entries(schema.properties))
      properties.set(k, sub(s, `${path}.${k}`));
  }
  const patterns: Array<[RegExp, Check]> = [];
  if (schema.patternProperties !== undefined) {
    if (!isPlainObject(schema.patternProperties))
      fail("$jsonSchema keyword 'patternProperties' must be an object");
    for (const [k, s] of Object.entries(schema.patternProperties))
      patterns.push([new RegExp(k, 'u'), sub(s, path)]);
  }
  let additionalProperties: Check | undefined;
  if (schema.additionalProperties === false) additionalProperties = () => false;
  else if (isPlainObject(schema.additionalProperties))
    additionalProperties = sub(schema.additionalProperties, path);
  if (properties.size > 0 || patterns.length > 0 || additionalProperties) {
    checks.push((v) => {
      if (!isObj(v)) return true;
      for (const [k, x] of Object.entries(v)) {
        let covered = false;
        const p = properties.get(k);
        if (p) {
          covered = true;
          if (!p(x)) return false;
        }
        for (const [re, check] of patterns) {
          if (re.test(k)) {
            covered = true;
            if (!check(x)) return false;
          }
        }
        if (!covered && additionalProperties && !additionalProperties(x)) return false;
      }
      return true;
    });
  }
  if (schema.dependencies !== undefined) {
    if (!isPlainObject(schema.dependencies))
      fail("$jsonSchema keyword 'dependencies' must be an object");
    for (const [k, dep] of Object.entries(schema.dependencies)) {
      if (Array.isArray(dep)) {
        const names = dep as string[];
        checks.push(
          (v) => !isObj(v) || !Object.hasOwn(v, k) || names.every((n) => Object.hasOwn(v, n)),
        );
      } else {
        const check = sub(dep, path);
        checks.push((v) => !isObj(v) || !Object.hasOwn(v, k) || check(v));
      }
    }
  }
  const list = (name: string): Check[] => {
    const l = schema[name];
    if (!Array.isArray(l) || l.length === 0)
      fail(`$jsonSchema keyword '${name}' must be a non-empty array`);
    return l.map((s) => sub(s, path));
  };
  if (schema.allOf !== undefined) {
    const all = list('allOf');
    checks.push((v) => all.every((c) => c(v)));
  }
  if (schema.anyOf !== undefined) {
    const any = list('anyOf');
    checks.push((v) => any.some((c) => c(v)));
  }
  if (schema.oneOf !== undefined) {
    const one = list('oneOf');
    checks.push((v) => one.filter((c) => c(v)).length === 1);
  }
  if (schema.not !== undefined) {
    const not = sub(schema.not, path);
    checks.push((v) => !not(v));
  }
  return (v) => checks.every((c) => c(v));
}
