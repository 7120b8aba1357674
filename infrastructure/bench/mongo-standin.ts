/**
 * Benchmark of the embedded MongoDB stand-in through mongoose (npx tsx infrastructure/bench/mongo-standin.ts).
 * Measures inserts/s and finds-by-unique-index/s, and shows that a lookup by a unique field
 * examines one document whatever the collection size (while an unindexed lookup scans).
 * Writes its figures into docs/benchmarks.md, section "Embedded stores".
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import mongoose, { Schema } from 'mongoose';
// By path: test-support depends on this package, so the one section writer is imported directly.
import { writeBenchSection } from '../../test-support/src/bench';
// By path too, as common's benches do: the platform's /proc reader.
import { ownCpu } from '../../platform/bench/proc-cpu';

interface Row {
  what: string;
  value: string;
}

async function timed(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn(i);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return n / seconds;
}

/** The stand-in runs in its own process (as in the embedded run), started through its CLI. */
async function startServer(dataDir?: string): Promise<{ url: string; child: ChildProcess }> {
  const cli = path.resolve(__dirname, '../src/mongo/cli.ts');
  const args = ['--import', 'tsx', cli, '--port', '0', ...(dataDir ? ['--data-dir', dataDir] : [])];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (mongodb:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`stand-in exited with ${code}`)));
  });
  return { url, child };
}

async function main(): Promise<void> {
  const server = await startServer();
  const conn = await mongoose.createConnection(`${server.url}/bench`).asPromise();
  const User = conn.model(
    'User',
    new Schema(
      { email: { type: String, unique: true }, name: String, n: Number },
      { timestamps: true },
    ),
  );
  await User.init();
  const rows: Row[] = [];
  const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');

  // Inserts, one awaited `Model.create` at a time (the slowest, most common path).
  const INSERTS = 5000;
  const insertRate = await timed(INSERTS, (i) =>
    User.create({ email: `user${i}@example.com`, name: `User ${i}`, n: i }),
  );
  rows.push({
    what: `mongoose Model.create, sequential (${INSERTS} docs, unique index on email)`,
    value: `${fmt(insertRate)} inserts/s`,
  });

  // Concurrent inserts: 10 in flight.
  const CONCURRENT = 5000;
  const startC = process.hrtime.bigint();
  for (let i = 0; i < CONCURRENT; i += 10) {
    await Promise.all(
      Array.from({ length: 10 }, (_, k) =>
        User.create({ email: `c${i + k}@example.com`, name: 'c', n: i + k }),
      ),
    );
  }
  const concRate = CONCURRENT / (Number(process.hrtime.bigint() - startC) / 1e9);
  rows.push({
    what: `mongoose Model.create, 10 in flight (${CONCURRENT} docs)`,
    value: `${fmt(concRate)} inserts/s`,
  });

  const BULK = 20_000;
  const startB = process.hrtime.bigint();
  for (let i = 0; i < BULK; i += 1000) {
    await User.insertMany(
      Array.from({ length: 1000 }, (_, k) => ({ email: `b${i + k}@example.com`, n: i + k })),
    );
  }
  const bulkRate = BULK / (Number(process.hrtime.bigint() - startB) / 1e9);
  rows.push({
    what: `mongoose insertMany, batches of 1000 (${BULK} docs)`,
    value: `${fmt(bulkRate)} inserts/s`,
  });

  // Finds by the unique index at two collection sizes: flat cost and one document examined.
  // Both collections exist side by side and are measured in alternating rounds (median
  // shown), so load from other jobs on the machine hits both sizes alike.
  const sizes = [1_000, 100_000];
  const lookupSchema = new Schema({ email: { type: String, unique: true }, n: Number });
  const models = sizes.map((size) => conn.model(`Lookup${size}`, lookupSchema, `lookup_${size}`));
  for (const [k, size] of sizes.entries()) {
    await models[k].init();
    for (let i = 0; i < size; i += 5000) {
      const docs = Array.from({ length: Math.min(5000, size - i) }, (_, j) => ({
        email: `s${i + j}@example.com`,
        n: i + j,
      }));
      await models[k].collection.insertMany(docs); // seeding only, not measured
    }
  }
  // Documents examined, as the server reports them (explain executionStats, like MongoDB).
  const examined = async (k: number, filter: object): Promise<number> => {
    const plan = (await models[k].find(filter).explain('executionStats')) as unknown as {
      executionStats: { totalDocsExamined: number };
    };
    return plan.executionStats.totalDocsExamined;
  };
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const ROUNDS = 5;
  const LOOKUPS = 2000;
  const SCANS = 20;
  const lookupRates: number[][] = sizes.map(() => []);
  const scanRates: number[][] = sizes.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [k, size] of sizes.entries()) {
      lookupRates[k].push(
        await timed(LOOKUPS, (i) =>
          models[k].findOne({ email: `s${(i * 7919 + round) % size}@example.com` }).lean(),
        ),
      );
    }
  }
  // Scans afterwards: their garbage would otherwise slow the lookups measured next.
  for (const [k, size] of sizes.entries()) {
    scanRates[k].push(
      await timed(SCANS, (i) => models[k].findOne({ n: (i * 7919) % size }).lean()),
    );
  }
  for (const [k, size] of sizes.entries()) {
    const perLookup = await examined(k, { email: `s${size - 1}@example.com` });
    rows.push({
      what: `findOne({ email }) by unique index, ${fmt(size)} docs (median of ${ROUNDS} rounds of ${LOOKUPS})`,
      value: `${fmt(median(lookupRates[k]))} finds/s, ${perLookup} doc examined per find (explain)`,
    });
  }
  for (const [k, size] of sizes.entries()) {
    const perScan = await examined(k, { n: size - 1 });
    rows.push({
      what: `findOne({ n }) without an index (for contrast), ${fmt(size)} docs`,
      value: `${fmt(median(scanRates[k]))} finds/s, ${fmt(perScan)} docs examined per find (explain)`,
    });
  }

  rows.push(...(await mongooseAgainstDriver(conn)));
  rows.push(...(await outboxClaims(conn)));
  rows.push(...(await checkoutCommands(conn, server.child.pid!)));

  await conn.close();
  server.child.kill('SIGTERM');
  rows.push(...(await journaled()));
  writeSection(rows);
  for (const r of rows) console.log(`${r.what}: ${r.value}`);
}

