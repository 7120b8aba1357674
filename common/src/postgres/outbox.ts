import { EventEmitter } from 'node:events';
import { type Notification, type Pool, type PoolClient } from 'pg';
import type { Logger } from '../logging/logger';
import { RepeatedLog } from '../logging/repeated';
import type { Migration } from './migrations';
import type { EventEnvelope } from '../bus/envelope';
import { outboxReplayWindowMs, replayTurn, type ReplayTurn } from '../bus/outbox-replay';
import type { EventBus } from '../bus/types';
import { WindowedBatch } from '../util/windowed-batch';
import { afterCommit, transactionPool, writeAtCommit } from './transaction';

/** Channel the outbox NOTIFYs on commit, so relays publish at once instead of at the next poll. */
export const OUTBOX_CHANNEL = 'event_outbox';

/**
 * In-process signal of a row written (not yet committed). Relays of this process whose LISTEN
 * has not (yet) received anything flush on the next turn: on PGlite (embedded run) that flush
 * queues behind the writer's transaction and sees the row as soon as it commits. On PostgreSQL
 * the NOTIFY sent at commit wakes every relay, in any process.
 */
const outboxWrites = new EventEmitter().setMaxListeners(0);

/**
 * The outbox table. Rows are written in the transaction of the state change (addToOutbox) and
 * published by the relay; `sent_at` marks them done, `send_count`/`last_error` keep failures.
 * Id '000_outbox' sorts before a service's own '001_...' migrations.
 */
export const outboxMigration: Migration = {
  id: '000_outbox',
  sql: `
    CREATE TABLE IF NOT EXISTS event_outbox (
      id bigserial PRIMARY KEY,
      event_id uuid NOT NULL UNIQUE,
      event_type text NOT NULL,
      payload jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      send_count integer NOT NULL DEFAULT 0,
      last_error text,
      sent_at timestamptz
    );
    CREATE INDEX IF NOT EXISTS event_outbox_unsent ON event_outbox (id) WHERE sent_at IS NULL;
    CREATE INDEX IF NOT EXISTS event_outbox_sent_at ON event_outbox (sent_at) WHERE sent_at IS NOT NULL;
  `,
};

/**
 * The index a relay reads its next wake-up from: the earliest unsent row not yet due (one in its
 * direct-send grace, or waiting for a retry), one index entry away however long the backlog.
 */
export const outboxDueMigration: Migration = {
  id: '000_outbox_due',
  sql: `CREATE INDEX IF NOT EXISTS event_outbox_due ON event_outbox (next_attempt_at) WHERE sent_at IS NULL`,
};

/** The outbox's migrations, in order: spread into a service's list. */
export const outboxMigrations: Migration[] = [outboxMigration, outboxDueMigration];

/** Names the outbox table a pool reaches, for its replay (one per bus: replayTurn). */
function outboxKey(pool: Pool): string {
  const o = pool.options;
  return `postgres:${o.connectionString ?? `${o.host}:${o.port}/${o.database}`}:event_outbox`;
}

/** Started relays, by the pool whose committed rows they send at once (see sendCommitted). */
const directSenders = new WeakMap<Pool, OutboxRelay>();

/**
 * Records an event in the caller's transaction: it is published only if that transaction
 * commits, and then certainly (the relay retries until the bus accepts it). Nothing reads the
 * row back before the commit, so inside withTransaction it travels with the COMMIT (no round
 * trip of its own).
 *
 * Inside withTransaction on a pool whose relay runs in this process, the event is published
 * right after the COMMIT from memory and its row marked sent; the row is due to the relay
 * only after the relay's grace, so the relay sends it only if that did not happen (the bus
 * refused it, or the process died first). Anywhere else the row is due at once and a NOTIFY,
 * delivered at the commit, wakes the relays.
 */
