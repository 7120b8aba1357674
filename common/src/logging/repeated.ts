/**
 * One line per `intervalMs` for a failure that repeats (a store down for minutes would otherwise
 * log at the rate of the retries); the next line says how many were left out in between.
 */
export class RepeatedLog {
  private last = -Infinity;
  private leftOut = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The fields to log this occurrence with (`repeated`: those left out), or undefined to skip it. */
  take(): { repeated?: number } | undefined {
    const at = this.now();
    if (at - this.last < this.intervalMs) {
      this.leftOut += 1;
      return undefined;
    }
    this.last = at;
    const repeated = this.leftOut;
    this.leftOut = 0;
    return repeated > 0 ? { repeated } : {};
  }

  /** The failure ended: the next one is logged at once. Returns how many were left out. */
  reset(): number {
    const leftOut = this.leftOut;
    this.last = -Infinity;
    this.leftOut = 0;
    return leftOut;
  }
}
