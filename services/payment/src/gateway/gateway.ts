/**
 * The payment gateway adapter (Stripe-like). Every call carries an idempotency key: the
 * gateway returns the first result for a key instead of charging again, which is what makes
 * a retried call after a crash safe. The service itself calls at most once per key in normal
 * operation (it claims the attempt in its database first).
 */
export interface ChargeRequest {
  idempotencyKey: string;
  amount: number;
  currency: string;
  method: string;
  token: string;
}

/** A final answer: the money moved, or it never will under this key. */
export type ChargeResult =
  { ok: true; chargeId: string } | { ok: false; code: string; reason: string };

/** The step a customer must take before the provider can go on (3-D Secure). */
export interface NextAction {
  type: 'redirect_to_url';
  url: string;
}

/**
 * Not final yet (a provider's payment intent): `processing` settles later by itself,
 * `requires_action` once the customer has taken `nextAction`. The outcome then comes by webhook
 * (or `lookupCharge`).
 */
export interface ChargePending {
  ok: 'pending';
  intentId: string;
  status: 'processing' | 'requires_action';
  nextAction: NextAction | null;
}

/** What a charge call answers: final, or (an asynchronous provider) pending. */
export type ChargeAnswer = ChargeResult | ChargePending;

export interface RefundRequest {
  idempotencyKey: string;
  chargeId: string;
  amount: number;
  currency: string;
}

export type RefundResult =
  { ok: true; refundId: string } | { ok: false; code: string; reason: string };

export interface PaymentGateway {
  /** Resolves with the outcome; throws only when the gateway could not be reached. */
  charge(request: ChargeRequest): Promise<ChargeAnswer>;
  refund(request: RefundRequest): Promise<RefundResult>;
  /**
   * Where a pending charge stands now, asked of the provider (an asynchronous gateway only):
   * for a charge whose outcome never arrived by webhook. Throws when unreachable.
   */
  lookupCharge?(intentId: string): Promise<ChargeAnswer>;
  /**
   * Cancels a pending charge that waits on the customer (an asynchronous gateway only), and
   * answers where it then stands: a decline once cancelled, or what it had already become (the
   * customer may have just authenticated: pending `processing`, or a success). Throws when
   * unreachable.
   */
  cancelCharge?(intentId: string): Promise<ChargeAnswer>;
}
