import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Joi from 'joi';
import request from 'supertest';
import type { AuthUser } from '../src/auth';
import { NotFoundError } from '../src/errors';
import {
  bindRoutes,
  createServiceApp,
  cursorQueryKeys,
  defineApi,
  minorUnitsFromDecimal,
  page,
  pageQueryKeys,
  reply,
  shippingAddressSchema,
  plainText,
  visibleLine,
  visibleText,
  type OperationSpec,
} from '../src/http';
import { createLogger } from '../src/logging';
import { openApiDocument, openApiFragment, openApiPath } from '../src/openapi';
import { bearer, testJwtVerify as jwt } from '@ecom/test-support';
const customer: AuthUser = { id: 'c1', role: 'customer' };
const admin: AuthUser = { id: 'a1', role: 'admin' };

const widget = Joi.object({ id: Joi.string(), name: Joi.string() });
const widgets = new Map([['w1', { id: 'w1', name: 'Bolt' }]]);

const api = defineApi({
  service: 'widget',
  tag: { name: 'Widgets', description: 'widgets' },
  prefixes: ['/api/widgets'],
  operations: {
    listWidgets: {
      method: 'get',
      path: '/api/widgets',
      summary: 'List',
      access: 'public',
      query: Joi.object({ ...pageQueryKeys, q: Joi.string().max(20) }),
      response: { status: 200, description: 'Page', schema: widget, list: true },
    },
    countWidgets: {
      method: 'get',
      path: '/api/widgets/count',
      summary: 'Count (a static segment next to /:id)',
      access: 'public',
      response: { status: 200, description: 'Count', schema: Joi.object() },
    },
    getWidget: {
      method: 'get',
      path: '/api/widgets/:id',
      summary: 'One',
      access: 'optional',
      params: Joi.object({ id: Joi.string().max(10).required() }),
      response: { status: 200, description: 'Widget', schema: widget },
    },
    createWidget: {
      method: 'post',
      path: '/api/widgets',
      summary: 'Create',
      access: 'user',
      body: Joi.object({ name: Joi.string().required() }),
      idempotent: true,
      response: { status: 201, description: 'Created', schema: widget },
      errors: { 422: 'NAME_TAKEN' },
      rateLimit: 'payment',
    },
    deleteWidget: {
      method: 'delete',
      path: '/api/widgets/:id',
      summary: 'Delete',
      access: ['admin'],
      params: Joi.object({ id: Joi.string().required() }),
      response: { status: 204, description: 'Deleted' },
    },
    widgetStats: {
      method: 'get',
      path: '/internal/widget-stats',
      summary: 'On the service port only',
      access: ['admin'],
      response: { status: 200, description: 'Stats', schema: Joi.object() },
      internal: true,
    },
  },
});

function app(handlers: Partial<Parameters<typeof bindRoutes<typeof api.operations>>[1]> = {}) {
  const service = createServiceApp({ service: 'widget', logger: createLogger('t', 'silent') });
  service.mount(
    bindRoutes(
      api,
      {
        listWidgets: async (req) => {
          const q = req.query as unknown as { page: number; limit: number };
          return reply.list(page([...widgets.values()], q, widgets.size));
        },
        countWidgets: async () => ({ count: widgets.size }),
        getWidget: async (req) => {
          const w = widgets.get(String(req.params.id));
          if (!w) throw new NotFoundError('no such widget');
          return { ...w, reader: req.user?.id ?? null };
        },
        createWidget: async (req) =>
          reply.created({ id: 'w2', name: (req.body as { name: string }).name }, '/api/widgets/w2'),
        deleteWidget: async () => reply.noContent(),
        widgetStats: async () => ({ ok: true }),
        ...handlers,
      },
      { jwt },
    ),
  );
  return service.finish();
}

