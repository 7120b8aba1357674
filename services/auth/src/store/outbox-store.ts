import { Schema, trusted, type Connection } from 'mongoose';
import type { EventEnvelope } from '@ecom/common';

interface OutboxDoc {
  /** The event id: a retried insert cannot create a second row. */
  _id: string;
  event: EventEnvelope;
  createdAt: Date;
  /** Earliest time the relay may (re)send it; also its lease against other instances. */
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
    attempts: { type: Number, required: true, default: 0 },
    sentAt: { type: Date, default: null },
    lastError: { type: String, default: null },
  },
  { collection: 'outbox', versionKey: false, minimize: false },
);
outboxSchema.index({ sentAt: 1, nextAttemptAt: 1 });

export function createOutboxStore(connection: Connection) {
  const Outbox = connection.model<OutboxDoc>('Outbox', outboxSchema);

  return {
    model: Outbox,

    async init(): Promise<void> {
      await Outbox.createIndexes();
    },

    async add(event: EventEnvelope, now: Date, firstRelayAt: Date): Promise<void> {
      await Outbox.create({
        _id: event.eventId,
        event,
        createdAt: now,
        nextAttemptAt: firstRelayAt,
        attempts: 0,
      });
    },

    async markSent(eventId: string, now: Date): Promise<void> {
      await Outbox.updateOne({ _id: eventId, sentAt: null }, { $set: { sentAt: now } });
    },

    /**
     * Leases the oldest due unsent event to this relay until `leaseUntil` (so two instances
     * do not send it at the same moment) and counts the attempt.
     */
    async claimDue(now: Date, leaseUntil: Date): Promise<OutboxDoc | null> {
      return Outbox.findOneAndUpdate(
        { sentAt: null, nextAttemptAt: trusted({ $lte: now }) },
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

    /** Sent rows are only history; keep them a while for debugging, then drop them. */
    async purgeSent(before: Date): Promise<number> {
      const result = await Outbox.deleteMany({ sentAt: trusted({ $ne: null, $lt: before }) });
      return result.deletedCount;
    },
  };
}

export type OutboxStore = ReturnType<typeof createOutboxStore>;
