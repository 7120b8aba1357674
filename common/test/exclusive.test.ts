import { Client, Pool } from 'pg';
import { createPgPool, runExclusively } from '../src/postgres';
import {
  createTestPostgres,
  describeIfServer,
  type TestPostgres,
  queryText,
} from '@ecom/test-support';

describeIfServer('postgres', 'runExclusively (PostgreSQL)', () => {
  let db: TestPostgres;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestPostgres('common_exclusive');
    pool = createPgPool(db.url, 4);
    await pool.query('CREATE TABLE jobs (id int PRIMARY KEY, label text NOT NULL, due int)');
    await pool.query(
      "INSERT INTO jobs VALUES (1, 'it''s due', 1), (2, 'later', 5), (3, '$1 -- not a parameter', 2)",
    );
  });
  afterAll(async () => {
    await pool?.end();
    await db?.cleanup();
  });

  /** Whether some session holds the advisory lock of `name`. */
  async function held(name: string): Promise<boolean> {
    const { rows } = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND database = (
          SELECT oid FROM pg_database WHERE datname = current_database())
          AND ((classid::bigint << 32) | objid::bigint) = (hashtextextended($1, 0) & x'ffffffffffffffff'::bigint)`,
      [name],
    );
    return Number(rows[0]!.n) > 0;
  }

  /** The texts sent by every pg client while `fn` runs (a named statement's included). */
  async function sentDuring<T>(fn: () => Promise<T>): Promise<{ result: T; texts: string[] }> {
    const sent = jest.spyOn(Client.prototype, 'query');
    try {
      const result = await fn();
      return {
        result,
        texts: sent.mock.calls.map(([text]) => queryText(text)),
      };
    } finally {
      sent.mockRestore();
    }
  }

  const dueRead = (upTo: number) => ({
    text: 'SELECT id, label FROM jobs WHERE due <= $1 ORDER BY id',
    values: [upTo],
  });

  it("sends its first read with the lock in one round trip and hands the read's rows to the work", async () => {
    let insideHeld = false;
    const { result, texts } = await sentDuring(() =>
      runExclusively(
        pool,
        'jobs-pass',
        async (rows) => {
          insideHeld = await held('jobs-pass');
          return rows;
        },
        dueRead(2),
      ),
    );
    expect(result).toEqual({
      ran: true,
      result: [
        { id: 1, label: "it's due" },
        { id: 3, label: '$1 -- not a parameter' },
      ],
    });
    expect(insideHeld).toBe(true);
    // The lock with the read, the check inside the work, the unlock.
    expect(texts).toHaveLength(3);
    expect(texts[0]).toMatch(
      /^SELECT pg_try_advisory_lock\(.*\) AS ok;\nSELECT id, label FROM jobs/,
    );
    expect(texts[0]).toContain("due <= '2'");
    expect(await held('jobs-pass')).toBe(false);
  });

  it('without a first read, the work gets no rows', async () => {
    const result = await runExclusively(pool, 'jobs-pass', async (rows) => rows.length);
    expect(result).toEqual({ ran: true, result: 0 });
  });

  it('does not run the work while another session holds the lock, and takes it once freed', async () => {
    const other = new Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query("SELECT pg_advisory_lock(hashtextextended('jobs-pass', 0))");
      const work = jest.fn(async () => 'ran');
      expect(await runExclusively(pool, 'jobs-pass', work, dueRead(9))).toEqual({ ran: false });
      expect(work).not.toHaveBeenCalled();
      await other.query("SELECT pg_advisory_unlock(hashtextextended('jobs-pass', 0))");
      expect(await runExclusively(pool, 'jobs-pass', work, dueRead(9))).toEqual({
        ran: true,
        result: 'ran',
      });
    } finally {
      await other.end();
    }
  });

  it('a first read that fails throws and leaves no lock behind (its connection is closed)', async () => {
    const work = jest.fn(async () => 'ran');
    await expect(
      runExclusively(pool, 'jobs-pass', work, {
        text: 'SELECT * FROM no_such_table WHERE x = $1',
        values: [1],
      }),
    ).rejects.toThrow(/no_such_table/);
    expect(work).not.toHaveBeenCalled();
    expect(await held('jobs-pass')).toBe(false);
    expect(await runExclusively(pool, 'jobs-pass', work)).toEqual({ ran: true, result: 'ran' });
  });

  it('a read whose values cannot be written in goes on its own, after the lock', async () => {
    const { result, texts } = await sentDuring(() =>
      runExclusively(pool, 'jobs-pass', async (rows) => rows, {
        text: "SELECT id FROM jobs WHERE convert_to(label, 'UTF8') = $1",
        values: [Buffer.from('later')],
      }),
    );
    expect(result).toEqual({ ran: true, result: [{ id: 2 }] });
    expect(texts[0]).toMatch(/^SELECT pg_try_advisory_lock\(hashtextextended\(\$1, 0\)\) AS ok$/);
    expect(texts).toHaveLength(3);
  });
});
