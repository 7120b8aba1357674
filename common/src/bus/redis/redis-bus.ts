import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import Redis from 'ioredis';
import { parseEnvelope, type EventEnvelope } from '../envelope';
import { dispatchDelivery, InFlight } from '../dispatch';
import { brokerSettings, type BrokerBusOptions } from '../broker';
import {
  DEFAULT_CONSUMER_CONCURRENCY,
  idsNotFound,
  retryDelayMs,
  selectsDeadLetter,
} from '../types';
import type {
  DeadLetter,
  DeadLetterSelection,
  DiscardResult,
  EventBus,
  ReplayResult,
  SubscribeOptions,
} from '../types';
import { inEventContext } from '../../tracing/event-spans';

export interface RedisStreamsEventBusOptions extends BrokerBusOptions {
  /** Names the connections (CLIENT LIST) and the consumers of this instance. */
  service: string;
  /** Key namespace (default 'ecom'): streams `<prefix>:events:<type>`, `<prefix>:dead-letter:<group>`. */
  prefix?: string;
  /** Handlers running at once per subscription (default DEFAULT_CONSUMER_CONCURRENCY, 16). */
  concurrency?: number;
  /** Pending entries idle this long are presumed orphaned by a dead consumer and reclaimed (default 30 s). */
  claimIdleMs?: number;
  /** Approximate cap of each stream (XADD MAXLEN ~), default 100 000 entries. */
  maxLen?: number;
  /** A publish waits this long for a (re)connection before failing (default 10 s). */
  publishTimeoutMs?: number;
}

type Entry = [id: string, fields: string[] | null];

interface Subscription extends SubscribeOptions {
  conn: Redis;
  streams: string[];
  running: boolean;
  groupsReady: boolean;
  /** Read this consumer's own pending entries first (after a reconnect, a lost XREADGROUP reply). */
  recoverOwn: boolean;
  lastSweep: number;
  active: number;
  wake?: () => void;
  /** `${stream} ${id}` of entries being handled or waiting for their local retry. */
  local: Set<string>;
  /** When an entry retried here first failed, by `${stream} ${id}` (for its dead letter). */
  firstFailures: Map<string, string>;
  timers: Set<NodeJS.Timeout>;
  loop?: Promise<void>;
}

/**
 * Redis Streams adapter (not pub/sub): one stream per event type, one consumer group per
 * subscribing service. Entries stay in the stream and in the group's pending list until XACKed
 * after the handler succeeded, so a consumer that was down reads what was published meanwhile,
 * and entries left pending by a dead consumer are reclaimed with XAUTOCLAIM after claimIdleMs.
 * A failed entry is retried by its consumer after an increasing delay (XCLAIM bumps the
 * delivery count, which is the attempt number); after maxAttempts it is written to
 * `<prefix>:dead-letter:<group>` with the reason and XACKed, in one MULTI.
 */
export class RedisStreamsEventBus implements EventBus {
  /** What it accepted is the broker's: a crash of this process loses none of it. */
  readonly durable = true;
  private readonly settings: ReturnType<typeof brokerSettings>;
  private readonly concurrency: number;
  private readonly claimIdleMs: number;
  private readonly maxLen: number;
  private readonly consumer: string;
  private readonly commands: Redis;
  private readonly subscriptions: Subscription[] = [];
  private readonly inFlight = new InFlight();
  private closed = false;

