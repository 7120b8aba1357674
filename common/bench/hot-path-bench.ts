/**
 * What the small steps every saga delivery and anchored write takes cost, one call at a time in
 * a loop: `npm run bench -w common` (after the PostgreSQL statements bench).
 *
 * - an event payload's check as the services run it (`checkPayload`: the predicate compiled from
 *   the schema, ADR 0050) against joi alone (`checkPayloadBySchema`), for a consumer (unknown
 *   keys pass) and a publisher (refused), on the saga's two largest payloads;
 * - an envelope's parse (`parseEnvelope`, ADR 0041), for scale;
 * - a leaf's salt (cut from a block of random bytes) against a draw of its own;
 * - a stored entry read back (`storedDocument`, remembered per text) against parsing and
 *   re-serialising it each time (`parseCanonical`);
 * - an anchored entry's values written in as literals for its INSERT (`literalsOf`, with the
 *   platform's quoteLiteral) against pg's escapeLiteral, which copies one character at a time.
 *
 * Per step: this process's CPU per call (process.cpuUsage), the median of five rounds after a
 * warm-up. Writes the "Hot-path steps" section of docs/benchmarks.md.
 */
import { randomBytes } from 'node:crypto';
import { escapeLiteral as pgEscapeLiteral } from 'pg';
import { loadAverage, measuredOn, writeBenchSection } from '@ecom/test-support';
import { canonicalDocument, newSalt, parseCanonical, storedDocument } from '../src/anchoring';
import { createEvent, parseEnvelope } from '../src/bus/envelope';
import { checkPayload, checkPayloadBySchema, type EventPayloads } from '../src/events';
import { literalsOf, textForms } from '../src/postgres/inline';

const CALLS = Number(process.env.BENCH_CALLS ?? 100_000);
const ROUNDS = 5;

const id = 'd6f1c7c2-4a7e-4b8e-9d55-0f4a1c2b3e4d';
const orderCreated: EventPayloads['order.created'] = {
  orderId: id,
  userId: id,
  items: [{ productId: id, quantity: 1, unitPrice: 1999, name: 'Desk lamp' }],
  total: { amount: 1999, currency: 'EUR' },
  payment: { method: 'card', token: 'tok_visa' },
};
const inventoryReserved: EventPayloads['inventory.reserved'] = {
  orderId: id,
  items: [{ productId: id, quantity: 1 }],
};
const envelope = JSON.parse(
  JSON.stringify(createEvent('order-service', 'order.created', orderCreated)),
) as unknown;
// An order's entry as order anchors it (a status change with the order's state).
const entryText = canonicalDocument({
  recordType: 'order',
  recordId: id,
  sequence: 2,
  previousLeaf: `0x${'ab'.repeat(32)}`,
  sourceId: 'history:2',
  change: { kind: 'status', from: 'PENDING', to: 'PAYMENT_PROCESSING', at: new Date(0) },
  state: { ...orderCreated, status: 'PAYMENT_PROCESSING', updatedAt: new Date(0) },
});

// That entry's INSERT as anchoring sends it: its text, its promise, the short values around them.
const entryValues: unknown[] = [
  'order',
  id,
  'history:2',
  2,
  `0x${'cd'.repeat(32)}`,
  `0x${'ef'.repeat(32)}`,
  entryText,
  2,
  `0x${'ab'.repeat(32)}`,
  `0x${'12'.repeat(32)}`,
  JSON.stringify({
    type: 'ecom.anchor-promise',
    version: 1,
    chainId: 31337,
    signer: `0x${'34'.repeat(20)}`,
    recordType: 'order',
    recordId: id,
    recordKey: `0x${'12'.repeat(32)}`,
    sequence: 2,
    leaf: `0x${'ef'.repeat(32)}`,
    deadline: 1764669600,
    signature: `0x${'56'.repeat(65)}`,
  }),
  null,
];
const entryLiteralsLength = literalsOf(entryValues)!.reduce((n, l) => n + l.length, 0);

/** µs of this process's CPU per call: the median of the rounds. */
function cpuPerCall(step: () => unknown): number {
  for (let i = 0; i < CALLS / 10; i += 1) step();
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r += 1) {
    const before = process.cpuUsage();
    for (let i = 0; i < CALLS; i += 1) step();
    const used = process.cpuUsage(before);
    rounds.push((used.user + used.system) / CALLS);
  }
  return rounds.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)]!;
}

// Each read of a chain brings its texts as new strings: a copy per call, as pg gives them.
const freshText = () => Buffer.from(entryText).toString();

const STEPS: Array<[string, (() => unknown) | null, () => unknown]> = [
  [
    '`order.created` payload, consumer',
    () => checkPayloadBySchema('order.created', orderCreated),
    () => checkPayload('order.created', orderCreated),
  ],
  [
    '`order.created` payload, publisher',
    () => checkPayloadBySchema('order.created', orderCreated, { strict: true }),
    () => checkPayload('order.created', orderCreated, { strict: true }),
  ],
  [
    '`inventory.reserved` payload, consumer',
    () => checkPayloadBySchema('inventory.reserved', inventoryReserved),
    () => checkPayload('inventory.reserved', inventoryReserved),
  ],
  ['an envelope (`parseEnvelope`, ADR 0041: for scale)', null, () => parseEnvelope(envelope)],
  ["a leaf's salt", () => `0x${randomBytes(32).toString('hex')}`, () => newSalt()],
  [
    `a stored entry read back (${entryText.length} characters)`,
    () => parseCanonical(freshText()),
    () => storedDocument(freshText()),
  ],
  [
    `an anchored entry's values written in as literals (${entryLiteralsLength} characters)`,
    () => textForms(entryValues)!.map((v) => (v === null ? 'NULL' : pgEscapeLiteral(v))),
    () => literalsOf(entryValues),
  ],
];

function main() {
  const loadBefore = loadAverage();
  const rows = STEPS.map(([label, before, now]) => {
    const a = before && cpuPerCall(before);
    return `| ${label} | ${a === null ? '' : a.toFixed(2)} | ${cpuPerCall(now).toFixed(2)} |`;
  });
  writeBenchSection('hot-path-steps', 'Hot-path steps', [
    `${measuredOn()}. Load average before: ${loadBefore}; after: ${loadAverage()}.`,
    'Script: `npm run bench -w common` (`common/bench/hot-path-bench.ts`).',
    '',
    `CPU of this process per call, in µs: ${CALLS} calls in a loop, the median of ${ROUNDS} rounds after a warm-up. *Before*: joi alone for a payload (ADR 0050), a draw of the CSPRNG per salt, a stored entry parsed and re-serialised on every read, a value escaped by pg's escapeLiteral. *Now*: what the services run (a payload accepted by the predicate compiled from its schema; a salt cut from a block of 128; a stored entry remembered per text, each read's text a new string as pg gives it; a value quoted by the platform's quoteLiteral, which gives pg's text).`,
    '',
    '| step | before µs | now µs |',
    '| --- | ---: | ---: |',
    ...rows,
  ]);
}

main();
