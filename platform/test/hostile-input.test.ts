import fs from 'node:fs';
import { recordKey } from '@ecom/common/anchoring';
import { gatewayApi, SERVICE_APIS } from '@ecom/gateway';
import { startPlatform, type Platform } from '../src/start';
import { embeddedEnv, platformPorts, tempDataDir } from './support';
import { HostileClient, inPool, type Answer, type HostileRequest } from './hostile/client';
import { ALL_CLASSES } from './hostile/classes';
import {
  docOperations,
  generate,
  isWrite,
  type DocOperation,
  type GenerationContext,
} from './hostile/openapi-cases';
import { describeFinding, judge, type Finding } from './hostile/oracle';
import { races } from './hostile/races';
import { LOCKOUT_REQUESTS, lockout, strictGateway } from './hostile/rate-limits';
import { call, diffSnapshots, settledSnapshot, type Change } from './hostile/snapshot';
import {
  buildSandbox,
  buildWorld,
  inSandbox,
  ownershipOf,
  worldIds,
  type Sandbox,
  type World,
} from './hostile/world';

/**
 * Issue 19, kept: hostile input through the gateway of a started platform, at least 2,000
 * requests (HOSTILE_REQUESTS=20000 for a larger run, HOSTILE_SEED for other draws;
 * HOSTILE_REPORT=<file> writes every finding there, the output shows the first few;
 * HOSTILE_LOG_LEVEL=warn lets the platform log). It fails
 * on any 5xx, any answer outside the common error shape, any 2xx to a request that had to fail,
 * and any write that should not have happened.
 *
 * 1. The hostile phase: requests generated with fast-check from the OpenAPI document the
 *    gateway serves (hostile/openapi-cases.ts), the hand-written classes (hostile/classes.ts)
 *    and the 429 class (hostile/rate-limits.ts). Every write in it is one that must fail: its
 *    reasons are computed from the platform's own schemas, access rules and records, and a
 *    write that could succeed is given one more flaw. The only 2xx writes are idempotent
 *    replays, which must not write either. So the check for unintended writes is the simplest
 *    sound one: what an admin reads (users, products and their stock, categories, orders,
 *    payments, every product's comments, the moderation queue, the anchor promises) is the
 *    same, record by record, before and after.
 * 2. The sandbox phase: writes drawn the same way but sent as drawn, by the sandbox's own
 *    accounts on the sandbox's own records, so that legitimate writes with hostile-but-valid
 *    values reach the handlers too. They may succeed; anything outside the sandbox must still
 *    be unchanged.
 */

const BASE = 21000;
const ports = platformPorts(BASE);
const gateway = `http://127.0.0.1:${BASE}`;
const TOTAL = Math.max(2000, Number(process.env.HOSTILE_REQUESTS ?? 2000));
const SEED = Number(process.env.HOSTILE_SEED ?? 20261202);
/** The sandbox phase's share of the requests. */
const SANDBOX = Math.round(TOTAL * 0.15);
/** The races of the sandbox phase: seven, six requests each. */
const RACES = 7 * 6;
const CONCURRENCY = 8;
const ADMIN = { email: 'hostile-root@suite.test', password: 'hostile root passphrase' };
/** Writes a sandbox account must not send: they would end its own sessions. */
const NOT_IN_SANDBOX = new Set(['auth.logoutAll', 'auth.changePassword']);

jest.setTimeout(Math.max(300_000, TOTAL * 100));

