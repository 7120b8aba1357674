import { Router, type Request, type Response } from 'express';
import Joi from 'joi';
import {
  authenticate,
  requireRole,
  validate,
  type AuthUser,
  type JwtVerifyOptions,
} from '@ecom/common';
import type { CatalogService, ProductInput, ProductUpdate } from '../domain/catalog';
import { decimalToCents } from '../domain/money';
import type { ListQuery } from '../domain/types';
import {
  availabilityQuery,
  createCategoryBody,
  createProductBody,
  inventoryBody,
  listQuery,
  objectIdParam,
  renameCategoryBody,
  updateProductBody,
} from './schemas';

const idParams = Joi.object({ id: objectIdParam });

/** Validated decimal → cents (validation already refused anything inexact). */
function cents(value: number | undefined): number | undefined {
  return value === undefined ? undefined : decimalToCents(value);
}

function user(req: Request): AuthUser {
  // authenticate() ran before every handler that calls this.
  return req.user as AuthUser;
}

function param(req: Request, name: string): string {
  return String(req.params[name]);
}

/** `/api/products` routes; category routes come before `/:id` so they are not taken for ids. */
export function productRoutes(catalog: CatalogService, jwt: JwtVerifyOptions): Router {
  const router = Router();
  const auth = authenticate(jwt);
  const manager = [auth, requireRole('seller', 'admin')];
  const admin = [auth, requireRole('admin')];

  router.get('/categories', async (_req, res) => {
    res.json({ items: await catalog.categoriesTree() });
  });

  router.post('/categories', ...admin, validate({ body: createCategoryBody }), async (req, res) => {
    res.status(201).json(await catalog.createCategory(req.body));
  });

  router.put(
    '/categories/:id',
    ...admin,
    validate({ params: idParams, body: renameCategoryBody }),
    async (req, res) => {
      res.json(await catalog.renameCategory(param(req, 'id'), req.body.name));
    },
  );

  router.get('/', validate({ query: listQuery }), async (req, res) => {
    const q = req.query as unknown as Omit<ListQuery, 'minPriceCents' | 'maxPriceCents'> & {
      minPrice?: number;
      maxPrice?: number;
    };
    const query: ListQuery = {
      q: q.q || undefined,
      category: q.category,
      sellerId: q.sellerId,
      inStock: q.inStock,
      minPriceCents: cents(q.minPrice),
      maxPriceCents: cents(q.maxPrice),
      sort: q.sort,
      page: q.page,
      limit: q.limit,
    };
    const result = await catalog.list(query);
    sendCached(res, result.status, result.value);
  });

  router.post('/', ...manager, validate({ body: createProductBody }), async (req, res) => {
    const body = req.body as Omit<ProductInput, 'priceCents'> & { price: number };
    const product = await catalog.create(user(req), {
      ...body,
      priceCents: cents(body.price) as number,
    });
    res.status(201).location(`/api/products/${product.id}`).json(product);
  });

  // Unknown and malformed ids alike are "not found" for a public read.
  router.get('/:id', async (req, res) => {
    const result = await catalog.get(param(req, 'id'));
    sendCached(res, result.status, result.value);
  });

  router.put(
    '/:id',
    ...manager,
    validate({ params: idParams, body: updateProductBody }),
    async (req, res) => {
      const { price, ...rest } = req.body as ProductUpdate & { price?: number };
      const update: ProductUpdate = {
        ...rest,
        ...(price !== undefined ? { priceCents: cents(price) } : {}),
      };
      res.json(await catalog.update(user(req), param(req, 'id'), update));
    },
  );

  router.delete('/:id', ...manager, validate({ params: idParams }), async (req, res) => {
    await catalog.remove(user(req), param(req, 'id'));
    res.status(204).end();
  });

  router.put(
    '/:id/inventory',
    ...manager,
    validate({ params: idParams, body: inventoryBody }),
    async (req, res) => {
      res.json(await catalog.changeInventory(user(req), param(req, 'id'), req.body));
    },
  );

  router.get(
    '/:id/availability',
    validate({ params: idParams, query: availabilityQuery }),
    async (req, res) => {
      const { quantity } = req.query as unknown as { quantity: number };
      res.json(await catalog.availability(param(req, 'id'), quantity));
    },
  );

  return router;
}

function sendCached(res: Response, status: 'HIT' | 'MISS', body: unknown): void {
  res.setHeader('X-Cache', status);
  res.json(body);
}
