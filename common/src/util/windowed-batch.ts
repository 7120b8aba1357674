/**
 * Items handed to one write together: the first item added opens a window of `windowMs`, and
 * when it closes (or `maxItems` are waiting, or `flush()` is called) everything collected goes
 * to `write` in one call. One write at a time: what arrives during a write waits for the next.
 *
 * For the bookkeeping writes that may lag the work they record (an outbox row's sent mark):
 * one statement per window instead of one per item. `write` handles its own failures; one that
 * throws loses that batch, which such bookkeeping must tolerate.
 */
export class WindowedBatch<T> {
  private items: T[] = [];
  private timer?: NodeJS.Timeout;
  private writing?: Promise<void>;

  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    private readonly options: { windowMs: number; maxItems: number },
  ) {}

  /** Items waiting for their write. */
  get pending(): number {
    return this.items.length;
  }

  add(item: T): void {
    this.items.push(item);
    if (this.items.length >= this.options.maxItems || this.options.windowMs <= 0) {
      void this.flush();
      return;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.options.windowMs);
      // A window never keeps a process alive: its owner flushes on stop.
      this.timer.unref();
    }
  }

  /** Writes everything added so far; resolves once it is written (or its write failed). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.writing) await this.writing;
    if (this.items.length === 0) return;
    const items = this.items.splice(0, this.options.maxItems);
    this.writing = this.write(items)
      .catch(() => undefined)
      .finally(() => {
        this.writing = undefined;
      });
    await this.writing;
    // More than one write's worth was waiting: the rest goes now, not after another window.
    if (this.items.length > 0) await this.flush();
  }
}
