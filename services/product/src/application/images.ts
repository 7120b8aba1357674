import { createHash } from 'node:crypto';
import type { AuthUser } from '@ecom/common/auth';
import type { Logger } from '@ecom/common/logging';
import { NotFoundError } from '@ecom/common/errors';
import { assertCanManage } from '../domain/catalog-rules';
import {
  assertRoomForImage,
  IMAGE_ID,
  imageLimitError,
  productImagePrefix,
  VARIANT_CONTENT_TYPE,
  VARIANT_NAMES,
  variantKey,
  type ImageVariant,
  type ProductImage,
} from '../domain/image-rules';
import type {
  CacheInvalidator,
  CatalogStore,
  ImageProcessor,
  ImageStorage,
  ProductImageStore,
} from '../domain/ports';
import type { Product } from '../domain/types';
import { toImageView, type ImageView } from '../domain/views';

const OBJECT_ID = /^[a-f0-9]{24}$/;

export interface ImageDeps {
  products: CatalogStore & ProductImageStore;
  storage: ImageStorage;
  process: ImageProcessor;
  cache: CacheInvalidator;
  maxPerProduct: number;
  logger: Logger;
}

/** Image use cases: upload (variants written, then recorded), list, serve, delete. */
export class ImageService {
  constructor(private readonly deps: ImageDeps) {}

  private async product(id: string): Promise<Product> {
    const product = await this.deps.products.get(id);
    if (!product) throw new NotFoundError('Product not found', { productId: id });
    return product;
  }

  /**
   * Adds an image to a product its seller (or an admin) manages. `read` gives the body: it is
   * read only once the caller may upload, so a refused upload costs no decoding. The same bytes
   * uploaded again answer the image already there (`created: false`).
   */
  async upload(
    user: AuthUser,
    productId: string,
    read: () => Promise<Buffer>,
  ): Promise<{ image: ImageView; created: boolean }> {
    const product = await this.product(productId);
    assertCanManage(user, product);
    const bytes = await read();
    const id = createHash('sha256').update(bytes).digest('hex').slice(0, 32);
    const existing = product.images.find((i) => i.id === id);
    if (existing) return { image: toImageView(productId, existing), created: false };
    assertRoomForImage(product, this.deps.maxPerProduct);

    const processed = await this.deps.process(bytes);
    const image: ProductImage = {
      id,
      format: processed.format,
      width: processed.width,
      height: processed.height,
      variants: Object.fromEntries(
        processed.variants.map((v) => [
          v.name,
          { width: v.width, height: v.height, bytes: v.bytes.length },
        ]),
      ) as ProductImage['variants'],
      createdAt: new Date(),
    };
    // Objects first, then the record: a record never names a missing object. An upload that
    // fails after a write removes what it wrote (unless the same image was recorded meanwhile).
    const written: string[] = [];
    let outcome;
    try {
      for (const variant of processed.variants) {
        const key = variantKey(productId, id, variant.name);
        written.push(key);
        await this.deps.storage.put(key, variant.bytes, VARIANT_CONTENT_TYPE);
      }
      outcome = await this.deps.products.addImage(productId, image, this.deps.maxPerProduct);
    } catch (err) {
      await this.discard(written);
      throw err;
    }
    if (outcome === 'duplicate') {
      const again = await this.product(productId);
      const recorded = again.images.find((i) => i.id === id);
      if (recorded) return { image: toImageView(productId, recorded), created: false };
    }
    if (outcome !== 'added') {
      await this.discard(written);
      if (outcome === 'full') throw imageLimitError(this.deps.maxPerProduct);
      throw new NotFoundError('Product not found', { productId });
    }
    await this.deps.cache.productChanged(productId);
    return { image: toImageView(productId, image), created: true };
  }

  private async discard(keys: string[]): Promise<void> {
    try {
      await this.deps.storage.delete(keys);
    } catch (err) {
      this.deps.logger.warn('could not remove image objects', { keys, err });
    }
  }

  async list(productId: string): Promise<ImageView[]> {
    const product = await this.product(productId);
    return product.images.map((image) => toImageView(productId, image));
  }

  async get(productId: string, imageId: string): Promise<ImageView> {
    const product = await this.product(productId);
    const image = product.images.find((i) => i.id === imageId);
    if (!image) throw new NotFoundError('Image not found', { productId, imageId });
    return toImageView(productId, image);
  }

  /** A variant's bytes. Straight from storage: keys are content-addressed and validated. */
  async variant(productId: string, imageId: string, variant: ImageVariant): Promise<Buffer> {
    // Any other spelling names no object (and never reaches a key).
    const bytes =
      OBJECT_ID.test(productId) && IMAGE_ID.test(imageId)
        ? await this.deps.storage.get(variantKey(productId, imageId, variant))
        : null;
    if (!bytes) throw new NotFoundError('Image not found', { productId, imageId });
    return bytes;
  }

  async remove(user: AuthUser, productId: string, imageId: string): Promise<void> {
    const product = await this.product(productId);
    assertCanManage(user, product);
    const image = product.images.find((i) => i.id === imageId);
    if (!image || !(await this.deps.products.removeImage(productId, imageId))) {
      throw new NotFoundError('Image not found', { productId, imageId });
    }
    await this.deps.cache.productChanged(productId);
    // The record is gone: the image is deleted for everyone; objects left behind are only logged.
    await this.discard(VARIANT_NAMES.map((v) => variantKey(productId, imageId, v)));
  }

  /** After a product is deleted: its objects and its records go (a failure is logged, not thrown). */
  async removeAll(productId: string): Promise<void> {
    try {
      await this.deps.storage.deletePrefix(productImagePrefix(productId));
      await this.deps.products.clearImages(productId);
    } catch (err) {
      this.deps.logger.error('could not delete the images of a deleted product', {
        productId,
        err,
      });
    }
  }
}
