import { Schema, trusted, type Connection, type Model } from 'mongoose';
import type { Logger } from '../logging/logger';
import { contractEvent } from '../bus/contract-event';
import type { EventEnvelope } from '../bus/envelope';
import type { EventData, EventType } from '../events/contracts';
import { outboxReplayWindowMs, replayTurn, type ReplayTurn } from '../bus/outbox-replay';
import type { EventBus } from '../bus/types';
import { WindowedBatch } from '../util/windowed-batch';
import {
  currentMongoTransaction,
  withMongoTransaction,
  type MongoTransaction,
} from './transaction';

/** One outbox row; `_id` is the event id, so a retried insert cannot create a second row. */
export interface MongoOutboxRow {
  _id: string;
  event: EventEnvelope;
  createdAt: Date;
  /** Earliest time a relay may (re)send it; also its lease against other instances. */
  nextAttemptAt: Date;
  attempts: number;
  sentAt: Date | null;
  lastError: string | null;
}

export interface MongoOutboxOptions {
  /** The service's own connection (never the global mongoose one). */
  connection: Connection;
  /** Collection of the rows. Default 'outbox'. */
  collection?: string;
  bus: EventBus;
  logger: Logger;
  /** Relay poll interval. */
  intervalMs: number;
  /** How long a freshly written row is left to the direct send before a relay may take it. Default 5 s. */
  directSendGraceMs?: number;
  /**
   * How long a write waits for the bus to take its event. Past it the write answers and the
   * send carries on alone; if it fails, the relay sends the row. Default 1 s, under the grace.
   */
  directSendWaitMs?: number;
  /**
   * How long the sent marks wait to share one update. Default 250 ms; never more than half the
   * grace, so a relay never takes a row only because its mark lags.
   */
  markWindowMs?: number;
  /** How long a relay holds a claimed row before another instance may try it. Default 30 s. */
  leaseMs?: number;
  /** Retry delay after a failed send: base * 2^(attempts-1), capped. Defaults 1 s / 60 s. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** A row failing this many times or more logs an error (alert) instead of a warning. Default 10. */
  alertAfterAttempts?: number;
  /** Sent rows older than this are deleted by the relay timer (at most once a minute). Default 1 day. */
  retainSentMs?: number;
  /**
   * Over a bus that is not durable (the in-memory one): how long a sent row counts as possibly
   * undelivered. At its first start the relay sends again the rows sent within this window
   * before the newest send of an earlier run. Default the bus's replayWindowMs; 0 turns it
   * off; a durable bus has none (ADR 0056).
   */
  replayWindowMs?: number;
  /** Clock (tests inject one). */
  now?: () => Date;
}

export interface MongoOutbox {
  /** The rows' model (inspection in tests and tools). */
  readonly model: Model<MongoOutboxRow>;
  /** The connection the rows live on (the service's own). */
  readonly connection: Connection;
  /** Builds the relay's index. */
  init(): Promise<void>;
  /**
   * Records the event and tries to send it at once; a failed send is only logged and left to
   * the relay. Rejects only if the row cannot be written.
   *
   * Outside a transaction the change the event tells of is already stored, so the event goes
   * while its row is written (the row only promises a retry); a row that cannot be written
   * still rejects, though the bus may have taken the event (consumers drop a repeat by its id).
   * Inside a transaction (`tx`, or the one `withMongoTransaction` runs the caller in on this
   * outbox's connection) the row is written in it, so it commits with the state change or
   * not at all, and the immediate send waits for the commit.
   */
  publish(event: EventEnvelope, tx?: MongoTransaction): Promise<void>;
  /**
   * Writes the sent marks waiting for their window, then sends the due unsent rows, oldest
   * written first, until none is left or the bus fails (the failed row is retried after a
   * backoff), and marks them; returns how many were sent.
   */
  flush(): Promise<number>;
  pendingCount(): Promise<number>;
  /** Deletes rows sent before `before`; returns how many. */
  purgeSent(before: Date): Promise<number>;
  /**
   * Starts the relay timer (flush, then purge, every intervalMs). Over a bus that is not
   * durable the first start first makes the rows of the replay window due again and sends them.
   */
  start(): void;
  /** Stops the timer, waits for a flush in progress and writes the waiting sent marks. */
  stop(): Promise<void>;
}

const PURGE_EVERY_MS = 60_000;