describe('hostile input through the gateway (issue 19)', () => {
  let platform: Platform;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = tempDataDir('hostile');
    platform = await startPlatform({
      env: embeddedEnv(dataDir, {
        // HOSTILE_LOG_LEVEL=warn shows what the platform logs about a finding (a 5xx's cause).
        ...(process.env.HOSTILE_LOG_LEVEL ? { LOG_LEVEL: process.env.HOSTILE_LOG_LEVEL } : {}),
        ADMIN_EMAIL: ADMIN.email,
        ADMIN_PASSWORD: ADMIN.password,
        // Budgets out of reach: the suite is about input, not rate limits (those have their
        // own class, on a gateway with tiny budgets).
        RATE_LIMIT_POINTS: '10000000',
        RATE_LIMIT_AUTH_POINTS: '10000000',
        RATE_LIMIT_PAYMENT_POINTS: '10000000',
      }),
      ports,
      print: () => undefined,
    });
  });

  afterAll(async () => {
    await platform?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it(`answers ${TOTAL} hostile requests: no 5xx, only the common error shape, no unintended write`, async () => {
    const started = Date.now();
    const world: World = await buildWorld(gateway, dataDir, ADMIN);
    const sandbox: Sandbox = await buildSandbox(gateway, world.rootAdmin.token);
    const before = await settledSnapshot(gateway, world.rootAdmin.token);

    const doc = await call<{ paths: Record<string, Record<string, Record<string, unknown>>> }>(
      gateway,
      'GET',
      '/docs/openapi.json',
    );
    expect(doc.status).toBe(200);
    const operations = docOperations(doc.body, [gatewayApi, ...SERVICE_APIS]);
    const slugs = before.categories.map((c) => String(c.slug));

    const findings: Finding[] = [];
    const statuses = new Map<number, number>();
    let slowest = { ms: 0, label: '' };
    const record = (request: HostileRequest, answer: Answer) => {
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      if (answer.ms > slowest.ms)
        slowest = {
          ms: answer.ms,
          label: `${request.label}: ${request.method} ${request.target.slice(0, 80)}`,
        };
      findings.push(...judge(request, answer));
    };
    const unintended = (changes: Change[]) => {
      for (const c of changes) {
        findings.push({
          kind: 'unintended-write',
          problem: `${c.key} ${c.change}: ${(c.before ?? '').slice(0, 400)} -> ${(c.after ?? '').slice(0, 400)}`,
        });
      }
      return changes.length;
    };

    // 1. The hostile phase.
    const hostile: GenerationContext = {
      own: ownershipOf(before, world.txHash),
      mine: worldIds(world),
      actors: [...Object.values(world.users), ...world.invalid],
      slugs,
      usedKey: world.idempotency.orderKey,
      adminId: world.users.admin2.id,
      forceFailure: true,
    };
    const handWritten = ALL_CLASSES.flatMap((make) => make(world));
    const SEQUENTIAL = LOCKOUT_REQUESTS + 20; // the 429 class: login throttling, four buckets of five
    const generated = generate(
      operations,
      hostile,
      Math.max(0, TOTAL - SANDBOX - RACES - handWritten.length - SEQUENTIAL),
      SEED,
    );
    const requests = [...generated, ...handWritten];
    const client = new HostileClient(gateway, CONCURRENCY);
    try {
      await inPool(requests, CONCURRENCY, async (r) => record(r, await client.send(r)));
      for (const s of await lockout(client, world)) record(s.request, s.answer);
    } finally {
      client.close();
    }
    for (const s of await strictGateway(platform, world, BASE + 60)) record(s.request, s.answer);

    // The setup's own check: an Idempotency-Key is its user's, never a way to another's order.
    const scope = world.idempotencyScope;
    if (scope.status !== 201 || scope.id === world.orders.paidA) {
      findings.push({
        kind: 'unintended-write',
        problem: `customer B sending customer A's Idempotency-Key was answered ${scope.status}, order ${scope.id}`,
      });
    }
    // Anything asynchronous a request set off has had time to land.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const afterHostile = await settledSnapshot(gateway, world.rootAdmin.token);
    const hostileWrites = unintended(diffSnapshots(before, afterHostile));

    // 2. The sandbox phase: legitimate writes allowed, on the sandbox's records only.
    const mine = inSandbox(sandbox, new Set());
    const sandboxCtx: GenerationContext = {
      own: ownershipOf(afterHostile, undefined, (kind, r) => kind === 'category' || mine(kind, r)),
      mine: {
        product: sandbox.products,
        comment: sandbox.comments,
        order: sandbox.orders,
        payment: sandbox.payments,
        user: Object.values(sandbox.users).map((u) => u.id),
      },
      actors: [...Object.values(sandbox.users), ...world.invalid.slice(0, 3)],
      slugs,
      usedKey: sandbox.usedKey,
      adminId: world.users.admin2.id,
      forceFailure: false,
    };
    // Admin-only writes are left out: no sandbox account may send them (the hostile phase does).
    const writeOps = operations.filter(
      (op: DocOperation) =>
        isWrite(op) &&
        !NOT_IN_SANDBOX.has(op.operationId) &&
        !(Array.isArray(op.spec.access) && op.spec.access.every((role) => role === 'admin')),
    );
    // Deletions and cancellations last: the other writes find their records first.
    const last = (r: HostileRequest) =>
      r.method === 'DELETE' ? 2 : r.target.includes('/cancel') ? 1 : 0;
    const sandboxRequests = generate(writeOps, sandboxCtx, SANDBOX, SEED + 1000)
      .map((r) => ({ ...r, label: `sandbox ${r.label}` }))
      .sort((a, b) => last(a) - last(b));
    const created = new Set<string>();
    const mayPass: string[] = [];
    let raceCount = 0;
    const sandboxClient = new HostileClient(gateway, CONCURRENCY);
    try {
      await inPool(sandboxRequests, CONCURRENCY, async (r) => {
        const answer = await sandboxClient.send(r);
        record(r, answer);
        if (!r.mustFail)
          mayPass.push(
            `${answer.status} ${r.label}: ${r.method} ${r.target} ${answer.body.toString('utf8').slice(0, 200)}`,
          );
        if (answer.status >= 200 && answer.status < 300) {
          for (const id of createdIds(answer)) created.add(id);
        }
      });
      // Races on the sandbox's records: what must take effect once, sent six times at once.
      const raced = await races(sandboxClient, gateway, sandbox, world.users.admin2.token);
      for (const s of raced.sent) record(s.request, s.answer);
      findings.push(...raced.findings);
      raceCount = raced.sent.length;
    } finally {
      sandboxClient.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const afterSandbox = await settledSnapshot(gateway, world.rootAdmin.token);
    // The sandbox seller's products made during the phase (and in the races) are its own too.
    const sellers = new Set(Object.values(sandbox.users).map((u) => u.id));
    for (const p of afterSandbox.products) if (sellers.has(String(p.sellerId))) created.add(p.id);
    const inside = inSandbox(sandbox, created);
    // The public promise log names a record by its key only: the key of each order and payment.
    const recordOfKey = new Map<string, string>();
    for (const key of afterSandbox.records.keys()) {
      const [kind, id] = key.split(':') as [string, string | undefined];
      if ((kind === 'order' || kind === 'payment') && id) {
        recordOfKey.set(recordKey(kind, id).toLowerCase(), key);
      }
    }
    const sandboxWrites = unintended(
      diffSnapshots(afterHostile, afterSandbox).filter((c) => {
        const [kind] = c.key.split(':') as [string];
        if (kind === 'count') return false; // the records themselves are compared
        const parse = (json?: string) =>
          json ? (JSON.parse(json) as Record<string, unknown>) : {};
        if (kind === 'promise') {
          // A signed promise is its order's or payment's: inside when that record is.
          const p = parse(c.after ?? c.before);
          const ownerKey = recordOfKey.get(String(p.recordKey).toLowerCase());
          const owner = parse(ownerKey ? afterSandbox.records.get(ownerKey) : undefined);
          return !inside(String(p.recordType), owner);
        }
        return (
          !inside(kind, parse(c.before ?? c.after)) && !inside(kind, parse(c.after ?? c.before))
        );
      }),
    );
    const accepted = sandboxRequests.filter((r) => !r.mustFail).length;

    const sent = requests.length + SEQUENTIAL + sandboxRequests.length + raceCount;
    const count = (kind: Finding['kind']) => findings.filter((f) => f.kind === kind).length;
    const writes = requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD');
    const failing = writes.filter((r) => r.mustFail).length;
    const others = [
      ...new Set(
        writes
          .filter((r) => !r.mustFail)
          .map((r) =>
            r.label.replace(/^(openapi \S+) .*$/, '$1 (writes nothing)').replace(/ #\d+$/, ''),
          ),
      ),
    ].join(', ');
    const summary =
      `hostile input (seed ${SEED}): requests sent ${sent}, ` +
      `5xx ${count('5xx')} (target 0), outside the common error shape ${count('shape')} (target 0), ` +
      `unintended writes ${hostileWrites + sandboxWrites} (target 0)\n` +
      `  hostile phase: ${generated.length} generated from ${operations.length} OpenAPI operations ` +
      `and ${handWritten.length + SEQUENTIAL} hand-written; ${writes.length} not GET or HEAD, ` +
      `${failing} of them had to fail (the others: ${others}); ` +
      `records changed ${hostileWrites}\n` +
      `  sandbox phase: ${sandboxRequests.length} writes on the sandbox's records ` +
      `(${accepted} that may succeed, ${created.size} records made) and ${raceCount} in races; ` +
      `records changed outside it ${sandboxWrites}\n` +
      `  2xx to requests that had to fail ${count('unexpected-success')}, ` +
      `no or unparsable answer ${count('no-answer')}, other failed expectations ${count('expectation')}\n` +
      `  statuses ${[...statuses.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([s, n]) => `${s}:${n}`)
        .join(' ')}; slowest answer ${slowest.ms} ms (${slowest.label}); ` +
      `${((Date.now() - started) / 1000).toFixed(1)} s`;
    const kinds = [
      '5xx',
      'shape',
      'no-answer',
      'unexpected-success',
      'unintended-write',
      'expectation',
    ] as const;
    const shown = kinds.flatMap((kind) => findings.filter((f) => f.kind === kind).slice(0, 6));
    if (process.env.HOSTILE_REPORT) {
      // Every finding; beside it, why each request had to fail (.reasons) and what became of
      // the sandbox's writes that could succeed (.sandbox).
      const reasons = new Map<string, number>();
      for (const r of [...requests, ...sandboxRequests]) {
        const key = `${r.label.split(' ').slice(0, 3).join(' ')}: ${(r.mustFail ?? ['(may succeed)']).join('; ')}`;
        reasons.set(key, (reasons.get(key) ?? 0) + 1);
      }
      fs.writeFileSync(`${process.env.HOSTILE_REPORT}.sandbox`, mayPass.sort().join('\n'));
      fs.writeFileSync(
        `${process.env.HOSTILE_REPORT}.reasons`,
        [...reasons.entries()]
          .sort()
          .map(([k, n]) => `${n}\t${k}`)
          .join('\n'),
      );
      fs.writeFileSync(
        process.env.HOSTILE_REPORT,
        [summary, ...findings.map(describeFinding)].join('\n\n'),
      );
    }
    console.log(
      [
        summary,
        ...(shown.length
          ? [
              'first findings (the request to send again, the answer):',
              ...shown.map(describeFinding),
            ]
          : []),
      ].join('\n'),
    );
    expect(sent).toBeGreaterThanOrEqual(2000);
    expect(shown.map(describeFinding)).toEqual([]);
  });
});

/** The ids a 2xx answer names: what it made (a user, an order, a payment, a comment...). */
function createdIds(answer: Answer): string[] {
  let body: unknown;
  try {
    body = JSON.parse(answer.body.toString('utf8'));
  } catch {
    return [];
  }
  const ids: string[] = [];
  const visit = (v: unknown, depth: number) => {
    if (depth > 3 || v === null || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    if (typeof o.id === 'string') ids.push(o.id.toLowerCase());
    for (const key of ['user', 'payment', 'refund', 'comment']) visit(o[key], depth + 1);
  };
  visit(body, 0);
  const location = answer.headers.location;
  if (typeof location === 'string') ids.push(location.split('/').pop()!.toLowerCase());
  return ids;
}
