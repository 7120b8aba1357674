import secureJson from 'secure-json-parse';
import { AppError } from '../errors/app-error';

/**
 * Deeper than any body of this API; it also bounds the recursion of everything that walks a
 * body afterwards (the text check, joi).
 */
export const JSON_MAX_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** The first character that is not JSON whitespace (RFC 8259: space, tab, LF, CR). */
function firstCharacter(text: string): string | undefined {
  for (const c of text) if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') return c;
  return undefined;
}

function malformed(message = 'Request body is not valid JSON'): AppError {
  return new AppError(400, 'MALFORMED_JSON', message);
}

/** Index of the quote closing the string whose opening quote is at `start`. */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  // The bound only matters for text JSON.parse did not accept: it never loops past the end.
  while (i < text.length && text.charCodeAt(i) !== QUOTE) {
    i += text.charCodeAt(i) === BACKSLASH ? 2 : 1;
  }
  return i;
}

/**
 * Walks JSON text that JSON.parse accepted, without recursion: refuses a key twice in one
 * object (JSON.parse silently keeps the last, while a proxy, a log or a signature may have read
 * the first) and nesting deeper than JSON_MAX_DEPTH. Keys are compared unescaped, so `"a"` and
 * `"\u0061"` are the same key.
 */
function checkKeys(text: string): void {
  // One entry per open container: the keys seen so far in an object, null for an array.
  const open: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      const keys = open[open.length - 1];
      if (keys && expectKey) {
        const raw = text.slice(i + 1, end);
        const key = raw.includes('\\') ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
        if (keys.has(key)) {
          throw new AppError(400, 'DUPLICATE_KEY', `The JSON body repeats the key "${key}"`, {
            key,
          });
        }
        keys.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (open.length === JSON_MAX_DEPTH) {
        throw new AppError(
          400,
          'JSON_TOO_DEEP',
          `The JSON body is nested deeper than ${JSON_MAX_DEPTH} levels`,
        );
      }
      open.push(c === OPEN_BRACE ? new Set() : null);
      expectKey = c === OPEN_BRACE;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      open.pop();
      expectKey = false;
    } else if (c === COMMA) {
      expectKey = open[open.length - 1] instanceof Set;
    }
  }
}

/**
 * A request body as strict JSON: an object or an array (an empty body is `{}`, as before),
 * no `__proto__` key and no `constructor.prototype` anywhere (refused, not stripped: a merge
 * further on could otherwise reach Object.prototype), no key twice in one object, at most
 * JSON_MAX_DEPTH levels. Throws the AppError to answer.
 */
export function parseStrictJson(text: string): unknown {
  if (text.length === 0) return {};
  const first = firstCharacter(text);
  if (first !== '{' && first !== '[') {
    throw malformed('Request body must be a JSON object or array');
  }
  let value: unknown;
  try {
    // safe: a prototype key yields null rather than an error that reads like a syntax error.
    value = secureJson.parse(text, null, {
      protoAction: 'error',
      constructorAction: 'error',
      safe: true,
    });
  } catch {
    throw malformed();
  }
  if (value === null) {
    // Text starting with { or [ parses to null only when secure-json-parse found such a key.
    throw new AppError(
      400,
      'FORBIDDEN_KEY',
      'The JSON body may not contain "__proto__" or "constructor.prototype" keys',
    );
  }
  checkKeys(text);
  return value;
}
