import type { Logger } from '@ecom/common';
import type { Payments } from './payments';

/** Periodically finishes charges and refunds whose result was never recorded (see Payments.reconcile). */
export class PaymentReconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly payments: Payments,
    private readonly logger: Logger,
    private readonly intervalMs: number,
    private readonly staleAfterMs: number,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  private tick(): void {
    this.running ??= this.payments
      .reconcile(this.staleAfterMs)
      .then(() => undefined)
      .catch((err: unknown) => {
        this.logger.error('payment reconciliation failed', { error: (err as Error).message });
      })
      .finally(() => {
        this.running = undefined;
      });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
