import type { HoldResult, RatingStore, ReservationStore, StockStore } from '../domain/ports';
import type { Reservation, ReservationStatus } from '../domain/types';
import { toObjectId } from './catalog-store';
import { isDuplicateKey, type ProductModels, type ReservationDoc } from './models';

/**
 * Stock moves on the product document itself. Every move is one conditional update that
 * changes the counters and the order's hold together, so it is race-free under concurrent
 * orders and idempotent per (product, order): a retried hold finds the hold already there,
 * a retried release or sale finds it gone.
 */
export class MongoStockStore implements StockStore {
  constructor(private readonly models: ProductModels) {}

  async hold(productId: string, orderId: string, quantity: number): Promise<HoldResult> {
    const _id = toObjectId(productId);
    const rejection = (
      reason: 'UNKNOWN_PRODUCT' | 'INSUFFICIENT_STOCK' | 'PRODUCT_UNAVAILABLE',
      available: number,
    ) => ({ ok: false, rejection: { productId, reason, requested: quantity, available } }) as const;
    if (!_id) return rejection('UNKNOWN_PRODUCT', 0);
    const updated = await this.models.Product.findOneAndUpdate(
      { _id, status: 'active', available: { $gte: quantity }, 'holds.orderId': { $ne: orderId } },
      {
        $inc: { available: -quantity, reserved: quantity },
        $push: { holds: { orderId, quantity } },
      },
      { returnDocument: 'after', projection: { available: 1, lowStockThreshold: 1 } },
    ).lean();
    if (updated) {
      return {
        ok: true,
        available: updated.available,
        lowStockThreshold: updated.lowStockThreshold,
        alreadyHeld: false,
      };
    }
    // Why not: read only to name the reason; nothing is changed from here on.
    const current = await this.models.Product.findOne({ _id })
      .select({ available: 1, lowStockThreshold: 1, status: 1, holds: 1 })
      .lean();
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
    return rejection('INSUFFICIENT_STOCK', current.available);
  }

  async releaseHold(productId: string, orderId: string, quantity: number): Promise<boolean> {
    const _id = toObjectId(productId);
    if (!_id) return false;
    const res = await this.models.Product.updateOne(
      { _id, holds: { $elemMatch: { orderId, quantity } } },
      { $inc: { available: quantity, reserved: -quantity }, $pull: { holds: { orderId } } },
    );
    return res.modifiedCount === 1;
  }

  async sellHold(productId: string, orderId: string, quantity: number): Promise<boolean> {
    const _id = toObjectId(productId);
    if (!_id) return false;
    const res = await this.models.Product.updateOne(
      { _id, holds: { $elemMatch: { orderId, quantity } } },
      { $inc: { reserved: -quantity, sold: quantity }, $pull: { holds: { orderId } } },
    );
    return res.modifiedCount === 1;
  }

  async restockSold(productId: string, quantity: number): Promise<void> {
    const _id = toObjectId(productId);
    if (!_id) return;
    await this.models.Product.updateOne(
      { _id, sold: { $gte: quantity } },
      { $inc: { available: quantity, sold: -quantity } },
    );
  }
}

function toReservation(doc: ReservationDoc): Reservation {
  return {
    orderId: doc.orderId,
    lines: doc.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })),
    status: doc.status,
    rejection: doc.rejection ?? null,
    createdAt: new Date(doc.createdAt),
    updatedAt: new Date(doc.updatedAt),
  };
}

export class MongoReservationStore implements ReservationStore {
  constructor(private readonly models: ProductModels) {}

  async find(orderId: string): Promise<Reservation | null> {
    const doc = await this.models.Reservation.findOne({ orderId }).lean<ReservationDoc>();
    return doc ? toReservation(doc) : null;
  }

  async create(
    input: Pick<Reservation, 'orderId' | 'lines' | 'status' | 'rejection'>,
  ): Promise<{ created: true } | { created: false; existing: Reservation }> {
    try {
      await this.models.Reservation.create(input);
      return { created: true };
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      const existing = await this.find(input.orderId);
      if (!existing) throw err;
      return { created: false, existing };
    }
  }

