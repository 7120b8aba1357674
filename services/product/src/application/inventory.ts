import type { Logger } from '@ecom/common/logging';
import type { Publish, ReservationStore, StockStore } from '../domain/ports';
import { becameLow, chargedPrices, mergeLines, unitsToRestock } from '../domain/stock-rules';
import type { OrderLine, PricedLine, Rejection, Reservation } from '../domain/types';
import { KeyedMutex } from './keyed-mutex';

export type ReserveOutcome =
  | { outcome: 'reserved'; lines: OrderLine[] }
  | { outcome: 'rejected'; rejection: Rejection }
  /** The order was already released or sold: nothing to do, nothing to announce. */
  | { outcome: 'ignored'; status: Reservation['status'] };

export interface InventoryDeps {
  stock: StockStore;
  reservations: ReservationStore;
  /** Throws when the outbox write fails, so the event is redelivered (every step is idempotent). */
  publish: Publish;
  /** Invalidates cached reads of a product whose stock moved. */
  stockChanged: (productIds: string[]) => Promise<void>;
  logger: Logger;
}

/**
 * The product side of the order saga. Stock only moves through conditional updates on the
 * product (never read-then-write); the reservation record per order makes every step
 * idempotent by orderId as well as by eventId.
 */
export class InventoryService {
  private readonly mutex = new KeyedMutex();

  constructor(private readonly deps: InventoryDeps) {}

  /**
   * order.created: reserve every line or none, then announce the outcome. A line's unit price
   * and currency, when given, must still be the product's (else PRICE_CHANGED): order may have
   * priced the order from a reused quote.
   */
  async reserve(orderId: string, items: PricedLine[]): Promise<ReserveOutcome> {
    return this.mutex.run(orderId, async () => {
      const lines = mergeLines(items);
      const prices = chargedPrices(items);
      // Looked up first, though the insert below is the once-only guard: a replay must move no
      // stock of an order already reserved or sold. A sold record's holds may still wait for a
      // retried confirm (a crash mid-sale); taking the duplicate's path would give them back
      // (docs/benchmarks.md, thirty-third round).
      const existing = await this.deps.reservations.find(orderId);
      if (existing) {
        // A rejected or released order holds nothing: a run that crashed after recording that,
        // and before giving its holds back, left them (releaseHold moves only a hold present).
        if (existing.status === 'rejected' || existing.status === 'released')
          await this.undo(orderId, lines);
        return this.announce(existing);
      }

      const held: OrderLine[] = [];
      const lowAlerts: Array<{ productId: string; available: number; threshold: number }> = [];
      let rejection: Rejection | undefined;
      for (const line of lines) {
        const result = await this.deps.stock.hold(
          line.productId,
          orderId,
          line.quantity,
          prices.get(line.productId),
        );
        if (!result.ok) {
          rejection = result.rejection;
          break;
        }
        held.push(line);
        const after = { available: result.available, lowStockThreshold: result.lowStockThreshold };
        if (
          !result.alreadyHeld &&
          becameLow({ ...after, available: after.available + line.quantity }, after)
        ) {
          lowAlerts.push({
            productId: line.productId,
            available: after.available,
            threshold: after.lowStockThreshold,
          });
        }
      }

      if (rejection) {
        // Recorded before the holds go back: a concurrent delivery of this order on another
        // replica may have found our holds (or we theirs, `alreadyHeld`) and reserved. Only
        // when the record says the order is not reserved are its holds given back.
        const saved = await this.deps.reservations.create({
          orderId,
          lines,
          status: 'rejected',
          rejection,
        });
        if (saved.created || saved.existing.status !== 'reserved') {
          await this.undo(orderId, held);
          if (held.length > 0) await this.deps.stockChanged(held.map((l) => l.productId));
        }
        return this.announce(
          saved.created ? { orderId, lines, status: 'rejected', rejection } : saved.existing,
        );
      }

      const saved = await this.deps.reservations.create({
        orderId,
        lines,
        status: 'reserved',
        rejection: null,
      });
      if (!saved.created && saved.existing.status !== 'reserved') {
        // A cancel (or a concurrent duplicate) got there first: its word stands, give ours back.
        await this.undo(orderId, held);
      }
      await this.deps.stockChanged(lines.map((l) => l.productId));
      const outcome = await this.announce(
        saved.created ? { orderId, lines, status: 'reserved', rejection: null } : saved.existing,
      );
      if (outcome.outcome === 'reserved') {
        for (const alert of lowAlerts) await this.deps.publish('product.inventory.low', alert);
      }
      return outcome;
    });
  }

  /** Publishes (again, on a redelivery) what the reservation says; consumers are idempotent. */
  private async announce(
    r: Pick<Reservation, 'orderId' | 'lines' | 'status' | 'rejection'>,
  ): Promise<ReserveOutcome> {
    if (r.status === 'reserved') {
      await this.deps.publish('inventory.reserved', { orderId: r.orderId, items: r.lines });
      return { outcome: 'reserved', lines: r.lines };
    }
    if (r.status === 'rejected' && r.rejection) {
      await this.deps.publish('inventory.rejected', { orderId: r.orderId, ...r.rejection });
      return { outcome: 'rejected', rejection: r.rejection };
    }
    return { outcome: 'ignored', status: r.status };
  }

  /** Sells every hold the reservation still has (none left after a finished sale). */
  private async finishSale(r: Pick<Reservation, 'orderId' | 'lines'>): Promise<void> {
    let moved = false;
    for (const line of r.lines) {
      if (await this.deps.stock.sellHold(line.productId, r.orderId, line.quantity)) moved = true;
    }
    if (moved) await this.deps.stockChanged(r.lines.map((l) => l.productId));
  }

