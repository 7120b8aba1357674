import pg from 'pg';

const { prepareValue } = (pg as unknown as { utils: { prepareValue(value: unknown): unknown } })
  .utils;

/**
 * `text` with its parameters ($1, $2, …) written in as escaped literals, for a statement that
 * must travel in a simple query (with BEGIN, say), where parameters cannot go. Each value is
 * turned into text exactly as pg does for a parameter (pg's prepareValue) and then escaped,
 * so the server reads the same value of the same unknown type, resolved by its context as the
 * parameter was. Null when a value has no text form (a Buffer: pg sends it as binary) or a
 * parameter has no value: the caller then sends the statement as it is.
 *
 * `$n` is replaced only in the statement's code: not in string constants ('…', E'…'), quoted
 * identifiers ("…"), dollar-quoted bodies ($tag$…$tag$) or comments.
 */
export function inlineParameters(text: string, values: readonly unknown[] = []): string | null {
  const literals = literalsOf(values);
  if (literals === null) return null;
  // Only a `$` can start a parameter: without one, every branch below copies the text as it is.
  if (!text.includes('$')) return text;
  let out = '';
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === "'") {
      // A string constant; E'…' allows backslash escapes.
      const escapes = i > 0 && /[eE]/.test(text[i - 1]!) && !/\w/.test(text[i - 2] ?? '');
      let j = i + 1;
      while (j < n) {
        if (escapes && text[j] === '\\') j += 2;
        else if (text[j] === "'" && text[j + 1] === "'") j += 2;
        else if (text[j] === "'") break;
        else j += 1;
      }
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '"') {
      let j = i + 1;
      while (j < n && !(text[j] === '"' && text[j + 1] !== '"')) j += text[j] === '"' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '-' && next === '-') {
      const end = text.indexOf('\n', i);
      const j = end === -1 ? n : end;
      out += text.slice(i, j);
      i = j;
    } else if (c === '/' && next === '*') {
      // Comments nest in PostgreSQL.
      let depth = 1;
      let j = i + 2;
      while (j < n && depth > 0) {
        if (text[j] === '/' && text[j + 1] === '*') {
          depth += 1;
          j += 2;
        } else if (text[j] === '*' && text[j + 1] === '/') {
          depth -= 1;
          j += 2;
        } else j += 1;
      }
      out += text.slice(i, j);
      i = j;
    } else if (c === '$') {
      const param = /^\$(\d+)/.exec(text.slice(i));
      const tag = param ? null : /^\$([A-Za-z_][A-Za-z_0-9]*)?\$/.exec(text.slice(i));
      const identifierChar = i > 0 && /[A-Za-z_0-9$]/.test(text[i - 1]!);
      if (param && !identifierChar) {
        const literal = literals[Number(param[1]) - 1];
        if (literal === undefined) return null;
        out += literal;
        i += param[0].length;
      } else if (tag && !identifierChar) {
        const close = text.indexOf(tag[0], i + tag[0].length);
        const j = close === -1 ? n : close + tag[0].length;
        out += text.slice(i, j);
        i = j;
      } else {
        out += c;
        i += 1;
      }
    } else {
      // Plain code, up to the next character that may open a string constant, a quoted
      // identifier, a comment, a dollar quote or a parameter.
      let j = i + 1;
      while (j < n && !OPENERS.has(text[j]!)) j += 1;
      out += text.slice(i, j);
      i = j;
    }
  }
  return out;
}

const OPENERS = new Set(["'", '"', '-', '/', '$']);

/**
 * A string as an SQL string constant, exactly as pg's escapeLiteral writes it (tested against
 * it): ' and \ doubled, and ` E'…'` (with its leading space) when there is a \. Not pg's: that
 * one copies one character at a time, 17 times slower on an anchored entry's values
 * (docs/benchmarks.md, "Hot-path steps").
 */
export function quoteLiteral(text: string): string {
  const quoted = text.includes("'") ? text.replaceAll("'", "''") : text;
  return text.includes('\\') ? ` E'${quoted.replaceAll('\\', '\\\\')}'` : `'${quoted}'`;
}

/**
 * Each value in the text form pg sends for a parameter (null stays null), or null when one has
 * no text form (a Buffer: pg sends it as binary). Taken when a statement is queued, it fixes the
 * values as they are then.
 */
export function textForms(values: readonly unknown[]): Array<string | null> | null {
  const forms: Array<string | null> = [];
  for (const value of values) {
    const prepared = prepareValue(value);
    if (prepared === null || typeof prepared === 'string') forms.push(prepared);
    else return null;
  }
  return forms;
}

/**
 * Each value as the escaped literal of its text form as pg sends it for a parameter (NULL for
 * null), or null when one has no text form (a Buffer: pg sends it as binary).
 */
export function literalsOf(values: readonly unknown[]): string[] | null {
  return textForms(values)?.map((v) => (v === null ? 'NULL' : quoteLiteral(v))) ?? null;
}