export async function addToOutbox(client: PoolClient, event: EventEnvelope): Promise<void> {
  const values = [event.eventId, event.eventType, JSON.stringify(event)];
  const pool = transactionPool(client);
  const relay = pool && directSenders.get(pool);
  if (relay) {
    await writeAtCommit(client, {
      text: `INSERT INTO event_outbox (event_id, event_type, payload, next_attempt_at)
       VALUES ($1, $2, $3, now() + interval '${relay.directSendGraceMs} milliseconds')`,
      values,
    });
    afterCommit(client, () => relay.sendCommitted(event));
    return;
  }
  await writeAtCommit(client, {
    text: `WITH written AS (
       INSERT INTO event_outbox (event_id, event_type, payload) VALUES ($1, $2, $3) RETURNING id
     )
     SELECT pg_notify('${OUTBOX_CHANNEL}', '') FROM written`,
    values,
  });
  outboxWrites.emit('written');
}

export interface OutboxRelayOptions {
  pool: Pool;
  bus: EventBus;
  logger: Logger;
  /** How often the relay looks for due rows while it has no LISTEN connection. Default 500 ms. */
  pollIntervalMs?: number;
  /**
   * How often it looks anyway while LISTEN is up. In between it sleeps until the earliest row
   * it knows of comes due (a retry, a direct send's grace) or a NOTIFY wakes it; this look finds
   * what nothing announces: a row whose writer died before its direct send, a notification a
   * silently broken connection lost. Default 5 s.
   */
  listeningPollMs?: number;
  /** Rows locked and published per transaction. Default 100. */
  batchSize?: number;
  /** A row whose send_count reaches this logs an error (alert) on every further failure. Default 5. */
  alertAfter?: number;
  /** Retry delay after a failed send: base * 2^(sendCount-1), capped. Defaults 500 ms / 60 s. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Sent rows older than this are deleted (checked at most once a minute). Default 7 days; 0 keeps them. */
  retainSentMs?: number;
  /**
   * How long a row its writer sends itself after the commit (addToOutbox inside withTransaction
   * on this relay's pool, once started) is left to that send before the relay may take it.
   * Default 5 s: the delay of an event whose direct send failed.
   */
  directSendGraceMs?: number;
  /**
   * How long the sent marks of directly sent rows wait to share one UPDATE. Default 250 ms;
   * never more than half the grace, so a relay never takes a row only because its mark lags.
   * A row of a type with eraseOnSend paths is marked (and erased) at once.
   */
  markWindowMs?: number;
  /**
   * Secrets an event carries only to its consumers, erased from the row once the bus has it
   * (the row is kept for re-sends and audits): event type → dotted paths in the envelope,
   * e.g. `{ 'order.created': ['data.payment.token'] }`. Over a bus that is not durable, once
   * the row's send is older than the replay window instead (the replay needs them).
   */
  eraseOnSend?: Record<string, string[]>;
  /**
   * Over a bus that is not durable (the in-memory one): how long a sent row counts as possibly
   * undelivered. The relay's first run after start sends again the rows sent within this
   * window before the newest send of an earlier run, and keeps their secrets until it is over.
   * Default the bus's replayWindowMs; 0 turns it off; a durable bus has none (ADR 0056).
   */
  replayWindowMs?: number;
}

const PLAIN = /^[A-Za-z0-9_.-]+$/;

/** Each type's secret paths as text arrays (`'{a,b}'`); names checked, since they are written in. */
function secretPaths(eraseOnSend: Record<string, string[]>): [string, string[]][] {
  return Object.entries(eraseOnSend)
    .filter(([, paths]) => paths.length > 0)
    .map(([eventType, paths]) => {
      if (!PLAIN.test(eventType) || !paths.every((p) => PLAIN.test(p)))
        throw new Error(`eraseOnSend: plain names only (${eventType})`);
      return [eventType, paths.map((p) => `'{${p.split('.').join(',')}}'`)];
    });
}

