/**
 * The auditor's reproduction, on the real anchoring stack: a service's anchoring (its
 * PostgreSQL tables, its worker) on the embedded chain. An operator rewrites an anchored entry
 * (and re-signs its promise) and deletes a record; the chain is lost and the platform restarts
 * on a fresh chain at the same address, re-anchoring what its database holds. Before, the
 * monitor found nothing; it must report the rewrite, the batches it can no longer prove and,
 * with its state file, the promises that vanished.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { JsonRpcProvider, Wallet } from 'ethers';
import { Client, Pool } from 'pg';
import {
  createAnchoring,
  leafHash,
  recordKey,
  type Anchoring,
  type RecordTypeConfig,
} from '@ecom/common/anchoring';
import { runMigrations } from '@ecom/common/postgres';
import { startEmbeddedChain, type EmbeddedChain } from '../src/embedded-chain';
import { runMonitor, type Finding } from '../src/monitor';
import { fileStateStore } from '../src/monitor-state';
import { signPromise } from '../src/verification';

const ADMIN_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

// A stand-in for a service's own table: an account whose fields are the record's state.
const ACCOUNTS = {
  id: '001_accounts',
  sql: 'CREATE TABLE accounts (id text PRIMARY KEY, balance bigint NOT NULL)',
};
const accountRecord: RecordTypeConfig = {
  snapshotSql: (id) => `SELECT id, balance FROM accounts WHERE id = ${id}`,
  snapshotFrom(rows) {
    const row = (rows as { id: string; balance: string }[])[0];
    if (!row) return null;
    return { state: { accountId: row.id, balance: Number(row.balance) }, rows: {} };
  },
};

describe('monitor on the real anchoring stack (PostgreSQL, embedded chain, restart)', function () {
  this.timeout(120_000);
  const database = `test_monitor_${process.pid}_${randomBytes(4).toString('hex')}`;
  let admin: Client;
  let pool: Pool;
  let chain: EmbeddedChain;
  let anchoring: Anchoring;

  const makeAnchoring = (): Anchoring =>
    createAnchoring({
      pool,
      rpcUrl: chain.url,
      chainId: chain.chainId,
      contractAddress: chain.contractAddress,
      privateKey: chain.anchorerKey,
      windowMs: 50,
      maxBatchSize: 2,
      chainCheckIntervalMs: 100,
      backoffInitialMs: 50,
      backoffMaxMs: 200,
      recordTypes: { account: accountRecord },
    });

  async function write(id: string, balance: number): Promise<void> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO accounts (id, balance) VALUES ($1, $2)
         ON CONFLICT (id) DO UPDATE SET balance = $2`,
        [id, balance],
      );
      await anchoring.record(client, { recordType: 'account', recordId: id });
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  }

  /** The service's public log routes, over `fetch`, from its own store (its own cursors). */
  const gateway = (async (url: string | URL) => {
    const u = new URL(String(url));
    const page = { after: Number(u.searchParams.get('after') ?? 0), limit: 100 };
    if (u.pathname === '/api/blockchain/account/log/info') {
      return Response.json({ service: 'account', ...anchoring.logInfo('account') });
    }
    if (u.pathname === '/api/blockchain/account/log') {
      return Response.json({ ...(await anchoring.publishedLog(page)), limit: 100 });
    }
    if (u.pathname === '/api/blockchain/account/log/promises') {
      return Response.json({ ...(await anchoring.publishedPromises(page)), limit: 100 });
    }
    return new Response('{}', { status: 404 });
  }) as typeof fetch;

  async function monitor(stateFile: string): Promise<{ code: number; findings: Finding[] }> {
    const provider = new JsonRpcProvider(chain.url, chain.chainId, { staticNetwork: true });
    const lines: string[] = [];
    try {
      const code = await runMonitor({
        provider,
        gatewayUrl: 'http://gateway.test',
        services: ['account'],
        contractAddress: chain.contractAddress,
        fromBlock: 0,
        fetchImpl: gateway,
        state: fileStateStore(stateFile),
        print: (line) => lines.push(...line.split('\n')),
      });
      // The table's rows: severity, kind, subject, message.
      const findings = lines
        .filter((l) => /^(error|warning) +[a-z-]+ +\S+ +/.test(l))
        .map((l) => {
          const [severity, kind, subject] = l.split(/ +/);
          return { severity, kind, subject, message: l } as Finding;
        });
      return { code, findings };
    } finally {
      provider.destroy();
    }
  }

  before(async () => {
    admin = new Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    const url = new URL(ADMIN_URL);
    url.pathname = `/${database}`;
    pool = new Pool({ connectionString: url.toString(), max: 4 });
    pool.on('error', () => undefined);
    chain = await startEmbeddedChain({ port: 0, anchorers: 1 });
    anchoring = makeAnchoring();
    await runMigrations(pool, [...anchoring.migrations, ACCOUNTS]);
    anchoring.start();
  });

  after(async () => {
    await anchoring?.close();
    await chain?.stop();
    await pool?.end();
    await admin?.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin?.end();
  });

  it('reports a rewrite laundered through a fresh chain, and a deleted record, after the restart', async () => {
    const state = path.join(mkdtempSync(path.join(tmpdir(), 'monitor-restart-')), 'state.json');
    for (const id of ['acc-a', 'acc-b', 'acc-c']) {
      await write(id, 100);
      await write(id, 250);
    }
    await anchoring.flush();
    expect(await monitor(state)).to.deep.equal({ code: 0, findings: [] });

    // The operator rewrites acc-a's anchored entry 2 (its leaf from the stored salt) and signs
    // a promise for the new leaf with the service's key; and deletes acc-c, entries and all.
    const { rows } = await pool.query<{ canonical: string; salt: string }>(
      `SELECT canonical, salt FROM anchor_records WHERE record_id = 'acc-a' AND sequence = 2`,
    );
    const forged = rows[0].canonical.replace('"balance":250', '"balance":25');
    expect(forged).to.not.equal(rows[0].canonical);
    const leaf = leafHash(forged, rows[0].salt, 2);
    const promise = await signPromise(new Wallet(chain.anchorerKey), {
      chainId: chain.chainId,
      recordType: 'account',
      recordId: 'acc-a',
      sequence: 2,
      leaf,
      deadline: Math.floor(Date.now() / 1000) + 600,
    });
    await pool.query(
      `UPDATE anchor_records SET canonical = $1, leaf = $2, promise = $3
        WHERE record_id = 'acc-a' AND sequence = 2`,
      [forged, leaf, JSON.stringify(promise)],
    );
    await pool.query(`DELETE FROM anchor_records WHERE record_id = 'acc-c'`);
    await pool.query(`DELETE FROM accounts WHERE id = 'acc-c'`);

    // The chain is lost; the platform restarts on a fresh one, deployed at the same address.
    await anchoring.close();
    const port = Number(new URL(chain.url).port);
    const address = chain.contractAddress;
    await chain.stop();
    chain = await startEmbeddedChain({ port, anchorers: 1 });
    expect(chain.contractAddress).to.equal(address);
    anchoring = makeAnchoring();
    anchoring.start();
    await anchoring.flush();
    const { rows: superseded } = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM anchor_batches WHERE status = 'superseded'`,
    );
    expect(Number(superseded[0].n)).to.be.greaterThan(0);
    // The service's own record API says so.
    expect((await anchoring.recordsFor('account', 'acc-a')).status).to.equal('TAMPERED');

    const { code, findings } = await monitor(state);
    expect(code).to.equal(1);
    const errors = findings.filter((f) => f.severity === 'error');
    // The re-signed promise replaced the published one: the state still holds the first, whose
    // leaf is not the one anchored now.
    expect(errors.map((f) => `${f.kind} ${f.subject}`)).to.have.members([
      `equivocation ${recordKey('account', 'acc-a')}#2`,
      `broken-promise ${recordKey('account', 'acc-a')}#2`,
      `vanished-promise ${recordKey('account', 'acc-a')}#2`,
      `vanished-promise ${recordKey('account', 'acc-c')}#1`,
      `vanished-promise ${recordKey('account', 'acc-c')}#2`,
    ]);
    // A superseded batch re-anchored with the same leaves has its root on the new chain: proven.
    const { rows: gone } = await pool.query<{ root: string }>(
      `SELECT root FROM anchor_batches WHERE status = 'superseded' AND block_number IS NOT NULL
          AND root NOT IN (SELECT root FROM anchor_batches WHERE status = 'confirmed')`,
    );
    expect(gone.length).to.be.greaterThan(0);
    const warnings = findings.filter((f) => f.severity === 'warning');
    expect(warnings.map((f) => `${f.kind} ${f.subject}`)).to.have.members(
      gone.map((r) => `chain-gone ${r.root}`),
    );
  });
});
