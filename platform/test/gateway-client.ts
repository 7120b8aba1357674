import { eventually } from '@ecom/test-support';
import { requestJson } from '../src/seed';

/** JSON calls to a started platform's gateway, shared by the platform tests. */
export function gatewayClient(gateway: string) {
  return async function api<T = Record<string, unknown>>(
    method: string,
    url: string,
    body?: unknown,
    token?: string,
  ): Promise<{ status: number; body: T }> {
    const res = await requestJson<T>(method, `${gateway}${url}`, body, token);
    return { status: res.status, body: res.body ?? ({} as T) };
  };
}

/** Polls the order, as `token`'s user, until its status is `status` (or the wait ends). */
export function untilOrderStatus(
  api: ReturnType<typeof gatewayClient>,
  orderId: string,
  token: string,
  status: string,
) {
  return until(
    () => api<{ status: string }>('GET', `/api/orders/${orderId}`, undefined, token),
    (r) => r.body.status === status,
  );
}

/**
 * Polls `fn` until `ok` holds or `ms` pass; returns the last value either way, so the caller's
 * own assertion says what was wrong.
 */
export async function until<T>(
  fn: () => Promise<T>,
  ok: (v: T) => boolean,
  ms = 20_000,
): Promise<T> {
  let last!: T;
  await eventually(
    async () => {
      last = await fn();
      return ok(last);
    },
    { timeoutMs: ms, intervalMs: 100 },
  ).catch(() => undefined);
  return last;
}
