import { isIPv4, isIPv6 } from 'node:net';

/** Expands an IPv6 address (zone dropped) to its eight 16-bit groups, or undefined. */
function ipv6Groups(address: string): string[] | undefined {
  let addr = address;
  const zone = addr.indexOf('%');
  if (zone >= 0) addr = addr.slice(0, zone);
  // A trailing embedded IPv4 (::1.2.3.4) becomes two groups.
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
 * The network a client address counts as, for rate limits and login throttling: the IPv4
 * address itself, or the /64 of an IPv6 address (one subscriber usually holds a whole /64, so
 * per-address budgets would be multiplied at will). IPv4-mapped IPv6 addresses count as IPv4.
 * Undefined for what is not an address.
 */
export function clientNetwork(ip: string): { family: 4 | 6; key: string } | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return { family: 4, key: mapped[1]! };
  if (isIPv4(ip)) return { family: 4, key: ip };
  if (isIPv6(ip)) {
    const groups = ipv6Groups(ip);
    if (groups) return { family: 6, key: `${groups.slice(0, 4).join(':')}::/64` };
  }
  return undefined;
}
