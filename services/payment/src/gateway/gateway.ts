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

export type ChargeResult =
  { ok: true; chargeId: string } | { ok: false; code: string; reason: string };

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
  charge(request: ChargeRequest): Promise<ChargeResult>;
  refund(request: RefundRequest): Promise<RefundResult>;
}
