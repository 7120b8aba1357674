import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { testPool } from '@ecom/test-support';
import { Wallet } from 'ethers';
import { createTestPostgres, type TestPostgres } from '@ecom/infrastructure/testing';
import { verifyReceipts } from '../../../audit-web/src/verify/entries';
import { runMigrations, withTransaction } from '../../src/postgres';
import { ACCOUNTS, accountRecord } from './account-record';
import {
  canonicalDocument,
  createAnchoring,
  leafHash,
  parseCanonical,
  signPromise,
  type AnchorPromise,
  type Anchoring,
  type EntryDocument,
} from '../../src/anchoring';

// The real PostgreSQL server of this machine (a database of our own, dropped afterwards).
process.env.POSTGRES_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';

jest.setTimeout(30_000);

/**
 * An entry names every change it carries (ADR 0058): an edit made outside the service is not
 * absorbed by the next change, it gets an entry of its own; an entry whose state differs from
 * the one before in a field it does not name is TAMPERED. No chain is needed: the entries stay
 * pending, every other check runs. A move explains the balance; nothing explains the status
 * but an entry of its own.
 */
const accounts = accountRecord({ move: { balance: true } });

const key = Wallet.createRandom().privateKey;
let db: TestPostgres;
let pool: Pool;
let anchoring: Anchoring;

beforeAll(async () => {
  db = await createTestPostgres('anchor_named_changes');
  pool = testPool(db.url, 4);
  anchoring = createAnchoring({
    pool,
    // Never asked: the worker is not started.
    rpcUrl: 'http://127.0.0.1:9',
    privateKey: key,
    recordTypes: { account: accounts },
  });
  await runMigrations(pool, [...anchoring.migrations, ACCOUNTS]);
});

afterAll(async () => {
  await anchoring?.close();
  await pool?.end();
  await db?.cleanup();
});

/** What the service does: a move and its balance, and the record's entries, in one transaction. */
const move = (id: string, amount: number, via: () => Anchoring = () => anchoring) =>
  withTransaction(pool, async (client) => {
    await client.query(
      `INSERT INTO accounts (id, status, balance) VALUES ($1, 'OPEN', 0) ON CONFLICT DO NOTHING`,
      [id],
    );
    await client.query('INSERT INTO account_moves (account_id, amount) VALUES ($1, $2)', [
      id,
      amount,
    ]);
    await client.query('UPDATE accounts SET balance = balance + $2 WHERE id = $1', [id, amount]);
    return via().record(client, { recordType: 'account', recordId: id });
  });

/** The audit page's verdict on the record's receipts, as the record API serves them (offline). */
const pageVerdict = async (id: string) =>
  verifyReceipts(
    'account',
    id,
    (await anchoring.recordsFor('account', id)).entries.map((e) => e.receipt),
    { chain: null, now: Math.floor(Date.now() / 1000), wholeRecord: true },
  );

const documents = async (id: string) =>
  (await anchoring.recordsFor('account', id)).entries.map((e) => {
    const parsed = parseCanonical(e.receipt.canonical);
    if ('error' in parsed) throw new Error(parsed.error);
    return parsed.doc as EntryDocument;
  });

/**
 * Rewrites entry `sequence` (the newest) as a writer holding the key would: new text, its leaf,
 * its promise signed again; everything but the rule under test holds.
 */
async function rewrite(id: string, sequence: number, edit: (doc: EntryDocument) => EntryDocument) {
  const { rows } = await pool.query<{ canonical: string; salt: string; promise: AnchorPromise }>(
    'SELECT canonical, salt, promise FROM anchor_records WHERE record_id = $1 AND sequence = $2',
    [id, sequence],
  );
  const parsed = parseCanonical(rows[0]!.canonical);
  if ('error' in parsed) throw new Error(parsed.error);
  const doc = edit(JSON.parse(JSON.stringify(parsed.doc)) as EntryDocument);
  const canonical = canonicalDocument(doc);
  const leaf = leafHash(canonical, rows[0]!.salt, 2);
  const { type: _t, version: _v, signer: _s, signature: _sig, ...terms } = rows[0]!.promise;
  const promise = signPromise(new Wallet(key), { ...terms, leaf });
  await pool.query(
    `UPDATE anchor_records SET canonical = $3, leaf = $4, promise = $5, source_id = $6
      WHERE record_id = $1 AND sequence = $2`,
    [id, sequence, canonical, leaf, JSON.stringify(promise), doc.sourceId],
  );
}

