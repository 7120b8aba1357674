import Joi from 'joi';
import type { Connection } from 'mongoose';
import {
  createEvent,
  handleEventOnceMongo,
  type EventBus,
  type EventEnvelope,
  type Logger,
} from '@ecom/common';
import type { Stores } from './store';

export const EVENT_SOURCE = 'comments-service';
export const CONSUMER_GROUP = 'comments';

/** How long sent outbox rows are kept (for debugging) before the relay purges them. */
const SENT_RETENTION_MS = 24 * 3600 * 1000;

/** Payloads as in notes/event-contracts.md (the README lists them too). */
export type CommentEvent =
  | {
      type: 'comment.created';
      data: {
        commentId: string;
        productId: string;
        userId: string;
        rating: number | null;
        parentId: string | null;
      };
    }
  | {
      type: 'comment.updated';
      data: {
        commentId: string;
        productId: string;
        rating: number | null;
        previousRating: number | null;
      };
    }
  | {
      type: 'comment.deleted';
      data: { commentId: string; productId: string; rating: number | null };
    }
  | {
      type: 'comment.flagged';
      data: { commentId: string; productId: string; flags: number; hidden: boolean };
    };

export interface CommentEventPublisher {
  publish(event: CommentEvent): Promise<EventEnvelope>;
  /** Sends every due unsent event now; returns how many were sent. */
  flush(): Promise<number>;
  start(): void;
  stop(): Promise<void>;
}

/**
 * Events go through a small MongoDB outbox: the row is written right after the change, sent
 * at once, and a relay re-sends whatever the bus did not accept until it does (at-least-once;
 * consumers deduplicate by eventId). Without multi-document transactions a crash between the
 * comment write and the outbox insert can still lose that one event (README, "Events").
 */
export function createCommentEventPublisher(deps: {
  bus: EventBus;
  outbox: Stores['outbox'];
  logger: Logger;
  intervalMs: number;
  now?: () => Date;
}): CommentEventPublisher {
  const { bus, outbox, logger } = deps;
  const now = deps.now ?? (() => new Date());
  // The direct send gets this long before the relay may pick the row up too.
  const graceMs = Math.max(1000, deps.intervalMs);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let stopped = false;

  async function send(event: EventEnvelope): Promise<void> {
    await bus.publish(event);
    await outbox.markSent(event.eventId, now());
  }

  let lastPurge = 0;

  async function relayOnce(): Promise<number> {
    // Sent rows are history only: keep them a day for debugging, then drop them.
    if (now().getTime() - lastPurge > 3600_000) {
      lastPurge = now().getTime();
      await outbox.purgeSent(new Date(lastPurge - SENT_RETENTION_MS));
    }
    let sent = 0;
    for (;;) {
      const at = now();
      const row = await outbox.claimDue(at, new Date(at.getTime() + 30_000));
      if (!row) return sent;
      try {
        await send(row.event);
        sent += 1;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        const delay = Math.min(60_000, 1000 * 2 ** Math.min(row.attempts, 6));
        await outbox.recordFailure(row._id, message, new Date(now().getTime() + delay));
        logger.log(row.attempts >= 10 ? 'error' : 'warn', 'outbox send failed', {
          eventId: row._id,
          eventType: row.event.eventType,
          attempts: row.attempts,
          error: message,
        });
        return sent;
      }
    }
  }

  function flush(): Promise<number> {
    running ??= relayOnce().finally(() => {
      running = undefined;
    });
    return running;
  }

  return {
    async publish(event) {
      const envelope = createEvent(EVENT_SOURCE, event.type, event.data);
      const at = now();
      await outbox.add(envelope, at, new Date(at.getTime() + graceMs));
      try {
        await send(envelope);
      } catch (err) {
        logger.warn('event not sent yet; the outbox relay will retry', {
          eventId: envelope.eventId,
          eventType: envelope.eventType,
          error: err instanceof Error ? err.message : String(err),
        });
      }
      return envelope;
    },
    flush,
    start() {
      if (timer || stopped) return;
      timer = setInterval(() => {
        flush().catch((err: unknown) =>
          logger.error('outbox relay failed', { error: err instanceof Error ? err.message : err }),
        );
      }, deps.intervalMs);
      timer.unref();
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },
  };
}

