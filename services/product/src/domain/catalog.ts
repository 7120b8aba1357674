import {
  BusinessRuleError,
  ForbiddenError,
  NotFoundError,
  ValidationError,
  type AuthUser,
} from '@ecom/common';
import type { CatalogReadCache, CatalogStore, CategoryStore, Publish } from './ports';
import { becameLow } from './stock-rules';
import type { ListQuery, Page, Product, ProductChanges } from './types';
import {
  categoryTree,
  toCategoryView,
  toProductView,
  type CategoryTreeNode,
  type CategoryView,
  type ProductView,
} from './views';

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

export interface Cached<T> {
  value: T;
  status: 'HIT' | 'MISS';
}

export interface CatalogDeps {
  products: CatalogStore;
  categories: CategoryStore;
  cache: CatalogReadCache;
  publish: Publish;
  defaults: { currency: string; lowStockThreshold: number };
}

/** Sellers manage their own products; admins manage every product. */
export function assertCanManage(user: AuthUser, product: Product): void {
  if (user.role === 'admin') return;
  if (user.role === 'seller' && user.id === product.sellerId) return;
  throw new ForbiddenError('Only the product’s seller or an admin may change it');
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

/** Catalog use cases: reads go through the cache, writes invalidate it before returning. */
export class CatalogService {
  constructor(private readonly deps: CatalogDeps) {}

  async list(query: ListQuery): Promise<Cached<Page<ProductView>>> {
    return this.deps.cache.readList(query, async () => {
      const { items, total } = await this.deps.products.list(query);
      return {
        items: items.map(toProductView),
        total,
        page: query.page,
        limit: query.limit,
        pages: Math.ceil(total / query.limit),
      };
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
    if (input.sellerId && input.sellerId !== user.id && user.role !== 'admin') {
      throw new ForbiddenError('Only an admin may create products for another seller');
    }
    const product = await this.deps.products.create({
      sellerId: input.sellerId ?? user.id,
      name: input.name,
      description: input.description ?? '',
      priceCents: input.priceCents,
      currency: input.currency ?? this.deps.defaults.currency,
      ...(await this.categoryPath(input.category)),
      attributes: input.attributes ?? {},
      available: input.inventory,
      lowStockThreshold: input.lowStockThreshold ?? this.deps.defaults.lowStockThreshold,
    });
    await this.deps.cache.catalogChanged();
    await this.deps.publish('product.created', {
      productId: product.id,
      sellerId: product.sellerId,
      name: product.name,
      price: { amount: product.priceCents, currency: product.currency },
      category: product.category,
      inventory: product.available,
    });
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
    const updated = await this.deps.products.update(id, changes);
    if (!updated) throw new NotFoundError('Product not found', { productId: id });
    await this.deps.cache.productChanged(id);
    await this.deps.publish('product.updated', {
      productId: id,
      changes: publicFieldNames(Object.keys(changes)),
      price: { amount: updated.priceCents, currency: updated.currency },
    });
    return toProductView(updated);
  }

  async remove(user: AuthUser, id: string): Promise<void> {
    await this.managed(user, id);
    const deleted = await this.deps.products.softDelete(id);
    if (!deleted) throw new NotFoundError('Product not found', { productId: id });
    await this.deps.cache.productChanged(id);
    await this.deps.publish('product.deleted', { productId: id });
  }

  async changeInventory(user: AuthUser, id: string, change: InventoryChange): Promise<ProductView> {
    await this.managed(user, id);
    const result =
      change.restock !== undefined
        ? await this.deps.products.restock(id, change.restock, change.lowStockThreshold)
        : await this.deps.products.setStock(id, change.set, change.lowStockThreshold);
    if (!result) throw new NotFoundError('Product not found', { productId: id });
    const { before, after } = result;
    await this.deps.cache.productChanged(id);
    const changed = [
      ...(change.set !== undefined || change.restock !== undefined ? ['inventory'] : []),
      ...(change.lowStockThreshold !== undefined ? ['lowStockThreshold'] : []),
    ];
    await this.deps.publish('product.updated', {
      productId: id,
      changes: changed,
      price: { amount: after.priceCents, currency: after.currency },
    });
    if (becameLow(before, after)) {
      await this.deps.publish('product.inventory.low', {
        productId: id,
        available: after.available,
        threshold: after.lowStockThreshold,
      });
    }
    return toProductView(after);
  }

  async categoriesTree(): Promise<CategoryTreeNode[]> {
    return categoryTree(await this.deps.categories.list());
  }

  async createCategory(input: {
    name: string;
    slug?: string;
    parentId?: string | null;
  }): Promise<CategoryView> {
    const slug = input.slug ?? slugify(input.name);
    if (!slug)
      throw new ValidationError('Category name must contain letters or digits', [
        { field: 'name' },
      ]);
    if (input.parentId) {
      const parent = await this.deps.categories.findById(input.parentId);
      if (!parent)
        throw new BusinessRuleError(
          'Parent category not found',
          { parentId: input.parentId },
          'UNKNOWN_CATEGORY',
        );
      if (parent.parentId) {
        throw new BusinessRuleError(
          'Categories nest one level: the parent must be a top-level category',
          { parentId: input.parentId },
          'CATEGORY_TOO_DEEP',
        );
      }
    }
    const category = await this.deps.categories.create({
      name: input.name,
      slug,
      parentId: input.parentId ?? null,
    });
    return toCategoryView(category);
  }

  /** Renames keep the slug, so products and links that name the category stay valid. */
  async renameCategory(id: string, name: string): Promise<CategoryView> {
    const category = await this.deps.categories.rename(id, name);
    if (!category) throw new NotFoundError('Category not found', { categoryId: id });
    return toCategoryView(category);
  }
}

/** Internal field names as the API calls them. */
function publicFieldNames(fields: string[]): string[] {
  const names = fields
    .filter((f) => f !== 'categoryPath')
    .map((f) => (f === 'priceCents' ? 'price' : f));
  return [...new Set(names)];
}