/** `payload` without each type's secret paths (`payload #- '{a,b}'`); null: nothing to erase. */
function erasedPayloadSql(eraseOnSend: Record<string, string[]>): string | null {
  const cases = secretPaths(eraseOnSend).map(
    ([eventType, paths]) =>
      ` WHEN '${eventType}' THEN payload${paths.map((p) => ` #- ${p}`).join('')}`,
  );
  return cases.length > 0 ? `CASE event_type${cases.join('')} ELSE payload END` : null;
}

/**
 * The UPDATE that marks rows sent: sent_at, the count, and the erasure of each type's
 * secret paths in the same statement.
 */
function markSentSql(eraseOnSend: Record<string, string[]>, where: string): string {
  const erased = erasedPayloadSql(eraseOnSend);
  const erase = erased ? `, payload = ${erased}` : '';
  return `UPDATE event_outbox SET sent_at = now(), send_count = send_count + 1, last_error = NULL${erase}
           WHERE ${where} AND sent_at IS NULL`;
}

/**
 * Over a bus that is not durable: erases the secrets of rows sent before the window ($1 ms),
 * from $2 on (where the last pass stopped), and returns where this one stops. Only rows still
 * carrying one are written; the range is one stretch of the sent_at index.
 */
function eraseExpiredSql(eraseOnSend: Record<string, string[]>): string | null {
  const erased = erasedPayloadSql(eraseOnSend);
  if (!erased) return null;
  const carries = secretPaths(eraseOnSend)
    .map(
      ([eventType, paths]) =>
        `(event_type = '${eventType}' AND (${paths.map((p) => `payload #> ${p} IS NOT NULL`).join(' OR ')}))`,
    )
    .join(' OR ');
  return `WITH bound AS (SELECT now() - $1 * interval '1 millisecond' AS upto),
     erased AS (
       UPDATE event_outbox SET payload = ${erased} FROM bound
        WHERE sent_at < bound.upto AND sent_at >= $2::timestamptz AND (${carries})
       RETURNING 1
     )
     SELECT upto, (SELECT count(*) FROM erased)::int AS erased FROM bound`;
}

/**
 * Over a bus that is not durable, at a relay's first run: the rows sent within the window ($1
 * ms) before the newest send (a crash came after it; the bus may have died holding them) are
 * due again, and the claim sends them in id order. Two index looks: the newest sent_at, then
 * the range before it. Claims lock unsent rows only, so this never waits on one.
 */
const REPLAY_SQL = `UPDATE event_outbox SET sent_at = NULL, next_attempt_at = now()
   WHERE sent_at >= (SELECT max(sent_at) FROM event_outbox) - $1 * interval '1 millisecond'`;

/** How far a pass of the erasure looks back before where the last one stopped: marks that committed late. */
const ERASE_OVERLAP_MS = 60_000;

interface OutboxRow {
  id: string;
  payload: EventEnvelope;
  send_count: number;
}

/**
 * Publishes outbox rows to the bus. Several relays (instances) may run against one database:
 * each batch is claimed with FOR UPDATE SKIP LOCKED, so a row is published by one relay at a
 * time. A row is marked sent only after the bus accepted it; a failure increments send_count,
 * keeps last_error and schedules a retry with backoff, so nothing stays unsent silently.
 * Delivery is at-least-once (a crash between publish and commit re-publishes the row).
 *
 * Once started, the relay also sends what its pool's transactions in this process commit, as
 * they commit (sendCommitted): no NOTIFY, claim or lock on that path, and the marks of rows
 * sent within one window (markWindowMs) share one UPDATE. The claim loop is then the safety net.
 *
 * Over a bus that is not durable (in-memory: what it accepted dies with the process) a sent row
 * may still be undelivered: the first run after start sends again what was sent within the
 * replay window, and secrets are erased only once a row's send is older than it (ADR 0056).
 */
/** A store down for minutes: one line about it per this long, not one per poll. */
const REPEATED_FAILURE_LOG_MS = 30_000;

