import Joi from 'joi';
import { createServiceClient, type ServiceClient } from '@ecom/common/client';
import { AppError, DependencyUnavailableError, UnauthorizedError } from '@ecom/common/errors';
import { shippingAddressSchema } from '@ecom/common/http';
import type { ShippingAddress } from '../domain/types';

/**
 * Where an order's shipping address comes from when the request has none: the customer's
 * profile in the auth service, read with the customer's own token (so auth applies its own
 * access rules and the order service needs no credentials of its own).
 */
export interface ProfileDirectory {
  /** The profile's name and address as a shipping address; null when the profile has no address. */
  shippingAddress(credentials: string): Promise<ShippingAddress | null>;
}

// What we rely on from GET /api/auth/profile; other fields are ignored.
const profileSchema = Joi.object({
  name: Joi.string().max(200).required(),
  address: Joi.object({
    line1: Joi.string().max(200).required(),
    line2: Joi.string().max(200).allow(''),
    city: Joi.string().max(100).required(),
    postalCode: Joi.string().max(20),
    region: Joi.string().max(100),
    country: Joi.string().length(2).required(),
  })
    .unknown(true)
    .allow(null),
}).unknown(true);

type Profile = {
  name: string;
  address?: {
    line1: string;
    line2?: string;
    city: string;
    postalCode?: string;
    region?: string;
    country: string;
  } | null;
};

export function shippingAddressFromProfile(raw: unknown): ShippingAddress | null {
  const { value, error } = profileSchema.validate(raw);
  if (error) {
    throw new DependencyUnavailableError(
      'auth-service',
      'auth service answered an unusable profile',
    );
  }
  const profile = value as Profile;
  const a = profile.address;
  if (!a) return null;
  const address = {
    name: profile.name,
    line1: a.line1,
    ...(a.line2 ? { line2: a.line2 } : {}),
    city: a.city,
    ...(a.region ? { region: a.region } : {}),
    ...(a.postalCode ? { postalCode: a.postalCode } : {}),
    country: a.country,
  };
  // Held to the rules of an address sent with the order: one saved before a rule was added
  // (a bidirectional override, say) is not printed on a receipt, and the customer is asked for
  // one (SHIPPING_ADDRESS_REQUIRED).
  const { value: shippable, error: unusable } = shippingAddressSchema.validate(address);
  return unusable ? null : (shippable as ShippingAddress);
}

/** The common client (timeout, retries, breaker, replicas) on the auth service. */
export function createAuthClient(
  baseUrl: string | readonly string[],
  options: { timeoutMs?: number } = {},
): ServiceClient {
  return createServiceClient({
    name: 'auth-service',
    baseUrl,
    timeoutMs: options.timeoutMs ?? 2000,
    retries: 1,
  });
}

/** Reads profiles through the common client (timeout, retries, breaker). */
export function createProfileDirectory(
  baseUrl: string | readonly string[],
  options: { timeoutMs?: number; client?: ServiceClient } = {},
): ProfileDirectory {
  const client = options.client ?? createAuthClient(baseUrl, options);
  return {
    async shippingAddress(credentials) {
      let response;
      try {
        response = await client.get<unknown>('/api/auth/profile', {
          authorization: `Bearer ${credentials}`,
        });
      } catch (err) {
        if (err instanceof AppError && err.status === 504) {
          throw new DependencyUnavailableError('auth-service', 'auth service timed out');
        }
        throw err;
      }
      // The account is gone (deleted since the token was issued): it has no address.
      if (response.status === 404) return null;
      if (response.status === 401) {
        throw new UnauthorizedError('The auth service refused this token', { reason: 'profile' });
      }
      if (response.status !== 200) {
        throw new DependencyUnavailableError('auth-service', 'auth service refused the read', {
          status: response.status,
        });
      }
      return shippingAddressFromProfile(response.body);
    },
  };
}
