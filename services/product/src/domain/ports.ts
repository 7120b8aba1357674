import type { EventData } from '@ecom/common/events';
import type { ImageFormat, ImageVariant, ProductImage } from './image-rules';
import type {
  Category,
  ChargedPrice,
  ListQuery,
  NewProduct,
  Product,
  ProductChanges,
  Rejection,
  Reservation,
  ReservationStatus,
} from './types';

/** What the domain needs from storage; src/store implements it on MongoDB. */
export interface CatalogStore {
  list(query: ListQuery): Promise<{ items: Product[]; total: number }>;
  /** An active product, or null for unknown, deleted or malformed ids. */
  get(id: string): Promise<Product | null>;
  create(input: NewProduct): Promise<Product>;
  update(id: string, changes: ProductChanges): Promise<Product | null>;
  softDelete(id: string): Promise<Product | null>;
  /** Ids of a seller's active products, at most `limit` (a deleted seller's withdrawal). */
  activeIdsOfSeller(sellerId: string, limit: number): Promise<string[]>;
  /** Sets the free stock (absolute) and/or the threshold; returns the product before and after. */
  setStock(
    id: string,
    available: number | undefined,
    lowStockThreshold: number | undefined,
  ): Promise<{ before: Product; after: Product } | null>;
  /**
   * Adds to the free stock atomically ($inc, so concurrent reservations are never lost), unless
   * the free stock would then pass MAX_STOCK ('over_limit', nothing changed).
   */
  restock(
    id: string,
    quantity: number,
    lowStockThreshold: number | undefined,
  ): Promise<{ before: Product; after: Product } | 'over_limit' | null>;
}

export interface CategoryStore {
  list(): Promise<Category[]>;
  findBySlug(slug: string): Promise<Category | null>;
  findById(id: string): Promise<Category | null>;
  /** Throws ConflictError when the slug is taken. */
  create(input: { name: string; slug: string; parentId: string | null }): Promise<Category>;
  rename(id: string, name: string): Promise<Category | null>;
}

export type HoldResult =
  | { ok: true; available: number; lowStockThreshold: number; alreadyHeld: boolean }
  | { ok: false; rejection: Rejection };

/** Stock moves for one (product, order) pair; each is idempotent by that pair. */
export interface StockStore {
  /**
   * Takes `quantity` from available into reserved for the order, only if enough is free and,
   * when `price` is given, the product still asks that price (and currency).
   */
  hold(
    productId: string,
    orderId: string,
    quantity: number,
    price?: ChargedPrice,
  ): Promise<HoldResult>;
  /** Gives the order's hold back to available; false when there was no hold. */
  releaseHold(productId: string, orderId: string, quantity: number): Promise<boolean>;
  /** Turns the order's hold into sold units; false when there was no hold. */
  sellHold(productId: string, orderId: string, quantity: number): Promise<boolean>;
  /** Returns sold units to available (a confirmed order was cancelled). */
  restockSold(productId: string, quantity: number): Promise<void>;
}

export interface ReservationStore {
  find(orderId: string): Promise<Reservation | null>;
  /** Inserts the order's reservation; when one already exists, returns it instead. */
  create(
    input: Pick<Reservation, 'orderId' | 'lines' | 'status' | 'rejection'>,
  ): Promise<{ created: true } | { created: false; existing: Reservation }>;
  /**
   * Guarded transition: changes nothing unless the reservation is in `from`. Returns the moved
   * reservation, or null when it was not in `from` (or does not exist).
   */
  transition(
    orderId: string,
    from: ReservationStatus,
    to: ReservationStatus,
  ): Promise<Reservation | null>;
  /**
   * Claims up to `limit` reservations still `reserved` and unchanged for `heldForMs` that
   * were not claimed in the last `heldForMs` either (marks them claimed now, one at a time,
   * so several instances never claim the same one in the same interval). Oldest first.
   */
  claimOverdue(heldForMs: number, limit: number): Promise<Reservation[]>;
}

export interface RatingStore {
  /**
   * Records one review's rating. `created` never overwrites what a later update or delete
   * wrote; `updated` sets the rating; `deleted` leaves a tombstone. Returns false when a
   * tombstone refused the change.
   */
  recordReview(
    change: 'created' | 'updated' | 'deleted',
    review: { commentId: string; productId: string; rating: number | null },
  ): Promise<boolean>;
  /**
   * Records whether a review is hidden pending moderation, as of `at` (the event's time). An
   * older state than the one recorded is refused (returns false); at equal times `hidden`
   * wins, so the outcome does not depend on arrival order. Arriving before the review itself,
   * it leaves a placeholder that the review's `created` fills in.
   */
  recordVisibility(review: {
    commentId: string;
    productId: string;
    hidden: boolean;
    at: Date;
  }): Promise<boolean>;
  /**
   * Recomputes the product's average and count from its reviews that are neither deleted nor
   * hidden (newest recomputation wins).
   */
  recompute(productId: string): Promise<{ average: number; count: number } | null>;
}

/** Cache invalidation the write paths must call before they return. */
export interface CacheInvalidator {
  productChanged(productId: string): Promise<void>;
  catalogChanged(): Promise<void>;
}

/** A read through the cache; `status` feeds the X-Cache header. */
export interface Cached<T> {
  value: T;
  status: 'HIT' | 'MISS';
}

/** Cache-aside reads. */
export interface CatalogReadCache extends CacheInvalidator {
  readList<T>(query: object, load: () => Promise<T>): Promise<Cached<T>>;
  readProduct<T>(id: string, load: () => Promise<T | null>): Promise<Cached<T | null>>;
}

/** The events this service publishes. */
export type ProductEventType =
  | 'product.created'
  | 'product.updated'
  | 'product.deleted'
  | 'product.inventory.low'
  | 'inventory.reserved'
  | 'inventory.rejected'
  | 'inventory.reservation.overdue';

/** Publishes one event under its contract (envelope built from the current context). */
export type Publish = <T extends ProductEventType>(type: T, data: EventData<T>) => Promise<void>;

/** Where image objects are kept: S3 (any S3-compatible server) or a local directory. */
export interface ImageStorage {
  readonly kind: 's3' | 'disk';
  put(key: string, bytes: Buffer, contentType: string): Promise<void>;
  /** The object's bytes, or null when there is none. */
  get(key: string): Promise<Buffer | null>;
  /** Deletes the objects (missing ones are no error). */
  delete(keys: readonly string[]): Promise<void>;
  /** Deletes every object whose key starts with the prefix. */
  deletePrefix(prefix: string): Promise<void>;
}

export interface ProcessedImage {
  format: ImageFormat;
  width: number;
  height: number;
  variants: Array<{ name: ImageVariant; bytes: Buffer; width: number; height: number }>;
}

/** Checks an upload by its content and renders the variants, metadata stripped. */
export type ImageProcessor = (bytes: Buffer) => Promise<ProcessedImage>;

export type AddImageResult = 'added' | 'duplicate' | 'full' | 'missing';

/** The images recorded on each product. */
export interface ProductImageStore {
  /** Adds the image unless the product is gone, already has it, or holds `max` images. */
  addImage(productId: string, image: ProductImage, max: number): Promise<AddImageResult>;
  /** False when the active product has no such image. */
  removeImage(productId: string, imageId: string): Promise<boolean>;
  /** Forgets every image of the product, whatever its status. */
  clearImages(productId: string): Promise<void>;
}
