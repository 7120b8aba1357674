/**
 * Comments service benchmark: writes (reviews, replies, flags, helpful votes) and the threaded
 * product listing, through the HTTP API with concurrent clients.
 * Run: `npm run bench -w services/comments`. Writes its figures into docs/benchmarks.md
 * between the comments markers.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { InMemoryEventBus } from '@ecom/common/bus';
import { testServiceEnv, tokenFor } from '@ecom/test-support';
import { loadAverage, measuredOn, writeBenchSection } from '@ecom/test-support';
import { startMongoStandIn } from '../../../infrastructure/src/mongo/server';
import { loadCommentsConfig } from '../src/config';
import { commentsService } from '../src/service';

process.env.LOG_LEVEL ??= 'silent';

const PRODUCTS = 20;
const REVIEWS_PER_PRODUCT = 50;
const REPLIES = 1000;
const FLAGS = 500;
const VOTES = 1000;
const READS = 1000;
const CONCURRENCY = 10;

const tokens = new Map<string, string>();
function auth(userId: string): string {
  let t = tokens.get(userId);
  if (!t) {
    t = `Bearer ${tokenFor({ id: userId, role: 'customer' }, '1h')}`;
    tokens.set(userId, t);
  }
  return t;
}

interface Timing {
  perSecond: number;
  p50: number;
  p95: number;
}

/** Runs `total` requests from CONCURRENCY clients; `make(i)` gives the i-th request. */
async function timed(
  total: number,
  make: (i: number) => { url: string; init?: RequestInit; expect: number },
): Promise<Timing> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < total) {
        const i = next++;
        const req = make(i);
        const t = performance.now();
        const res = await fetch(req.url, req.init);
        await res.arrayBuffer();
        if (res.status !== req.expect)
          throw new Error(`${req.url}: ${res.status}, expected ${req.expect}`);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
  return { perSecond: total / seconds, p50: pct(0.5), p95: pct(0.95) };
}

const post = (url: string, userId: string, body?: unknown): RequestInit => ({
  method: 'POST',
  headers: { authorization: auth(userId), 'content-type': 'application/json' },
  body: body === undefined ? undefined : JSON.stringify(body),
});

async function main(): Promise<void> {
  const load = loadAverage();
  const standIn = await startMongoStandIn({ port: 0 });
  // The product service at its HTTP boundary: every product exists.
  const productStub = createServer((_req, res) => {
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end('{"id":"p","name":"Mug","sellerId":"s","price":{"amount":999,"currency":"USD"}}');
  });
  await new Promise<void>((resolve) => productStub.listen(0, '127.0.0.1', resolve));
  const bus = new InMemoryEventBus();
  const service = await commentsService.start({
    config: loadCommentsConfig({
      ...testServiceEnv,
      MONGO_URL: `${standIn.url}/comments_bench`,
      PRODUCT_SERVICE_URL: `http://127.0.0.1:${(productStub.address() as AddressInfo).port}`,
    }),
    bus,
  });
  const base = `${service.url}/api/comments`;
  const products = Array.from({ length: PRODUCTS }, () => randomBytes(12).toString('hex'));
  const rows: string[] = [];
  const row = (what: string, n: number, t: Timing) =>
    rows.push(
      `| ${what} | ${n.toLocaleString('en')} | ${Math.round(t.perSecond).toLocaleString('en')} | ${t.p50.toFixed(1)} | ${t.p95.toFixed(1)} |`,
    );

  try {
    const reviewIds: string[] = [];
    const reviews = PRODUCTS * REVIEWS_PER_PRODUCT;
    const reviewTiming = await timed(reviews, (i) => ({
      url: base,
      init: post(base, `user-${i % REVIEWS_PER_PRODUCT}`, {
        productId: products[Math.floor(i / REVIEWS_PER_PRODUCT)],
        text: `Review ${i}: ${'lorem ipsum '.repeat(10)}`,
        rating: (i % 5) + 1,
      }),
      expect: 201,
    }));
    row(
      'POST review (product check over HTTP, unique review slot, outbox + publish)',
      reviews,
      reviewTiming,
    );
    const all = await service.connection
      .collection('comments')
      .find({}, { projection: { _id: 1, productId: 1 } })
      .toArray();
    for (const c of all) reviewIds.push(String(c._id));
    const productOf = new Map(all.map((c) => [String(c._id), c.productId as string]));

    row(
      'POST reply (depth 1)',
      REPLIES,
      await timed(REPLIES, (i) => {
        const parent = reviewIds[i % reviewIds.length]!;
        return {
          url: base,
          init: post(base, `replier-${i}`, {
            productId: productOf.get(parent),
            text: `Reply ${i}`,
            parentId: parent,
          }),
          expect: 201,
        };
      }),
    );
    row(
      'POST helpful vote',
      VOTES,
      await timed(VOTES, (i) => ({
        url: `${base}/${reviewIds[i % reviewIds.length]}/helpful`,
        init: post('', `voter-${i}`),
        expect: 201,
      })),
    );
    row(
      'POST flag (threshold 3 → some queued)',
      FLAGS,
      await timed(FLAGS, (i) => ({
        url: `${base}/${reviewIds[(i * 7) % reviewIds.length]}/flag`,
        init: post('', `flagger-${i}`, { reason: 'spam' }),
        expect: 201,
      })),
    );
    await bus.idle();
    row(
      `GET product page, newest, limit 20 (${REVIEWS_PER_PRODUCT} reviews/product, replies nested)`,
      READS,
      await timed(READS, (i) => ({
        url: `${base}/product/${products[i % PRODUCTS]}?limit=20`,
        expect: 200,
      })),
    );
    row(
      'GET product page, sort=helpful, limit 20',
      READS,
      await timed(READS, (i) => ({
        url: `${base}/product/${products[i % PRODUCTS]}?limit=20&sort=helpful`,
        expect: 200,
      })),
    );
    const total = await service.connection.collection('comments').countDocuments();
    rows.push('', `Documents at the end: ${total.toLocaleString('en')} comments.`);
  } finally {
    await service.stop();
    await bus.close();
    productStub.close();
    await standIn.stop();
  }

  writeBenchSection('comments', 'Comments service', [
    `${measuredOn()}. Load average at the start: ${load}.`,
    'Script: `npm run bench -w services/comments` (`services/comments/bench/comments-bench.ts`): MongoDB stand-in, the service and a',
    `product-service stub (HTTP, always 200) in one process, in-memory bus, ${CONCURRENCY} concurrent HTTP clients over 127.0.0.1.`,
    '',
    '| operation | requests | requests/s | p50 ms | p95 ms |',
    '|---|---:|---:|---:|---:|',
    ...rows,
  ]);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
