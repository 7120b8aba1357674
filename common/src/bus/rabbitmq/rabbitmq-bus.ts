import { randomUUID } from 'node:crypto';
import amqp, {
  type Channel,
  type ChannelModel,
  type ConfirmChannel,
  type ConsumeMessage,
  type GetMessage,
  type Options,
} from 'amqplib';
import { parseEnvelope, type EventEnvelope } from '../envelope';
import { dispatchDelivery, InFlight } from '../dispatch';
import { brokerSettings, type BrokerBusOptions } from '../broker';
import { backoffCeilingMs, DEFAULT_CONSUMER_CONCURRENCY, retryDelayMs } from '../types';
import { idsNotFound, selectsDeadLetter } from '../types';
import type {
  DeadLetter,
  DeadLetterSelection,
  DiscardResult,
  EventBus,
  ReplayResult,
  SubscribeOptions,
} from '../types';
import { inEventContext } from '../../tracing/event-spans';
import { coalesceFrameWrites } from './coalesced-writes';

export interface RabbitMqEventBusOptions extends BrokerBusOptions {
  /** Names the connection (client property connection_name, shown by rabbitmqctl and the UI). */
  service: string;
  /** Namespace (default 'ecom'): exchange `<prefix>.events`, queues `<prefix>.<group>[.retry.<ms>|.dead-letter]`. */
  prefix?: string;
  /** Unacknowledged messages per consumer group (default DEFAULT_CONSUMER_CONCURRENCY, 16). */
  prefetch?: number;
  /** Cap of the reconnection backoff (default 5 s). */
  reconnectMaxDelayMs?: number;
  /**
   * Type of the group and dead-letter queues (default 'quorum': replicated, fsynced before the
   * publish is confirmed, RabbitMQ's advice for data safety); the retry queues are classic. A
   * queue that already exists with another type is kept as it is, with a warning: a queue's
   * type cannot change in place.
   */
  queueType?: 'quorum' | 'classic';
}

/** The attempt number travels with the message (retry queues keep headers). */
const ATTEMPT_HEADER = 'x-attempt';
/** When the first delivery to the group failed: set on the first retry hop, kept by the others. */
const FIRST_FAILED_HEADER = 'x-first-failed-at';

interface Subscription extends SubscribeOptions {
  queue: string;
  /** The connection this subscription's consumer was started on. */
  startedOn?: ChannelModel;
  starting?: Promise<void>;
  channel?: Channel;
  consumerTag?: string;
}

/**
 * RabbitMQ adapter: a durable topic exchange (routing key = event type), one durable queue per
 * consumer group bound to its event types, persistent messages published on a confirm
 * channel, prefetch, and an ack only after the handler succeeded. A failed message is
 * re-published (with its attempt number) to a per-delay retry queue whose TTL dead-letters
 * it back into the group's queue, so delays grow per attempt without a plugin; after
 * maxAttempts, or when the envelope is invalid, it goes to `<prefix>.<group>.dead-letter`
 * with the reason in its headers. Re-publish then ack: a crash in between duplicates, never
 * loses. The connection is re-established with backoff after any drop, consumers are
 * re-subscribed, and publish() waits for the reconnection (bounded by publishTimeoutMs).
 */
export class RabbitMqEventBus implements EventBus {
  /** What it accepted is the broker's: a crash of this process loses none of it. */
  readonly durable = true;
  private readonly settings: ReturnType<typeof brokerSettings>;
  private readonly prefetch: number;
  /** The frame-write coalescing found amqplib of another shape (said once). */
  private warnedUncoalesced = false;
  private readonly reconnectMaxDelayMs: number;
  private readonly queueType: 'quorum' | 'classic';
  private readonly subscriptions: Subscription[] = [];
  private readonly inFlight = new InFlight();
  private conn?: ChannelModel;
  private publisher?: ConfirmChannel;
  private readyWaiters: (() => void)[] = [];
  private connecting?: Promise<void>;
  private closed = false;

  constructor(private readonly options: RabbitMqEventBusOptions) {
    this.settings = brokerSettings(options);
    this.prefetch = options.prefetch ?? DEFAULT_CONSUMER_CONCURRENCY;
    this.reconnectMaxDelayMs = options.reconnectMaxDelayMs ?? 5000;
    this.queueType = options.queueType ?? 'quorum';
    this.connecting = this.connectLoop();
  }

  get connectionName(): string {
    return `${this.settings.prefix}:${this.options.service}`;
  }

  get exchange(): string {
    return `${this.settings.prefix}.events`;
  }

  queueName(group: string): string {
    return `${this.settings.prefix}.${group}`;
  }