export class OutboxRelay {
  private readonly flushFailures = new RepeatedLog(REPEATED_FAILURE_LOG_MS);
  private readonly listenFailures = new RepeatedLog(REPEATED_FAILURE_LOG_MS);
  private readonly pollIntervalMs: number;
  private readonly listeningPollMs: number;
  private readonly batchSize: number;
  private readonly alertAfter: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly retainSentMs: number;
  /** See OutboxRelayOptions.directSendGraceMs; a whole number of milliseconds. */
  readonly directSendGraceMs: number;
  private readonly markSql: string;
  /** What a mark erases: eraseOnSend over a durable bus, nothing over one that is not. */
  private readonly erasedAtSend: Record<string, string[]>;
  /** See OutboxRelayOptions.replayWindowMs; 0: erase at send, replay nothing. */
  private readonly replayWindowMs: number;
  /** The erasure of secrets whose window is over (null: none to erase, or erased at send). */
  private readonly eraseSql: string | null;
  private readonly eraseEveryMs: number;
  private lastErase = 0;
  /** Where the last erasure pass stopped (null: none yet, the first looks at every sent row). */
  private erasedUpTo: Date | null = null;
  /** Its part in its outbox's replay on its bus, from start() until it ran (see replayTurn). */
  private replay?: ReplayTurn;
  /** Its outbox's replay on its bus ran, or is another relay's: a later start takes no turn. */
  private replayed = false;
  /**
   * Sent marks wait for the replay, so that the newest send it starts from is an earlier run's.
   * Open when no replay is pending; stop() opens it.
   */
  private replayGate: Promise<void> = Promise.resolve();
  private openReplayGate = (): void => undefined;
  private running = false;
  /** Direct sends under way (stop waits for them). */
  private readonly sending = new Set<Promise<void>>();
  /** Event ids sent directly and not yet marked: one UPDATE per window. */
  private readonly marks: WindowedBatch<string>;
  private timer?: NodeJS.Timeout;
  /** When the timer fires (ms since the epoch). */
  private timerAt = Infinity;
  /** The earliest row the last run saw not yet due, in ms from the run's end; null: none. */
  private dueInMs: number | null = null;
  private listener?: PoolClient;
  private listening?: Promise<void>;
  private current?: Promise<number>;
  /** The one run queued behind the current one. */
  private queued?: Promise<number>;
  private lastCleanup = 0;
  /** Set by the first notification: from then on NOTIFY alone wakes the relay. */
  private notifyWorks = false;
  // Until NOTIFY proved to work (PGlite may not deliver it), in-process writes wake the relay.
  // Not after: a flush started before the writer's COMMIT finds nothing and delays the real one.
  private readonly onWrite = () => {
    if (!this.notifyWorks) setImmediate(() => this.nudge());
  };

  constructor(private readonly options: OutboxRelayOptions) {
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
    this.listeningPollMs = options.listeningPollMs ?? 5000;
    this.batchSize = Math.max(1, Math.floor(options.batchSize ?? 100));
    this.alertAfter = options.alertAfter ?? 5;
    this.retryBaseMs = options.retryBaseMs ?? 500;
    this.retryMaxMs = options.retryMaxMs ?? 60_000;
    this.replayWindowMs = outboxReplayWindowMs(options.bus, options.replayWindowMs);
    const retain = options.retainSentMs ?? 7 * 24 * 3600 * 1000;
    // A row the replay may need is never deleted first.
    this.retainSentMs = retain > 0 ? Math.max(retain, this.replayWindowMs) : retain;
    this.directSendGraceMs = Math.max(0, Math.round(options.directSendGraceMs ?? 5000));
    // Built now, so a bad eraseOnSend fails at construction rather than at a send.
    const eraseOnSend = options.eraseOnSend ?? {};
    this.erasedAtSend = this.replayWindowMs > 0 ? {} : eraseOnSend;
    this.markSql = markSentSql(this.erasedAtSend, 'event_id = ANY($1::uuid[])');
    this.eraseSql = this.replayWindowMs > 0 ? eraseExpiredSql(eraseOnSend) : null;
    this.eraseEveryMs = Math.min(60_000, Math.max(1, Math.floor(this.replayWindowMs / 4)));
    this.marks = new WindowedBatch((ids) => this.markSent(ids), {
      windowMs: Math.min(options.markWindowMs ?? 250, this.directSendGraceMs / 2),
      maxItems: 1000,
    });
  }

