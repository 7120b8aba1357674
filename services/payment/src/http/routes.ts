import type { Request, Router } from 'express';
import type { Anchoring } from '@ecom/common/anchoring';
import { anchoringHandlers } from '@ecom/common/anchoring/api';
import { requireUser, type JwtVerifyOptions } from '@ecom/common/auth';
import { AppError, errorBody, type ErrorBody } from '@ecom/common/errors';
import { bindRoutes, idempotencyKeyHeader, reply, type Reply } from '@ecom/common/http';
import type { IdempotentResult } from '@ecom/common/postgres';
import type {
  InitiateInput,
  PaymentListQuery,
  Payments,
  RefundInput,
} from '../application/payments';
import type { ProviderWebhooks } from '../application/webhooks';
import type { OrderAnchors } from '../clients/order-anchors';
import { SIGNATURE_HEADER } from '../gateway/webhook-signature';
import { paymentApi } from './api';
import { webhookBody } from './webhook-body';

/**
 * paymentApi as bound. The webhook's body schema documents the event (/docs, Postman) but is
 * not enforced by the route: bindRoutes would validate it (400 VALIDATION_ERROR naming each
 * field) and refuse another media type (415) before the handler, that is before the sender is
 * known. The handler checks the signature over the raw bytes first, then the event's shape.
 */
const boundApi = {
  ...paymentApi,
  operations: {
    ...paymentApi.operations,
    providerWebhook: { ...paymentApi.operations.providerWebhook, body: undefined },
  },
};

const location = (paymentId: string) => `/api/payments/${paymentId}`;

/**
 * A 201 with its Location, or a stored refusal (402 PAYMENT_DECLINED) in the common error
 * shape; replays are marked, and a replayed error carries this request's id like any other.
 */
function answer(req: Request, result: IdempotentResult, paymentId: () => string): Reply {
  if (result.status >= 400) {
    const { error } = result.body as ErrorBody;
    if (!result.replayed)
      throw new AppError(result.status, error.code, error.message, error.details);
    const body = errorBody(error.code, error.message, error.details, req.requestId);
    return reply.replayed(result.status, body);
  }
  return result.replayed
    ? reply.replayed(result.status, result.body, location(paymentId()))
    : reply.created(result.body, location(paymentId()));
}

/** The handlers of paymentApi: input is already validated and the caller authenticated. */
export function paymentRoutes(deps: {
  payments: Payments;
  webhooks: ProviderWebhooks;
  anchoring: Anchoring | null;
  orderAnchors: OrderAnchors;
  jwt: JwtVerifyOptions;
}): Router {
  const { payments } = deps;
  return bindRoutes(
    boundApi,
    {
      async initiatePayment(req) {
        const result = await payments.initiate(
          requireUser(req),
          req.body as InitiateInput,
          idempotencyKeyHeader(req),
        );
        return answer(req, result, () => (result.body as { id: string }).id);
      },
      async listPayments(req) {
        return reply.list(
          await payments.list(requireUser(req), req.query as unknown as PaymentListQuery),
        );
      },
      getPaymentOfOrder: (req) =>
        payments.getVisible(requireUser(req), { orderId: String(req.params.orderId) }),
      getPayment: (req) => payments.getVisible(requireUser(req), { id: String(req.params.id) }),
      async refundPayment(req) {
        const paymentId = String(req.params.id);
        const result = await payments.refund(
          requireUser(req),
          paymentId,
          req.body as RefundInput,
          idempotencyKeyHeader(req),
        );
        return answer(req, result, () => paymentId);
      },
      // The signature covers the bytes as sent: the raw body, never the parsed one.
      providerWebhook: async (req) =>
        deps.webhooks.receive(req.get(SIGNATURE_HEADER), await webhookBody(req)),
      ...anchoringHandlers({
        anchoring: deps.anchoring,
        service: 'payment',
        recordType: 'payment',
        assertVisible: (user, paymentId) => payments.getVisible(user, { id: paymentId }),
        ownersOf: (ids) => payments.ownersOf(ids),
        // Not one of payment's batches: the order service anchors its own, from its own key.
        onUnknownTx: async (req, txHash) =>
          reply.ok(await deps.orderAnchors.verifyTransaction(txHash, req.get('authorization'))),
      }),
    },
    { jwt: deps.jwt },
  );
}
