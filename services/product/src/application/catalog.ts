import type { AuthUser } from '@ecom/common/auth';
import { BusinessRuleError, NotFoundError, ValidationError } from '@ecom/common/errors';
import { page, type Page } from '@ecom/common/http';
import {
  MAX_STOCK,
  assertCanCreateFor,
  assertCanManage,
  publicFieldNames,
} from '../domain/catalog-rules';
import type {
  Cached,
  CatalogReadCache,
  CatalogStore,
  CategoryStore,
  Publish,
} from '../domain/ports';
import { becameLow } from '../domain/stock-rules';
import type { ListQuery, Product, ProductChanges } from '../domain/types';
import { toProductView, type ProductView } from '../domain/views';

export interface ProductInput {
  name: string;
  description?: string;
  priceCents: number;
  currency?: string;
  inventory: number;
  lowStockThreshold?: number;
  category?: string | null;
  attributes?: Record<string, string | number | boolean>;
  sellerId?: string;
}

export type ProductUpdate = Partial<Omit<ProductInput, 'inventory' | 'sellerId'>>;

export type InventoryChange = { set?: number; restock?: number; lowStockThreshold?: number };

export interface CatalogDeps {
  products: CatalogStore;
  categories: CategoryStore;
  cache: CatalogReadCache;
  publish: Publish;
  /** One MongoDB transaction: a product write and its events commit together (or neither). */
  transaction<T>(fn: () => Promise<T>): Promise<T>;
  defaults: { currency: string; lowStockThreshold: number };
  /** Runs once a deletion is committed (the product's images go). */
  afterDelete?: (productId: string) => Promise<void>;
}

/** Product use cases: reads go through the cache, writes invalidate it before returning. */
export class CatalogService {
  constructor(private readonly deps: CatalogDeps) {}

  async list(query: ListQuery): Promise<Cached<Page<ProductView>>> {
    return this.deps.cache.readList(query, async () => {
      const { items, total } = await this.deps.products.list(query);
      return page(items.map(toProductView), query, total);
    });
  }

  async get(id: string): Promise<Cached<ProductView>> {
    const result = await this.deps.cache.readProduct(id, async () => {
      const product = await this.deps.products.get(id);
      return product ? toProductView(product) : null;
    });
    if (!result.value) throw new NotFoundError('Product not found', { productId: id });
    return { value: result.value, status: result.status };
  }

  async availability(id: string, quantity: number) {
    const product = await this.deps.products.get(id);
    if (!product) throw new NotFoundError('Product not found', { productId: id });
    return {
      productId: product.id,
      requested: quantity,
      available: product.available,
      sufficient: product.available >= quantity,
    };
  }

  private async categoryPath(
    slug: string | null | undefined,
  ): Promise<{ category: string | null; categoryPath: string[] }> {
    if (!slug) return { category: null, categoryPath: [] };
    const category = await this.deps.categories.findBySlug(slug);
    if (!category)
      throw new BusinessRuleError(
        `Unknown category '${slug}'`,
        { category: slug },
        'UNKNOWN_CATEGORY',
      );
    if (!category.parentId) return { category: slug, categoryPath: [slug] };
    const parent = await this.deps.categories.findById(category.parentId);
    return { category: slug, categoryPath: parent ? [parent.slug, slug] : [slug] };
  }

  async create(user: AuthUser, input: ProductInput): Promise<ProductView> {
    assertCanCreateFor(user, input.sellerId);
    const category = await this.categoryPath(input.category);
    const product = await this.deps.transaction(async () => {
      const created = await this.deps.products.create({
        sellerId: input.sellerId ?? user.id,
        name: input.name,
        description: input.description ?? '',
        priceCents: input.priceCents,
        currency: input.currency ?? this.deps.defaults.currency,
        ...category,
        attributes: input.attributes ?? {},
        available: input.inventory,
        lowStockThreshold: input.lowStockThreshold ?? this.deps.defaults.lowStockThreshold,
      });
      await this.deps.publish('product.created', {
        productId: created.id,
        sellerId: created.sellerId,
        name: created.name,
        price: { amount: created.priceCents, currency: created.currency },
        category: created.category,
        inventory: created.available,
      });
      return created;
    });
    await this.deps.cache.catalogChanged();
    return toProductView(product);
  }