describe('an entry names every change it carries (real PostgreSQL)', () => {
  it('gives an edit made in the database an entry of its own before the next change, naming its fields', async () => {
    const id = `acc-${randomUUID()}`;
    await move(id, 100);
    await move(id, 200);
    await pool.query(`UPDATE accounts SET status = 'FROZEN', balance = 1000 WHERE id = $1`, [id]);
    const edited = await anchoring.recordsFor('account', id);
    expect(edited.status).toBe('TAMPERED');
    expect(edited.reasons).toContain('the record changed without a new entry');

    // The next change does not absorb it: the status edit gets its own entry, first.
    const promises = await move(id, 50);
    expect(promises.map((p) => p.sequence)).toEqual([3, 4]);
    const docs = await documents(id);
    expect(docs.map((d) => [d.sourceId, d.fields])).toEqual([
      [expect.stringMatching(/^move:/), undefined],
      [expect.stringMatching(/^move:/), ['balance']],
      ['state', ['status']],
      [expect.stringMatching(/^move:/), ['balance']],
    ]);
    expect(docs[2]!.change).toEqual({ kind: 'state', fields: ['status'] });
    expect(docs[2]!.state).toEqual({ accountId: id, status: 'FROZEN', balance: 300 });
    expect(docs[3]!.state).toEqual({ accountId: id, status: 'FROZEN', balance: 1050 });
    const after = await anchoring.recordsFor('account', id);
    expect(after.reasons).toEqual([]);
    expect(after.status).toBe('PENDING');
    const page = await pageVerdict(id);
    expect(page.reasons).toEqual([]);
    expect(page.entries[2]!.checks.find((c) => c.name === 'names its changes')).toMatchObject({
      status: 'pass',
      detail: 'changes status from entry 2, as it says',
    });
  });

  const forgeries: [string, (doc: EntryDocument) => EntryDocument, RegExp][] = [
    [
      'a field changed without being named',
      (doc) => ({ ...doc, state: { ...(doc.state as object), status: 'FROZEN' } }),
      /^entry 3 changes status without naming it$/,
    ],
    [
      'a field named that did not change',
      (doc) => ({ ...doc, fields: ['balance', 'status'] }),
      /^entry 3 names status but does not change it$/,
    ],
    [
      'no fields named after entries that name theirs',
      (doc) => {
        const { fields: _gone, ...rest } = doc;
        return { ...rest, state: { ...(rest.state as object), status: 'FROZEN' } };
      },
      /^entry 3 does not name the fields it changes/,
    ],
    [
      'a change of state naming other fields than it changes',
      (doc) => ({
        ...doc,
        sourceId: 'state',
        change: { kind: 'state', fields: ['status'] },
        fields: ['status'],
        state: { ...(doc.state as object), status: 'FROZEN' },
      }),
      /^entry 3 changes balance without naming it$/,
    ],
  ];
  it.each(forgeries)('answers TAMPERED for an entry forged with %s', async (_, edit, reason) => {
    const id = `acc-${randomUUID()}`;
    await move(id, 100);
    await move(id, 200);
    await move(id, 300);
    expect((await anchoring.recordsFor('account', id)).reasons).toEqual([]);
    await rewrite(id, 3, edit);
    // The live row as the forged entry says (the edit it would have absorbed).
    const forged = (await documents(id))[2]!;
    await pool.query('UPDATE accounts SET status = $2 WHERE id = $1', [
      id,
      (forged.state as { status: string }).status,
    ]);
    if (forged.sourceId === 'state') {
      await pool.query(
        'DELETE FROM account_moves WHERE id = (SELECT max(id) FROM account_moves WHERE account_id = $1)',
        [id],
      );
    }
    const verdict = await anchoring.recordsFor('account', id);
    expect(verdict.status).toBe('TAMPERED');
    expect(verdict.reasons.filter((r) => reason.test(r))).toHaveLength(1);
    expect(verdict.entries.filter((e) => e.status === 'TAMPERED')).toEqual([]);
    // The audit page, recomputing everything in the browser, finds the same.
    const page = await pageVerdict(id);
    expect(page.state).toBe('tampered');
    expect(
      page.reasons.filter((r) => reason.test(r.replace(/^.*names its changes: /, ''))),
    ).toHaveLength(1);
  });

  it('leaves entries written before the rule unchecked when none before them named fields', async () => {
    const id = `acc-${randomUUID()}`;
    await move(id, 100);
    await move(id, 200);
    // Entry 2 as written before ADR 0058: no `fields`, and (as then) the status rode with it.
    await rewrite(id, 2, (doc) => {
      const { fields: _gone, ...rest } = doc;
      return { ...rest, state: { ...(rest.state as object), status: 'FROZEN' } };
    });
    await pool.query(`UPDATE accounts SET status = 'FROZEN' WHERE id = $1`, [id]);
    expect((await anchoring.recordsFor('account', id)).reasons).toEqual([]);
    const page = await pageVerdict(id);
    expect(page.reasons).toEqual([]);
    expect(page.entries[1]!.checks.find((c) => c.name === 'names its changes')?.status).toBe(
      'skip',
    );
  });
});

describe('ANCHOR_NAME_FIELDS=false, while replicas from before the rule still run', () => {
  it('writes entries an older reader can read (no fields), the edit still in a state entry of its own', async () => {
    const older = createAnchoring({
      pool,
      rpcUrl: 'http://127.0.0.1:9',
      privateKey: key,
      recordTypes: { account: accounts },
      nameFields: false,
    });
    const id = `acc-${randomUUID()}`;
    await move(id, 10, () => older);
    await pool.query(`UPDATE accounts SET status = 'FROZEN' WHERE id = $1`, [id]);
    await move(id, 5, () => older);
    const docs = await documents(id);
    expect(docs.map((d) => [d.sourceId.replace(/:\d+$/, ''), 'fields' in d])).toEqual([
      ['move', false],
      ['state', false],
      ['move', false],
    ]);
    expect(docs[1]!.change).toEqual({ kind: 'state', fields: ['status'] });
    expect((await anchoring.recordsFor('account', id)).reasons).toEqual([]);
    await older.close();
  });
});
