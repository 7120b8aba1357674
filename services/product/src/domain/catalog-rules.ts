import type { AuthUser } from '@ecom/common/auth';
import { BusinessRuleError, ForbiddenError } from '@ecom/common/errors';
import type { Category, Product } from './types';

/** Currencies with exactly two minor-unit digits (prices are kept as integer cents). */
export const CURRENCIES = ['USD', 'EUR', 'GBP', 'CAD', 'AUD', 'CHF'] as const;
export type Currency = (typeof CURRENCIES)[number];

/** The highest price a product may have: 1,000,000.00. */
export const MAX_PRICE_CENTS = 100_000_000;

/** The most free stock a seller may set or restock to. */
export const MAX_STOCK = 1_000_000_000;

/** Sellers manage their own products; admins manage every product. */
export function assertCanManage(user: AuthUser, product: Product): void {
  if (user.role === 'admin') return;
  if (user.role === 'seller' && user.id === product.sellerId) return;
  throw new ForbiddenError('Only the product’s seller or an admin may change it');
}

/** Only an admin may create a product in another seller's name. */
export function assertCanCreateFor(user: AuthUser, sellerId: string | undefined): void {
  if (sellerId && sellerId !== user.id && user.role !== 'admin') {
    throw new ForbiddenError('Only an admin may create products for another seller');
  }
}

/** Categories nest one level: a parent must itself be top-level. */
export function assertCanParent(parent: Category): void {
  if (parent.parentId) {
    throw new BusinessRuleError(
      'Categories nest one level: the parent must be a top-level category',
      { parentId: parent.id },
      'CATEGORY_TOO_DEEP',
    );
  }
}

export function slugify(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);
}

/** Stored field names as the API and product.updated call them. */
export function publicFieldNames(fields: string[]): string[] {
  const names = fields
    .filter((f) => f !== 'categoryPath')
    .map((f) => (f === 'priceCents' ? 'price' : f));
  return [...new Set(names)];
}
