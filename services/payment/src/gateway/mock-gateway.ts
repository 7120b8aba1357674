import { createHash, randomUUID } from 'node:crypto';
import { mockChargeOutcome } from '../domain/payment-rules';
import type {
  ChargeRequest,
  ChargeResult,
  PaymentGateway,
  RefundRequest,
  RefundResult,
} from './gateway';
import { InMemoryMockGatewayLedger, type LedgerMatch, type MockGatewayLedger } from './mock-ledger';

export interface GatewayCall {
  op: 'charge' | 'refund';
  idempotencyKey: string;
  amount: number;
}

/**
 * The answer to a known idempotency key sent with other parameters: refused, nothing charged
 * or refunded (Stripe answers 400 `idempotency_error`; a real adapter maps it to this).
 */
export const IDEMPOTENCY_KEY_REUSED = 'idempotency_key_reused';

const keyReused = {
  ok: false as const,
  code: IDEMPOTENCY_KEY_REUSED,
  reason:
    'Keys for idempotent requests can only be used with the same parameters they were first used with',
};

/** The parameters a key is bound to, hashed (the token is not kept in the clear). */
function fingerprint(...parts: Array<string | number>): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

export interface MockPaymentGatewayOptions {
  /**
   * Where the provider keeps its keys and the money it moved. The payment service passes a
   * PgMockGatewayLedger (payment_db, survives restarts); in process memory by default.
   */
  ledger?: MockGatewayLedger;
  /**
   * How many of the latest adapter calls `calls` keeps (default 10,000): the running service
   * uses this gateway too, and a log of every call would grow for as long as it runs.
   */
  recordedCalls?: number;
}

/**
 * Deterministic gateway for development and tests: the outcome depends on the token only
 * (see mockChargeOutcome). Like a real gateway it keeps each idempotency key in its ledger and
 * answers a repeated key with the first result (a decline included), and refuses a key sent
 * again with other parameters. `calls` lists this object's latest adapter calls; `chargesMade`
 * and `refundsMade` read the ledger: the money the gateway really moved.
 */
export class MockPaymentGateway implements PaymentGateway {
  readonly calls: GatewayCall[] = [];
  readonly ledger: MockGatewayLedger;

  private readonly recordedCalls: number;

  constructor(options: MockPaymentGatewayOptions = {}) {
    this.ledger = options.ledger ?? new InMemoryMockGatewayLedger();
    this.recordedCalls = options.recordedCalls ?? 10_000;
  }

  /** Lists an adapter call (every call, a repeated key included), the oldest dropped past the bound. */
  protected record(
    op: GatewayCall['op'],
    { idempotencyKey, amount }: Omit<GatewayCall, 'op'>,
  ): void {
    this.calls.push({ op, idempotencyKey, amount });
    if (this.calls.length > this.recordedCalls)
      this.calls.splice(0, this.calls.length - this.recordedCalls);
  }

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    this.record('charge', request);
    const outcome = mockChargeOutcome(request.token);
    const print = fingerprint(request.amount, request.currency, request.method, request.token);
    const { stored, created } = await this.ledger.recordCharge({
      idempotencyKey: request.idempotencyKey,
      fingerprint: print,
      amount: request.amount,
      currency: request.currency,
      result: outcome.ok
        ? { ok: true, chargeId: `ch_${randomUUID().replace(/-/g, '')}` }
        : { ok: false, code: outcome.code, reason: outcome.reason },
    });
    if (!created && stored.fingerprint !== print) return keyReused;
    return stored.result;
  }

  async refund(request: RefundRequest): Promise<RefundResult> {
    this.record('refund', request);
    const print = fingerprint(request.chargeId, request.amount, request.currency);
    const { stored, created } = await this.ledger.recordRefund(
      {
        idempotencyKey: request.idempotencyKey,
        fingerprint: print,
        chargeId: request.chargeId,
        amount: request.amount,
        currency: request.currency,
      },
      (charge): RefundResult => {
        if (!charge) return { ok: false, code: 'unknown_charge', reason: 'No such charge' };
        if (charge.refunded + request.amount > charge.amount) {
          return { ok: false, code: 'amount_too_large', reason: 'Refund exceeds the charge' };
        }
        return { ok: true, refundId: `re_${randomUUID().replace(/-/g, '')}` };
      },
    );
    if (!created && stored.fingerprint !== print) return keyReused;
    return stored.result;
  }

  /** Adapter calls this object received with one key (a repeated key counts each time). */
  callsFor(idempotencyKey: string): number {
    return this.calls.filter((c) => c.idempotencyKey === idempotencyKey).length;
  }

  /**
   * Charges that moved money under the matching keys, by any instance using the same ledger
   * (across payment restarts with the PostgreSQL one): exactly-once is `chargesMade({ keyPrefix:
   * `${orderId}:` }) === 1` for a paid order.
   */
  async chargesMade(match: LedgerMatch): Promise<number> {
    return (await this.ledger.charges(match)).filter((c) => c.result.ok).length;
  }

  /** Refunds that moved money under the matching keys, or of one charge. */
  async refundsMade(match: LedgerMatch | { chargeId: string }): Promise<number> {
    return (await this.ledger.refunds(match)).filter((r) => r.result.ok).length;
  }
}
