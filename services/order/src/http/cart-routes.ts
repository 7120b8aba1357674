import type { Request } from 'express';
import { bearerToken, requireUser } from '@ecom/common/auth';
import { UnauthorizedError, ValidationError } from '@ecom/common/errors';
import { idempotencyKeyHeader, reply } from '@ecom/common/http';
import {
  CART_TOKEN_PATTERN,
  type CartCaller,
  type Carts,
  type CheckoutInput,
} from '../application/carts';
import { CART_TOKEN_HEADER } from './cart-api';

/**
 * Whose cart: the signed-in user's (a token in X-Cart-Token is then ignored; merging is
 * explicit), else the guest cart the header names.
 */
function caller(req: Request): CartCaller {
  if (req.user) return { user: req.user };
  const token = req.get(CART_TOKEN_HEADER);
  if (token === undefined) {
    throw new UnauthorizedError(
      `Sign in, or send a guest cart's token in ${CART_TOKEN_HEADER} (POST /api/carts/guest)`,
    );
  }
  if (!CART_TOKEN_PATTERN.test(token)) {
    throw new ValidationError('Invalid cart token', [
      {
        location: 'headers',
        field: CART_TOKEN_HEADER.toLowerCase(),
        message: 'must be a cart token (ct_ and 43 characters)',
      },
    ]);
  }
  return { cartToken: token };
}

const MINE = '/api/carts/mine';
const line = (req: Request) => String(req.params.productId);

/** The handlers of cartOperations: input is already validated. */
export function cartHandlers(carts: Carts) {
  return {
    createGuestCart: async () => reply.created(await carts.createGuest(), MINE),
    getCart: (req: Request) => carts.view(caller(req)),
    addCartItem: (req: Request) => {
      const { productId, quantity } = req.body as { productId: string; quantity: number };
      return carts.addItem(caller(req), productId, quantity);
    },
    replaceCart: (req: Request) =>
      carts.replace(
        caller(req),
        (req.body as { items: { productId: string; quantity: number }[] }).items,
      ),
    setCartItem: (req: Request) =>
      carts.setItem(caller(req), line(req), (req.body as { quantity: number }).quantity),
    removeCartItem: async (req: Request) => {
      await carts.removeItem(caller(req), line(req));
      return reply.noContent();
    },
    mergeCart: (req: Request) =>
      carts.merge(requireUser(req), (req.body as { cartToken: string }).cartToken),
    async checkoutCart(req: Request) {
      const result = await carts.checkout(
        requireUser(req),
        req.body as CheckoutInput,
        idempotencyKeyHeader(req),
        bearerToken(req.get('authorization')),
      );
      const location = `/api/orders/${(result.body as { id: string }).id}`;
      return result.replayed
        ? reply.replayed(result.status, result.body, location)
        : reply.created(result.body, location);
    },
  };
}