/**
 * An outbox relay's claim (common/src/mongo/outbox.ts) on a collection holding a day of sent
 * rows: the filter's equality on `sentAt` reads the first field of its compound index, so a
 * claim examines the unsent rows only, however many sent ones are kept.
 */
async function outboxClaims(conn: mongoose.Connection): Promise<Row[]> {
  const rows = conn.collection('outbox_bench');
  await rows.createIndex({ sentAt: 1, nextAttemptAt: 1 });
  const SENT = 100_000;
  const UNSENT = 10;
  const at = new Date();
  for (let i = 0; i < SENT; i += 1000) {
    await rows.insertMany(
      Array.from({ length: 1000 }, () => ({
        createdAt: at,
        nextAttemptAt: at,
        attempts: 0,
        sentAt: at,
      })),
    );
  }
  await rows.insertMany(
    Array.from({ length: UNSENT }, () => ({
      createdAt: at,
      // Due in an hour: each claim finds none due, as an idle relay's poll does.
      nextAttemptAt: new Date(at.getTime() + 3_600_000),
      attempts: 0,
      sentAt: null,
    })),
  );
  const filter = { sentAt: null, nextAttemptAt: { $lte: new Date() } };
  const CLAIMS = 500;
  const rate = await timed(CLAIMS, () =>
    rows.findOneAndUpdate(
      filter,
      { $set: { nextAttemptAt: new Date(Date.now() + 30_000) }, $inc: { attempts: 1 } },
      { sort: { createdAt: 1 } },
    ),
  );
  const plan = (await rows.find(filter).explain('executionStats')) as unknown as {
    executionStats: { totalDocsExamined: number };
  };
  await rows.drop();
  return [
    {
      what: `outbox claim (findOneAndUpdate { sentAt: null, nextAttemptAt: { $lte: now } }, sorted), ${UNSENT} unsent rows beside ${SENT.toLocaleString('en-US')} sent (${CLAIMS} claims)`,
      value: `${Math.round(rate).toLocaleString('en-US')} claims/s, ${plan.executionStats.totalDocsExamined.toLocaleString('en-US')} docs examined per claim (explain)`,
    },
  ];
}

/**
 * With a data directory (as `npm start` and the fleet run it): every acknowledged write is
 * fsync'ed first, so writers in flight together show whether they share their syncs.
 */
