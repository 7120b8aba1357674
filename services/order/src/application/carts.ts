import { createHash, randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import type { AuthUser } from '@ecom/common/auth';
import { ConflictError, NotFoundError } from '@ecom/common/errors';
import type { IdempotentResult } from '@ecom/common/postgres';
import type { ProductCatalog } from '../clients/catalog';
import {
  DEFAULT_CART_LIMITS,
  addLine,
  assertCheckoutable,
  markSeen,
  mergeLines,
  priceCart,
  setQuantity,
  type CartLimits,
  type CartLine,
  type LiveQuote,
  type PricedCart,
} from '../domain/cart';
import { priceOrder, unknownProduct } from '../domain/pricing';
import type { ShippingAddress } from '../domain/types';
import { cartStore, type CartOwner, type StoredCart } from '../store/cart-store';
import type { Orders } from './orders';

/** A guest cart's secret: shown once at creation, kept only as its SHA-256. */
export const CART_TOKEN_PATTERN = /^ct_[A-Za-z0-9_-]{43}$/;

const newCartToken = () => `ct_${randomBytes(32).toString('base64url')}`;
const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

/** Who is asking for a cart: a signed-in user, or a guest holding a cart token. */
export type CartCaller = { user: AuthUser } | { cartToken: string };

export interface CartView extends PricedCart {
  /** Null while the customer has no cart yet (nothing added). */
  id: string | null;
  kind: 'customer' | 'guest';
  itemCount: number;
  updatedAt: string | null;
}

export interface CheckoutInput {
  payment?: { method: 'card'; token: string };
  shippingAddress?: ShippingAddress;
}

export interface CartsDeps {
  pool: Pool;
  catalog: ProductCatalog;
  orders: Orders;
  limits?: CartLimits;
  /** Guest carts untouched this long are forgotten. */
  guestIdleMs: number;
  /**
   * Empty guest carts unchanged this long are forgotten: anyone may make one without a token,
   * so each must not hold a row for a month. Default: guestIdleMs (a longer one changes nothing:
   * the idle rule takes every cart).
   */
  guestEmptyIdleMs?: number;
}

const owner = (caller: CartCaller): CartOwner =>
  'user' in caller ? { userId: caller.user.id } : { tokenHash: tokenHash(caller.cartToken) };

const idsOf = (lines: readonly { productId: string }[]) => [
  ...new Set(lines.map((l) => l.productId)),
];

/** Guest carts forgotten per statement, and how long one sweep may go on. */
const SWEEP_BATCH = 1000;
const SWEEP_SECONDS = 5;

const guestCartGone = () =>
  new NotFoundError(
    'No such cart: a guest cart is forgotten once merged, or when unchanged for long (an empty one: an hour)',
    {
      reason: 'CART_NOT_FOUND',
    },
  );

/**
 * The cart use cases (docs/adr/0022): lines kept in order_db, priced live from product on
 * every answer, turned into an order through Orders.place, exactly once.
 */
export class Carts {
  private readonly limits: CartLimits;

  constructor(private readonly deps: CartsDeps) {
    this.limits = deps.limits ?? DEFAULT_CART_LIMITS;
  }

  /** A new guest cart and its token (the only time the token is ever shown). */
  async createGuest(): Promise<CartView & { cartToken: string }> {
    const cartToken = newCartToken();
    const cart = await cartStore.createGuest(this.deps.pool, tokenHash(cartToken));
    return { ...(await this.answer(cart, new Map())), cartToken };
  }

  /** The cart at today's prices; what it shows is remembered for checkout's price check. */
  async view(caller: CartCaller): Promise<CartView> {
    const cart = await cartStore.open(this.deps.pool, owner(caller));
    if (!cart) {
      if ('cartToken' in caller) throw guestCartGone();
      return {
        id: null,
        kind: 'customer',
        itemCount: 0,
        updatedAt: null,
        ...priceCart([], new Map()),
      };
    }
    return this.answer(cart, new Map());
  }

  /** Adds units of a product product sells (a line already there grows). */
  async addItem(caller: CartCaller, productId: string, quantity: number): Promise<CartView> {
    const current = await cartStore.open(this.deps.pool, owner(caller));
    const quotes = await this.deps.catalog.live(idsOf([...(current?.lines ?? []), { productId }]));
    if (!quotes.has(productId)) throw unknownProduct(productId);
    // The limits and the one-currency rule, before anything is written.
    priceCart(addLine(current?.lines ?? [], productId, quantity, this.limits), quotes);
    const cart = await this.change(caller, (lines) =>
      addLine(lines, productId, quantity, this.limits),
    );
    return this.answer(cart, quotes);
  }

  /**
   * Sets a line's quantity; 0 removes it. The prices are read first, so while product is down
   * the answer is 503 and nothing is written.
   */
  async setItem(caller: CartCaller, productId: string, quantity: number): Promise<CartView> {
    const current = await cartStore.open(this.deps.pool, owner(caller));
    const quotes = await this.deps.catalog.live(idsOf(current?.lines ?? []));
    const cart = await this.change(caller, (lines) =>
      setQuantity(lines, productId, quantity, this.limits),
    );
    return this.answer(cart, quotes);
  }

  /** Removes a line; it needs no price, so it works while product is down. */
  async removeItem(caller: CartCaller, productId: string): Promise<void> {
    await this.change(caller, (lines) => setQuantity(lines, productId, 0, this.limits));
  }

  /** Replaces every line (an empty list empties the cart). */
  async replace(
    caller: CartCaller,
    items: { productId: string; quantity: number }[],
  ): Promise<CartView> {
    const quotes = await this.deps.catalog.live(idsOf(items));
    const unknown = items.find((i) => !quotes.has(i.productId));
    if (unknown) throw unknownProduct(unknown.productId);
    const lines = items.reduce<CartLine[]>(
      (acc, i) => addLine(acc, i.productId, i.quantity, this.limits),
      [],
    );
    priceCart(lines, quotes);
    const cart = await this.change(caller, () => lines);
    return this.answer(cart, quotes);
  }

  /**
   * A guest cart (its token) merged into the signed-in customer's: quantities add up within
   * the limits; products beyond the line limit are named in `leftOut`. The guest cart is then
   * closed: its token works no more.
   */
  async merge(user: AuthUser, cartToken: string): Promise<CartView & { leftOut: string[] }> {
    const result = await cartStore.merge(
      this.deps.pool,
      user.id,
      tokenHash(cartToken),
      (into, from) => mergeLines(into, from, this.limits),
    );
    if (!result) throw guestCartGone();
    return { ...(await this.answer(result.cart, new Map())), leftOut: result.merged.leftOut };
  }

  /**
   * The customer's cart turned into an order through the saga, once: the Idempotency-Key
   * answers a repeat with the same order; the cart closes in the order's own transaction, and
   * only at the version that was priced, so two checkouts at once make one order (the other
   * gets 409). Prices are checked again against what the cart last showed (409 PRICE_CHANGED
   * with the new total; the same checkout sent again then goes ahead at those prices).
   */
  async checkout(
    user: AuthUser,
    input: CheckoutInput,
    idempotencyKey?: string,
    credentials?: string,
  ): Promise<IdempotentResult> {
    let priced: StoredCart | undefined;
    return this.deps.orders.place(user, {
      scope: 'carts.checkout',
      key: idempotencyKey,
      request: input,
      credentials,
      payment: input.payment,
      shippingAddress: input.shippingAddress,
      price: async () => {
        const cart = await cartStore.open(this.deps.pool, { userId: user.id });
        const lines = cart?.lines ?? [];
        const quotes = await this.deps.catalog.live(idsOf(lines));
        const live = priceCart(lines, quotes);
        try {
          assertCheckoutable(live); // no cart at all: CART_EMPTY, as an empty one
        } catch (err) {
          // The 409 shows the new prices: from now on they are the ones the customer has seen.
          if (cart && err instanceof ConflictError && reasonOf(err) === 'PRICE_CHANGED') {
            await cartStore.saveSeen(this.deps.pool, cart, markSeen(lines, live));
          }
          throw err;
        }
        priced = cart!;
        return priceOrder(lines, quotes);
      },
      inTransaction: async (client, orderId) => {
        const outcome = await cartStore.close(client, priced!, orderId);
        if (outcome.closed) return;
        throw outcome.status === 'CHECKED_OUT'
          ? new ConflictError('This cart was already checked out', {
              reason: 'CART_CHECKED_OUT',
              orderId: outcome.orderId,
            })
          : new ConflictError('The cart changed during checkout: look at it again', {
              reason: 'CART_CHANGED',
            });
      },
    });
  }

  /**
   * Forgets idle and merged guest carts (the sweeper): batch after batch while they come back
   * full, for at most SWEEP_SECONDS, so carts made faster than one batch a run do not pile up.
   */
  async sweep(): Promise<number> {
    // An empty cart idle past guestIdleMs goes by the idle rule too, whatever emptyIdleMs says.
    const { pool, guestIdleMs, guestEmptyIdleMs: emptyIdleMs = guestIdleMs } = this.deps;
    const until = Date.now() + SWEEP_SECONDS * 1000;
    let forgotten = 0;
    for (;;) {
      const n = await cartStore.sweepGuests(pool, guestIdleMs, emptyIdleMs, SWEEP_BATCH);
      forgotten += n;
      if (n < SWEEP_BATCH || Date.now() >= until) return forgotten;
    }
  }

  private async change(
    caller: CartCaller,
    change: (lines: CartLine[]) => CartLine[],
  ): Promise<StoredCart> {
    const cart = await cartStore.change(this.deps.pool, owner(caller), change);
    if (!cart) throw guestCartGone();
    return cart;
  }

  /** Prices the cart (asking product for what `known` lacks) and remembers what it showed. */
  private async answer(cart: StoredCart, known: Map<string, LiveQuote>): Promise<CartView> {
    const missing = idsOf(cart.lines).filter((id) => !known.has(id));
    const quotes = missing.length
      ? new Map([...known, ...(await this.deps.catalog.live(missing))])
      : known;
    const priced = priceCart(cart.lines, quotes);
    const seen = markSeen(cart.lines, priced);
    if (seen.some((l, i) => l.seenUnitPriceCents !== cart.lines[i]!.seenUnitPriceCents)) {
      await cartStore.saveSeen(this.deps.pool, cart, seen);
    }
    return {
      id: cart.id,
      kind: cart.kind,
      itemCount: cart.lines.reduce((n, l) => n + l.quantity, 0),
      updatedAt: cart.updatedAt,
      ...priced,
    };
  }
}

const reasonOf = (err: ConflictError) => (err.details as { reason?: string } | undefined)?.reason;
