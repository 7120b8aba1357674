/**
 * Items handed to one write together: the first item added opens a window of `windowMs`, and
 * when it closes (or `maxItems` are waiting) what was collected goes to `write` in one call.
 * One write at a time: what arrives during a write waits for its own window (or a full batch).
 * `flush()` writes everything now.
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
    if (this.items.length >= this.options.maxItems || this.options.windowMs <= 0)
      void this.writeBatch();
    else this.openWindow();
  }

  /** Writes everything added so far; resolves once it is written (or its writes failed). */
  async flush(): Promise<void> {
    await this.writeBatch();
    while (this.items.length > 0) await this.writeBatch();
  }

  private openWindow(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => void this.writeBatch(), this.options.windowMs);
    // A window never keeps a process alive: its owner flushes on stop.
    this.timer.unref();
  }

  /** Waits for the write in progress, then writes up to a full batch of what is waiting. */
  private async writeBatch(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.writing) await this.writing;
    if (this.items.length === 0) return;
    const items = this.items.splice(0, this.options.maxItems);
    let written: Promise<void>;
    try {
      written = this.write(items);
    } catch {
      written = Promise.resolve(); // a write that throws at once loses its batch, as one that fails
    }
    this.writing = written
      .catch(() => undefined)
      .finally(() => {
        this.writing = undefined;
      });
    await this.writing;
    // What is left (it came during the write, or did not fit) goes after a window of its own,
    // or at once when a full batch is waiting.
    if (this.items.length >= this.options.maxItems || this.options.windowMs <= 0)
      void this.writeBatch();
    else if (this.items.length > 0) this.openWindow();
  }
}