const id = Joi.string().min(1).max(128);
const productDeletedSchema = Joi.object({ productId: id.required() }).unknown(true);
const userDeletedSchema = Joi.object({ userId: id.required() }).unknown(true);
const userNamedSchema = Joi.object({
  userId: id.required(),
  name: Joi.string().min(1).max(200).required(),
}).unknown(true);

/** An event whose data does not match its contract can never succeed: say so plainly. */
function dataOf<T>(schema: Joi.ObjectSchema, event: EventEnvelope): T {
  const { value, error } = schema.validate(event.data);
  if (error) throw new Error(`invalid ${event.eventType} data: ${error.message}`);
  return value as T;
}

export const CONSUMED_EVENT_TYPES = [
  'product.deleted',
  'user.deleted',
  'user.created',
  'user.updated',
];

/**
 * product.deleted → the product is remembered as deleted, then its comments, flags and votes
 * are removed. user.deleted → that user's comments are anonymised and their flags and votes
 * removed. user.created / user.updated → the display name shown on their comments.
 * Each handler runs once per eventId (handleEventOnceMongo) and is idempotent by itself too
 * (replaying it changes nothing), since the marker is not atomic with its writes.
 */
export interface ConsumerHandle {
  /** Refuses further deliveries (the bus redelivers them) and waits for those in flight. */
  stop(): Promise<void>;
}

export async function subscribeCommentConsumers(deps: {
  bus: EventBus;
  connection: Connection;
  stores: Stores;
  logger: Logger;
}): Promise<ConsumerHandle> {
  const { stores, logger } = deps;

  async function handle(event: EventEnvelope): Promise<void> {
    switch (event.eventType) {
      case 'product.deleted': {
        const { productId } = dataOf<{ productId: string }>(productDeletedSchema, event);
        // The marker first: a comment written concurrently sees it and withdraws itself.
        await stores.directory.markProductDeleted(productId, new Date());
        const removed = await stores.comments.removeByProduct(productId);
        await stores.flags.removeByProduct(productId);
        await stores.votes.removeByProduct(productId);
        logger.info('product comments removed', { productId, removed });
        return;
      }
      case 'user.deleted': {
        const { userId } = dataOf<{ userId: string }>(userDeletedSchema, event);
        // The marker first: a comment this user writes concurrently sees it and withdraws.
        await stores.directory.markUserDeleted(userId, new Date());
        const anonymised = await stores.comments.anonymiseAuthor(userId);
        await stores.flags.removeByUser(userId);
        await stores.votes.removeByUser(userId);
        logger.info('user comments anonymised', { userId, anonymised });
        return;
      }
      case 'user.created':
      case 'user.updated': {
        const { userId, name } = dataOf<{ userId: string; name: string }>(userNamedSchema, event);
        if (await stores.directory.setUserName(userId, name, new Date(event.timestamp))) {
          await stores.comments.setAuthorName(userId, name);
        }
        return;
      }
      default:
        return;
    }
  }

  let stopping = false;
  const inFlight = new Set<Promise<unknown>>();
  await deps.bus.subscribe({
    group: CONSUMER_GROUP,
    eventTypes: CONSUMED_EVENT_TYPES,
    handler: async (event) => {
      // A shared bus may deliver after stop(): refuse, so the event is retried, not lost.
      if (stopping) throw new Error('comments service is stopping');
      const run = handleEventOnceMongo(deps.connection, CONSUMER_GROUP, event, () => handle(event));
      inFlight.add(run);
      try {
        await run;
      } finally {
        inFlight.delete(run);
      }
    },
  });
  return {
    async stop() {
      stopping = true;
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}
