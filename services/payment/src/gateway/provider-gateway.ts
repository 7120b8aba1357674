import { request } from 'undici';
import type {
  ChargeAnswer,
  ChargeRequest,
  PaymentGateway,
  RefundRequest,
  RefundResult,
} from './gateway';
import { IDEMPOTENCY_KEY_REUSED } from './mock-gateway';

/** A payment intent as the provider shows it (the fields payment reads; Stripe's names). */
export interface ProviderIntent {
  id: string;
  status: 'requires_payment_method' | 'requires_action' | 'processing' | 'succeeded' | 'canceled';
  amount: number;
  currency: string;
  latest_charge: string | null;
  metadata: Record<string, string>;
  next_action: { type: 'redirect_to_url'; redirect_to_url: { url: string } } | null;
  last_payment_error: { code: string; message: string } | null;
  /** Why a `canceled` intent was (Stripe's values: `abandoned`, `requested_by_customer`, ...). */
  cancellation_reason?: string | null;
}

/** The decline of an intent cancelled at the provider. */
export const CHARGE_CANCELED = 'payment_canceled';

/** The metadata key carrying payment's idempotency key (`<orderId>:<attempt>`) on an intent. */
export const PAYMENT_KEY_METADATA = 'payment_key';

/**
 * What an intent means for the charge: final (succeeded, or failed with its error) or pending.
 * Shared by the adapter's answers and the webhook handler, so both read an intent one way.
 */
export function chargeAnswerOf(intent: ProviderIntent): ChargeAnswer {
  switch (intent.status) {
    case 'succeeded':
      return { ok: true, chargeId: intent.latest_charge ?? intent.id };
    case 'processing':
      return { ok: 'pending', intentId: intent.id, status: 'processing', nextAction: null };
    case 'requires_action':
      return {
        ok: 'pending',
        intentId: intent.id,
        status: 'requires_action',
        nextAction: intent.next_action
          ? { type: 'redirect_to_url', url: intent.next_action.redirect_to_url.url }
          : null,
      };
    case 'canceled':
      return {
        ok: false,
        code: CHARGE_CANCELED,
        reason:
          intent.cancellation_reason === 'abandoned'
            ? "The card's authentication was not completed in time"
            : 'The payment was cancelled at the provider',
      };
    default:
      return {
        ok: false,
        code: intent.last_payment_error?.code ?? 'payment_failed',
        reason: intent.last_payment_error?.message ?? `The payment ${intent.status}`,
      };
  }
}

interface ProviderError {
  error: { type: string; code?: string; message: string; payment_intent?: ProviderIntent };
}

export interface ProviderGatewayOptions {
  /** The provider's API root (PAYMENT_PROVIDER_URL). */
  url: string;
  /** Per request; a call that takes longer counts as unreachable (the reconciler finishes it). */
  timeoutMs?: number;
}

/**
 * The adapter for an asynchronous card processor over HTTP (the Stripe-like API the provider
 * simulator serves): a charge creates and confirms a payment intent under the claim's
 * idempotency key, which may answer `succeeded`, a decline, or pending (`processing`,
 * `requires_action`) whose outcome arrives later by webhook. Throws only when the provider
 * cannot be reached or answers 5xx, as the port says.
 */
export class ProviderPaymentGateway implements PaymentGateway {
  private readonly base: string;
  private readonly timeoutMs: number;

  constructor(options: ProviderGatewayOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  async charge(request: ChargeRequest): Promise<ChargeAnswer> {
    const { status, body } = await this.call(
      'POST',
      '/v1/payment_intents',
      request.idempotencyKey,
      {
        amount: request.amount,
        currency: request.currency.toLowerCase(),
        payment_method: request.token,
        payment_method_types: [request.method],
        confirm: true,
        metadata: { [PAYMENT_KEY_METADATA]: request.idempotencyKey },
      },
    );
    if (status < 300) return chargeAnswerOf(body as ProviderIntent);
    const { error } = body as ProviderError;
    if (error.type === 'idempotency_error') return keyReused(error.message);
    // A card error names the intent it failed; its error is the decline.
    if (error.payment_intent) return chargeAnswerOf(error.payment_intent);
    return { ok: false, code: error.code ?? error.type, reason: error.message };
  }

  async refund(request: RefundRequest): Promise<RefundResult> {
    const { status, body } = await this.call('POST', '/v1/refunds', request.idempotencyKey, {
      charge: request.chargeId,
      amount: request.amount,
      currency: request.currency.toLowerCase(),
    });
    if (status < 300) return { ok: true, refundId: (body as { id: string }).id };
    const { error } = body as ProviderError;
    if (error.type === 'idempotency_error') return keyReused(error.message);
    return { ok: false, code: error.code ?? error.type, reason: error.message };
  }

  async lookupCharge(intentId: string): Promise<ChargeAnswer> {
    const { status, body } = await this.call(
      'GET',
      `/v1/payment_intents/${encodeURIComponent(intentId)}`,
    );
    if (status >= 300) {
      const { error } = body as ProviderError;
      throw new Error(`payment provider: ${error.message}`);
    }
    return chargeAnswerOf(body as ProviderIntent);
  }

  async cancelCharge(intentId: string): Promise<ChargeAnswer> {
    // No idempotency key: a key would replay a first refusal to a later try, and a cancel is
    // safe to repeat (an intent already cancelled is refused naming it as it stands).
    const { status, body } = await this.call(
      'POST',
      `/v1/payment_intents/${encodeURIComponent(intentId)}/cancel`,
      undefined,
      { cancellation_reason: 'abandoned' },
    );
    if (status < 300) return chargeAnswerOf(body as ProviderIntent);
    // Too late to cancel (authenticated meanwhile, or final): the refusal names the intent.
    const { error } = body as ProviderError;
    if (error.payment_intent) return chargeAnswerOf(error.payment_intent);
    throw new Error(`payment provider: ${error.message}`);
  }

  /** One request; 5xx and transport failures throw (unreachable), 4xx are answers. */
  private async call(
    method: 'GET' | 'POST',
    path: string,
    idempotencyKey?: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    // undici's request, not fetch: half the CPU per call (docs/benchmarks.md, "Service calls").
    const res = await request(`${this.base}${path}`, {
      method,
      headers: {
        accept: 'application/json',
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const status = res.statusCode;
    const text = await res.body.text();
    if (status >= 500) throw new Error(`payment provider answered ${status}`);
    try {
      return { status, body: JSON.parse(text) as unknown };
    } catch {
      throw new Error(`payment provider answered ${status} without JSON`);
    }
  }
}

function keyReused(reason: string) {
  return { ok: false as const, code: IDEMPOTENCY_KEY_REUSED, reason };
}