function rowSchema(collection: string): Schema<MongoOutboxRow> {
  const schema = new Schema<MongoOutboxRow>(
    {
      _id: { type: String, required: true },
      event: { type: Schema.Types.Mixed, required: true },
      createdAt: { type: Date, required: true },
      nextAttemptAt: { type: Date, required: true },
      attempts: { type: Number, required: true, default: 0 },
      sentAt: { type: Date, default: null },
      lastError: { type: String, default: null },
    },
    { collection, versionKey: false, minimize: false },
  );
  schema.index({ sentAt: 1, nextAttemptAt: 1 });
  return schema;
}

const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * How many of `attempted` unordered updates a failed bulkWrite left undone: its write errors
 * when the server answered (the others were applied), else all of them (the command's fate is
 * unknown, as when the connection dropped).
 */
function unmarkedCount(err: unknown, attempted: number): number {
  const e = err as { name?: string; writeErrors?: unknown } | null;
  if (e?.name !== 'MongoBulkWriteError' || !e.writeErrors) return attempted;
  return Array.isArray(e.writeErrors) ? e.writeErrors.length : 1;
}

/**
 * An event outbox on MongoDB: the row is written in the same transaction as the state change
 * (publish inside `withMongoTransaction`), sent right after the commit, and a relay re-sends
 * every row the bus did not accept (bus down, process killed mid-send) until it does. Delivery
 * is at-least-once and, among due rows, in the order they were written; consumers deduplicate
 * by eventId. A publish outside any transaction writes the row on its own (after the state
 * change: a crash between the two loses that event).
 * Several instances may relay the same collection: a claimed row is leased to one of them.
 * Filters are marked `trusted`, so it works on connections with `sanitizeFilter` too.
 * Over a bus that is not durable (in-memory: what it accepted dies with the process) a sent row
 * may still be undelivered: the first start sends again what an earlier run sent within the
 * replay window (ADR 0056).
 */
