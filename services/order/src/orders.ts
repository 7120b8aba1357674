import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import {
  BusinessRuleError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  addToOutbox,
  createEvent,
  currentCorrelationId,
  getContext,
  withTransaction,
  type AuthUser,
  type EventEnvelope,
  type Logger,
} from '@ecom/common';
import type { AnchorSink } from '@ecom/common';
import { requestFingerprint } from '@ecom/common';
import { priceOrder, type RequestedItem } from './domain/pricing';
import {
  MANUAL_STATUS_TRANSITIONS,
  TRANSITIONS,
  type OrderStatus,
  type TransitionName,
} from './domain/state-machine';
import type { Cause, HistoryEntry, Order, ShippingAddress } from './domain/types';
import type { ProfileDirectory } from './clients/profile-client';
import type { ProductCatalog } from './product-client';
import { sellerOrderView } from './domain/seller-view';
import { orderStore, type TransitionInput, type TransitionResult } from './store/order-store';

export const SOURCE = 'order-service';

export interface CreateOrderInput {
  items: RequestedItem[];
  payment?: { method: 'card'; token: string };
  /** Optional: the customer's profile address is used when it is left out. */
  shippingAddress?: ShippingAddress;
}

export interface CreateOrderResult {
  status: number;
  body: unknown;
  replayed: boolean;
}

export interface OrdersDeps {
  pool: Pool;
  catalog: ProductCatalog;
  profiles: ProfileDirectory;
  anchor: AnchorSink;
  logger: Logger;
  reservationTtlMs: number;
  /** A PAYMENT_PROCESSING order unchanged this long makes order ask payment (order.payment.overdue). */
  paymentOverdueMs: number;
  /** ...and this long fails it (0: never); payment refunds a charge it made for a failed order. */
  paymentGiveUpMs: number;
}

const isAdmin = (user: AuthUser) => user.role === 'admin';

function isUniqueViolation(err: unknown, constraint: string): boolean {
  const e = err as { code?: string; constraint?: string };
  return e?.code === '23505' && e.constraint === constraint;
}

function requestCause(user: AuthUser): Cause {
  return { type: 'request', requestId: getContext()?.requestId ?? 'unknown', userId: user.id };
}

/**
 * The order use cases: HTTP handlers and event consumers call these; they own the
 * transactions (state change + history + outbox + anchor request commit together).
 */
export class Orders {
  constructor(private readonly deps: OrdersDeps) {}

  // ---------- HTTP use cases ----------

  /**
   * `credentials` (the caller's access token) lets order read the profile address when the
   * request has no shipping address.
   */
  async create(
    user: AuthUser,
    input: CreateOrderInput,
    idempotencyKey?: string,
    credentials?: string,
  ): Promise<CreateOrderResult> {
    const fingerprint = idempotencyKey ? requestFingerprint(input) : undefined;
    if (idempotencyKey && fingerprint) {
      const replay = await this.replay(user.id, idempotencyKey, fingerprint);
      if (replay) return replay;
    }
    const shippingAddress = input.shippingAddress ?? (await this.profileAddress(credentials));
    const productIds = [...new Set(input.items.map((i) => i.productId))];
    // Outside any transaction: a slow product must not hold a database connection.
    const quotes = await this.deps.catalog.quote(productIds);
    const priced = priceOrder(input.items, quotes);
    const orderId = randomUUID();
    try {
      return await withTransaction(this.deps.pool, async (client) => {
        const order = await orderStore.insert(
          client,
          {
            id: orderId,
            userId: user.id,
            priced,
            paymentMethod: input.payment?.method ?? null,
            shippingAddress,
            correlationId: currentCorrelationId(),
          },
          requestCause(user),
        );
        if (idempotencyKey && fingerprint) {
          await orderStore.insertIdempotencyKey(client, {
            userId: user.id,
            key: idempotencyKey,
            fingerprint,
            orderId,
            status: 201,
            body: order,
          });
        }
        await addToOutbox(
          client,
          this.event(order, 'order.created', {
            orderId,
            userId: user.id,
            items: order.items.map((i) => ({
              productId: i.productId,
              quantity: i.quantity,
              unitPrice: i.unitPrice.amount,
              name: i.name,
            })),
            total: order.total,
            payment: input.payment
              ? { method: input.payment.method, token: input.payment.token }
              : null,
          }),
        );
        return { status: 201, body: order, replayed: false };
      });
    } catch (err) {
      // A concurrent request with the same key committed first: answer what it answered.
      if (idempotencyKey && fingerprint && isUniqueViolation(err, 'idempotency_keys_pkey')) {
        const replay = await this.replay(user.id, idempotencyKey, fingerprint);
        if (replay) return replay;
      }
      throw err;
    }
  }

