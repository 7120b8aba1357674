import type { RequestAgent } from './tokens';

/** Expects the service behind `api` to answer ready (200), each of `checks` up. */
export async function expectReady(api: () => RequestAgent, checks: string[]): Promise<void> {
  const res = await api().get('/health/ready');
  expect(res.status).toBe(200);
  for (const name of checks) expect([name, res.body.checks[name]?.status]).toEqual([name, 'up']);
}
