import Joi from 'joi';
import type { Connection } from 'mongoose';
import {
  handleEventOnceMongo,
  outboxEventPublisher,
  type EventBus,
  type EventEnvelope,
  type Logger,
  type MongoOutbox,
  type OutboxEventPublisher,
} from '@ecom/common';
import type { Stores } from './store';

export const EVENT_SOURCE = 'comments-service';
export const CONSUMER_GROUP = 'comments';

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

export type CommentEventPublisher = OutboxEventPublisher<CommentEvent>;

/**
 * Events go through the shared MongoDB outbox (@ecom/common createMongoOutbox): the row is
 * written right after the change, sent at once, and the relay re-sends whatever the bus did
 * not accept until it does (at-least-once; consumers deduplicate by eventId). Without
 * multi-document transactions a crash between the comment write and the outbox insert can
 * still lose that one event (README, "Events").
 */
export function createCommentEventPublisher(outbox: MongoOutbox): CommentEventPublisher {
  return outboxEventPublisher<CommentEvent>(outbox, EVENT_SOURCE);
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
