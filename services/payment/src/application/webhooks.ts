import Joi from 'joi';
import type { Pool } from 'pg';
import type { AnchorSink } from '@ecom/common/anchoring';
import { AppError } from '@ecom/common/errors';
import { MAX_PROBLEMS } from '@ecom/common/http';
import { getContext, runWithContext, type Logger } from '@ecom/common/logging';
import { withTransaction } from '@ecom/common/postgres';
import {
  PAYMENT_KEY_METADATA,
  chargeAnswerOf,
  type ProviderIntent,
} from '../gateway/provider-gateway';
import { verifySignature } from '../gateway/webhook-signature';
import { paymentStore } from '../store/payment-store';
import type { GatewayCalls } from './gateway-calls';
import { anchorPayment, chargeClaimOf, paymentWrites, type FollowUp } from './shared';

/** The intent events that move a charge; any other type is acknowledged and ignored. */
const INTENT_EVENTS = new Set([
  'payment_intent.succeeded',
  'payment_intent.payment_failed',
  'payment_intent.processing',
  'payment_intent.requires_action',
  'payment_intent.canceled',
]);

/** The intent statuses payment acts on; another (a provider's newer one) is acknowledged, not applied. */
const KNOWN_STATUSES = new Set([
  'requires_payment_method',
  'requires_action',
  'processing',
  'succeeded',
  'canceled',
]);

/** What payment reads of an intent event's object. */
const intentShape = Joi.object({
  id: Joi.string().min(1).max(255).required(),
  status: Joi.string().min(1).max(64).required(),
  amount: Joi.number().integer().min(0).required(),
  currency: Joi.string().length(3).required(),
  latest_charge: Joi.string().allow(null),
  metadata: Joi.object().pattern(Joi.string(), Joi.string()).default({}),
  next_action: Joi.object({
    type: Joi.string().valid('redirect_to_url').required(),
    redirect_to_url: Joi.object({ url: Joi.string().uri().required() }).unknown(true).required(),
  })
    .unknown(true)
    .allow(null),
  last_payment_error: Joi.object({ code: Joi.string(), message: Joi.string() })
    .unknown(true)
    .allow(null),
}).unknown(true);

/**
 * What payment reads of an event, checked once its signature is. Events of other types (a
 * provider sends many) need only an object with an id: they are recorded and acknowledged, since
 * a 4xx would have the provider send them again for days.
 */
const eventShape = Joi.object({
  id: Joi.string().min(1).max(255).required(),
  type: Joi.string().min(1).max(255).required(),
  created: Joi.number().integer().min(0).required(),
  data: Joi.object({
    object: Joi.when('/type', {
      is: Joi.valid(...INTENT_EVENTS),
      then: intentShape.required(),
      otherwise: Joi.object({ id: Joi.string().min(1).max(255).required() })
        .unknown(true)
        .required(),
    }),
  })
    .unknown(true)
    .required(),
}).unknown(true);

interface ProviderEvent {
  id: string;
  type: string;
  created: number;
  data: { object: ProviderIntent };
}

/**
 * A webhook request's body as it arrived: a JSON body (the bytes it was parsed from, which the
 * signature covers, and its value), or the bytes of a body of another media type or of none.
 */
export type WebhookBody =
  { json: true; raw: Buffer; value: unknown } | { json: false; raw: Buffer };

export interface WebhookReceipt {
  received: true;
  duplicate: boolean;
  effect: string;
}

export interface ProviderWebhooksDeps {
  pool: Pool;
  calls: GatewayCalls;
  anchor: AnchorSink;
  logger: Logger;
  /** The accepted signing secrets (several while one is rotated); none: not configured. */
  secrets: readonly string[];
  toleranceSeconds: number;
  /** Unix seconds now (tests may pin it). */
  now?: () => number;
  /** Counts a capture the provider reports for an attempt recorded as failed (see applyIntent). */
  captureUnclaimed?: () => void;
}

/** Runs `fn` with the payment's saga correlation id (the webhook request's own otherwise). */
function inSaga<T>(correlationId: string | null, fn: () => Promise<T>): Promise<T> {
  const context = getContext();
  if (!correlationId) return fn();
  return runWithContext({ requestId: context?.requestId, correlationId }, fn);
}

const refused = (code: string, message: string, details?: object) =>
  new AppError(400, code, message, details);

/**
 * POST /api/payments/webhooks: the provider's events, verified over the raw body, each handled
 * once by its id (recorded in the transaction that applies it) and applied to the attempt its
 * intent names (metadata payment_key = the claim's idempotency key, stored before the charge
 * call, so an event that overtakes the call's answer finds it). A final intent is recorded
 * exactly as a synchronous answer is (GatewayCalls.settleCharge: same events, same fields);
 * once an attempt is settled, any later event about it (a `processing` after `succeeded`, a
 * repeat under another id) changes nothing.
 */
export class ProviderWebhooks {
  constructor(private readonly deps: ProviderWebhooksDeps) {}

