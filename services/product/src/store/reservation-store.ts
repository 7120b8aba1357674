import { Types } from 'mongoose';
import { isDuplicateKey } from '@ecom/common/mongo';
import type { ReservationStore } from '../domain/ports';
import type { Reservation, ReservationStatus } from '../domain/types';
import { driverCollection } from './driver-collection';
import type { ProductModels, ReservationDoc } from './models';

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

/**
 * The saga's reservation per order. `find`, `create` and `transition` are the checkout's
 * commands and go through the model's collection (the driver), as the stock moves do (see
 * MongoStockStore); they set the schema's defaults and timestamps themselves.
 */
export class MongoReservationStore implements ReservationStore {
  private readonly reservations;

  constructor(private readonly models: ProductModels) {
    this.reservations = driverCollection(models.Reservation);
  }

  async find(orderId: string): Promise<Reservation | null> {
    const doc = await this.reservations.findOne({ orderId });
    return doc ? toReservation(doc) : null;
  }

  async create(
    input: Pick<Reservation, 'orderId' | 'lines' | 'status' | 'rejection'>,
  ): Promise<{ created: true } | { created: false; existing: Reservation }> {
    const now = new Date();
    const doc: ReservationDoc = {
      _id: new Types.ObjectId(),
      orderId: input.orderId,
      lines: input.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })),
      status: input.status,
      rejection: input.rejection,
      checkedAt: null,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.reservations.insertOne(doc);
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
  ): Promise<Reservation | null> {
    // The moved document comes back with the move: no second read for the caller.
    const doc = await this.reservations.findOneAndUpdate(
      { orderId, status: from },
      { $set: { status: to, updatedAt: new Date() } },
      { returnDocument: 'after' },
    );
    return doc ? toReservation(doc) : null;
  }

  async claimOverdue(heldForMs: number, limit: number): Promise<Reservation[]> {
    const claimed: Reservation[] = [];
    while (claimed.length < limit) {
      const now = new Date();
      const before = new Date(now.getTime() - heldForMs);
      // One conditional update per reservation: another instance claiming at the same time
      // finds `checkedAt` already moved and takes the next one. `updatedAt` is left alone (it
      // dates the last status change), hence `timestamps: false`.
      const doc = await this.models.Reservation.findOneAndUpdate(
        {
          status: 'reserved',
          updatedAt: { $lte: before },
          $or: [{ checkedAt: null }, { checkedAt: { $lte: before } }],
        },
        { $set: { checkedAt: now } },
        { sort: { updatedAt: 1 }, returnDocument: 'after', timestamps: false },
      ).lean<ReservationDoc>();
      if (!doc) break;
      claimed.push(toReservation(doc));
    }
    return claimed;
  }
}
