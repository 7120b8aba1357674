import type { Money } from '@ecom/common/events';
import type { Category, Product } from './types';

/** The product as the API shows it (plain JSON, so it can be cached as is). */
export interface ProductView {
  id: string;
  sellerId: string;
  name: string;
  description: string;
  /** Integer minor units, as every answer and event carries money. */
  price: Money;
  category: string | null;
  categoryPath: string[];
  attributes: Record<string, string | number | boolean>;
  inventory: { available: number; reserved: number; lowStockThreshold: number };
  inStock: boolean;
  rating: { average: number; count: number };
  createdAt: string;
  updatedAt: string;
}

export function toProductView(p: Product): ProductView {
  return {
    id: p.id,
    sellerId: p.sellerId,
    name: p.name,
    description: p.description,
    price: { amount: p.priceCents, currency: p.currency },
    category: p.category,
    categoryPath: p.categoryPath,
    attributes: p.attributes,
    inventory: {
      available: p.available,
      reserved: p.reserved,
      lowStockThreshold: p.lowStockThreshold,
    },
    inStock: p.available > 0,
    rating: { average: p.ratingAverage, count: p.ratingCount },
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}

export interface CategoryView {
  id: string;
  name: string;
  slug: string;
  parentId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface CategoryTreeNode extends CategoryView {
  children: CategoryView[];
}

export function toCategoryView(c: Category): CategoryView {
  return {
    id: c.id,
    name: c.name,
    slug: c.slug,
    parentId: c.parentId,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  };
}

/** Top-level categories with their children (categories nest one level). */
export function categoryTree(categories: Category[]): CategoryTreeNode[] {
  const roots = categories
    .filter((c) => c.parentId === null)
    .map((c) => ({ ...toCategoryView(c), children: [] as CategoryView[] }));
  const byId = new Map(roots.map((r) => [r.id, r]));
  for (const c of categories) {
    if (c.parentId !== null) byId.get(c.parentId)?.children.push(toCategoryView(c));
  }
  return roots;
}
