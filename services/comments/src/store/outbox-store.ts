import { Schema, type Connection } from 'mongoose';
import type { EventEnvelope } from '@ecom/common';

export interface OutboxDoc {
  /** The event id, so a retried insert cannot create a second row. */
  _id: string;
  event: EventEnvelope;
  createdAt: Date;
  /** Earliest time the relay may (re)send it; doubles as a lease between instances. */
  nextAttemptAt: Date;
  attempts: number;
  sentAt: Date | null;
  lastError: string | null;
}

const outboxSchema = new Schema<OutboxDoc>(
  {
    _id: { type: String, required: true },
    event: { type: Schema.Types.Mixed, required: true },
    createdAt: { type: Date, required: true },
    nextAttemptAt: { type: Date, required: true },
    attempts: { type: Number, default: 0 },
    sentAt: { type: Date, default: null },
    lastError: { type: String, default: null },
  },
  { collection: 'outbox', versionKey: false, minimize: false },
);
outboxSchema.index({ sentAt: 1, nextAttemptAt: 1 });

export function createOutboxStore(connection: Connection) {
  const Outbox = connection.model<OutboxDoc>('Outbox', outboxSchema);
  return {
    async add(event: EventEnvelope, now: Date, firstRelayAt: Date): Promise<void> {
      await Outbox.create([
        { _id: event.eventId, event, createdAt: now, nextAttemptAt: firstRelayAt, attempts: 0 },
      ]);
    },

    async markSent(eventId: string, now: Date): Promise<void> {
      await Outbox.updateOne({ _id: eventId, sentAt: null }, { $set: { sentAt: now } });
    },

    /** Leases the oldest due unsent event until `leaseUntil` and counts the attempt. */
    async claimDue(now: Date, leaseUntil: Date): Promise<OutboxDoc | null> {
      return Outbox.findOneAndUpdate(
        { sentAt: null, nextAttemptAt: { $lte: now } },
        { $set: { nextAttemptAt: leaseUntil }, $inc: { attempts: 1 } },
        { sort: { nextAttemptAt: 1 }, returnDocument: 'after' },
      ).lean<OutboxDoc>();
    },

    async recordFailure(eventId: string, error: string, retryAt: Date): Promise<void> {
      await Outbox.updateOne(
        { _id: eventId, sentAt: null },
        { $set: { lastError: error.slice(0, 500), nextAttemptAt: retryAt } },
      );
    },

    async pendingCount(): Promise<number> {
      return Outbox.countDocuments({ sentAt: null });
    },

    async purgeSent(before: Date): Promise<number> {
      const res = await Outbox.deleteMany({ sentAt: { $ne: null, $lt: before } });
      return res.deletedCount;
    },
  };
}

export type OutboxStore = ReturnType<typeof createOutboxStore>;