  async receive(signature: string | undefined, body: WebhookBody): Promise<WebhookReceipt> {
    const { secrets, toleranceSeconds } = this.deps;
    if (secrets.length === 0) {
      // 404: for this configuration the endpoint does not exist (the request is not retried
      // as a 5xx would be, and nothing was wrong with the server).
      throw new AppError(
        404,
        'PROVIDER_NOT_CONFIGURED',
        'Webhooks are not accepted: the service runs the mock gateway',
      );
    }
    // The sender first, whatever the body: nothing in it is looked at, nor told, until then.
    const now = this.deps.now?.() ?? Math.floor(Date.now() / 1000);
    const check = verifySignature(signature, body.raw, secrets, now, toleranceSeconds);
    if (!check.ok) {
      if (check.reason === 'too_old' || check.reason === 'too_new') {
        throw refused(
          'WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE',
          `The signature's timestamp is more than ${toleranceSeconds} s from now`,
          { reason: check.reason },
        );
      }
      throw refused('WEBHOOK_SIGNATURE_INVALID', 'The webhook signature does not verify', {
        reason: check.reason,
      });
    }
    if (!body.json) {
      throw refused('WEBHOOK_MALFORMED', 'The event must be sent as application/json', [
        { location: 'body', field: '', message: 'must be application/json' },
      ]);
    }
    const { value, error } = eventShape.validate(body.value, { abortEarly: false, convert: false });
    if (error) {
      // Every problem, named: the sender is the provider, and this is what it must fix.
      const problems = error.details.map((d) => ({
        location: 'body',
        field: d.path.join('.'),
        message: d.message,
      }));
      throw refused('WEBHOOK_MALFORMED', 'The event is malformed', problems.slice(0, MAX_PROBLEMS));
    }
    return this.apply(value as ProviderEvent);
  }

  private async apply(event: ProviderEvent): Promise<WebhookReceipt> {
    const intent = event.data.object;
    const { receipt, next, correlationId } = await withTransaction(
      this.deps.pool,
      async (client) => {
        const fresh = await paymentStore.recordWebhookEvent(client, {
          eventId: event.id,
          type: event.type,
          // Another type's object is no intent (a charge, a customer): its id is not kept as one.
          intentId: INTENT_EVENTS.has(event.type) ? intent.id : null,
          effect: 'received',
        });
        if (!fresh) {
          return { receipt: { received: true as const, duplicate: true, effect: 'duplicate' } };
        }
        const applied = await this.applyIntent(client, event);
        await paymentStore.setWebhookEffect(client, event.id, applied.effect);
        return {
          receipt: { received: true as const, duplicate: false, effect: applied.effect },
          next: applied.next,
          correlationId: applied.correlationId,
        };
      },
    );
    this.deps.logger.info('provider webhook', {
      eventId: event.id,
      type: event.type,
      intentId: intent.id,
      effect: receipt.effect,
    });
    // A charge settled for an order closed meanwhile is refunded, as after a call's answer.
    if (next) await inSaga(correlationId ?? null, () => this.deps.calls.runFollowUp(next));
    return receipt;
  }

  private async applyIntent(
    client: Parameters<GatewayCalls['settleCharge']>[0],
    event: ProviderEvent,
  ): Promise<{ effect: string; next?: FollowUp | null; correlationId?: string | null }> {
    if (!INTENT_EVENTS.has(event.type)) return { effect: 'ignored' };
    const intent = event.data.object;
    if (!KNOWN_STATUSES.has(intent.status)) {
      this.deps.logger.warn('provider event with an intent status payment does not act on', {
        eventId: event.id,
        intentId: intent.id,
        status: intent.status,
      });
      return { effect: 'unknown_status' };
    }
    const key = intent.metadata?.[PAYMENT_KEY_METADATA];
    const attempt = key ? await paymentStore.attemptByKey(client, key) : null;
    if (!attempt) return { effect: 'unknown_intent' };
    // The payment row lock first, as every recorder takes it: one settles, the others see it.
    const row = await paymentStore.lockById(client, attempt.payment_id);
    if (!row) return { effect: 'unknown_intent' };
    const current = (await paymentStore.attempt(client, row.id, attempt.attempt))!;
    if (current.intent_id && current.intent_id !== intent.id) return { effect: 'other_intent' };
    const claim = chargeClaimOf(row, current);
    if (intent.amount !== claim.amount || intent.currency.toUpperCase() !== claim.currency) {
      this.deps.logger.error('provider event for another amount; ignored', {
        eventId: event.id,
        intentId: intent.id,
        paymentId: row.id,
      });
      return { effect: 'amount_mismatch' };
    }
    const answer = chargeAnswerOf(intent);
    if (current.status !== 'PENDING') {
      if (current.status === 'FAILED' && answer.ok === true) {
        // The provider holds money for an attempt this service recorded as failed (a decline
        // it then let the customer retry on the same intent, or a forged failure): the order
        // may have failed meanwhile. Not taken silently: an operator refunds it at the
        // provider (the PaymentCaptureUnclaimed alert, docs/monitoring.md).
        this.deps.logger.error('the provider captured a charge for an attempt recorded as failed', {
          eventId: event.id,
          intentId: intent.id,
          paymentId: row.id,
          orderId: row.order_id,
          chargeId: answer.chargeId,
        });
        this.deps.captureUnclaimed?.();
        return { effect: 'capture_unclaimed' };
      }
      return { effect: 'already_settled' };
    }
    if (answer.ok === 'pending') {
      const recorded = await paymentStore.recordPendingAttempt(client, row.id, current.attempt, {
        intentId: intent.id,
        status: answer.status,
        nextActionUrl: answer.nextAction?.url ?? null,
        at: event.created,
      });
      return { effect: recorded ? answer.status : 'stale' };
    }
    // The saga's correlation id on the events and logs, as when the call's answer records it.
    const write = paymentWrites(this.deps.anchor, client, row.id);
    const outcome = await inSaga(row.correlation_id, () =>
      this.deps.calls.settleCharge(client, claim, answer, write.send),
    );
    await anchorPayment(this.deps.anchor, client, row.id, write.reads());
    switch (outcome.outcome) {
      case 'completed':
        return { effect: 'completed', next: outcome.next, correlationId: row.correlation_id };
      case 'declined':
        return { effect: 'declined' };
      default:
        return { effect: 'already_settled' };
    }
  }
}
