import type Joi from 'joi';
import type { Role } from '../auth/types';

/**
 * A service's HTTP API as data: every operation's method, path, who may call it, the joi
 * schemas its input is validated with and the shape of its answer. The service binds its
 * handlers to it (bindRoutes), the gateway routes and guards by it, and /docs and the Postman
 * collection are generated from it, so a route exists in exactly one place.
 * This module and the specs built with it load no Express and no driver.
 */

/**
 * Who may call an operation. 'public': anyone, no token read; 'optional': anyone, a valid
 * token is read when present (and a bad one refused); 'user': any signed-in user; a list of
 * roles: users with one of them.
 */
export type Access = 'public' | 'optional' | 'user' | readonly Role[];

/** The gateway's rate-limit budgets; 'default' unless an operation names another. */
export type RateLimitBucket = 'default' | 'auth' | 'payment' | 'webhook';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface ResponseSpec {
  status: 200 | 201 | 202 | 204;
  description: string;
  /**
   * The body (none for 204). A list operation gives its item schema and `list: true` (the paged
   * envelope) or `list: 'cursor'` (an append-only log's, read by cursor).
   */
  schema?: Joi.Schema;
  list?: true | 'cursor';
  /** A body of bytes of this media type instead of JSON (an image). */
  mediaType?: string;
}

/** The answer of every DELETE. */
export const deletedResponse: ResponseSpec = { status: 204, description: 'Deleted' };

export interface OperationSpec {
  method: HttpMethod;
  /** Express style, under one of the API's prefixes: '/api/orders/:id'. */
  path: string;
  summary: string;
  description?: string;
  access: Access;
  params?: Joi.ObjectSchema;
  query?: Joi.ObjectSchema;
  body?: Joi.Schema;
  /**
   * Request headers the operation reads (documentation: the handler checks them), beyond
   * Authorization and Idempotency-Key. Keys are the header names.
   */
  headers?: Joi.ObjectSchema;
  /** Documents the Idempotency-Key header (the handler applies it). */
  idempotent?: boolean;
  response: ResponseSpec;
  /** Business errors beyond the common ones (400, 401, 403, 404, 413, 429, 503), by status. */
  errors?: Partial<Record<400 | 403 | 404 | 409 | 410 | 422 | 503, string>>;
  rateLimit?: RateLimitBucket;
  /**
   * A body of bytes rather than JSON (an upload): its media types (documentation: the handler
   * checks the content itself) and the most bytes the gateway lets through, beyond BODY_LIMIT.
   */
  rawBody?: { mediaTypes: readonly string[]; maxBytes: number };
  /** OpenAPI tag, when not the API's. */
  tag?: string;
  /** Left out of the gateway and /docs (service-internal or admin-on-port routes). */
  internal?: boolean;
}

export interface ApiSpec<
  Ops extends Record<string, OperationSpec> = Record<string, OperationSpec>,
> {
  /** The service that serves it ('order'): the gateway's upstream name. */
  service: string;
  /** OpenAPI tag and its description. */
  tag: { name: string; description: string };
  /** Path prefixes this service owns at the gateway ('/api/orders'). */
  prefixes: readonly string[];
  operations: Ops;
}

/** Checks the spec once at load: paths under a prefix, DELETE answers 204, unique routes. */
export function defineApi<Ops extends Record<string, OperationSpec>>(
  spec: ApiSpec<Ops>,
): ApiSpec<Ops> {
  const seen = new Set<string>();
  for (const [id, op] of Object.entries(spec.operations)) {
    const where = `${spec.service}.${id}`;
    // Internal operations are not routed by the gateway, so they may live outside its prefixes.
    // Express matches paths case-insensitively: so does this check.
    const path = op.path.toLowerCase();
    const under = (p: string) => path === p.toLowerCase() || path.startsWith(`${p.toLowerCase()}/`);
    if (!op.internal && !spec.prefixes.some(under)) {
      throw new Error(`${where}: ${op.path} is under none of ${spec.prefixes.join(', ')}`);
    }
    if (op.method === 'delete' && op.response.status !== 204) {
      throw new Error(`${where}: DELETE answers 204 No Content`);
    }
    if (op.response.status === 204 && op.response.schema) {
      throw new Error(`${where}: a 204 has no body`);
    }
    const key = `${op.method} ${op.path.toLowerCase()}`;
    if (seen.has(key)) throw new Error(`${where}: ${key} is declared twice`);
    seen.add(key);
  }
  return spec;
}

/** True for operations that need no token at the edge. */
export function isPublicAccess(access: Access): boolean {
  return access === 'public' || access === 'optional';
}
