import Joi from 'joi';
import { idTokenSchema, uuidSchema } from '@ecom/common/ids';
import { anchorPromiseSchema, anchoringOperations } from '@ecom/common/anchoring/api';
import {
  defineApi,
  moneySchema,
  pageQueryKeys,
  visibleLine,
  type ResponseSpec,
} from '@ecom/common/http';
import { PAYMENT_STATUSES } from '../domain/payment-rules';

/**
 * The payment service's HTTP API: routes, access, input schemas and answers. The routes bind
 * their handlers to it, the gateway routes by it, /docs and Postman are generated from it.
 */

const paymentId = Joi.object({ id: uuidSchema.required() });
const nullable = (schema: Joi.Schema) => schema.allow(null);
const timestamp = Joi.string().isoDate();
const settlement = Joi.string().valid('PENDING', 'SUCCEEDED', 'FAILED');
const failure = nullable(Joi.object({ code: Joi.string(), reason: nullable(Joi.string()) }));

export const initiateBody = Joi.object({
  // Order ids are UUIDs: anything else is refused at once, not waited for (ADR 0045).
  orderId: uuidSchema.required(),
  payment: Joi.object({
    method: Joi.string().valid('card').required(),
    token: Joi.string().trim().min(1).max(200).required(),
  }).required(),
});

/**
 * A provider event, documented with the fields payment reads. Documentation only: the route
 * binds without it (routes.ts), so any body reaches the handler, which checks the signature
 * first and only then the event's shape (WEBHOOK_MALFORMED, application/webhooks.ts).
 */
export const webhookEventSchema = Joi.object({
  id: Joi.string().description('evt_...: handled once'),
  type: Joi.string().description(
    'payment_intent.succeeded | payment_intent.payment_failed | payment_intent.processing | payment_intent.requires_action | payment_intent.canceled (others are acknowledged and ignored)',
  ),
  created: Joi.number().integer(),
  data: Joi.object({
    object: Joi.object().unknown(true).description('The payment intent'),
  }).unknown(true),
})
  .unknown(true)
  .label('ProviderEvent');

export const refundBody = Joi.object({
  amount: Joi.number()
    .integer()
    .min(1)
    .max(Number.MAX_SAFE_INTEGER)
    .description('integer minor units; left out: what is left'),
  reason: visibleLine(500),
});

export const refundSchema = Joi.object({
  id: Joi.string().guid(),
  amount: moneySchema,
  status: settlement,
  reason: nullable(Joi.string()),
  cause: Joi.string().valid('order.cancelled', 'order.failed', 'admin'),
  createdAt: timestamp,
  completedAt: nullable(timestamp),
}).label('Refund');

export const paymentSchema = Joi.object({
  id: Joi.string().guid(),
  orderId: Joi.string(),
  userId: nullable(Joi.string()),
  status: Joi.string().valid(...PAYMENT_STATUSES),
  amount: moneySchema,
  refunded: moneySchema,
  method: nullable(Joi.string()),
  chargeId: nullable(Joi.string()),
  failure,
  nextAction: nullable(
    Joi.object({ type: Joi.string().valid('redirect_to_url'), url: Joi.string().uri() }),
  ).description(
    'Provider mode: the step the customer must take (3-D Secure) before the charge in flight can go on',
  ),
  attempts: Joi.array().items(
    Joi.object({
      attempt: Joi.number().integer().min(1),
      source: Joi.string().valid('order', 'initiate'),
      status: settlement,
      failure,
      createdAt: timestamp,
      completedAt: nullable(timestamp),
      providerStatus: nullable(Joi.string().valid('processing', 'requires_action')).description(
        "Provider mode: where a PENDING attempt's payment intent stands",
      ),
    }),
  ),
  refunds: Joi.array().items(refundSchema),
  createdAt: timestamp,
  updatedAt: timestamp,
}).label('Payment');

const promise = nullable(anchorPromiseSchema).description(
  "Signed with the payment service's anchoring key when the outcome was recorded (null when anchoring is off): keep it to prove later what was promised (docs/verification.md §4)",
);

const thePayment: ResponseSpec = { status: 200, description: 'The payment', schema: paymentSchema };