async function journaled(): Promise<Row[]> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mongo-bench-journal-'));
  const server = await startServer(dataDir);
  const conn = await mongoose
    .createConnection(`${server.url}/bench`, { maxPoolSize: 50 })
    .asPromise();
  const Doc = conn.model('Doc', new Schema({ k: { type: String, unique: true }, n: Number }));
  await Doc.init();
  const rows: Row[] = [];
  const SEQUENTIAL = 1000;
  const seq = await timed(SEQUENTIAL, (i) => Doc.create({ k: `s${i}`, n: i }));
  rows.push({
    what: `journaled (data directory, fsync per acknowledged write): Model.create, sequential (${SEQUENTIAL} docs)`,
    value: `${Math.round(seq).toLocaleString('en-US')} inserts/s`,
  });
  for (const inFlight of [10, 50]) {
    const N = 5000;
    const start = process.hrtime.bigint();
    for (let i = 0; i < N; i += inFlight) {
      await Promise.all(
        Array.from({ length: inFlight }, (_, k) =>
          Doc.create({ k: `c${inFlight}-${i + k}`, n: i }),
        ),
      );
    }
    const rate = N / (Number(process.hrtime.bigint() - start) / 1e9);
    rows.push({
      what: `journaled: Model.create, ${inFlight} in flight (${N} docs)`,
      value: `${Math.round(rate).toLocaleString('en-US')} inserts/s`,
    });
  }
  await conn.close();
  server.child.kill('SIGTERM');
  await new Promise((r) => server.child.once('exit', r));
  fs.rmSync(dataDir, { recursive: true, force: true });
  return rows;
}

/**
 * What mongoose adds to a command, in the caller's CPU (the stand-in runs in another process):
 * the same insert, conditional update and lookup through a model (document or query, lean
 * results) and through the model's collection (the driver). Services send their hot commands
 * the second way (product's saga commands, the outboxes).
 */
async function mongooseAgainstDriver(conn: mongoose.Connection): Promise<Row[]> {
  const Reservation = conn.model(
    'Reservation',
    new Schema(
      {
        orderId: { type: String, required: true, unique: true },
        lines: [new Schema({ productId: String, quantity: Number }, { _id: false })],
        status: { type: String, enum: ['reserved', 'sold'], required: true },
        rejection: { type: Schema.Types.Mixed, default: null },
        checkedAt: { type: Date, default: null },
      },
      { timestamps: true, versionKey: false },
    ),
  );
  await Reservation.init();
  const rows = Reservation.collection;
  const n = 2000;
  const lines = [{ productId: 'p1', quantity: 1 }];
  /** Caller's CPU per call, in µs, after a warm-up of 200 calls. */
  const cpuPerCall = async (fn: (i: number) => Promise<unknown>): Promise<number> => {
    for (let i = 0; i < 200; i++) await fn(n + i);
    const before = process.cpuUsage();
    for (let i = 0; i < n; i++) await fn(i);
    const used = process.cpuUsage(before);
    return (used.user + used.system) / n;
  };
  const pairs: Array<[string, (i: number) => Promise<unknown>, (i: number) => Promise<unknown>]> = [
    [
      'insert one document',
      (i) => Reservation.create({ orderId: `m${i}`, lines, status: 'reserved' }),
      (i) => {
        const at = new Date();
        return rows.insertOne({
          _id: new mongoose.Types.ObjectId(),
          orderId: `d${i}`,
          lines,
          status: 'reserved',
          rejection: null,
          checkedAt: null,
          createdAt: at,
          updatedAt: at,
        });
      },
    ],
    [
      'conditional update returning the document',
      (i) =>
        Reservation.findOneAndUpdate(
          { orderId: `m${i}`, status: 'reserved' },
          { $set: { status: 'sold' } },
          { returnDocument: 'after' },
        ).lean(),
      (i) =>
        rows.findOneAndUpdate(
          { orderId: `d${i}`, status: 'reserved' },
          { $set: { status: 'sold', updatedAt: new Date() } },
          { returnDocument: 'after' },
        ),
    ],
    [
      'lookup by a unique field',
      (i) => Reservation.findOne({ orderId: `m${i}` }).lean(),
      (i) => rows.findOne({ orderId: `d${i}` }),
    ],
  ];
  const out: Row[] = [];
  for (const [what, viaModel, viaDriver] of pairs) {
    const model = await cpuPerCall(viaModel);
    const driver = await cpuPerCall(viaDriver);
    out.push({
      what: `caller's CPU per command, mongoose model against the driver: ${what} (${n} sequential)`,
      value: `${Math.round(model)} µs against ${Math.round(driver)} µs`,
    });
  }
  return out;
}

interface CheckoutProduct {
  _id: mongoose.Types.ObjectId;
  name: string;
  description: string;
  categoryPath: string[];
  sellerId: mongoose.Types.ObjectId;
  ratingAverage: number;
  ratingCount: number;
  createdAt: Date;
  status: string;
  priceCents: number;
  currency: string;
  available: number;
  reserved: number;
  sold: number;
  lowStockThreshold: number;
  holds: Array<{ orderId: string; quantity: number }>;
  updatedAt: Date;
}

/**
 * What the stand-in spends on product's checkout commands (services/product/src/store), in its
 * own CPU: the hold of an order's line on a product document (filter on _id, status, stock and
 * the order's absence from the holds; $inc, $push, $set; the answer projected to two fields),
 * then its sale ($elemMatch filter, $pull). Products carry product's indexes and some open
 * holds, as under load.
 */
