import { clientNetwork } from '@ecom/common/util';

/** The throttling key of a client whose address is not known (every such client shares it). */
export const UNKNOWN_ADDRESS = 'unknown';

/**
 * The key login throttling counts a client address under: the IPv4 address, or the /64
 * network of an IPv6 address (one subscriber usually holds a whole /64: per-address counts
 * would be multiplied at will), as the gateway keys its rate limits (common's clientNetwork).
 */
export function addressKey(ip: string | undefined): string {
  if (!ip) return UNKNOWN_ADDRESS;
  const network = clientNetwork(ip);
  if (network) return network.key;
  // Not an address (a proxy sent something else): bounded, still a key of its own.
  return `other:${ip.slice(0, 64)}`;
}
