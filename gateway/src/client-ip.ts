import { clientNetwork } from '@ecom/common/util';

/** The rate-limit key for an anonymous client: its network (common's clientNetwork). */
export function clientKey(ip: string | undefined): string {
  if (!ip) return 'ip:unknown';
  const network = clientNetwork(ip);
  if (!network) return `ip:${ip}`;
  return network.family === 6 ? `ip6:${network.key}` : `ip:${network.key}`;
}
