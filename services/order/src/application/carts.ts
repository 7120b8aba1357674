import { createHash, randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import type { AuthUser } from '@ecom/common/auth';
import { AppError, BusinessRuleError, ConflictError, NotFoundError } from '@ecom/common/errors';
import type { IdempotentResult } from '@ecom/common/postgres';
import type { ProductCatalog } from '../clients/catalog';
import {
  DEFAULT_CART_LIMITS,
  addLine,
  assertCheckoutable,
  cartCurrency,
  mergeLines,
  priceCart,
  setQuantity,
  type CartContent,
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

/** A line the cart holds but cannot check out now, and why. */
export interface UnavailableLine {
  productId: string;
  quantity: number;
  /**
   * PRODUCT_UNAVAILABLE: product sells it no more. MIXED_CURRENCY: product now prices it in
   * another currency than the cart's stored one (a seller changed it after it was added).
   */
  reason: 'PRODUCT_UNAVAILABLE' | 'MIXED_CURRENCY';
  /** Null when product sells it no more. */
  name: string | null;
  unitPrice: { amount: number; currency: string } | null;
}

/**
 * A cart as answered. `lines`, `itemCount` and `total` are what can be checked out, in the
 * cart's one currency; `unavailable` (ids) and `unavailableLines` (why) are the rest, kept
 * until the customer removes them.
 */
export interface CartView extends PricedCart {
  /** Null while the customer has no cart yet (nothing added). */
  id: string | null;
  kind: 'customer' | 'guest';
  /** The cart's one currency (cartCurrency): set by its first line, null while empty. */
  currency: string | null;
  /** Units in `lines`. */
  itemCount: number;
  updatedAt: string | null;
  unavailableLines: UnavailableLine[];
}

type ShownCart = Omit<CartView, 'id' | 'kind' | 'updatedAt'>;

/** What product said, by id; null: asked, and product sells it no more. */
type Quotes = Map<string, LiveQuote | null>;

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

/**
 * What an answer shows of a cart's lines at these quotes, and its content to store: the lines
 * with the prices it showed remembered, and its currency (`stored` while it holds lines, or
 * set by them: cartCurrency). A line priced in another currency than the cart's since (a
 * seller's change) or no longer sold is shown apart rather than failing the whole cart, so the
 * customer can still see and fix it.
 */
function show(
  { lines, currency: stored }: CartContent,
  quotes: Quotes,
): { view: ShownCart; content: CartContent } {
  const currency = cartCurrency(stored, lines, quotes);
  const buyable = new Map<string, LiveQuote>();
  for (const line of lines) {
    const quote = quotes.get(line.productId);
    if (quote && quote.currency === currency) buyable.set(line.productId, quote);
  }
  const priced = priceCart(
    lines.filter((l) => buyable.has(l.productId)),
    buyable,
  );
  const unavailableLines = lines
    .filter((l) => !buyable.has(l.productId))
    .map((l): UnavailableLine => {
      const quote = quotes.get(l.productId);
      return {
        productId: l.productId,
        quantity: l.quantity,
        reason: quote ? 'MIXED_CURRENCY' : 'PRODUCT_UNAVAILABLE',
        name: quote?.name ?? null,
        unitPrice: quote ? { amount: quote.priceCents, currency: quote.currency } : null,
      };
    });
  const shown = new Map(priced.lines.map((l) => [l.productId, l.unitPrice.amount]));
  return {
    view: {
      ...priced,
      currency,
      itemCount: priced.lines.reduce((n, l) => n + l.quantity, 0),
      unavailable: unavailableLines.map((l) => l.productId),
      unavailableLines,
    },
    content: {
      // A line not shown priced keeps the price last seen: back on sale (or in the cart's
      // currency), it is not checked out at a price the customer never saw.
      lines: lines.map((l) =>
        shown.has(l.productId) ? { ...l, seenUnitPriceCents: shown.get(l.productId)! } : l,
      ),
      currency,
    },
  };
}

const EMPTY: CartContent = { lines: [], currency: null };

/**
 * The currency a change starts from: none for a cart with no lines, whatever is stored (a
 * replica of before carts kept their currency may have emptied it without clearing it).
 */
const keptCurrency = (cart: CartContent) => (cart.lines.length > 0 ? cart.currency : null);

/**
 * Setting units of a product the cart holds but cannot check out is refused, as adding it is:
 * 422 UNKNOWN_PRODUCT (no longer sold) or MIXED_CURRENCY (not in the cart's currency).
 */
function refuseUnavailable(view: ShownCart, productId: string): void {
  const line = view.unavailableLines.find((l) => l.productId === productId);
  if (!line) return;
  if (!line.unitPrice) {
    throw new BusinessRuleError(
      `Product ${productId} is no longer sold: remove it from the cart`,
      { productId },
      'UNKNOWN_PRODUCT',
    );
  }
  throw new BusinessRuleError(
    'All items of a cart must be priced in one currency',
    { productId, currency: line.unitPrice.currency, cartCurrency: view.currency },
    'MIXED_CURRENCY',
  );
}

const respond = (cart: StoredCart, view: ShownCart): CartView => ({
  id: cart.id,
  kind: cart.kind,
  updatedAt: cart.updatedAt,
  ...view,
});

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
    return { ...respond(cart, show(EMPTY, new Map()).view), cartToken };
  }

  /** The cart at today's prices; what it shows is remembered for checkout's price check. */
  async view(caller: CartCaller): Promise<CartView> {
    const cart = await cartStore.open(this.deps.pool, owner(caller));
    if (!cart) {
      if ('cartToken' in caller) throw guestCartGone();
      return { id: null, kind: 'customer', updatedAt: null, ...show(EMPTY, new Map()).view };
    }
    return this.answer(cart);
  }

  /**
   * Adds units of a product product sells (a line already there grows). The first line of an
   * empty cart sets its currency; a product in another currency is refused (MIXED_CURRENCY).
   */
  async addItem(caller: CartCaller, productId: string, quantity: number): Promise<CartView> {
    const current = await cartStore.open(this.deps.pool, owner(caller));
    const quotes = await this.quotes(idsOf([...(current?.lines ?? []), { productId }]));
    if (!quotes.get(productId)) throw unknownProduct(productId);
    return this.write(
      caller,
      quotes,
      (cart) => ({
        lines: addLine(cart.lines, productId, quantity, this.limits),
        currency: keptCurrency(cart),
      }),
      (view) => refuseUnavailable(view, productId),
    );
  }

  /**
   * Sets a line's quantity; 0 removes it (whatever its product became). The prices are read
   * first, so while product is down the answer is 503 and nothing is written.
   */
  async setItem(caller: CartCaller, productId: string, quantity: number): Promise<CartView> {
    const current = await cartStore.open(this.deps.pool, owner(caller));
    const quotes = await this.quotes(idsOf(current?.lines ?? []));
    return this.write(
      caller,
      quotes,
      (cart) => ({
        lines: setQuantity(cart.lines, productId, quantity, this.limits),
        currency: keptCurrency(cart),
      }),
      (view) => {
        if (quantity > 0) refuseUnavailable(view, productId);
      },
    );
  }

  /**
   * Removes a line; it needs no price, so it works while product is down. The last one gone,
   * the cart has no currency any more.
   */
  async removeItem(caller: CartCaller, productId: string): Promise<void> {
    const cart = await cartStore.change(this.deps.pool, owner(caller), (current) => {
      const lines = setQuantity(current.lines, productId, 0, this.limits);
      return { lines, currency: cartCurrency(current.currency, lines) };
    });
    if (!cart) throw guestCartGone();
  }

  /**
   * Replaces every line (an empty list empties the cart): a new cart's content, whose currency
   * is its first line's.
   */
  async replace(
    caller: CartCaller,
    items: { productId: string; quantity: number }[],
  ): Promise<CartView> {
    const quotes = await this.quotes(idsOf(items));
    const unknown = items.find((i) => !quotes.get(i.productId));
    if (unknown) throw unknownProduct(unknown.productId);
    const lines = items.reduce<CartLine[]>(
      (acc, i) => addLine(acc, i.productId, i.quantity, this.limits),
      [],
    );
    return this.write(
      caller,
      quotes,
      () => ({ lines, currency: null }),
      (view) => items.forEach((i) => refuseUnavailable(view, i.productId)),
    );
  }

  /**
   * A guest cart (its token) merged into the signed-in customer's: quantities add up within
   * the limits; products beyond the line limit are named in `leftOut`. The guest cart is then
   * closed: its token works no more. The customer's cart keeps its currency; an empty one takes
   * the guest cart's. Guest lines the customer's cart cannot check out (another currency, no
   * longer sold) come along and are shown apart, as in any cart, for the customer to remove.
   * Priced before the commit: a refusal, or product down, merges nothing.
   */
  async merge(user: AuthUser, cartToken: string): Promise<CartView & { leftOut: string[] }> {
    const hash = tokenHash(cartToken);
    const [own, guest] = await Promise.all([
      cartStore.open(this.deps.pool, { userId: user.id }),
      cartStore.open(this.deps.pool, { tokenHash: hash }),
    ]);
    if (!guest) throw guestCartGone();
    const quotes = await this.quotes(idsOf([...(own?.lines ?? []), ...guest.lines]));
    let view: ShownCart | undefined;
    const result = await cartStore.merge(this.deps.pool, user.id, hash, async (into, from) => {
      const merged = mergeLines(into.lines, from.lines, this.limits);
      const live = await this.quotes(idsOf([...into.lines, ...from.lines]), quotes);
      const currency =
        cartCurrency(into.currency, into.lines, live) ??
        cartCurrency(from.currency, from.lines, live);
      const shown = show({ lines: merged.lines, currency }, live);
      view = shown.view;
      return { ...merged, ...shown.content };
    });
    if (!result) throw guestCartGone();
    return { ...respond(result.cart, view!), leftOut: result.merged.leftOut };
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
    try {
      return await this.place(user, input, idempotencyKey, credentials);
    } catch (err) {
      // Orders.place looks for the address before it prices the cart (and for a stored answer
      // of the key before both): an empty cart is told as such, whatever the address.
      if (err instanceof AppError && err.code === 'SHIPPING_ADDRESS_REQUIRED') {
        const cart = await cartStore.open(this.deps.pool, { userId: user.id });
        if (!cart?.lines.length) throw cartEmpty();
      }
      throw err;
    }
  }

  private place(
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
        const quotes = await this.quotes(idsOf(lines));
        const live = show(cart ?? EMPTY, quotes);
        const mixed = live.view.unavailableLines.filter((l) => l.reason === 'MIXED_CURRENCY');
        if (mixed.length > 0) {
          throw new BusinessRuleError(
            'Some products in the cart are now priced in another currency: remove them first',
            { productIds: mixed.map((l) => l.productId), cartCurrency: live.view.currency },
            'MIXED_CURRENCY',
          );
        }
        try {
          assertCheckoutable(live.view); // no cart at all: CART_EMPTY, as an empty one
        } catch (err) {
          // The 409 shows the new prices: from now on they are the ones the customer has seen.
          if (cart && err instanceof ConflictError && reasonOf(err) === 'PRICE_CHANGED') {
            await cartStore.saveSeen(this.deps.pool, cart, live.content);
          }
          throw err;
        }
        priced = cart!;
        return priceOrder(
          lines,
          new Map(lines.map((l) => [l.productId, quotes.get(l.productId)!])),
        );
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

  /**
   * Changes the lines and answers the cart, priced before the commit: `check` or the pricing
   * refusing (or product down) rolls the change back. The lines are written with the prices
   * the answer shows remembered, and the cart's currency as it showed it (`change` keeps the
   * stored one, or gives null to let the lines set it). `quotes` were read before the row lock,
   * so product is asked again only for a product another request added meanwhile.
   */
  private async write(
    caller: CartCaller,
    quotes: Quotes,
    change: (cart: CartContent) => CartContent,
    check: (view: ShownCart) => void,
  ): Promise<CartView> {
    let view: ShownCart | undefined;
    const cart = await cartStore.change(this.deps.pool, owner(caller), async (current) => {
      const next = change(current);
      const shown = show(next, await this.quotes(idsOf(next.lines), quotes));
      check(shown.view);
      view = shown.view;
      return shown.content;
    });
    if (!cart) throw guestCartGone();
    return respond(cart, view!);
  }

  /** Product's answer for `ids`, asking only for those `known` does not hold. */
  private async quotes(ids: string[], known: Quotes = new Map()): Promise<Quotes> {
    const missing = ids.filter((id) => !known.has(id));
    if (missing.length === 0) return known;
    const live = await this.deps.catalog.live(missing);
    return new Map([...known, ...missing.map((id) => [id, live.get(id) ?? null] as const)]);
  }

  /**
   * Prices the cart and remembers what it showed (without bumping its version): the prices,
   * and the currency of a cart stored before carts kept one (set on its first read).
   */
  private async answer(cart: StoredCart): Promise<CartView> {
    const { view, content } = show(cart, await this.quotes(idsOf(cart.lines)));
    if (
      content.currency !== cart.currency ||
      content.lines.some((l, i) => l.seenUnitPriceCents !== cart.lines[i]!.seenUnitPriceCents)
    ) {
      await cartStore.saveSeen(this.deps.pool, cart, content);
    }
    return respond(cart, view);
  }
}

const cartEmpty = () => new BusinessRuleError('The cart is empty', undefined, 'CART_EMPTY');

const reasonOf = (err: ConflictError) => (err.details as { reason?: string } | undefined)?.reason;
