import type { HoldResult, StockStore } from '../domain/ports';
import type { ChargedPrice, RejectionReason } from '../domain/types';
import type { ProductModels } from './models';
import { driverCollection } from './driver-collection';
import { toObjectId } from './object-id';

/**
 * Stock moves on the product document itself. Every move is one conditional update that
 * changes the counters and the order's hold together, so it is race-free under concurrent
 * orders and idempotent per (product, order): a retried hold finds the hold already there,
 * a retried release or sale finds it gone.
 *
 * These are the checkout's commands, so they go through the model's collection (the driver,
 * which still buffers while the connection is down) instead of mongoose queries: their filters
 * and updates are built here from checked values, and mongoose's casting of them cost the caller
 * 0.1-0.5 ms of CPU per command, more than the driver's own work (docs/benchmarks.md). `updatedAt` is set here, as
 * the schema's timestamps would.
 */
export class MongoStockStore implements StockStore {
  private readonly products;

  constructor(models: ProductModels) {
    this.products = driverCollection(models.Product);
  }

  async hold(
    productId: string,
    orderId: string,
    quantity: number,
    price?: ChargedPrice,
  ): Promise<HoldResult> {
    const _id = toObjectId(productId);
    const rejection = (reason: RejectionReason, available: number) =>
      ({ ok: false, rejection: { productId, reason, requested: quantity, available } }) as const;
    if (!_id) return rejection('UNKNOWN_PRODUCT', 0);
    const updated = await this.products.findOneAndUpdate(
      {
        _id,
        status: 'active',
        available: { $gte: quantity },
        'holds.orderId': { $ne: orderId },
        // The price the order charges is checked in the same command that holds the stock.
        ...(price ? { priceCents: price.cents } : {}),
        ...(price?.currency !== undefined ? { currency: price.currency } : {}),
      },
      {
        $inc: { available: -quantity, reserved: quantity },
        $push: { holds: { orderId, quantity } },
        $set: { updatedAt: new Date() },
      },
      { returnDocument: 'after', projection: { available: 1, lowStockThreshold: 1 } },
    );
    if (updated) {
      return {
        ok: true,
        available: updated.available,
        lowStockThreshold: updated.lowStockThreshold,
        alreadyHeld: false,
      };
    }
    // Why not: read only to name the reason; nothing is changed from here on.
    const current = await this.products.findOne(
      { _id },
      {
        projection: {
          available: 1,
          lowStockThreshold: 1,
          status: 1,
          holds: 1,
          priceCents: 1,
          currency: 1,
        },
      },
    );
    if (!current) return rejection('UNKNOWN_PRODUCT', 0);
    if (current.holds.some((h) => h.orderId === orderId)) {
      return {
        ok: true,
        available: current.available,
        lowStockThreshold: current.lowStockThreshold,
        alreadyHeld: true,
      };
    }
    if (current.status !== 'active') return rejection('PRODUCT_UNAVAILABLE', 0);
    if (
      price &&
      (current.priceCents !== price.cents ||
        (price.currency !== undefined && current.currency !== price.currency))
    )
      return rejection('PRICE_CHANGED', current.available);
    return rejection('INSUFFICIENT_STOCK', current.available);
  }

  async releaseHold(productId: string, orderId: string, quantity: number): Promise<boolean> {
    const _id = toObjectId(productId);
    if (!_id) return false;
    const res = await this.products.updateOne(
      { _id, holds: { $elemMatch: { orderId, quantity } } },
      {
        $inc: { available: quantity, reserved: -quantity },
        $pull: { holds: { orderId } },
        $set: { updatedAt: new Date() },
      },
    );
    return res.modifiedCount === 1;
  }

  async sellHold(productId: string, orderId: string, quantity: number): Promise<boolean> {
    const _id = toObjectId(productId);
    if (!_id) return false;
    const res = await this.products.updateOne(
      { _id, holds: { $elemMatch: { orderId, quantity } } },
      {
        $inc: { reserved: -quantity, sold: quantity },
        $pull: { holds: { orderId } },
        $set: { updatedAt: new Date() },
      },
    );
    return res.modifiedCount === 1;
  }

  async restockSold(productId: string, quantity: number): Promise<void> {
    const _id = toObjectId(productId);
    if (!_id) return;
    await this.products.updateOne(
      { _id, sold: { $gte: quantity } },
      { $inc: { available: quantity, sold: -quantity }, $set: { updatedAt: new Date() } },
    );
  }
}
