import type mongoose from 'mongoose';
import type { HandleOutcome } from '../bus/consumer';
import type { EventEnvelope } from '../bus/envelope';
import { isDuplicateKey } from './errors';

export const PROCESSED_EVENTS_COLLECTION = 'processed_events';

interface Marker {
  _id: string;
  consumer: string;
  eventId: string;
  eventType: string;
  state: 'processing' | 'done';
  startedAt: Date;
  doneAt?: Date;
  runs: number;
}

export interface MongoOnceOptions {
  /**
   * How long a 'processing' marker belongs to the delivery that wrote it. A second delivery
   * meanwhile waits (it is probably a redelivery racing the first); after it the first is
   * presumed dead (crash) and fn is run again. Default 15 s.
   */
  leaseMs?: number;
}

/**
 * Idempotent consumer for MongoDB without multi-document transactions (the stand-in has none,
 * and a replica set is not guaranteed). A marker `{ _id: consumer|eventId, state }` is
 * inserted FIRST ('processing'; _id makes it unique), fn runs, the marker turns 'done':
 * - a delivery that finds 'done' returns 'duplicate' without running fn;
 * - if fn throws, the marker is removed and the error propagates (the bus retries);
 * - if the process dies between insert and 'done', the marker stays 'processing' and the next
 *   delivery runs fn AGAIN once the lease expired. fn's writes are not atomic with the marker,
 *   so fn MUST be idempotent by business key (conditional updates that name the state they
 *   leave, upserts keyed by the event's business id); the marker only keeps the common case
 *   (a plain redelivery) from redoing work.
 */
export async function handleEventOnceMongo(
  connection: mongoose.Connection,
  consumer: string,
  event: EventEnvelope,
  fn: () => Promise<void>,
  options: MongoOnceOptions = {},
): Promise<HandleOutcome> {
  const leaseMs = options.leaseMs ?? 15_000;
  const markers = connection.collection<Marker>(PROCESSED_EVENTS_COLLECTION);
  const _id = `${consumer}|${event.eventId}`;
  /** Inserts a fresh marker; its startedAt, or undefined when another delivery holds the key. */
  const insertMarker = async (): Promise<Date | undefined> => {
    const startedAt = new Date();
    try {
      await markers.insertOne({
        _id,
        consumer,
        eventId: event.eventId,
        eventType: event.eventType,
        state: 'processing',
        startedAt,
        runs: 1,
      });
      return startedAt;
    } catch (err) {
      if (isDuplicateKey(err)) return undefined;
      throw err;
    }
  };

  let mine = await insertMarker();
  for (let wait = 25; !mine; wait = Math.min(500, wait * 2)) {
    const marker = await markers.findOne({ _id });
    if (!marker) {
      // Removed after a failed run: take it over, unless another delivery wins the race.
      mine = await insertMarker();
      continue;
    }
    if (marker.state === 'done') return 'duplicate';
    if (Date.now() - marker.startedAt.getTime() >= leaseMs) {
      // Stale (its delivery died): take it over atomically; only one matches the old startedAt.
      const startedAt = new Date();
      const taken = await markers.updateOne(
        { _id, state: 'processing', startedAt: marker.startedAt },
        { $set: { startedAt }, $inc: { runs: 1 } },
      );
      if (taken.modifiedCount === 1) mine = startedAt;
      continue;
    }
    await sleep(wait);
  }
  try {
    await fn();
  } catch (err) {
    // Only our own claim: a delivery that took over a marker we held too long keeps it.
    await markers.deleteOne({ _id, state: 'processing', startedAt: mine }).catch(() => undefined);
    throw err;
  }
  await markers.updateOne({ _id }, { $set: { state: 'done', doneAt: new Date() } });
  return 'handled';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
