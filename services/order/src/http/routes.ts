import type { Router } from 'express';
import { anchoringHandlers } from '@ecom/common/anchoring/api';
import type { Anchoring } from '@ecom/common/anchoring';
import { bearerToken, requireUser, type JwtVerifyOptions } from '@ecom/common/auth';
import { bindRoutes, idempotencyKeyHeader, reply } from '@ecom/common/http';
import type { Carts } from '../application/carts';
import type { CreateOrderInput, OrderListQuery, Orders } from '../application/orders';
import type { OrderStatus } from '../domain/state-machine';
import { orderApi } from './api';
import { cartHandlers } from './cart-routes';

const location = (id: string) => `/api/orders/${id}`;

/** The handlers of orderApi: input is already validated and the caller authenticated. */
export function orderRoutes(deps: {
  orders: Orders;
  carts: Carts;
  anchoring: Anchoring | null;
  jwt: JwtVerifyOptions;
}): Router {
  const { orders } = deps;
  return bindRoutes(
    orderApi,
    {
      async createOrder(req) {
        const result = await orders.create(
          requireUser(req),
          req.body as CreateOrderInput,
          idempotencyKeyHeader(req),
          bearerToken(req.get('authorization')),
        );
        const id = (result.body as { id: string }).id;
        return result.replayed
          ? reply.replayed(result.status, result.body, location(id))
          : reply.created(result.body, location(id));
      },
      async listOrders(req) {
        return reply.list(
          await orders.list(requireUser(req), req.query as unknown as OrderListQuery),
        );
      },
      getOrder: (req) => orders.getForCaller(requireUser(req), String(req.params.id)),
      getOrderHistory: (req) => orders.history(requireUser(req), String(req.params.id)),
      cancelOrder: (req) =>
        orders.cancel(
          requireUser(req),
          String(req.params.id),
          (req.body as { reason?: string }).reason,
        ),
      setOrderStatus: (req) =>
        orders.setStatus(
          requireUser(req),
          String(req.params.id),
          (req.body as { status: OrderStatus }).status,
        ),
      ...cartHandlers(deps.carts),
      ...anchoringHandlers({
        anchoring: deps.anchoring,
        service: 'order',
        recordType: 'order',
        assertVisible: (user, orderId) => orders.getVisible(user, orderId),
        ownersOf: (ids) => orders.ownersOf(ids),
      }),
    },
    { jwt: deps.jwt },
  );
}
