import { queryOnce } from '@ecom/test-support';
import mongoose from 'mongoose';
import { RabbitMqEventBus } from '@ecom/common/bus/rabbitmq';
import { createLogger } from '@ecom/common/logging';
import { checkCharges } from '../../platform/bench/charge-check';
import { sleep, type ProcessPlatform } from './platform';

const GROUPS = ['auth', 'product', 'comments', 'payment', 'order'];

/** What one experiment left behind, read from the stores themselves (never from the services). */
export interface Outcome {
  placed: number;
  confirmed: number;
  /** Failed or cancelled. */
  failed: number;
  /** Not final (an order missing from the order database is among moneyProblems). */
  stuck: number;
  doubleCharged: number;
  /** What became of the orders' money that must not (checkCharges: a charge twice, kept for
   * an order that did not go through, a confirmed order not paid or not charged). */
  moneyProblems: string[];
  oversold: number;
  stockLeaked: number;
  heldReservations: number;
  unsentOutbox: number;
  deadLetters: number;
  unanchored: number;
  deadProcesses: string[];
}

const query = queryOnce;

/**
 * Reads the invariants for the orders and products of one experiment. `products` carry the
 * stock they were created with: available + reserved + sold must still equal it.
 */
export async function readOutcome(
  platform: ProcessPlatform,
  orderIds: string[],
  products: { id: string; stock: number }[],
): Promise<Outcome> {
  // The orders' states and what became of their money (an order still in flight is stuck).
  const money = await checkCharges(
    { orderDbUrl: platform.orderDb.url, paymentDbUrl: platform.paymentDb.url },
    orderIds,
  );
  const unsentPg = async (url: string) =>
    Number(
      (
        await query<{ n: string }>(
          url,
          'SELECT count(*) AS n FROM event_outbox WHERE sent_at IS NULL',
        )
      )[0].n,
    );
  const unanchored = async (url: string) =>
    Number(
      (
        await query<{ n: string }>(
          url,
          'SELECT count(*) AS n FROM anchor_records WHERE batch_id IS NULL',
        )
      )[0].n,
    );

  const mongo = await mongoose
    .createConnection(`mongodb://127.0.0.1:${platform.mongoPort}/product_db`)
    .asPromise();
  let oversold = 0;
  let stockLeaked = 0;
  let heldReservations = 0;
  let unsentMongo = 0;
  try {
    const product = mongo.useDb('product_db');
    for (const p of products) {
      const doc = await product
        .collection('products')
        .findOne({ _id: new mongoose.Types.ObjectId(p.id) });
      const available = Number(doc?.available ?? 0);
      const reserved = Number(doc?.reserved ?? 0);
      const sold = Number(doc?.sold ?? 0);
      if (available < 0 || sold > p.stock) oversold++;
      if (available + reserved + sold !== p.stock) stockLeaked++;
    }
    heldReservations = await product
      .collection('reservations')
      .countDocuments({ orderId: { $in: orderIds }, status: 'reserved' });
    for (const db of ['auth_db', 'product_db', 'comments_db']) {
      unsentMongo += await mongo.useDb(db).collection('outbox').countDocuments({ sentAt: null });
    }
  } finally {
    await mongo.close();
  }

  const bus = new RabbitMqEventBus({
    url: platform.env.amqpUrl,
    service: 'faults-inspector',
    prefix: platform.prefix,
    logger: createLogger('faults', 'error'),
  });
  let deadLetters = 0;
  try {
    for (const group of GROUPS) deadLetters += (await bus.listDeadLetters(group)).length;
  } finally {
    await bus.close();
  }

  return {
    placed: orderIds.length,
    confirmed: money.confirmed,
    failed: money.closed,
    stuck: money.open,
    doubleCharged: money.doubleCharged,
    moneyProblems: money.problems,
    oversold,
    stockLeaked,
    heldReservations,
    unsentOutbox:
      (await unsentPg(platform.orderDb.url)) +
      (await unsentPg(platform.paymentDb.url)) +
      unsentMongo,
    deadLetters,
    unanchored:
      (await unanchored(platform.orderDb.url)) + (await unanchored(platform.paymentDb.url)),
    deadProcesses: platform.deadProcesses(),
  };
}

/** The invariants that must hold once the platform has settled; the names of those broken. */
export function broken(o: Outcome): string[] {
  const rules: [keyof Outcome, string][] = [
    ['stuck', 'orders not final'],
    ['oversold', 'products oversold'],
    ['stockLeaked', 'products whose stock is not conserved'],
    ['heldReservations', 'reservations still held'],
    ['unsentOutbox', 'outbox rows not sent'],
    ['deadLetters', 'dead letters'],
    ['unanchored', 'entries not anchored'],
  ];
  const out = [
    ...rules.filter(([k]) => (o[k] as number) > 0).map(([k, what]) => `${o[k]} ${what}`),
    ...o.moneyProblems,
  ];
  if (o.deadProcesses.length) out.push(`processes died: ${o.deadProcesses.join(', ')}`);
  return out;
}

/**
 * Waits until the experiment's invariants hold (the platform has settled) or `timeoutMs`
 * passes; returns the last outcome and how long settling took.
 */
export async function settle(
  platform: ProcessPlatform,
  orderIds: string[],
  products: { id: string; stock: number }[],
  timeoutMs: number,
): Promise<{ outcome: Outcome; settleMs: number }> {
  const started = Date.now();
  for (;;) {
    const outcome = await readOutcome(platform, orderIds, products);
    if (broken(outcome).length === 0 || Date.now() - started > timeoutMs)
      return { outcome, settleMs: Date.now() - started };
    await sleep(1000);
  }
}
