import fc from 'fast-check';

/**
 * Hostile values, as fast-check arbitraries, and the two encoders that put them on the wire
 * exactly as meant: JSON text (with raw number tokens and duplicate keys JSON.stringify cannot
 * write) and percent-encoding (with the bytes of a lone surrogate, which encodeURIComponent
 * refuses to write).
 */

/** JSON text inserted verbatim: `1e400`, `-0`, a 30-digit integer. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** A JSON object written with these entries in this order, duplicates included. */
export class Entries {
  constructor(readonly entries: [string, unknown][]) {}
}

/** JSON text for `value`, honouring RawJson and Entries; own `__proto__` keys are written too. */
export function toJson(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (value instanceof Entries) {
    return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(',')}}`;
  }
  if (Array.isArray(value)) return `[${value.map((v) => toJson(v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .map((k) => `${JSON.stringify(k)}:${toJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  if (value === undefined) return 'null';
  return JSON.stringify(value);
}

/** A plain object with an own `__proto__` (or any) key: what JSON.parse would build. */
export function withOwnKey(
  base: Record<string, unknown>,
  key: string,
  value: unknown,
): Record<string, unknown> {
  const out = { ...base };
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  return out;
}

/**
 * Percent-encodes text as UTF-8, except that a lone surrogate is written as the three bytes a
 * lenient encoder (WTF-8, CESU-8) would produce (`%ED%A0%80`): what an attacker sends.
 */
export function pct(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      out += encodeURIComponent(text.slice(i, i + 2));
      i += 1;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const bytes = [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)];
      out += bytes.map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    } else {
      out += encodeURIComponent(text[i]!);
    }
  }
  return out;
}

export const loneSurrogate = fc
  .integer({ min: 0xd800, max: 0xdfff })
  .map((c) => String.fromCharCode(c));

export const HOSTILE_TEXT = [
  '',
  ' ',
  '\t\n',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\u202eevil',
  '\ufeffbom',
  '\u200b',
  'İı',
  'ß',
  'ﬃ',
  'é',
  'e\u0301',
  '💥',
  '👩‍👩‍👧‍👦',
  '%00',
  '%ff',
  '%',
  '../../etc/passwd',
  '..\\..\\windows',
  '<script>alert(1)</script>',
  "' OR '1'='1' --",
  '"; DROP TABLE orders; --',
  '{"$gt":""}',
  '$where',
  '$gt',
  'a.b',
  'null',
  'undefined',
  'true',
  'NaN',
  'Infinity',
  '-0',
  '1e309',
  '0x1f',
  '007',
  '  12  ',
  '1,5',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '${7*7}',
  '{{7*7}}',
  'admin',
  'ADMIN',
  'tok_visa',
  'javascript:alert(1)',
  'http://127.0.0.1:1/',
  '\r\nX-Injected: 1',
];

/** Text a validator or a store could trip over. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...HOSTILE_TEXT) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 24 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.string({ maxLength: 6 }), loneSurrogate, fc.string({ maxLength: 6 }))
      .map(([a, s, b]) => `${a}${s}${b}`),
  },
  {
    weight: 1,
    // Long text, up to 10 KB.
    arbitrary: fc
      .tuple(
        fc.integer({ min: 256, max: 10_000 }),
        fc.constantFrom('A', 'é', '💥', ' ', '9', '\u0000'),
      )
      .map(([n, c]) => c.repeat(Math.ceil(n / c.length))),
  },
);

/** Numbers outside what a field means: negative, fractional, huge, tiny. */
export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      -1,
      0,
      -0,
      0.5,
      1.005,
      99.999,
      1_000_001,
      2 ** 31,
      2 ** 53,
      2 ** 53 + 2,
      1e21,
      1e308,
      -1e308,
      Number.MIN_VALUE,
      1e-7,
    ),
  },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.integer() },
);

/** Number tokens JSON.stringify never writes. */
export const rawNumber = fc
  .constantFrom(
    '1e400',
    '-1e400',
    '-0',
    '1.0000000000000000001',
    '123456789012345678901234567890',
    '0.1e-500',
    '1E2',
    '0e0',
  )
  .map((t) => new RawJson(t));

/** Query operators as a document store reads them. */
export const operatorObject = fc
  .constantFrom<Record<string, unknown>>(
    { $gt: '' },
    { $ne: null },
    { $regex: '.*' },
    { $where: 'sleep(1000)' },
    { $exists: true },
    { $in: ['a', 'b'] },
    { $expr: { $eq: [1, 1] } },
  )
  .map((o) => ({ ...o }));

/** Any value where another was expected. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: hostileString },
  { weight: 3, arbitrary: hostileNumber },
  { weight: 1, arbitrary: rawNumber },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false) },
  { weight: 2, arbitrary: operatorObject },
  { weight: 1, arbitrary: fc.array(hostileString, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom({}, [], [[]], [{}]) },
  {
    weight: 1,
    arbitrary: fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), {
      maxKeys: 3,
    }),
  },
);

/** Letter-case variants of an id: upper, alternating, first letter upper. */
export const caseVariant = (id: string) =>
  fc
    .constantFrom<(s: string) => string>(
      (s) => s.toUpperCase(),
      (s) => [...s].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join(''),
      (s) => s.replace(/[a-f]/, (c) => c.toUpperCase()),
    )
    .map((f) => f(id));

export const hex = (n: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });

/** Path segments that do not decode, or decode to what no store can hold. */
export const malformedSegment = fc.constantFrom(
  '%ff',
  '%',
  '%e2%82',
  '%ED%A0%80',
  '%C0%AF',
  '%00',
  'abc%00def',
  '%zz',
  '%%',
  '%u0041',
  '%E0%80%80',
  '%F4%90%80%80',
);

/** Path segments that route somewhere other than they seem. */
export const trickySegment = fc.constantFrom(
  '..',
  '.',
  '%2e%2e',
  '%2E',
  '..%2f..%2fusers',
  '%2f',
  'a%2Fb',
  '%5c',
  ';',
  'x;jsessionid=1',
  '%3Bx',
  '%3F',
  '%23',
  '~',
  '*',
  '%20',
  '+',
  'me',
  'null',
  'undefined',
  '0',
  '-1',
  '1.5',
  '1e3',
  '%5Bobject%20Object%5D',
  '%7B%22%24gt%22%3A%22%22%7D',
);
