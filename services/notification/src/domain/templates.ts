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

/**
 * A reason as the mail says it: one of these fixed sentences, picked by the code the reason
 * starts with, or nothing. The event's own text is never copied into a mail. A customer writes
 * the reason of their cancel (and an admin theirs; the event does not say which), a payment
 * provider's decline text can echo what the customer sent it, and accounts are not e-mail
 * verified: copied text would let anyone mail their words to any address (docs/adr/0059).
 */
type ReasonTable = ReadonlyArray<readonly [RegExp, string]>;

const STOCK_REASONS: ReasonTable = [
  [
    /^(inventory rejected: )?INSUFFICIENT_STOCK\b/,
    'An item is not in stock in the quantity ordered.',
  ],
  [
    /^(inventory rejected: )?(UNKNOWN_PRODUCT|PRODUCT_UNAVAILABLE)\b/,
    'An item is no longer available.',
  ],
  [/^(inventory rejected: )?PRICE_CHANGED\b/, 'A price changed while the order was placed.'],
  [/^inventory rejected: /, 'An item could not be reserved.'],
];

/** order.failed reasons: written by the order service from the saga's outcomes. */
const FAILURE_REASONS: ReasonTable = [
  ...STOCK_REASONS,
  [/^payment failed: /, 'The payment did not go through.'],
  [/^PAYMENT_TIMEOUT\b/, 'The payment did not complete in time.'],
  [/^PENDING_TIMEOUT\b/, 'The items could not be reserved in time.'],
];

/**
 * order.cancelled reasons: the system's codes, and the order service's defaults for a cancel
 * that gave no reason. A reason someone typed matches none of them.
 */
const CANCEL_REASONS: ReasonTable = [
  [/^REFUNDED$/, 'The payment was refunded in full.'],
  [/^RESERVATION_EXPIRED$/, 'The payment did not arrive before the items were released.'],
  [/^PAYMENT_TIMEOUT$/, 'The payment did not complete in time.'],
  [/^cancelled by customer$/, 'It was cancelled from your account.'],
  [/^cancelled by admin$/, 'It was cancelled by our staff.'],
];

function reasonLine(table: ReasonTable, reason: string | undefined): string[] {
  if (!reason) return [];
  const known = table.find(([code]) => code.test(reason));
  return known ? [known[1]] : [];
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
      ...reasonLine(FAILURE_REASONS, f.reason),
      'Nothing was charged, or any charge is refunded.',
    ],
  }),
  order_cancelled: (f) => ({
    subject: `Your order ${f.orderId} is cancelled`,
    lines: [
      `Your order ${f.orderId} is cancelled.`,
      ...reasonLine(CANCEL_REASONS, f.reason),
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
 * The message of a notification. It carries no text any account wrote: not the display name
 * (anyone can register any address under any name, so a greeting would deliver their words to
 * it), not a typed reason (above), no product name (sellers write those). What it does carry
 * (ids, amounts, counts) is still escaped in the HTML body and kept to one line in the subject.
 */
export function renderMail(kind: NotificationKind, facts: NotificationFacts): RenderedMail {
  const { subject, lines } = WORDS[kind](facts);
  const greeting = 'Hello,';
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
