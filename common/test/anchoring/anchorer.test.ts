import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { Interface, NonceManager, Wallet } from 'ethers';
import { createTestPostgres, type TestPostgres } from '@ecom/infrastructure/testing';
import { eventually, queryText, testPool } from '@ecom/test-support';
import { startEmbeddedChain, type EmbeddedChain } from '../../../blockchain/src/embedded-chain';
import { runMigrations, withTransaction } from '../../src/postgres';
import { ACCOUNTS, accountRecord } from './account-record';
import {
  AUDIT_ANCHOR_ABI,
  PgAnchorStore,
  auditAnchorAt,
  buildBatchTree,
  createAnchoring,
  createChainProvider,
  leafHash,
  onChainBatchId,
  promiseSigner,
  recordKey,
  type AnchorPromise,
  type Anchoring,
} from '../../src/anchoring';

// The real PostgreSQL server of this machine (a database of our own, dropped afterwards).
process.env.POSTGRES_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';

jest.setTimeout(30_000);

let db: TestPostgres;
let pool: Pool;
let chain: EmbeddedChain;
let anchoring: Anchoring;

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
    recordTypes: { account: accountRecord() },
  });
}

async function inTransaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}

/** What a service does: change its rows and write the record's entries in one transaction. */
async function move(accountId: string, amount: number, note: string | null = null) {
  return inTransaction(async (client) => {
    await client.query(
      `INSERT INTO accounts (id, status, balance) VALUES ($1, 'OPEN', 0) ON CONFLICT DO NOTHING`,
      [accountId],
    );
    await client.query('INSERT INTO account_moves (account_id, amount, note) VALUES ($1, $2, $3)', [
      accountId,
      amount,
      note,
    ]);
    await client.query('UPDATE accounts SET balance = balance + $2 WHERE id = $1', [
      accountId,
      amount,
    ]);
    return anchoring.record(client, { recordType: 'account', recordId: accountId });
  });
}

async function setStatus(accountId: string, status: string) {
  return inTransaction(async (client) => {
    await client.query('UPDATE accounts SET status = $2 WHERE id = $1', [accountId, status]);
    return anchoring.record(client, { recordType: 'account', recordId: accountId });
  });
}

const verdict = (accountId: string) => anchoring.recordsFor('account', accountId);

async function countRows(sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(sql, params);
  return Number(rows[0].n);
}

beforeAll(async () => {
  db = await createTestPostgres('anchorer');
  pool = testPool(db.url, 8);
  chain = await startEmbeddedChain({ port: 0, adminRpc: true });
  anchoring = makeAnchoring();
  await runMigrations(pool, [...anchoring.migrations, ACCOUNTS]);
  anchoring.start();
});

afterAll(async () => {
  await anchoring?.close();
  await chain?.stop();
  await pool?.end();
  await db?.cleanup();
});