  async transition(
    orderId: string,
    from: ReservationStatus,
    to: ReservationStatus,
  ): Promise<boolean> {
    const res = await this.models.Reservation.updateOne(
      { orderId, status: from },
      { $set: { status: to } },
    );
    return res.modifiedCount === 1;
  }
}

export class MongoRatingStore implements RatingStore {
  constructor(private readonly models: ProductModels) {}

  async recordReview(
    change: 'created' | 'updated' | 'deleted',
    review: { commentId: string; productId: string; rating: number | null },
  ): Promise<boolean> {
    const { commentId, productId, rating } = review;
    try {
      if (change === 'created') {
        // Insert only: a later update or delete that arrived first keeps its word.
        const res = await retryOnDuplicate(() =>
          this.models.Review.updateOne(
            { commentId },
            { $setOnInsert: { commentId, productId, rating, deleted: false } },
            { upsert: true },
          ),
        );
        if (res.matchedCount === 1) {
          // A comment.flagged that came first left a placeholder without the rating.
          await this.models.Review.updateOne(
            { commentId, pending: true },
            { $set: { rating, pending: false } },
          );
        }
        return res.upsertedCount === 1 || res.matchedCount === 1;
      }
      if (change === 'updated') {
        const res = await this.models.Review.updateOne(
          { commentId, deleted: false },
          { $set: { rating, pending: false }, $setOnInsert: { productId } },
          { upsert: true },
        );
        return res.upsertedCount === 1 || res.matchedCount === 1;
      }
      await this.models.Review.updateOne(
        { commentId },
        { $set: { deleted: true, rating: null }, $setOnInsert: { productId } },
        { upsert: true },
      );
      return true;
    } catch (err) {
      // The upsert hit the tombstone of a deleted review: the change is refused.
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  async recordVisibility(review: {
    commentId: string;
    productId: string;
    hidden: boolean;
    at: Date;
  }): Promise<boolean> {
    const { commentId, productId, hidden, at } = review;
    // Newer than what is recorded (or never flagged); at equal times "hidden" wins.
    const notNewer = hidden ? { $not: { $gt: at } } : { $not: { $gte: at } };
    try {
      const res = await retryOnDuplicate(() =>
        this.models.Review.updateOne(
          { commentId, visibilityAt: notNewer },
          {
            $set: { hidden, visibilityAt: at },
            $setOnInsert: { productId, rating: null, deleted: false, pending: true },
          },
          { upsert: true },
        ),
      );
      return res.upsertedCount === 1 || res.matchedCount === 1;
    } catch (err) {
      // The review exists with a newer moderation state: this older one is refused.
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  async recompute(productId: string): Promise<{ average: number; count: number } | null> {
    const _id = toObjectId(productId);
    if (!_id) return null;
    const bumped = await this.models.Product.findOneAndUpdate(
      { _id },
      { $inc: { ratingRev: 1 } },
      { returnDocument: 'after', projection: { ratingRev: 1 }, timestamps: false },
    ).lean();
    if (!bumped) return null;
    const reviews = await this.models.Review.find({
      productId,
      deleted: false,
      hidden: { $ne: true },
      rating: { $ne: null },
    })
      .select({ rating: 1 })
      .lean();
    const count = reviews.length;
    const sum = reviews.reduce((acc, r) => acc + (r.rating ?? 0), 0);
    const average = count === 0 ? 0 : Math.round((sum * 100) / count) / 100;
    // Only the newest recomputation writes: it read every review recorded before its bump.
    await this.models.Product.updateOne(
      { _id, ratingRev: bumped.ratingRev },
      { $set: { ratingAverage: average, ratingCount: count } },
      { timestamps: false },
    );
    return { average, count };
  }
}

/**
 * Runs an upsert once more when it lost an insert race on the unique commentId (another
 * event of the same review inserted first): the second run matches that document. A
 * duplicate key on the second run means the filter refused the existing document.
 */
async function retryOnDuplicate<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    return write();
  }
}
