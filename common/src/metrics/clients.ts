import client from 'prom-client';

/** What a service client tells /metrics (structural: metrics do not load the HTTP client). */
export interface WatchedClient {
  breaker?: { opened: boolean; halfOpen: boolean };
}

export interface ClientMetrics {
  /** Reports `client`'s breaker as `upstream` (the service it calls: product, auth, order). */
  watch<C extends WatchedClient>(upstream: string, client: C): C;
}

/**
 * client_circuit_open{upstream}: the breaker of each service-to-service client, read on each
 * scrape, as the gateway reports its own (1 open, 0.5 half-open, 0 closed).
 */
export function clientMetrics(registry: client.Registry): ClientMetrics {
  const watched = new Map<string, WatchedClient>();
  new client.Gauge({
    name: 'client_circuit_open',
    help: "1 while a service client's breaker is open (0.5 half-open), by upstream",
    labelNames: ['upstream'] as const,
    registers: [registry],
    collect() {
      for (const [upstream, { breaker }] of watched) {
        if (breaker) this.set({ upstream }, breaker.opened ? 1 : breaker.halfOpen ? 0.5 : 0);
      }
    },
  });
  return {
    watch(upstream, c) {
      watched.set(upstream, c);
      return c;
    },
  };
}
