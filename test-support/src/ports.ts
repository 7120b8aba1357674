import { readFileSync } from 'node:fs';
import net from 'node:net';

/*
 * Why not port 0: the kernel hands out port 0 from the ephemeral range, the same range it takes
 * the local ports of outgoing connections from. Between freePort() closing its probe and the
 * server's listen(), any test's outgoing connection can take that port (EADDRINUSE, seen in the
 * fleet test). Ports below the ephemeral range are never given to outgoing connections, so the
 * only other takers are listeners, and those are spread apart: each Jest worker (or process) walks
 * its own slice of the range.
 */

const LOWEST = 10_000;
const SLICE = 1_000;

function ephemeralStart(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/);
    const n = Number(low);
    return Number.isInteger(n) && n > LOWEST ? n : 0;
  } catch {
    return 0; // not Linux: fall back to the kernel's choice
  }
}

const end = ephemeralStart();
const slices = Math.floor((end - LOWEST) / SLICE);
// PORT_SLOT lets processes that run side by side (bench:ab's two platforms) choose apart.
const slot =
  Number(process.env.PORT_SLOT ?? 0) || Number(process.env.JEST_WORKER_ID ?? 0) || process.pid;
const sliceStart = slices > 0 ? LOWEST + (slot % slices) * SLICE : 0;
let next = Math.floor(Math.random() * SLICE);

function probe(port: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolve(null) : reject(err),
    );
    srv.listen(port, '127.0.0.1', () => {
      const { port: bound } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(bound));
    });
  });
}

/**
 * A TCP port free on 127.0.0.1 right now, for a server that must be started on a known port.
 * It comes from below the ephemeral range, so no outgoing connection can take it before the
 * server listens.
 */
export async function freePort(): Promise<number> {
  if (sliceStart === 0) return (await probe(0)) as number;
  for (let tries = 0; tries < SLICE; tries++) {
    const port = sliceStart + (next++ % SLICE);
    const free = await probe(port);
    if (free !== null) return free;
  }
  throw new Error(`no free port in ${sliceStart}-${sliceStart + SLICE - 1}`);
}
