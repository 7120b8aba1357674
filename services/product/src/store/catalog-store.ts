import type { QueryFilter, SortOrder } from 'mongoose';
import { currentMongoTransaction } from '@ecom/common/mongo';
import { MAX_STOCK } from '../domain/catalog-rules';
import type { ProductImage } from '../domain/image-rules';
import type { AddImageResult, CatalogStore, ProductImageStore } from '../domain/ports';
import type { ListQuery, NewProduct, Product, ProductChanges, ProductSort } from '../domain/types';
import type { ProductDoc, ProductModels } from './models';
import { driverCollection } from './driver-collection';
import { toObjectId } from './object-id';

/** Product fields the API never shows (per-order holds, internal counters). */
const HIDDEN = { holds: 0, ratingRev: 0 } as const;

const SORTS: Record<ProductSort, Record<string, SortOrder>> = {
  price: { priceCents: 1, _id: 1 },
  '-price': { priceCents: -1, _id: -1 },
  newest: { createdAt: -1, _id: -1 },
  rating: { ratingAverage: -1, ratingCount: -1, _id: 1 },
};

export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

export function toProduct(doc: Omit<ProductDoc, 'holds' | 'ratingRev'>): Product {
  return {
    id: String(doc._id),
    sellerId: doc.sellerId,
    name: doc.name,
    description: doc.description ?? '',
    priceCents: doc.priceCents,
    currency: doc.currency,
    category: doc.category ?? null,
    categoryPath: doc.categoryPath ?? [],
    attributes: doc.attributes ?? {},
    available: doc.available,
    reserved: doc.reserved ?? 0,
    sold: doc.sold ?? 0,
    lowStockThreshold: doc.lowStockThreshold,
    ratingAverage: doc.ratingAverage ?? 0,
    ratingCount: doc.ratingCount ?? 0,
    status: doc.status,
    images: (doc.images ?? []).map((image) => ({ ...image, createdAt: new Date(image.createdAt) })),
    createdAt: new Date(doc.createdAt),
    updatedAt: new Date(doc.updatedAt),
  };
}

export class MongoCatalogStore implements CatalogStore, ProductImageStore {
  /** The model's own (buffering) collection, for the read every checkout's quote makes. */
  private readonly products;

  constructor(
    private readonly models: ProductModels,
    private readonly searchMode: 'text' | 'regex',
  ) {
    this.products = driverCollection(models.Product);
  }

  private filterFor(query: ListQuery): QueryFilter<ProductDoc> {
    const filter: QueryFilter<ProductDoc> = { status: 'active' };
    if (query.q) {
      if (this.searchMode === 'text') {
        filter.$text = { $search: query.q };
      } else {
        // Substring search; the length bound (joi) and escaping keep it cheap and literal.
        const pattern = new RegExp(escapeRegex(query.q), 'i');
        filter.$or = [{ name: pattern }, { description: pattern }];
      }
    }
    if (query.category) filter.categoryPath = query.category;
    if (query.sellerId) filter.sellerId = query.sellerId;
    if (query.minPriceCents !== undefined || query.maxPriceCents !== undefined) {
      filter.priceCents = {
        ...(query.minPriceCents !== undefined ? { $gte: query.minPriceCents } : {}),
        ...(query.maxPriceCents !== undefined ? { $lte: query.maxPriceCents } : {}),
      };
    }
    if (query.inStock === true) filter.available = { $gt: 0 };
    if (query.inStock === false) filter.available = { $lte: 0 };
    return filter;
  }

  async list(query: ListQuery): Promise<{ items: Product[]; total: number }> {
    const filter = this.filterFor(query);
    const [docs, total] = await Promise.all([
      this.models.Product.find(filter)
        .select(HIDDEN)
        .sort(SORTS[query.sort])
        .skip((query.page - 1) * query.limit)
        .limit(query.limit)
        .lean<ProductDoc[]>(),
      this.models.Product.countDocuments(filter),
    ]);
    return { items: docs.map(toProduct), total };
  }

  async get(id: string): Promise<Product | null> {
    const _id = toObjectId(id);
    if (!_id) return null;
    // Through the driver, as the saga's stock moves (MongoStockStore): every order's quote
    // reads here (stock moves invalidate the cached view), and mongoose's query costs more
    // than the command.
    const doc = await this.products.findOne({ _id, status: 'active' }, { projection: HIDDEN });
    return doc ? toProduct(doc) : null;
  }

  /** The session of the transaction the caller runs in: driver commands do not pick it up. */
  private session() {
    return currentMongoTransaction(this.models.Product.db)?.session;
  }

