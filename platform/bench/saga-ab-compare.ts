/**
 * Reads the logs `saga-ab.sh` wrote (per round, the saga bench of a base commit and of this
 * checkout, run side by side) and prints each round's fleet rows, then the mean of each build:
 * latency, and Node CPU per confirmed order in all and per process. It reads the printed table rather than a file of its
 * own because the other build may be an older commit, whose bench prints nothing else.
 */
import { readFileSync } from 'node:fs';

interface Row {
  offered: number;
  confirmed: string;
  achieved: number;
  p50: number;
  p99: number;
  nodeCpu: number;
  perProcess: Map<string, number>;
  servers: string;
  /** CPU ms per order of the PostgreSQL backends of this build's own databases (NaN: not printed). */
  ownBackends: number;
  /** The host's speed during the rate, as this build's bench saw it ('–': not printed). */
  host: string;
}

/** The rows of the "fleet over RabbitMQ" platform in a bench's printed table. */
function rows(log: string): Row[] {
  const out: Row[] = [];
  let inFleet = false;
  for (const line of log.split('\n')) {
    if (!line.startsWith('| ')) continue;
    const cells = line.split('|').map((c) => c.trim());
    if (cells[1]) inFleet = cells[1] === 'fleet over RabbitMQ';
    if (!inFleet || !/^\d/.test(cells[3] ?? '')) continue;
    const cpu = /\*\*([\d.]+)\*\*: (.*)/.exec(cells[10] ?? '');
    if (!cpu) continue;
    out.push({
      offered: Number(cells[3]),
      confirmed: cells[4]!,
      achieved: Number(cells[5]),
      p50: Number(cells[6]),
      p99: Number(cells[8]),
      nodeCpu: Number(cpu[1]),
      perProcess: new Map(
        cpu[2]!.split(', ').map((part) => {
          const [name, ms] = part.split(' ');
          return [name!, Number(ms)];
        }),
      ),
      servers: cells[11]!,
      ownBackends: Number(/its databases' backends ([\d.]+)/.exec(cells[11] ?? '')?.[1] ?? NaN),
      host: cells[14] || '–',
    });
  }
  return out;
}

const change = (before: number, after: number) =>
  before > 0
    ? `${after >= before ? '+' : ''}${(((after - before) / before) * 100).toFixed(1)} %`
    : '';
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

const [ref, ...logs] = process.argv.slice(2);
if (!ref || logs.length < 2 || logs.length % 2 !== 0)
  throw new Error('usage: saga-ab-compare <ref> <base log> <head log> [<base log> <head log>...]');
const rounds = Array.from({ length: logs.length / 2 }, (_, i) => {
  const [baseLog, headLog] = [logs[2 * i]!, logs[2 * i + 1]!];
  const base = rows(readFileSync(baseLog, 'utf8'));
  const head = rows(readFileSync(headLog, 'utf8'));
  if (base.length === 0 || head.length === 0)
    throw new Error(`no fleet rows in ${base.length ? headLog : baseLog}`);
  return { base, head };
});

const lines = [
  `| round | offered /s | build | confirmed | achieved /s | p50 ms | p99 ms | Node CPU ms/order | PostgreSQL / RabbitMQ / Redis ms/order | host: fixed work CPU ms |`,
  '| ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | --- | ---: |',
];
rounds.forEach(({ base, head }, i) => {
  for (const b of base) {
    const h = head.find((r) => r.offered === b.offered);
    if (!h) continue;
    lines.push(
      `| ${i + 1} | ${b.offered} | ${ref} | ${b.confirmed} | ${b.achieved} | ${b.p50} | ${b.p99} | ${b.nodeCpu} | ${b.servers} | ${b.host} |`,
      `|  |  | this checkout | ${h.confirmed} | ${h.achieved} | ${h.p50} | ${h.p99} | ${h.nodeCpu} (${change(b.nodeCpu, h.nodeCpu)}) | ${h.servers} | ${h.host} |`,
    );
  }
});
// Per rate, over the rounds: the mean of each build, and the change between the means.
for (const b of rounds[0]!.base) {
  const pairs = rounds
    .map(({ base, head }) => [
      base.find((r) => r.offered === b.offered),
      head.find((r) => r.offered === b.offered),
    ])
    .filter((p): p is [Row, Row] => !!p[0] && !!p[1]);
  const names = [
    ...new Set(pairs.flatMap(([x, y]) => [...x.perProcess.keys(), ...y.perProcess.keys()])),
  ];
  const of = (pick: (r: Row) => number, side: 0 | 1) => mean(pairs.map((p) => pick(p[side])));
  const total = [of((r) => r.nodeCpu, 0), of((r) => r.nodeCpu, 1)] as const;
  const perProcess = names.map((n) => {
    const [x, y] = [of((r) => r.perProcess.get(n) ?? 0, 0), of((r) => r.perProcess.get(n) ?? 0, 1)];
    return `${n} ${x.toFixed(1)} → ${y.toFixed(1)} (${change(x, y)})`;
  });
  // Both fleets share one PostgreSQL: only the backends of each build's own databases tell them apart.
  const own = [of((r) => r.ownBackends, 0), of((r) => r.ownBackends, 1)] as const;
  const backends = own.some(Number.isNaN)
    ? ''
    : `; PostgreSQL backends of its databases ${own[0].toFixed(1)} → ${own[1].toFixed(1)} (${change(own[0], own[1])})`;
  lines.push(
    '',
    `Mean of ${pairs.length} round(s) at ${b.offered}/s, Node CPU ms/order: ${total[0].toFixed(1)} → ${total[1].toFixed(1)} (${change(total[0], total[1])}); ${perProcess.join('; ')}${backends}`,
  );
}
process.stdout.write(`${lines.join('\n')}\n`);
