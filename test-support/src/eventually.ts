export interface EventuallyOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Names the condition in the error when it never holds. */
  what?: string;
}

/**
 * Polls `fn` until it returns a truthy value (a thrown error counts as "not yet"), and returns
 * that value; after `timeoutMs` it throws the last error, or one naming the condition and the
 * last value seen.
 */
export async function eventually<T>(
  fn: () => Promise<T> | T,
  { timeoutMs = 10_000, intervalMs = 20, what = 'condition' }: EventuallyOptions = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value as NonNullable<T>;
      last = new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw last instanceof Error ? last : new Error(String(last));
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