describe('Anchoring against a real chain and PostgreSQL', () => {
  it('chains the entries of a record, anchors them in batches that extend the log, with receipts that verify by eth_call', async () => {
    for (let i = 0; i < 25; i++) await move(`acc-${i % 5}`, 1000 + i);
    await anchoring.flush();

    const { rows: batches } = await pool.query<{
      tx_hash: string;
      record_count: number;
      status: string;
      previous_root: string;
      root: string;
    }>('SELECT * FROM anchor_batches ORDER BY seq');
    // 25 entries, at most 10 per batch: at least 3 batches, one transaction each.
    expect(batches.length).toBeGreaterThanOrEqual(3);
    expect(batches.every((b) => b.status === 'confirmed')).toBe(true);
    expect(batches.reduce((n, b) => n + b.record_count, 0)).toBe(25);
    expect(batches.every((b) => b.record_count <= 10)).toBe(true);
    expect(new Set(batches.map((b) => b.tx_hash)).size).toBe(batches.length);
    // The log: each batch names the one before; the contract's head is the last root.
    expect(batches[0].previous_root).toBe(`0x${'0'.repeat(64)}`);
    for (let i = 1; i < batches.length; i++)
      expect(batches[i].previous_root).toBe(batches[i - 1].root);
    const contract = auditAnchorAt(chain.contractAddress, anchoring.provider);
    const signer = new Wallet(chain.anchorerKey).address;
    expect((await contract.latestRoot(signer)).toLowerCase()).toBe(batches.at(-1)!.root);
    expect(Number(await contract.logSize(signer))).toBe(batches.length);

    const record = await verdict('acc-3');
    expect(record).toMatchObject({ status: 'VERIFIED', reasons: [] });
    expect(record.entries.map((e) => e.receipt.sequence)).toEqual([1, 2, 3, 4, 5]);
    for (const entry of record.entries) {
      expect(entry.status).toBe('VERIFIED');
      const r = entry.receipt;
      expect(r).toMatchObject({ chainId: 31337, serializationVersion: 2, recordId: 'acc-3' });
      expect(r.leaf).toBe(leafHash(r.canonical, r.salt, 2));
      expect(r.recordKey).toBe(recordKey('account', 'acc-3'));
      const raw = await anchoring.provider.call(r.verifyCall!);
      expect(new Interface(AUDIT_ANCHOR_ABI).decodeFunctionResult('verify', raw)[0]).toBe(true);
      // The promise given at write time: signed by the anchorer, for this leaf and place.
      expect(promiseSigner(r.promise!)).toBe(signer.toLowerCase());
      expect(r.promise).toMatchObject({ leaf: r.leaf, sequence: r.sequence, recordId: 'acc-3' });
    }
    // Each entry names the leaf before it.
    const docs = record.entries.map((e) => JSON.parse(e.receipt.canonical));
    expect(docs[0].previousLeaf).toBe(`0x${'0'.repeat(64)}`);
    for (let i = 1; i < docs.length; i++)
      expect(docs[i].previousLeaf).toBe(record.entries[i - 1].receipt.leaf);

    const tx = await anchoring.recordsInTx(batches[0].tx_hash);
    expect(tx?.records).toHaveLength(batches[0].record_count);
    expect(tx?.records.every((r) => r.status === 'VERIFIED')).toBe(true);
    expect(await anchoring.recordsInTx(`0x${'ab'.repeat(32)}`)).toBeNull();

    // The public log holds every leaf with its record key and sequence, nothing else.
    const log = await anchoring.publishedLog({ after: 0, limit: 100 });
    expect(log.items).toHaveLength(batches.length);
    expect(log.hasMore).toBe(false);
    const leaves = log.items.flatMap((b) => b.leaves);
    expect(leaves).toHaveLength(25);
    expect(
      leaves.filter((l) => l.recordKey === recordKey('account', 'acc-3')).map((l) => l.sequence),
    ).toEqual([1, 2, 3, 4, 5]);
    expect(JSON.stringify(log)).not.toContain('acc-3');
    expect((await anchoring.health()).ok).toBe(true);
  });

  it('writes an entry only for what changed, nothing from a rolled-back transaction, and never throws', async () => {
    const [created] = await move('acc-quiet', 5);
    expect(created).toMatchObject({ sequence: 1, recordType: 'account' });
    // Nothing changed since: no entry.
    expect(
      await inTransaction((c) =>
        anchoring.record(c, { recordType: 'account', recordId: 'acc-quiet' }),
      ),
    ).toEqual([]);
    // A change of the record's own fields (no row of its own) is an entry naming the fields.
    const [closed] = await setStatus('acc-quiet', 'CLOSED');
    expect(closed.sequence).toBe(2);
    const entries = (await verdict('acc-quiet')).entries.map((e) =>
      JSON.parse(e.receipt.canonical),
    );
    expect(entries[1]).toMatchObject({
      sourceId: 'state',
      change: { kind: 'state', fields: ['status'] },
    });

    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO accounts VALUES ('acc-rolled', 'OPEN', 0)`);
      expect(
        await anchoring.record(client, { recordType: 'account', recordId: 'acc-rolled' }),
      ).toHaveLength(1);
      await client.query('ROLLBACK');
      // An unserialisable state (a float) and an unknown type are refused without throwing and
      // without aborting the caller's transaction.
      await client.query('BEGIN');
      await client.query(`INSERT INTO accounts VALUES ('acc-float', 'OPEN', 0)`);
      await client.query(
        `INSERT INTO account_moves (account_id, amount, note) VALUES ('acc-float', 1, 'float')`,
      );
      expect(
        await anchoring.record(client, { recordType: 'account', recordId: 'acc-float' }),
      ).toEqual([]);
      expect(await anchoring.record(client, { recordType: 'nope', recordId: 'x' })).toEqual([]);
      await client.query('SELECT 1');
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    expect(
      await countRows(
        `SELECT count(*) AS n FROM anchor_records WHERE record_id IN ('acc-rolled', 'acc-float', 'x')`,
      ),
    ).toBe(0);
  });

  it("chains after the record's entries only: a row from before the chain (no sequence) is not its last link", async () => {
    // A version 1 row, as written before entries had a place in a chain.
    await pool.query(
      `INSERT INTO anchor_records (record_type, record_id, source_id, version, salt, leaf, canonical)
       VALUES ('account', 'acc-legacy', 'legacy', 1, 'salt', $1, '{}')`,
      [`0x${'ab'.repeat(32)}`],
    );
    const [first] = await move('acc-legacy', 3);
    const [second] = await move('acc-legacy', 4);
    expect([first?.sequence, second?.sequence]).toEqual([1, 2]);
    const { rows } = await pool.query<{ sequence: number; previous_leaf: string; leaf: string }>(
      `SELECT sequence, previous_leaf, leaf FROM anchor_records
        WHERE record_id = 'acc-legacy' AND sequence IS NOT NULL ORDER BY sequence`,
    );
    expect(rows.map((r) => r.previous_leaf)).toEqual([`0x${'0'.repeat(64)}`, rows[0]!.leaf]);
  });

  it('takes the writer lock of a record whatever its id holds (quotes, backslashes)', async () => {
    // The lock's key travels as an escaped literal (it shares a round trip with the savepoint).
    const id = "acc-o'brien\\'); SELECT 1; --";
    // So do its entries: the note reaches the canonical text, which must be stored byte for byte.
    const [first] = await move(id, 1, "it's a \\ 'note' ü");
    const [second] = await move(id, 2);
    expect([first?.sequence, second?.sequence]).toEqual([1, 2]);
    await anchoring.flush();
    expect((await verdict(id)).status).toBe('VERIFIED');
  });

  it('costs two round trips per anchored write: savepoint, lock and reads together, then the entries with the release', async () => {
    await move('acc-trips', 1);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO account_moves (account_id, amount) VALUES ('acc-trips', 2)`);
      const queries = jest.spyOn(client, 'query');
      const promises = await anchoring.record(client, {
        recordType: 'account',
        recordId: 'acc-trips',
      });
      expect(promises.map((p) => p.sequence)).toEqual([2]);
      expect(queries).toHaveBeenCalledTimes(2);
      queries.mockRestore();
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await anchoring.flush();
    expect((await verdict('acc-trips')).status).toBe('VERIFIED');
  });

  describe('inside withTransaction', () => {
    const addMove = (client: PoolClient, accountId: string, amount: number) =>
      client.query(`INSERT INTO account_moves (account_id, amount) VALUES ($1, $2)`, [
        accountId,
        amount,
      ]);
    const anchored = (accountId: string) =>
      countRows(`SELECT count(*) AS n FROM anchor_records WHERE record_id = $1`, [accountId]);

    it('costs one round trip: the entries ride the COMMIT, unseen before it', async () => {
      await move('acc-one-trip', 1);
      await withTransaction(pool, async (client) => {
        await addMove(client, 'acc-one-trip', 2);
        const queries = jest.spyOn(client, 'query');
        try {
          const promises = await anchoring.record(client, {
            recordType: 'account',
            recordId: 'acc-one-trip',
          });
          expect(promises.map((p) => p.sequence)).toEqual([2]);
          expect(queries).toHaveBeenCalledTimes(1);
        } finally {
          queries.mockRestore();
        }
        expect(await anchored('acc-one-trip')).toBe(1);
      });
      expect(await anchored('acc-one-trip')).toBe(2);
      await anchoring.flush();
      expect((await verdict('acc-one-trip')).status).toBe('VERIFIED');
    });

    it("writes a change's entries in its transaction even when the record's prepared reads were deallocated under it", async () => {
      await move('acc-discarded', 1);
      await withTransaction(pool, async (client) => {
        // The connection has the reads prepared, then loses them (DISCARD ALL, say).
        await anchoring.record(client, { recordType: 'account', recordId: 'acc-discarded' });
        await client.query('DEALLOCATE ALL');
        await addMove(client, 'acc-discarded', 2);
        const promises = await anchoring.record(client, {
          recordType: 'account',
          recordId: 'acc-discarded',
        });
        expect(promises.map((p) => p.sequence)).toEqual([2]);
      });
      expect(await anchored('acc-discarded')).toBe(2);
    });

    describe('a write with its reads (write)', () => {
      const ref = (recordId: string) => ({ recordType: 'account', recordId });
      const moveOf = (accountId: string, amount: number) => ({
        text: 'INSERT INTO account_moves (account_id, amount) VALUES ($1, $2) RETURNING amount',
        values: [accountId, amount],
      });

      it("sends the write, the record's lock and its reads in one round trip; record then sends nothing", async () => {
        await move('acc-with-reads', 1);
        const promises = await withTransaction(pool, async (client) => {
          const queries = jest.spyOn(client, 'query');
          try {
            const { result, reads } = await anchoring.write<{ amount: string }>(
              client,
              ref('acc-with-reads'),
              moveOf('acc-with-reads', 7),
            );
            expect(result.rows).toEqual([{ amount: '7' }]);
            expect(reads).not.toBeNull();
            expect(queries).toHaveBeenCalledTimes(1);
            expect(String(queries.mock.calls[0]![0])).toMatch(
              // Each statement prepared on the connection the first time (prepared.ts).
              /^(PREPARE "ecom_[0-9a-f]{24}(_\d+)?" AS [^;]*;\n)*SAVEPOINT anchor_write;\nEXECUTE "ecom_[0-9a-f]{24}(_\d+)?"\('acc-with-reads', '7'\);\nEXECUTE "ecom_[0-9a-f]{24}(_\d+)?"\('anchor:account:acc-with-reads'\);\nEXECUTE "ecom_[0-9a-f]{24}(_\d+)?"\('acc-with-reads'\);\nEXECUTE "ecom_[0-9a-f]{24}(_\d+)?"\('account', 'acc-with-reads'\);\nRELEASE SAVEPOINT anchor_write$/s,
            );
            const recorded = await anchoring.record(client, ref('acc-with-reads'), reads);
            expect(queries).toHaveBeenCalledTimes(1);
            return recorded;
          } finally {
            queries.mockRestore();
          }
        });
        expect(promises.map((p) => p.sequence)).toEqual([2]);
        await anchoring.flush();
        const record = await verdict('acc-with-reads');
        expect(record.entries.map((e) => e.receipt.sequence)).toEqual([1, 2]);
        expect(record.status).toBe('VERIFIED');
      });

      it('reads that anything was sent after are not used: record reads again, and its entries show that statement too', async () => {
        await move('acc-written-after', 1);
        const promises = await withTransaction(pool, async (client) => {
          const { reads } = await anchoring.write(
            client,
            ref('acc-written-after'),
            moveOf('acc-written-after', 7),
          );
          expect(reads).not.toBeNull();
          // A later write of the record, not through write(): the reads no longer show it.
          await client.query('INSERT INTO account_moves (account_id, amount) VALUES ($1, $2)', [
            'acc-written-after',
            5,
          ]);
          const queries = jest.spyOn(client, 'query');
          try {
            const recorded = await anchoring.record(client, ref('acc-written-after'), reads);
            expect(queries).toHaveBeenCalledTimes(1);
            return recorded;
          } finally {
            queries.mockRestore();
          }
        });
        // One entry per move written in the transaction, the later one included.
        expect(promises.map((p) => p.sequence)).toEqual([2, 3]);
        await anchoring.flush();
        const record = await verdict('acc-written-after');
        expect(record.entries.map((e) => e.receipt.sequence)).toEqual([1, 2, 3]);
        expect(record.status).toBe('VERIFIED');
      });

      it('reads serve one record only: a second record reads again, and adds nothing for what the first wrote', async () => {
        await move('acc-reads-once', 1);
        const out = await withTransaction(pool, async (client) => {
          const { reads } = await anchoring.write(
            client,
            ref('acc-reads-once'),
            moveOf('acc-reads-once', 2),
          );
          const first = await anchoring.record(client, ref('acc-reads-once'), reads);
          const queries = jest.spyOn(client, 'query');
          try {
            const second = await anchoring.record(client, ref('acc-reads-once'), reads);
            return { first, second, sent: queries.mock.calls.length };
          } finally {
            queries.mockRestore();
          }
        });
        expect(out.first.map((p) => p.sequence)).toEqual([2]);
        expect(out.second).toEqual([]);
        expect(out.sent).toBeGreaterThan(0);
        await anchoring.flush();
        const record = await verdict('acc-reads-once');
        expect(record.entries.map((e) => e.receipt.sequence)).toEqual([1, 2]);
        expect(record.status).toBe('VERIFIED');
      });

      it("a write that fails goes again alone, and its own error is the caller's", async () => {
        await expect(
          withTransaction(pool, async (client) => {
            await client.query('SELECT 1');
            const queries = jest.spyOn(client, 'query');
            try {
              await expect(
                anchoring.write(client, ref('acc-broken'), {
                  text: 'INSERT INTO account_moves (account_id, amount) VALUES ($1, NULL)',
                  values: ['acc-broken'],
                }),
              ).rejects.toThrow(/null value in column "amount"/);
              // The write with its reads (after their PREPAREs, left out here), the savepoint
              // undone, the write alone.
              expect(queries.mock.calls.map(([text]) => queryText(text).split('\n')[0])).toEqual([
                'SAVEPOINT anchor_write;',
                'ROLLBACK TO SAVEPOINT anchor_write',
                'INSERT INTO account_moves (account_id, amount) VALUES ($1, NULL)',
              ]);
            } finally {
              queries.mockRestore();
            }
            throw new Error('rolled back');
          }),
        ).rejects.toThrow('rolled back');
      });

      it('reads that fail (the lock timed out) leave the write done, sent again alone; record reads for itself', async () => {
        await move('acc-held', 1);
        const holder = await pool.connect();
        try {
          await holder.query('BEGIN');
          await holder.query(
            `SELECT pg_advisory_xact_lock(hashtextextended('anchor:account:acc-held', 0))`,
          );
          const out = await withTransaction(pool, async (client) => {
            await client.query(`SET LOCAL lock_timeout = '100ms'`);
            const { result, reads } = await anchoring.write<{ amount: string }>(
              client,
              ref('acc-held'),
              moveOf('acc-held', 3),
            );
            // record() waits for the lock itself, times out and, as ever, does not throw.
            const promises = await anchoring.record(client, ref('acc-held'), reads);
            return { rows: result.rows, reads, promises };
          });
          expect(out).toEqual({ rows: [{ amount: '3' }], reads: null, promises: [] });
        } finally {
          await holder.query('COMMIT');
          holder.release();
        }
        // The move committed once (not twice: the savepoint undid the first).
        expect(
          await countRows(
            `SELECT count(*) AS n FROM account_moves WHERE account_id = 'acc-held' AND amount = 3`,
          ),
        ).toBe(1);
      });

      it("fails as the transaction's check of what came with BEGIN says, without going again", async () => {
        let sent = 0;
        await expect(
          withTransaction(
            pool,
            async (client) => {
              const spy = jest.spyOn(client, 'query');
              try {
                await anchoring.write(client, ref('acc-checked'), moveOf('acc-checked', 1));
              } finally {
                sent = spy.mock.calls.length;
                spy.mockRestore();
              }
            },
            {
              opening: {
                statement: 'SELECT 1',
                check: () => {
                  throw new Error('handled already');
                },
              },
            },
          ),
        ).rejects.toThrow('handled already');
        expect(sent).toBe(1);
        expect(
          await countRows(
            `SELECT count(*) AS n FROM account_moves WHERE account_id = 'acc-checked'`,
          ),
        ).toBe(0);
      });

      it('outside withTransaction the write goes alone, and record reads as before', async () => {
        await move('acc-plain', 1);
        const promises = await inTransaction(async (client) => {
          const { result, reads } = await anchoring.write<{ amount: string }>(
            client,
            ref('acc-plain'),
            moveOf('acc-plain', 4),
          );
          expect(result.rows).toEqual([{ amount: '4' }]);
          expect(reads).toBeNull();
          return anchoring.record(client, ref('acc-plain'), reads);
        });
        expect(promises.map((p) => p.sequence)).toEqual([2]);
      });
    });

    it('chains a record anchored twice in one transaction (the second read sees the first entries)', async () => {
      await move('acc-twice', 1);
      const sequences = await withTransaction(pool, async (client) => {
        const out: number[] = [];
        for (const amount of [2, 3]) {
          await addMove(client, 'acc-twice', amount);
          const promises = await anchoring.record(client, {
            recordType: 'account',
            recordId: 'acc-twice',
          });
          out.push(...promises.map((p) => p.sequence));
        }
        return out;
      });
      expect(sequences).toEqual([2, 3]);
      await anchoring.flush();
      const record = await verdict('acc-twice');
      expect(record.entries.map((e) => e.receipt.sequence)).toEqual([1, 2, 3]);
      expect(record.status).toBe('VERIFIED');
    });

    it('writes nothing when the transaction rolls back', async () => {
      await expect(
        withTransaction(pool, async (client) => {
          await client.query(`INSERT INTO accounts VALUES ('acc-undone', 'OPEN', 0)`);
          await addMove(client, 'acc-undone', 5);
          expect(
            await anchoring.record(client, { recordType: 'account', recordId: 'acc-undone' }),
          ).toHaveLength(1);
          throw new Error('changed its mind');
        }),
      ).rejects.toThrow('changed its mind');
      expect(await anchored('acc-undone')).toBe(0);
    });

    it('gives concurrent writers of one record consecutive sequences', async () => {
      await move('acc-busy-tx', 1);
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          withTransaction(pool, async (client) => {
            await addMove(client, 'acc-busy-tx', i + 10);
            return anchoring.record(client, { recordType: 'account', recordId: 'acc-busy-tx' });
          }),
        ),
      );
      await anchoring.flush();
      const record = await verdict('acc-busy-tx');
      expect(record.entries.map((e) => e.receipt.sequence)).toEqual(
        Array.from({ length: 11 }, (_, i) => i + 1),
      );
      expect(record.status).toBe('VERIFIED');
    });
  });

  it('gives concurrent writers of one record consecutive sequences (no fork, no lost entry)', async () => {
    await move('acc-busy', 1);
    // Ten transactions that each add a move row, without locking the account row first.
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        inTransaction(async (client) => {
          await client.query(
            `INSERT INTO account_moves (account_id, amount) VALUES ('acc-busy', $1)`,
            [i + 10],
          );
          return anchoring.record(client, { recordType: 'account', recordId: 'acc-busy' });
        }),
      ),
    );
    await anchoring.flush();
    const record = await verdict('acc-busy');
    expect(record.entries.map((e) => e.receipt.sequence)).toEqual(
      Array.from({ length: record.entries.length }, (_, i) => i + 1),
    );
    expect(record.entries.length).toBe(11);
    expect(record.status).toBe('VERIFIED');
  });

  describe('reports any edit made directly in the database as TAMPERED, with the reason', () => {
    const cases: [string, (accountId: string) => Promise<unknown>, RegExp][] = [
      [
        'a field of the record changed without an entry',
        (id) => pool.query('UPDATE accounts SET balance = 1 WHERE id = $1', [id]),
        /changed without a new entry/,
      ],
      [
        'a change row edited',
        (id) =>
          pool.query(
            'UPDATE account_moves SET amount = 7 WHERE id = (SELECT min(id) FROM account_moves WHERE account_id = $1)',
            [id],
          ),
        /change move:\d+ differs from its entry/,
      ],
      [
        'a change row deleted',
        (id) =>
          pool.query(
            'DELETE FROM account_moves WHERE id = (SELECT min(id) FROM account_moves WHERE account_id = $1)',
            [id],
          ),
        /change move:\d+ is gone/,
      ],
      [
        'a change row inserted',
        (id) => pool.query('INSERT INTO account_moves (account_id, amount) VALUES ($1, 3)', [id]),
        /change move:\d+ has no entry/,
      ],
      [
        'the stored canonical text',
        (id) =>
          pool.query(
            `UPDATE anchor_records SET canonical = replace(canonical, '"amount":100', '"amount":900')
              WHERE record_id = $1 AND sequence = 1`,
            [id],
          ),
        /the stored leaf is not the hash of its canonical text/,
      ],
      [
        'the salt',
        (id) =>
          pool.query(
            `UPDATE anchor_records SET salt = '0x${'77'.repeat(32)}' WHERE record_id = $1 AND sequence = 2`,
            [id],
          ),
        /the stored leaf is not the hash of its canonical text/,
      ],
      [
        'the leaf',
        (id) =>
          pool.query(
            `UPDATE anchor_records SET leaf = '0x${'77'.repeat(32)}' WHERE record_id = $1 AND sequence = 2`,
            [id],
          ),
        /the stored leaf is not the hash of its canonical text/,
      ],
      [
        'the proof',
        (id) =>
          pool.query(
            `UPDATE anchor_records SET proof = '["0x${'11'.repeat(32)}"]' WHERE record_id = $1 AND sequence = 2`,
            [id],
          ),
        /the stored proof does not lead to the anchored root/,
      ],
      [
        'the root of the batch',
        (id) =>
          pool.query(
            `UPDATE anchor_batches SET root = '0x${'22'.repeat(32)}'
              WHERE id = (SELECT batch_id FROM anchor_records WHERE record_id = $1 AND sequence = 2)`,
            [id],
          ),
        /the stored proof does not lead to the anchored root/,
      ],
      [
        'an entry deleted from the middle',
        (id) =>
          pool.query('DELETE FROM anchor_records WHERE record_id = $1 AND sequence = 2', [id]),
        /entry 2 is missing/,
      ],
      [
        'the newest entry deleted with the change it describes',
        async (id) => {
          await pool.query('DELETE FROM anchor_records WHERE record_id = $1 AND sequence = 3', [
            id,
          ]);
          await pool.query(
            'DELETE FROM account_moves WHERE id = (SELECT max(id) FROM account_moves WHERE account_id = $1)',
            [id],
          );
          await pool.query('UPDATE accounts SET balance = balance - 300 WHERE id = $1', [id]);
        },
        /entry 3 is in the public log but gone/,
      ],
      [
        'every entry deleted',
        (id) => pool.query('DELETE FROM anchor_records WHERE record_id = $1', [id]),
        /the record exists but no entry of it was anchored/,
      ],
      [
        'the promise deleted',
        (id) =>
          pool.query(
            'UPDATE anchor_records SET promise = NULL WHERE record_id = $1 AND sequence = 1',
            [id],
          ),
        /the promise signed at write time is gone/,
      ],
    ];
    it.each(cases)('%s', async (_, edit, reason) => {
      const id = `acc-${randomUUID()}`;
      await move(id, 100);
      await move(id, 200);
      await move(id, 300);
      await anchoring.flush();
      expect((await verdict(id)).status).toBe('VERIFIED');
      await edit(id);
      const after = await verdict(id);
      expect(after.status).toBe('TAMPERED');
      expect(after.reasons.join('\n')).toMatch(reason);
    });
  });

  it('shows a rewrite of a pending entry by someone without the key: the signed promise no longer matches', async () => {
    await anchoring.stop();
    try {
      const id = `acc-${randomUUID()}`;
      const [promise] = (await move(id, 100)) as [AnchorPromise];
      // The attacker rewrites the queued entry consistently: new text, leaf recomputed from the
      // stored salt, the account row edited to match.
      const { rows } = await pool.query<{ canonical: string; salt: string }>(
        'SELECT canonical, salt FROM anchor_records WHERE record_id = $1',
        [id],
      );
      // Only the amounts: the text also holds ids (the move's serial may be 100 too).
      const forged = rows[0].canonical.replace(/("(?:amount|balance)":)100(?=[,}])/g, '$1999');
      expect(forged.match(/":999[,}]/g)).toHaveLength(2);
      await pool.query('UPDATE anchor_records SET canonical = $2, leaf = $3 WHERE record_id = $1', [
        id,
        forged,
        leafHash(forged, rows[0].salt, 2),
      ]);
      await pool.query('UPDATE account_moves SET amount = 999 WHERE account_id = $1', [id]);
      await pool.query('UPDATE accounts SET balance = 999 WHERE id = $1', [id]);
      const after = await verdict(id);
      expect(after.status).toBe('TAMPERED');
      expect(after.reasons.join('\n')).toMatch(/differs from what its signed promise says/);
      // The customer's copy of the promise names the original leaf, not the forged one.
      expect(promise.leaf).not.toBe(leafHash(forged, rows[0].salt, 2));
    } finally {
      anchoring.start();
    }
  });

  it('keeps entries pending while the chain is down, each with its promise, and anchors them when it is back', async () => {
    await chain.pause();
    const promises = [];
    for (let i = 0; i < 15; i++) promises.push(...(await move('acc-outage', i + 1)));
    expect(promises).toHaveLength(15);
    await expect(anchoring.healthCheck()).rejects.toThrow();
    // A pass has run against the chain and failed (however long a busy machine took).
    await eventually(() => anchoring.status().consecutiveFailures > 0, {
      what: 'a failed anchoring pass',
    });
    expect((await anchoring.health()).ok).toBe(false);
    const during = await verdict('acc-outage');
    expect(during.status).toBe('PENDING');
    expect(during.entries.every((e) => e.receipt.promise !== null)).toBe(true);

    await chain.resume();
    await anchoring.flush();
    const after = await verdict('acc-outage');
    expect(after.status).toBe('VERIFIED');
    expect(after.entries.map((e) => e.receipt.leaf)).toEqual(promises.map((p) => p.leaf));
  });

  it('lets only one instance per database write (advisory lock); the other stands by', async () => {
    const second = makeAnchoring();
    second.start();
    try {
      for (let i = 0; i < 12; i++) await move('acc-two', i + 1);
      await anchoring.flush();
      await new Promise((r) => setTimeout(r, 200));
      expect(anchoring.status().writer).toBe(true);
      expect(second.status().writer).toBe(false);
      expect(second.status().batchesAnchored).toBe(0);
      expect((await verdict('acc-two')).status).toBe('VERIFIED');
    } finally {
      await second.close();
    }
  });

  it('reconciles on restart: a batch sent before a crash is confirmed from the chain, not sent twice', async () => {
    await anchoring.stop();
    await move('acc-crash', 1);
    await move('acc-crash', 2);
    const { rows } = await pool.query<{ id: string; leaf: string }>(
      `SELECT id, leaf FROM anchor_records WHERE record_id = 'acc-crash' ORDER BY id`,
    );
    // The crashed process had persisted the batch and sent its transaction, but stored no tx hash.
    const store = new PgAnchorStore(pool);
    const identity = await store.latestChainIdentity();
    const provider = createChainProvider(chain.url, chain.chainId);
    const wallet = new Wallet(chain.anchorerKey, provider);
    const contract = auditAnchorAt(identity!.contractAddress, new NonceManager(wallet));
    const tree = buildBatchTree(rows.map((r) => r.leaf));
    const batchUuid = randomUUID();
    const batch = await store.createBatch(
      { id: batchUuid, onChainId: onChainBatchId(batchUuid), chain: identity! },
      rows.map((r) => r.id),
      {
        root: tree.root,
        previousRoot: (await contract.latestRoot(wallet.address)).toLowerCase(),
        proofs: new Map(rows.map((r, i) => [r.id, tree.proofs[i]])),
      },
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
    expect((await verdict('acc-crash')).status).toBe('VERIFIED');
  });

  it('rebuilds a batch that no longer extends the log instead of sending it (the contract would refuse it)', async () => {
    await anchoring.stop();
    await move('acc-stale', 1);
    const { rows } = await pool.query<{ id: string; leaf: string }>(
      `SELECT id, leaf FROM anchor_records WHERE record_id = 'acc-stale'`,
    );
    const store = new PgAnchorStore(pool);
    const identity = await store.latestChainIdentity();
    const tree = buildBatchTree(rows.map((r) => r.leaf));
    const stale = randomUUID();
    await store.createBatch(
      { id: stale, onChainId: onChainBatchId(stale), chain: identity! },
      rows.map((r) => r.id),
      {
        root: tree.root,
        previousRoot: `0x${'99'.repeat(32)}`, // not the head of our log
        proofs: new Map(rows.map((r, i) => [r.id, tree.proofs[i]])),
      },
    );
    anchoring.start();
    await anchoring.flush();
    const { rows: after } = await pool.query<{ status: string }>(
      'SELECT status FROM anchor_batches WHERE id = $1',
      [stale],
    );
    expect(after[0].status).toBe('superseded');
    expect((await verdict('acc-stale')).status).toBe('VERIFIED');
  });

  it('notices anchors missing from a chain that kept its identity (reverted) and re-anchors', async () => {
    await anchoring.flush();
    const snapshot = (await anchoring.provider.send('evm_snapshot', [])) as string;
    await move('acc-lost', 700);
    await anchoring.flush();
    const [first] = (await verdict('acc-lost')).entries;
    expect(first.status).toBe('VERIFIED');
    // Same genesis, same contract: only the anchors written since the snapshot are gone.
    await anchoring.provider.send('evm_revert', [snapshot]);
    const deadline = Date.now() + 15_000;
    let again = first;
    while (Date.now() < deadline) {
      [again] = (await verdict('acc-lost')).entries;
      if (again.status === 'VERIFIED' && again.receipt.txHash !== first.receipt.txHash) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(again.status).toBe('VERIFIED');
    expect(again.receipt.txHash).not.toBe(first.receipt.txHash);
    expect(again.receipt.leaf).toBe(first.receipt.leaf);
  });

  it('detects a fresh chain, deploys the contract again and re-anchors every stored entry in a new log', async () => {
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

    const record = await verdict('acc-3');
    expect(record.status).toBe('VERIFIED');
    const newAddress = record.entries[0].receipt.contractAddress!;
    expect(await anchoring.provider.getCode(newAddress)).not.toBe('0x');
    expect(
      await countRows(
        `SELECT count(*) AS n FROM anchor_records r JOIN anchor_batches b ON b.id = r.batch_id
          WHERE b.status = 'confirmed' AND b.contract_address = $1`,
        [newAddress.toLowerCase()],
      ),
    ).toBe(before);
    // The new log starts from zero and chains on; the old batches stay published, superseded.
    const { rows: live } = await pool.query<{ root: string; previous_root: string }>(
      `SELECT root, previous_root FROM anchor_batches WHERE status = 'confirmed' ORDER BY seq`,
    );
    expect(live[0].previous_root).toBe(`0x${'0'.repeat(64)}`);
    for (let i = 1; i < live.length; i++) expect(live[i].previous_root).toBe(live[i - 1].root);
    const log = await anchoring.publishedLog({ after: 0, limit: 100 });
    expect(log.items.some((b) => b.status === 'superseded' && b.leaves.length > 0)).toBe(true);
  });
});
