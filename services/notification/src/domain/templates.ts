import type { NotificationFacts, NotificationKind } from './kinds';

/** One message: a subject, a plain-text body and a simple HTML body. */
export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Formats per currency, built once: building one costs more than the mail's other words. */
const FORMATS = new Map<string, { format: Intl.NumberFormat; digits: number }>();
const MAX_FORMATS = 64;

function currencyFormat(currency: string): { format: Intl.NumberFormat; digits: number } {
  let known = FORMATS.get(currency);
  if (!known) {
    const format = new Intl.NumberFormat('en-US', { style: 'currency', currency });
    known = { format, digits: format.resolvedOptions().maximumFractionDigits ?? 2 };
    if (FORMATS.size < MAX_FORMATS) FORMATS.set(currency, known);
  }
  return known;
}

/** Integer minor units as the currency writes them (USD 1234 → "$12.34"). */
export function formatMoney(money: { amount: number; currency: string }): string {
  try {
    const { format, digits } = currencyFormat(money.currency);
    return format.format(money.amount / 10 ** digits);
  } catch {
    return `${money.amount} ${money.currency} (minor units)`;
  }
}

/** The words of each kind: a subject and paragraphs, as plain text (escaped for HTML later). */
const WORDS: Record<
  NotificationKind,
  (f: NotificationFacts) => { subject: string; lines: string[] }
> = {
  order_confirmed: (f) => ({
    subject: `Your order ${f.orderId} is confirmed`,
    lines: [
      `Thank you: your order ${f.orderId} is paid and confirmed.`,
      ...(f.amount ? [`Total: ${formatMoney(f.amount)}.`] : []),
      'We will write again when it ships.',
    ],
  }),
  order_failed: (f) => ({
    subject: `Your order ${f.orderId} could not be completed`,
    lines: [
      `We could not complete your order ${f.orderId}.`,
      ...(f.reason ? [`Reason: ${f.reason}.`] : []),
      'Nothing was charged, or any charge is refunded.',
    ],
  }),
  order_cancelled: (f) => ({
    subject: `Your order ${f.orderId} is cancelled`,
    lines: [
      `Your order ${f.orderId} is cancelled.`,
      ...(f.reason ? [`Reason: ${f.reason}.`] : []),
      'If you were charged, the payment is refunded.',
    ],
  }),
  order_shipped: (f) => ({
    subject: f.fullyShipped
      ? `Your order ${f.orderId} has shipped`
      : `Part of your order ${f.orderId} has shipped`,
    lines: [
      f.fullyShipped
        ? `Every item of your order ${f.orderId} is on its way.`
        : `${f.lineCount ?? 'Some'} item(s) of your order ${f.orderId} are on their way; the rest follow.`,
    ],
  }),
  order_delivered: (f) => ({
    subject: `Your order ${f.orderId} was delivered`,
    lines: [`Your order ${f.orderId} was delivered. We hope you enjoy it.`],
  }),
  payment_refunded: (f) => ({
    subject: `A refund for your order ${f.orderId}`,
    lines: [
      f.amount
        ? `We refunded ${formatMoney(f.amount)} for your order ${f.orderId}.`
        : `We refunded a payment for your order ${f.orderId}.`,
      f.fullyRefunded ? 'The payment is now fully refunded.' : 'The rest of the payment stands.',
      'It may take a few days to show on your statement.',
    ],
  }),
};

/**
 * The message of a notification. Every value from an event or a profile is text: escaped in the
 * HTML body, and stripped of line breaks in the subject (a header).
 */
export function renderMail(
  kind: NotificationKind,
  facts: NotificationFacts,
  recipientName: string,
): RenderedMail {
  const { subject, lines } = WORDS[kind](facts);
  const greeting = `Hello ${recipientName},`;
  const footer =
    'You receive this because you shop with us. Opt out of this kind of message in your notification preferences.';
  const text = [greeting, '', ...lines, '', '--', footer, ''].join('\n');
  const html = [
    '<!doctype html>',
    '<html><body style="font-family: sans-serif">',
    `<p>${escapeHtml(greeting)}</p>`,
    ...lines.map((l) => `<p>${escapeHtml(l)}</p>`),
    `<hr><p style="color: #666; font-size: small">${escapeHtml(footer)}</p>`,
    '</body></html>',
    '',
  ].join('\n');
  return { subject: subject.replace(/[\r\n]+/g, ' '), text, html };
}
