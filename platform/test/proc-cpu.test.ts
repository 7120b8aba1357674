import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpuOfCommands, cpuSince } from '../bench/proc-cpu';

/** The benches' CPU accounting of the servers beside the platform (PostgreSQL's backends come and go). */
describe('cpuSince: CPU of processes between two readings', () => {
  it('adds what each living process took since, all of a new one, none of one that ended', () => {
    const before = new Map([
      ['10:1', 5],
      ['11:1', 30], // ends in between: its 30 s of life are not taken off
    ]);
    const after = new Map([
      ['10:1', 7],
      ['12:9', 1.5], // started in between
    ]);
    expect(cpuSince(before, after)).toBeCloseTo(3.5);
  });

  it('tells a reused pid apart by its start time', () => {
    expect(cpuSince(new Map([['10:1', 40]]), new Map([['10:2', 0.5]]))).toBeCloseTo(0.5);
  });

  it('keys the processes of a command by pid and start time, from /proc', async () => {
    const child = spawn('sleep', ['30']);
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      // starttime read here on its own: the 22nd field of /proc/<pid>/stat.
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      const started = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
      expect(Number(started)).toBeGreaterThan(0);
      const first = [...cpuOfCommands(['sleep']).keys()];
      const second = [...cpuOfCommands(['sleep']).keys()];
      expect(first).toContain(`${child.pid}:${started}`);
      expect(second).toContain(`${child.pid}:${started}`);
    } finally {
      child.kill();
    }
  });
});
