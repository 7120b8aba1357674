import type { Document } from 'bson';
import type { Index } from './collection';
import { MongoCommandError } from './errors';
import { isPlainObject } from './keys';

/**
 * `$text` over a text index: case-insensitive whole-word match of any search term,
 * quoted phrases required, `-term` excluded. No stemming, stop words or languages
 * (see README); the score is the weighted count of matched terms.
 */
export interface TextSearch {
  score(doc: Document): number | undefined;
}

export function compileTextSearch(index: Index | undefined, spec: unknown): TextSearch {
  if (!index) throw new MongoCommandError('IndexNotFound', 'text index required for $text query');
  if (!isPlainObject(spec) || typeof spec.$search !== 'string') {
    throw new MongoCommandError('BadValue', '$text requires a $search string');
  }
  const caseSensitive = spec.$caseSensitive === true;
  const norm = (s: string): string => (caseSensitive ? s : s.toLowerCase());
  const search = norm(spec.$search);
  const phrases = [...search.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
  const rest = search.replace(/"[^"]*"/g, ' ');
  const words = rest.match(/-?[\p{L}\p{N}_]+/gu) ?? [];
  const excluded = words.filter((w) => w.startsWith('-')).map((w) => w.slice(1));
  const terms = words.filter((w) => !w.startsWith('-'));
  const weights = (index.spec.weights as Document | undefined) ?? {};
  const wildcard = index.spec.key['$**'] === 'text';
  const fields = Object.entries(index.spec.key)
    .filter(([, v]) => v === 'text')
    .map(([k]) => k)
    .concat(Object.keys(weights));

  return {
    score(doc) {
      let total = 0;
      let any = false;
      const texts: Array<{ f: string; s: string }> = wildcard
        ? allStrings(doc)
        : unique(fields).map((f) => ({ f, s: stringsAt(doc, f).join(' ') }));
      const joined = texts.map((t) => norm(t.s)).join('\n');
      if (phrases.some((p) => !joined.includes(p))) return undefined;
      for (const { f, s } of texts) {
        const tokens: string[] = norm(s).match(/[\p{L}\p{N}_]+/gu) ?? [];
        if (excluded.some((e) => tokens.includes(e))) return undefined;
        const weight = typeof weights[f] === 'number' ? (weights[f] as number) : 1;
        for (const t of terms) {
          const hits = tokens.filter((x) => x === t).length;
          if (hits > 0) {
            any = true;
            total += weight * hits;
          }
        }
      }
      if (phrases.length > 0 && terms.length === 0) return 1;
      return any ? total : undefined;
    },
  };
}

function unique(list: string[]): string[] {
  return [...new Set(list)];
}

function stringsAt(doc: unknown, path: string): string[] {
  let values: unknown[] = [doc];
  for (const part of path.split('.')) {
    values = values.flatMap((v) => {
      const next = isPlainObject(v) ? v[part] : undefined;
      return Array.isArray(next) ? next : [next];
    });
  }
  return values.filter((v): v is string => typeof v === 'string');
}

function allStrings(doc: unknown, prefix = ''): Array<{ f: string; s: string }> {
  if (typeof doc === 'string') return [{ f: prefix, s: doc }];
  if (Array.isArray(doc)) return doc.flatMap((v) => allStrings(v, prefix));
  if (isPlainObject(doc)) {
    return Object.entries(doc).flatMap(([k, v]) => allStrings(v, prefix ? `${prefix}.${k}` : k));
  }
  return [];
}
