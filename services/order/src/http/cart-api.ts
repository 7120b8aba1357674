import Joi from 'joi';
import { moneySchema, shippingAddressSchema, type OperationSpec } from '@ecom/common/http';
import { CART_TOKEN_PATTERN } from '../application/carts';
import { nullable, orderPayment, productIdSchema, timestamp } from './schemas';

/**
 * The cart operations (docs/adr/0022), part of the order service's API under /api/carts. The
 * caller's cart is `mine`: a signed-in customer's own, or a guest's named by X-Cart-Token.
 */

export const CART_TOKEN_HEADER = 'X-Cart-Token';

const cartToken = Joi.string().pattern(CART_TOKEN_PATTERN).messages({
  'string.pattern.base': '{{#label}} must be a cart token (ct_ and 43 characters)',
});
const productId = productIdSchema;

/** Read by the 'optional' routes when no user is signed in. */
const guestHeader = Joi.object({
  [CART_TOKEN_HEADER]: cartToken.description(
    "A guest cart's token (POST /api/carts/guest); ignored when a user is signed in",
  ),
});

const cartLine = Joi.object({
  productId: Joi.string(),
  name: Joi.string(),
  quantity: Joi.number().integer(),
  unitPrice: moneySchema,
  lineTotal: moneySchema,
  available: Joi.number().integer().min(0),
  inStock: Joi.boolean(),
  previousUnitPriceCents: nullable(Joi.number().integer()).description(
    'The unit price the cart showed before, when product changed it since',
  ),
});

const unavailableLine = Joi.object({
  productId: Joi.string(),
  quantity: Joi.number().integer(),
  reason: Joi.string()
    .valid('PRODUCT_UNAVAILABLE', 'MIXED_CURRENCY')
    .description(
      "PRODUCT_UNAVAILABLE: product sells it no more; MIXED_CURRENCY: now priced in another currency than the cart's",
    ),
  name: nullable(Joi.string()),
  unitPrice: nullable(moneySchema),
});

export const cartSchema = Joi.object({
  id: nullable(Joi.string().guid()),
  kind: Joi.string().valid('customer', 'guest'),
  currency: nullable(Joi.string().length(3)).description(
    "The cart's one currency, kept with it: set by the first line added to the empty cart, null while it is empty",
  ),
  itemCount: Joi.number().integer().min(0).description('Units in lines (what can be checked out)'),
  updatedAt: nullable(timestamp),
  lines: Joi.array()
    .items(cartLine)
    .description("The lines that can be checked out, in the cart's one currency"),
  total: nullable(moneySchema).description('Of lines'),
  unavailable: Joi.array()
    .items(Joi.string())
    .description(
      'Products in the cart that cannot be checked out (no longer sold, or in another currency): checkout is refused until they are removed',
    ),
  unavailableLines: Joi.array()
    .items(unavailableLine)
    .description('The lines of unavailable, with their quantity and why'),
}).label('Cart');

const cartAnswer = {
  status: 200 as const,
  description: "The cart at today's prices",
  schema: cartSchema,
};
const noCart =
  "No cart: no user signed in and no X-Cart-Token (401), or the guest cart's token names none (404 CART_NOT_FOUND)";
const quantity = Joi.number().integer().min(1).max(1000);

