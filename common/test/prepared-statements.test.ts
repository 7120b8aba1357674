import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { createPgPool } from '../src/postgres';
import { inlineParameters } from '../src/postgres/inline';
import { PreparedQuery } from '../src/postgres/prepared';
import { createTestPostgres, describeIfServer, type TestPostgres } from '@ecom/test-support';

describeIfServer(
  'postgres',
  'statements prepared once per connection in simple queries (PostgreSQL)',
  () => {
    let db: TestPostgres;
    let pool: Pool;

    beforeAll(async () => {
      db = await createTestPostgres('common_prepared');
      pool = createPgPool(db.url, 4);
      await pool.query(
        'CREATE TABLE things (id text PRIMARY KEY, tags text[], data jsonb, n bigint, note text)',
      );
      await pool.query(
        `INSERT INTO things VALUES ('a', '{x,y}', '{"k":1}', 7, 'it''s'), ('b', NULL, NULL, NULL, NULL)`,
      );
    });
    afterAll(async () => {
      await pool.end();
      await db.cleanup();
    });

    const byId = {
      text: 'SELECT id, tags, data, n, note FROM things WHERE id = $1 OR note = $2',
      values: ['b', "it's"],
    };

    /**
     * One simple query of `statements` through a PreparedQuery on `client`: each statement's text,
     * the query as sent (PREPAREs at its head) and the answer.
     */
    async function run(client: PoolClient, statements: Array<{ text: string; values: unknown[] }>) {
      const prepared = new PreparedQuery(client);
      const texts = statements.map((s) => prepared.sql(s)!);
      const sql = prepared.query(['SELECT 1 AS first', ...texts]);
      const results = await prepared.sent(client.query(sql));
      return { texts, sql, results };
    }

    it('prepares a statement on its first run on a connection and executes it after, with the answer of the written-out statement', async () => {
      const client = await pool.connect();
      try {
        const expected = await client.query(inlineParameters(byId.text, byId.values)!);
        const first = await run(client, [byId]);
        // The PREPARE goes at the head of the query.
        expect(first.sql).toMatch(
          /^PREPARE "(ecom_[0-9a-f]{24})" AS SELECT .*;\nSELECT 1 AS first;\nEXECUTE "\1"\('b', 'it''s'\)$/s,
        );
        // The PREPARE's own result is left out: every other statement keeps its place.
        expect(first.results).toHaveLength(2);
        expect(first.results[0]!.rows).toEqual([{ first: 1 }]);
        expect(first.results[1]!.rows).toEqual(expected.rows);
        expect(first.results[1]!.command).toBe('SELECT');
        const again = await run(client, [byId]);
        expect(again.sql).toMatch(
          /^SELECT 1 AS first;\nEXECUTE "ecom_[0-9a-f]{24}"\('b', 'it''s'\)$/,
        );
        expect(again.results[1]!.rows).toEqual(expected.rows);
        // Another connection has its own.
        const other = await pool.connect();
        try {
          expect((await run(other, [byId])).sql).toMatch(/^PREPARE /);
        } finally {
          other.release();
        }
      } finally {
        client.release();
      }
    });

    it('writes values in as pg would send them (null, arrays, JSON), and twice in one query prepares once', async () => {
      const client = await pool.connect();
      try {
        const update = {
          text: 'UPDATE things SET tags = $2, data = $3, n = $4 WHERE id = $1 RETURNING tags, data, n',
          values: ['b', ['q', "r's"], { nested: [1, null] }, null],
        };
        const { texts, sql, results } = await run(client, [update, update]);
        expect(sql.match(/^PREPARE /gm)).toHaveLength(1);
        expect(texts.every((t) => t.startsWith('EXECUTE '))).toBe(true);
        expect(results.slice(1).map((r) => r.rows)).toEqual([
          [{ tags: ['q', "r's"], data: { nested: [1, null] }, n: null }],
          [{ tags: ['q', "r's"], data: { nested: [1, null] }, n: null }],
        ]);
        expect(results[1]!.rowCount).toBe(1);
        // A Buffer has no text form: the caller writes the statement out (or sends it alone).
        expect(
          new PreparedQuery(client).sql({ text: 'SELECT $1::bytea', values: [Buffer.from('x')] }),
        ).toBeNull();
      } finally {
        client.release();
      }
    });

    it('after a failed query, keeps the names whose PREPARE is known to have run and gives the others new ones', async () => {
      const client = await pool.connect();
      const statement = { text: 'SELECT n FROM things WHERE id = $1 AND n > $2', values: ['a', 1] };
      try {
        // A statement that ran failed (a data exception): the PREPAREs before it ran.
        const failing = new PreparedQuery(client);
        const text = failing.sql(statement)!;
        await expect(
          failing.sent(client.query(failing.query([text, 'SELECT 1/0']))),
        ).rejects.toThrow(/division by zero/);
        const kept = await run(client, [statement]);
        expect(kept.sql).not.toMatch(/PREPARE/);
        expect(kept.texts[0]).toMatch(/^EXECUTE "ecom_[0-9a-f]{24}"\(/);
        expect(kept.results[1]!.rows).toEqual([{ n: '7' }]);
        // A PREPARE failed (its table does not exist): whether the others ran is not known.
        const other = { text: 'SELECT n FROM things WHERE id = $1 AND n < $2', values: ['a', 100] };
        const unsure = new PreparedQuery(client);
        const texts = [
          unsure.sql({ text: 'SELECT x FROM no_such_table WHERE y = $1', values: [1] })!,
          unsure.sql(other)!,
        ];
        await expect(unsure.sent(client.query(unsure.query(texts)))).rejects.toThrow(
          /no_such_table/,
        );
        const next = await run(client, [other]);
        expect(next.sql).toMatch(/^PREPARE "ecom_[0-9a-f]{24}_1" AS /);
        expect(next.results[1]!.rows).toEqual([{ n: '7' }]);
        expect((await run(client, [other])).texts[0]).toMatch(/^EXECUTE "ecom_[0-9a-f]{24}_1"/);
      } finally {
        client.release();
      }
    });

    it("keeps a caller's own PREPARE's result: only the ones it put at the head are left out", async () => {
      const client = await pool.connect();
      try {
        const prepared = new PreparedQuery(client);
        const text = prepared.sql({ text: 'SELECT $1::int * 2 AS twice', values: [21] })!;
        const results = await prepared.sent(
          client.query(prepared.query(['PREPARE callers_own AS SELECT 1', text])),
        );
        expect(results.map((r) => r.command)).toEqual(['PREPARE', 'SELECT']);
        expect(results[1]!.rows).toEqual([{ twice: 42 }]);
      } finally {
        await client.query('DEALLOCATE callers_own');
        client.release();
      }
    });

    it("prepares again a statement returning * whose table's columns changed (a newer replica's migration)", async () => {
      await pool.query('CREATE TABLE moving (id text PRIMARY KEY, a int)');
      await pool.query("INSERT INTO moving VALUES ('m', 1)");
      const client = await pool.connect();
      const star = { text: 'SELECT * FROM moving WHERE id = $1', values: ['m'] };
      try {
        expect((await run(client, [star])).results[1]!.rows).toEqual([{ id: 'm', a: 1 }]);
        await pool.query('ALTER TABLE moving ADD COLUMN b int DEFAULT 2');
        await expect(run(client, [star])).rejects.toThrow(
          /cached plan must not change result type/,
        );
        const next = await run(client, [star]);
        expect(next.sql).toMatch(/^PREPARE "ecom_[0-9a-f]{24}_1" AS /);
        expect(next.results[1]!.rows).toEqual([{ id: 'm', a: 1, b: 2 }]);
      } finally {
        client.release();
      }
    });

    it('prepares again, under a new name, statements deallocated under it (DISCARD ALL)', async () => {
      const client = await pool.connect();
      const statement = { text: 'SELECT note FROM things WHERE id = $1', values: ['a'] };
      try {
        await run(client, [statement]);
        expect((await run(client, [statement])).texts[0]).toMatch(/^EXECUTE /);
        await client.query('DEALLOCATE ALL');
        await expect(run(client, [statement])).rejects.toThrow(/does not exist/);
        const next = await run(client, [statement]);
        expect(next.sql).toMatch(/^PREPARE "ecom_[0-9a-f]{24}_1" AS /);
        expect(next.results[1]!.rows).toEqual([{ note: "it's" }]);
      } finally {
        client.release();
      }
    });

    it('plans once: after a few runs PostgreSQL keeps a generic plan for it', async () => {
      const client = await pool.connect();
      try {
        // A lookup by primary key, as the saga's snapshot and move statements are.
        const lookup = { text: 'SELECT n FROM things WHERE id = $1 FOR UPDATE', values: ['a'] };
        await client.query('BEGIN');
        for (let i = 0; i < 8; i += 1) await run(client, [lookup]);
        await client.query('COMMIT');
        const { rows } = await client.query<{ generic_plans: string; custom_plans: string }>(
          'SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE $1',
          ['%FROM things WHERE id = $1 FOR UPDATE%'],
        );
        expect(rows).toHaveLength(1);
        expect(Number(rows[0]!.generic_plans)).toBeGreaterThan(0);
      } finally {
        client.release();
      }
    });

    it('a pool made with preparedStatements: false writes statements out (PGlite, PgBouncer in transaction mode)', async () => {
      const plain = createPgPool(db.url, 1, undefined, { preparedStatements: false });
      try {
        const client = await plain.connect();
        try {
          expect(new PreparedQuery(client).sql(byId)).toBeNull();
        } finally {
          client.release();
        }
      } finally {
        await plain.end();
      }
      // The same text gets the same name in every process: a shared session cannot mix two up.
      const client = await pool.connect();
      try {
        const name = /"(ecom_[0-9a-f]{24})(?:_\d+)?"/.exec(
          new PreparedQuery(client).sql(byId)!,
        )![1];
        expect(name).toBe(
          `ecom_${createHash('sha256').update(byId.text).digest('hex').slice(0, 24)}`,
        );
      } finally {
        client.release();
      }
    });

    describe('statements sent alone with values', () => {
      /** The statements this connection's session has prepared for `text`. */
      const namedFor = async (client: PoolClient, text: string) =>
        (
          await client.query<{ name: string; generic_plans: string }>(
            'SELECT name, generic_plans FROM pg_prepared_statements WHERE statement = $1::text',
            [text],
          )
        ).rows;

      /** `fn` on a pool of one connection of its own (and that connection), closed after. */
      async function onOwnPool(
        options: { preparedStatements?: boolean },
        fn: (own: Pool, client: () => Promise<PoolClient>) => Promise<void>,
      ) {
        const own = createPgPool(db.url, 1, undefined, options);
        let client: PoolClient | undefined;
        try {
          await fn(own, async () => (client ??= await own.connect()));
        } finally {
          client?.release();
          await own.end();
        }
      }

      it('are named from their second use: parsed once per connection, and planned once', async () => {
        await onOwnPool({}, async (single, connect) => {
          const text = 'SELECT id, n FROM things WHERE id = $1';
          // pool.query goes through pg-pool's callback; the client's query through its promise.
          expect((await single.query(text, ['a'])).rows).toEqual([{ id: 'a', n: '7' }]);
          const client = await connect();
          expect(await namedFor(client, text)).toEqual([]);
          for (let i = 0; i < 8; i += 1)
            expect((await client.query(text, [i % 2 ? 'a' : 'b'])).rows).toHaveLength(1);
          const named = await namedFor(client, text);
          expect(named).toHaveLength(1);
          expect(named[0]!.name).toBe(
            `ecomq_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`,
          );
          expect(Number(named[0]!.generic_plans)).toBeGreaterThan(0);
          // Without values a text goes as a simple query, unnamed (it may hold several).
          await client.query('SELECT 1 AS plain');
          await client.query('SELECT 1 AS plain');
          expect(await namedFor(client, 'SELECT 1 AS plain')).toEqual([]);
        });
      });

      it("are sent again when a table's columns changed under SELECT * or they were deallocated; in a transaction the error stands", async () => {
        const client = await pool.connect();
        try {
          await client.query('CREATE TABLE shifting (id int PRIMARY KEY, a text)');
          await client.query("INSERT INTO shifting VALUES (1, 'one')");
          const text = 'SELECT * FROM shifting WHERE id = $1';
          await client.query(text, [1]);
          expect((await client.query(text, [1])).rows).toEqual([{ id: 1, a: 'one' }]);
          expect(await namedFor(client, text)).toHaveLength(1);
          await client.query('ALTER TABLE shifting ADD COLUMN b int');
          expect((await client.query(text, [1])).rows).toEqual([{ id: 1, a: 'one', b: null }]);
          await client.query('DEALLOCATE ALL');
          expect((await client.query(text, [1])).rows).toEqual([{ id: 1, a: 'one', b: null }]);
          await client.query('BEGIN');
          await client.query('ALTER TABLE shifting ADD COLUMN c int');
          await expect(client.query(text, [1])).rejects.toMatchObject({
            code: '0A000',
            message: 'cached plan must not change result type',
          });
          await client.query('ROLLBACK');
          expect((await client.query(text, [1])).rows).toEqual([{ id: 1, a: 'one', b: null }]);
        } finally {
          await client.query('DROP TABLE IF EXISTS shifting');
          client.release();
        }
      });

      it('a failing statement keeps its own error, and the next one runs', async () => {
        const client = await pool.connect();
        try {
          const text = 'SELECT n / $1::int AS q FROM things WHERE id = $2';
          for (let i = 0; i < 2; i += 1) await client.query(text, [7, 'a']);
          await expect(client.query(text, [0, 'a'])).rejects.toMatchObject({ code: '22012' });
          expect((await client.query(text, [7, 'a'])).rows).toEqual([{ q: '1' }]);
        } finally {
          client.release();
        }
      });

      it('a value pg cannot send (it closes the statement it parsed) leaves the text a new name, usable in a transaction', async () => {
        await onOwnPool({}, async (_, connect) => {
          const client = await connect();
          const text = 'SELECT $1::jsonb AS doc';
          await client.query(text, [{ ok: 1 }]);
          await expect(client.query(text, [{ big: 1n }])).rejects.toThrow(/BigInt/);
          await client.query('BEGIN');
          try {
            expect((await client.query(text, [{ ok: 2 }])).rows).toEqual([{ doc: { ok: 2 } }]);
          } finally {
            await client.query('ROLLBACK');
          }
        });
      });

      it('are not named by a pool made with preparedStatements: false', async () => {
        await onOwnPool({ preparedStatements: false }, async (_, connect) => {
          const client = await connect();
          const text = 'SELECT note FROM things WHERE id = $1';
          for (let i = 0; i < 3; i += 1) await client.query(text, ['a']);
          expect(await namedFor(client, text)).toEqual([]);
        });
      });
    });

    it('prepares a bounded number of texts; past it the caller writes them out', async () => {
      const client = await pool.connect();
      try {
        const prepared = new PreparedQuery(client);
        const texts = Array.from({ length: 300 }, (_, i) =>
          prepared.sql({ text: `SELECT ${i} + $1::int AS n`, values: [1] }),
        );
        expect(texts.filter((t) => t === null).length).toBeGreaterThan(0);
        expect(texts.filter((t) => t !== null).length).toBeLessThanOrEqual(256);
        // Those it did prepare still run.
        const sent = texts.filter((t): t is string => t !== null).slice(0, 3);
        const results = await prepared.sent(client.query(prepared.query(sent)));
        expect(results.map((r) => r.rows[0].n)).toEqual([1, 2, 3]);
      } finally {
        client.release();
      }
    });

    // Last: it fills the process's bound on names given to statements sent alone.
    it('names a bounded number of texts sent alone; past it they go unnamed, and still answer', async () => {
      const client = await pool.connect();
      try {
        const texts = Array.from({ length: 300 }, (_, i) => `SELECT ${i} + $1::int AS n`);
        for (const text of texts) {
          await client.query(text, [1]);
          expect((await client.query(text, [1])).rows).toHaveLength(1);
        }
        const { rows } = await client.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'ecomq\\_%'",
        );
        // Earlier tests named a few texts of their own in this process.
        expect(rows[0]!.n).toBeGreaterThan(240);
        expect(rows[0]!.n).toBeLessThanOrEqual(256);
        expect((await client.query(texts[299]!, [41])).rows).toEqual([{ n: 340 }]);
      } finally {
        client.release();
      }
    });
  },
);
