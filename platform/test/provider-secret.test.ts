import { createHmac, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '@ecom/test-support';
import { startLocalProvider, WEBHOOK_SECRET_FILE } from '../src/provider-sim';
import { startPlatform, type Platform } from '../src/start';
import { embeddedEnv, platformPorts, tempDataDir } from './support';

// `PAYMENT_GATEWAY=provider npm start` without PAYMENT_WEBHOOK_SECRET used to sign (and accept)
// webhooks with a constant anyone could read, so a customer could forge "payment succeeded".
// The secret is now random per data directory.

const OLD_CONSTANT = 'whsec_local_provider_sim';
const ports = platformPorts(29000);
const gateway = `http://127.0.0.1:${ports.services.gateway}`;

jest.setTimeout(180_000);

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
function dataDir(label: string): string {
  const dir = tempDataDir(label);
  dirs.push(dir);
  return dir;
}

async function secretOf(dir: string): Promise<string> {
  const env = { PAYMENT_GATEWAY: 'provider', PROVIDER_SIM_PORT: String(await freePort()) };
  const provider = await startLocalProvider(env, 1, dir);
  await provider!.stop();
  return provider!.env.PAYMENT_WEBHOOK_SECRET!;
}

describe("the provider simulator's webhook secret", () => {
  it('is random per data dir, kept there for the owner only, and not the old constant', async () => {
    const dir = dataDir('provider-secret-a');
    const secret = await secretOf(dir);
    expect(secret).not.toBe(OLD_CONSTANT);
    expect(secret).toMatch(/^whsec_[0-9a-f]{64}$/);
    expect(await secretOf(dir)).toBe(secret);
    expect(fs.statSync(path.join(dir, WEBHOOK_SECRET_FILE)).mode & 0o777).toBe(0o600);
    expect(await secretOf(dataDir('provider-secret-b'))).not.toBe(secret);
  });

  describe('npm start in provider mode', () => {
    let platform: Platform | undefined;
    let dir: string;

    beforeAll(async () => {
      dir = dataDir('provider-secret-platform');
      platform = await startPlatform({
        env: embeddedEnv(dir, {
          PAYMENT_GATEWAY: 'provider',
          PAYMENT_WEBHOOK_SECRET: '',
          PROVIDER_SIM_PORT: String(await freePort()),
        }),
        ports,
        seed: false,
        print: () => undefined,
      });
    });
    afterAll(async () => {
      await platform?.stop();
    });

    const succeeded = () =>
      JSON.stringify({
        id: `evt_${randomUUID().replace(/-/g, '')}`,
        object: 'event',
        type: 'payment_intent.succeeded',
        created: Math.floor(Date.now() / 1000),
        data: {
          object: {
            id: `pi_${randomUUID().replace(/-/g, '')}`,
            object: 'payment_intent',
            status: 'succeeded',
            amount: 2500,
            currency: 'usd',
            latest_charge: 'ch_forged',
            metadata: { payment_key: `${randomUUID()}:1` },
            next_action: null,
            last_payment_error: null,
          },
        },
      });
    const post = async (body: string, secret: string) => {
      const t = Math.floor(Date.now() / 1000);
      const v1 = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
      const res = await fetch(`${gateway}/api/payments/webhooks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'provider-signature': `t=${t},v1=${v1}` },
        body,
      });
      const answer = (await res.json().catch(() => ({}))) as { error?: { code?: string } };
      return { status: res.status, code: answer.error?.code };
    };

    it('refuses a webhook signed with the old constant', async () => {
      expect(await post(succeeded(), OLD_CONSTANT)).toEqual({
        status: 400,
        code: 'WEBHOOK_SIGNATURE_INVALID',
      });
    });

    it("checks webhooks against the data dir's own secret", async () => {
      const secret = fs.readFileSync(path.join(dir, WEBHOOK_SECRET_FILE), 'utf8').trim();
      const answer = await post(succeeded(), secret);
      expect(answer.code).not.toBe('WEBHOOK_SIGNATURE_INVALID');
    });
  });
});
