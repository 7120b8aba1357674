/**
 * Reads the two logs `saga-ab.sh` wrote (the saga bench of a base commit and of this checkout,
 * run side by side) and prints their fleet rows and the differences: latency, and Node CPU per
 * confirmed order in all and per service.
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
    });
  }
  return out;
}

const change = (before: number, after: number) =>
  before > 0
    ? `${after >= before ? '+' : ''}${(((after - before) / before) * 100).toFixed(1)} %`
    : '';

const [baseLog, headLog, ref] = process.argv.slice(2);
if (!baseLog || !headLog) throw new Error('usage: saga-ab-compare <base log> <head log> [ref]');
const base = rows(readFileSync(baseLog, 'utf8'));
const head = rows(readFileSync(headLog, 'utf8'));
if (base.length === 0 || head.length === 0)
  throw new Error(`no fleet rows in ${base.length ? headLog : baseLog}`);

const lines = [
  `| offered /s | build | confirmed | achieved /s | p50 ms | p99 ms | Node CPU ms/order | PostgreSQL / RabbitMQ / Redis ms/order |`,
  '| ---: | --- | --- | ---: | ---: | ---: | ---: | --- |',
];
for (const b of base) {
  const h = head.find((r) => r.offered === b.offered);
  if (!h) continue;
  lines.push(
    `| ${b.offered} | ${ref ?? 'base'} | ${b.confirmed} | ${b.achieved} | ${b.p50} | ${b.p99} | ${b.nodeCpu} | ${b.servers} |`,
    `|  | this checkout | ${h.confirmed} | ${h.achieved} | ${h.p50} | ${h.p99} | ${h.nodeCpu} (${change(b.nodeCpu, h.nodeCpu)}) | ${h.servers} |`,
  );
  const names = [...new Set([...b.perProcess.keys(), ...h.perProcess.keys()])];
  const perService = names.map(
    (n) =>
      `${n} ${b.perProcess.get(n) ?? 0} → ${h.perProcess.get(n) ?? 0} (${change(b.perProcess.get(n) ?? 0, h.perProcess.get(n) ?? 0)})`,
  );
  lines.push('', `Node CPU ms/order by process at ${b.offered}/s: ${perService.join('; ')}`, '');
}
process.stdout.write(`${lines.join('\n')}\n`);
