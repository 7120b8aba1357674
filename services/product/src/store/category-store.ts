import { ConflictError } from '@ecom/common/errors';
import { isDuplicateKey } from '@ecom/common/mongo';
import type { CategoryStore } from '../domain/ports';
import type { Category } from '../domain/types';
import type { CategoryDoc, ProductModels } from './models';
import { toObjectId } from './object-id';

function toCategory(doc: CategoryDoc): Category {
  return {
    id: String(doc._id),
    name: doc.name,
    slug: doc.slug,
    parentId: doc.parentId ? String(doc.parentId) : null,
    createdAt: new Date(doc.createdAt),
    updatedAt: new Date(doc.updatedAt),
  };
}

export class MongoCategoryStore implements CategoryStore {
  constructor(private readonly models: ProductModels) {}

  async list(): Promise<Category[]> {
    const docs = await this.models.Category.find({})
      .sort({ name: 1, _id: 1 })
      .limit(10000)
      .lean<CategoryDoc[]>();
    return docs.map(toCategory);
  }

  async findBySlug(slug: string): Promise<Category | null> {
    const doc = await this.models.Category.findOne({ slug }).lean<CategoryDoc>();
    return doc ? toCategory(doc) : null;
  }

  async findById(id: string): Promise<Category | null> {
    const _id = toObjectId(id);
    if (!_id) return null;
    const doc = await this.models.Category.findOne({ _id }).lean<CategoryDoc>();
    return doc ? toCategory(doc) : null;
  }

  async create(input: { name: string; slug: string; parentId: string | null }): Promise<Category> {
    try {
      const doc = await this.models.Category.create({
        name: input.name,
        slug: input.slug,
        parentId: input.parentId ? toObjectId(input.parentId) : null,
      });
      return toCategory(doc.toObject());
    } catch (err) {
      if (isDuplicateKey(err))
        throw new ConflictError(`Category slug '${input.slug}' already exists`, {
          slug: input.slug,
        });
      throw err;
    }
  }

  async rename(id: string, name: string): Promise<Category | null> {
    const _id = toObjectId(id);
    if (!_id) return null;
    const doc = await this.models.Category.findOneAndUpdate(
      { _id },
      { $set: { name } },
      { returnDocument: 'after' },
    ).lean<CategoryDoc>();
    return doc ? toCategory(doc) : null;
  }
}
