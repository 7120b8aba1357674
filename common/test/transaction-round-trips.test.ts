import { Client, escapeLiteral as pgEscapeLiteral, type Pool } from 'pg';
import { createEvent } from '../src/bus';
import {
  createPgPool,
  handleEventOnce,
  processedEventsMigration,
  runMigrations,
  statementsSent,
  withTransaction,
  writeAtCommit,
} from '../src/postgres';
import { inlineParameters, quoteLiteral } from '../src/postgres/inline';
import { createTestPostgres, describeIfServer, type TestPostgres } from '@ecom/test-support';

describe('inlineParameters', () => {
  it('writes the values in as escaped literals, NULL for null and undefined', () => {
    expect(
      inlineParameters(
        'SELECT $1, $2, $3, $10',
        [...'abcdefghij'].map((c, i) => (i === 1 ? null : i === 2 ? undefined : c)),
      ),
    ).toBe("SELECT 'a', NULL, NULL, 'j'");
    expect(inlineParameters('SELECT $1', ["it's"])).toBe("SELECT 'it''s'");
    // pg's escapeLiteral: an E'' string where there are backslashes.
    expect(inlineParameters('SELECT $1', ['a\\b'])).toBe("SELECT  E'a\\\\b'");
  });

  it('leaves $n alone in string constants, quoted identifiers, comments, dollar quotes and names', () => {
    const text = [
      "SELECT '$1', E'\\'$1', \"col$1\", $$ $1 $$, $tag$ $1 $tag$, x$1, $1",
      '-- $1 in a comment',
      '/* $1 /* nested $1 */ still $1 */ $2',
    ].join('\n');
    expect(inlineParameters(text, ['v1', 'v2'])).toBe(
      [
        "SELECT '$1', E'\\'$1', \"col$1\", $$ $1 $$, $tag$ $1 $tag$, x$1, 'v1'",
        '-- $1 in a comment',
        "/* $1 /* nested $1 */ still $1 */ 'v2'",
      ].join('\n'),
    );
  });

  it('gives up (null) on a value with no text form or a parameter without a value', () => {
    expect(inlineParameters('SELECT $1', [Buffer.from('x')])).toBeNull();
    expect(inlineParameters('SELECT $1, $2', ['only one'])).toBeNull();
    // Even in a text with no parameter to take it: the value cannot be sent as pg sends it.
    expect(inlineParameters('SELECT 1', [Buffer.from('x')])).toBeNull();
  });

  it('writes a value in wherever the parameter is code, and copies everything else as it is', () => {
    // Pieces of SQL, each with what it becomes: code (among it the characters that may open
    // something), parameters, and constants, identifiers and comments holding one.
    const pieces: Array<[string, string]> = [
      ['x', 'x'],
      ['E', 'E'],
      ['1', '1'],
      [' ', ' '],
      ['\n', '\n'],
      ['- ', '- '],
      ['/ ', '/ '],
      ['* ', '* '],
      ['x$1', 'x$1'],
      [' $1 ', " 'v' "],
      [' $2 ', ' NULL '],
      [' $10 ', " 'ten' "],
      ["'a $1 b'", "'a $1 b'"],
      ["'it''s $1'", "'it''s $1'"],
      [" E'\\' $1'", " E'\\' $1'"],
      ['" $1"', '" $1"'],
      ['"c$1"', '"c$1"'],
      ['"a"" $1"', '"a"" $1"'],
      ['-- $1\n', '-- $1\n'],
      ['/* $1 /* $1 */ */', '/* $1 /* $1 */ */'],
      [' $$ $1 $$', ' $$ $1 $$'],
      [' $t$ $1 $t$', ' $t$ $1 $t$'],
    ];
    // What may end a text, left open: the rest is inside it.
    const endings = ['', " '$1", " E'\\' $1", ' " $1', ' -- $1', ' /* $1 */ /* $1', ' $t$ $1 $t'];
    const values = ['v', null, ...Array.from({ length: 7 }, (_, i) => `p${i + 3}`), 'ten'];
    let seed = 7;
    const next = () => (seed = (seed * 48271) % 2147483647);
    for (let n = 0; n < 3000; n += 1) {
      let text = '';
      let expected = '';
      for (let k = next() % 30; k > 0; k -= 1) {
        const [piece, becomes] = pieces[next() % pieces.length]!;
        text += piece;
        expected += becomes;
      }
      const ending = endings[next() % endings.length]!;
      expect(inlineParameters(text + ending, values)).toBe(expected + ending);
    }
  });

  it("quotes a value as pg's escapeLiteral does, for every string", () => {
    const alphabet = [
      "'",
      '\\',
      '"',
      'E',
      'e',
      ' ',
      'a',
      '$',
      '\n',
      '\u0000',
      'ü',
      '✓',
      '🚀',
      '\ud800',
    ];
    let seed = 11;
    const next = () => (seed = (seed * 48271) % 2147483647);
    const samples = ['', "'", '\\', "'\\'", "it's", 'a\\b', '{"k":"it\'s \\"q\\""}'];
    for (let n = 0; n < 5000; n += 1) {
      let s = '';
      for (let k = next() % 30; k > 0; k -= 1) s += alphabet[next() % alphabet.length];
      samples.push(s);
    }
    for (const s of samples) expect(quoteLiteral(s)).toBe(pgEscapeLiteral(s));
  });
});

