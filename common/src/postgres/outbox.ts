import { EventEmitter } from 'node:events';
import { escapeLiteral, type Notification, type Pool, type PoolClient } from 'pg';
import type { Logger } from '../logging/logger';
import type { Migration } from './migrations';
import type { EventEnvelope } from '../bus/envelope';
import type { EventBus } from '../bus/types';
import { writeAtCommit } from './transaction';

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
 * Records an event in the caller's transaction: it is published only if that transaction
 * commits, and then certainly (the relay retries until the bus accepts it). Nothing reads the
 * row back before the commit, so inside withTransaction it travels with the COMMIT (no round
 * trip of its own); the notification is delivered when the transaction commits (once).
 */
export async function addToOutbox(client: PoolClient, event: EventEnvelope): Promise<void> {
  await writeAtCommit(
    client,
    `WITH written AS (
       INSERT INTO event_outbox (event_id, event_type, payload)
       VALUES (${escapeLiteral(event.eventId)}, ${escapeLiteral(event.eventType)}, ${escapeLiteral(
         JSON.stringify(event),
       )}) RETURNING id
     )
     SELECT pg_notify('${OUTBOX_CHANNEL}', '') FROM written`,
  );
  outboxWrites.emit('written');
}

export interface OutboxRelayOptions {
  pool: Pool;
  bus: EventBus;
  logger: Logger;
  /** Fallback poll when no notification arrives (retries, lost LISTEN connection). Default 500 ms. */
  pollIntervalMs?: number;
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
   * Secrets an event carries only to its consumers, erased from the row once the bus has it
   * (the row is kept for re-sends and audits): event type → dotted paths in the envelope,
   * e.g. `{ 'order.created': ['data.payment.token'] }`.
   */
  eraseOnSend?: Record<string, string[]>;
}

const PLAIN = /^[A-Za-z0-9_.-]+$/;

/** `UPDATE ... SET payload = payload #- '{a,b}'` per erased path, for the sent rows' types. */
function erasureSql(eraseOnSend: Record<string, string[]>, ids: string): string {
  let sql = '';
  for (const [eventType, paths] of Object.entries(eraseOnSend)) {
    if (!PLAIN.test(eventType) || !paths.every((p) => PLAIN.test(p)))
      throw new Error(`eraseOnSend: plain names only (${eventType})`);
    const removals = paths.map((p) => ` #- '{${p.split('.').join(',')}}'`).join('');
    sql += `UPDATE event_outbox SET payload = payload${removals}
              WHERE id = ANY('{${ids}}'::bigint[]) AND event_type = '${eventType}'; `;
  }
  return sql;
}

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
 */
export class OutboxRelay {
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  private readonly alertAfter: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly retainSentMs: number;
  private running = false;
  private timer?: NodeJS.Timeout;
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
    this.batchSize = Math.max(1, Math.floor(options.batchSize ?? 100));
    this.alertAfter = options.alertAfter ?? 5;
    this.retryBaseMs = options.retryBaseMs ?? 500;
    this.retryMaxMs = options.retryMaxMs ?? 60_000;
    this.retainSentMs = options.retainSentMs ?? 7 * 24 * 3600 * 1000;
  }

  /** Starts polling and listening for commits. Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    outboxWrites.on('written', this.onWrite);
    this.listening = this.listen();
    this.nudge();
  }

  /** Stops polling and listening, and waits for the batch in progress. */
  async stop(): Promise<void> {
    this.running = false;
    outboxWrites.off('written', this.onWrite);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.listening;
    await this.releaseListener();
    await this.current?.catch(() => undefined);
    await this.queued?.catch(() => undefined);
  }

  /** Asks for a flush now (coalesced with one in progress). Used on NOTIFY. */
  nudge(): void {
    if (!this.running) return;
    void this.flush().catch((err: unknown) => {
      this.options.logger.error('outbox relay flush failed', { error: errorMessage(err) });
    });
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
    this.current = this.flushLoop().finally(() => {
      this.current = undefined;
      this.schedulePoll();
    });
    return this.current;
  }

  private async flushLoop(): Promise<number> {
    await this.cleanup();
    let total = 0;
    for (;;) {
      const { published, claimed } = await this.flushBatch();
      total += published;
      // A short batch means nothing more is due; a failure waits for its retry time.
      if (claimed < this.batchSize || published < claimed) return total;
    }
  }

  private async flushBatch(): Promise<{ published: number; claimed: number }> {
    const client = await this.options.pool.connect();
    try {
      // BEGIN and the claim in one round trip (a simple query: batchSize is an integer we own).
      const results = (await client.query(
        `BEGIN;
         SELECT id, payload, send_count FROM event_outbox
          WHERE sent_at IS NULL AND next_attempt_at <= now()
          ORDER BY id LIMIT ${this.batchSize} FOR UPDATE SKIP LOCKED`,
      )) as unknown as [unknown, { rows: OutboxRow[] }];
      const { rows } = results[1];
      if (rows.length === 0) {
        await client.query('COMMIT');
        return { published: 0, claimed: 0 };
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
          ? `UPDATE event_outbox SET sent_at = now(), send_count = send_count + 1, last_error = NULL
              WHERE id = ANY('{${sent.join(',')}}'::bigint[]); ` +
            erasureSql(this.options.eraseOnSend ?? {}, sent.join(','))
          : '';
      await client.query(`${mark} COMMIT`);
      return { published: sent.length, claimed: rows.length };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  private async cleanup(): Promise<void> {
    if (this.retainSentMs <= 0 || Date.now() - this.lastCleanup < 60_000) return;
    this.lastCleanup = Date.now();
    await this.options.pool.query(
      `DELETE FROM event_outbox WHERE sent_at IS NOT NULL AND sent_at < now() - $1 * interval '1 millisecond'`,
      [this.retainSentMs],
    );
  }

  private schedulePoll(): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // A lost LISTEN connection is re-established on the poll.
      if (!this.listener && !this.listening) this.listening = this.listen();
      this.nudge();
    }, this.pollIntervalMs);
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
      });
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
      this.listener = client;
      // Rows committed before LISTEN took effect are picked up by this flush.
      this.nudge();
    } catch (err) {
      this.options.logger.warn('outbox LISTEN unavailable, polling only', {
        error: errorMessage(err),
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