describe('defineApi', () => {
  const op = (extra: Partial<OperationSpec>): OperationSpec => ({
    method: 'get',
    path: '/api/widgets',
    summary: 's',
    access: 'public',
    response: { status: 200, description: 'd' },
    ...extra,
  });
  const define = (operations: Record<string, OperationSpec>) =>
    defineApi({
      service: 'w',
      tag: { name: 'W', description: '' },
      prefixes: ['/api/widgets'],
      operations,
    });

  it('refuses a path outside its prefixes, a DELETE that is not 204, a 204 with a body, a route twice', () => {
    expect(() => define({ a: op({ path: '/api/gadgets' }) })).toThrow(
      'is under none of /api/widgets',
    );
    expect(() => define({ a: op({ method: 'delete' }) })).toThrow('DELETE answers 204');
    expect(() =>
      define({ a: op({ response: { status: 204, description: 'd', schema: Joi.object() } }) }),
    ).toThrow('a 204 has no body');
    expect(() => define({ a: op({}), b: op({ path: '/API/Widgets' }) })).toThrow('declared twice');
  });
});

describe('bindRoutes', () => {
  const server = app();

  it('answers lists in the one envelope with the page bounds applied', async () => {
    const res = await request(server).get('/api/widgets');
    expect(res.body).toEqual({
      items: [{ id: 'w1', name: 'Bolt' }],
      page: 1,
      limit: 20,
      total: 1,
      totalPages: 1,
    });
    for (const q of ['page=0', 'limit=101', 'page=100001', 'unknown=1']) {
      const bad = await request(server).get(`/api/widgets?${q}`);
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('VALIDATION_ERROR');
    }
  });

  it('matches a static segment before a parameter', async () => {
    expect((await request(server).get('/api/widgets/count')).body).toEqual({ count: 1 });
  });

  it('applies access: public, optional (a token is read), user, roles', async () => {
    expect((await request(server).get('/api/widgets/w1')).body.reader).toBeNull();
    const withToken = await request(server)
      .get('/api/widgets/w1')
      .set('authorization', bearer(customer));
    expect(withToken.body.reader).toBe('c1');
    const badToken = await request(server)
      .get('/api/widgets/w1')
      .set('authorization', 'Bearer x.y.z');
    expect(badToken.status).toBe(401);
    expect((await request(server).post('/api/widgets').send({ name: 'n' })).status).toBe(401);
    const forbidden = await request(server)
      .delete('/api/widgets/w1')
      .set('authorization', bearer(customer));
    expect(forbidden.status).toBe(403);
    const deleted = await request(server)
      .delete('/api/widgets/w1')
      .set('authorization', bearer(admin));
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
  });

  it('answers 201 with Location, and validates the body (unknown keys refused)', async () => {
    const res = await request(server)
      .post('/api/widgets')
      .set('authorization', bearer(customer))
      .send({ name: 'Nut' });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe('/api/widgets/w2');
    expect(res.body).toEqual({ id: 'w2', name: 'Nut' });
    const extra = await request(server)
      .post('/api/widgets')
      .set('authorization', bearer(customer))
      .send({ name: 'Nut', role: 'admin' });
    expect(extra.status).toBe(400);
  });

  it('refuses a body in another type than JSON with 415 (never read as no body), nothing created', async () => {
    const before = widgets.size;
    for (const [type, body] of [
      ['text/plain', '{"name":"Nut"}'],
      ['application/x-www-form-urlencoded', 'name=Nut'],
    ]) {
      const res = await request(server)
        .post('/api/widgets')
        .set('authorization', bearer(customer))
        .set('content-type', type!)
        .send(body);
      expect(res.status).toBe(415);
      expect(res.body.error).toMatchObject({
        code: 'UNSUPPORTED_MEDIA_TYPE',
        details: { contentType: type },
        requestId: expect.any(String),
      });
    }
    expect(widgets.size).toBe(before);
    // No body at all is the schema's business: here a 400 for the missing name, whether the
    // request says length 0 or sends an empty chunked body with no type.
    const empty = await request(server)
      .post('/api/widgets')
      .set('authorization', bearer(customer))
      .set('content-length', '0');
    expect(empty.status).toBe(400);
    expect(empty.body.error.code).toBe('VALIDATION_ERROR');
    const listening = http.createServer(server as http.RequestListener);
    await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
    const { port } = listening.address() as AddressInfo;
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        {
          port,
          host: '127.0.0.1',
          method: 'POST',
          path: '/api/widgets',
          headers: { authorization: bearer(customer), 'transfer-encoding': 'chunked' },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        },
      );
      req.on('error', reject);
      req.end();
    }).finally(() => listening.close());
    expect(chunked.status).toBe(400);
    expect(JSON.parse(chunked.body).error.code).toBe('VALIDATION_ERROR');
  });

  it('refuses to answer a DELETE with anything but 204, and a 201 without Location (a bug, not a reply)', async () => {
    const broken = app({
      deleteWidget: async () => reply.ok({ deleted: true }),
      createWidget: async () => ({ status: 201, body: {}, headers: {} }) as never,
    });
    const del = await request(broken).delete('/api/widgets/w1').set('authorization', bearer(admin));
    expect(del.status).toBe(500);
    expect(del.body.error.code).toBe('INTERNAL_ERROR');
  });

  it('answers a path it serves, asked with another method, 405 with Allow; a path it does not serve 404', async () => {
    const cases: Array<[string, string, string[]]> = [
      ['put', '/api/widgets', ['GET', 'HEAD', 'POST']],
      ['patch', '/api/widgets/w1', ['DELETE', 'GET', 'HEAD']],
      // Express's matching: any letter case, a trailing slash.
      ['post', '/API/Widgets/w1/', ['DELETE', 'GET', 'HEAD']],
      ['delete', '/internal/widget-stats', ['GET', 'HEAD']],
    ];
    for (const [method, path, allowed] of cases) {
      const res = await request(server)[method as 'put'](path).set('authorization', bearer(admin));
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe(allowed.join(', '));
      expect(res.body.error).toMatchObject({
        code: 'METHOD_NOT_ALLOWED',
        details: { allowed },
      });
      expect(typeof res.body.error.requestId).toBe('string');
    }
    expect(widgets.size).toBe(1);
    for (const path of ['/api/widgets/w1/parts', '/api/gadgets', '/api/widgets//']) {
      const res = await request(server).put(path);
      expect(res.status).toBe(404);
      expect(res.headers.allow).toBeUndefined();
      expect(res.body.error.code).toBe('NOT_FOUND');
    }
  });

  it('maps an unreachable store to 503 DEPENDENCY_UNAVAILABLE', async () => {
    const down = app({
      countWidgets: async () => {
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
          code: 'ECONNREFUSED',
        });
      },
      listWidgets: async () => {
        throw Object.assign(new Error('Server selection timed out'), {
          name: 'MongoServerSelectionError',
        });
      },
    });
    for (const path of ['/api/widgets/count', '/api/widgets']) {
      const res = await request(down).get(path);
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('DEPENDENCY_UNAVAILABLE');
      expect(JSON.stringify(res.body)).not.toContain('5432');
    }
  });
});

