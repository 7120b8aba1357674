import { Router, type Request, type Response } from 'express';
import Joi from 'joi';
import {
  authenticate,
  idempotencyKeyHeader,
  requireUser,
  requireRole,
  validate,
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
    const key = idempotencyKeyHeader(req);
    send(req, res, await payments.initiate(requireUser(req), req.body, key));
  });

  router.get('/order/:orderId', validate({ params: orderIdParams }), async (req, res) => {
    res.json(await payments.getVisible(requireUser(req), { orderId: String(req.params.orderId) }));
  });

  router.get('/:id', validate({ params: paymentIdParams }), async (req, res) => {
    res.json(await payments.getVisible(requireUser(req), { id: String(req.params.id) }));
  });

  router.post(
    '/:id/refund',
    requireRole('admin'),
    validate({ params: paymentIdParams, body: refundBody }),
    async (req, res) => {
      const key = idempotencyKeyHeader(req);
      send(req, res, await payments.refund(requireUser(req), String(req.params.id), req.body, key));
    },
  );

  return router;
}
