/**
 * Conformance: MongoDB's unified test format run against the stand-in through the official
 * driver. Every file under `unified/crud/` gets a fresh stand-in; every unified test is one jest
 * test. Tests whose runOnRequirements the stand-in (MongoDB 7.0, standalone or a one-member
 * replica set) does not meet are registered as skipped and counted as "not applicable". A
 * summary per file is printed at the end. See `unified/README.md`.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { startMongoStandIn } from '@ecom/infrastructure/mongo';
import { fromExtendedJson, loadUnifiedFile, type UnifiedFile } from './unified/format';
import { assertMatches, assertMatchesIterable } from './unified/match';
import {
  STAND_IN_REPLICA_SET,
  STAND_IN_VERSION,
  UnifiedFileRunner,
  planFile,
  planTest,
} from './unified/runner';

type Status = 'passed' | 'failed' | 'known difference' | 'not applicable' | 'skipped';

interface Row {
  file: string;
  test: string;
  status: Status;
  reason?: string;
}

const CASES = path.join(__dirname, 'unified', 'crud');

/**
 * Where the stand-in still answers differently, written down (infrastructure/README.md lists the
 * same): each case here must still fail, so the list stays in step — a case that starts to
 * pass fails its test until it is taken off the list and the README.
 */
const KNOWN_DIFFERENCES: Record<string, string> = {
  'decimal128.yml :: $inc of a long by an int keeps a long':
    'int32, int64 and double are one JavaScript number in the engine: a long is stored as a double',
  'indexes.yml :: a text index is listed with its weights and language settings':
    'a text index is listed with the keys it was created with, not as {_fts, _ftsx} with weights and language settings',
  'text-search.yml :: terms are stemmed (english)': 'text search does not stem',
  'text-search.yml :: stop words are ignored': 'text search keeps stop words',
  'text-search.yml :: matching is diacritic insensitive': 'text search is diacritic sensitive',
};
const knownDifference = (file: string, test: string) => KNOWN_DIFFERENCES[`${file} :: ${test}`];
const files = readdirSync(CASES)
  .filter((name) => /\.(ya?ml|json)$/i.test(name))
  .sort();
const rows: Row[] = [];

function firstLine(message: string): string {
  return message.split('\n')[0]!;
}

describe('the stand-in reports what runOnRequirements are evaluated against', () => {
  it(`MongoDB ${STAND_IN_VERSION.join('.')}, standalone and as replica set ${STAND_IN_REPLICA_SET}`, async () => {
    const single = await startMongoStandIn();
    const rs = await startMongoStandIn({ replicaSet: STAND_IN_REPLICA_SET });
    const a = new MongoClient(`${single.url}/?directConnection=true`);
    const b = new MongoClient(`${rs.url}/?replicaSet=${STAND_IN_REPLICA_SET}`);
    try {
      const build = await a.db('admin').command({ buildInfo: 1 });
      expect((build.versionArray as number[]).slice(0, 3)).toEqual(STAND_IN_VERSION);
      expect((await a.db('admin').command({ hello: 1 })).setName).toBeUndefined();
      expect((await b.db('admin').command({ hello: 1 })).setName).toBe(STAND_IN_REPLICA_SET);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await Promise.all([single.stop(), rs.stop()]);
    }
  });
});

