/** Domain shapes of the product service, free of any driver or HTTP type. */
import type { InventoryRefusal } from '@ecom/common/events';
import type { ProductImage } from './image-rules';

export type ProductStatus = 'active' | 'deleted';

export interface Product {
  id: string;
  sellerId: string;
  name: string;
  description: string;
  priceCents: number;
  currency: string;
  /** Slug of the product's category, or null. */
  category: string | null;
  /** The category and its parent (filtering by a parent finds its children's products). */
  categoryPath: string[];
  attributes: Record<string, string | number | boolean>;
  available: number;
  reserved: number;
  sold: number;
  lowStockThreshold: number;
  ratingAverage: number;
  ratingCount: number;
  status: ProductStatus;
  /** In upload order. */
  images: ProductImage[];
  createdAt: Date;
  updatedAt: Date;
}

export interface Category {
  id: string;
  name: string;
  slug: string;
  parentId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export type ProductSort = 'price' | '-price' | 'newest' | 'rating';

export interface ProductFilter {
  q?: string;
  category?: string;
  minPriceCents?: number;
  maxPriceCents?: number;
  inStock?: boolean;
  sellerId?: string;
}

export interface ListQuery extends ProductFilter {
  sort: ProductSort;
  page: number;
  limit: number;
}

/** What creating a product gives; stock movements, ratings, status and times are the store's. */
export type NewProduct = Omit<
  Product,
  | 'id'
  | 'reserved'
  | 'sold'
  | 'ratingAverage'
  | 'ratingCount'
  | 'status'
  | 'images'
  | 'createdAt'
  | 'updatedAt'
>;

/** What an update may change (the seller and the stock are changed otherwise). */
export type ProductChanges = Partial<Omit<NewProduct, 'sellerId' | 'available'>>;

export interface OrderLine {
  productId: string;
  quantity: number;
}

/** A line as the order priced it: the unit price it charges (minor units, in `currency`), when it says. */
export interface PricedLine extends OrderLine {
  unitPrice?: number;
  currency?: string;
}

/** The price an order charges for a product's units: the product must still ask exactly this. */
export interface ChargedPrice {
  cents: number;
  currency?: string;
}

/**
 * PRICE_CHANGED: the order charges a unit price (or currency) the product no longer has (order
 * reuses quotes for a while; the reservation is where the price is checked against the product).
 */
export type RejectionReason = InventoryRefusal;

export interface Rejection {
  productId: string;
  reason: RejectionReason;
  requested: number;
  available: number;
}

export type ReservationStatus = 'reserved' | 'rejected' | 'sold' | 'released';

export interface Reservation {
  orderId: string;
  lines: OrderLine[];
  status: ReservationStatus;
  rejection: Rejection | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A change to one review's rating or visibility, from the comments service's events. */
export type CommentChange =
  | { type: 'created'; commentId: string; productId: string; rating: number | null }
  | { type: 'updated'; commentId: string; productId: string; rating: number | null }
  | { type: 'deleted'; commentId: string; productId: string }
  /** comment.flagged: `hidden` is the review's moderation state as of `at` (event time). */
  | { type: 'flagged'; commentId: string; productId: string; hidden: boolean; at: Date };
