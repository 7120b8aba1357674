import type { EventBus, EventEnvelope } from '@ecom/common/bus';

/**
 * A broker's stand-in for relay tests: durable (what it accepted outlives the process, so no
 * replay window), records every event it accepted, and refuses the first `failures` publishes
 * (a broker briefly away). It delivers nothing: subscribe, health and the dead-letter calls
 * are no-ops.
 */
export class RecordingBus implements EventBus {
  readonly durable = true;
  readonly published: EventEnvelope[] = [];
  /** When the last refused publish was refused (Date.now()). */
  refusedAt = 0;

  constructor(public failures = 0) {}

  async publish(event: EventEnvelope): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      this.refusedAt = Date.now();
      throw new Error('broker unavailable');
    }
    this.published.push(event);
  }
  async subscribe(): Promise<void> {}
  async health(): Promise<void> {}
  async close(): Promise<void> {}
  async listDeadLetters() {
    return [];
  }
  async replayDeadLetters() {
    return { replayed: 0, skipped: 0 };
  }
  async discardDeadLetters() {
    return { discarded: 0 };
  }
}
