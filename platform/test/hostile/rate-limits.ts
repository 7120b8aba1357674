import { gatewayService, loadGatewayConfig } from '@ecom/gateway';
import type { Platform } from '../../src/start';
import { HostileClient, type Answer, type HostileRequest } from './client';
import { platformKeys, type World } from './world';

/**
 * 429s in the common shape. The platform under test runs with budgets too large to reach (so
 * the rest of the suite is not answered 429), so two kinds of refusal are provoked here: an
 * account locked by failed logins, through the platform's gateway; and each rate-limit bucket
 * (default, auth, payment) of a second gateway with tiny budgets in front of the same services.
 */

export interface Sent {
  request: HostileRequest;
  answer: Answer;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

function rateLimited(a: Answer): string | undefined {
  if (a.status !== 429) return undefined;
  if (!/^\d+$/.test(String(a.headers['retry-after'] ?? ''))) return 'a 429 without Retry-After';
  return undefined;
}

/**
 * Login throttling (docs/adr/0016): wrong passwords from this address until it must wait
 * (429 login_throttled with Retry-After), then more from the same address under made-up
 * forwarding headers, which must not buy a fresh address (still 429: a 401 would mean the
 * password was checked again), then the right password, which may sign in only once the wait
 * is over. Sequential; `LOCKOUT_REQUESTS` of them.
 */
export async function lockout(client: HostileClient, w: World): Promise<Sent[]> {
  const sent: Sent[] = [];
  const login = (
    label: string,
    password: string,
    headers: Record<string, string> = {},
  ): HostileRequest => ({
    label: `429 login throttling: ${label}`,
    method: 'POST',
    target: '/api/auth/login',
    headers: { ...JSON_HEADERS, ...headers },
    body: Buffer.from(JSON.stringify({ email: w.lockEmail, password })),
    expect: rateLimited,
  });
  const send = async (request: HostileRequest) => {
    sent.push({ request, answer: await client.send(request) });
  };
  for (let i = 0; i < 6; i += 1) {
    const request = login(`wrong password #${i + 1}`, `wrong password ${i}`);
    request.mustFail = ['a wrong password'];
    if (i === 5) {
      request.expect = (a) =>
        a.status === 429 ? rateLimited(a) : `expected 429 after 6 failures, got ${a.status}`;
    }
    await send(request);
  }
  for (const headers of <Record<string, string>[]>[
    { 'x-forwarded-for': '203.0.113.7' },
    { 'x-forwarded-for': '203.0.113.8, 198.51.100.1' },
    { forwarded: 'for=203.0.113.9' },
    {
      'x-real-ip': '203.0.113.10',
      'x-client-ip': '203.0.113.10',
      'true-client-ip': '203.0.113.10',
    },
  ]) {
    const request = login(
      `a wrong password from a made-up address ${JSON.stringify(headers)}`,
      'wrong again',
      headers,
    );
    request.mustFail = ['a wrong password'];
    request.expect = (a) =>
      a.status === 429
        ? rateLimited(a)
        : `a made-up forwarding header bought a fresh address: answered ${a.status}`;
    await send(request);
  }
  const right = login('the right password while waiting', w.lockPassword, {
    'x-forwarded-for': '203.0.113.11',
  });
  right.expect = (a) =>
    a.status === 429 || a.status === 200
      ? rateLimited(a)
      : `the right password answered ${a.status}`;
  await send(right);
  return sent;
}

export const LOCKOUT_REQUESTS = 11;

/** Each bucket of a gateway with budgets of 2-3 requests, until it answers 429. */
export async function strictGateway(platform: Platform, w: World, port: number): Promise<Sent[]> {
  const { publicKey } = platformKeys(w.dataDir);
  const urls = platform.fleet.urls;
  const gw = await gatewayService.start({
    config: loadGatewayConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      HOST: '127.0.0.1',
      PORT: String(port),
      AUTH_SERVICE_URL: urls.auth,
      PRODUCT_SERVICE_URL: urls.product,
      COMMENTS_SERVICE_URL: urls.comments,
      PAYMENT_SERVICE_URL: urls.payment,
      ORDER_SERVICE_URL: urls.order,
      JWT_ALGORITHM: 'ES256',
      JWT_PUBLIC_KEY: publicKey,
      RATE_LIMIT_POINTS: '3',
      RATE_LIMIT_AUTH_POINTS: '2',
      RATE_LIMIT_PAYMENT_POINTS: '2',
    }),
  });
  const client = new HostileClient(gw.url, 1);
  const sent: Sent[] = [];
  try {
    const runs: [string, Omit<HostileRequest, 'label' | 'base'>][] = [
      ['default bucket', { method: 'GET', target: '/api/products?limit=1', headers: {} }],
      [
        'auth bucket',
        {
          method: 'POST',
          target: '/api/auth/login',
          headers: JSON_HEADERS,
          body: Buffer.from(JSON.stringify({ email: 'nobody@suite.test', password: 'x' })),
          mustFail: ['an unknown account'],
        },
      ],
      [
        'payment bucket',
        {
          method: 'GET',
          target: '/api/payments',
          headers: { authorization: w.users.customerA.authorization! },
        },
      ],
      [
        'default bucket, per user',
        {
          method: 'GET',
          target: '/api/orders',
          headers: { authorization: w.users.customerB.authorization! },
        },
      ],
    ];
    for (const [name, req] of runs) {
      const answers: Sent[] = [];
      for (let i = 0; i < 5; i += 1) {
        const request: HostileRequest = {
          ...req,
          label: `429 strict gateway, ${name} #${i + 1}`,
          base: gw.url,
        };
        answers.push({ request, answer: await client.send(request) });
      }
      for (const s of answers) s.request.expect = rateLimited;
      const lastOne = answers[answers.length - 1]!;
      lastOne.request.expect = (a) => {
        if (a.status !== 429) return `the 5th request over a budget of 2-3 answered ${a.status}`;
        if (a.headers['ratelimit-limit'] === undefined) return 'a 429 without RateLimit-Limit';
        return rateLimited(a);
      };
      sent.push(...answers);
    }
  } finally {
    client.close();
    await gw.stop();
  }
  return sent;
}