  constructor(private readonly options: RedisStreamsEventBusOptions) {
    this.settings = brokerSettings(options);
    this.concurrency = options.concurrency ?? DEFAULT_CONSUMER_CONCURRENCY;
    // Longer than the longest retry delay: an entry waiting for its retry is not a dead consumer's.
    this.claimIdleMs = options.claimIdleMs ?? Math.max(30_000, 2 * this.settings.policy.maxDelayMs);
    this.maxLen = options.maxLen ?? 100_000;
    this.consumer = `${options.service}:${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    // Auto-pipelining batches the XADDs and XACKs issued in one tick into one round trip.
    this.commands = this.connect(`${this.settings.prefix}:${options.service}:commands`, true);
  }

  streamKey(eventType: string): string {
    return `${this.settings.prefix}:events:${eventType}`;
  }

  deadLetterKey(group: string): string {
    return `${this.settings.prefix}:dead-letter:${group}`;
  }

  /**
   * Where a replay to one group goes: a stream only that group reads (for the type, so the
   * subscription taking the type gets it), not the type's stream every group shares.
   */
  replayKey(group: string, eventType: string): string {
    return `${this.settings.prefix}:replay:${group}:${eventType}`;
  }

  async publish(event: EventEnvelope): Promise<void> {
    await inEventContext(event, () => this.publishRaw(JSON.stringify(event), event.eventType));
  }

  /** Appends a raw message to a type's stream (tests and tools; consumers validate it). */
  async publishRaw(raw: string, eventType: string): Promise<void> {
    if (this.closed) throw new Error('event bus is closed');
    // Queued by ioredis while reconnecting; bounded so a caller (the outbox) can retry later.
    await withTimeout(
      this.commands.xadd(this.streamKey(eventType), 'MAXLEN', '~', this.maxLen, '*', 'event', raw),
      this.settings.publishTimeoutMs,
      'publish to Redis timed out',
    );
  }

  async subscribe(options: SubscribeOptions): Promise<void> {
    if (this.closed) throw new Error('event bus is closed');
    const sub: Subscription = {
      ...options,
      conn: this.connect(
        `${this.settings.prefix}:${this.options.service}:consumer:${options.group}`,
      ),
      streams: [...new Set(options.eventTypes)].flatMap((type) => [
        this.streamKey(type),
        this.replayKey(options.group, type),
      ]),
      running: true,
      groupsReady: false,
      recoverOwn: false,
      lastSweep: Date.now(),
      active: 0,
      local: new Set(),
      firstFailures: new Map(),
      timers: new Set(),
    };
    // After a reconnect, entries whose XREADGROUP reply was lost are in our pending list.
    let connectedOnce = false;
    sub.conn.on('ready', () => {
      if (connectedOnce) sub.recoverOwn = true;
      connectedOnce = true;
    });
    try {
      await withTimeout(
        this.ensureGroups(sub),
        this.settings.publishTimeoutMs,
        'Redis is unreachable (subscribe timed out)',
      );
    } catch (err) {
      sub.running = false;
      sub.conn.disconnect();
      throw err;
    }
    this.subscriptions.push(sub);
    sub.loop = this.consume(sub);
  }

  async health(): Promise<void> {
    if (this.closed) throw new Error('event bus is closed');
    // A consumer connection is busy in XREADGROUP BLOCK; its status tells whether it is up.
    for (const { conn } of this.subscriptions) {
      if (!['ready', 'connect', 'connecting'].includes(conn.status))
        throw new Error(`Redis consumer connection is ${conn.status}`);
    }
    await withTimeout(this.commands.ping(), 2000, 'Redis ping timed out');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const sub of this.subscriptions) {
      sub.running = false;
      for (const timer of sub.timers) clearTimeout(timer);
      sub.timers.clear();
      sub.wake?.();
      // Interrupts the blocking XREADGROUP; what it might have returned stays pending for others.
      sub.conn.disconnect();
    }
    await Promise.all(this.subscriptions.map((sub) => sub.loop));
    const drained = await withTimeout(
      this.inFlight.drain(),
      this.settings.closeTimeoutMs,
      'drain timed out',
    ).then(
      () => true,
      () => false,
    );
    if (!drained) this.options.logger.warn('event bus closed with handlers still running');
    // Bounded: with Redis unreachable these would wait for a reconnection forever.
    await withTimeout(this.forgetConsumer(), 2000, 'forget consumer timed out').catch(
      () => undefined,
    );
    if (this.commands.status === 'ready') {
      await withTimeout(this.commands.quit(), 1000, 'quit timed out').catch(() => undefined);
    }
    this.commands.disconnect();
  }

  /** The dead letters of a group, oldest first, each named by its entry id. */
  async listDeadLetters(group: string): Promise<DeadLetter[]> {
    return (await this.deadLetterEntries(group)).map(({ letter }) => letter);
  }

  /**
   * Adds the selected dead letters to the group's replay stream of their type (read by that
   * group only) and deletes them, in one MULTI each: no other group sees the event again.
   */
  async replayDeadLetters(group: string, select: DeadLetterSelection = {}): Promise<ReplayResult> {
    const result: ReplayResult = { replayed: 0, skipped: 0 };
    const matched: string[] = [];
    for (const { letter } of await this.deadLetterEntries(group)) {
      if (!selectsDeadLetter(select, letter)) continue;
      matched.push(letter.id);
      if (!letter.event) {
        result.skipped++;
        continue;
      }
      const replayStream = this.replayKey(group, letter.event.eventType);
      await this.createGroup(replayStream, group, '0');
      await this.commands
        .multi()
        .xadd(replayStream, 'MAXLEN', '~', this.maxLen, '*', 'event', JSON.stringify(letter.event))
        .xdel(this.deadLetterKey(group), letter.id)
        .exec();
      result.replayed++;
    }
    const notFound = idsNotFound(select, matched);
    return notFound ? { ...result, notFound } : result;
  }

  /** Deletes the selected dead letters (XDEL): they are never delivered again. */
  async discardDeadLetters(group: string, select: DeadLetterSelection): Promise<DiscardResult> {
    const chosen = (await this.deadLetterEntries(group))
      .map(({ letter }) => letter)
      .filter((letter) => selectsDeadLetter(select, letter))
      .map((letter) => letter.id);
    // XDEL counts what it deleted: a concurrent discard of the same id is counted once.
    const discarded = chosen.length
      ? await this.commands.xdel(this.deadLetterKey(group), ...chosen)
      : 0;
    const notFound = idsNotFound(select, chosen);
    return { discarded, ...(notFound ? { notFound } : {}) };
  }

  private async deadLetterEntries(group: string) {
    const entries = (await this.commands.xrange(this.deadLetterKey(group), '-', '+')) as Entry[];
    return entries.map(([id, fields]) => {
      const f = toRecord(fields ?? []);
      const parsed = parseEnvelope(f.message ?? '');
      const letter: DeadLetter = {
        id,
        group: f.group ?? group,
        reason: f.reason ?? '',
        attempts: Number(f.attempts ?? 0),
        ...(parsed.ok ? { event: parsed.event } : { raw: f.message ?? '' }),
        deadAt: f.deadAt ?? '',
        ...(f.firstFailedAt ? { firstFailedAt: f.firstFailedAt } : {}),
      };
      return { letter, stream: f.stream ?? '' };
    });
  }

  private connect(name: string, enableAutoPipelining = false): Redis {
    const conn = new Redis(this.options.url, {
      connectionName: name,
      enableAutoPipelining,
      // RESP2 replies: XREADGROUP as [[stream, entries]] whatever the client's default protocol.
      protocol: 2,
      // Commands wait for the reconnection instead of failing after N retries.
      maxRetriesPerRequest: null,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    });
    conn.on('error', (err: Error) => {
      if (!this.closed)
        this.options.logger.warn('Redis event bus connection error', {
          connection: name,
          error: err.message,
        });
    });
    return conn;
  }

  private async ensureGroups(sub: Subscription): Promise<void> {
    const replayPrefix = `${this.settings.prefix}:replay:`;
    for (const stream of sub.streams) {
      // '$': a new group starts with what is published from now on (like a new RabbitMQ queue);
      // a replay stream is the group's own, so everything in it is for the group ('0').
      await this.createGroup(stream, sub.group, stream.startsWith(replayPrefix) ? '0' : '$');
    }
    sub.groupsReady = true;
  }

  private async createGroup(stream: string, group: string, start: '$' | '0'): Promise<void> {
    try {
      await this.commands.xgroup('CREATE', stream, group, start, 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
  }

  private async consume(sub: Subscription): Promise<void> {
    const sweepEveryMs = Math.max(50, Math.min(this.claimIdleMs / 2, 5000));
    let backoff = 50;
    while (sub.running) {
      try {
        if (!sub.groupsReady) await this.ensureGroups(sub);
        if (sub.recoverOwn) {
          sub.recoverOwn = false;
          await this.recoverOwnPending(sub);
        }
        if (Date.now() - sub.lastSweep >= sweepEveryMs) {
          sub.lastSweep = Date.now();
          await this.reclaim(sub);
        }
        // Read again once half the slots are free: batches of reads, not one round trip per entry.
        while (sub.active > this.concurrency / 2 && sub.running) {
          await new Promise<void>((resolve) => (sub.wake = resolve));
        }
        if (!sub.running) break;
        const reply = (await sub.conn.call(
          'XREADGROUP',
          'GROUP',
          sub.group,
          this.consumer,
          'COUNT',
          this.concurrency - sub.active,
          'BLOCK',
          Math.min(1000, sweepEveryMs),
          'STREAMS',
          ...sub.streams,
          ...sub.streams.map(() => '>'),
        )) as [string, Entry[]][] | null;
        for (const [stream, entries] of reply ?? []) {
          for (const [id, fields] of entries) this.start(sub, stream, id, fields, 1);
        }
        backoff = 50;
      } catch (err) {
        if (!sub.running) break;
        const message = (err as Error).message;
        // The stream or group vanished (e.g. Redis restarted without persistence): recreate.
        if (message.includes('NOGROUP')) sub.groupsReady = false;
        this.options.logger.warn('Redis consumer loop error', { group: sub.group, error: message });
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 2000);
      }
    }
  }

  private start(
    sub: Subscription,
    stream: string,
    id: string,
    fields: string[] | null,
    attempt: number,
  ): void {
    const key = `${stream} ${id}`;
    if (sub.local.has(key)) return;
    if (!fields) {
      // Trimmed away while pending: nothing left to handle.
      void this.commands.xack(stream, sub.group, id).catch(() => undefined);
      return;
    }
    sub.local.add(key);
    sub.active++;
    void this.inFlight
      .track(this.handle(sub, stream, id, toRecord(fields).event, attempt))
      .catch((err: unknown) => {
        // Only bus failures land here (ack / dead-letter write): the entry stays pending and is retried.
        sub.local.delete(key);
        this.options.logger.warn('Redis event bus could not settle an entry', {
          id,
          error: (err as Error).message,
        });
      })
      .finally(() => {
        sub.active--;
        sub.wake?.();
      });
  }

  private async handle(
    sub: Subscription,
    stream: string,
    id: string,
    raw: string | undefined,
    attempt: number,
  ): Promise<void> {
    const key = `${stream} ${id}`;
    const parsed = parseEnvelope(raw ?? '');
    if (!parsed.ok) {
      await this.deadLetter(sub, stream, id, raw ?? '', parsed.reason, attempt);
      sub.local.delete(key);
      return;
    }
    const { policy } = this.settings;
    const failure = await dispatchDelivery(this.options.logger, sub, parsed.event, attempt, policy);
    if (failure?.deadLetter) {
      const firstFailedAt = sub.firstFailures.get(key);
      await this.deadLetter(sub, stream, id, raw ?? '', failure.reason, attempt, firstFailedAt);
      sub.firstFailures.delete(key);
      sub.local.delete(key);
      return;
    }
    if (failure) {
      if (!sub.firstFailures.has(key)) sub.firstFailures.set(key, new Date().toISOString());
      return this.scheduleRetry(sub, stream, id, attempt);
    }
    await this.commands.xack(stream, sub.group, id);
    sub.firstFailures.delete(key);
    sub.local.delete(key);
  }

  /** The entry stays pending meanwhile: if this process dies, another consumer reclaims it. */
  private scheduleRetry(sub: Subscription, stream: string, id: string, attempt: number): void {
    const key = `${stream} ${id}`;
    const timer = setTimeout(
      () => {
        sub.timers.delete(timer);
        if (!sub.running) return;
        void (async () => {
          // XCLAIM increments the delivery count and resets the idle time (others leave it alone).
          const claimed = (await this.commands.call(
            'XCLAIM',
            stream,
            sub.group,
            this.consumer,
            0,
            id,
          )) as Entry[];
          sub.local.delete(key);
          const entry = claimed[0];
          if (entry) this.start(sub, stream, entry[0], entry[1], attempt + 1);
          else sub.firstFailures.delete(key);
        })().catch((err: unknown) => {
          // Left pending; the reclaim sweep or the recovery after reconnect picks it up.
          sub.local.delete(key);
          this.options.logger.warn('Redis retry claim failed', {
            id,
            error: (err as Error).message,
          });
        });
      },
      retryDelayMs(this.settings.policy, attempt),
    );
    sub.timers.add(timer);
  }

  private async deadLetter(
    sub: Subscription,
    stream: string,
    id: string,
    raw: string,
    reason: string,
    attempts: number,
    firstFailure?: string,
  ): Promise<void> {
    this.options.logger.error('event dead-lettered', {
      group: sub.group,
      stream,
      id,
      reason,
      attempts,
    });
    const deadAt = new Date().toISOString();
    // Unknown when another consumer retried it before (it died): left out rather than guessed.
    const firstFailedAt = firstFailure ?? (attempts === 1 ? deadAt : undefined);
    const written = await this.commands
      .multi()
      .xadd(
        this.deadLetterKey(sub.group),
        'MAXLEN',
        '~',
        this.maxLen,
        '*',
        'group',
        sub.group,
        'reason',
        reason.slice(0, 2000),
        'attempts',
        attempts,
        'stream',
        stream,
        'id',
        id,
        'deadAt',
        deadAt,
        ...(firstFailedAt ? ['firstFailedAt', firstFailedAt] : []),
        'message',
        raw,
      )
      .xack(stream, sub.group, id)
      .exec();
    const parsed = parseEnvelope(raw);
    sub.onDeadLetter?.({
      id: String(written?.[0]?.[1] ?? ''),
      group: sub.group,
      reason,
      attempts,
      ...(parsed.ok ? { event: parsed.event } : { raw }),
      deadAt,
      ...(firstFailedAt ? { firstFailedAt } : {}),
    });
  }

  /** Up to `count` entries of a stream pending on this consumer: [id, consumer, idle ms, deliveries]. */
  private async ownPending(stream: string, group: string, count: number) {
    return (await this.commands.call(
      'XPENDING',
      stream,
      group,
      '-',
      '+',
      count,
      this.consumer,
    )) as [string, string, number, number][];
  }

  /** Entries pending on this consumer that it is not handling (lost replies after a reconnect). */
  private async recoverOwnPending(sub: Subscription): Promise<void> {
    for (const stream of sub.streams) {
      const pending = await this.ownPending(stream, sub.group, 1000);
      for (const [id, , , deliveries] of pending) {
        if (sub.local.has(`${stream} ${id}`)) continue;
        const [entry] = (await this.commands.xrange(stream, id, id)) as Entry[];
        this.start(sub, stream, id, entry ? entry[1] : null, Math.max(1, deliveries));
      }
    }
  }

  /** XAUTOCLAIM: entries idle longer than claimIdleMs belong to a consumer that died. */
  private async reclaim(sub: Subscription): Promise<void> {
    for (const stream of sub.streams) {
      const [, entries] = (await this.commands.call(
        'XAUTOCLAIM',
        stream,
        sub.group,
        this.consumer,
        this.claimIdleMs,
        '0-0',
        'COUNT',
        this.concurrency,
      )) as [string, Entry[]];
      for (const [id, fields] of entries) {
        if (sub.local.has(`${stream} ${id}`) || !fields) continue;
        // The claim counted as a delivery: the count is this attempt's number.
        const info = (await this.commands.call('XPENDING', stream, sub.group, id, id, 1)) as [
          string,
          string,
          number,
          number,
        ][];
        const attempt = info[0]?.[3] ?? 1;
        if (attempt > this.settings.policy.maxAttempts) {
          await this.deadLetter(
            sub,
            stream,
            id,
            toRecord(fields).event ?? '',
            'delivery attempts exhausted (consumers died while handling it)',
            attempt - 1,
          );
          continue;
        }
        this.options.logger.warn('reclaimed an event from a dead consumer', {
          group: sub.group,
          stream,
          id,
          attempt,
        });
        this.start(sub, stream, id, fields, attempt);
      }
    }
  }

  /** A consumer with nothing pending is removed from its groups, so they do not fill with dead names. */
  private async forgetConsumer(): Promise<void> {
    for (const sub of this.subscriptions) {
      for (const stream of sub.streams) {
        if ((await this.ownPending(stream, sub.group, 1)).length === 0)
          await this.commands.xgroup('DELCONSUMER', stream, sub.group, this.consumer);
      }
    }
  }
}

function toRecord(fields: string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) record[fields[i]] = fields[i + 1];
  return record;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
