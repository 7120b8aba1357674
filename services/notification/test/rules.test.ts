import { decide, isBudgetExempt, retryDelayMs } from '../src/domain/rules';
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
      optedOut: ['order_shipped' as const],
      withinBudget: true,
    };
    expect(decide('order_confirmed', known, 0, 1000)).toEqual({
      action: 'send',
      email: 'a@example.test',
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

  it('skips a mail its address has no budget left for, for good (no retry); receipts are exempt', () => {
    const spent = {
      state: 'known' as const,
      email: 'a@example.test',
      optedOut: [],
      withinBudget: false,
    };
    expect(decide('order_failed', spent, 0, 1000)).toEqual({
      action: 'skip',
      reason: 'RECIPIENT_RATE_LIMITED',
    });
    // Opting out is what the customer asked: it is said first.
    expect(decide('order_failed', { ...spent, optedOut: ['order_failed'] }, 0, 1000)).toEqual({
      action: 'skip',
      reason: 'OPTED_OUT',
    });
    expect(NOTIFICATION_KINDS.filter(isBudgetExempt)).toEqual([
      'order_confirmed',
      'payment_refunded',
    ]);
  });
});

describe('templates', () => {
  it('has a subject, a text and an HTML body for every kind, with a greeting that names nobody', () => {
    for (const kind of NOTIFICATION_KINDS) {
      const mail = renderMail(kind, { orderId: 'o-1', amount: { amount: 1234, currency: 'USD' } });
      expect(mail.subject).toContain('o-1');
      expect(mail.text).toMatch(/^Hello,\n/);
      expect(mail.html).toContain('<p>Hello,</p>');
    }
  });

  /** What an attacker types where a reason goes: a cancel's reason, a card token a decline echoes. */
  const PHISH = 'Call +1-555-0100 to claim your refund';

  it('never copies a reason someone typed into a mail, whoever typed it', () => {
    for (const kind of NOTIFICATION_KINDS) {
      for (const reason of [
        PHISH,
        `cancelled by customer: ${PHISH}`,
        `REFUNDED ${PHISH}`,
        `payment failed: card_declined (No such token: '${PHISH}')`,
        `inventory rejected: INSUFFICIENT_STOCK (${PHISH})`,
      ]) {
        const mail = renderMail(kind, { orderId: 'o-1', reason });
        for (const part of [mail.subject, mail.text, mail.html]) {
          expect(part).not.toContain('555');
          expect(part).not.toContain('claim');
          expect(part).not.toContain('Reason:');
        }
      }
    }
  });

  it("says the system's reasons in fixed words of its own", () => {
    const says = (kind: 'order_failed' | 'order_cancelled', reason: string) =>
      renderMail(kind, { orderId: 'o-1', reason }).text.split('\n')[3];
    expect(says('order_cancelled', 'cancelled by customer')).toBe(
      'It was cancelled from your account.',
    );
    expect(says('order_cancelled', 'cancelled by admin')).toBe('It was cancelled by our staff.');
    expect(says('order_cancelled', 'REFUNDED')).toBe('The payment was refunded in full.');
    expect(says('order_cancelled', 'PAYMENT_TIMEOUT')).toBe(
      'The payment did not complete in time.',
    );
    expect(says('order_failed', 'payment failed: card_declined (Your card was declined.)')).toBe(
      'The payment did not go through.',
    );
    expect(says('order_failed', 'inventory rejected: INSUFFICIENT_STOCK (product p-1)')).toBe(
      'An item is not in stock in the quantity ordered.',
    );
    expect(says('order_failed', 'INSUFFICIENT_STOCK')).toBe(
      'An item is not in stock in the quantity ordered.',
    );
    // A reason it does not know is left out: the mail goes on with its own words.
    expect(says('order_cancelled', 'because')).toBe(
      'If you were charged, the payment is refunded.',
    );
  });

  it('escapes what comes from events in HTML, and keeps the subject one line', () => {
    const mail = renderMail('order_failed', {
      orderId: 'o-1<script>alert(1)</script>\r\nBcc: x@evil.test',
    });
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).toContain('o-1&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(mail.subject).not.toMatch(/[\r\n]/);
    expect(escapeHtml(`'` + '"&')).toBe('&#39;&quot;&amp;');
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