  deadLetterQueue(group: string): string {
    return `${this.settings.prefix}.${group}.dead-letter`;
  }

  retryQueue(group: string, delayMs: number): string {
    return `${this.settings.prefix}.${group}.retry.${delayMs}`;
  }

  async publish(event: EventEnvelope): Promise<void> {
    if (this.closed) throw new Error('event bus is closed');
    await inEventContext(event, () =>
      this.publishConfirmed(this.exchange, event.eventType, Buffer.from(JSON.stringify(event)), {
        persistent: true,
        contentType: 'application/json',
        messageId: event.eventId,
        type: event.eventType,
        appId: this.options.service,
        timestamp: Math.floor(Date.parse(event.timestamp) / 1000) || undefined,
      }),
    );
  }

  /** Publishes a raw message with `eventType` as routing key (tests and tools; consumers validate it). */
  async publishRaw(raw: string, eventType: string): Promise<void> {
    if (this.closed) throw new Error('event bus is closed');
    await this.publishConfirmed(this.exchange, eventType, Buffer.from(raw), { persistent: true });
  }

  async subscribe(options: SubscribeOptions): Promise<void> {
    if (this.closed) throw new Error('event bus is closed');
    const sub: Subscription = { ...options, queue: this.queueName(options.group) };
    this.subscriptions.push(sub);
    try {
      // The queue and its bindings exist when subscribe resolves, so nothing published after is missed.
      const conn = await this.whenConnected(Date.now() + this.settings.publishTimeoutMs);
      await this.startConsumer(sub, conn);
    } catch (err) {
      this.subscriptions.splice(this.subscriptions.indexOf(sub), 1);
      throw err;
    }
  }

