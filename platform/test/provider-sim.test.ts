import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '@ecom/test-support';
import { PROVIDER_STATE_FILE, startLocalProvider } from '../src/provider-sim';
import { tempDataDir } from './support';

/** `PAYMENT_GATEWAY=provider npm start`: the launcher's own card processor simulator. */
describe('the launcher starts the provider simulator only when asked to', () => {
  it('PAYMENT_GATEWAY=provider without a URL: a simulator that takes intents, and payment pointed at it', async () => {
    // A port the system has free, not a fixed one (33103 lies in the ephemeral range).
    const port = await freePort();
    const dataDir = tempDataDir('provider-sim');
    const provider = await startLocalProvider(
      {
        PAYMENT_GATEWAY: 'provider',
        PROVIDER_SIM_PORT: String(port),
        PAYMENT_WEBHOOK_SECRET: 'whsec_x',
      },
      33104,
      dataDir,
    );
    try {
      expect(provider).not.toBeNull();
      expect(provider!.url).toBe(`http://127.0.0.1:${port}`);
      expect(provider!.env).toMatchObject({
        PAYMENT_PROVIDER_URL: `http://127.0.0.1:${port}`,
        PAYMENT_WEBHOOK_SECRET: 'whsec_x',
      });
      const res = await fetch(`${provider!.url}/v1/payment_intents`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'launcher-1' },
        body: JSON.stringify({ amount: 100, currency: 'usd', payment_method: 'tok_processing' }),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { status: string }).status).toBe('processing');
    } finally {
      await provider?.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('the mock gateway, or a provider of its own: nothing started', async () => {
    expect(await startLocalProvider({}, 33104)).toBeNull();
    expect(
      await startLocalProvider(
        { PAYMENT_GATEWAY: 'provider', PAYMENT_PROVIDER_URL: 'https://api.example.com' },
        33104,
      ),
    ).toBeNull();
  });
});

describe('the simulator kept in the data directory', () => {
  const post = (url: string, route: string, key: string, body: object) =>
    fetch(`${url}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify(body),
    });
  const start = async (dataDir: string, port: number) =>
    (await startLocalProvider(
      {
        PAYMENT_GATEWAY: 'provider',
        PROVIDER_SIM_PORT: String(port),
        PAYMENT_WEBHOOK_SECRET: 'whsec_x',
        PROVIDER_SIM_SETTLE_DELAY_MS: '50',
      },
      33104,
      dataDir,
    ))!;

  it('a restart forgets no charge, refund or idempotency key, and settles what was processing', async () => {
    const dataDir = tempDataDir('provider-state');
    const port = await freePort();
    let provider = await start(dataDir, port);
    try {
      const paid = (await (
        await post(provider.url, '/v1/payment_intents', 'charge-1', {
          amount: 1599,
          currency: 'usd',
          payment_method: 'tok_visa',
        })
      ).json()) as { id: string; status: string; latest_charge: string };
      expect(paid.status).toBe('succeeded');
      expect(
        (
          await post(provider.url, '/v1/refunds', 'refund-1', {
            charge: paid.latest_charge,
            amount: 99,
          })
        ).status,
      ).toBe(200);
      const processing = (await (
        await post(provider.url, '/v1/payment_intents', 'charge-2', {
          amount: 500,
          currency: 'usd',
          payment_method: 'tok_processing',
        })
      ).json()) as { id: string; status: string };
      expect(processing.status).toBe('processing');
      await provider.stop(); // before it settled
      expect(fs.existsSync(path.join(dataDir, PROVIDER_STATE_FILE))).toBe(true);

      provider = await start(dataDir, port);
      // The charge is known: the rest of it can be refunded, no more.
      expect(
        (
          await post(provider.url, '/v1/refunds', 'refund-2', {
            charge: paid.latest_charge,
            amount: 1500,
          })
        ).status,
      ).toBe(200);
      const over = await post(provider.url, '/v1/refunds', 'refund-3', {
        charge: paid.latest_charge,
        amount: 1,
      });
      expect(over.status).toBe(400);
      // A key used before the restart replays its answer instead of charging again.
      const replay = (await (
        await post(provider.url, '/v1/payment_intents', 'charge-1', {
          amount: 1599,
          currency: 'usd',
          payment_method: 'tok_visa',
        })
      ).json()) as { id: string };
      expect(replay.id).toBe(paid.id);
      // The intent left processing settles after the restart.
      for (const until = Date.now() + 5000; Date.now() < until;) {
        const now = (await (
          await fetch(`${provider.url}/v1/payment_intents/${processing.id}`)
        ).json()) as { status: string };
        if (now.status === 'succeeded') break;
        await new Promise((r) => setTimeout(r, 25));
      }
      const settled = (await (
        await fetch(`${provider.url}/v1/payment_intents/${processing.id}`)
      ).json()) as { status: string };
      expect(settled.status).toBe('succeeded');
    } finally {
      await provider.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
