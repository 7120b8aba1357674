import type { Logger } from '../logging/logger';

/** Socket failures: a peer or a link that went away, never a bug in this process. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** Whether an uncaught error is a socket failure (e.g. "socket hang up", ECONNRESET). */
export function isStrayNetworkError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && NETWORK_CODES.has(code);
}

/**
 * What a service process does with an exception nothing caught. A socket failure emitted on a
 * request nobody listens to any more (a dependency's client library that dropped its listener
 * once it gave up, while a store or the chain was cut) would otherwise kill the whole service
 * for a failure its caller already handled by its own timeout: it is logged and the process
 * goes on. Anything else is a bug: logged, then the process exits 1, as Node would.
 */
export function uncaughtExceptionHandler(
  logger: Pick<Logger, 'error' | 'warn'>,
  exit: (code: number) => void,
): (err: unknown) => void {
  return (err) => {
    if (isStrayNetworkError(err)) {
      logger.warn('network error with no listener, survived', {
        code: (err as { code: string }).code,
        error: (err as Error).message,
      });
      return;
    }
    logger.error('uncaught exception', { err });
    exit(1);
  };
}