  private async profileAddress(credentials: string | undefined): Promise<ShippingAddress> {
    const address = credentials ? await this.deps.profiles.shippingAddress(credentials) : null;
    if (!address) {
      throw new BusinessRuleError(
        'No shipping address: send "shippingAddress" with the order, or save an address in your profile first (PUT /api/auth/profile with "address")',
        { field: 'shippingAddress' },
        'SHIPPING_ADDRESS_REQUIRED',
      );
    }
    return address;
  }

  private async replay(
    userId: string,
    key: string,
    fingerprint: string,
  ): Promise<CreateOrderResult | null> {
    const stored = await orderStore.findIdempotencyKey(this.deps.pool, userId, key);
    if (!stored) return null;
    if (stored.fingerprint !== fingerprint) {
      throw new BusinessRuleError(
        'This Idempotency-Key was used with a different request body',
        { idempotencyKey: key },
        'IDEMPOTENCY_KEY_REUSED',
      );
    }
    return { status: stored.status, body: stored.body, replayed: true };
  }

  /** Owner or admin; anyone else gets 404 so order ids cannot be probed. */
  async getVisible(user: AuthUser, id: string): Promise<Order> {
    const order = await orderStore.get(this.deps.pool, id);
    if (!order || !this.canSee(user, order)) throw new NotFoundError(`Order ${id} not found`);
    return order;
  }

  /** Owners of orders (user ids), for the blockchain routes' access rule. */
  ownersOf(ids: string[]): Promise<Map<string, string>> {
    return orderStore.owners(this.deps.pool, ids);
  }

  private canSee(user: AuthUser, order: Order): boolean {
    return isAdmin(user) || order.userId === user.id;
  }

  async list(
    user: AuthUser,
    query: { page: number; limit: number; status?: OrderStatus; userId?: string; seller?: string },
  ) {
    if (query.seller !== undefined)
      return this.listForSeller(user, { ...query, seller: query.seller });
    if (query.userId !== undefined && !isAdmin(user) && query.userId !== user.id) {
      throw new ForbiddenError('Only an admin may list the orders of another user');
    }
    const userId = isAdmin(user) ? query.userId : user.id;
    const { orders, total } = await orderStore.list(this.deps.pool, {
      page: query.page,
      limit: query.limit,
      ...(userId !== undefined ? { userId } : {}),
      ...(query.status ? { status: query.status } : {}),
    });
    return {
      data: orders,
      pagination: {
        page: query.page,
        limit: query.limit,
        total,
        pages: Math.ceil(total / query.limit),
      },
    };
  }

  /**
   * `?seller=me` (a seller's own lines) or `?seller=<id>` (an admin looking at a seller): the
   * orders holding at least one of the seller's lines, each showing only those lines.
   */
  private async listForSeller(
    user: AuthUser,
    query: { page: number; limit: number; status?: OrderStatus; seller: string },
  ) {
    const sellerId = query.seller === 'me' ? user.id : query.seller;
    if (!isAdmin(user) && (user.role !== 'seller' || sellerId !== user.id)) {
      throw new ForbiddenError(
        user.role === 'seller'
          ? 'A seller may only list their own lines (seller=me)'
          : 'Only sellers and admins may list orders by seller',
      );
    }
    const { orders, total } = await orderStore.list(this.deps.pool, {
      page: query.page,
      limit: query.limit,
      sellerId,
      ...(query.status ? { status: query.status } : {}),
    });
    return {
      data: orders.map((o) => sellerOrderView(o, sellerId)),
      pagination: {
        page: query.page,
        limit: query.limit,
        total,
        pages: Math.ceil(total / query.limit),
      },
    };
  }

  async history(user: AuthUser, id: string): Promise<{ orderId: string; history: HistoryEntry[] }> {
    await this.getVisible(user, id);
    return { orderId: id, history: await orderStore.history(this.deps.pool, id) };
  }

