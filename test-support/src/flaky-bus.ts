import {
  InMemoryEventBus,
  type DeadLetterSelection,
  type EventBus,
  type EventEnvelope,
  type SubscribeOptions,
} from '@ecom/common/bus';

/**
 * The real in-memory bus, made to refuse publishes and fail its health check while `down`
 * (a broker outage). Subscribers of `inner` see what was published while it was up.
 */
export class FlakyBus implements EventBus {
  down = false;
  /** Every publish attempt, refused ones included. */
  publishes = 0;
  /** What was published while up, in order. */
  readonly received: EventEnvelope[] = [];

  constructor(readonly inner: InMemoryEventBus = new InMemoryEventBus()) {}

  get durable(): boolean {
    return this.inner.durable;
  }

  get replayWindowMs(): number {
    return this.inner.replayWindowMs;
  }

  async publish(event: EventEnvelope): Promise<void> {
    this.publishes += 1;
    if (this.down) throw new Error('broker unreachable');
    this.received.push(event);
    await this.inner.publish(event);
  }

  subscribe(options: SubscribeOptions): Promise<void> {
    return this.inner.subscribe(options);
  }

  health(): Promise<void> {
    return this.down ? Promise.reject(new Error('broker unreachable')) : this.inner.health();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  listDeadLetters(group: string) {
    return this.down
      ? Promise.reject(new Error('broker unreachable'))
      : this.inner.listDeadLetters(group);
  }

  replayDeadLetters(group: string, select?: DeadLetterSelection) {
    return this.down
      ? Promise.reject(new Error('broker unreachable'))
      : this.inner.replayDeadLetters(group, select);
  }

  discardDeadLetters(group: string, select: DeadLetterSelection) {
    return this.down
      ? Promise.reject(new Error('broker unreachable'))
      : this.inner.discardDeadLetters(group, select);
  }
}