  async health(): Promise<void> {
    if (this.closed) throw new Error('event bus is closed');
    // A bus that is (re)connecting gets a moment, like a ping would.
    await this.whenConnected(Date.now() + 2000).catch(() => {
      throw new Error('RabbitMQ is disconnected');
    });
    for (const sub of this.subscriptions) {
      if (!sub.channel) throw new Error(`RabbitMQ consumer of ${sub.group} is not running`);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Stop deliveries first; handlers in flight still ack on their open channels.
    await Promise.all(
      this.subscriptions.map((sub) =>
        sub.channel && sub.consumerTag
          ? sub.channel.cancel(sub.consumerTag).catch(() => undefined)
          : undefined,
      ),
    );
    const drained = await timeout(this.inFlight.drain(), this.settings.closeTimeoutMs);
    if (!drained) this.options.logger.warn('event bus closed with handlers still running');
    for (const wake of this.readyWaiters.splice(0)) wake();
    const conn = this.conn;
    this.conn = undefined;
    this.publisher = undefined;
    for (const sub of this.subscriptions) sub.channel = undefined;
    await conn?.close().catch(() => undefined);
    await this.connecting?.catch(() => undefined);
  }

  /**
   * The dead letters of a group, oldest first, left in their queue (ops tools and tests):
   * read unacknowledged on a channel of their own, which returns them to the queue on close.
   */
  async listDeadLetters(group: string): Promise<DeadLetter[]> {
    const letters: DeadLetter[] = [];
    await this.eachDeadLetter(group, async (letter) => {
      letters.push(letter);
      return false;
    });
    return letters;
  }

  /**
   * Re-publishes the selected dead letters straight to the group's queue (only this group
   * handles them again), as first deliveries, then removes them; publish before ack, so a crash
   * in between duplicates a replay, never loses it.
   */
  async replayDeadLetters(group: string, select: DeadLetterSelection = {}): Promise<ReplayResult> {
    const result: ReplayResult = { replayed: 0, skipped: 0 };
    const matched: string[] = [];
    await this.eachDeadLetter(group, async (letter, msg) => {
      if (!selectsDeadLetter(select, letter)) return false;
      matched.push(letter.id);
      if (!letter.event) {
        result.skipped++;
        return false;
      }
      const kept = Object.fromEntries(
        Object.entries(msg.properties.headers ?? {}).filter(
          ([name]) =>
            !name.startsWith('x-dead-') &&
            ![ATTEMPT_HEADER, FIRST_FAILED_HEADER, 'x-death'].includes(name),
        ),
      );
      await this.publishConfirmed('', this.queueName(group), msg.content, {
        ...msg.properties,
        persistent: true,
        headers: { ...kept, 'x-replayed-at': new Date().toISOString() },
      });
      result.replayed++;
      return true;
    });
    const notFound = idsNotFound(select, matched);
    return notFound ? { ...result, notFound } : result;
  }

  /** Acknowledges the selected dead letters without re-publishing them: gone for good. */
  async discardDeadLetters(group: string, select: DeadLetterSelection): Promise<DiscardResult> {
    const matched: string[] = [];
    await this.eachDeadLetter(group, async (letter) => {
      if (!selectsDeadLetter(select, letter)) return false;
      matched.push(letter.id);
      return true;
    });
    const notFound = idsNotFound(select, matched);
    return { discarded: matched.length, ...(notFound ? { notFound } : {}) };
  }

  /**
   * Walks a group's dead-letter queue on a channel of its own; `visit` answers whether to
   * remove the message (ack). The others go back to the queue when the channel closes.
   */
  private async eachDeadLetter(
    group: string,
    visit: (letter: DeadLetter, msg: GetMessage) => Promise<boolean>,
  ): Promise<void> {
    const conn = await this.whenConnected(Date.now() + this.settings.publishTimeoutMs);
    const channel = await conn.createChannel();
    channel.on('error', () => undefined);
    try {
      await this.declareQueue(conn, channel, this.deadLetterQueue(group));
      for (let index = 0; ; index++) {
        const msg = await channel.get(this.deadLetterQueue(group), { noAck: false });
        if (!msg) break;
        const headers = msg.properties.headers ?? {};
        const raw = msg.content.toString();
        const parsed = parseEnvelope(raw);
        const letter: DeadLetter = {
          // Letters dead before ids were given are named by their message id.
          id: String(headers['x-dead-id'] ?? msg.properties.messageId ?? `#${index}`),
          group: String(headers['x-dead-group'] ?? group),
          reason: String(headers['x-dead-reason'] ?? ''),
          attempts: Number(headers['x-attempts'] ?? 0),
          ...(parsed.ok ? { event: parsed.event } : { raw }),
          deadAt: String(headers['x-dead-at'] ?? ''),
          ...(headers[FIRST_FAILED_HEADER]
            ? { firstFailedAt: String(headers[FIRST_FAILED_HEADER]) }
            : {}),
        };
        if (await visit(letter, msg)) channel.ack(msg);
      }
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  private async connectLoop(): Promise<void> {
    let delay = 100;
    while (!this.closed) {
      let conn: ChannelModel | undefined;
      try {
        conn = await amqp.connect(withHeartbeat(this.options.url), {
          clientProperties: { connection_name: this.connectionName },
          // A message is several frames: with Nagle, a lone publish or ack can wait ~40 ms.
          noDelay: true,
        });
        const current = conn;
        if (!coalesceFrameWrites(current) && !this.warnedUncoalesced) {
          this.warnedUncoalesced = true;
          this.options.logger.warn(
            'amqplib has another shape: its frames go out one socket write each (coalesced-writes.ts)',
          );
        }
        current.on('error', (err: Error) => {
          if (!this.closed)
            this.options.logger.warn('RabbitMQ connection error', { error: err.message });
        });
        current.on('close', () => this.onConnectionLost(current));
        const publisher = await current.createConfirmChannel();
        publisher.on('error', (err: Error) =>
          this.options.logger.warn('RabbitMQ publish channel error', { error: err.message }),
        );
        // A channel closed by the broker (e.g. a protocol error) is recovered with the connection.
        publisher.on('close', () => this.forceReconnect(current));
        await publisher.assertExchange(this.exchange, 'topic', { durable: true });
        if (this.closed) {
          await current.close().catch(() => undefined);
          return;
        }
        this.conn = current;
        this.publisher = publisher;
        for (const sub of this.subscriptions) await this.startConsumer(sub, current);
        if (delay > 100) this.options.logger.info('RabbitMQ event bus reconnected');
        for (const wake of this.readyWaiters.splice(0)) wake();
        return;
      } catch (err) {
        this.options.logger.warn('RabbitMQ connection failed, retrying', {
          error: (err as Error).message,
          retryInMs: delay,
        });
        if (this.conn === conn) {
          this.conn = undefined;
          this.publisher = undefined;
        }
        await conn?.close().catch(() => undefined);
        await sleep(delay);
        delay = Math.min(delay * 2, this.reconnectMaxDelayMs);
      }
    }
  }

  private onConnectionLost(conn: ChannelModel): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    this.publisher = undefined;
    for (const sub of this.subscriptions) sub.channel = undefined;
    if (this.closed) return;
    this.options.logger.warn('RabbitMQ connection lost, reconnecting');
    // Unacked messages of the lost channels are redelivered by the broker to the new consumers.
    this.connecting = this.connectLoop();
  }

  private forceReconnect(conn: ChannelModel): void {
    if (this.closed || this.conn !== conn) return;
    void conn.close().catch(() => undefined);
    this.onConnectionLost(conn);
  }

  private async whenConnected(deadline: number): Promise<ChannelModel> {
    for (;;) {
      // Checked before `closed`: handlers draining during close() still re-publish and ack.
      if (this.conn && this.publisher) return this.conn;
      if (this.closed) throw new Error('event bus is closed');
      const remaining = deadline - Date.now();
      if (remaining <= 0)
        throw new Error('RabbitMQ is unreachable (timed out waiting for the connection)');
      await timeout(new Promise<void>((resolve) => this.readyWaiters.push(resolve)), remaining);
    }
  }

  /** Publishes and waits for the broker's confirm; re-sent after a reconnection until the deadline. */
  private async publishConfirmed(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Options.Publish,
  ): Promise<void> {
    const deadline = Date.now() + this.settings.publishTimeoutMs;
    for (;;) {
      await this.whenConnected(deadline);
      const publisher = this.publisher;
      if (!publisher) continue;
      try {
        await new Promise<void>((resolve, reject) => {
          publisher.publish(exchange, routingKey, content, options, (err: unknown) =>
            err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(),
          );
        });
        return;
      } catch (err) {
        // Nacked, or the channel closed before the confirm: try again on the next connection.
        if (Date.now() >= deadline) throw err;
        await sleep(50);
      }
    }
  }

  /** Starts the consumer of `sub` on `conn` once (subscribe and the reconnect loop may both ask). */
  private startConsumer(sub: Subscription, conn: ChannelModel): Promise<void> {
    if (sub.startedOn !== conn || !sub.starting) {
      sub.startedOn = conn;
      sub.starting = this.openConsumer(sub, conn);
    }
    return sub.starting;
  }

  private async openConsumer(sub: Subscription, conn: ChannelModel): Promise<void> {
    const channel = await conn.createChannel();
    channel.on('error', (err: Error) =>
      this.options.logger.warn('RabbitMQ consumer channel error', {
        group: sub.group,
        error: err.message,
      }),
    );
    channel.on('close', () => {
      if (sub.channel === channel) this.forceReconnect(conn);
    });
    await channel.prefetch(this.prefetch);
    await channel.assertExchange(this.exchange, 'topic', { durable: true });
    await this.declareQueue(conn, channel, sub.queue);
    for (const type of new Set(sub.eventTypes))
      await channel.bindQueue(sub.queue, this.exchange, type);
    // A binding an earlier version left: unbinding one that does not exist is a no-op.
    for (const type of new Set(sub.unroute ?? []))
      if (!sub.eventTypes.includes(type)) await channel.unbindQueue(sub.queue, this.exchange, type);
    for (const delay of this.retryDelays()) {
      // Classic: a message waits here seconds at most, and a quorum queue per delay would cost
      // the broker a Raft member each (ten per group).
      await this.declareQueue(
        conn,
        channel,
        this.retryQueue(sub.group, delay),
        {
          // Expired messages go back, through the default exchange, to the group's queue.
          'x-message-ttl': delay,
          'x-dead-letter-exchange': '',
          'x-dead-letter-routing-key': sub.queue,
        },
        'classic',
      );
    }
    await this.declareQueue(conn, channel, this.deadLetterQueue(sub.group));
    const { consumerTag } = await channel.consume(
      sub.queue,
      (msg) => this.onMessage(sub, channel, msg),
      {
        noAck: false,
      },
    );
    sub.channel = channel;
    sub.consumerTag = consumerTag;
  }

  /**
   * Declares a durable queue of the configured type. A queue that exists with another type
   * (declared by an earlier version, or by hand) would close the channel with
   * PRECONDITION_FAILED, so the type is tried on a throwaway channel first and, if refused,
   * the queue is declared as it already is.
   */
  private async declareQueue(
    conn: ChannelModel,
    channel: Channel,
    queue: string,
    args: Record<string, unknown> = {},
    type: 'quorum' | 'classic' = this.queueType,
  ): Promise<void> {
    const typed = { ...args, 'x-queue-type': type };
    const probe = await conn.createChannel();
    probe.on('error', () => undefined);
    try {
      await probe.assertQueue(queue, { durable: true, arguments: typed });
      await probe.close().catch(() => undefined);
      await channel.assertQueue(queue, { durable: true, arguments: typed });
    } catch (err) {
      if ((err as { code?: number }).code !== 406) throw err;
      this.options.logger.warn('RabbitMQ queue exists with another type; kept as it is', {
        queue,
        wanted: type,
        error: (err as Error).message,
      });
      const other = type === 'quorum' ? 'classic' : 'quorum';
      await channel.assertQueue(queue, {
        durable: true,
        arguments: { ...args, 'x-queue-type': other },
      });
    }
  }

  private retryDelays(): number[] {
    const delays = new Set<number>();
    for (let attempt = 1; attempt < this.settings.policy.maxAttempts; attempt++)
      delays.add(backoffCeilingMs(this.settings.policy, attempt));
    return [...delays];
  }

  private onMessage(sub: Subscription, channel: Channel, msg: ConsumeMessage | null): void {
    if (!msg) {
      // Cancelled by the broker (queue deleted): recreate everything on a new connection.
      this.options.logger.warn('RabbitMQ consumer cancelled by the broker', { group: sub.group });
      if (this.conn) this.forceReconnect(this.conn);
      return;
    }
    void this.inFlight.track(this.handle(sub, channel, msg)).catch((err: unknown) => {
      // Could not route the failure (connection lost): unacked, so the broker redelivers it.
      this.options.logger.warn('RabbitMQ could not settle a message', {
        group: sub.group,
        error: (err as Error).message,
      });
      try {
        channel.nack(msg, false, true);
      } catch {
        // The channel is gone; the broker requeues its unacked messages itself.
      }
    });
  }

  private async handle(sub: Subscription, channel: Channel, msg: ConsumeMessage): Promise<void> {
    const headers = msg.properties.headers ?? {};
    const attempt = Math.max(1, Number(headers[ATTEMPT_HEADER] ?? 1) || 1);
    const raw = msg.content.toString();
    const parsed = parseEnvelope(raw);
    if (!parsed.ok) {
      await this.deadLetter(sub, msg, parsed.reason, attempt);
      ack(channel, msg);
      return;
    }
    const { policy } = this.settings;
    const failure = await dispatchDelivery(this.options.logger, sub, parsed.event, attempt, policy);
    if (failure?.deadLetter) {
      await this.deadLetter(sub, msg, failure.reason, attempt);
    } else if (failure) {
      const { 'x-death': _death, ...kept } = headers;
      // The queue of the delay's ceiling (its TTL bounds the wait); the message's own,
      // jittered expiration is usually shorter.
      await this.publishConfirmed(
        '',
        this.retryQueue(sub.group, backoffCeilingMs(policy, attempt)),
        msg.content,
        {
          ...msg.properties,
          persistent: true,
          expiration: String(retryDelayMs(policy, attempt)),
          headers: {
            ...kept,
            [ATTEMPT_HEADER]: attempt + 1,
            [FIRST_FAILED_HEADER]: String(headers[FIRST_FAILED_HEADER] ?? new Date().toISOString()),
          },
        },
      );
    }
    ack(channel, msg);
  }

  private async deadLetter(
    sub: Subscription,
    msg: ConsumeMessage,
    reason: string,
    attempts: number,
  ): Promise<void> {
    this.options.logger.error('event dead-lettered', {
      group: sub.group,
      reason,
      attempts,
      messageId: msg.properties.messageId,
    });
    const { 'x-death': _death, ...kept } = msg.properties.headers ?? {};
    const parsed = parseEnvelope(msg.content.toString());
    const deadAt = new Date().toISOString();
    const firstFailedAt = String(kept[FIRST_FAILED_HEADER] ?? deadAt);
    const id = randomUUID();
    await this.publishConfirmed('', this.deadLetterQueue(sub.group), msg.content, {
      ...msg.properties,
      persistent: true,
      headers: {
        ...kept,
        'x-dead-id': id,
        'x-dead-reason': reason.slice(0, 2000),
        'x-dead-group': sub.group,
        'x-attempts': attempts,
        'x-dead-at': deadAt,
        [FIRST_FAILED_HEADER]: firstFailedAt,
        // The event type, not the routing key of the last hop (a retry comes back through the
        // default exchange with the queue's name as its routing key).
        'x-original-routing-key': parsed.ok ? parsed.event.eventType : msg.fields.routingKey,
      },
    });
    sub.onDeadLetter?.({
      id,
      group: sub.group,
      reason,
      attempts,
      ...(parsed.ok ? { event: parsed.event } : { raw: msg.content.toString() }),
      deadAt,
      firstFailedAt,
    });
  }
}

/** A 10 s heartbeat unless the URL sets one: a dead broker or network is noticed quickly. */
function withHeartbeat(url: string): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', '10');
  return parsed.toString();
}

function ack(channel: Channel, msg: ConsumeMessage): void {
  try {
    channel.ack(msg);
  } catch {
    // Channel lost after the work was done: the broker redelivers, the idempotent consumer absorbs it.
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves true when `promise` settles within `ms`, false otherwise (never rejects). */
async function timeout(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
