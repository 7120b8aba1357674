import { Pool, type PoolClient } from 'pg';
import { Interface } from 'ethers';
import { createTestPostgres, type TestPostgres } from '@ecom/infrastructure/testing';
import { startEmbeddedChain, type EmbeddedChain } from '../../../blockchain/src/embedded-chain';
import { runMigrations } from '../../src/postgres';
import {
  AUDIT_ANCHOR_ABI,
  PgAnchorStore,
  auditAnchorAt,
  buildBatchTree,
  createAnchoring,
  createChainProvider,
  onChainBatchId,
  type Anchoring,
} from '../../src/anchoring';
import { NonceManager, Wallet } from 'ethers';
import { randomUUID } from 'node:crypto';

// The real PostgreSQL server of this machine (a database of our own, dropped afterwards).
process.env.POSTGRES_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';

jest.setTimeout(30_000);

// A stand-in for a service's own table: each row is one payment state that gets anchored.
const PAYMENT_EVENTS = {
  id: '001_payment_events',
  sql: `CREATE TABLE payment_events (
          id bigserial PRIMARY KEY, payment_id text NOT NULL, status text NOT NULL,
          amount_minor bigint NOT NULL, currency text NOT NULL)`,
};

let db: TestPostgres;
let pool: Pool;
let chain: EmbeddedChain;
let anchoring: Anchoring;

function payload(row: {
  payment_id: string;
  status: string;
  amount_minor: string;
  currency: string;
}) {
  return {
    paymentId: row.payment_id,
    status: row.status,
    amountMinor: BigInt(row.amount_minor),
    currency: row.currency,
  };
}

function makeAnchoring(opts: { deploy?: boolean; contractAddress?: string } = {}): Anchoring {
  return createAnchoring({
    pool,
    rpcUrl: chain.url,
    chainId: chain.chainId,
    contractAddress: opts.contractAddress ?? chain.contractAddress,
    privateKey: chain.anchorerKey,
    deploy: opts.deploy,
    windowMs: 50,
    maxBatchSize: 10,
    chainCheckIntervalMs: 100,
    backoffInitialMs: 50,
    backoffMaxMs: 200,
    recordTypes: {
      payment: {
        load: async (q, ref) => {
          const { rows } = await q.query<{
            payment_id: string;
            status: string;
            amount_minor: string;
            currency: string;
          }>('SELECT * FROM payment_events WHERE id = $1', [ref.sourceId]);
          return rows[0] ? payload(rows[0]) : null;
        },
      },
    },
  });
}

/** What a service does: write its row and queue the anchor in the same transaction. */
async function recordPayment(
  paymentId: string,
  status: string,
  amountMinor: number,
): Promise<string> {
  const client: PoolClient = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{
      id: string;
      payment_id: string;
      status: string;
      amount_minor: string;
      currency: string;
    }>(
      `INSERT INTO payment_events (payment_id, status, amount_minor, currency)
       VALUES ($1, $2, $3, 'EUR') RETURNING *`,
      [paymentId, status, amountMinor],
    );
    const queued = await anchoring.enqueue(client, {
      recordType: 'payment',
      recordId: paymentId,
      sourceId: rows[0].id,
      payload: payload(rows[0]),
    });
    expect(queued).toBe(true);
    await client.query('COMMIT');
    return rows[0].id;
  } finally {
    client.release();
  }
}

async function countRows(sql: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(sql);
  return Number(rows[0].n);
}

beforeAll(async () => {
  db = await createTestPostgres('anchorer');
  pool = new Pool({ connectionString: db.url, max: 8 });
  // Other suites on this server may terminate connections; the anchorer retries, the pool must not crash.
  pool.on('error', () => undefined);
  chain = await startEmbeddedChain({ port: 0 });
  anchoring = makeAnchoring();
  await runMigrations(pool, [anchoring.migration, PAYMENT_EVENTS]);
  anchoring.start();
});

afterAll(async () => {
  await anchoring?.close();
  await chain?.stop();
  await pool?.end();
  await db?.cleanup();
});