export function createMongoOutbox(options: MongoOutboxOptions): MongoOutbox {
  const { connection, bus, logger } = options;
  const collection = options.collection ?? 'outbox';
  const now = options.now ?? (() => new Date());
  const graceMs = options.directSendGraceMs ?? 5000;
  const sendWaitMs = Math.min(options.directSendWaitMs ?? 1000, graceMs);
  const leaseMs = options.leaseMs ?? 30_000;
  const retryBaseMs = options.retryBaseMs ?? 1000;
  const retryMaxMs = options.retryMaxMs ?? 60_000;
  const alertAfter = options.alertAfterAttempts ?? 10;
  const replayWindowMs = outboxReplayWindowMs(bus, options.replayWindowMs);
  // A row the replay may need is never purged first.
  const retainSentMs = Math.max(options.retainSentMs ?? 24 * 3600 * 1000, replayWindowMs);
  // Rows sent from now on are this outbox's: the replay leaves them to its own bus.
  const bornAt = now();
  let replayed = replayWindowMs === 0;
  let turn: ReplayTurn | undefined;
  let replaying: Promise<void> | undefined;
  const modelName = `MongoOutbox_${collection}`;
  // Two outboxes on one connection and collection (e.g. two relays in a test) share the model.
  const model =
    (connection.models[modelName] as Model<MongoOutboxRow> | undefined) ??
    connection.model<MongoOutboxRow>(modelName, rowSchema(collection));

  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<number> | undefined;
  let lastPurge = 0;

  // Every event's own writes (its row, then its sentAt) go through the driver: mongoose would
  // build, cast and validate a document for a row built here (docs/benchmarks.md, sixth round).
  // The connection's collection still buffers while the connection is down, as the model does.
  const rows = connection.collection<MongoOutboxRow>(collection);

  // Sent marks lag their sends by up to a window and share one update command (a statement
  // per row, each with its own time of sending): a row is due to a relay only after the grace
  // (or its lease), far longer than the window.
  const marks = new WindowedBatch<{ id: string; at: Date }>(
    async (sent) => {
      try {
        await rows.bulkWrite(
          sent.map(({ id, at }) => ({
            updateOne: { filter: { _id: id, sentAt: null }, update: { $set: { sentAt: at } } },
          })),
          { ordered: false },
        );
      } catch (err) {
        logger.warn('outbox rows sent but not marked; they will be sent again', {
          count: unmarkedCount(err, sent.length),
          of: sent.length,
          error: errorMessage(err),
        });
      }
    },
    { windowMs: Math.min(options.markWindowMs ?? 250, graceMs / 2, leaseMs / 2), maxItems: 1000 },
  );

  /** Its row's sent mark, written with the window's others, timed when the bus took it. */
  const markSent = (event: EventEnvelope, at = now()) => marks.add({ id: event.eventId, at });

  async function send(event: EventEnvelope): Promise<void> {
    await bus.publish(event);
    markSent(event);
  }

  /** A send that is only logged when it fails: the relay sends the row later. */
  function logUnsent(event: EventEnvelope, err: unknown): void {
    logger.warn('event not sent yet; the outbox relay will retry', {
      eventId: event.eventId,
      eventType: event.eventType,
      error: errorMessage(err),
    });
  }

  /** Leases the oldest due unsent row to this relay and counts the attempt. */
  function claimDue(at: Date) {
    return model
      .findOneAndUpdate(
        { sentAt: null, nextAttemptAt: trusted({ $lte: at }) },
        {
          $set: { nextAttemptAt: new Date(at.getTime() + leaseMs) },
          $inc: { attempts: 1 },
        },
        // Oldest written first among the due rows: after an outage the backlog goes out in order.
        { sort: { createdAt: 1 }, returnDocument: 'after' },
      )
      .lean<MongoOutboxRow>();
  }

  async function flushOnce(): Promise<number> {
    let sent = 0;
    for (;;) {
      const row = await claimDue(now());
      if (!row) return sent;
      try {
        await send(row.event);
        sent += 1;
      } catch (err) {
        const message = errorMessage(err);
        const delay = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.max(0, row.attempts - 1));
        await model.updateOne(
          { _id: row._id, sentAt: null },
          {
            $set: {
              lastError: message.slice(0, 500),
              nextAttemptAt: new Date(now().getTime() + delay),
            },
          },
        );
        logger.log(row.attempts >= alertAfter ? 'error' : 'warn', 'outbox relay send failed', {
          eventId: row._id,
          eventType: row.event.eventType,
          attempts: row.attempts,
          error: message,
        });
        // The bus is failing: end this round instead of hammering it with the rest.
        return sent;
      }
    }
  }

  /** One flush at a time (the timer and a caller may both ask). */
  function flush(): Promise<number> {
    running ??= (async () => {
      await marks.flush();
      const sent = await flushOnce();
      await marks.flush();
      return sent;
    })().finally(() => {
      running = undefined;
    });
    return running;
  }

  /**
   * The rows an earlier run sent within the window before its newest send (a crash came after
   * it; the bus may have died holding them) are due now: the relay sends them again, oldest
   * written first. Two index looks on sentAt; claims take unsent rows only, so none is taken
   * from under a relay.
   */
  async function replaySent(): Promise<void> {
    const newest = await model
      .findOne({ sentAt: trusted({ $ne: null, $lt: bornAt }) }, { sentAt: 1 })
      .sort({ sentAt: -1 })
      .lean<Pick<MongoOutboxRow, 'sentAt'>>();
    if (!newest?.sentAt) return;
    const since = new Date(newest.sentAt.getTime() - replayWindowMs);
    const { modifiedCount } = await model.updateMany(
      { sentAt: trusted({ $gte: since, $lt: bornAt }) },
      { $set: { sentAt: null, nextAttemptAt: now() } },
    );
    if (modifiedCount)
      logger.info('outbox rows sent within the replay window are sent again', {
        collection,
        count: modifiedCount,
        windowMs: replayWindowMs,
      });
  }

  /**
   * The replay, once per outbox and bus (another outbox of this collection on the same live bus
   * has it: replayTurn); a failed one is tried again by the next round.
   */
  function replayOnce(): Promise<void> {
    if (replayed) return Promise.resolve();
    turn ??= replayTurn(
      bus,
      `mongo:${connection.host}:${connection.port}/${connection.name}:${collection}`,
    );
    const mine = turn;
    if (!mine.mine) {
      replayed = true;
      return Promise.resolve();
    }
    replaying ??= replaySent()
      .then(() => {
        replayed = true;
        mine.ran();
      })
      .finally(() => {
        replaying = undefined;
      });
    return replaying;
  }

  async function purgeSent(before: Date): Promise<number> {
    const result = await model.deleteMany({ sentAt: trusted({ $ne: null, $lt: before }) });
    return result.deletedCount;
  }

  async function tick(): Promise<void> {
    // Before the purge: the rows it makes due again are not deleted.
    await replayOnce();
    await flush();
    const at = now().getTime();
    if (at - lastPurge >= PURGE_EVERY_MS) {
      lastPurge = at;
      await purgeSent(new Date(at - retainSentMs));
    }
  }

  function schedule(): void {
    timer = setTimeout(() => {
      tick()
        .catch((err: unknown) =>
          logger.error('outbox relay round failed', { collection, error: errorMessage(err) }),
        )
        .finally(() => {
          if (timer && !stopped) schedule();
        });
    }, options.intervalMs);
    timer.unref();
  }

  return {
    model,
    connection,
    async init() {
      await model.createIndexes();
    },
    async publish(event, explicitTx) {
      const tx = explicitTx ?? currentMongoTransaction(connection);
      const at = now();
      const recorded = rows.insertOne(
        {
          _id: event.eventId,
          event,
          createdAt: at,
          nextAttemptAt: new Date(at.getTime() + graceMs),
          attempts: 0,
          sentAt: null,
          lastError: null,
        },
        // An optional field left undefined is left out, as mongoose did, not stored as null.
        { ignoreUndefined: true, ...(tx ? { session: tx.session } : {}) },
      );
      if (tx) {
        await recorded;
        // A broker that hangs must not hold the answer of a write that committed.
        tx.afterCommit(() =>
          waitAtMost(
            send(event).catch((err: unknown) => logUnsent(event, err)),
            sendWaitMs,
          ),
        );
        return;
      }
      // The change is stored already: the event need not wait for its row (one command fewer
      // on the way to its consumers). It is marked sent only once both are done, so that a
      // mark never looks for a row not written yet.
      // Both outcomes are taken at once: a send refused while the row is still on its way must
      // not be an unhandled rejection.
      const sending = bus.publish(event).then(
        (): { at: Date } | { err: unknown } => ({ at: now() }),
        (err: unknown) => ({ err }),
      );
      const [row] = await Promise.allSettled([recorded]);
      if (row.status === 'rejected') throw row.reason;
      const settled = sending.then((sent) =>
        'at' in sent ? markSent(event, sent.at) : logUnsent(event, sent.err),
      );
      // As in a transaction: past the wait the write answers, and the send goes on alone.
      await waitAtMost(settled, sendWaitMs);
    },
    flush,
    pendingCount: () => model.countDocuments({ sentAt: null }),
    purgeSent,
    start() {
      if (timer) return;
      stopped = false;
      // The replay and its sends go now, not at the first round.
      if (!replayed)
        void replayOnce()
          .then(() => (stopped ? 0 : flush()))
          .catch((err: unknown) =>
            logger.error('outbox replay failed; the relay tries again', {
              collection,
              error: errorMessage(err),
            }),
          );
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await replaying?.catch(() => undefined);
      // Not replayed (the database was down): the next outbox to start on this bus replays.
      if (!replayed) {
        turn?.giveUp();
        turn = undefined;
      }
      await running?.catch(() => undefined);
      await marks.flush();
    },
  };
}

