import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BENCHMARKS_FILE = path.resolve(__dirname, '../../docs/benchmarks.md');

/** The load average now, as `1.2 / 0.8 / 0.5`. */
export const loadAverage = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');

/** When and on what a benchmark ran: the date, the CPU, its cores, the memory and Node. */
export function measuredOn(): string {
  const cpus = os.cpus();
  const memory = Math.round(os.totalmem() / 2 ** 30);
  return `Measured ${new Date().toISOString()} on ${cpus[0]?.model ?? 'unknown CPU'} (${cpus.length} cores), ${memory} GiB RAM, Node ${process.version}`;
}

/** False when BENCH_DOCS=0: the bench prints its figures and leaves docs/ alone. */
export const writesDocs = (): boolean => process.env.BENCH_DOCS !== '0';

/**
 * Writes a benchmark's section `## <title>` into docs/benchmarks.md between the markers
 * `<!-- bench:<key>:start -->` and `<!-- bench:<key>:end -->`, replacing the previous one (found
 * by its heading too, should another writer have dropped the start marker) or appending it,
 * and prints it. With BENCH_DOCS=0 it only prints (an A/B run, a quick check).
 */
export function writeBenchSection(key: string, title: string, lines: string[]): void {
  const [start, end] = [`<!-- bench:${key}:start -->`, `<!-- bench:${key}:end -->`];
  const section = [start, `## ${title}`, '', ...lines, end].join('\n');
  if (!writesDocs()) {
    process.stdout.write(`${section}\n`);
    return;
  }
  const current = existsSync(BENCHMARKS_FILE)
    ? readFileSync(BENCHMARKS_FILE, 'utf8')
    : '# Benchmarks\n';
  const previous = new RegExp(`(?:${start}\\n)?## ${title}\\n[\\s\\S]*?${end}`);
  const updated = previous.test(current)
    ? current.replace(previous, () => section)
    : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(BENCHMARKS_FILE, updated);
  process.stdout.write(`${section}\n`);
}

/**
 * Runs a benchmark's main and exits: 0 when it resolves (open pools or timers must not keep
 * the process alive), 1 with `<name> failed` and the error's stack when it throws.
 */
export function runBench(name: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${name} failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