describe('Anchorer against a real chain and PostgreSQL', () => {
  it('anchors records in batches, one transaction each, with receipts that verify by eth_call', async () => {
    for (let i = 0; i < 25; i++) await recordPayment(`pay-${i % 5}`, `S${i}`, 1000 + i);
    await anchoring.flush();

    // 25 records, at most 10 per batch: at least 3 batches, each with its own tx and block.
    const { rows: batches } = await pool.query<{
      tx_hash: string;
      record_count: number;
      status: string;
      previous_root: string;
      root: string;
    }>('SELECT * FROM anchor_batches ORDER BY seq');
    expect(batches.length).toBeGreaterThanOrEqual(3);
    expect(
      batches.every((b) => b.status === 'confirmed' && /^0x[0-9a-f]{64}$/.test(b.tx_hash)),
    ).toBe(true);
    expect(batches.reduce((n, b) => n + b.record_count, 0)).toBe(25);
    expect(batches.every((b) => b.record_count <= 10)).toBe(true); // the size limit
    expect(new Set(batches.map((b) => b.tx_hash)).size).toBe(batches.length);
    // Each batch names the root before it, so a missing batch shows.
    for (let i = 1; i < batches.length; i++)
      expect(batches[i].previous_root).toBe(batches[i - 1].root);

    const views = await anchoring.recordsFor('payment', 'pay-3');
    expect(views).toHaveLength(5);
    for (const view of views) {
      expect(view.status).toBe('VERIFIED');
      const r = view.receipt;
      expect(r).toMatchObject({ chainId: 31337, serializationVersion: 1, recordId: 'pay-3' });
      expect(r.contractAddress?.toLowerCase()).toBe(chain.contractAddress.toLowerCase());
      expect(r.blockNumber).toBeGreaterThan(0);
      // Anyone can check the receipt with the one eth_call it carries.
      const raw = await anchoring.provider.call(r.verifyCall!);
      const [ok] = new Interface(AUDIT_ANCHOR_ABI).decodeFunctionResult('verify', raw);
      expect(ok).toBe(true);
    }

    const tx = await anchoring.recordsInTx(batches[0].tx_hash);
    expect(tx?.recordCount).toBe(batches[0].record_count);
    expect(tx?.records).toHaveLength(batches[0].record_count);
    expect(tx?.records.every((r) => r.status === 'VERIFIED')).toBe(true);
    expect(await anchoring.recordsInTx(`0x${'ab'.repeat(32)}`)).toBeNull();
    expect((await anchoring.health()).ok).toBe(true);
    await expect(anchoring.healthCheck()).resolves.toBeUndefined();
  });

  it('queues nothing from a rolled-back transaction, ignores duplicates, never throws', async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await anchoring.enqueue(client, {
        recordType: 'payment',
        recordId: 'ghost',
        sourceId: 'g1',
        payload: { a: 1 },
      });
      await client.query('ROLLBACK');
      // A float and an unknown type are refused without throwing and without aborting the caller's transaction.
      await client.query('BEGIN');
      expect(
        await anchoring.enqueue(client, {
          recordType: 'payment',
          recordId: 'f',
          sourceId: 'f1',
          payload: { amount: 1.5 },
        }),
      ).toBe(false);
      expect(
        await anchoring.enqueue(client, {
          recordType: 'nope',
          recordId: 'x',
          sourceId: 'x1',
          payload: {},
        }),
      ).toBe(false);
      await client.query('SELECT 1');
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    expect(
      await countRows(
        `SELECT count(*) AS n FROM anchor_records WHERE record_id IN ('ghost', 'f', 'x')`,
      ),
    ).toBe(0);
    const row = { recordType: 'payment', recordId: 'dup', sourceId: 'dup-1', payload: { a: 1 } };
    expect(await anchoring.enqueue(pool, row)).toBe(true);
    expect(await anchoring.enqueue(pool, row)).toBe(false);
    expect(
      await countRows(`SELECT count(*) AS n FROM anchor_records WHERE record_id = 'dup'`),
    ).toBe(1);
    await anchoring.flush();
  });

  it('reports a row altered or deleted directly in SQL as tampered, the others stay verified', async () => {
    const changed = await recordPayment('pay-t', 'COMPLETED', 5000);
    const removed = await recordPayment('pay-t', 'REFUNDED', 5000);
    const kept = await recordPayment('pay-t', 'NOTED', 5000);
    await anchoring.flush();
    expect((await anchoring.recordsFor('payment', 'pay-t')).map((v) => v.status)).toEqual([
      'VERIFIED',
      'VERIFIED',
      'VERIFIED',
    ]);
    // Three records, below the size limit of 10: the time window sent them.
    expect(
      await countRows(`SELECT max(b.record_count) AS n FROM anchor_records r
                         JOIN anchor_batches b ON b.id = r.batch_id WHERE r.record_id = 'pay-t'`),
    ).toBeLessThanOrEqual(3);

    await pool.query('UPDATE payment_events SET amount_minor = 1 WHERE id = $1', [changed]);
    await pool.query('DELETE FROM payment_events WHERE id = $1', [removed]);
    const views = await anchoring.recordsFor('payment', 'pay-t');
    const bySource = new Map(views.map((v) => [v.sourceId, v]));
    expect(bySource.get(changed)).toMatchObject({
      status: 'TAMPERED',
      reason: expect.stringMatching(/changed/),
    });
    expect(bySource.get(removed)).toMatchObject({
      status: 'TAMPERED',
      reason: expect.stringMatching(/no longer exists/),
    });
    expect(bySource.get(kept)?.status).toBe('VERIFIED');

    // A forged proof is caught too.
    await pool.query(
      `UPDATE anchor_records SET proof = '["0x${'11'.repeat(32)}"]' WHERE source_id = $1 AND record_type = 'payment'`,
      [kept],
    );
    const forged = (await anchoring.recordsFor('payment', 'pay-t')).find(
      (v) => v.sourceId === kept,
    );
    expect(forged?.status).toBe('TAMPERED');
  });

  it('keeps records pending while the chain is down and anchors all of them when it is back', async () => {
    await chain.pause();
    for (let i = 0; i < 15; i++) await recordPayment('pay-outage', `S${i}`, i);
    await expect(anchoring.healthCheck()).rejects.toThrow();
    // The worker keeps failing and backing off; nothing is anchored, nothing is lost.
    await new Promise((r) => setTimeout(r, 600));
    expect(anchoring.status().consecutiveFailures).toBeGreaterThan(0);
    expect((await anchoring.health()).ok).toBe(false);
    const during = await anchoring.recordsFor('payment', 'pay-outage');
    expect(during.every((v) => v.status === 'PENDING')).toBe(true);

    await chain.resume();
    await anchoring.flush();
    const after = await anchoring.recordsFor('payment', 'pay-outage');
    expect(after).toHaveLength(15);
    expect(after.every((v) => v.status === 'VERIFIED')).toBe(true);
  });

  it('lets only one instance per database write (advisory lock); the other stands by', async () => {
    const second = makeAnchoring();
    second.start();
    try {
      for (let i = 0; i < 12; i++) await recordPayment('pay-two', `S${i}`, i);
      await anchoring.flush();
      await new Promise((r) => setTimeout(r, 200));
      expect(anchoring.status().writer).toBe(true);
      expect(second.status().writer).toBe(false);
      expect(second.status().batchesAnchored).toBe(0);
      const views = await anchoring.recordsFor('payment', 'pay-two');
      expect(views.every((v) => v.status === 'VERIFIED')).toBe(true);
      // Every record sits in exactly one confirmed batch.
      expect(
        await countRows(`SELECT count(DISTINCT r.id) AS n FROM anchor_records r
                           JOIN anchor_batches b ON b.id = r.batch_id
                          WHERE r.record_id = 'pay-two' AND b.status = 'confirmed'`),
      ).toBe(12);
    } finally {
      await second.close();
    }
  });

  it('reconciles on restart: a batch sent before a crash is confirmed from the chain, not sent twice', async () => {
    await anchoring.stop();
    const ids = [
      await recordPayment('pay-crash', 'A', 1),
      await recordPayment('pay-crash', 'B', 2),
    ];
    const { rows } = await pool.query<{ id: string; leaf: string }>(
      `SELECT id, leaf FROM anchor_records WHERE record_id = 'pay-crash' ORDER BY id`,
    );
    expect(rows.map((r) => r.id)).toHaveLength(ids.length);
    // The crashed process had persisted the batch and sent its transaction, but stored no tx hash.
    const store = new PgAnchorStore(pool);
    const identity = await store.latestChainIdentity();
    const tree = buildBatchTree(rows.map((r) => r.leaf));
    const batchUuid = randomUUID();
    const batch = await store.createBatch(
      { id: batchUuid, onChainId: onChainBatchId(batchUuid), chain: identity! },
      rows.map((r) => r.id),
      {
        root: tree.root,
        previousRoot: await store.lastRoot(),
        proofs: new Map(rows.map((r, i) => [r.id, tree.proofs[i]])),
      },
    );
    const provider = createChainProvider(chain.url, chain.chainId);
    const contract = auditAnchorAt(
      identity!.contractAddress,
      new NonceManager(new Wallet(chain.anchorerKey, provider)),
    );
    const sent = await contract.anchor(
      batch.onChainId,
      batch.root,
      batch.recordCount,
      batch.previousRoot,
    );
    await sent.wait();
    provider.destroy();

    anchoring.start();
    await anchoring.flush();
    const { rows: after } = await pool.query<{ status: string; tx_hash: string }>(
      'SELECT status, tx_hash FROM anchor_batches WHERE id = $1',
      [batchUuid],
    );
    expect(after[0]).toEqual({ status: 'confirmed', tx_hash: sent.hash });
    expect((await anchoring.recordsFor('payment', 'pay-crash')).map((v) => v.status)).toEqual([
      'VERIFIED',
      'VERIFIED',
    ]);
  });

  it('notices anchors missing from a chain that kept its identity (reverted) and re-anchors', async () => {
    await anchoring.flush();
    const snapshot = (await anchoring.provider.send('evm_snapshot', [])) as string;
    await recordPayment('pay-lost', 'COMPLETED', 700);
    await anchoring.flush();
    const [first] = await anchoring.recordsFor('payment', 'pay-lost');
    expect(first.status).toBe('VERIFIED');
    // Same genesis, same contract: only the anchors written since the snapshot are gone.
    await anchoring.provider.send('evm_revert', [snapshot]);
    const deadline = Date.now() + 15_000;
    let again = first;
    while (Date.now() < deadline) {
      [again] = await anchoring.recordsFor('payment', 'pay-lost');
      if (again.status === 'VERIFIED' && again.receipt.txHash !== first.receipt.txHash) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(again.status).toBe('VERIFIED');
    expect(again.receipt.txHash).not.toBe(first.receipt.txHash);
    expect(again.receipt.leaf).toBe(first.receipt.leaf);
  });

  it('detects a fresh chain, deploys the contract again and re-anchors every stored record', async () => {
    const before = await countRows('SELECT count(*) AS n FROM anchor_records');
    const oldAddress = chain.contractAddress;
    await anchoring.close();
    const port = new URL(chain.url).port;
    await chain.stop();
    // Restarted empty on the same port: new genesis, no contract.
    chain = await startEmbeddedChain({ port: Number(port), deploy: false });
    anchoring = makeAnchoring({ deploy: true, contractAddress: oldAddress });
    anchoring.start();
    await anchoring.flush();

    const views = await anchoring.recordsFor('payment', 'pay-3');
    expect(views.every((v) => v.status === 'VERIFIED')).toBe(true);
    const newAddress = views[0].receipt.contractAddress!;
    expect(await anchoring.provider.getCode(newAddress)).not.toBe('0x');
    expect(
      await countRows(`SELECT count(*) AS n FROM anchor_records r JOIN anchor_batches b ON b.id = r.batch_id
                        WHERE b.status = 'confirmed' AND b.contract_address = '${newAddress.toLowerCase()}'`),
    ).toBe(before);
    expect(
      await countRows(`SELECT count(*) AS n FROM anchor_batches WHERE status = 'superseded'`),
    ).toBeGreaterThan(0);
  });
});
