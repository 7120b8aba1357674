import { spawn } from 'node:child_process';
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
      const keys = [...cpuOfCommands(['sleep']).keys()];
      expect(keys.some((k) => new RegExp(`^${child.pid}:\\d+$`).test(k))).toBe(true);
    } finally {
      child.kill();
    }
  });
});
