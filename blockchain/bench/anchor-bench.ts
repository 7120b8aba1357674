/**
 * Anchoring benchmark: records anchored per second and gas per record for batch sizes 1
 * (the naive one-transaction-per-record design), 10, 100 and 1000, end to end: records queued in
 * PostgreSQL, batched by the Anchorer, one AuditAnchor.anchor transaction per batch on an
 * in-process Hardhat chain (automine), receipts stored. Writes the figures to docs/benchmarks.md.
 *
 *   cd blockchain && npx tsx bench/anchor-bench.ts     (or: npm run bench -w blockchain)
 *   POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres): a scratch database is
 *   created there and dropped afterwards.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Pool } from 'pg';
import { createAnchoring } from '@ecom/common/anchoring';
import { runMigrations } from '@ecom/common/postgres';
import { startEmbeddedChain } from '../src/embedded-chain';

const ADMIN_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const CASES = [
  { batchSize: 1, records: 300 },
  { batchSize: 10, records: 1_000 },
  { batchSize: 100, records: 5_000 },
  { batchSize: 1000, records: 10_000 },
];

interface Result {
  batchSize: number;
  records: number;
  batches: number;
  seconds: number;
  recordsPerSecond: number;
  gasPerTx: number;
  gasPerRecord: number;
  enqueuePerSecond: number;
}

async function admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function runCase(batchSize: number, records: number): Promise<Result> {
  const dbName = `anchor_bench_${process.pid}_${batchSize}`;
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${dbName}`));
  await admin((c) => c.query(`CREATE DATABASE ${dbName}`));
  const url = new URL(ADMIN_URL);
  url.pathname = `/${dbName}`;
  const pool = new Pool({ connectionString: url.toString(), max: 8 });
  // An idle connection dropped by the server must not crash the run; the worker retries.
  pool.on('error', (err) => console.warn(`pool: ${err.message}`));
  const chain = await startEmbeddedChain({ port: 0 });
  const anchoring = createAnchoring({
    pool,
    rpcUrl: chain.url,
    chainId: chain.chainId,
    contractAddress: chain.contractAddress,
    privateKey: chain.anchorerKey,
    recordTypes: { payment: {} },
    maxBatchSize: batchSize,
    windowMs: 20,
    pollingMs: 10,
  });
  try {
    await runMigrations(pool, [anchoring.migration]);
    // Queue everything first (as a backlog after an outage), then time the anchoring alone.
    const queued = performance.now();
    for (let i = 0; i < records; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, records - i) }, (_, j) =>
          anchoring.enqueue(pool, {
            recordType: 'payment',
            recordId: `pay-${i + j}`,
            sourceId: `pay-${i + j}:COMPLETED`,
            payload: {
              paymentId: `pay-${i + j}`,
              status: 'COMPLETED',
              amountMinor: 1999 + i + j,
              currency: 'EUR',
            },
          }),
        ),
      );
    }
    const enqueueSeconds = (performance.now() - queued) / 1000;

    const started = performance.now();
    anchoring.start();
    await anchoring.flush(600_000);
    const seconds = (performance.now() - started) / 1000;

    const { rows } = await pool.query<{ tx_hash: string }>(
      `SELECT tx_hash FROM anchor_batches WHERE status = 'confirmed'`,
    );
    let gas = 0n;
    for (const { tx_hash } of rows) {
      const receipt = await anchoring.provider.getTransactionReceipt(tx_hash);
      gas += receipt!.gasUsed;
    }
    return {
      batchSize,
      records,
      batches: rows.length,
      seconds,
      recordsPerSecond: records / seconds,
      gasPerTx: Number(gas) / rows.length,
      gasPerRecord: Number(gas) / records,
      enqueuePerSecond: records / enqueueSeconds,
    };
  } finally {
    await anchoring.close();
    await chain.stop();
    await pool.end();
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
  }
}

function section(results: Result[]): string {
  const cpus = os.cpus();
  const naive = results.find((r) => r.batchSize === 1);
  const lines = [
    '## Blockchain anchoring',
    '',
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus.length} × ${cpus[0]?.model.trim()}, ` +
      `${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, load average ${os.loadavg()[0].toFixed(1)} ` +
      `(other jobs were running), Node ${process.version}, PostgreSQL at ${new URL(ADMIN_URL).host}, ` +
      'in-process Hardhat network (automine) over HTTP JSON-RPC. Script: `blockchain/bench/anchor-bench.ts` ' +
      '(`cd blockchain && npx tsx bench/anchor-bench.ts`).',
    '',
    'End to end: records queued in PostgreSQL (the backlog is queued first, then timed separately), ' +
      'batched by the Anchorer (Merkle tree, batch persisted before sending, one `AuditAnchor.anchor` ' +
      'transaction per batch from one signer, receipt and proofs stored). Batch size 1 is the naive ' +
      'one-transaction-per-record design.',
    '',
    '| batch size | records | transactions | anchored records/s | gas per tx | gas per record | vs naive | enqueue records/s |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...results.map((r) =>
      [
        '',
        r.batchSize === 1 ? '1 (naive)' : String(r.batchSize),
        r.records.toLocaleString('en-US'),
        r.batches.toLocaleString('en-US'),
        Math.round(r.recordsPerSecond).toLocaleString('en-US'),
        Math.round(r.gasPerTx).toLocaleString('en-US'),
        (r.gasPerRecord >= 100
          ? Math.round(r.gasPerRecord)
          : r.gasPerRecord.toFixed(1)
        ).toLocaleString(),
        naive && r !== naive
          ? `${(naive.gasPerRecord / r.gasPerRecord).toFixed(0)}× less gas`
          : '—',
        Math.round(r.enqueuePerSecond).toLocaleString('en-US'),
        '',
      ]
        .join(' | ')
        .trim(),
    ),
    '',
    'Targets: ≤ 500 gas per record at batch 100, ≥ 1,000 records/s anchored; one record is verified ' +
      'by a single `eth_call` to `verify(leaf, proof, root)`. An anchor writes one storage slot ' +
      '(keyed by root), so its gas barely depends on the batch size.',
    '',
  ];
  return lines.join('\n');
}

function writeSection(text: string): void {
  const file = path.join(__dirname, '..', '..', 'docs', 'benchmarks.md');
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const start = current.indexOf('## Blockchain anchoring');
  let next: string;
  if (start === -1) {
    next = `${current.trimEnd()}\n\n${text}`;
  } else {
    // The section ends where the next one (or its <!-- marker -->) starts.
    const after = current.slice(start + 1).search(/\n(## |<!-- )/);
    next =
      current.slice(0, start) +
      text +
      (after === -1 ? '' : `\n${current.slice(start + 1 + after + 1)}`);
  }
  writeFileSync(file, next.endsWith('\n') ? next : `${next}\n`);
  console.log(`wrote the "Blockchain anchoring" section of ${path.relative(process.cwd(), file)}`);
}

async function main(): Promise<void> {
  const results: Result[] = [];
  for (const c of CASES) {
    const r = await runCase(c.batchSize, c.records);
    console.log(
      `batch ${r.batchSize}: ${r.records} records in ${r.batches} tx, ${r.seconds.toFixed(2)} s, ` +
        `${Math.round(r.recordsPerSecond)} records/s, ${Math.round(r.gasPerTx)} gas/tx, ${r.gasPerRecord.toFixed(1)} gas/record`,
    );
    results.push(r);
  }
  writeSection(section(results));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
