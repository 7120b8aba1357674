import path from 'node:path';
import type Joi from 'joi';
import { authConfigSchema } from '@ecom/auth-service';
import { commentsConfigSchema } from '@ecom/comments-service';
import { gatewayConfigSchema } from '@ecom/gateway';
import { orderConfigSchema } from '@ecom/order-service';
import { notificationConfigSchema } from '@ecom/notification-service';
import { paymentConfigSchema } from '@ecom/payment-service';
import { productConfigSchema } from '@ecom/product-service';

/**
 * What the deployment descriptions (docker-compose.yml, infrastructure/k8s) are held against:
 * each process built from the repository, its workspace and its configuration schema.
 */
export const repoRoot = path.resolve(__dirname, '../..');

/** Each service and the gateway, by the name compose and Kubernetes give it. */
export const CODE: Record<string, { dir: string; schema: Joi.ObjectSchema }> = {
  auth: { dir: 'services/auth', schema: authConfigSchema },
  product: { dir: 'services/product', schema: productConfigSchema },
  comments: { dir: 'services/comments', schema: commentsConfigSchema },
  payment: { dir: 'services/payment', schema: paymentConfigSchema },
  order: { dir: 'services/order', schema: orderConfigSchema },
  notification: { dir: 'services/notification', schema: notificationConfigSchema },
  gateway: { dir: 'gateway', schema: gatewayConfigSchema },
};

export interface SchemaKey {
  flags?: { default?: unknown; presence?: string };
}

/** The variables a configuration schema reads, with their flags (default, presence). */
export function schemaKeys(schema: Joi.ObjectSchema): Record<string, SchemaKey> {
  return (schema.describe() as { keys: Record<string, SchemaKey> }).keys;
}

/** `FOO_SERVICE_URL` → `foo`: the service an upstream variable names, else undefined. */
export function upstreamOf(variable: string): string | undefined {
  return /^([A-Z]+)_SERVICE_URL$/.exec(variable)?.[1]?.toLowerCase();
}
