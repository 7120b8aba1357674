import { Router, type Request, type RequestHandler } from 'express';
import { authenticate, requireRole } from '../auth/middleware';
import type { JwtVerifyOptions } from '../auth/jwt';
import type { ApiSpec, OperationSpec } from './api';
import { isReply, type Reply } from './reply';
import { validate } from './validate';
import { AppError } from '../errors/app-error';

/** One handler per operation of the API; input is validated before it runs. */
export type Handlers<Ops extends Record<string, OperationSpec>> = {
  [K in keyof Ops]: (req: Request) => Promise<Reply | object>;
};

/** Static segments before parameters, so `/api/orders/stats` is not taken for `/api/orders/:id`. */
function specificity(a: OperationSpec, b: OperationSpec): number {
  const as = a.path.split('/');
  const bs = b.path.split('/');
  for (let i = 0; i < Math.min(as.length, bs.length); i += 1) {
    const ap = as[i]!.startsWith(':');
    const bp = bs[i]!.startsWith(':');
    if (ap !== bp) return ap ? 1 : -1;
  }
  return 0;
}

/**
 * A route that reads a JSON body refuses a body of another type (a form, text) with 415
 * instead of ignoring it and answering as if none was sent. A body with no type is refused
 * only when its length says it has bytes: an empty one (no length, 0, or chunked with nothing
 * declared) is the route's own business, and its schema says whether one is needed.
 */
const jsonBodyOnly: RequestHandler = (req, _res, next) => {
  const length = req.headers['content-length'];
  const declared = req.headers['content-type'] !== undefined;
  const mayHoldBytes = declared ? length !== '0' : length !== undefined && length !== '0';
  if (mayHoldBytes && req.is('application/json') === false)
    next(
      new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', 'The request body must be application/json', {
        contentType: req.headers['content-type'] ?? null,
      }),
    );
  else next();
};

/** Each router bindRoutes made, with the operations it serves. */
const servedOperations = new WeakMap<Router, readonly OperationSpec[]>();

/** Express's default matching: letters in any case, a trailing slash optional, `:x` one segment. */
function segmentsOf(path: string): string[] {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return trimmed.toLowerCase().split('/');
}

function matches(pattern: readonly string[], given: readonly string[]): boolean {
  return (
    pattern.length === given.length &&
    pattern.every((p, i) => (p.startsWith(':') ? given[i] !== '' : p === given[i]))
  );
}

/** The methods of `operations` whose path matches `path` (HEAD with GET), sorted. */
function methodsServing(operations: Iterable<OperationSpec>, path: string): string[] {
  const given = segmentsOf(path);
  const allowed = new Set<string>();
  for (const op of operations) {
    if (!matches(segmentsOf(op.path), given)) continue;
    if (op.method === 'get') allowed.add('GET').add('HEAD');
    else allowed.add(op.method.toUpperCase());
  }
  return [...allowed].sort();
}

/**
 * The methods that serve `path` in the routers bindRoutes made, sorted; empty when none has the
 * path. For a 405's Allow header once no route took the request.
 */
export function allowedMethods(routers: readonly Router[], path: string): string[] {
  return methodsServing(
    routers.flatMap((router) => servedOperations.get(router) ?? []),
    path,
  );
}

/** The same for API specs whose routes are written by hand (the gateway's own). */
export function allowedMethodsOf(apis: readonly ApiSpec[], path: string): string[] {
  return methodsServing(
    apis.flatMap((api) => Object.values(api.operations) as OperationSpec[]),
    path,
  );
}

function guard(op: OperationSpec, jwt: JwtVerifyOptions): RequestHandler[] {
  switch (op.access) {
    case 'public':
      return [];
    case 'optional':
      return [authenticate(jwt, { optional: true })];
    case 'user':
      return [authenticate(jwt)];
    default:
      return [authenticate(jwt), requireRole(...op.access)];
  }
}

/**
 * The service's router for its API: for every operation, the access rule, validation of
 * params, query and body with the spec's schemas (unknown keys refused), then the handler;
 * its Reply is written as declared (DELETE always 204, 201 with Location).
 */
export function bindRoutes<Ops extends Record<string, OperationSpec>>(
  api: ApiSpec<Ops>,
  handlers: Handlers<Ops>,
  options: { jwt: JwtVerifyOptions },
): Router {
  const router = Router();
  const entries = (Object.entries(api.operations) as [keyof Ops & string, OperationSpec][]).sort(
    ([, a], [, b]) => specificity(a, b),
  );
  for (const [id, op] of entries) {
    const handler = handlers[id];
    if (typeof handler !== 'function') throw new Error(`${api.service}.${id} has no handler`);
    const schemas = { params: op.params, query: op.query, body: op.body };
    const bodyCheck = op.body ? [jsonBodyOnly] : [];
    router[op.method](
      op.path,
      ...guard(op, options.jwt),
      ...bodyCheck,
      validate(schemas),
      async (req, res) => {
        const result = await handler(req);
        const out: Reply = isReply(result) ? result : { status: 200, body: result };
        if (op.method === 'delete' && out.status !== 204) {
          throw new Error(`${api.service}.${id}: a DELETE must answer 204`);
        }
        if (out.status === 201 && !out.headers?.Location) {
          throw new Error(`${api.service}.${id}: a 201 must carry Location`);
        }
        for (const [name, value] of Object.entries(out.headers ?? {})) res.setHeader(name, value);
        if (out.status === 204 || out.body === undefined) res.status(out.status).end();
        // Bytes (an image) go out as they are; res.send answers 304 to a matching If-None-Match.
        else if (Buffer.isBuffer(out.body)) res.status(out.status).send(out.body);
        else res.status(out.status).json(out.body);
      },
    );
  }
  servedOperations.set(
    router,
    entries.map(([, op]) => op),
  );
  return router;
}