  async cancel(user: AuthUser, id: string, reason?: string): Promise<Order> {
    await this.getVisible(user, id);
    const result = await withTransaction(this.deps.pool, (client) =>
      this.apply(client, {
        orderId: id,
        transition: 'cancel',
        cause: requestCause(user),
        reason: reason ?? (isAdmin(user) ? 'cancelled by admin' : 'cancelled by customer'),
      }),
    );
    if (!result.applied) {
      throw new ConflictError(`Order ${id} can no longer be cancelled (status ${result.current})`, {
        status: result.current,
      });
    }
    return result.order;
  }

  async setStatus(user: AuthUser, id: string, status: OrderStatus): Promise<Order> {
    const order = await orderStore.get(this.deps.pool, id);
    const sellerOwnsLine =
      user.role === 'seller' && order?.items.some((i) => i.sellerId === user.id);
    if (!order || !(isAdmin(user) || sellerOwnsLine || order.userId === user.id)) {
      throw new NotFoundError(`Order ${id} not found`);
    }
    if (!isAdmin(user) && !sellerOwnsLine) {
      throw new ForbiddenError('Only an admin or a seller of this order may set its status');
    }
    const transition = MANUAL_STATUS_TRANSITIONS[status];
    if (!transition) {
      throw new BusinessRuleError(`Status ${status} cannot be set by hand`, { status });
    }
    const result = await withTransaction(this.deps.pool, (client) =>
      this.apply(client, { orderId: id, transition, cause: requestCause(user) }),
    );
    if (!result.applied) {
      throw new ConflictError(`Order ${id} cannot go from ${result.current} to ${status}`, {
        status: result.current,
        requested: status,
        allowedFrom: TRANSITIONS[transition].from,
      });
    }
    return result.order;
  }

  // ---------- event use cases (called inside handleEventOnce's transaction) ----------

  async onInventoryReserved(client: PoolClient, event: EventEnvelope<{ orderId: string }>) {
    const order = await orderStore.get(client, event.data.orderId);
    if (!order) return this.unknownOrder(event);
    const transition: TransitionName = order.paymentMethod
      ? 'reservedWithPayment'
      : 'reservedAwaitingPayment';
    const result = await this.apply(client, {
      orderId: order.id,
      transition,
      cause: eventCause(event),
      set: { reservationTtlMs: this.deps.reservationTtlMs },
    });
    if (!result.applied && (result.current === 'CANCELLED' || result.current === 'FAILED')) {
      await this.releaseLateReservation(client, order, event);
    }
  }

  async onInventoryRejected(
    client: PoolClient,
    event: EventEnvelope<{ orderId: string; productId?: string; reason?: string }>,
  ) {
    const reason = `inventory rejected: ${event.data.reason ?? 'unknown'}${
      event.data.productId ? ` (product ${event.data.productId})` : ''
    }`;
    await this.apply(client, {
      orderId: event.data.orderId,
      transition: 'fail',
      cause: eventCause(event),
      reason,
      set: { failureReason: reason },
    });
  }

  async onPaymentInitiated(
    client: PoolClient,
    event: EventEnvelope<{ orderId: string; paymentId: string; attempt?: number }>,
  ) {
    const settled = await orderStore.paymentAttemptSettled(client, event.data.orderId);
    if (
      event.data.attempt !== undefined &&
      settled !== undefined &&
      event.data.attempt <= settled
    ) {
      // The outcome of this attempt arrived first: the order already moved past it.
      this.deps.logger.info('stale payment.initiated ignored', {
        orderId: event.data.orderId,
        attempt: event.data.attempt,
        settled,
      });
      return;
    }
    await this.apply(client, {
      orderId: event.data.orderId,
      transition: 'paymentStarted',
      cause: eventCause(event),
      set: { paymentId: event.data.paymentId },
    });
  }

  async onPaymentCompleted(
    client: PoolClient,
    event: EventEnvelope<{ orderId: string; paymentId: string }>,
  ) {
    await this.apply(client, {
      orderId: event.data.orderId,
      transition: 'confirm',
      cause: eventCause(event),
      set: { paymentId: event.data.paymentId },
    });
  }