export const paymentApi = defineApi({
  service: 'payment',
  tag: { name: 'Payments', description: 'Payments and refunds (payment service)' },
  prefixes: ['/api/payments', '/api/blockchain/payment', '/api/blockchain/verify'],
  operations: {
    initiatePayment: {
      method: 'post',
      path: '/api/payments/initiate',
      summary: 'Pay an order placed without payment details (owner only, once it is reserved)',
      description:
        '402 PAYMENT_DECLINED (details: paymentId, code, retryable: true, anchorPromise) when ' +
        'the card is declined: the order keeps waiting and another card may be tried.',
      access: 'user',
      body: initiateBody,
      idempotent: true,
      rateLimit: 'payment',
      response: {
        status: 201,
        description: 'The payment, COMPLETED (a replay: header Idempotent-Replayed)',
        schema: paymentSchema.keys({ anchorPromise: promise }).label('InitiatedPayment'),
      },
      errors: {
        404: 'No payment due for this order of yours',
        409: 'Not reserved yet, already paid, a payment in progress, or the order is closed; or a request with this Idempotency-Key is still in progress',
        422: 'IDEMPOTENCY_KEY_REUSED',
        503: 'The payment gateway is unreachable (the charge is finished later)',
      },
    },
    listPayments: {
      method: 'get',
      path: '/api/payments',
      summary: 'Own payments, newest first (admin: all, or ?userId=)',
      access: 'user',
      query: Joi.object({
        ...pageQueryKeys,
        userId: idTokenSchema(128).description('admin only'),
      }),
      rateLimit: 'payment',
      response: {
        status: 200,
        description: 'A page of payments',
        schema: paymentSchema,
        list: true,
      },
      errors: { 403: "Another user's payments (admin only)" },
    },
    getPaymentOfOrder: {
      method: 'get',
      path: '/api/payments/order/:orderId',
      summary: 'The payment of an order (owner or admin)',
      access: 'user',
      params: Joi.object({ orderId: uuidSchema.required() }),
      rateLimit: 'payment',
      response: thePayment,
    },
    getPayment: {
      method: 'get',
      path: '/api/payments/:id',
      summary: 'One payment (owner or admin)',
      access: 'user',
      params: paymentId,
      rateLimit: 'payment',
      response: thePayment,
    },
    refundPayment: {
      method: 'post',
      path: '/api/payments/:id/refund',
      summary: 'Refund part or all of what is left of a payment (admin)',
      access: ['admin'],
      params: paymentId,
      body: refundBody,
      idempotent: true,
      rateLimit: 'payment',
      response: {
        status: 201,
        description: 'The refund and the payment after it (a replay: header Idempotent-Replayed)',
        schema: Joi.object({
          refund: refundSchema,
          payment: paymentSchema,
          anchorPromise: promise,
        }).label('RefundResult'),
      },
      errors: {
        409: 'Nothing charged, or already fully refunded',
        422: 'REFUND_EXCEEDS_AMOUNT, NOTHING_TO_REFUND, REFUND_REFUSED (by the gateway), IDEMPOTENCY_KEY_REUSED',
        503: 'The payment gateway is unreachable (the refund is finished later)',
      },
    },
    providerWebhook: {
      method: 'post',
      path: '/api/payments/webhooks',
      summary: "The card processor's signed events (provider mode)",
      description:
        'Called by the payment provider, not by customers. Header `Provider-Signature: ' +
        't=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` (one v1 per secret ' +
        'while rotating); the timestamp must be within PAYMENT_WEBHOOK_TOLERANCE_SECONDS (300). ' +
        'The signature is checked first, whatever the body; only a signed body is then checked ' +
        'as an event (any problem: 400 WEBHOOK_MALFORMED, each named in details). ' +
        'An event id already received answers 200 and changes nothing. 404 ' +
        'PROVIDER_NOT_CONFIGURED when the service runs the mock gateway.',
      access: 'public',
      // Documented, not enforced by the route: checked after the signature, in the handler, so
      // a sender without the secret learns nothing of the schema.
      body: webhookEventSchema,
      rateLimit: 'webhook',
      response: {
        status: 200,
        description: 'Received (also a repeated event id, with duplicate: true)',
        schema: Joi.object({
          received: Joi.boolean().valid(true),
          duplicate: Joi.boolean(),
          effect: Joi.string().description('What the event did (settled, pending, ignored...)'),
        }).label('WebhookReceipt'),
      },
      errors: {
        400: 'WEBHOOK_SIGNATURE_INVALID (missing, malformed or no match), WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE, WEBHOOK_MALFORMED',
        404: 'PROVIDER_NOT_CONFIGURED (the service runs the mock gateway)',
      },
    },
    ...anchoringOperations({ recordType: 'payment', servesVerify: true }),
  },
});
