import { EJSON, type Document } from 'bson';
import { MongoCommandError } from './errors';
import { isPlainObject } from './keys';

// Collations, on Intl.Collator (Node's ICU): strength 1-3, caseLevel (at strength 1),
// caseFirst, numericOrdering, alternate 'shifted' with maxVariable 'punct', and the locales
// MongoDB documents. What Intl cannot express is refused, never approximated.

/** A collation other than the simple one: its full spec (as listIndexes shows it) and collator. */
export interface Collation {
  readonly spec: Document;
  readonly collator: Intl.Collator;
  /** A stable key of the spec (equal collations, equal keys). */
  readonly key: string;
}

/** The ICU version mongod 7.0 reports in a collation spec. */
const ICU_VERSION = '57.1';

// The locales of MongoDB's documentation ("Collation Locales and Default Parameters").
const LOCALES = new Set(
  (
    'af sq am ar hy as az bn be bs bs_Cyrl bg my ca chr zh zh_Hant hr cs da nl dz en en_US ' +
    'en_US_POSIX eo et ee fo fil fi_FI fr fr_CA gl ka de de_AT el gu ha haw he hi hu is ig smn ' +
    'id ga it ja kl kn kk km kok ko ky lkt lo lv li lt dsb lb mk ms ml mt mr mn ne se nb nn or ' +
    'om ps fa fa_AF pl pt pa ro ru sr sr_Latn si sk sl es sw sv ta te th bo to tr uk hsb ur ug ' +
    'vi wae cy yi yo zu'
  ).split(' '),
);

// ICU collation keywords (`@collation=<name>`) and their BCP 47 spelling.
const VARIANTS: Record<string, string> = {
  big5han: 'big5han',
  compat: 'compat',
  dictionary: 'dict',
  direct: 'direct',
  eor: 'eor',
  gb2312han: 'gb2312',
  phonebook: 'phonebk',
  pinyin: 'pinyin',
  reformed: 'reformed',
  search: 'search',
  standard: 'standard',
  stroke: 'stroke',
  traditional: 'trad',
  unihan: 'unihan',
  zhuyin: 'zhuyin',
};

const FIELDS = new Set([
  'locale',
  'caseLevel',
  'caseFirst',
  'strength',
  'numericOrdering',
  'alternate',
  'maxVariable',
  'normalization',
  'backwards',
  'version',
]);

function spelled(spec: Document): string {
  return EJSON.stringify(spec, { relaxed: true })
    .replace(/"([A-Za-z_$][\w$]*)":/g, '$1: ')
    .replace(/,/g, ', ')
    .replace(/^\{/, '{ ')
    .replace(/\}$/, ' }');
}

function unsupported(what: string, spec: Document): MongoCommandError {
  return new MongoCommandError(
    'InvalidOptions',
    `collation ${spelled(spec)}: ${what} is not supported by the MongoDB stand-in`,
  );
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'double';
  if (typeof v === 'object') return 'object';
  return typeof v === 'boolean' ? 'bool' : typeof v;
}

function expect(spec: Document, field: string, type: 'bool' | 'string' | 'int'): void {
  const v = spec[field];
  if (v === undefined) return;
  const ok =
    type === 'bool'
      ? typeof v === 'boolean'
      : type === 'string'
        ? typeof v === 'string'
        : typeof v === 'number' && Number.isInteger(v);
  if (!ok)
    throw new MongoCommandError(
      'TypeMismatch',
      `BSON field 'collation.${field}' is the wrong type '${typeName(v)}', expected type '${type}'`,
    );
}

const cache = new Map<string, Collation | null>();

/**
 * Parses a command's or an index's `collation`: undefined for none or `{ locale: 'simple' }`
 * (binary comparison), a Collation otherwise. Invalid specs answer mongod's errors; valid
 * ones Intl.Collator cannot honour answer InvalidOptions (72) naming what is not supported.
 */
export function parseCollation(raw: unknown): Collation | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isPlainObject(raw))
    throw new MongoCommandError(
      'TypeMismatch',
      `BSON field 'collation' is the wrong type '${typeName(raw)}', expected type 'object'`,
    );
  const cacheKey = EJSON.stringify(raw, { relaxed: false });
  const cached = cache.get(cacheKey);
  if (cached !== undefined) return cached ?? undefined;
  const parsed = build(raw);
  if (cache.size > 200) cache.clear();
  cache.set(cacheKey, parsed ?? null);
  return parsed;
}