describeIfServer('postgres', 'transactions in fewer round trips (PostgreSQL)', () => {
  let db: TestPostgres;
  let pool: Pool;
  /** Statements written out with their values as literals, never prepared (PGlite's way). */
  let plain: Pool;

  beforeAll(async () => {
    db = await createTestPostgres('common_tx_round_trips');
    pool = createPgPool(db.url, 4);
    plain = createPgPool(db.url, 2, undefined, { preparedStatements: false });
    await runMigrations(pool, [processedEventsMigration]);
    await pool.query(
      'CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL, tags text[], data jsonb, at timestamptz, n bigint)',
    );
  });
  afterAll(async () => {
    await pool.end();
    await plain.end();
    await db.cleanup();
  });

  /** The texts sent to the server while `run` runs (every client's query), as they were sent. */
  async function sentDuring<T>(run: () => Promise<T>): Promise<{ result: T; sent: string[] }> {
    const query = jest.spyOn(Client.prototype, 'query');
    try {
      const result = await run();
      // As sent: EXECUTE and PREPARE as they are (queryText would show the statements).
      const sent = query.mock.calls.map(([text]) =>
        typeof text === 'string' ? text : String((text as { text?: unknown }).text),
      );
      return { result, sent };
    } finally {
      query.mockRestore();
    }
  }

  it('reads back every value written in as a literal as it reads back the parameter', async () => {
    const values: unknown[] = [
      "quotes ' and '' and \\ backslash, $1 and -- dashes",
      'ünïcödé ✓ 🚀',
      null,
      42,
      -1.5,
      '9007199254740993',
      true,
      new Date('2026-01-02T03:04:05.678Z'),
      ['a', 'b,c', 'd"e', "f'g", null],
      { nested: { quote: "it's", list: [1, 'two'] } },
      '5a5a5a5a-0000-4000-8000-000000000000',
    ];
    const text = `SELECT $1::text AS a, $2::text AS b, $3::int AS c, $4::int AS d, $5::float8 AS e,
      $6::bigint AS f, $7::boolean AS g, $8::timestamptz AS h, $9::text[] AS i, $10::jsonb AS j,
      $11::uuid AS k, 5 * interval '1 ms' * $4 AS l`;
    const parameterised = await pool.query(text, values);
    const inlined = await pool.query(inlineParameters(text, values)!);
    expect(inlined.rows).toEqual(parameterised.rows);
    expect(inlined.rows[0].a).toBe(values[0]);
  });

  /** A statement in a simple query: written out (starting with `start`), or as EXECUTE. */
  const inQuery = (start: string) =>
    `(?:${start}[^;]*|EXECUTE "ecom_[0-9a-f]{24}(?:_\\d+)?"\\([^;]*\\))`;
  /** The PREPAREs at the head of a query, the first time its statements go on a connection. */
  const prepares = `(?:PREPARE "ecom_[0-9a-f]{24}(?:_\\d+)?" AS [^;]*;\\s*)*`;

  it('sends BEGIN with the first statement, its values written in, and the COMMIT with queued writes', async () => {
    const { result, sent } = await sentDuring(() =>
      withTransaction(plain, async (client) => {
        const { rows } = await client.query<{ id: number }>(
          'INSERT INTO notes (body, tags) VALUES ($1, $2) RETURNING id',
          ["first's", ['x', 'y']],
        );
        await client.query('UPDATE notes SET n = $2 WHERE id = $1', [rows[0]!.id, 7]);
        await writeAtCommit(
          client,
          `UPDATE notes SET data = '{"done":true}' WHERE id = ${rows[0]!.id}`,
        );
        return rows[0]!.id;
      }),
    );
    expect(sent).toHaveLength(3);
    expect(sent[0]).toMatch(
      /^BEGIN;\s*INSERT INTO notes \(body, tags\) VALUES \('first''s', '\{"x","y"\}'\)/,
    );
    expect(sent[1]).toBe('UPDATE notes SET n = $2 WHERE id = $1');
    expect(sent[2]).toMatch(/UPDATE notes SET data .*;\s*COMMIT$/s);
    const { rows } = await pool.query('SELECT body, tags, data, n FROM notes WHERE id = $1', [
      result,
    ]);
    expect(rows).toEqual([{ body: "first's", tags: ['x', 'y'], data: { done: true }, n: '7' }]);
  });

  it('queues a statement with values for the COMMIT with its values written in, and sends one it cannot write in at once, after the queue', async () => {
    const { result, sent } = await sentDuring(() =>
      withTransaction(plain, async (client) => {
        await writeAtCommit(client, {
          text: 'INSERT INTO notes (body, data) VALUES ($1, $2)',
          values: ["queued's $1", { at: 'commit' }],
        });
        // A Buffer has no text form for a literal: the statement goes now, with its parameters,
        // after what was queued before it.
        await writeAtCommit(client, {
          text: "INSERT INTO notes (body) VALUES (encode($1::bytea, 'escape'))",
          values: [Buffer.from('binary now')],
        });
        return 'done';
      }),
    );
    expect(result).toBe('done');
    // The queued write goes first (with BEGIN), then the binary one, then the COMMIT.
    expect(sent).toHaveLength(3);
    expect(sent[0]).toMatch(
      /^BEGIN;\s*INSERT INTO notes \(body, data\) VALUES \('queued''s \$1', '\{"at":"commit"\}'\)$/,
    );
    expect(sent.slice(1)).toEqual([
      "INSERT INTO notes (body) VALUES (encode($1::bytea, 'escape'))",
      'COMMIT',
    ]);
    const { rows } = await pool.query(
      "SELECT body, data FROM notes WHERE body IN ('queued''s $1', 'binary now') ORDER BY id",
    );
    expect(rows).toEqual([
      { body: "queued's $1", data: { at: 'commit' } },
      { body: 'binary now', data: null },
    ]);
  });

  it('with prepared statements, sends the first statement and the writes queued for the COMMIT as EXECUTE, their PREPARE at the head of the query the first time on the connection', async () => {
    const single = createPgPool(db.url, 1);
    try {
      const run = () =>
        sentDuring(() =>
          withTransaction(single, async (client) => {
            const { rows } = await client.query<{ id: number }>(
              'INSERT INTO notes (body, tags) VALUES ($1, $2) RETURNING id',
              ["prepared's", ['p']],
            );
            await writeAtCommit(client, {
              text: 'UPDATE notes SET n = $2 WHERE id = $1',
              values: [rows[0]!.id, 8],
            });
            return rows[0]!.id;
          }),
        );
      const first = await run();
      expect(first.sent).toHaveLength(2);
      expect(first.sent[0]).toMatch(
        /^PREPARE "(ecom_[0-9a-f]{24})" AS INSERT INTO notes \(body, tags\) VALUES \(\$1, \$2\) RETURNING id;\nBEGIN;\nEXECUTE "\1"\('prepared''s', '\{"p"\}'\)$/,
      );
      expect(first.sent[1]).toMatch(
        /^PREPARE "(ecom_[0-9a-f]{24})" AS UPDATE notes SET n = \$2 WHERE id = \$1;\nEXECUTE "\1"\('\d+', '8'\);\nCOMMIT$/,
      );
      // The PREPAREs' answers are left out: the INSERT's rows reached the transaction.
      const second = await run();
      expect(second.sent).toHaveLength(2);
      expect(second.sent[0]).toMatch(
        /^BEGIN;\nEXECUTE "ecom_[0-9a-f]{24}"\('prepared''s', '\{"p"\}'\)$/,
      );
      expect(second.sent[1]).toMatch(/^EXECUTE "ecom_[0-9a-f]{24}"\('\d+', '8'\);\nCOMMIT$/);
      const { rows } = await pool.query(
        'SELECT body, tags, n FROM notes WHERE id = ANY($1) ORDER BY id',
        [[first.result, second.result]],
      );
      expect(rows).toEqual([
        { body: "prepared's", tags: ['p'], n: '8' },
        { body: "prepared's", tags: ['p'], n: '8' },
      ]);
    } finally {
      await single.end();
    }
  });

  it('starts a transaction again whose prepared statements were deallocated under it, before anything of it is kept', async () => {
    const single = createPgPool(db.url, 1);
    try {
      const first = (client: import('pg').PoolClient) =>
        client.query('INSERT INTO notes (body) VALUES ($1)', ['dropped under it']);
      const atCommit = (client: import('pg').PoolClient) =>
        writeAtCommit(client, { text: 'INSERT INTO notes (body) VALUES ($1)', values: ['queued'] });
      await withTransaction(single, first);
      await withTransaction(single, atCommit);
      await single.query('DEALLOCATE ALL');
      // Its first statement goes with BEGIN; the whole transaction is in the COMMIT's query.
      const again = await sentDuring(() => withTransaction(single, first));
      expect(again.sent.filter((t) => t === 'ROLLBACK')).toHaveLength(1);
      await single.query('DEALLOCATE ALL');
      const whole = await sentDuring(() => withTransaction(single, atCommit));
      expect(whole.sent.filter((t) => t === 'ROLLBACK')).toHaveLength(1);
      const { rows } = await single.query(
        "SELECT body, count(*)::int AS n FROM notes WHERE body IN ('dropped under it', 'queued') GROUP BY body ORDER BY body",
      );
      expect(rows).toEqual([
        { body: 'dropped under it', n: 2 },
        { body: 'queued', n: 2 },
      ]);
    } finally {
      await single.end();
    }
  });

  it('commits a queued write with its values as they were when it was queued', async () => {
    const data = { state: 'queued' };
    await withTransaction(pool, async (client) => {
      await writeAtCommit(client, {
        text: 'INSERT INTO notes (body, data) VALUES ($1, $2)',
        values: ['fixed when queued', data],
      });
      data.state = 'changed after';
    });
    const { rows } = await pool.query('SELECT data FROM notes WHERE body = $1', [
      'fixed when queued',
    ]);
    expect(rows).toEqual([{ data: { state: 'queued' } }]);
  });

  it('rolls back everything, BEGIN included, when the first statement fails', async () => {
    const before = Number((await pool.query('SELECT count(*) FROM notes')).rows[0].count);
    await expect(
      withTransaction(pool, async (client) => {
        await client.query('INSERT INTO notes (body) VALUES ($1)', [null]);
      }),
    ).rejects.toThrow(/null value/);
    // The connection went back usable, outside any transaction.
    const { rows } = await pool.query('SELECT count(*) FROM notes');
    expect(Number(rows[0].count)).toBe(before);
  });

  it('rolls back a transaction of queued writes alone whose write fails, and the connection goes back clean', async () => {
    const single = createPgPool(db.url, 1);
    try {
      const { sent } = await sentDuring(() =>
        withTransaction(single, async (client) => {
          await writeAtCommit(client, 'INSERT INTO notes (body) VALUES (NULL)');
        }).catch((err: Error) => err.message),
      );
      // One round trip for BEGIN, the write and the COMMIT; then the ROLLBACK.
      expect(sent).toEqual(['BEGIN;\nINSERT INTO notes (body) VALUES (NULL);\nCOMMIT', 'ROLLBACK']);
      expect((await single.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    } finally {
      await single.end();
    }
  });

  it('sends BEGIN alone first when the first statement cannot carry it, and nothing for an empty transaction', async () => {
    const { sent } = await sentDuring(() =>
      withTransaction(pool, async (client) => {
        await client.query({ text: 'SELECT $1::int AS one', values: [1], rowMode: 'array' });
      }),
    );
    expect(sent[0]).toBe('BEGIN');
    expect(sent).toHaveLength(3);
    const empty = await sentDuring(() => withTransaction(pool, async () => 'nothing'));
    expect(empty).toEqual({ result: 'nothing', sent: [] });
  });

  it("counts the statements sent on a transaction's client, the first (with BEGIN) included and writes queued for the COMMIT not", async () => {
    const counts = await withTransaction(pool, async (client) => {
      const seen = [statementsSent(client)];
      await client.query('INSERT INTO notes (body) VALUES ($1)', ['counted']);
      seen.push(statementsSent(client));
      await writeAtCommit(client, "INSERT INTO notes (body) VALUES ('at commit')");
      seen.push(statementsSent(client));
      await client.query({ text: 'SELECT 1', rowMode: 'array' });
      await client.query('SELECT 2');
      seen.push(statementsSent(client));
      return seen;
    });
    expect(counts).toEqual([0, 1, 1, 3]);
    // Outside a transaction there is nothing to count.
    const client = await pool.connect();
    try {
      expect(statementsSent(client)).toBeUndefined();
    } finally {
      client.release();
    }
  });

  it('redeliveries of a handled event leave one prepared key statement on a connection, not one each', async () => {
    const single = createPgPool(db.url, 1);
    try {
      const again = createEvent('test', 'user.deleted', { userId: 'u-10' });
      const handler = (client: import('pg').PoolClient) =>
        writeAtCommit(client, {
          text: 'INSERT INTO notes (body) VALUES ($1)',
          values: [`redelivered ${again.eventId}`],
        });
      expect(await handleEventOnce(pool, 'tester', again, handler)).toBe('handled');
      // A connection that has not yet run the key's statement: each duplicate fails on it.
      for (let i = 0; i < 5; i += 1)
        expect(await handleEventOnce(single, 'tester', again, handler)).toBe('duplicate');
      // The key's statement and the note's, each prepared once (the first duplicate's query
      // failed past its PREPAREs), none under a new name.
      const { rows } = await single.query<{ name: string }>(
        'SELECT name FROM pg_prepared_statements',
      );
      expect(rows).toHaveLength(2);
      expect(rows.every((r) => /^ecom_[0-9a-f]{24}$/.test(r.name))).toBe(true);
    } finally {
      await single.end();
    }
  });

  describe.each([
    ['prepared', () => pool],
    ['written out', () => plain],
  ])('handleEventOnce (statements %s)', (way, poolOf) => {
    const prepared = way === 'prepared';
    // The suite's pool, or the one writing statements out: the same rules either way.
    let pool: Pool;
    beforeAll(() => {
      pool = poolOf();
    });
    const event = createEvent('test', 'user.deleted', { userId: 'u-1' });

    it('sends the processed key with BEGIN and the handler first statement; a duplicate never sees its answer', async () => {
      let answered = 0;
      const handler = async (client: import('pg').PoolClient) => {
        await client.query('INSERT INTO notes (body) VALUES ($1)', [`once ${event.eventId}`]);
        answered += 1;
      };
      const first = await sentDuring(() => handleEventOnce(pool, 'tester', event, handler));
      expect(first.result).toBe('handled');
      expect(first.sent).toHaveLength(2);
      // The key and the first statement go as EXECUTE where statements are prepared.
      expect(first.sent[0]!.match(/EXECUTE "ecom_/g) ?? []).toHaveLength(prepared ? 2 : 0);
      expect(first.sent[0]).toMatch(
        new RegExp(
          `^${prepares}BEGIN;\\s*${inQuery('INSERT INTO processed_events')};\\s*${inQuery('INSERT INTO notes')}$`,
        ),
      );
      expect(await handleEventOnce(pool, 'tester', event, handler)).toBe('duplicate');
      // A handler that swallows the error commits nothing either.
      const swallowing = async (client: import('pg').PoolClient) => {
        await handler(client).catch(() => undefined);
        await client.query('INSERT INTO notes (body) VALUES ($1)', ['after the duplicate']);
      };
      expect(await handleEventOnce(pool, 'tester', event, swallowing)).toBe('duplicate');
      expect(answered).toBe(1);
      const { rows } = await pool.query(
        "SELECT body FROM notes WHERE body IN ($1, 'after the duplicate')",
        [`once ${event.eventId}`],
      );
      expect(rows).toEqual([{ body: `once ${event.eventId}` }]);
    });

    it('tells a duplicate whose first statement fails because the first delivery did it', async () => {
      await pool.query('CREATE TABLE IF NOT EXISTS seen (event_id text PRIMARY KEY)');
      const again = createEvent('test', 'user.deleted', { userId: 'u-3' });
      // A plain INSERT: on a redelivery it breaks the primary key before the key's answer is read.
      const handler = async (client: import('pg').PoolClient) => {
        await client.query('INSERT INTO seen (event_id) VALUES ($1)', [again.eventId]);
      };
      expect(await handleEventOnce(pool, 'tester', again, handler)).toBe('handled');
      expect(await handleEventOnce(pool, 'tester', again, handler)).toBe('duplicate');
      // Not a duplicate: the statement's own error comes back, and nothing is kept.
      const fresh = createEvent('test', 'user.deleted', { userId: 'u-4' });
      const failing = async (client: import('pg').PoolClient) => {
        await client.query('INSERT INTO seen (event_id) VALUES ($1)', [again.eventId]);
      };
      await expect(handleEventOnce(pool, 'tester', fresh, failing)).rejects.toThrow(
        /duplicate key/,
      );
      const { rows } = await pool.query('SELECT 1 FROM processed_events WHERE event_id = $1', [
        fresh.eventId,
      ]);
      expect(rows).toHaveLength(0);
    });

    it('sends a handler that only writes at the COMMIT in one round trip, the key failing in SQL for a duplicate', async () => {
      const once = createEvent('test', 'user.deleted', { userId: 'u-5' });
      const handler = (client: import('pg').PoolClient) =>
        writeAtCommit(client, `INSERT INTO notes (body) VALUES ('at commit ${once.eventId}')`);
      const first = await sentDuring(() => handleEventOnce(pool, 'tester', once, handler));
      expect(first.result).toBe('handled');
      expect(first.sent).toHaveLength(1);
      expect(first.sent[0]).toMatch(
        new RegExp(
          `^${prepares}BEGIN;\\s*${inQuery('INSERT INTO processed_events')};\\s*INSERT INTO notes [^;]*;\\s*COMMIT$`,
        ),
      );
      // The duplicate: the plain INSERT breaks the key, nothing after it runs, and the
      // transaction is rolled back.
      const again = await sentDuring(() => handleEventOnce(pool, 'tester', once, handler));
      expect(again.result).toBe('duplicate');
      expect(again.sent).toHaveLength(2);
      expect(again.sent[1]).toBe('ROLLBACK');
      // Two deliveries at once: the second's key waits for the first's, then fails.
      const twice = createEvent('test', 'user.deleted', { userId: 'u-6' });
      const slow = async (client: import('pg').PoolClient) => {
        await writeAtCommit(
          client,
          `INSERT INTO notes (body) VALUES ('at commit ${twice.eventId}')`,
        );
        await writeAtCommit(client, 'SELECT pg_sleep(0.2)');
      };
      const outcomes = await Promise.all([
        handleEventOnce(pool, 'tester', twice, slow),
        handleEventOnce(pool, 'tester', twice, slow),
      ]);
      expect(outcomes.sort()).toEqual(['duplicate', 'handled']);
      const { rows } = await pool.query(
        'SELECT body FROM notes WHERE body IN ($1, $2) ORDER BY id',
        [`at commit ${once.eventId}`, `at commit ${twice.eventId}`],
      );
      expect(rows).toEqual([
        { body: `at commit ${once.eventId}` },
        { body: `at commit ${twice.eventId}` },
      ]);
    });

    it("gives a write's own unique violation back as an error, not as a duplicate, and keeps no key", async () => {
      await pool.query('CREATE TABLE IF NOT EXISTS taken (name text PRIMARY KEY)');
      await pool.query("INSERT INTO taken (name) VALUES ('x') ON CONFLICT DO NOTHING");
      const fresh = createEvent('test', 'user.deleted', { userId: 'u-7' });
      const handler = (client: import('pg').PoolClient) =>
        writeAtCommit(client, "INSERT INTO taken (name) VALUES ('x')");
      await expect(handleEventOnce(pool, 'tester', fresh, handler)).rejects.toThrow(
        /duplicate key value violates unique constraint "taken_pkey"/,
      );
      const { rows } = await pool.query('SELECT 1 FROM processed_events WHERE event_id = $1', [
        fresh.eventId,
      ]);
      expect(rows).toHaveLength(0);
      // The connection went back clean: the next event is handled.
      expect(await handleEventOnce(pool, 'tester', fresh, async () => undefined)).toBe('handled');
    });

    it("a handler's write breaking another event's processed key is an error, not this event's duplicate", async () => {
      const other = createEvent('test', 'user.deleted', { userId: 'u-8' });
      expect(await handleEventOnce(pool, 'tester', other, async () => undefined)).toBe('handled');
      const fresh = createEvent('test', 'user.deleted', { userId: 'u-9' });
      const handler = (client: import('pg').PoolClient) =>
        writeAtCommit(client, {
          text: 'INSERT INTO processed_events (consumer, event_id, event_type) VALUES ($1, $2, $3)',
          values: ['tester', other.eventId, 'user.deleted'],
        });
      await expect(handleEventOnce(pool, 'tester', fresh, handler)).rejects.toThrow(
        /processed_events_pkey/,
      );
      const { rows } = await pool.query('SELECT 1 FROM processed_events WHERE event_id = $1', [
        fresh.eventId,
      ]);
      expect(rows).toHaveLength(0);
    });

    it('tells a duplicate whose handler sends nothing', async () => {
      const quiet = createEvent('test', 'user.deleted', { userId: 'u-2' });
      expect(await handleEventOnce(pool, 'tester', quiet, async () => undefined)).toBe('handled');
      expect(await handleEventOnce(pool, 'tester', quiet, async () => undefined)).toBe('duplicate');
    });
  });
});