describe('conventions', () => {
  it('visibleText asks for a character that shows, in any script', () => {
    const name = visibleText(Joi.string().max(100));
    for (const blank of [
      ' \t\n',
      '\u200b\u200c\u200d\u2060\ufeff',
      '\u200f\u200e\u00ad',
      '\u064b\u064c\u0651', // Arabic harakat alone
      '\u05b0\u0e31\u0e34\u0901\u094d\u3099', // Hebrew, Thai, Devanagari, kana marks alone
      '\u{e0041}\u{e0020}\u{e0100}', // tag characters, a variation selector beyond the BMP
      '\u3164\u2800\u115f',
    ]) {
      const { error } = name.validate(blank);
      expect([blank, error?.details[0]?.type]).toEqual([blank, 'string.visible']);
    }
    for (const shown of [
      "O'Brien",
      'สวัสดี',
      'مرحبا',
      'नमस्ते',
      '\u2764\ufe0f',
      '\u{1f1eb}\u{1f1f7}',
      'e\u0301',
    ]) {
      expect([shown, name.validate(shown).error]).toEqual([shown, undefined]);
    }
  });

  it('refuses control characters and bidirectional overrides in what a customer reads', () => {
    const review = visibleText(Joi.string().max(100));
    const line = visibleLine(100);
    // Each hides or reorders what the reader sees (CVE-2021-42574's overrides and isolates).
    for (const hidden of [
      '\u202a',
      '\u202b',
      '\u202c',
      '\u202d',
      '\u202e',
      '\u2066',
      '\u2069',
      '\u0000',
      '\u001b',
      '\u007f',
      '\u0085',
    ]) {
      const text = `Genuine ${hidden}name`;
      expect([hidden, review.validate(text).error?.details[0]?.type]).toEqual([
        hidden,
        'string.plain',
      ]);
      expect([hidden, line.validate(text).error?.details[0]?.type]).toEqual([
        hidden,
        'string.plain',
      ]);
    }
    // A text keeps its lines and tabs; a line does not.
    expect(review.validate('first line\n\tsecond line\r\n').error).toBeUndefined();
    expect(line.validate('first\nsecond').error?.details[0]?.type).toBe('string.plain');
    expect(line.validate('a\tb').error?.details[0]?.type).toBe('string.plain');
    // What scripts and emoji need stays: the joiners and the direction marks.
    for (const shown of [
      '\u{1f468}\u200d\u{1f469}',
      'می\u200cخواهم',
      'שלום abc \u200f',
      'abc \u200e',
    ]) {
      expect([shown, line.validate(shown).error]).toEqual([shown, undefined]);
    }
    const description = plainText(Joi.string().allow(''), { multiline: true });
    expect(description.validate('').error).toBeUndefined();
    expect(description.validate('x\u202ey').error?.details[0]?.type).toBe('string.plain');
  });

  it('reads decimal money from its text, never through floats', () => {
    expect(minorUnitsFromDecimal(1299.99)).toBe(129999);
    expect(minorUnitsFromDecimal(0.29)).toBe(29);
    expect(minorUnitsFromDecimal('10.5')).toBe(1050);
    expect(minorUnitsFromDecimal(7)).toBe(700);
    expect(minorUnitsFromDecimal(0.125)).toBeUndefined();
    expect(minorUnitsFromDecimal(-1)).toBeUndefined();
  });

  it('has one address shape, with upper-cased ISO country codes', () => {
    const { value, error } = shippingAddressSchema.validate({
      name: 'Ada',
      line1: '1 Main St',
      city: 'Springfield',
      country: 'us',
    });
    expect(error).toBeUndefined();
    expect(value.country).toBe('US');
    expect(
      shippingAddressSchema.validate({ name: 'Ada', line1: 'x', city: 'y', country: 'USA' }).error,
    ).toBeDefined();
    expect(
      shippingAddressSchema.validate({
        name: 'Ada',
        line1: 'x',
        city: 'y',
        country: 'US',
        state: 'z',
      }).error,
    ).toBeDefined();
  });

  it('counts pages up', () => {
    expect(page([], { page: 1, limit: 20 }, 41)).toEqual({
      items: [],
      page: 1,
      limit: 20,
      total: 41,
      totalPages: 3,
    });
  });
});