function build(spec: Document): Collation | undefined {
  for (const k of Object.keys(spec))
    if (!FIELDS.has(k))
      throw new MongoCommandError(
        'IDLUnknownField',
        `BSON field 'collation.${k}' is an unknown field.`,
      );
  if (spec.locale === undefined)
    throw new MongoCommandError(
      'IDLFailedToParse',
      "BSON field 'collation.locale' is missing but a required field",
    );
  expect(spec, 'locale', 'string');
  for (const f of ['caseLevel', 'numericOrdering', 'normalization', 'backwards'])
    expect(spec, f, 'bool');
  for (const f of ['caseFirst', 'alternate', 'maxVariable', 'version']) expect(spec, f, 'string');
  expect(spec, 'strength', 'int');
  const locale = spec.locale as string;
  if (locale === 'simple') {
    if (Object.keys(spec).length > 1)
      throw new MongoCommandError(
        'FailedToParse',
        `If locale=simple, no other fields should be present in: ${spelled(spec)}`,
      );
    return undefined;
  }
  if (locale === '')
    throw new MongoCommandError(
      'BadValue',
      `Field 'locale' cannot be the empty string in: ${spelled(spec)}`,
    );
  const [base, variant] = locale.split('@');
  const keyword = variant?.startsWith('collation=')
    ? variant.slice('collation='.length)
    : undefined;
  if (!LOCALES.has(base) || (variant !== undefined && (!keyword || !VARIANTS[keyword]))) {
    const tag = base.replace(/_/g, '-');
    let suggestion = '';
    try {
      const resolved = new Intl.Collator(tag).resolvedOptions().locale.replace(/-/g, '_');
      if (Intl.Collator.supportedLocalesOf(tag).length > 0 && LOCALES.has(resolved))
        suggestion = `. Did you mean '${resolved}'?`;
    } catch {
      // An unparseable locale: no suggestion.
    }
    throw new MongoCommandError(
      'BadValue',
      `Field 'locale' is invalid in: ${spelled(spec)}${suggestion}`,
    );
  }

  const strength = (spec.strength as number | undefined) ?? 3;
  if (strength < 1 || strength > 5)
    throw new MongoCommandError(
      'BadValue',
      `Field 'strength' must be an integer 1 through 5. Got: ${strength}`,
    );
  const caseFirst = spec.caseFirst as string | undefined;
  if (caseFirst !== undefined && !['upper', 'lower', 'off'].includes(caseFirst))
    throw new MongoCommandError(
      'BadValue',
      `Field 'caseFirst' must be 'upper', 'lower', or 'off'. Got: ${caseFirst}`,
    );
  const alternate = (spec.alternate as string | undefined) ?? 'non-ignorable';
  if (!['non-ignorable', 'shifted'].includes(alternate))
    throw new MongoCommandError(
      'BadValue',
      `Field 'alternate' must be 'non-ignorable' or 'shifted'. Got: ${alternate}`,
    );
  const maxVariable = (spec.maxVariable as string | undefined) ?? 'punct';
  if (!['punct', 'space'].includes(maxVariable))
    throw new MongoCommandError(
      'BadValue',
      `Field 'maxVariable' must be 'punct' or 'space'. Got: ${maxVariable}`,
    );
  if (spec.version !== undefined && spec.version !== ICU_VERSION)
    throw new MongoCommandError(
      'IncompatibleCollationVersion',
      `Requested collation version ${String(spec.version)} but the only available collator version was ${ICU_VERSION}. Requested collation spec: ${spelled(spec)}`,
    );
  const caseLevel = spec.caseLevel === true;
  if (spec.backwards === true && strength === 1)
    throw new MongoCommandError(
      'BadValue',
      `'backwards' is invalid with 'strength' of 1 in: ${spelled(spec)}`,
    );
  if (caseFirst !== undefined && caseFirst !== 'off' && !caseLevel && strength < 3)
    throw new MongoCommandError(
      'BadValue',
      `'caseFirst' is invalid unless 'caseLevel' is on or 'strength' is greater than 2 in: ${spelled(spec)}`,
    );

  // Valid for mongod; now what Intl.Collator can do exactly.
  if (strength > 3) throw unsupported(`strength ${strength}`, spec);
  if (caseLevel && strength > 1) throw unsupported('caseLevel with a strength above 1', spec);
  if (maxVariable === 'space' && alternate === 'shifted')
    throw unsupported("maxVariable 'space'", spec);
  const frenchCanada = base === 'fr_CA';
  if (spec.backwards !== undefined && spec.backwards !== frenchCanada)
    throw unsupported(`backwards ${String(spec.backwards)} for locale ${base}`, spec);

  let tag = base.replace(/_/g, '-');
  if (base === 'en_US_POSIX') tag = 'en-US-u-va-posix';
  const options: Intl.CollatorOptions = {
    sensitivity:
      strength === 1 ? (caseLevel ? 'case' : 'base') : strength === 2 ? 'accent' : 'variant',
    numeric: spec.numericOrdering === true,
    ignorePunctuation: alternate === 'shifted',
  };
  if (caseFirst !== undefined)
    options.caseFirst = caseFirst === 'off' ? 'false' : (caseFirst as 'upper' | 'lower');
  if (keyword === 'search') options.usage = 'search';
  else if (keyword && keyword !== 'standard') tag += `-u-co-${VARIANTS[keyword]}`;
  const collator = new Intl.Collator(tag, options);
  const resolved = collator.resolvedOptions();
  const full: Document = {
    locale,
    caseLevel,
    caseFirst: resolved.caseFirst === 'false' || !resolved.caseFirst ? 'off' : resolved.caseFirst,
    strength,
    numericOrdering: spec.numericOrdering === true,
    alternate,
    maxVariable,
    normalization: spec.normalization === true,
    backwards: frenchCanada,
    version: ICU_VERSION,
  };
  return { spec: full, collator, key: EJSON.stringify(full, { relaxed: false }) };
}

/** Same collation (both simple, or the same full spec). */
export function sameCollation(a: Collation | undefined, b: Collation | undefined): boolean {
  return (a?.key ?? 'simple') === (b?.key ?? 'simple');
}

export function collatorOf(c: Collation | undefined): Intl.Collator | undefined {
  return c?.collator;
}
