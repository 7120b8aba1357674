import { isIPv6 } from 'node:net';

/** Expands an IPv6 address (no zone) to its eight 16-bit groups. */
function ipv6Groups(address: string): string[] | undefined {
  let addr = address;
  const zone = addr.indexOf('%');
  if (zone >= 0) addr = addr.slice(0, zone);
  // A trailing embedded IPv4 (e.g. ::1.2.3.4) becomes two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(addr);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    addr = `${addr.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = addr.split('::') as [string, string | undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return undefined;
  return [...headGroups, ...Array<string>(missing).fill('0'), ...tailGroups].map((g) =>
    (parseInt(g, 16) || 0).toString(16),
  );
}

/**
 * The rate-limit key for an anonymous client: the IPv4 address, or the /64 network of an
 * IPv6 address (one subscriber usually owns a whole /64, so per-address budgets would be
 * trivially multiplied). IPv4-mapped IPv6 addresses count as IPv4.
 */
export function clientKey(ip: string | undefined): string {
  if (!ip) return 'ip:unknown';
  if (ip.startsWith('::ffff:') && ip.includes('.')) return `ip:${ip.slice(7)}`;
  if (isIPv6(ip)) {
    const groups = ipv6Groups(ip);
    if (groups) return `ip6:${groups.slice(0, 4).join(':')}::/64`;
  }
  return `ip:${ip}`;
}