async function checkoutCommands(conn: mongoose.Connection, serverPid: number): Promise<Row[]> {
  const products = conn.collection<CheckoutProduct>('checkout_products');
  const PRODUCTS = 20;
  const ids = Array.from({ length: PRODUCTS }, () => new mongoose.Types.ObjectId());
  // Product's indexes (services/product/src/store/models.ts), which every write keeps in step.
  await products.createIndexes([
    { key: { status: 1, createdAt: -1, _id: -1 } },
    { key: { status: 1, priceCents: 1, _id: 1 } },
    { key: { status: 1, ratingAverage: -1, ratingCount: -1, _id: 1 } },
    { key: { categoryPath: 1, status: 1, createdAt: -1 } },
    { key: { sellerId: 1, status: 1, createdAt: -1 } },
    { key: { status: 1, available: 1 } },
    { key: { name: 'text', description: 'text' }, weights: { name: 5, description: 1 } },
  ]);
  await products.insertMany(
    ids.map((_id, k) => ({
      _id,
      name: `Product ${k}`,
      description: `A product of the bench, number ${k}`,
      categoryPath: ['electronics', 'laptops'],
      sellerId: new mongoose.Types.ObjectId(),
      ratingAverage: 4.5,
      ratingCount: 12,
      createdAt: new Date(),
      status: 'active',
      priceCents: 1999,
      currency: 'USD',
      available: 1_000_000,
      reserved: 0,
      sold: 0,
      lowStockThreshold: 5,
      holds: Array.from({ length: 10 }, (_, h) => ({ orderId: `open-${k}-${h}`, quantity: 1 })),
      updatedAt: new Date(),
    })),
  );
  const hold = (i: number) =>
    products.findOneAndUpdate(
      {
        _id: ids[i % PRODUCTS],
        status: 'active',
        available: { $gte: 1 },
        'holds.orderId': { $ne: `order-${i}` },
        priceCents: 1999,
        currency: 'USD',
      },
      {
        $inc: { available: -1, reserved: 1 },
        $push: { holds: { orderId: `order-${i}`, quantity: 1 } },
        $set: { updatedAt: new Date() },
      },
      { returnDocument: 'after', projection: { available: 1, lowStockThreshold: 1 } },
    );
  const sell = (i: number) =>
    products.updateOne(
      { _id: ids[i % PRODUCTS], holds: { $elemMatch: { orderId: `order-${i}`, quantity: 1 } } },
      {
        $inc: { reserved: -1, sold: 1 },
        $pull: { holds: { orderId: `order-${i}` } },
        $set: { updatedAt: new Date() },
      },
    );
  const n = 3000;
  for (let i = 0; i < 300; i++) {
    await hold(n + i);
    await sell(n + i);
  }
  const out: Row[] = [];
  for (const [what, fn] of [
    ['the hold of a line (findOneAndUpdate, projected answer)', hold],
    ['its sale (updateOne with $elemMatch and $pull)', sell],
  ] as const) {
    const before = ownCpu(serverPid);
    for (let i = 0; i < n; i++) await fn(i);
    const used = ownCpu(serverPid) - before;
    out.push({
      what: `stand-in's CPU per command, product's checkout: ${what} (${n} sequential, ${PRODUCTS} products with product's indexes and 10 open holds each)`,
      value: `${Math.round((used * 1e6) / n)} µs`,
    });
  }
  return out;
}

const loadAtStart = os
  .loadavg()
  .map((l) => l.toFixed(1))
  .join(' / ');

function writeSection(rows: Row[]): void {
  const cpus = os.cpus();
  const machine = `${cpus[0]?.model ?? 'unknown CPU'} (${cpus.length} cores), ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}`;
  writeBenchSection('embedded-stores', 'Embedded stores', [
    '### Embedded MongoDB stand-in',
    '',
    `Measured ${new Date().toISOString()} on ${machine}.`,
    `Script: \`npx tsx infrastructure/bench/mongo-standin.ts\` (mongoose 9 in one process → stand-in CLI in another, 127.0.0.1; in memory except the rows marked journaled). Load average at the start: ${loadAtStart}.`,
    '',
    '| measurement | result |',
    '|---|---|',
    ...rows.map((r) => `| ${r.what} | ${r.value} |`),
    '',
    'Lookups by a unique field go through the index (a Map keyed by the indexed values): one document',
    'examined per find at 1,000 and at 100,000 documents, while the unindexed lookup examines the whole collection.',
    "An outbox relay's claim reads its compound index by the first field (`sentAt: null`): it examines the",
    'unsent rows only, however many sent rows are kept.',
  ]);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
