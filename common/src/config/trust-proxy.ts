import Joi from 'joi';
import proxyaddr from 'proxy-addr';

/**
 * Which hops' X-Forwarded-For a process believes (Express's `trust proxy`): `false`, `true`, a
 * hop count, or a list of addresses, CIDRs and names (`loopback`, `uniquelocal`, ...). A
 * service behind the gateway must trust the gateway's address to see the client's (auth
 * throttles logins per client address); one reachable from elsewhere must trust nothing more.
 */
export const trustProxySchema = (fallback: string) =>
  Joi.string()
    .max(200)
    .default(fallback)
    .custom((value: string) => {
      if (value === 'true' || value === 'false' || /^\d+$/.test(value)) return value;
      // What Express will compile at start: a bad entry fails here, naming the variable.
      proxyaddr.compile(value.split(',').map((s) => s.trim()));
      return value;
    }, 'trusted proxy list');

/** The variable's value as Express's `trust proxy` setting. */
export function trustProxySetting(value: string): boolean | number | string {
  if (value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}