describe('the runner itself (not counted in the conformance summary)', () => {
  const entities = (name: string) => (name === 'saved' ? 5 : undefined);
  const ok = (expected: unknown, actual: unknown, root = true) =>
    assertMatches(fromExtendedJson(expected), actual, { root, entities });
  const bad = (expected: unknown, actual: unknown, root = true) =>
    expect(() => ok(expected, actual, root)).toThrow();

  it('allows extra fields in root documents only, and needs equal array lengths', () => {
    ok({ a: 1 }, { a: 1, b: 2 });
    bad({ a: { x: 1 } }, { a: { x: 1, y: 2 } });
    bad({ a: 1 }, { a: 1, b: 2 }, false);
    bad({ a: [1, 2] }, { a: [1, 2, 3] });
    bad({ a: 1, b: 2 }, { a: 1 });
    assertMatchesIterable([{ a: 1 }], [{ a: 1, b: 2 }], { entities });
    expect(() => assertMatchesIterable([{ a: 1 }], [{ a: 1 }, { a: 2 }], { entities })).toThrow();
  });

  it('compares numbers flexibly, Decimal128 exactly, and types strictly when asked', () => {
    ok({ n: 1 }, { n: 1.0 });
    bad({ n: 1 }, { n: 1.5 });
    ok({ d: { $numberDecimal: '1.5' } }, fromExtendedJson({ d: { $numberDecimal: '1.5' } }));
    bad({ d: { $numberDecimal: '1.5' } }, { d: 1.5 });
    const strict = (expected: unknown, actual: unknown) =>
      assertMatches(fromExtendedJson(expected), fromExtendedJson(actual), {
        root: false,
        entities,
        strictNumbers: true,
      });
    expect(() => strict({ n: 2 }, { n: { $numberDouble: '2.0' } })).toThrow();
    expect(() => strict({ n: 2 }, { n: { $numberLong: '2' } })).toThrow();
    strict({ n: { $numberLong: '2' } }, { n: { $numberLong: '2' } });
  });

  it('implements $$exists, $$type, $$unsetOrMatches, $$matchesEntity and $$lte', () => {
    ok({ a: { $$exists: false } }, { b: 1 });
    bad({ a: { $$exists: false } }, { a: null });
    ok({ a: { $$exists: true } }, { a: null });
    ok({ a: { $$type: ['string', 'int'] } }, { a: 'x' });
    bad({ a: { $$type: 'string' } }, { a: 1 });
    bad({ a: { $$type: 'double' } }, { a: 'x' });
    ok({ $$unsetOrMatches: { a: 1 } }, undefined);
    ok({ a: { $$unsetOrMatches: 1 } }, {});
    bad({ a: { $$unsetOrMatches: 1 } }, { a: 2 });
    ok({ a: { $$matchesEntity: 'saved' } }, { a: 5 });
    bad({ a: { $$matchesEntity: 'saved' } }, { a: 6 });
    ok({ a: { $$lte: 3 } }, { a: 3 });
    bad({ a: { $$lte: 3 } }, { a: 4 });
  });

  it('fails a unified test whose expectation the server does not meet', async () => {
    const runner = await UnifiedFileRunner.start('single');
    const file = fromExtendedJson({
      description: 'negative control',
      schemaVersion: '1.0',
      createEntities: [
        { client: { id: 'c', observeEvents: ['commandStartedEvent'] } },
        { database: { id: 'd', client: 'c', databaseName: 'control' } },
        { collection: { id: 'k', database: 'd', collectionName: 'k' } },
      ],
      initialData: [{ collectionName: 'k', databaseName: 'control', documents: [{ _id: 1 }] }],
      tests: [],
    }) as UnifiedFile;
    const find = { name: 'find', object: 'k', arguments: { filter: {} } };
    const run = (test: object) =>
      runner.runTest(file, { description: 't', operations: [], ...test });
    try {
      await run({ operations: [{ ...find, expectResult: [{ _id: 1 }] }] });
      await expect(run({ operations: [{ ...find, expectResult: [{ _id: 2 }] }] })).rejects.toThrow(
        /expected 2, got 1/,
      );
      await expect(
        run({ operations: [{ ...find, expectError: { isError: true } }] }),
      ).rejects.toThrow(/expected an error/);
      await expect(
        run({ operations: [find], expectEvents: [{ client: 'c', events: [] }] }),
      ).rejects.toThrow(/expected 0 event/);
      await expect(
        run({
          operations: [],
          outcome: [{ collectionName: 'k', databaseName: 'control', documents: [] }],
        }),
      ).rejects.toThrow(/expected 0 element/);
      await expect(
        run({ operations: [{ ...find, arguments: { filter: {}, bogus: 1 } }] }),
      ).rejects.toThrow(/unsupported argument 'bogus'/);
    } finally {
      await runner.stop();
    }
  });
});