  private async managed(user: AuthUser, id: string): Promise<Product> {
    const product = await this.deps.products.get(id);
    if (!product) throw new NotFoundError('Product not found', { productId: id });
    assertCanManage(user, product);
    return product;
  }

  async update(user: AuthUser, id: string, input: ProductUpdate): Promise<ProductView> {
    await this.managed(user, id);
    const changes: ProductChanges = {};
    if (input.name !== undefined) changes.name = input.name;
    if (input.description !== undefined) changes.description = input.description;
    if (input.priceCents !== undefined) changes.priceCents = input.priceCents;
    if (input.currency !== undefined) changes.currency = input.currency;
    if (input.attributes !== undefined) changes.attributes = input.attributes;
    if (input.lowStockThreshold !== undefined) changes.lowStockThreshold = input.lowStockThreshold;
    if (input.category !== undefined)
      Object.assign(changes, await this.categoryPath(input.category));
    if (Object.keys(changes).length === 0) throw new ValidationError('Nothing to update');
    const updated = await this.deps.transaction(async () => {
      const after = await this.deps.products.update(id, changes);
      if (!after) throw new NotFoundError('Product not found', { productId: id });
      await this.deps.publish('product.updated', {
        productId: id,
        changes: publicFieldNames(Object.keys(changes)),
        price: { amount: after.priceCents, currency: after.currency },
      });
      return after;
    });
    await this.deps.cache.productChanged(id);
    return toProductView(updated);
  }

  async remove(user: AuthUser, id: string): Promise<void> {
    await this.managed(user, id);
    if (!(await this.withdraw(id))) throw new NotFoundError('Product not found', { productId: id });
  }

  /**
   * user.deleted: a deleted seller's products come off sale (as if each were deleted), since
   * nobody is left to ship them. Orders already placed keep their course (an admin ships them).
   * In batches, each product in its own transaction with its product.deleted: a redelivery
   * after a failure takes the rest.
   */
  async withdrawSeller(sellerId: string): Promise<number> {
    let withdrawn = 0;
    for (;;) {
      const ids = await this.deps.products.activeIdsOfSeller(sellerId, 100);
      let now = 0;
      for (const id of ids) if (await this.withdraw(id)) now += 1;
      withdrawn += now;
      // A full batch of which none moved would come back as it was: stop rather than spin.
      if (ids.length < 100 || now === 0) return withdrawn;
    }
  }

  /** Soft-deletes a product with its product.deleted; false when it was not active. */
  private async withdraw(id: string): Promise<boolean> {
    const deleted = await this.deps.transaction(async () => {
      const done = await this.deps.products.softDelete(id);
      if (done) await this.deps.publish('product.deleted', { productId: id });
      return done;
    });
    if (!deleted) return false;
    await this.deps.cache.productChanged(id);
    await this.deps.afterDelete?.(id);
    return true;
  }

  async changeInventory(user: AuthUser, id: string, change: InventoryChange): Promise<ProductView> {
    await this.managed(user, id);
    const after = await this.deps.transaction(async () => {
      const result =
        change.restock !== undefined
          ? await this.deps.products.restock(id, change.restock, change.lowStockThreshold)
          : await this.deps.products.setStock(id, change.set, change.lowStockThreshold);
      if (!result) throw new NotFoundError('Product not found', { productId: id });
      if (result === 'over_limit') {
        throw new BusinessRuleError(
          `The free stock may not pass ${MAX_STOCK}`,
          { productId: id, restock: change.restock, max: MAX_STOCK },
          'STOCK_LIMIT',
        );
      }
      const changed = [
        ...(change.set !== undefined || change.restock !== undefined ? ['inventory'] : []),
        ...(change.lowStockThreshold !== undefined ? ['lowStockThreshold'] : []),
      ];
      await this.deps.publish('product.updated', {
        productId: id,
        changes: changed,
        price: { amount: result.after.priceCents, currency: result.after.currency },
      });
      if (becameLow(result.before, result.after)) {
        await this.deps.publish('product.inventory.low', {
          productId: id,
          available: result.after.available,
          threshold: result.after.lowStockThreshold,
        });
      }
      return result.after;
    });
    await this.deps.cache.productChanged(id);
    return toProductView(after);
  }
}
