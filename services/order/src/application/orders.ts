import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import type { AnchorPromise } from '@ecom/common/anchoring';
import type { AuthUser } from '@ecom/common/auth';
import {
  BusinessRuleError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  UnauthorizedError,
} from '@ecom/common/errors';
import { listedUserId, page, type Page, type PageQuery } from '@ecom/common/http';
import { currentCorrelationId, getContext } from '@ecom/common/logging';
import {
  isCheckViolation,
  withTransaction,
  type IdempotencyStore,
  type IdempotentResult,
} from '@ecom/common/postgres';
import type { ProductCatalog } from '../clients/catalog';
import type { ProfileDirectory } from '../clients/profile-client';
import { LINE_STEPS, leastAdvanced, type LineTarget } from '../domain/fulfilment';
import { priceOrder, type PricedOrder, type RequestedItem } from '../domain/pricing';
import { sellerOrderView, type SellerOrderView } from '../domain/seller-view';
import {
  MANUAL_STATUS_TRANSITIONS,
  TRANSITIONS,
  decide,
  type OrderStatus,
} from '../domain/state-machine';
import type { Cause, HistoryEntry, Order, ShippingAddress } from '../domain/types';
import { assertMayHoldUnpaid, type UnpaidHoldLimits } from '../domain/unpaid-holds';

/** A history entry as a caller sees it: another account's id left out of a request's cause. */
type ShownEntry = Omit<HistoryEntry, 'cause'> & {
  cause: Cause | { type: 'request'; requestId: string };
};
import { orderStore } from '../store/order-store';
import type { OrderTransitions } from './transitions';

export interface CreateOrderInput {
  items: RequestedItem[];
  payment?: { method: 'card'; token: string };
  /** Optional: the customer's profile address is used when it is left out. */
  shippingAddress?: ShippingAddress;
}

/** How an order is placed: what identifies the request, and where its lines come from. */
export interface OrderPlacement {
  /** The Idempotency-Key's scope ('orders.create', 'carts.checkout'). */
  scope: string;
  key: string | undefined;
  /** What the key is bound to: the request as the client sent it. */
  request: unknown;
  credentials?: string;
  payment?: { method: 'card'; token: string };
  shippingAddress?: ShippingAddress;
  /**
   * The order's lines at today's prices; runs after the key is found new, unless `pricingOnlyReads`.
   */
  price: () => Promise<PricedOrder>;
  /**
   * Pricing only reads (a repeat of the request may run it): the stored answer of a repeated
   * key is then looked for only when placing fails, one round trip less for a new order.
   */
  pricingOnlyReads?: boolean;
  /** A write that must commit with the order or not at all; throwing undoes the order. */
  inTransaction?: (client: PoolClient, orderId: string) => Promise<void>;
}

export interface OrdersDeps {
  pool: Pool;
  catalog: ProductCatalog;
  profiles: ProfileDirectory;
  idempotency: IdempotencyStore;
  transitions: OrderTransitions;
  /** What one account may hold in orders placed without payment details. */
  unpaidHolds: UnpaidHoldLimits;
}

export type OrderListQuery = PageQuery & { status?: OrderStatus; userId?: string; seller?: string };

const isAdmin = (user: AuthUser) => user.role === 'admin';

/** A seller with at least one line in the order (seller ids come from the product snapshot). */
const sellsIn = (user: AuthUser, order: Order) =>
  user.role === 'seller' && order.items.some((i) => i.sellerId === user.id);

/** A write's answer: the order and the promise signed for its anchored entry (null: anchoring off). */
export type WrittenOrder = Order & { anchorPromise: AnchorPromise | null };

/** A seller's write answer: their view of the order (only their lines) and the promise. */
export type WrittenSellerOrder = SellerOrderView & { anchorPromise: AnchorPromise | null };

export function requestCause(user: AuthUser): Cause {
  return { type: 'request', requestId: getContext()?.requestId ?? 'unknown', userId: user.id };
}

/**
 * The order use cases behind the HTTP API. They own their transactions: a state change, its
 * history, its event and its anchor request commit together.
 */
export class Orders {
  constructor(private readonly deps: OrdersDeps) {}

  /**
   * Prices the items from product, stores the order PENDING and emits order.created, once per
   * Idempotency-Key. `credentials` (the caller's access token) lets order read the profile
   * address when the request has none.
   */
  create(
    user: AuthUser,
    input: CreateOrderInput,
    idempotencyKey?: string,
    credentials?: string,
  ): Promise<IdempotentResult> {
    return this.place(user, {
      scope: 'orders.create',
      key: idempotencyKey,
      request: input,
      credentials,
      payment: input.payment,
      shippingAddress: input.shippingAddress,
      price: async () => {
        const productIds = [...new Set(input.items.map((i) => i.productId))];
        return priceOrder(input.items, await this.deps.catalog.quote(productIds));
      },
      pricingOnlyReads: true,
    });
  }

