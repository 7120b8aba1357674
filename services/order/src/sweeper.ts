import type { Logger } from '@ecom/common';
import type { Orders } from './orders';

/**
 * Cancels AWAITING_PAYMENT orders whose reservation ran out (order.cancelled → product
 * releases the stock). Several instances may run: rows are claimed with SKIP LOCKED.
 */
export class ReservationSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly orders: Orders,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.running ??= this.sweep()
        .then(() => undefined)
        .finally(() => {
          this.running = undefined;
        });
    }, this.intervalMs);
    this.timer.unref();
  }

  /** One pass (also used by tests); returns the number of orders cancelled. */
  async sweep(): Promise<number> {
    let total = 0;
    try {
      for (;;) {
        const n = await this.orders.expireReservations();
        total += n;
        if (n < 100) break;
      }
      if (total > 0) this.logger.info('expired reservations cancelled', { count: total });
    } catch (err) {
      this.logger.error('reservation sweep failed', { error: (err as Error).message });
    }
    return total;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