describe('OpenAPI from the spec', () => {
  const fragment = openApiFragment(api);

  it('converts paths, leaves internal operations out, and marks access and rate limits', () => {
    expect(openApiPath('/api/a/:id/b/:bId')).toBe('/api/a/{id}/b/{bId}');
    expect(Object.keys(fragment.paths).sort()).toEqual([
      '/api/widgets',
      '/api/widgets/count',
      '/api/widgets/{id}',
    ]);
    const list = fragment.paths['/api/widgets']!.get as Record<string, unknown>;
    expect(list.security).toEqual([]);
    expect(list.operationId).toBe('widget.listWidgets');
    const one = fragment.paths['/api/widgets/{id}']!.get as Record<string, unknown>;
    expect(one.security).toEqual([{}, { bearerAuth: [] }]);
    const del = fragment.paths['/api/widgets/{id}']!.delete as Record<string, unknown>;
    expect(del['x-roles']).toEqual(['admin']);
    const create = fragment.paths['/api/widgets']!.post as Record<string, Record<string, unknown>>;
    expect(create['x-rate-limit']).toBe('payment');
    expect(create.responses!['201']).toMatchObject({ headers: { Location: expect.any(Object) } });
    expect(create.responses!['422']).toMatchObject({ description: 'NAME_TAKEN' });
  });

  it('generates schemas from the joi the routes validate with (lists in the envelope)', () => {
    const list = fragment.paths['/api/widgets']!.get as {
      parameters: { name: string; schema: Record<string, unknown> }[];
      responses: Record<
        string,
        { content: { 'application/json': { schema: Record<string, unknown> } } }
      >;
    };
    expect(list.parameters.map((p) => p.name)).toEqual(['page', 'limit', 'q']);
    expect(list.parameters[1]!.schema).toMatchObject({
      type: 'integer',
      minimum: 1,
      maximum: 100,
      default: 20,
    });
    const schema = list.responses['200']!.content['application/json'].schema as {
      properties: Record<string, unknown>;
      required: string[];
    };
    expect(schema.required).toEqual(['items', 'page', 'limit', 'total', 'totalPages']);
    const create = fragment.paths['/api/widgets']!.post as {
      requestBody: { content: { 'application/json': { schema: Record<string, unknown> } } };
      parameters: { name: string; in: string }[];
    };
    expect(create.requestBody.content['application/json'].schema).toMatchObject({
      type: 'object',
      required: ['name'],
      additionalProperties: false,
    });
    expect(create.parameters).toEqual([
      expect.objectContaining({ name: 'Idempotency-Key', in: 'header' }),
    ]);
  });

  it('describes a log read by cursor: its envelope, and `after` and `limit` but not the refused `page`', () => {
    const logApi = defineApi({
      service: 'widget',
      tag: { name: 'Widgets', description: 'widgets' },
      prefixes: ['/api/widgets'],
      operations: {
        widgetLog: {
          method: 'get',
          path: '/api/widgets/log',
          summary: 'The log',
          access: 'public',
          query: Joi.object(cursorQueryKeys),
          response: { status: 200, description: 'Entries', schema: widget, list: 'cursor' },
        },
      },
    });
    const op = openApiFragment(logApi).paths['/api/widgets/log']!.get as {
      parameters: { name: string; schema: Record<string, unknown> }[];
      responses: Record<
        string,
        { content: { 'application/json': { schema: { required: string[] } } } }
      >;
    };
    expect(op.parameters.map((p) => p.name)).toEqual(['after', 'limit']);
    expect(op.parameters[0]!.schema).toMatchObject({ type: 'integer', minimum: 0, default: 0 });
    expect(op.responses['200']!.content['application/json'].schema.required).toEqual([
      'items',
      'limit',
      'next',
      'hasMore',
    ]);
  });

  it('assembles a document with the shared components', () => {
    const doc = openApiDocument({
      title: 't',
      version: '1',
      description: 'd',
      fragments: [fragment],
    }) as {
      paths: Record<string, unknown>;
      components: { responses: Record<string, unknown>; schemas: Record<string, unknown> };
    };
    expect(Object.keys(doc.paths)).toHaveLength(3);
    expect(Object.keys(doc.components.responses)).toEqual(
      expect.arrayContaining([
        'BadRequest',
        'Unauthorized',
        'Forbidden',
        'NotFound',
        'Unavailable',
      ]),
    );
    expect(doc.components.schemas.Error).toBeDefined();
  });
});
