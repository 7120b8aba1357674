import { Router } from 'express';
import Joi from 'joi';
import {
  authenticate,
  bearerToken,
  idempotencyKeyHeader,
  requireUser,
  requireRole,
  validate,
  type JwtVerifyOptions,
} from '@ecom/common';
import { ORDER_STATUSES, type OrderStatus } from '../domain/state-machine';
import type { CreateOrderInput, Orders } from '../orders';

const text = (max: number) => Joi.string().trim().min(1).max(max);

const createOrderBody = Joi.object<CreateOrderInput>({
  items: Joi.array()
    .items(
      Joi.object({
        productId: text(128)
          .pattern(/^[A-Za-z0-9_-]+$/)
          .required(),
        quantity: Joi.number().integer().min(1).max(1000).required(),
      }),
    )
    .min(1)
    .max(50)
    .unique('productId')
    .required(),
  payment: Joi.object({
    method: Joi.string().valid('card').required(),
    token: text(200).required(),
  }),
  shippingAddress: Joi.object({
    name: text(200).required(),
    line1: text(200).required(),
    line2: text(200),
    city: text(100).required(),
    state: text(100),
    postalCode: text(20),
    country: Joi.string()
      .trim()
      .uppercase()
      .pattern(/^[A-Z]{2}$/)
      .required(),
  }),
});

const orderIdParams = Joi.object({ id: Joi.string().guid().required() });

const listQuery = Joi.object({
  page: Joi.number().integer().min(1).max(100000).default(1),
  limit: Joi.number().integer().min(1).max(100).default(20),
  status: Joi.string().valid(...ORDER_STATUSES),
  userId: Joi.string().max(128),
  // 'me' (a seller's own lines) or a seller's id (admins).
  seller: Joi.string()
    .max(128)
    .pattern(/^[A-Za-z0-9_-]+$/),
}).oxor('userId', 'seller');

const cancelBody = Joi.object({ reason: text(500) });
const statusBody = Joi.object({ status: Joi.string().valid('SHIPPED', 'DELIVERED').required() });

export function orderRoutes(orders: Orders, jwt: JwtVerifyOptions): Router {
  const router = Router();
  router.use(authenticate(jwt));

  router.post('/', validate({ body: createOrderBody }), async (req, res) => {
    const key = idempotencyKeyHeader(req);
    const result = await orders.create(
      requireUser(req),
      req.body as CreateOrderInput,
      key,
      bearerToken(req.get('authorization')),
    );
    if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
    res.status(result.status).json(result.body);
  });

  router.get('/', validate({ query: listQuery }), async (req, res) => {
    const q = req.query as unknown as {
      page: number;
      limit: number;
      status?: OrderStatus;
      userId?: string;
      seller?: string;
    };
    res.json(await orders.list(requireUser(req), q));
  });

  router.get('/:id', validate({ params: orderIdParams }), async (req, res) => {
    res.json(await orders.getVisible(requireUser(req), String(req.params.id)));
  });

  router.get('/:id/history', validate({ params: orderIdParams }), async (req, res) => {
    res.json(await orders.history(requireUser(req), String(req.params.id)));
  });

  router.put(
    '/:id/cancel',
    validate({ params: orderIdParams, body: cancelBody }),
    async (req, res) => {
      const body = req.body as { reason?: string };
      res.json(await orders.cancel(requireUser(req), String(req.params.id), body.reason));
    },
  );

  router.put(
    '/:id/status',
    requireRole('seller', 'admin'),
    validate({ params: orderIdParams, body: statusBody }),
    async (req, res) => {
      const body = req.body as { status: OrderStatus };
      res.json(await orders.setStatus(requireUser(req), String(req.params.id), body.status));
    },
  );

  return router;
}
