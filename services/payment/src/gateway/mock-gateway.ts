import { randomUUID } from 'node:crypto';
import { mockChargeOutcome } from '../domain/payment-rules';
import type {
  ChargeRequest,
  ChargeResult,
  PaymentGateway,
  RefundRequest,
  RefundResult,
} from './gateway';

export interface GatewayCall {
  op: 'charge' | 'refund';
  idempotencyKey: string;
  amount: number;
}

/**
 * Deterministic gateway for development and tests: the outcome depends on the token only
 * (see mockChargeOutcome). Like a real gateway it remembers each idempotency key and
 * answers a repeated key with the first result. `calls` lets tests count adapter calls.
 */
export class MockPaymentGateway implements PaymentGateway {
  readonly calls: GatewayCall[] = [];
  private readonly charges = new Map<string, ChargeResult>();
  private readonly refunds = new Map<string, RefundResult>();
  /** Charge ids that succeeded, with their amount and what was refunded so far. */
  private readonly captured = new Map<string, { amount: number; refunded: number }>();

  /** Counts an adapter call (every call, a repeated key included). */
  protected record(
    op: GatewayCall['op'],
    { idempotencyKey, amount }: Omit<GatewayCall, 'op'>,
  ): void {
    this.calls.push({ op, idempotencyKey, amount });
  }

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    this.record('charge', request);
    const prior = this.charges.get(request.idempotencyKey);
    if (prior) return prior;
    const outcome = mockChargeOutcome(request.token);
    const result: ChargeResult = outcome.ok
      ? { ok: true, chargeId: `ch_${randomUUID().replace(/-/g, '')}` }
      : { ok: false, code: outcome.code, reason: outcome.reason };
    if (result.ok) this.captured.set(result.chargeId, { amount: request.amount, refunded: 0 });
    this.charges.set(request.idempotencyKey, result);
    return result;
  }

  async refund(request: RefundRequest): Promise<RefundResult> {
    this.record('refund', request);
    const prior = this.refunds.get(request.idempotencyKey);
    if (prior) return prior;
    const charge = this.captured.get(request.chargeId);
    let result: RefundResult;
    if (!charge) {
      result = { ok: false, code: 'unknown_charge', reason: 'No such charge' };
    } else if (charge.refunded + request.amount > charge.amount) {
      result = { ok: false, code: 'amount_too_large', reason: 'Refund exceeds the charge' };
    } else {
      charge.refunded += request.amount;
      result = { ok: true, refundId: `re_${randomUUID().replace(/-/g, '')}` };
    }
    this.refunds.set(request.idempotencyKey, result);
    return result;
  }

  /** Adapter calls made with one key (tests: "charged once"). */
  callsFor(idempotencyKey: string): number {
    return this.calls.filter((c) => c.idempotencyKey === idempotencyKey).length;
  }
}
