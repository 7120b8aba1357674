import type { Pool, PoolClient } from 'pg';
import type { Logger } from '@ecom/common/logging';
import { withTransaction } from '@ecom/common/postgres';
import { orderStore, type TransitionInput } from '../store/order-store';
import type { OrderTransitions } from './transitions';

export interface OrderTimersDeps {
  pool: Pool;
  transitions: OrderTransitions;
  logger: Logger;
  /** A PAYMENT_PROCESSING order unchanged this long makes order ask payment (order.payment.overdue). */
  paymentOverdueMs: number;
  /** ...and this long fails it (0: never); payment refunds a charge it made for a failed order. */
  paymentGiveUpMs: number;
  /** A PENDING order unchanged this long gets its order.created re-sent (again every such interval)... */
  pendingResendAfterMs: number;
  /** ...at most this many times; one more interval without an answer fails it (PENDING_TIMEOUT). */
  pendingMaxResends: number;
}

const BATCH = 100;

/**
 * What the order service does on a timer (its sweeper runs sweep(), at start and every
 * SWEEP_INTERVAL_MS): orders whose reservation ran out, orders waiting too long for payment,
 * and orders left PENDING (order.created never answered). Rows are claimed with FOR UPDATE
 * SKIP LOCKED, so several instances can sweep at once.
 */
export class OrderTimers {
  constructor(private readonly deps: OrderTimersDeps) {}

  async sweep(): Promise<{
    expired: number;
    asked: number;
    failed: number;
    resent: number;
    abandoned: number;
  }> {
    let expired = 0;
    for (;;) {
      const n = await this.expireReservations();
      expired += n;
      if (n < BATCH) break;
    }
    if (expired > 0) this.deps.logger.info('expired reservations cancelled', { count: expired });
    const asked = await this.askAboutOverduePayments();
    const failed = await this.failStuckPayments();
    const resent = await this.resendStuckCreations();
    const abandoned = await this.failUnansweredCreations();
    return { expired, asked, failed, resent, abandoned };
  }

  /**
   * An order left PENDING (order.created dead-lettered or never acted on, or its answer
   * lost) gets the order.created it was created with published again, under a new event id:
   * product re-announces a reservation it made or makes it now, payment records the details
   * once (both idempotent by order id). The original comes from the outbox, without the card
   * details (the token was erased once first sent: payment keeps it from the first delivery,
   * and without it a charge that never started fails rather than waits). Returns how many
   * were re-sent.
   */
  async resendStuckCreations(): Promise<number> {
    const { pendingResendAfterMs: afterMs, pendingMaxResends: max } = this.deps;
    if (max <= 0) return 0;
    return withTransaction(this.deps.pool, async (client) => {
      const ids = await orderStore.claimPendingResends(client, afterMs, max, BATCH);
      let resent = 0;
      for (const id of ids) {
        const order = await orderStore.get(client, id);
        const data = await orderStore.originalCreated(client, id);
        if (!order || !data) {
          // Purged from the outbox (older than its retention): left to the bound, which fails it.
          this.deps.logger.error('order.created to re-send not found', { orderId: id });
          continue;
        }
        // Its card token was erased once first sent: the re-send says "no card details".
        const resend = data.payment && !data.payment.token ? { ...data, payment: null } : data;
        await this.deps.transitions.publish(client, order, 'order.created', resend);
        resent += 1;
      }
      if (ids.length > 0) {
        this.deps.logger.warn('orders left PENDING: order.created re-sent', { count: resent });
      }
      return resent;
    });
  }

  /**
   * An order still PENDING one interval after its last re-send (PENDING_MAX_RESENDS reached)
   * fails: order.failed makes product release whatever it holds for it (or refuse a late
   * order.created) and payment close the payment, so nothing stays held or charged.
   */
  async failUnansweredCreations(): Promise<number> {
    const { pendingResendAfterMs: afterMs, pendingMaxResends: max } = this.deps;
    return withTransaction(this.deps.pool, async (client) => {
      const failed = await this.applyToEach(
        client,
        await orderStore.abandonedPending(client, afterMs, max, BATCH),
        {
          transition: 'fail',
          cause: { type: 'system', name: 'pending-timeout' },
          reason: 'PENDING_TIMEOUT',
          set: {
            failureReason: `PENDING_TIMEOUT: no reservation outcome for order.created (re-sent ${max} times)`,
          },
        },
      );
      if (failed > 0) this.deps.logger.warn('orders left PENDING failed', { count: failed });
      return failed;
    });
  }

  /** Cancels orders whose reservation expired while waiting for payment. Returns how many. */
  async expireReservations(): Promise<number> {
    return withTransaction(this.deps.pool, async (client) =>
      this.applyToEach(client, await orderStore.expiredAwaitingPayment(client, BATCH), {
        transition: 'expire',
        cause: { type: 'system', name: 'reservation-expiry' },
        reason: 'RESERVATION_EXPIRED',
      }),
    );
  }

  /**
   * An order left in PAYMENT_PROCESSING (payment.completed or .failed lost, or payment never
   * saw the order) makes order publish order.payment.overdue; payment answers by publishing
   * the payment's outcome again, or payment.failed when it has no charge for the order (and
   * then never charges it). Asked again every paymentOverdueMs until the order moves.
   */
  async askAboutOverduePayments(): Promise<number> {
    return withTransaction(this.deps.pool, async (client) => {
      const ids = await orderStore.claimOverduePayments(client, this.deps.paymentOverdueMs, BATCH);
      for (const id of ids) {
        const order = await orderStore.get(client, id);
        if (!order) continue;
        await this.deps.transitions.publish(client, order, 'order.payment.overdue', {
          orderId: order.id,
          userId: order.userId,
          since: order.updatedAt,
        });
      }
      if (ids.length > 0) {
        this.deps.logger.warn('payment overdue: asked payment', { count: ids.length });
      }
      return ids.length;
    });
  }

  /**
   * Past paymentGiveUpMs (payment gone for good) the order fails: product releases the stock,
   * and payment, whenever it is back, refunds a charge it made for the failed order.
   */
  async failStuckPayments(): Promise<number> {
    if (this.deps.paymentGiveUpMs <= 0) return 0;
    return withTransaction(this.deps.pool, async (client) =>
      this.applyToEach(
        client,
        await orderStore.stuckPayments(client, this.deps.paymentGiveUpMs, BATCH),
        {
          transition: 'fail',
          cause: { type: 'system', name: 'payment-timeout' },
          reason: 'PAYMENT_TIMEOUT',
          set: { failureReason: 'PAYMENT_TIMEOUT: no outcome from payment in time' },
        },
      ),
    );
  }

  /** Applies one system transition to each order; returns how many it moved. */
  private async applyToEach(
    client: PoolClient,
    orderIds: string[],
    transition: Omit<TransitionInput, 'orderId'>,
  ): Promise<number> {
    let applied = 0;
    for (const orderId of orderIds) {
      const result = await this.deps.transitions.apply(client, { ...transition, orderId });
      if (result.applied) applied += 1;
    }
    return applied;
  }
}