  async onPaymentFailed(
    client: PoolClient,
    event: EventEnvelope<{
      orderId: string;
      reason?: string;
      code?: string;
      retryable?: boolean;
      attempt?: number;
    }>,
  ) {
    if (event.data.attempt !== undefined) {
      await orderStore.settlePaymentAttempt(client, event.data.orderId, event.data.attempt);
    }
    const reason = `payment failed: ${event.data.code ?? 'unknown'}${
      event.data.reason ? ` (${event.data.reason})` : ''
    }`;
    if (event.data.retryable) {
      await this.apply(client, {
        orderId: event.data.orderId,
        transition: 'paymentDeclinedRetryable',
        cause: eventCause(event),
        reason,
        set: { reservationTtlMs: this.deps.reservationTtlMs },
      });
      return;
    }
    await this.apply(client, {
      orderId: event.data.orderId,
      transition: 'fail',
      cause: eventCause(event),
      reason,
      set: { failureReason: reason },
    });
  }

  async onPaymentRefunded(
    client: PoolClient,
    event: EventEnvelope<{ orderId: string; amount: { amount: number } }>,
  ) {
    const found = await orderStore.addRefund(client, event.data.orderId, event.data.amount.amount);
    if (!found) this.unknownOrder(event);
  }

  /**
   * user.deleted: the account is gone, so its open orders are cancelled (order.cancelled makes
   * product release the stock and payment refund what it charged). Shipped orders stay.
   */
  async onUserDeleted(client: PoolClient, event: EventEnvelope<{ userId: string }>) {
    const ids = await orderStore.ordersOfUser(client, event.data.userId, TRANSITIONS.cancel.from);
    for (const orderId of ids) {
      await this.apply(client, {
        orderId,
        transition: 'cancel',
        cause: eventCause(event),
        reason: 'ACCOUNT_DELETED',
      });
    }
    if (ids.length > 0) {
      this.deps.logger.info('open orders of a deleted account cancelled', { count: ids.length });
    }
  }

  /** One pass of the order service's timers: expired reservations, overdue and stuck payments. */
  async sweep(): Promise<{ expired: number; asked: number; failed: number }> {
    let expired = 0;
    for (;;) {
      const n = await this.expireReservations(100);
      expired += n;
      if (n < 100) break;
    }
    if (expired > 0) this.deps.logger.info('expired reservations cancelled', { count: expired });
    const asked = await this.askAboutOverduePayments();
    const failed = await this.failStuckPayments();
    return { expired, asked, failed };
  }

  /**
   * An order left in PAYMENT_PROCESSING (payment.completed or .failed lost, or payment never
   * saw the order) makes order publish order.payment.overdue; payment answers by publishing the
   * payment's outcome again, or payment.failed when it has no charge for the order (and then
   * never charges it). Asked again every paymentOverdueMs until the order moves.
   */
  async askAboutOverduePayments(batch = 100): Promise<number> {
    return withTransaction(this.deps.pool, async (client) => {
      const ids = await orderStore.claimOverduePayments(client, this.deps.paymentOverdueMs, batch);
      for (const id of ids) {
        const order = await orderStore.get(client, id);
        if (!order) continue;
        await addToOutbox(
          client,
          this.event(order, 'order.payment.overdue', {
            orderId: order.id,
            userId: order.userId,
            since: order.updatedAt,
          }),
        );
      }
      if (ids.length > 0)
        this.deps.logger.warn('payment overdue: asked payment', { count: ids.length });
      return ids.length;
    });
  }

  /**
   * Past paymentGiveUpMs (payment gone for good) the order fails: product releases the stock,
   * and payment, whenever it is back, refunds a charge it made for the failed order.
   */
  async failStuckPayments(batch = 100): Promise<number> {
    if (this.deps.paymentGiveUpMs <= 0) return 0;
    return withTransaction(this.deps.pool, async (client) => {
      const ids = await orderStore.stuckPayments(client, this.deps.paymentGiveUpMs, batch);
      let failed = 0;
      for (const id of ids) {
        const result = await this.apply(client, {
          orderId: id,
          transition: 'fail',
          cause: { type: 'system', name: 'payment-timeout' },
          reason: 'PAYMENT_TIMEOUT',
          set: { failureReason: 'PAYMENT_TIMEOUT: no outcome from payment in time' },
        });
        if (result.applied) failed += 1;
      }
      return failed;
    });
  }

