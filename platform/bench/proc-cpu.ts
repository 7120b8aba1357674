/**
 * CPU time from /proc, for the benches: a process's own, a process tree's, the servers'
 * beside the platform (each process counted once), and the machine's.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ, the unit of /proc/<pid>/stat on Linux

/** CPU seconds (user + system) of one process, its threads but not its children; throws once gone. */
export function ownCpu(pid: number | string): number {
  // Fields after the command name (which may hold spaces): utime is the 14th, stime the 15th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

const childrenOf = (pid: number | string): string[] => {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return children ? children.split(' ') : [];
};

/** CPU seconds of a process and all its descendants; 0 once gone. */
export function treeCpu(pid: number): number {
  let total = 0;
  try {
    total += ownCpu(pid);
    for (const child of childrenOf(pid)) total += treeCpu(Number(child));
  } catch {
    // gone
  }
  return total;
}

const commandOf = (pid: string) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim();

/**
 * CPU seconds of each process a server runs: every process whose command is one of `names`
 * (the servers beside us) and its descendants that do not match themselves (a helper RabbitMQ
 * starts, say), each on its own (PostgreSQL's backends are the postmaster's children and match
 * themselves, so nothing is counted twice). Keyed by pid and start time, for cpuSince: a child
 * that ends in between is then left out like any other process, instead of lowering its
 * parent's total.
 */
export function cpuOfCommands(names: readonly string[]): ProcessCpu {
  const matches = (pid: string) => names.some((n) => commandOf(pid).startsWith(n));
  const out: ProcessCpu = new Map();
  const add = (pid: string) => {
    out.set(processKey(pid), ownCpu(pid));
    for (const child of childrenOf(pid)) {
      try {
        if (!matches(child)) add(child);
      } catch {
        // gone
      }
    }
  };
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (matches(entry)) add(entry);
    } catch {
      // gone
    }
  }
  return out;
}

/** CPU seconds by process (pid and start time: a reused pid is another process). */
export type ProcessCpu = Map<string, number>;

export function processKey(pid: string | number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // starttime is the 22nd field, the 20th after the command name.
  return `${pid}:${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}`;
}

/**
 * The CPU the processes took between two readings: what each process alive at the second
 * added since the first (all of it if it started in between). A process that ended in between
 * is left out, and with it only what it took after the first reading; a sum of the two
 * readings' totals would instead subtract its whole life (PostgreSQL ends backends its
 * clients' pools close when idle, after a warm-up say).
 */
export function cpuSince(before: ProcessCpu, after: ProcessCpu): number {
  let total = 0;
  for (const [key, seconds] of after) total += seconds - (before.get(key) ?? 0);
  return total;
}

/** Machine-wide busy CPU seconds (user + nice + system + irq + softirq) from /proc/stat. */
export function machineCpu(): number {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq] = fields.map(Number);
  return (user! + nice! + system! + irq! + softirq!) / TICKS_PER_SECOND;
}

/**
 * CPU seconds of each PostgreSQL backend serving a database whose name starts with `prefix`
 * (one fleet's, when two fleets share the server): PostgreSQL titles each backend
 * `postgres: <cluster>: <user> <database> <client> <state>`. Keyed as cpuOfCommands.
 */
export function cpuOfBackends(prefix: string): ProcessCpu {
  const out: ProcessCpu = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!commandOf(entry).startsWith('postgres')) continue;
      const title = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (title.includes(` ${prefix}`)) out.set(processKey(entry), ownCpu(entry));
    } catch {
      // gone
    }
  }
  return out;
}
