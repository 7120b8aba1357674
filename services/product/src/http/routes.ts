import type { Router } from 'express';
import { requireUser, type JwtVerifyOptions } from '@ecom/common/auth';
import { ValidationError } from '@ecom/common/errors';
import { bindRoutes, minorUnitsFromDecimal, reply, type Reply } from '@ecom/common/http';
import type {
  CatalogService,
  InventoryChange,
  ProductInput,
  ProductUpdate,
} from '../application/catalog';
import type { CategoryInput, CategoryService } from '../application/categories';
import type { ImageService } from '../application/images';
import {
  IMAGE_CACHE_CONTROL,
  VARIANT_CONTENT_TYPE,
  type ImageVariant,
} from '../domain/image-rules';
import type { Cached } from '../domain/ports';
import type { ListQuery } from '../domain/types';
import { productApi } from './api';
import { readImageBody } from './read-body';

const productLocation = (id: string) => `/api/products/${id}`;
const categoryLocation = (id: string) => `/api/products/categories/${id}`;
const imageLocation = (productId: string, imageId: string) =>
  `/api/products/${productId}/images/${imageId}`;

/** Decimal → cents; the API schema already refused anything inexact. */
function cents(value: number): number {
  const amount = minorUnitsFromDecimal(value);
  if (amount === undefined) throw new ValidationError(`${value} is not an exact price`);
  return amount;
}

const optionalCents = (value: number | undefined) =>
  value === undefined ? undefined : cents(value);

/** A cached read, with where it came from. */
function cached(result: Cached<unknown>): Reply {
  return reply.ok(result.value, { 'X-Cache': result.status });
}

type ListProductsQuery = Omit<ListQuery, 'minPriceCents' | 'maxPriceCents'> & {
  minPrice?: number;
  maxPrice?: number;
};

/** The handlers of productApi: input is already validated and the caller authenticated. */
export function productRoutes(deps: {
  catalog: CatalogService;
  categories: CategoryService;
  images: ImageService;
  /** The most bytes an image upload may have (IMAGE_MAX_BYTES). */
  imageMaxBytes: number;
  jwt: JwtVerifyOptions;
}): Router {
  const { catalog, categories, images } = deps;
  return bindRoutes(
    productApi,
    {
      async listProducts(req) {
        const { minPrice, maxPrice, q, ...rest } = req.query as unknown as ListProductsQuery;
        return cached(
          await catalog.list({
            ...rest,
            q: q || undefined,
            minPriceCents: optionalCents(minPrice),
            maxPriceCents: optionalCents(maxPrice),
          }),
        );
      },
      async createProduct(req) {
        const { price, ...body } = req.body as Omit<ProductInput, 'priceCents'> & { price: number };
        const product = await catalog.create(requireUser(req), {
          ...body,
          priceCents: cents(price),
        });
        return reply.created(product, productLocation(product.id));
      },
      getProduct: async (req) => cached(await catalog.get(String(req.params.id))),
      async updateProduct(req) {
        const { price, ...rest } = req.body as Omit<ProductUpdate, 'priceCents'> & {
          price?: number;
        };
        const update: ProductUpdate = {
          ...rest,
          ...(price !== undefined ? { priceCents: cents(price) } : {}),
        };
        return catalog.update(requireUser(req), String(req.params.id), update);
      },
      async deleteProduct(req) {
        await catalog.remove(requireUser(req), String(req.params.id));
        return reply.noContent();
      },
      changeInventory: (req) =>
        catalog.changeInventory(
          requireUser(req),
          String(req.params.id),
          req.body as InventoryChange,
        ),
      getAvailability: (req) =>
        catalog.availability(String(req.params.id), Number(req.query.quantity)),
      async uploadImage(req) {
        const id = String(req.params.id);
        const { image, created } = await images.upload(requireUser(req), id, () =>
          readImageBody(req, deps.imageMaxBytes),
        );
        return created ? reply.created(image, imageLocation(id, image.id)) : reply.ok(image);
      },
      listImages: (req) => images.list(String(req.params.id)),
      getImage: (req) => images.get(String(req.params.id), String(req.params.imageId)),
      async getImageVariant(req) {
        const { id, imageId, variant } = req.params as Record<string, string>;
        const bytes = await images.variant(id!, imageId!, variant as ImageVariant);
        return reply.ok(bytes, {
          'Content-Type': VARIANT_CONTENT_TYPE,
          'Cache-Control': IMAGE_CACHE_CONTROL,
          ETag: `"${imageId}-${variant}"`,
          'X-Content-Type-Options': 'nosniff',
          // Public pictures, meant for <img> on a storefront of another origin (the gateway's
          // default for API answers is same-origin).
          'Cross-Origin-Resource-Policy': 'cross-origin',
        });
      },
      async deleteImage(req) {
        await images.remove(requireUser(req), String(req.params.id), String(req.params.imageId));
        return reply.noContent();
      },
      listCategories: () => categories.tree(),
      async createCategory(req) {
        const category = await categories.create(req.body as CategoryInput);
        return reply.created(category, categoryLocation(category.id));
      },
      getCategory: (req) => categories.get(String(req.params.id)),
      renameCategory: (req) =>
        categories.rename(String(req.params.id), (req.body as { name: string }).name),
    },
    { jwt: deps.jwt },
  );
}