  /**
   * Places an order: the one path for POST /api/orders and a cart's checkout. Pricing runs
   * outside any transaction (a slow product must not hold a database connection); the order,
   * its history, its anchor request, the Idempotency-Key and `inTransaction`'s own write (a
   * cart closed) then commit together, or none of them.
   */
  async place(user: AuthUser, placement: OrderPlacement): Promise<IdempotentResult> {
    return this.deps.idempotency.run(
      { scope: placement.scope, userId: user.id, key: placement.key, body: placement.request },
      async (claimKey) => {
        const shippingAddress =
          placement.shippingAddress ?? (await this.profileAddress(placement.credentials));
        const priced = await placement.price();
        const orderId = randomUUID();
        const order = await withTransaction(this.deps.pool, async (client) => {
          // Without payment details the order holds stock unpaid: within the account's limit.
          if (!placement.payment) {
            const units = priced.lines.reduce((sum, line) => sum + line.quantity, 0);
            const held = await orderStore.unpaidHoldsOf(client, user.id);
            assertMayHoldUnpaid(held, units, this.deps.unpaidHolds);
          }
          // The order's rows and its anchoring's locked reads in one round trip.
          const write = this.deps.transitions.anchoredWrite(client, orderId);
          const created = await orderStore.insert(
            client,
            {
              id: orderId,
              userId: user.id,
              priced,
              paymentMethod: placement.payment?.method ?? null,
              shippingAddress,
              correlationId: currentCorrelationId(),
            },
            requestCause(user),
            write.send,
          );
          const body = {
            ...created,
            anchorPromise: await this.deps.transitions.anchor(client, orderId, write.reads()),
          };
          // With a placement's own write (a cart closed), the key first: a duplicate with the
          // same key waits here and replays this answer, rather than tripping over that write.
          // Without one, the key rides with the COMMIT: a duplicate's own order then waits for
          // the key there, fails on it and rolls back, and the duplicate replays this answer.
          await claimKey(
            client,
            orderId,
            { status: 201, body },
            { atCommit: !placement.inTransaction },
          );
          await placement.inTransaction?.(client, orderId);
          await this.deps.transitions.publish(client, created, 'order.created', {
            orderId,
            userId: user.id,
            items: created.items.map((i) => ({
              productId: i.productId,
              quantity: i.quantity,
              unitPrice: i.unitPrice.amount,
              name: i.name,
            })),
            total: created.total,
            payment: placement.payment
              ? { method: placement.payment.method, token: placement.payment.token }
              : null,
          });
          return body;
        }).catch((err: unknown) => {
          // The account was deleted while this request was on its way (migration 012).
          if (isCheckViolation(err, 'orders_account_open')) {
            throw new UnauthorizedError('This account was deleted: nothing was ordered', {
              reason: 'account_deleted',
            });
          }
          throw err;
        });
        return { status: 201, body: order };
      },
      // Everything else before the key's claim only reads, and the claim is in the order's
      // transaction: a repeat fails there (or earlier) and replays the stored answer.
      { lookFirst: !placement.pricingOnlyReads },
    );
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

  /** Owner or admin; anyone else gets 404 so order ids cannot be probed. */
  async getVisible(user: AuthUser, id: string): Promise<Order> {
    const order = await orderStore.get(this.deps.pool, id);
    if (!order || !(isAdmin(user) || order.userId === user.id)) {
      throw new NotFoundError(`Order ${id} not found`);
    }
    return order;
  }

  /**
   * GET /api/orders/:id: the owner and admins see the order; a seller of one of its lines sees
   * their part of it (the lines they ship, as in ?seller=me); anyone else gets 404. (The
   * history and the anchored records stay owner-or-admin: getVisible.)
   */
  async getForCaller(user: AuthUser, id: string): Promise<Order | SellerOrderView> {
    const order = await orderStore.get(this.deps.pool, id);
    if (order && (isAdmin(user) || order.userId === user.id)) return order;
    if (order && sellsIn(user, order)) return sellerOrderView(order, user.id);
    throw new NotFoundError(`Order ${id} not found`);
  }

  /** Owners of orders (user ids), for the blockchain routes' access rule. */
  ownersOf(ids: string[]): Promise<Map<string, string>> {
    return orderStore.owners(this.deps.pool, ids);
  }

  /** Own orders (admin: all, or one user's); with `seller`, a seller's view (listForSeller). */
  async list(user: AuthUser, query: OrderListQuery): Promise<Page<Order | SellerOrderView>> {
    if (query.seller !== undefined)
      return this.listForSeller(user, { ...query, seller: query.seller });
    const userId = listedUserId(user, query.userId, 'orders');
    const { orders, total } = await orderStore.list(this.deps.pool, {
      page: query.page,
      limit: query.limit,
      ...(userId !== undefined ? { userId } : {}),
      ...(query.status ? { status: query.status } : {}),
    });
    return page(orders, query, total);
  }

  /**
   * `?seller=me` (a seller's own lines) or `?seller=<id>` (an admin looking at a seller): the
   * orders holding at least one of the seller's lines, each showing only those lines.
   */
  private async listForSeller(user: AuthUser, query: OrderListQuery & { seller: string }) {
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
    return page(
      orders.map((o) => sellerOrderView(o, sellerId)),
      query,
      total,
    );
  }

  async history(user: AuthUser, id: string): Promise<{ orderId: string; history: ShownEntry[] }> {
    await this.getVisible(user, id);
    const history = await orderStore.history(this.deps.pool, id);
    if (user.role === 'admin') return { orderId: id, history };
    // Who acted is the caller's own business, or staff's: another account's id (an admin's) is
    // not shown to a customer or a seller.
    return {
      orderId: id,
      history: history.map((entry) => {
        if (entry.cause.type !== 'request' || entry.cause.userId === user.id) return entry;
        return { ...entry, cause: { type: 'request', requestId: entry.cause.requestId } };
      }),
    };
  }

  async cancel(user: AuthUser, id: string, reason?: string): Promise<WrittenOrder> {
    await this.getVisible(user, id);
    const result = await withTransaction(this.deps.pool, (client) =>
      this.deps.transitions.apply(client, {
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
    return { ...result.order, anchorPromise: result.anchorPromise };
  }

  /**
   * PUT /api/orders/:id/status, fulfilment per seller (docs/adr/0013). An admin moves the whole
   * order: every line not there yet, the order by its own rule (SHIPPED from CONFIRMED or
   * PARTIALLY_SHIPPED, DELIVERED from SHIPPED; else 409). A seller moves the lines of their own
   * products only (409 when none of them can take the step) and is answered with their view of
   * the order. Either way the order's status then follows its lines, in one transaction under
   * the order's row lock. A seller with no line in the order gets 404, as for GET; the owner
   * (not a seller of it) 403.
   */
  async setStatus(
    user: AuthUser,
    id: string,
    status: OrderStatus,
  ): Promise<WrittenOrder | WrittenSellerOrder> {
    // Who may act is checked before any lock: probing someone else's order locks nothing.
    // (The lines and their sellers never change after creation.)
    const visible = await orderStore.get(this.deps.pool, id);
    const seller = !!visible && !isAdmin(user) && sellsIn(user, visible);
    if (!visible || !(isAdmin(user) || seller || visible.userId === user.id)) {
      throw new NotFoundError(`Order ${id} not found`);
    }
    if (!isAdmin(user) && !seller) {
      throw new ForbiddenError('Only an admin or a seller of this order may set its status');
    }
    const transition = MANUAL_STATUS_TRANSITIONS[status];
    if (!transition) {
      throw new BusinessRuleError(`Status ${status} cannot be set by hand`, { status });
    }
    const target = status as LineTarget;
    const step = LINE_STEPS[target];
    const written = await withTransaction(this.deps.pool, async (client) => {
      // Read again under the row lock: two sellers shipping at once see each other's lines.
      const order = await orderStore.get(client, id, { forUpdate: true });
      if (!order) throw new NotFoundError(`Order ${id} not found`);
      if (isAdmin(user) && !decide(transition, order.status).ok) {
        throw new ConflictError(`Order ${id} cannot go from ${order.status} to ${status}`, {
          status: order.status,
          requested: status,
          allowedFrom: TRANSITIONS[transition].from,
        });
      }
      if (!(step.orderIn as readonly OrderStatus[]).includes(order.status)) {
        throw new ConflictError(`Order ${id} is ${order.status}: no line of it can be ${status}`, {
          status: order.status,
          requested: status,
          allowedFrom: step.orderIn,
        });
      }
      const lines = seller ? order.items.filter((i) => i.sellerId === user.id) : order.items;
      const moving = lines.filter((i) => i.fulfilmentStatus === step.from);
      if (moving.length === 0) {
        const where = leastAdvanced(lines.map((i) => i.fulfilmentStatus));
        const whose = seller ? 'Your lines' : 'The lines';
        throw new ConflictError(`${whose} of order ${id} are ${where}: they cannot be ${status}`, {
          status: order.status,
          requested: status,
          fulfilmentStatus: where,
          fulfilmentAllowedFrom: [step.from],
        });
      }
      return this.deps.transitions.fulfil(
        client,
        order,
        moving.map((i) => i.lineNo),
        target,
        requestCause(user),
      );
    });
    const { order, anchorPromise } = written;
    return isAdmin(user)
      ? { ...order, anchorPromise }
      : { ...sellerOrderView(order, user.id), anchorPromise };
  }
}