  /** Starts polling and listening for commits. Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    if (this.replayWindowMs > 0 && !this.replayed) {
      const turn = replayTurn(this.options.bus, outboxKey(this.options.pool));
      if (turn.mine) this.replay = turn;
      else this.replayed = true;
      const stopped = new Promise<void>((resolve) => (this.openReplayGate = resolve));
      this.replayGate = Promise.race([turn.done, stopped]);
    }
    // One direct sender per pool (two relays on one pool in a process: the first started).
    if (!directSenders.has(this.options.pool)) directSenders.set(this.options.pool, this);
    outboxWrites.on('written', this.onWrite);
    this.listening = this.listen();
    this.nudge();
  }

  /** Stops polling and listening, and waits for the batch in progress. */
  async stop(): Promise<void> {
    this.running = false;
    if (directSenders.get(this.options.pool) === this) directSenders.delete(this.options.pool);
    outboxWrites.off('written', this.onWrite);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.listening;
    await this.releaseListener();
    await this.current?.catch(() => undefined);
    await this.queued?.catch(() => undefined);
    await Promise.all(this.sending);
    // Not replayed (the database was down): the marks go anyway; the next start replays them.
    this.replay?.giveUp();
    this.replay = undefined;
    this.openReplayGate();
    await this.marks.flush();
  }

  /**
   * Publishes an event whose row its writer has just committed (see addToOutbox), then queues
   * the row's sent mark (marks of one window share an UPDATE). A refused publish is only logged: the row comes due after the grace and the
   * claim loop sends it. A stopped relay leaves it to the claim loop of the next start.
   */
  sendCommitted(event: EventEnvelope): void {
    if (!this.running) return;
    const sent = this.options.bus.publish(event).then(
      () => {
        this.marks.add(event.eventId);
        // A secret does not wait for the window: its row is marked, and erased, now (with the
        // marks waiting beside it).
        if (this.erasedAtSend[event.eventType]?.length) void this.marks.flush();
      },
      (err: unknown) => {
        this.options.logger.warn('event not sent yet; the outbox relay will retry', {
          eventId: event.eventId,
          eventType: event.eventType,
          error: errorMessage(err),
        });
        // Its row comes due when the grace ends (counted from before the COMMIT): look then.
        this.wakeIn(this.directSendGraceMs);
      },
    );
    this.sending.add(sent);
    void sent.finally(() => this.sending.delete(sent));
  }

  /**
   * Marks directly sent rows. A mark that fails leaves them unsent: they come due after the
   * grace and go again (consumers deduplicate).
   */
  private async markSent(ids: string[]): Promise<void> {
    await this.replayGate;
    try {
      await this.options.pool.query(this.markSql, [ids]);
    } catch (err) {
      this.options.logger.warn('outbox rows sent but not marked; they will be sent again', {
        count: ids.length,
        error: errorMessage(err),
      });
      this.wakeIn(this.directSendGraceMs);
    }
  }

  /** Asks for a flush now (coalesced with one in progress). Used on NOTIFY. */
  nudge(): void {
    if (!this.running) return;
    void this.flush().then(
      () => {
        if (this.flushFailures.reset() > 0) this.options.logger.info('outbox relay flushes again');
      },
      (err: unknown) => {
        const repeated = this.flushFailures.take();
        if (repeated)
          this.options.logger.error('outbox relay flush failed', {
            error: errorMessage(err),
            ...repeated,
          });
      },
    );
  }

  /**
   * Publishes every row that is due now, batch after batch, and returns how many were
   * published. Calls arriving during a flush share one more run after it, so rows committed
   * before the call are always covered.
   */
  flush(): Promise<number> {
    if (!this.current) return this.run();
    this.queued ??= this.current
      .catch(() => 0)
      .then(() => {
        this.queued = undefined;
        return this.run();
      });
    return this.queued;
  }

