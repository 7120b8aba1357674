import { readFileSync } from 'node:fs';
import net from 'node:net';
import { freePort } from '../src';

// This machine's range (Linux; CI runs there). freePort falls back to the kernel's choice
// where the range leaves no room below it, and so does this test's expectation.
const ephemeralLow = Number(
  readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
);
const roomBelow = ephemeralLow - 10_000 >= 1000;

function listenOn(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('freePort', () => {
  it('gives ports below the ephemeral range, where outgoing connections never take them', async () => {
    for (let i = 0; i < 20; i++) {
      const port = await freePort();
      if (roomBelow) {
        expect(port).toBeGreaterThanOrEqual(10_000);
        expect(port).toBeLessThan(ephemeralLow);
      } else expect(port).toBeGreaterThanOrEqual(ephemeralLow);
    }
  });

  it('gives a port a server can listen on, and never one a listener holds', async () => {
    const held: net.Server[] = [];
    try {
      const ports = new Set<number>();
      for (let i = 0; i < 30; i++) {
        const port = await freePort();
        expect(ports.has(port)).toBe(false);
        ports.add(port);
        held.push(await listenOn(port)); // rejects with EADDRINUSE if the port was not free
      }
    } finally {
      await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
    }
  });

  it('skips ports other listeners hold', async () => {
    const first = await freePort();
    // The ports that would come next, taken by someone else meanwhile.
    const held = await Promise.all([1, 2, 3, 4, 5].map((d) => listenOn(first + d)));
    try {
      const port = await freePort();
      expect(port).not.toBe(first);
      expect([1, 2, 3, 4, 5].map((d) => first + d)).not.toContain(port);
      const server = await listenOn(port);
      await new Promise((r) => server.close(r));
    } finally {
      await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
    }
  });
});
