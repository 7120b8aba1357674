import type { RequestHandler } from 'express';
import type Joi from 'joi';
import { ValidationError } from '../errors/app-error';
import { withStrictScalars } from './strict-scalars';

export interface RequestSchemas {
  body?: Joi.Schema;
  query?: Joi.Schema;
  params?: Joi.Schema;
}

type Part = keyof RequestSchemas;

/** Problems listed in one answer: a body of 10,000 unknown keys is not answered 10,000 times. */
export const MAX_PROBLEMS = 20;

/**
 * Joi details without the value itself; the echoes left in names and messages (an unknown
 * key, a pattern's value) are bounded by errorBody.
 */
function describe(part: Part, error: Joi.ValidationError) {
  return error.details.map((d) => ({
    location: part,
    field: d.path.join('.'),
    message: d.message,
  }));
}

/**
 * Validates body, query and params; unknown keys are refused (joi's default), so operator
 * injection like `{"email": {"$gt": ""}}` or `?price[$ne]=1` never reaches a store.
 * The validated (converted) values replace the raw ones; numbers and booleans in a body must
 * be JSON numbers and booleans (see withStrictScalars).
 */
export function validate(schemas: RequestSchemas): RequestHandler {
  const checked: RequestSchemas = {
    ...schemas,
    body: schemas.body && withStrictScalars(schemas.body),
  };
  return (req, _res, next) => {
    const problems: ReturnType<typeof describe> = [];
    for (const part of ['params', 'query', 'body'] as const) {
      const schema = checked[part];
      if (!schema) continue;
      const input = part === 'body' && req.body === undefined ? {} : req[part];
      // Who asks (after the access rule) is the context a rule may read: a list's window, say.
      const { value, error } = schema.validate(input, {
        abortEarly: false,
        convert: true,
        context: { user: req.user },
      });
      if (error) {
        problems.push(...describe(part, error));
        continue;
      }
      // Express 5 exposes req.query as a getter: redefine it instead of assigning.
      Object.defineProperty(req, part, {
        value,
        writable: true,
        configurable: true,
        enumerable: true,
      });
    }
    if (problems.length > 0) {
      next(new ValidationError('Request validation failed', problems.slice(0, MAX_PROBLEMS)));
      return;
    }
    next();
  };
}
