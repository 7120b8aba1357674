import type Joi from 'joi';
import joiToJson from 'joi-to-json';
import { isPublicAccess, type ApiSpec, type OperationSpec } from '../http/api';
import { cursorPageSchema, pageSchema } from '../http/conventions';

/**
 * OpenAPI 3.0 from API specs: the schemas are converted from the very joi schemas the routes
 * validate with, so /docs cannot drift from what a service accepts.
 */

type JsonSchema = Record<string, unknown>;
type Operation = Record<string, unknown>;

export interface OpenApiFragment {
  tags: { name: string; description: string }[];
  paths: Record<string, Record<string, Operation>>;
}

export function jsonSchema(schema: Joi.Schema): JsonSchema {
  return joiToJson(schema, 'open-api') as JsonSchema;
}

/** '/api/orders/:id' → '/api/orders/{id}'. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function parameters(where: 'path' | 'query' | 'header', schema: Joi.ObjectSchema | undefined) {
  if (!schema) return [];
  const converted = jsonSchema(schema) as {
    properties?: Record<string, JsonSchema>;
    required?: string[];
  };
  // A key the schema forbids (joi's `forbidden()`, converted to `not: {}`) is refused by name,
  // not offered: it is no parameter.
  const offered = Object.entries(converted.properties ?? {}).filter(
    ([, s]) => !(s.not && typeof s.not === 'object' && Object.keys(s.not).length === 0),
  );
  return offered.map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || (converted.required ?? []).includes(name),
    schema: s,
    ...(typeof s.description === 'string' ? { description: s.description } : {}),
  }));
}

const ref = (name: string) => ({ $ref: `#/components/responses/${name}` });

/** Bytes (an uploaded or served image). */
const BINARY = { type: 'string', format: 'binary' };

function operation(service: string, id: string, op: OperationSpec, tag: string): Operation {
  const params = [
    ...parameters('path', op.params),
    ...parameters('query', op.query),
    ...parameters('header', op.headers),
  ];
  if (op.idempotent) {
    params.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      schema: { type: 'string', maxLength: 255, pattern: '^[A-Za-z0-9._:-]{1,255}$' },
      description: 'Same key and body: the first answer again; same key, other body: 422.',
    } as never);
  }
  const body = op.response.schema
    ? op.response.list === 'cursor'
      ? cursorPageSchema(op.response.schema)
      : op.response.list
        ? pageSchema(op.response.schema)
        : op.response.schema
    : undefined;
  const isPublic = isPublicAccess(op.access);
  const errors: Record<string, unknown> = {
    '400': ref('BadRequest'),
    ...(op.body || op.rawBody ? { '413': ref('PayloadTooLarge') } : {}),
    ...(op.body ? { '415': ref('UnsupportedMediaType') } : {}),
    '429': ref('RateLimited'),
    '503': ref('Unavailable'),
    ...(isPublic && op.access !== 'optional' ? {} : { '401': ref('Unauthorized') }),
    ...(Array.isArray(op.access) ? { '403': ref('Forbidden') } : {}),
    ...(op.params ? { '404': ref('NotFound') } : {}),
  };
  for (const [status, description] of Object.entries(op.errors ?? {})) {
    errors[status] = {
      description,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
  }
  return {
    operationId: `${service}.${id}`,
    tags: [tag],
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    security: isPublic
      ? op.access === 'optional'
        ? [{}, { bearerAuth: [] }]
        : []
      : [{ bearerAuth: [] }],
    ...(Array.isArray(op.access) ? { 'x-roles': [...op.access] } : {}),
    'x-rate-limit': op.rateLimit ?? 'default',
    ...(params.length ? { parameters: params } : {}),
    ...(op.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: jsonSchema(op.body) } },
          },
        }
      : {}),
    ...(op.rawBody
      ? {
          requestBody: {
            required: true,
            content: Object.fromEntries(
              op.rawBody.mediaTypes.map((type) => [type, { schema: BINARY }]),
            ),
          },
        }
      : {}),
    responses: {
      [String(op.response.status)]: {
        description: op.response.description,
        ...(body ? { content: { 'application/json': { schema: jsonSchema(body) } } } : {}),
        ...(op.response.mediaType
          ? { content: { [op.response.mediaType]: { schema: BINARY } } }
          : {}),
        ...(op.response.status === 201
          ? {
              headers: {
                Location: { schema: { type: 'string' }, description: 'the new resource' },
              },
            }
          : {}),
      },
      ...errors,
    },
  };
}

/** The paths and tag of one service's API (internal operations left out). */
export function openApiFragment(api: ApiSpec): OpenApiFragment {
  const paths: OpenApiFragment['paths'] = {};
  for (const [id, op] of Object.entries(api.operations)) {
    if (op.internal) continue;
    const path = openApiPath(op.path);
    paths[path] ??= {};
    paths[path]![op.method] = operation(api.service, id, op, op.tag ?? api.tag.name);
  }
  return { tags: [api.tag], paths };
}

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

export interface OpenApiDocumentOptions {
  title: string;
  version: string;
  description: string;
  serverUrl?: string;
  fragments: OpenApiFragment[];
}

/** A whole OpenAPI document from fragments, with the platform's shared components. */
export function openApiDocument(options: OpenApiDocumentOptions): Record<string, unknown> {
  const paths: OpenApiFragment['paths'] = {};
  const tags: OpenApiFragment['tags'] = [];
  for (const fragment of options.fragments) {
    for (const tag of fragment.tags) if (!tags.some((t) => t.name === tag.name)) tags.push(tag);
    for (const [path, ops] of Object.entries(fragment.paths)) {
      paths[path] = { ...paths[path], ...ops };
    }
  }
  return {
    openapi: '3.0.3',
    info: { title: options.title, version: options.version, description: options.description },
    servers: [{ url: options.serverUrl ?? '/' }],
    tags,
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string', example: 'VALIDATION_ERROR' },
                message: { type: 'string' },
                details: {},
                requestId: { type: 'string' },
              },
            },
          },
        },
      },
      responses: {
        BadRequest: errorResponse('Invalid input (VALIDATION_ERROR, MALFORMED_JSON)'),
        Unauthorized: errorResponse('Missing, malformed, expired or invalid access token'),
        Forbidden: errorResponse('Authenticated but not allowed'),
        NotFound: errorResponse('No such resource (or not yours)'),
        PayloadTooLarge: errorResponse('Body above the size limit'),
        UnsupportedMediaType: errorResponse('A body that is not application/json in UTF-8'),
        RateLimited: {
          ...errorResponse('Too many requests; see Retry-After'),
          headers: { 'Retry-After': { schema: { type: 'integer' } } },
        },
        Unavailable: errorResponse('A service or store is unavailable (DEPENDENCY_UNAVAILABLE)'),
      },
    },
  };
}
