import { freePort } from '@ecom/test-support';
import { startLocalProvider } from '../src/provider-sim';

/** `PAYMENT_GATEWAY=provider npm start`: the launcher's own card processor simulator. */
describe('the launcher starts the provider simulator only when asked to', () => {
  it('PAYMENT_GATEWAY=provider without a URL: a simulator that takes intents, and payment pointed at it', async () => {
    // A port the system has free, not a fixed one (33103 lies in the ephemeral range).
    const port = await freePort();
    const provider = await startLocalProvider(
      {
        PAYMENT_GATEWAY: 'provider',
        PROVIDER_SIM_PORT: String(port),
        PAYMENT_WEBHOOK_SECRET: 'whsec_x',
      },
      33104,
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
