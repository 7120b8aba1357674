import Joi from 'joi';
import { idTokenSchema, uuidSchema } from '@ecom/common/ids';
import { anchorPromiseSchema, anchoringOperations } from '@ecom/common/anchoring/api';
import { defineApi, moneySchema, pageQueryKeys, shippingAddressSchema } from '@ecom/common/http';
import { FULFILMENT_STATUSES } from '../domain/fulfilment';
import { ORDER_STATUSES } from '../domain/state-machine';
import { cartOperations } from './cart-api';
import { nullable, orderPayment, productIdSchema, text, timestamp } from './schemas';

/**
 * The order service's HTTP API: routes, access, input schemas and answers. The routes bind
 * their handlers to it, the gateway routes by it, /docs and Postman are generated from it.
 */

const productId = productIdSchema;
const orderId = Joi.object({ id: uuidSchema.required() });
const status = Joi.string().valid(...ORDER_STATUSES);

export const createOrderBody = Joi.object({
  items: Joi.array()
    .items(
      Joi.object({
        productId: productId.required(),
        quantity: Joi.number().integer().min(1).max(1000).required(),
      }),
    )
    .min(1)
    .max(50)
    .unique('productId')
    .required(),
  payment: orderPayment,
  shippingAddress: shippingAddressSchema.description(
    "Optional: left out, the customer's profile address and name are used",
  ),
});

const item = Joi.object({
  lineNo: Joi.number().integer().min(1),
  productId: Joi.string(),
  name: Joi.string(),
  sellerId: nullable(Joi.string()),
  quantity: Joi.number().integer(),
  unitPrice: moneySchema,
  lineTotal: moneySchema,
  fulfilmentStatus: Joi.string()
    .valid(...FULFILMENT_STATUSES)
    .description("The line's own fulfilment: its seller (or an admin) ships and delivers it"),
  shippedAt: nullable(timestamp),
  deliveredAt: nullable(timestamp),
});

export const orderSchema = Joi.object({
  id: Joi.string().guid(),
  userId: Joi.string(),
  status,
  items: Joi.array().items(item),
  total: moneySchema,
  refunded: moneySchema,
  paymentMethod: nullable(Joi.string()),
  paymentId: nullable(Joi.string()),
  shippingAddress: shippingAddressSchema,
  failureReason: nullable(Joi.string()),
  correlationId: Joi.string(),
  reservationExpiresAt: nullable(timestamp),
  createdAt: timestamp,
  updatedAt: timestamp,
}).label('Order');

/** A write's answer: the order and the promise, signed now, that this change will be anchored. */
const writtenOrderSchema = orderSchema
  .keys({
    anchorPromise: nullable(anchorPromiseSchema).description(
      "Signed with the order service's anchoring key at write time (null when anchoring is off): keep it to prove later what was promised (docs/verification.md §4)",
    ),
  })
  .label('WrittenOrder');

const sellerOrderSchema = Joi.object({
  id: Joi.string().guid(),
  status,
  items: Joi.array().items(item),
  sellerTotal: moneySchema,
  shippingAddress: shippingAddressSchema,
  createdAt: timestamp,
  updatedAt: timestamp,
}).label('SellerOrder');

/** A seller's write answer: their view of the order (their lines only) and the promise. */
const writtenSellerOrderSchema = sellerOrderSchema
  .keys({ anchorPromise: nullable(anchorPromiseSchema) })
  .label('WrittenSellerOrder');

const historySchema = Joi.object({
  orderId: Joi.string().guid(),
  history: Joi.array().items(
    Joi.object({
      from: nullable(status),
      to: status,
      at: timestamp,
      reason: nullable(Joi.string()),
      cause: Joi.object()
        .unknown(true)
        .description(
          "{ type: 'request', requestId, userId } | { type: 'event', eventId, eventType } | { type: 'system', name }; userId only to an admin or to the account that acted",
        ),
    }),
  ),
});