for (const name of files) {
  describe(`unified/crud/${name}`, () => {
    let file: UnifiedFile;
    try {
      file = loadUnifiedFile(path.join(CASES, name));
    } catch (err) {
      const reason = `cannot load: ${(err as Error).message}`;
      rows.push({ file: name, test: '(file)', status: 'failed', reason });
      it('loads', () => {
        throw err;
      });
      return;
    }
    const plan = planFile(file);
    if (plan.status !== 'run') {
      for (const test of file.tests) {
        if (plan.status === 'invalid') {
          rows.push({ file: name, test: test.description, status: 'failed', reason: plan.reason });
          it(test.description, () => {
            throw new Error(plan.reason);
          });
        } else {
          // Counted in the summary, not registered: no test is skipped.
          rows.push({
            file: name,
            test: test.description,
            status: 'not applicable',
            reason: plan.reason,
          });
        }
      }
      return;
    }

    let runner: UnifiedFileRunner | undefined;
    let startError: unknown;
    beforeAll(async () => {
      try {
        runner = await UnifiedFileRunner.start(plan.topology);
      } catch (err) {
        startError = err;
      }
    });
    afterAll(async () => {
      await runner?.stop();
    });

    for (const test of file.tests) {
      let testPlan: ReturnType<typeof planTest>;
      try {
        testPlan = planTest(test, plan.server);
      } catch (err) {
        const reason = (err as Error).message;
        rows.push({ file: name, test: test.description, status: 'failed', reason });
        it(test.description, () => {
          throw err;
        });
        continue;
      }
      if (testPlan.status !== 'run') {
        // Counted in the summary, not registered: no test is skipped.
        rows.push({
          file: name,
          test: test.description,
          status: testPlan.status,
          reason: testPlan.reason,
        });
        continue;
      }
      const difference = knownDifference(name, test.description);
      if (difference) {
        it(`${test.description} (known difference: ${difference})`, async () => {
          if (!runner) throw new Error(`stand-in did not start: ${String(startError)}`);
          let conforms = false;
          try {
            await runner.runTest(file, test);
            conforms = true;
          } catch (err) {
            const reason = err instanceof Error ? err.message : String(err);
            rows.push({ file: name, test: test.description, status: 'known difference', reason });
          }
          if (conforms)
            throw new Error(
              'the stand-in now conforms: take it off KNOWN_DIFFERENCES and the README',
            );
        });
        continue;
      }
      it(test.description, async () => {
        try {
          if (!runner) throw new Error(`stand-in did not start: ${String(startError)}`);
          await runner.runTest(file, test);
          rows.push({ file: name, test: test.description, status: 'passed' });
        } catch (err) {
          const reason = err instanceof Error ? err.message : String(err);
          rows.push({ file: name, test: test.description, status: 'failed', reason });
          throw err;
        }
      });
    }
  });
}

afterAll(() => {
  const statuses: Status[] = ['passed', 'failed', 'known difference', 'not applicable'];
  const count = (list: Row[], status: Status) => list.filter((r) => r.status === status).length;
  const lines = ['Unified test format conformance (infrastructure/test/unified/crud):'];
  for (const name of files) {
    const mine = rows.filter((r) => r.file === name);
    const counts = statuses.map((s) => `${count(mine, s)} ${s}`).join(', ');
    lines.push(`  ${name.padEnd(34)} ${counts}`);
  }
  lines.push(`  ${'total'.padEnd(34)} ${statuses.map((s) => `${count(rows, s)} ${s}`).join(', ')}`);
  const notable = rows.filter((r) => r.status !== 'passed');
  if (notable.length > 0) lines.push('', 'Not passed:');
  for (const r of notable) {
    lines.push(`  [${r.status}] ${r.file} :: ${r.test}`, `      ${firstLine(r.reason ?? '')}`);
  }
  console.log(lines.join('\n'));
});