  /** Cancels orders whose reservation expired while waiting for payment. Returns how many. */
  async expireReservations(batch = 100): Promise<number> {
    return withTransaction(this.deps.pool, async (client) => {
      const ids = await orderStore.expiredAwaitingPayment(client, batch);
      let cancelled = 0;
      for (const id of ids) {
        const result = await this.apply(client, {
          orderId: id,
          transition: 'expire',
          cause: { type: 'system', name: 'reservation-expiry' },
          reason: 'RESERVATION_EXPIRED',
        });
        if (result.applied) cancelled += 1;
      }
      return cancelled;
    });
  }

  // ---------- shared ----------

  /**
   * Applies a transition and, when it changed something, writes what follows from it in the
   * same transaction: the outgoing event (outbox) and the anchor request. A transition that
   * does not apply (late or duplicate event) is logged and changes nothing.
   */
  private async apply(client: PoolClient, input: TransitionInput): Promise<TransitionResult> {
    const result = await orderStore.transition(client, input);
    if (!result.applied) {
      this.deps.logger.info('order transition ignored', {
        orderId: input.orderId,
        transition: input.transition,
        current: result.current,
        cause: input.cause,
      });
      return result;
    }
    const { order, from } = result;
    this.deps.logger.info('order transition', {
      orderId: order.id,
      from,
      to: order.status,
      transition: input.transition,
    });
    const lines = order.items.map((i) => ({ productId: i.productId, quantity: i.quantity }));
    // One anchor record per status change (CONFIRMED included). The payload is read back from
    // the rows just written, by the same function that rebuilds it for verification.
    const payload = await orderStore.anchorPayload(client, result.historyId);
    if (payload) {
      await this.deps.anchor.enqueue(client, {
        recordType: 'order',
        recordId: order.id,
        sourceId: result.historyId,
        payload: { ...payload },
      });
    }
    switch (order.status) {
      case 'CONFIRMED':
        await addToOutbox(
          client,
          this.event(order, 'order.confirmed', {
            orderId: order.id,
            userId: order.userId,
            items: lines,
            total: order.total,
          }),
        );
        break;
      case 'FAILED':
        await addToOutbox(
          client,
          this.event(order, 'order.failed', {
            orderId: order.id,
            reason: order.failureReason ?? input.reason ?? 'failed',
            items: lines,
          }),
        );
        break;
      case 'CANCELLED':
        await addToOutbox(
          client,
          this.event(order, 'order.cancelled', {
            orderId: order.id,
            userId: order.userId,
            reason: input.reason ?? 'cancelled',
            previousStatus: from,
            items: lines,
          }),
        );
        break;
      case 'DELIVERED':
        await addToOutbox(client, this.event(order, 'order.completed', { orderId: order.id }));
        break;
      default:
        break;
    }
    return result;
  }

  /**
   * inventory.reserved for an order that was cancelled or failed while still PENDING: the
   * product reserved after it saw our compensation, so ask it to release once more.
   */
  private async releaseLateReservation(client: PoolClient, order: Order, event: EventEnvelope) {
    const history = await orderStore.history(client, order.id);
    const last = history[history.length - 1];
    if (!last || last.from !== 'PENDING') return;
    const lines = order.items.map((i) => ({ productId: i.productId, quantity: i.quantity }));
    this.deps.logger.warn('late reservation for a closed order: releasing it', {
      orderId: order.id,
      status: order.status,
      eventId: event.eventId,
    });
    await addToOutbox(
      client,
      order.status === 'CANCELLED'
        ? this.event(order, 'order.cancelled', {
            orderId: order.id,
            userId: order.userId,
            reason: 'LATE_RESERVATION',
            previousStatus: 'PENDING',
            items: lines,
          })
        : this.event(order, 'order.failed', {
            orderId: order.id,
            reason: order.failureReason ?? 'failed',
            items: lines,
          }),
    );
  }

  private unknownOrder(event: EventEnvelope): void {
    this.deps.logger.warn('event for an unknown order ignored', {
      eventId: event.eventId,
      eventType: event.eventType,
      orderId: (event.data as { orderId?: unknown }).orderId,
    });
  }

  /**
   * Events keep the saga's correlation id: the current request's or handled event's when
   * there is one, else the id stored with the order (timers have no context).
   */
  private event<T>(order: Order, type: string, data: T): EventEnvelope<T> {
    const ctx = getContext();
    return createEvent(SOURCE, type, data, ctx ? {} : { correlationId: order.correlationId });
  }
}

function eventCause(event: EventEnvelope): Cause {
  return { type: 'event', eventId: event.eventId, eventType: event.eventType };
}
