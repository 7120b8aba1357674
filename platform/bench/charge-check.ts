/**
 * What the saga must never do with money, read from the platform's own databases (never from
 * its services): the benches, the fleet test and the fault experiments judge their orders by it.
 */
import { queryOnce as query } from '@ecom/test-support';

/** Past CONFIRMED, an order has gone through. */
const WENT_THROUGH = ['CONFIRMED', 'PARTIALLY_SHIPPED', 'SHIPPED', 'DELIVERED'];
const CLOSED = ['FAILED', 'CANCELLED'];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a run's orders came to, and which of the saga's promises about money broke. */
export interface ChargeCheck {
  /** Orders confirmed (or past it). */
  confirmed: number;
  /** Orders closed without going through (FAILED or CANCELLED). */
  closed: number;
  /** Orders neither, when checked: still in flight. */
  open: number;
  /** Orders that did not go through whose payment is still PROCESSING: a charge on its way. */
  chargesInFlight: number;
  /** Orders accepted (their ids were answered) that the order database does not hold. */
  missing: number;
  /** Orders, whatever their state, with more than one charge kept at the provider. */
  doubleCharged: number;
  /** Orders closed without going through, or missing, whose charge is still kept. */
  chargedWithoutOrder: number;
  /** Orders that went through without exactly one COMPLETED payment. */
  confirmedWithoutOnePayment: number;
  /** Orders that went through with no charge kept at the provider. */
  confirmedUncharged: number;
  /**
   * Each broken promise, in words; empty when every charge is where it belongs. An order
   * still in flight is judged only on a charge twice: its one charge may be on its way.
   */
  problems: string[];
}

/**
 * Checks the run's orders (`ids`) against payment's records and the deterministic provider's
 * ledger (a charge is kept when it has a charge id and is not refunded in full; the service
 * keys a charge `<orderId>:<attempt>`, so an order charged on two attempts shows).
 */
export async function checkCharges(
  stores: { orderDbUrl: string; paymentDbUrl: string },
  ids: string[],
): Promise<ChargeCheck> {
  const orders = await query<{ id: string; status: string }>(
    stores.orderDbUrl,
    'SELECT id::text, status FROM orders WHERE id = ANY($1::uuid[])',
    [ids],
  );
  const status = new Map(orders.map((o) => [o.id, o.status]));
  const confirmed = ids.filter((id) => WENT_THROUGH.includes(status.get(id) ?? ''));
  const notThrough = ids.filter((id) => !status.has(id) || CLOSED.includes(status.get(id)!));
  const missing = ids.filter((id) => !status.has(id)).length;
  const payments = await query<{ order_id: string; status: string }>(
    stores.paymentDbUrl,
    `SELECT order_id, status FROM payments
      WHERE status IN ('COMPLETED', 'PROCESSING') AND order_id = ANY($1)`,
    [ids],
  );
  const charges = await query<{ order_id: string; n: string }>(
    stores.paymentDbUrl,
    `SELECT split_part(idempotency_key, ':', 1) AS order_id, count(*) AS n
       FROM mock_gateway_charges
      WHERE charge_id IS NOT NULL AND refunded_cents < amount_cents
        AND split_part(idempotency_key, ':', 1) = ANY($1)
      GROUP BY 1`,
    [ids],
  );
  const kept = new Map(charges.map((c) => [c.order_id, Number(c.n)]));
  const paymentsIn = (status: string) =>
    new Set(payments.filter((p) => p.status === status).map((p) => p.order_id));
  // payments.order_id is unique: a confirmed order's payment is COMPLETED or it is not.
  const completed = paymentsIn('COMPLETED');
  const processing = paymentsIn('PROCESSING');
  const check = {
    confirmed: confirmed.length,
    closed: notThrough.length - missing,
    open: ids.length - confirmed.length - notThrough.length,
    chargesInFlight: notThrough.filter((id) => processing.has(id)).length,
    missing,
    doubleCharged: [...kept.values()].filter((n) => n > 1).length,
    chargedWithoutOrder: notThrough.filter((id) => kept.has(id)).length,
    confirmedWithoutOnePayment: confirmed.filter((id) => !completed.has(id)).length,
    confirmedUncharged: confirmed.filter((id) => !kept.has(id)).length,
  };
  const rules: Array<[Exclude<keyof typeof check, 'chargesInFlight'>, string]> = [
    ['missing', 'accepted orders missing from the order database'],
    ['doubleCharged', 'orders charged twice'],
    ['chargedWithoutOrder', 'orders that did not go through whose charge is kept'],
    ['confirmedWithoutOnePayment', 'confirmed orders without exactly one completed payment'],
    ['confirmedUncharged', 'confirmed orders never charged at the gateway'],
  ];
  return {
    ...check,
    problems: rules.filter(([k]) => check[k] > 0).map(([k, what]) => `${check[k]} ${what}`),
  };
}

/**
 * checkCharges once the orders have settled: read again every half second until none is open,
 * no charge is on its way for an order that did not go through, and nothing is broken, or
 * `boundMs` passed (a failed order's refund follows its failure, and a charge an order's
 * give-up raced may land after it: a kept charge may be on its way back). The last reading;
 * a database it cannot reach is read again until the bound, then its error stands.
 */
export async function settledCharges(
  stores: { orderDbUrl: string; paymentDbUrl: string },
  ids: string[],
  boundMs: number,
): Promise<ChargeCheck> {
  const until = Date.now() + boundMs;
  for (;;) {
    // A database that is down for a while is a wait, not a verdict: read again until the bound.
    const check = await checkCharges(stores, ids).catch((err: unknown) => {
      if (Date.now() >= until) throw err;
      return null;
    });
    const settled =
      check && check.open === 0 && check.chargesInFlight === 0 && !check.problems.length;
    if (check && (settled || Date.now() >= until)) return check;
    await sleep(500);
  }
}
