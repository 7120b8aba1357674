import { Router, type Request, type Response } from 'express';
import Joi from 'joi';
import {
  UnauthorizedError,
  ValidationError,
  authenticate,
  requireRole,
  validate,
  type AuthUser,
  type JwtVerifyOptions,
} from '@ecom/common';
import type { HttpResult, Payments } from '../payments';

const initiateBody = Joi.object({
  orderId: Joi.string().max(128).required(),
  payment: Joi.object({
    method: Joi.string().valid('card').required(),
    token: Joi.string().trim().min(1).max(200).required(),
  }).required(),
});

const refundBody = Joi.object({
  amount: Joi.number().integer().min(1).max(Number.MAX_SAFE_INTEGER),
  reason: Joi.string().trim().min(1).max(500),
});

const paymentIdParams = Joi.object({ id: Joi.string().guid().required() });
const orderIdParams = Joi.object({ orderId: Joi.string().max(128).required() });

const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,255}$/;

function idempotencyKey(req: Request): string | undefined {
  const key = req.get('idempotency-key');
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new ValidationError('Invalid Idempotency-Key header', [
      {
        location: 'headers',
        field: 'idempotency-key',
        message: '1-255 characters from A-Z a-z 0-9 . _ : -',
      },
    ]);
  }
  return key;
}

function userOf(req: Request): AuthUser {
  if (!req.user) throw new UnauthorizedError();
  return req.user;
}

/** Sends a stored or fresh result; error bodies get this request's id like any other error. */
function send(req: Request, res: Response, result: HttpResult): void {
  if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
  const body = result.body as { error?: Record<string, unknown> };
  if (result.status >= 400 && body?.error) {
    res.status(result.status).json({ error: { ...body.error, requestId: req.requestId } });
    return;
  }
  res.status(result.status).json(result.body);
}

export function paymentRoutes(payments: Payments, jwt: JwtVerifyOptions): Router {
  const router = Router();
  router.use(authenticate(jwt));

  router.post('/initiate', validate({ body: initiateBody }), async (req, res) => {
    const key = idempotencyKey(req);
    send(req, res, await payments.initiate(userOf(req), req.body, key));
  });

  router.get('/order/:orderId', validate({ params: orderIdParams }), async (req, res) => {
    res.json(await payments.getVisible(userOf(req), { orderId: String(req.params.orderId) }));
  });

  router.get('/:id', validate({ params: paymentIdParams }), async (req, res) => {
    res.json(await payments.getVisible(userOf(req), { id: String(req.params.id) }));
  });

  router.post(
    '/:id/refund',
    requireRole('admin'),
    validate({ params: paymentIdParams, body: refundBody }),
    async (req, res) => {
      const key = idempotencyKey(req);
      send(req, res, await payments.refund(userOf(req), String(req.params.id), req.body, key));
    },
  );

  return router;
}
