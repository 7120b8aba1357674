import { decide, retryDelayMs } from '../src/domain/rules';
import { escapeHtml, formatMoney, renderMail } from '../src/domain/templates';
import { NOTIFICATION_KINDS } from '../src/domain/kinds';

describe('sending rules', () => {
  const policy = { baseMs: 1000, maxMs: 60_000, maxAttempts: 10 };

  it('backs off exponentially up to the bound', () => {
    expect([1, 2, 3, 4, 6, 7, 8, 50].map((n) => retryDelayMs(n, policy))).toEqual([
      1000, 2000, 4000, 8000, 32_000, 60_000, 60_000, 60_000,
    ]);
  });

  it('sends to a known customer, skips an opted-out kind or a deleted one, waits for an unknown one', () => {
    const known = {
      state: 'known' as const,
      email: 'a@example.test',
      name: 'A',
      optedOut: ['order_shipped' as const],
    };
    expect(decide('order_confirmed', known, 0, 1000)).toEqual({
      action: 'send',
      email: 'a@example.test',
      name: 'A',
    });
    expect(decide('order_shipped', known, 0, 1000)).toEqual({
      action: 'skip',
      reason: 'OPTED_OUT',
    });
    expect(decide('order_shipped', { state: 'deleted' }, 0, 1000)).toEqual({
      action: 'skip',
      reason: 'RECIPIENT_DELETED',
    });
    expect(decide('order_failed', { state: 'unknown' }, 999, 1000)).toEqual({ action: 'wait' });
    expect(decide('order_failed', { state: 'unknown' }, 1000, 1000)).toEqual({
      action: 'give-up',
      reason: 'RECIPIENT_UNKNOWN',
    });
  });
});

describe('templates', () => {
  it('has a subject, a text and an HTML body for every kind', () => {
    for (const kind of NOTIFICATION_KINDS) {
      const mail = renderMail(
        kind,
        { orderId: 'o-1', amount: { amount: 1234, currency: 'USD' } },
        'Al',
      );
      expect(mail.subject).toContain('o-1');
      expect(mail.text).toContain('Hello Al,');
      expect(mail.html).toContain('<p>Hello Al,</p>');
    }
  });

  it('escapes what comes from events and profiles in HTML, and keeps the subject one line', () => {
    const mail = renderMail(
      'order_failed',
      { orderId: 'o-1\r\nBcc: x@evil.test', reason: '<script>alert(1)</script> & "more"' },
      '<b>Mallory</b>',
    );
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).not.toContain('<b>Mallory');
    expect(mail.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;more&quot;');
    expect(mail.html).toContain('Hello &lt;b&gt;Mallory&lt;/b&gt;,');
    expect(mail.subject).not.toMatch(/[\r\n]/);
    expect(escapeHtml(`'`)).toBe('&#39;');
  });

  it('writes money in major units of its currency', () => {
    expect(formatMoney({ amount: 1234, currency: 'USD' })).toBe('$12.34');
    expect(formatMoney({ amount: 500, currency: 'JPY' })).toBe('¥500');
    expect(formatMoney({ amount: 1, currency: 'USD' })).toBe('$0.01');
    expect(formatMoney({ amount: 7, currency: 'not a currency' })).toBe(
      '7 not a currency (minor units)',
    );
  });

  it('builds the format of a currency once, not per mail', () => {
    const built = jest.spyOn(Intl, 'NumberFormat');
    try {
      expect(formatMoney({ amount: 250, currency: 'EUR' })).toBe('€2.50');
      expect(formatMoney({ amount: 99, currency: 'EUR' })).toBe('€0.99');
      expect(formatMoney({ amount: 5, currency: 'KWD' })).toMatch(/^KWD\s0\.005$/u);
      expect(built).toHaveBeenCalledTimes(2);
    } finally {
      built.mockRestore();
    }
  });
});