export const orderApi = defineApi({
  service: 'order',
  tag: { name: 'Orders', description: 'Orders and their saga (order service)' },
  prefixes: ['/api/orders', '/api/carts', '/api/blockchain/order'],
  operations: {
    createOrder: {
      method: 'post',
      path: '/api/orders',
      summary: 'Place an order (payment optional: without it the order waits in AWAITING_PAYMENT)',
      access: 'user',
      body: createOrderBody,
      idempotent: true,
      response: {
        status: 201,
        description: 'The order, PENDING (a replay: header Idempotent-Replayed)',
        schema: writtenOrderSchema,
      },
      errors: {
        422: 'UNKNOWN_PRODUCT, PRODUCT_UNAVAILABLE, MIXED_CURRENCY, IDEMPOTENCY_KEY_REUSED, SHIPPING_ADDRESS_REQUIRED (no address in the body nor the profile), UNPAID_HOLD_LIMIT (without payment details: the account holds too much unpaid already)',
        409: 'A request with this Idempotency-Key is still in progress',
      },
    },
    listOrders: {
      method: 'get',
      path: '/api/orders',
      summary:
        "Own orders, newest first (admin: all, or ?userId=); ?seller=me: a seller's orders with only their lines",
      access: 'user',
      query: Joi.object({
        ...pageQueryKeys,
        status,
        userId: idTokenSchema(128).description('admin only'),
        seller: idTokenSchema(128).description(
          "'me' (sellers: orders holding their lines) or a seller id (admin)",
        ),
      }).oxor('userId', 'seller'),
      response: {
        status: 200,
        description: 'A page of orders (with ?seller: SellerOrder items)',
        schema: Joi.alternatives(orderSchema, sellerOrderSchema),
        list: true,
      },
    },
    getOrder: {
      method: 'get',
      path: '/api/orders/:id',
      summary:
        'One order (owner or admin); a seller of one of its lines sees their part of it (SellerOrder)',
      access: 'user',
      params: orderId,
      response: {
        status: 200,
        description: 'The order (a seller of one of its lines: SellerOrder, their lines only)',
        schema: Joi.alternatives(orderSchema, sellerOrderSchema),
      },
    },
    getOrderHistory: {
      method: 'get',
      path: '/api/orders/:id/history',
      summary: 'Every status change of an order, with its cause',
      access: 'user',
      params: orderId,
      response: { status: 200, description: 'The history', schema: historySchema },
    },
    cancelOrder: {
      method: 'put',
      path: '/api/orders/:id/cancel',
      summary: 'Cancel before shipping (owner or admin): stock released, payment refunded',
      access: 'user',
      params: orderId,
      body: Joi.object({ reason: text(500) }),
      response: { status: 200, description: 'The cancelled order', schema: writtenOrderSchema },
      errors: { 409: 'Already shipped or closed' },
    },
    setOrderStatus: {
      method: 'put',
      path: '/api/orders/:id/status',
      summary:
        "Ship or deliver: an admin the whole order, a seller their own lines only; the order's status follows its lines",
      description:
        'Fulfilment per seller (docs/adr/0013). A seller moves the lines of their own products and is answered with their view of the order; the order becomes PARTIALLY_SHIPPED while some but not all lines are shipped, SHIPPED when every line is, DELIVERED (order.completed) when every line is delivered. An admin moves every line: SHIPPED from CONFIRMED or PARTIALLY_SHIPPED, DELIVERED from SHIPPED. A seller with no line in the order gets 404. An order refunded in full before every line shipped is CANCELLED and moves no line (409, docs/adr/0054).',
      access: ['seller', 'admin'],
      params: orderId,
      body: Joi.object({ status: Joi.string().valid('SHIPPED', 'DELIVERED').required() }),
      response: {
        status: 200,
        description: "The order (a seller: WrittenSellerOrder, the seller's lines only)",
        schema: Joi.alternatives(writtenOrderSchema, writtenSellerOrderSchema),
      },
      errors: {
        409: "Illegal transition (details: status, requested, allowedFrom: the order's statuses it may be in), or the caller's lines cannot take the step (details: status, requested, fulfilmentStatus, fulfilmentAllowedFrom)",
      },
    },
    ...anchoringOperations({ recordType: 'order', servesVerify: false }),
    ...cartOperations(writtenOrderSchema),
  },
});
