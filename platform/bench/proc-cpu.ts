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
 * CPU seconds of every process whose command is one of `names` (the servers beside us), each
 * counted once: a matching process's own time and that of its other children (PostgreSQL's
 * backends are the postmaster's children and match themselves; counting its tree too counted
 * them twice).
 */
export function cpuOfCommands(names: readonly string[]): number {
  const matches = (pid: string) => names.some((n) => commandOf(pid).startsWith(n));
  const counted = (pid: string): number => {
    let total = ownCpu(pid);
    for (const child of childrenOf(pid)) {
      try {
        if (!matches(child)) total += counted(child);
      } catch {
        // gone
      }
    }
    return total;
  };
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (matches(entry)) total += counted(entry);
    } catch {
      // gone
    }
  }
  return total;
}

/** Machine-wide busy CPU seconds (user + nice + system + irq + softirq) from /proc/stat. */
export function machineCpu(): number {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq] = fields.map(Number);
  return (user! + nice! + system! + irq! + softirq!) / TICKS_PER_SECOND;
}

/**
 * CPU seconds of the PostgreSQL backends serving databases whose names start with `prefix`
 * (one fleet's, when two fleets share the server): PostgreSQL titles each backend
 * `postgres: <cluster>: <user> <database> <client> <state>`. Backends that ended in between
 * are not counted; the services' pools keep theirs for the run.
 */
export function cpuOfBackends(prefix: string): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!commandOf(entry).startsWith('postgres')) continue;
      const title = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (title.includes(` ${prefix}`)) total += ownCpu(entry);
    } catch {
      // gone
    }
  }
  return total;
}
