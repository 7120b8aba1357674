/**
 * Child process of gateway-bench.ts: the upstream under test, in a process of its own.
 *   BENCH_UPSTREAM=product: the real product service (memory cache, its default) on the
 *     MongoDB stand-in, seeded with BENCH_PRODUCTS products through its API.
 *   BENCH_UPSTREAM=stub: a product-like Express app built like every service
 *     (createServiceApp: ids, request log, metrics, JSON parser, joi-validated params)
 *     answering a realistic product from memory: a cheap upstream, so the gateway's own
 *     cost shows.
 * Prints one JSON line `{ url, ids }` on stdout when ready.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Joi from 'joi';
import { InMemoryEventBus } from '@ecom/common/bus';
import { NotFoundError } from '@ecom/common/errors';
import { createServiceApp, validate } from '@ecom/common/http';
import { createLogger } from '@ecom/common/logging';

import { startMongoStandIn } from '../../infrastructure/src/mongo/server';
import { loadProductConfig } from '../../services/product/src/config';
import { productService } from '../../services/product/src/service';

process.env.LOG_LEVEL ??= 'silent';
const count = Number(process.env.BENCH_PRODUCTS ?? 50);

async function startRealProduct(): Promise<{ url: string; ids: string[] }> {
  const mongo = await startMongoStandIn({ port: 0 });
  const service = await productService.start({
    config: loadProductConfig({
      NODE_ENV: 'production',
      LOG_LEVEL: 'silent',
      HOST: '127.0.0.1',
      PORT: '0',
      MONGO_URL: `${mongo.url}/bench_product`,
      JWT_PUBLIC_KEY: process.env.JWT_PUBLIC_KEY,
      CACHE_DRIVER: 'memory',
    }),
    bus: new InMemoryEventBus(),
  });
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const res = await fetch(`${service.url}/api/products`, {
      method: 'POST',
      headers: {
        authorization: process.env.BENCH_SELLER_AUTH!,
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        name: `Bench lamp ${i}`,
        description: `A warm desk lamp, model ${i}, with a linen shade and a brass stem.`,
        price: (1999 + i * 100) / 100,
        inventory: 100,
      }),
    });
    if (res.status !== 201) throw new Error(`seed failed: ${res.status} ${await res.text()}`);
    ids.push(((await res.json()) as { id: string }).id);
  }
  return { url: service.url, ids };
}

async function startStub(): Promise<{ url: string; ids: string[] }> {
  const logger = createLogger('product-stub', 'silent');
  const products = new Map<string, unknown>();
  for (let i = 0; i < count; i += 1) {
    const id = randomUUID();
    products.set(id, {
      id,
      name: `Bench lamp ${i}`,
      description: `A warm desk lamp, model ${i}, with a linen shade and a brass stem.`,
      price: { amount: 1999 + i * 100, currency: 'USD' },
      inventory: { available: 100, reserved: 0 },
      category: { id: 'c-lighting', name: 'Lighting' },
      sellerId: 'seller-1',
      attributes: { color: 'brass', wattage: 40, dimmable: true },
      rating: { average: 4.4, count: 17 },
      createdAt: '2026-11-01T10:00:00.000Z',
      updatedAt: '2026-11-20T10:00:00.000Z',
    });
  }
  const { app, finish } = createServiceApp({ service: 'product-stub', logger });
  app.get(
    '/api/products/:id',
    validate({ params: Joi.object({ id: Joi.string().guid().required() }) }),
    (req, res) => {
      const product = products.get(String(req.params.id));
      if (!product) throw new NotFoundError('Product not found');
      res.json(product);
    },
  );
  finish();
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  server.keepAliveTimeout = 65_000;
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    ids: [...products.keys()],
  };
}

(process.env.BENCH_UPSTREAM === 'stub' ? startStub() : startRealProduct())
  .then((ready) => process.stdout.write(`${JSON.stringify(ready)}\n`))
  .catch((err: unknown) => {
    process.stderr.write(`upstream failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
