import type { Request, RequestHandler } from 'express';
import { AppError, ValidationError } from '../errors/app-error';

/**
 * A NUL, or half a UTF-16 surrogate pair: PostgreSQL refuses the first (error 22021) and
 * UTF-8 cannot encode the second (drivers silently store U+FFFD instead).
 */
const UNSTORABLE = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/**
 * The dotted path of the first key or string in `value` that cannot be stored, '' for the
 * value itself; undefined when everything can be. Iterative: bodies are at most
 * JSON_MAX_DEPTH deep, but nothing here relies on it.
 */
export function findUnstorableText(value: unknown): string | undefined {
  const pending: [unknown, string][] = [[value, '']];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [item, path] = next;
    if (typeof item === 'string') {
      if (!isStorableText(item)) return path;
    } else if (item !== null && typeof item === 'object') {
      for (const [key, child] of Object.entries(item)) {
        const childPath = path ? `${path}.${key}` : key;
        if (!isStorableText(key)) return childPath;
        pending.push([child, childPath]);
      }
    }
  }
  return undefined;
}

const NOT_STORABLE = 'must not contain a NUL character or an unpaired surrogate';

function refused(location: string, field?: string): ValidationError {
  return new ValidationError('Request validation failed', [
    { location, ...(field !== undefined ? { field } : {}), message: NOT_STORABLE },
  ]);
}

/** Path parameters are decoded per segment, as the router will: check what it will hand out. */
function pathProblem(path: string): AppError | undefined {
  if (!path.includes('%')) return undefined;
  for (const segment of path.split('/')) {
    if (!segment.includes('%')) continue;
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return new AppError(
        400,
        'MALFORMED_URL',
        'The request path is not valid percent-encoded UTF-8',
      );
    }
    if (!isStorableText(decoded)) return refused('path');
  }
  return undefined;
}

function inputProblem(req: Request): AppError | undefined {
  const pathError = pathProblem(req.path);
  if (pathError) return pathError;
  const query = findUnstorableText(req.query);
  if (query !== undefined) return refused('query', query);
  const body = findUnstorableText(req.body);
  if (body !== undefined) return refused('body', body);
  return undefined;
}

/**
 * Before any route: a path that does not percent-decode is a 400 MALFORMED_URL (the router
 * would throw a URIError), and text no store can hold — a NUL or an unpaired surrogate in a
 * path segment, a query value or key, or a body string or key — is a 400 VALIDATION_ERROR,
 * so it never reaches PostgreSQL (a 500) or MongoDB (silently altered).
 */
export function refuseUnstorableInput(): RequestHandler {
  return (req, _res, next) => next(inputProblem(req));
}