/** The operations; checkout answers the order, in the order API's own shapes. */
export const cartOperations = (writtenOrder: Joi.Schema) =>
  ({
    createGuestCart: {
      method: 'post',
      path: '/api/carts/guest',
      summary: 'A guest cart: its token is answered once, send it as X-Cart-Token',
      description:
        "The token is the only key to the cart and is never shown again (the service keeps its hash). After signing in, POST /api/carts/mine/merge moves its lines into the customer's cart. A guest cart unchanged for CART_GUEST_IDLE_MS (30 days) is forgotten, an empty one after CART_GUEST_EMPTY_IDLE_MS (1 hour); reading it does not count as a change.",
      access: 'public',
      tag: 'Carts',
      response: {
        status: 201,
        description: 'The empty cart and its token',
        schema: cartSchema.keys({ cartToken: Joi.string() }).label('GuestCart'),
      },
    },
    getCart: {
      method: 'get',
      path: '/api/carts/mine',
      summary: "The caller's cart with live prices, stock and total",
      description:
        'Each answer remembers the prices it showed: checkout goes ahead only at those (docs/adr/0022). A signed-in customer without a cart gets an empty one (id null).',
      access: 'optional',
      tag: 'Carts',
      headers: guestHeader,
      response: cartAnswer,
      errors: { 404: noCart },
    },
    addCartItem: {
      method: 'post',
      path: '/api/carts/mine/items',
      summary: 'Add units of a product (a line already there grows)',
      access: 'optional',
      tag: 'Carts',
      headers: guestHeader,
      body: Joi.object({ productId: productId.required(), quantity: quantity.required() }),
      response: cartAnswer,
      errors: {
        404: noCart,
        422: 'UNKNOWN_PRODUCT, MIXED_CURRENCY (one currency per cart), CART_FULL (50 products), QUANTITY_LIMIT (100 units of one product)',
      },
    },
    replaceCart: {
      method: 'put',
      path: '/api/carts/mine',
      summary: 'Replace every line (an empty list empties the cart)',
      access: 'optional',
      tag: 'Carts',
      headers: guestHeader,
      body: Joi.object({
        items: Joi.array()
          .items(Joi.object({ productId: productId.required(), quantity: quantity.required() }))
          .max(50)
          .unique('productId')
          .required(),
      }),
      response: cartAnswer,
      errors: { 404: noCart, 422: 'UNKNOWN_PRODUCT, MIXED_CURRENCY, QUANTITY_LIMIT' },
    },
    setCartItem: {
      method: 'put',
      path: '/api/carts/mine/items/:productId',
      summary: "Set a line's quantity (0 removes it)",
      access: 'optional',
      tag: 'Carts',
      headers: guestHeader,
      params: Joi.object({ productId: productId.required() }),
      body: Joi.object({ quantity: Joi.number().integer().min(0).max(1000).required() }),
      response: cartAnswer,
      errors: {
        404: `${noCart}; or the product is not in the cart`,
        422: 'QUANTITY_LIMIT; UNKNOWN_PRODUCT or MIXED_CURRENCY for a quantity above 0 of a line in unavailable (0 removes it)',
      },
    },
    removeCartItem: {
      method: 'delete',
      path: '/api/carts/mine/items/:productId',
      summary: 'Remove a line',
      access: 'optional',
      tag: 'Carts',
      headers: guestHeader,
      params: Joi.object({ productId: productId.required() }),
      response: { status: 204, description: 'Removed' },
      errors: { 404: `${noCart}; or the product is not in the cart` },
    },
    mergeCart: {
      method: 'post',
      path: '/api/carts/mine/merge',
      summary: "Merge a guest cart into the signed-in customer's (after login)",
      description:
        "Quantities add up within the limits; products beyond the 50-line limit are named in leftOut. Guest lines the customer's cart cannot check out (another currency, no longer sold) come along in unavailable. The guest cart is closed: its token works no more.",
      access: 'user',
      tag: 'Carts',
      body: Joi.object({ cartToken: cartToken.required() }),
      response: {
        status: 200,
        description: "The customer's cart",
        schema: cartSchema.keys({ leftOut: Joi.array().items(Joi.string()) }).label('MergedCart'),
      },
      errors: { 404: 'CART_NOT_FOUND: the guest cart is gone (merged already, or forgotten)' },
    },
    checkoutCart: {
      method: 'post',
      path: '/api/carts/mine/checkout',
      summary: "Turn the customer's cart into an order (the saga takes it from there)",
      description:
        "Prices are checked against those the cart last showed: a change answers 409 PRICE_CHANGED with the new lines and total, and the same checkout sent again then goes ahead at the new prices. The cart closes in the order's own transaction: two checkouts at once make one order (the other: 409 CART_CHECKED_OUT with its id). Send an Idempotency-Key to retry safely.",
      access: 'user',
      tag: 'Carts',
      body: Joi.object({
        payment: orderPayment,
        shippingAddress: shippingAddressSchema.description(
          "Optional: left out, the customer's profile address and name are used",
        ),
      }),
      idempotent: true,
      response: {
        status: 201,
        description: 'The order, PENDING (a replay: header Idempotent-Replayed)',
        schema: writtenOrder,
      },
      errors: {
        409: 'PRICE_CHANGED (details: changed, lines, total), OUT_OF_STOCK, PRODUCT_UNAVAILABLE, CART_CHECKED_OUT, CART_CHANGED; or a request with this Idempotency-Key is still in progress',
        422: "CART_EMPTY (before SHIPPING_ADDRESS_REQUIRED), MIXED_CURRENCY (details: productIds, cartCurrency; lines in another currency than the cart's, to remove first), IDEMPOTENCY_KEY_REUSED, SHIPPING_ADDRESS_REQUIRED, UNPAID_HOLD_LIMIT",
      },
    },
  }) satisfies Record<string, OperationSpec>;
