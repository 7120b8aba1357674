import Joi from 'joi';
import request from 'supertest';
import {
  BusinessRuleError,
  ConflictError,
  DependencyUnavailableError,
  RateLimitedError,
} from '../src/errors';
import { createServiceApp, validate } from '../src/http';
import { createLogger, getContext } from '../src/logging';

const logger = createLogger('test', 'silent');

function buildApp(checks = {}) {
  const service = createServiceApp({ service: 'test', logger, checks, bodyLimit: '1kb' });
  const { app } = service;
  app.post(
    '/items',
    validate({
      body: Joi.object({
        name: Joi.string().max(20).required(),
        qty: Joi.number().integer().min(1),
      }),
    }),
    (req, res) => res.status(201).json({ body: req.body }),
  );
  app.get(
    '/search',
    validate({ query: Joi.object({ limit: Joi.number().integer().min(1).max(100).default(20) }) }),
    (req, res) => res.json({ query: req.query }),
  );
  app.get(
    '/items/:id',
    validate({ params: Joi.object({ id: Joi.string().hex().length(24) }) }),
    (req, res) => res.json({ id: req.params.id }),
  );
  app.get('/context', (req, res) => res.json({ ctx: getContext(), requestId: req.requestId }));
  app.get('/conflict', () => {
    throw new ConflictError('already there');
  });
  app.get('/rule', async () => {
    throw new BusinessRuleError('refund too large', { max: 10 });
  });
  app.get('/limited', () => {
    throw new RateLimitedError(7);
  });
  app.get('/down', () => {
    throw new DependencyUnavailableError('product');
  });
  app.get('/boom', () => {
    throw new Error('secret database password in stack');
  });
  return service.finish();
}

describe('service app: error model', () => {
  const app = buildApp();

  it('answers malformed JSON with 400 in the common shape', async () => {
    const res = await request(app)
      .post('/items')
      .set('content-type', 'application/json')
      .send('{"name":');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('MALFORMED_JSON');
    expect(res.body.error.requestId).toBe(res.headers['x-request-id']);
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.js/);
  });

  it('answers a too-large body with 413', async () => {
    const res = await request(app)
      .post('/items')
      .send({ name: 'x'.repeat(5000) });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('maps typed errors to their status and code', async () => {
    expect((await request(app).get('/conflict')).status).toBe(409);
    const rule = await request(app).get('/rule');
    expect(rule.status).toBe(422);
    expect(rule.body.error).toMatchObject({
      code: 'BUSINESS_RULE_VIOLATION',
      details: { max: 10 },
    });
    const limited = await request(app).get('/limited');
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('7');
    const down = await request(app).get('/down');
    expect(down.status).toBe(503);
    expect(down.body.error.details).toEqual({ dependency: 'product' });
  });

  it('hides unexpected errors behind a 500 without details', async () => {
    const res = await request(app).get('/boom');
    expect(res.status).toBe(500);
    expect(res.body.error).toEqual({
      code: 'INTERNAL_ERROR',
      message: 'Internal server error',
      requestId: expect.any(String),
    });
  });

  it('answers unknown routes with 404 in the common shape', async () => {
    const res = await request(app).get('/nope');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });
});

describe('service app: validation', () => {
  const app = buildApp();

  it('passes valid bodies through', async () => {
    const res = await request(app).post('/items').send({ name: 'pen', qty: 2 });
    expect(res.status).toBe(201);
    expect(res.body.body).toEqual({ name: 'pen', qty: 2 });
  });

  it('refuses unknown fields, wrong types and operator objects with every problem listed', async () => {
    const res = await request(app)
      .post('/items')
      .send({ name: { $gt: '' }, qty: 'many', admin: true });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
    const fields = res.body.error.details.map((d: { field: string }) => d.field).sort();
    expect(fields).toEqual(['admin', 'name', 'qty']);
  });

  it('converts and defaults query values, and refuses bracket operators in query strings', async () => {
    expect((await request(app).get('/search?limit=5')).body.query).toEqual({ limit: 5 });
    expect((await request(app).get('/search')).body.query).toEqual({ limit: 20 });
    expect((await request(app).get('/search?limit=500')).status).toBe(400);
    const injected = await request(app).get('/search?limit[$gt]=1');
    expect(injected.status).toBe(400);
  });

  it('validates params', async () => {
    expect((await request(app).get('/items/not-an-id')).status).toBe(400);
    expect((await request(app).get('/items/507f1f77bcf86cd799439011')).status).toBe(200);
  });
});

describe('service app: request context', () => {
  const app = buildApp();

  it('accepts well-formed correlation ids and exposes them in the async context', async () => {
    const res = await request(app).get('/context').set('x-correlation-id', 'corr-12345678');
    expect(res.headers['x-correlation-id']).toBe('corr-12345678');
    expect(res.body.ctx.correlationId).toBe('corr-12345678');
    expect(res.body.ctx.requestId).toBe(res.body.requestId);
  });

  it('replaces ids that could inject into logs', async () => {
    const res = await request(app)
      .get('/context')
      .set('x-correlation-id', 'bad id {"level":"error"}');
    expect(res.headers['x-correlation-id']).toMatch(/^[0-9a-f-]{36}$/); // a fresh id, not the injected one
    expect(res.headers['x-correlation-id']).toBe(res.headers['x-request-id']);
  });
});

describe('service app: health and metrics', () => {
  it('reports ready only when every dependency answers', async () => {
    let dbUp = true;
    const app = buildApp({
      db: async () => {
        if (!dbUp) throw new Error('connection refused');
      },
    });
    const ok = await request(app).get('/health/ready');
    expect(ok.status).toBe(200);
    expect(ok.body.checks.db.status).toBe('up');
    dbUp = false;
    const down = await request(app).get('/health');
    expect(down.status).toBe(503);
    expect(down.body.checks.db).toMatchObject({ status: 'down', error: 'connection refused' });
    expect((await request(app).get('/health/live')).status).toBe(200);
  });

  it('a dependency it works without only degrades readiness (200), a required one makes it 503', async () => {
    let busUp = false;
    let dbUp = true;
    const { app } = createServiceApp({
      service: 'test',
      logger,
      checks: {
        db: async () => {
          if (!dbUp) throw new Error('connection refused');
        },
      },
      degradedBy: {
        bus: async () => {
          if (!busUp) throw new Error('broker unreachable');
        },
      },
    });
    const degraded = await request(app).get('/health/ready');
    expect(degraded.status).toBe(200);
    expect(degraded.body.status).toBe('degraded');
    expect(degraded.body.checks).toMatchObject({
      db: { status: 'up' },
      bus: { status: 'down', error: 'broker unreachable' },
    });
    dbUp = false;
    const down = await request(app).get('/health/ready');
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('unavailable');
    dbUp = true;
    busUp = true;
    const ok = await request(app).get('/health/ready');
    expect(ok.status).toBe(200);
    expect(ok.body.status).toBe('ok');
  });

  it('counts requests per route pattern, not per raw path', async () => {
    const app = buildApp();
    await request(app).get('/items/507f1f77bcf86cd799439011');
    await request(app).get('/items/507f1f77bcf86cd799439012');
    const res = await request(app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toMatch(
      /http_requests_total\{method="GET",route="\/items\/:id",status="200",service="test"\} 2/,
    );
    expect(res.text).toContain('http_request_duration_seconds_bucket');
    expect(res.text).not.toContain('507f1f77bcf86cd799439011');
  });
});