  /** Gives back every hold the reservation still has, last first. */
  private async releaseHolds(r: Pick<Reservation, 'orderId' | 'lines'>): Promise<void> {
    let moved = false;
    for (const line of [...r.lines].reverse()) {
      if (await this.deps.stock.releaseHold(line.productId, r.orderId, line.quantity)) moved = true;
    }
    if (moved) await this.deps.stockChanged(r.lines.map((l) => l.productId));
  }

  /** Gives back already-held lines, last first. */
  private async undo(orderId: string, held: OrderLine[]): Promise<void> {
    for (const line of [...held].reverse()) {
      await this.deps.stock.releaseHold(line.productId, orderId, line.quantity);
    }
  }

  /**
   * The reservation reconciler (a periodic task, run at start too): a reservation still held
   * `heldForMs` after it was made means an order event was lost (order.confirmed, .failed or
   * .cancelled dead-lettered) or the order is still open. Product does not decide which: it
   * asks order (`inventory.reservation.overdue`), which answers with the order's outcome again
   * (order.confirmed, order.failed, order.cancelled; nothing while the order is open), and the
   * answer is handled by confirm() / release() like the first one, so the reconciler and the
   * event handlers cannot disagree. Each reservation is asked about again every `heldForMs`
   * until it moves. Returns how many were asked about.
   */
  async askAboutOverdue(heldForMs: number, batch = 100): Promise<number> {
    let asked = 0;
    for (;;) {
      const overdue = await this.deps.reservations.claimOverdue(heldForMs, batch);
      for (const r of overdue) {
        await this.deps.publish('inventory.reservation.overdue', {
          orderId: r.orderId,
          since: r.updatedAt.toISOString(),
        });
      }
      asked += overdue.length;
      if (overdue.length < batch) break;
    }
    if (asked > 0) this.deps.logger.warn('reservations overdue: asked order', { count: asked });
    return asked;
  }

  /** order.confirmed: the reservation becomes a sale. */
  async confirm(orderId: string): Promise<'sold' | 'ignored'> {
    return this.mutex.run(orderId, async () => {
      // The record is claimed first, then the holds are moved: the mutex is per process, and
      // another replica may be releasing this order at the same moment (order.cancelled taken
      // by it). Moving holds first let the two split the lines (some sold, some released) and
      // leave units sold for a cancelled order. The conditional claim picks one winner, and
      // returns the reservation, so the usual case reads nothing else.
      const claimed = await this.deps.reservations.transition(orderId, 'reserved', 'sold');
      const current = claimed ?? (await this.deps.reservations.find(orderId));
      if (current?.status !== 'sold') {
        this.deps.logger.warn('order.confirmed without a live reservation', {
          orderId,
          status: current?.status ?? 'none',
        });
        return 'ignored';
      }
      // Each hold sold at most once (idempotent): also finishes a sale a crash interrupted.
      await this.finishSale(current);
      return claimed ? 'sold' : 'ignored';
    });
  }

  /**
   * order.failed / order.cancelled: release a live reservation, or restock a sale (a
   * cancelled confirmed order): only the units of `unshipped` when given (order.cancelled's
   * lines: a partly shipped order ended by a full refund keeps what it shipped). Before
   * order.created was handled, a tombstone makes the late reservation give its stock straight
   * back.
   */
  async release(
    orderId: string,
    options: { allowRestock: boolean; unshipped?: OrderLine[] },
  ): Promise<'released' | 'restocked' | 'ignored'> {
    return this.mutex.run(orderId, async () => {
      let r = await this.deps.reservations.find(orderId);
      if (!r) {
        const saved = await this.deps.reservations.create({
          orderId,
          lines: [],
          status: 'released',
          rejection: null,
        });
        if (saved.created) return 'released';
        r = saved.existing;
      }
      // A partly shipped order was confirmed, whatever product saw: its order.confirmed is late
      // (dead-lettered, redelivered later). Its holds are sold first, as confirm would, so the
      // shipped units stay sold and only the others come back below.
      if (r.status === 'reserved' && options.unshipped) {
        const sold = await this.deps.reservations.transition(orderId, 'reserved', 'sold');
        r = sold ?? (await this.deps.reservations.find(orderId)) ?? r;
      }
      // Claimed first, holds moved after (see confirm): one winner across replicas.
      if (r.status === 'reserved') {
        if (await this.deps.reservations.transition(orderId, 'reserved', 'released')) {
          await this.releaseHolds(r);
          return 'released';
        }
        r = (await this.deps.reservations.find(orderId)) ?? r;
      }
      // Finishes a release a crash interrupted (releaseHold is idempotent).
      if (r.status === 'released') await this.releaseHolds(r);
      if (r.status === 'sold' && options.allowRestock) {
        // A sale another replica is still moving: its holds are sold first, exactly once each.
        await this.finishSale(r);
        // Claim the restock first so a redelivery cannot add the units twice.
        if (!(await this.deps.reservations.transition(orderId, 'sold', 'released')))
          return 'ignored';
        const back = options.unshipped ? unitsToRestock(r.lines, options.unshipped) : r.lines;
        for (const line of back) await this.deps.stock.restockSold(line.productId, line.quantity);
        await this.deps.stockChanged(back.map((l) => l.productId));
        return 'restocked';
      }
      return 'ignored';
    });
  }
}
