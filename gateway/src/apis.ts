import Joi from 'joi';
import { authApi } from '@ecom/auth-service/api';
import { commentsApi } from '@ecom/comments-service/api';
import { notificationApi } from '@ecom/notification-service/api';
import { orderApi } from '@ecom/order-service/api';
import { paymentApi } from '@ecom/payment-service/api';
import { productApi } from '@ecom/product-service/api';
import { defineApi, type ApiSpec } from '@ecom/common/http';
import { openApiDocument, openApiFragment } from '@ecom/common/openapi';

/**
 * The services behind the gateway, by their API specs: routing, the public-route rule, the
 * rate-limit buckets and /docs are all read from these.
 */
export const SERVICE_APIS: readonly ApiSpec[] = [
  authApi,
  productApi,
  commentsApi,
  paymentApi,
  orderApi,
  notificationApi,
];

/** The gateway's own routes (answered by the gateway itself). */
export const gatewayApi = defineApi({
  service: 'gateway',
  tag: { name: 'Gateway', description: 'Health, metrics and these docs' },
  prefixes: ['/health', '/metrics', '/docs'],
  operations: {
    health: {
      method: 'get',
      path: '/health',
      summary:
        "Readiness of every service, with latency and breaker state (503 when one is down); in production the replicas' addresses only with the metrics token",
      access: 'public',
      response: { status: 200, description: 'All up', schema: Joi.object().unknown(true) },
    },
    live: {
      method: 'get',
      path: '/health/live',
      summary: 'The gateway process answers',
      access: 'public',
      response: { status: 200, description: 'Alive', schema: Joi.object().unknown(true) },
    },
    ready: {
      method: 'get',
      path: '/health/ready',
      summary: "The gateway's own dependencies (Redis)",
      access: 'public',
      response: { status: 200, description: 'Ready', schema: Joi.object().unknown(true) },
    },
    metrics: {
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics (text exposition format)',
      access: 'public',
      response: { status: 200, description: 'Metrics' },
    },
    docs: {
      method: 'get',
      path: '/docs/openapi.json',
      summary: 'This document',
      access: 'public',
      response: { status: 200, description: 'OpenAPI 3', schema: Joi.object().unknown(true) },
    },
  },
});

/** The whole public API as seen through the gateway, from the services' own specs. */
export function apiDocument(apis: readonly ApiSpec[], serverUrl = '/'): Record<string, unknown> {
  return openApiDocument({
    title: 'E-commerce platform API',
    version: '0.1.0',
    description:
      'Every route goes through the API gateway. Errors always have the shape ' +
      '`{ "error": { "code", "message", "details", "requestId" } }`. Lists answer ' +
      '`{ items, page, limit, total, totalPages }` (`page` from 1, `limit` 1..100, default 20; ' +
      'a list anyone may call is paged through its first 10,000 results), ' +
      'but the public append-only logs answer `{ items, limit, next, hasMore }` (read on with ' +
      '`after=next`); ' +
      'money is `{ amount, currency }` in integer minor units; DELETE answers 204; a 201 carries ' +
      'Location; a service or store that is down answers 503 DEPENDENCY_UNAVAILABLE. Rate-limit ' +
      'state is in the `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` headers.',
    serverUrl,
    fragments: [openApiFragment(gatewayApi), ...apis.map(openApiFragment)],
  });
}
