import { BusinessRuleError, NotFoundError, ValidationError } from '@ecom/common/errors';
import { assertCanParent, slugify } from '../domain/catalog-rules';
import type { CategoryStore } from '../domain/ports';
import {
  categoryTree,
  toCategoryView,
  type CategoryTreeNode,
  type CategoryView,
} from '../domain/views';

export interface CategoryInput {
  name: string;
  slug?: string;
  parentId?: string | null;
}

/** Category use cases (admins write, anyone reads; categories nest one level). */
export class CategoryService {
  constructor(private readonly store: CategoryStore) {}

  async tree(): Promise<CategoryTreeNode[]> {
    return categoryTree(await this.store.list());
  }

  async get(id: string): Promise<CategoryView> {
    const category = await this.store.findById(id);
    if (!category) throw new NotFoundError('Category not found', { categoryId: id });
    return toCategoryView(category);
  }

  async create(input: CategoryInput): Promise<CategoryView> {
    const slug = input.slug ?? slugify(input.name);
    if (!slug)
      throw new ValidationError('Category name must contain letters or digits', [
        { field: 'name' },
      ]);
    if (input.parentId) {
      const parent = await this.store.findById(input.parentId);
      if (!parent)
        throw new BusinessRuleError(
          'Parent category not found',
          { parentId: input.parentId },
          'UNKNOWN_CATEGORY',
        );
      assertCanParent(parent);
    }
    const category = await this.store.create({
      name: input.name,
      slug,
      parentId: input.parentId ?? null,
    });
    return toCategoryView(category);
  }

  /** Renames keep the slug, so products and links that name the category stay valid. */
  async rename(id: string, name: string): Promise<CategoryView> {
    const category = await this.store.rename(id, name);
    if (!category) throw new NotFoundError('Category not found', { categoryId: id });
    return toCategoryView(category);
  }
}
