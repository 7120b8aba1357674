/**
 * Prices travel as decimals (19.99) at the API and as integer minor units (1999) everywhere
 * else, so no arithmetic ever happens on floats. Every supported currency has two decimals.
 */
export const MAX_PRICE_CENTS = 100_000_000; // 1,000,000.00

const DECIMAL = /^(0|[1-9]\d{0,8})(\.\d{1,2})?$/;

/**
 * Exact conversion of a decimal price to cents, or undefined when the value has more than
 * two decimals, is not positive or not finite. Works on the decimal text of the number
 * (JSON `19.99` parses to the double nearest 19.99, whose shortest text is "19.99").
 */
export function decimalToCents(value: number): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  const match = DECIMAL.exec(String(value));
  if (!match) return undefined;
  const whole = Number(match[1]);
  const fraction = (match[2] ?? '.').slice(1).padEnd(2, '0');
  return whole * 100 + Number(fraction);
}

/** Cents back to the decimal the API shows (1999 → 19.99; the double prints as "19.99"). */
export function centsToDecimal(cents: number): number {
  return Number(`${Math.trunc(cents / 100)}.${String(Math.abs(cents % 100)).padStart(2, '0')}`);
}