  async create(input: NewProduct): Promise<Product> {
    // mongoose builds the row (defaults, _id) and validates it, but the driver writes it:
    // mongoose's clone drops attribute names such as `constructor` and `prototype`.
    const doc = new this.models.Product({ ...input, attributes: {}, reserved: 0, sold: 0 });
    await doc.validate();
    const now = new Date();
    const row: ProductDoc = {
      ...doc.toObject(),
      attributes: input.attributes,
      createdAt: now,
      updatedAt: now,
    };
    await this.products.insertOne(row, { session: this.session() });
    return toProduct(row);
  }

  async update(id: string, changes: ProductChanges): Promise<Product | null> {
    const _id = toObjectId(id);
    if (!_id) return null;
    // Through the driver, as create: a mongoose update would drop some attribute names.
    const doc = await this.products.findOneAndUpdate(
      { _id, status: 'active' },
      {
        $set: { ...changes, updatedAt: new Date() },
      },
      { returnDocument: 'after', projection: HIDDEN, session: this.session() },
    );
    return doc ? toProduct(doc) : null;
  }

  async activeIdsOfSeller(sellerId: string, limit: number): Promise<string[]> {
    // The { sellerId, status, createdAt } listing index serves it.
    const docs = await this.models.Product.find({ sellerId, status: 'active' }, { _id: 1 })
      .limit(limit)
      .lean<{ _id: unknown }[]>();
    return docs.map((d) => String(d._id));
  }

  async softDelete(id: string): Promise<Product | null> {
    const _id = toObjectId(id);
    if (!_id) return null;
    const doc = await this.models.Product.findOneAndUpdate(
      { _id, status: 'active' },
      { $set: { status: 'deleted' } },
      { returnDocument: 'after', projection: HIDDEN },
    ).lean<ProductDoc>();
    return doc ? toProduct(doc) : null;
  }

  async setStock(
    id: string,
    available: number | undefined,
    lowStockThreshold: number | undefined,
  ): Promise<{ before: Product; after: Product } | null> {
    const _id = toObjectId(id);
    if (!_id) return null;
    const set = {
      ...(available !== undefined ? { available } : {}),
      ...(lowStockThreshold !== undefined ? { lowStockThreshold } : {}),
    };
    const before = await this.models.Product.findOneAndUpdate(
      { _id, status: 'active' },
      { $set: set },
      { returnDocument: 'before', projection: HIDDEN },
    ).lean<ProductDoc>();
    if (!before) return null;
    const after = toProduct({ ...before, ...set });
    return { before: toProduct(before), after };
  }

  async restock(
    id: string,
    quantity: number,
    lowStockThreshold: number | undefined,
  ): Promise<{ before: Product; after: Product } | 'over_limit' | null> {
    const _id = toObjectId(id);
    if (!_id) return null;
    // The limit is part of the match, so concurrent restocks cannot pass it together.
    const doc = await this.models.Product.findOneAndUpdate(
      { _id, status: 'active', available: { $lte: MAX_STOCK - quantity } },
      {
        $inc: { available: quantity },
        ...(lowStockThreshold !== undefined ? { $set: { lowStockThreshold } } : {}),
      },
      { returnDocument: 'after', projection: HIDDEN },
    ).lean<ProductDoc>();
    if (!doc) {
      const active = await this.models.Product.exists({ _id, status: 'active' });
      return active ? 'over_limit' : null;
    }
    const after = toProduct(doc);
    return { before: { ...after, available: after.available - quantity }, after };
  }

  async addImage(productId: string, image: ProductImage, max: number): Promise<AddImageResult> {
    const _id = toObjectId(productId);
    if (!_id) return 'missing';
    // One atomic update: concurrent uploads cannot pass the limit or record one image twice.
    const result = await this.models.Product.updateOne(
      {
        _id,
        status: 'active',
        'images.id': { $ne: image.id },
        [`images.${max - 1}`]: { $exists: false },
      },
      { $push: { images: image } },
    );
    if (result.modifiedCount === 1) return 'added';
    const doc = await this.models.Product.findOne({ _id, status: 'active' })
      .select('images.id')
      .lean<Pick<ProductDoc, 'images'>>();
    if (!doc) return 'missing';
    return doc.images.some((i) => i.id === image.id) ? 'duplicate' : 'full';
  }

  async removeImage(productId: string, imageId: string): Promise<boolean> {
    const _id = toObjectId(productId);
    if (!_id) return false;
    const result = await this.models.Product.updateOne(
      { _id, status: 'active', 'images.id': imageId },
      { $pull: { images: { id: imageId } } },
    );
    return result.modifiedCount === 1;
  }

  async clearImages(productId: string): Promise<void> {
    const _id = toObjectId(productId);
    if (_id) await this.models.Product.updateOne({ _id }, { $set: { images: [] } });
  }
}
