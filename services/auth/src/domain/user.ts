import type { Role } from '@ecom/common';

/** One spelling per address: `  Alice@Example.COM ` and `alice@example.com` are one user. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

export interface Address {
  line1: string;
  line2?: string;
  city: string;
  postalCode?: string;
  region?: string;
  /** ISO 3166-1 alpha-2. */
  country: string;
}

/** What the API shows of a user: never the password hash or any token material. */
export interface PublicUser {
  id: string;
  email: string;
  name: string;
  role: Role;
  phone?: string;
  address?: Address;
  createdAt: string;
  updatedAt: string;
}

/** The payload of user.created / user.updated (docs/event-contracts). */
export interface UserEventData {
  userId: string;
  email: string;
  name: string;
  role: Role;
}

export function userEventData(
  user: Pick<PublicUser, 'id' | 'email' | 'name' | 'role'>,
): UserEventData {
  return { userId: user.id, email: user.email, name: user.name, role: user.role };
}

/** bcrypt hashes carry their cost: `$2b$12$...` (after the scheme prefix, if any). */
export function bcryptCost(hash: string): number | undefined {
  const match = /^(?:[a-z0-9-]+\$)?\$2[aby]\$(\d{2})\$/.exec(hash);
  return match ? Number(match[1]) : undefined;
}