  private run(): Promise<number> {
    this.current = this.flushLoop()
      .catch((err: unknown) => {
        // A pass that failed (the database, the pool) looks again at the short poll, LISTEN or not.
        this.dueInMs = this.pollIntervalMs;
        throw err;
      })
      .finally(() => {
        this.current = undefined;
        this.schedulePoll();
      });
    return this.current;
  }

  private async flushLoop(): Promise<number> {
    this.dueInMs = null;
    // Before the erasure and the claims: the rows it makes due again keep their secrets.
    const turn = this.replay;
    if (turn) {
      await this.replaySent();
      turn.ran();
      this.replay = undefined;
      this.replayed = true;
    }
    await this.cleanup();
    let total = 0;
    for (;;) {
      const { published, claimed, dueInMs } = await this.flushBatch();
      total += published;
      // A short batch means nothing more is due; a failure waits for its retry time.
      if (claimed < this.batchSize || published < claimed) {
        this.dueInMs = dueInMs;
        return total;
      }
    }
  }

  private async flushBatch(): Promise<{
    published: number;
    claimed: number;
    dueInMs: number | null;
  }> {
    const client = await this.options.pool.connect();
    try {
      // BEGIN, the claim and when the next row comes due, in one round trip (a simple query:
      // batchSize is an integer we own). now() is the transaction's: the two reads split at it.
      const results = (await client.query(
        `BEGIN;
         SELECT id, payload, send_count FROM event_outbox
          WHERE sent_at IS NULL AND next_attempt_at <= now()
          ORDER BY id LIMIT ${this.batchSize} FOR UPDATE SKIP LOCKED;
         SELECT ceil(EXTRACT(EPOCH FROM min(next_attempt_at) - now()) * 1000)::float8 AS due_in_ms
           FROM event_outbox WHERE sent_at IS NULL AND next_attempt_at > now()`,
      )) as unknown as [
        unknown,
        { rows: OutboxRow[] },
        { rows: Array<{ due_in_ms: number | null }> },
      ];
      const { rows } = results[1];
      let dueInMs = results[2].rows[0]?.due_in_ms ?? null;
      if (rows.length === 0) {
        await client.query('COMMIT');
        return { published: 0, claimed: 0, dueInMs };
      }
      // Issued in insertion order on the bus's connection; awaited together for throughput.
      const outcomes = await Promise.allSettled(
        rows.map((row) => this.options.bus.publish(row.payload)),
      );
      const sent: string[] = [];
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i];
        const result = outcomes[i];
        if (result.status === 'fulfilled') {
          sent.push(row.id);
          continue;
        }
        const attempts = row.send_count + 1;
        const error = errorMessage(result.reason).slice(0, 2000);
        const delay = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** (attempts - 1));
        dueInMs = Math.min(dueInMs ?? delay, delay);
        await client.query(
          `UPDATE event_outbox SET send_count = $2, last_error = $3,
             next_attempt_at = now() + $4 * interval '1 millisecond' WHERE id = $1`,
          [row.id, attempts, error, delay],
        );
        const meta = {
          eventId: row.payload.eventId,
          eventType: row.payload.eventType,
          sendCount: attempts,
          error,
        };
        if (attempts >= this.alertAfter)
          this.options.logger.error('outbox event repeatedly unpublishable', meta);
        else this.options.logger.warn('outbox publish failed, will retry', meta);
      }
      // Mark and COMMIT in one round trip; ids are bigserial digits read from the table.
      if (!sent.every((id) => /^\d+$/.test(id))) throw new Error('unexpected outbox row id');
      const mark =
        sent.length > 0
          ? `${markSentSql(this.erasedAtSend, `id = ANY('{${sent.join(',')}}'::bigint[])`)}; `
          : '';
      await client.query(`${mark} COMMIT`);
      return { published: sent.length, claimed: rows.length, dueInMs };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Makes the rows sent within the window before the newest send due again (see REPLAY_SQL). */
  private async replaySent(): Promise<void> {
    const { rowCount } = await this.options.pool.query(REPLAY_SQL, [this.replayWindowMs]);
    if (rowCount)
      this.options.logger.info('outbox rows sent within the replay window are sent again', {
        count: rowCount,
        windowMs: this.replayWindowMs,
      });
  }

  /** Erases the secrets of rows whose send is older than the window (see eraseExpiredSql). */
  private async eraseExpired(): Promise<void> {
    if (!this.eraseSql || Date.now() - this.lastErase < this.eraseEveryMs) return;
    this.lastErase = Date.now();
    const from = this.erasedUpTo
      ? new Date(this.erasedUpTo.getTime() - ERASE_OVERLAP_MS)
      : '-infinity';
    const { rows } = await this.options.pool.query<{ upto: Date }>(this.eraseSql, [
      this.replayWindowMs,
      from,
    ]);
    this.erasedUpTo = rows[0]?.upto ?? this.erasedUpTo;
  }

  private async cleanup(): Promise<void> {
    await this.eraseExpired();
    if (this.retainSentMs <= 0 || Date.now() - this.lastCleanup < 60_000) return;
    this.lastCleanup = Date.now();
    await this.options.pool.query(
      `DELETE FROM event_outbox WHERE sent_at IS NOT NULL AND sent_at < now() - $1 * interval '1 millisecond'`,
      [this.retainSentMs],
    );
  }

  /**
   * After a run: the next look when the earliest row it saw comes due, and no later than the
   * poll (long while LISTEN is up: a NOTIFY wakes the relay for everything else). A look set
   * for sooner stays (one asked for during the run: a refused direct send's row).
   */
  private schedulePoll(): void {
    let poll = this.listener ? this.listeningPollMs : this.pollIntervalMs;
    // Secrets kept for the window are erased by a run: one comes at least that often.
    if (this.eraseSql) poll = Math.min(poll, this.eraseEveryMs);
    this.wakeIn(Math.min(poll, this.dueInMs ?? poll));
  }

  /** Looks for due rows in `ms`, unless a look is set for sooner. */
  private wakeIn(ms: number): void {
    if (!this.running) return;
    const at = Date.now() + Math.max(0, ms);
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      // A lost LISTEN connection is re-established on the poll.
      if (!this.listener && !this.listening) this.listening = this.listen();
      this.nudge();
    }, at - Date.now());
    this.timer.unref?.();
  }

  /** LISTEN on a dedicated connection; without it (e.g. a proxy that drops it) polling still works. */
  private async listen(): Promise<void> {
    try {
      const client = await this.options.pool.connect();
      if (!this.running) {
        client.release();
        return;
      }
      client.on('notification', (msg: Notification) => {
        if (msg.channel !== OUTBOX_CHANNEL) return;
        this.notifyWorks = true;
        this.nudge();
      });
      client.on('error', (err: Error) => {
        this.options.logger.warn('outbox listener lost', { error: err.message });
        this.notifyWorks = false;
        if (this.listener === client) this.listener = undefined;
        client.release(err);
        // Without LISTEN, nothing announces new rows: back to the short poll, which listens again.
        this.wakeIn(this.pollIntervalMs);
      });
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
      this.listener = client;
      this.listenFailures.reset();
      // Rows committed before LISTEN took effect are picked up by this flush.
      this.nudge();
    } catch (err) {
      const repeated = this.listenFailures.take();
      if (repeated)
        this.options.logger.warn('outbox LISTEN unavailable, polling only', {
          error: errorMessage(err),
          ...repeated,
        });
    } finally {
      this.listening = undefined;
    }
  }

  private async releaseListener(): Promise<void> {
    const client = this.listener;
    this.listener = undefined;
    if (!client) return;
    client.removeAllListeners('notification');
    await client.query(`UNLISTEN ${OUTBOX_CHANNEL}`).catch(() => undefined);
    client.removeAllListeners('error');
    client.release();
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
