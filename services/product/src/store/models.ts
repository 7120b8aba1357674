import { Schema, type Connection, type Model, type Types } from 'mongoose';
import type { ProductImage } from '../domain/image-rules';
import type { Category, Product, RejectionReason } from '../domain/types';

/** A stock hold: the part of `reserved` that one order owns (kept on the product itself). */
export interface HoldDoc {
  orderId: string;
  quantity: number;
}

/** A product as stored: the domain shape with its holds and rating revision. */
export interface ProductDoc extends Omit<Product, 'id'> {
  _id: Types.ObjectId;
  /** Bumped by every rating change; only the newest recomputation may write the aggregate. */
  ratingRev: number;
  holds: HoldDoc[];
}

export interface CategoryDoc extends Omit<Category, 'id' | 'parentId'> {
  _id: Types.ObjectId;
  parentId: Types.ObjectId | null;
}

export interface ReservationDoc {
  _id: Types.ObjectId;
  orderId: string;
  lines: Array<{ productId: string; quantity: number }>;
  status: 'reserved' | 'rejected' | 'sold' | 'released';
  rejection: {
    productId: string;
    reason: RejectionReason;
    requested: number;
    available: number;
  } | null;
  /** When the reconciler last asked order about this reservation (null: never). */
  checkedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** One review's contribution to its product's rating (keyed by comment id, so replays are harmless). */
export interface ReviewDoc {
  _id: Types.ObjectId;
  commentId: string;
  productId: string;
  rating: number | null;
  deleted: boolean;
  /** Hidden pending moderation (comment.flagged): does not count while true. */
  hidden: boolean;
  /** Event time of the comment.flagged that set `hidden` (null: never flagged). */
  visibilityAt: Date | null;
  /** Written by a comment.flagged that overtook the review: `created` still has to set the rating. */
  pending: boolean;
}

const holdSchema = new Schema<HoldDoc>(
  { orderId: { type: String, required: true }, quantity: { type: Number, required: true } },
  { _id: false },
);

const variantSchema = {
  width: { type: Number, required: true },
  height: { type: Number, required: true },
  bytes: { type: Number, required: true },
};
const imageSchema = new Schema<ProductImage>(
  {
    id: { type: String, required: true },
    format: { type: String, required: true },
    width: { type: Number, required: true },
    height: { type: Number, required: true },
    variants: { thumb: variantSchema, medium: variantSchema, large: variantSchema },
    createdAt: { type: Date, required: true },
  },
  { _id: false },
);

const productSchema = new Schema<ProductDoc>(
  {
    sellerId: { type: String, required: true },
    name: { type: String, required: true },
    description: { type: String, default: '' },
    priceCents: { type: Number, required: true },
    currency: { type: String, required: true },
    category: { type: String, default: null },
    categoryPath: { type: [String], default: [] },
    attributes: { type: Schema.Types.Mixed, default: {} },
    available: { type: Number, required: true, min: 0 },
    reserved: { type: Number, default: 0 },
    sold: { type: Number, default: 0 },
    lowStockThreshold: { type: Number, required: true },
    ratingAverage: { type: Number, default: 0 },
    ratingCount: { type: Number, default: 0 },
    ratingRev: { type: Number, default: 0 },
    status: { type: String, enum: ['active', 'deleted'], default: 'active' },
    holds: { type: [holdSchema], default: [] },
    images: { type: [imageSchema], default: [] },
  },
  { timestamps: true, versionKey: false, minimize: false },
);
// One index per sort (with the status every list query pins) and per filter; _id breaks ties
// so pages never overlap. Production MongoDB serves `q` from the text index.
productSchema.index({ status: 1, createdAt: -1, _id: -1 });
productSchema.index({ status: 1, priceCents: 1, _id: 1 });
productSchema.index({ status: 1, ratingAverage: -1, ratingCount: -1, _id: 1 });
// A category's or a seller's products, newest first: with _id, as the sort has it, MongoDB reads
// them in order and stops after the page instead of sorting all of them.
productSchema.index({ categoryPath: 1, status: 1, createdAt: -1, _id: -1 });
productSchema.index({ sellerId: 1, status: 1, createdAt: -1, _id: -1 });
productSchema.index({ status: 1, available: 1 });
productSchema.index(
  { name: 'text', description: 'text' },
  { name: 'product_text', weights: { name: 5, description: 1 } },
);

const categorySchema = new Schema<CategoryDoc>(
  {
    name: { type: String, required: true },
    slug: { type: String, required: true },
    parentId: { type: Schema.Types.ObjectId, default: null },
  },
  { timestamps: true, versionKey: false },
);
categorySchema.index({ slug: 1 }, { unique: true });
categorySchema.index({ parentId: 1, name: 1 });

const reservationSchema = new Schema<ReservationDoc>(
  {
    orderId: { type: String, required: true },
    lines: {
      type: [
        new Schema(
          {
            productId: { type: String, required: true },
            quantity: { type: Number, required: true },
          },
          { _id: false },
        ),
      ],
      default: [],
    },
    status: { type: String, enum: ['reserved', 'rejected', 'sold', 'released'], required: true },
    rejection: { type: Schema.Types.Mixed, default: null },
    checkedAt: { type: Date, default: null },
  },
  { timestamps: true, versionKey: false },
);
reservationSchema.index({ orderId: 1 }, { unique: true });
reservationSchema.index({ status: 1, updatedAt: 1 });

const reviewSchema = new Schema<ReviewDoc>(
  {
    commentId: { type: String, required: true },
    productId: { type: String, required: true },
    rating: { type: Number, default: null },
    deleted: { type: Boolean, default: false },
    hidden: { type: Boolean, default: false },
    visibilityAt: { type: Date, default: null },
    pending: { type: Boolean, default: false },
  },
  { versionKey: false },
);
reviewSchema.index({ commentId: 1 }, { unique: true });
reviewSchema.index({ productId: 1, deleted: 1 });

export interface ProductModels {
  Product: Model<ProductDoc>;
  Category: Model<CategoryDoc>;
  Reservation: Model<ReservationDoc>;
  Review: Model<ReviewDoc>;
}

/** Models bound to the service's own connection (never the global mongoose one). */
export function createModels(connection: Connection): ProductModels {
  return {
    Product: connection.model<ProductDoc>('Product', productSchema, 'products'),
    Category: connection.model<CategoryDoc>('Category', categorySchema, 'categories'),
    Reservation: connection.model<ReservationDoc>('Reservation', reservationSchema, 'reservations'),
    Review: connection.model<ReviewDoc>('Review', reviewSchema, 'reviews'),
  };
}
