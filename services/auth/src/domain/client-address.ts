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

/** The throttling key of a client whose address is not known (every such client shares it). */
export const UNKNOWN_ADDRESS = 'unknown';

/**
 * The key login throttling counts a client address under: the IPv4 address, or the /64
 * network of an IPv6 address (one subscriber usually holds a whole /64: per-address counts
 * would be multiplied at will). IPv4-mapped IPv6 addresses count as IPv4. The gateway keys its
 * rate limits the same way (gateway/src/client-ip.ts).
 */
export function addressKey(ip: string | undefined): string {
  if (!ip) return UNKNOWN_ADDRESS;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (isIPv4(ip)) return ip;
  if (isIPv6(ip)) {
    const groups = ipv6Groups(ip);
    if (groups) return `${groups.slice(0, 4).join(':')}::/64`;
  }
  // Not an address (a proxy sent something else): bounded, still a key of its own.
  return `other:${ip.slice(0, 64)}`;
}
