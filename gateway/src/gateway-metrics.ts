import client from 'prom-client';
import { createMetrics, type MetricsAccess } from '@ecom/common/metrics';
import type { Router } from 'express';
import type { UpstreamProxy } from './breaker-proxy';
import type { ClientConnectionCloseReason } from './client-connections';
import { healthyReplicas, upstreamCircuit } from './health';

export interface GatewayMetrics {
  router: Router;
  registry: client.Registry;
  /**
   * Call once per proxied or edge-answered request, when it closes; `status` is 'aborted' for
   * an answer cut before its end.
   */
  observe(upstream: string, method: string, status: number | 'aborted', seconds: number): void;
  rateLimited(bucket: string): void;
  cache(result: 'hit' | 'miss' | 'bypass'): void;
  /** A client connection the gateway closed: too many pipelined requests, or not reading. */
  clientConnectionClosed(reason: ClientConnectionCloseReason): void;
}

/**
 * Prometheus metrics labelled by upstream (not by raw path, so cardinality stays bounded),
 * plus rate-limit rejections, cache results and each breaker's state.
 */
export function createGatewayMetrics(
  proxies: () => UpstreamProxy[],
  access: MetricsAccess = {},
): GatewayMetrics {
  const { registry, router } = createMetrics('gateway', undefined, access);
  const requests = new client.Counter({
    name: 'gateway_requests_total',
    help: 'Requests through the gateway by upstream, method and status',
    labelNames: ['upstream', 'method', 'status'] as const,
    registers: [registry],
  });
  const latency = new client.Histogram({
    name: 'gateway_request_duration_seconds',
    help: 'Latency of requests through the gateway by upstream',
    labelNames: ['upstream'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const limited = new client.Counter({
    name: 'gateway_rate_limited_total',
    help: 'Requests refused with 429 by bucket',
    labelNames: ['bucket'] as const,
    registers: [registry],
  });
  const cacheResults = new client.Counter({
    name: 'gateway_cache_requests_total',
    help: 'Product read cache results',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const closedConnections = new client.Counter({
    name: 'gateway_client_connections_closed_total',
    help: 'Client connections the gateway closed: pipelining (more requests unanswered than allowed), stalled (not reading its answers)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  new client.Gauge({
    name: 'gateway_circuit_open',
    help: "1 while every replica's breaker of an upstream is open (0.5 none closed, one half-open)",
    labelNames: ['upstream'] as const,
    registers: [registry],
    collect() {
      for (const p of proxies()) {
        const circuit = upstreamCircuit(p);
        this.set({ upstream: p.name }, circuit === 'open' ? 1 : circuit === 'half-open' ? 0.5 : 0);
      }
    },
  });
  new client.Gauge({
    name: 'gateway_upstream_healthy_replicas',
    help: 'Replicas of an upstream that take requests now (healthy, breaker not open)',
    labelNames: ['upstream'] as const,
    registers: [registry],
    collect() {
      for (const p of proxies()) this.set({ upstream: p.name }, healthyReplicas(p));
    },
  });
  new client.Gauge({
    name: 'gateway_upstream_replicas',
    help: 'Replicas configured for an upstream',
    labelNames: ['upstream'] as const,
    registers: [registry],
    collect() {
      for (const p of proxies()) this.set({ upstream: p.name }, p.replicas.length);
    },
  });

  return {
    router,
    registry,
    observe(upstream, method, status, seconds) {
      requests.inc({ upstream, method, status: String(status) });
      latency.observe({ upstream }, seconds);
    },
    rateLimited: (bucket) => limited.inc({ bucket }),
    cache: (result) => cacheResults.inc({ result }),
    clientConnectionClosed: (reason) => closedConnections.inc({ reason }),
  };
}
