import Joi from 'joi';
import { AppError } from '../src/errors';
import { JSON_MAX_DEPTH, parseStrictJson, withStrictScalars } from '../src/http';

const codeOf = (text: string): string | undefined => {
  try {
    parseStrictJson(text);
    return undefined;
  } catch (err) {
    return (err as AppError).code;
  }
};

describe('parseStrictJson', () => {
  it('parses objects and arrays; an empty body is {} as before', () => {
    expect(parseStrictJson('{"a":[1,{"b":null}]}')).toEqual({ a: [1, { b: null }] });
    expect(parseStrictJson(' [1] ')).toEqual([1]);
    expect(parseStrictJson('')).toEqual({});
  });

  it.each([
    ['a string value equal to a key', '{"a":"a","b":"a"}'],
    ['the same key in sibling objects', '[{"a":1},{"a":1}]'],
    ['the same key at two levels', '{"a":{"a":{"a":1}}}'],
    ['keys after a nested array', '{"a":[{"b":1},[2]],"b":{"b":3}}'],
    ['escaped quotes and backslashes in keys', '{"a\\"":1,"a\\\\":2,"a":3}'],
  ])('no duplicate: %s', (_label, text) => {
    expect(codeOf(text)).toBeUndefined();
  });

  it.each([
    ['after a nested array', '{"a":[{"b":1}],"a":2}'],
    ['after a nested object', '{"a":{"a":1},"b":1,"a":2}'],
    ['in an object inside an array', '[1,{"x":1,"y":2,"x":3}]'],
    ['an escape of the same key', '{"\\u00e9":1,"é":2}'],
    ['a surrogate pair escaped and not', '{"\\ud83d\\ude00":1,"😀":2}'],
    ['the same value twice', '{"a":1,"a":1}'],
  ])('duplicate key: %s', (_label, text) => {
    expect(codeOf(text)).toBe('DUPLICATE_KEY');
  });

  it(`nesting: ${JSON_MAX_DEPTH} levels pass, one more does not`, () => {
    const nested = (n: number) => '['.repeat(n) + ']'.repeat(n);
    expect(codeOf(nested(JSON_MAX_DEPTH))).toBeUndefined();
    expect(codeOf(nested(JSON_MAX_DEPTH + 1))).toBe('JSON_TOO_DEEP');
    expect(codeOf('{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000))).toBe('JSON_TOO_DEEP');
  });

  it('prototype keys are refused; "constructor" alone, "prototype" alone are data', () => {
    expect(codeOf('{"__proto__":1}')).toBe('FORBIDDEN_KEY');
    expect(codeOf('[{"a":{"constructor":{"prototype":{}}}}]')).toBe('FORBIDDEN_KEY');
    expect(codeOf('{"constructor":"x","prototype":1}')).toBeUndefined();
  });

  it.each(['null', '1', '"a"', 'true', ' ', '{"a":1,}', '{"a":1} x', "{'a':1}"])(
    '%j is MALFORMED_JSON',
    (text) => {
      expect(codeOf(text)).toBe('MALFORMED_JSON');
    },
  );
});

describe('withStrictScalars', () => {
  const schema = Joi.object({
    n: Joi.number(),
    b: Joi.boolean(),
    d: Joi.date(),
    s: Joi.string().trim().lowercase(),
    list: Joi.array().items(Joi.number()),
    byCount: Joi.object().pattern(Joi.number().integer(), Joi.number()),
    either: Joi.alternatives().try(Joi.boolean(), Joi.number()),
    when: Joi.any().when('b', { is: true, then: Joi.number() }),
  });
  const strict = withStrictScalars(schema);
  const check = (value: object) => strict.validate(value, { convert: true, abortEarly: false });

  it('refuses numbers and booleans written as strings, anywhere in the schema', () => {
    for (const value of [
      { n: '1' },
      { b: 'false' },
      { list: [1, '2'] },
      { byCount: { 1: '2' } },
      { either: 'true' },
      { b: true, when: '3' },
    ]) {
      expect(check(value).error).toBeDefined();
    }
  });

  it('keeps every other conversion, and object keys that spell numbers', () => {
    expect(
      check({ n: 1, b: true, d: '2030-01-01', s: ' AbC ', byCount: { 7: 1 }, when: 3 }).value,
    ).toEqual({
      n: 1,
      b: true,
      d: new Date('2030-01-01'),
      s: 'abc',
      byCount: { 7: 1 },
      when: 3,
    });
  });

  it('leaves the schema it was given alone, and is computed once per schema', () => {
    expect(schema.validate({ n: '1' }).value).toEqual({ n: 1 });
    expect(withStrictScalars(schema)).toBe(strict);
  });
});