/** What a service's use cases call: contract events in, envelopes out, all through the outbox. */
export interface OutboxEventPublisher {
  /**
   * Builds the envelope (payload checked against its contract, correlation from the context),
   * records it and tries to send it now (after the commit, inside a transaction: see
   * `MongoOutbox.publish`).
   */
  publish<T extends EventType>(
    type: T,
    data: EventData<T>,
    tx?: MongoTransaction,
  ): Promise<EventEnvelope>;
  /**
   * Runs `fn` in one transaction on the outbox's connection (`withMongoTransaction`): the
   * state changes it makes and the events it publishes commit together, and the events are
   * sent after the commit.
   */
  transaction<T>(fn: (tx: MongoTransaction) => Promise<T>): Promise<T>;
  /** True inside `transaction`'s callback (a failed publish must then fail the transaction). */
  inTransaction(): boolean;
  /** Sends every due unsent event now; returns how many were sent. */
  flush(): Promise<number>;
  start(): void;
  stop(): Promise<void>;
}

/** Publishes `source`'s events through `outbox` (the relay is the outbox's own). */
export function outboxEventPublisher(outbox: MongoOutbox, source: string): OutboxEventPublisher {
  return {
    async publish(type, data, tx) {
      const envelope = contractEvent(source, type, data);
      await outbox.publish(envelope, tx);
      return envelope;
    },
    transaction: (fn) => withMongoTransaction(outbox.connection, fn),
    inTransaction: () => currentMongoTransaction(outbox.connection) !== undefined,
    flush: () => outbox.flush(),
    start: () => outbox.start(),
    stop: () => outbox.stop(),
  };
}

/** Resolves when `work` settles or after `ms`, whichever is first; `work` goes on either way. */
function waitAtMost(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  return Promise.race([work.then(() => undefined), elapsed]).finally(() => clearTimeout(timer));
}
