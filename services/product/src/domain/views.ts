import type { Money } from '@ecom/common/events';
import { VARIANT_NAMES, variantUrl, type ImageVariant, type ProductImage } from './image-rules';
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
  images: ImageView[];
  createdAt: string;
  updatedAt: string;
}

/** An image as answers show it: each variant's URL (immutable: cache it for long) and size. */
export interface ImageView {
  id: string;
  width: number;
  height: number;
  variants: Record<ImageVariant, { url: string; width: number; height: number }>;
  createdAt: string;
}

export function toImageView(productId: string, image: ProductImage): ImageView {
  const variants = Object.fromEntries(
    VARIANT_NAMES.map((name) => {
      const { width, height } = image.variants[name];
      return [name, { url: variantUrl(productId, image.id, name), width, height }];
    }),
  ) as ImageView['variants'];
  return {
    id: image.id,
    width: image.width,
    height: image.height,
    variants,
    createdAt: image.createdAt.toISOString(),
  };
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
    images: p.images.map((image) => toImageView(p.id, image)),
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
