import client from 'prom-client';

/**
 * One read shared by every gauge that a scrape collects from it: the first collect starts it,
 * the others of the same scrape reuse it (a read younger than `maxAgeMs`).
 */
export function sharedRead<T>(read: () => Promise<T>, maxAgeMs = 1000): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at > maxAgeMs) {
      const value = read();
      // A failed read is not kept: the next scrape asks again.
      value.catch(() => (last = undefined));
      last = { at: now, value };
    }
    return last.value;
  };
}

/** A gauge set on every scrape; a read that fails leaves no value of its own in that scrape. */
export function gaugeOnScrape<L extends string>(
  registry: client.Registry,
  spec: { name: string; help: string; labelNames?: readonly L[] },
  collect: (
    set: (value: number, labels?: Partial<Record<L, string>>) => void,
  ) => Promise<void> | void,
): client.Gauge<L> {
  return new client.Gauge<L>({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames ?? [],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        await collect((value, labels) => (labels ? this.set(labels, value) : this.set(value)));
      } catch {
        // The store is down: no sample rather than a stale one (the health checks say why); a
        // gauge without labels always prints one, so it says NaN (unknown), never a false 0.
        if (!spec.labelNames?.length) this.set(NaN);
      }
    },
  });
}

/**
 * A counter that follows a running total kept elsewhere (the anchorer's own counts): each
 * scrape adds what the total grew by since the last one.
 */
export function counterFollowing(
  registry: client.Registry,
  spec: { name: string; help: string },
  total: () => number,
): client.Counter {
  let seen = 0;
  return new client.Counter({
    name: spec.name,
    help: spec.help,
    registers: [registry],
    collect() {
      const now = total();
      if (now > seen) this.inc(now - seen);
      seen = Math.max(seen, now);
    },
  });
}
