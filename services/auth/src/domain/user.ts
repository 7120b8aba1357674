import type { Role } from '@ecom/common/auth';
import type { EventData } from '@ecom/common/events';
import type { Address } from '@ecom/common/http';

/**
 * One spelling per address: `  Alice@Example.COM ` and `alice@example.com` are one user, and
 * so are `café` typed composed or decomposed and `ｋａｔｅ` in fullwidth letters (NFKC before
 * lower-casing; plain ASCII is unchanged).
 */
export function normaliseEmail(email: string): string {
  return email.normalize('NFKC').trim().toLowerCase();
}

/**
 * Characters an address may not hold (after normaliseEmail): controls, format characters
 * (zero-width spaces and joiners, bidi overrides, soft hyphen), other invisible ones and
 * whitespace. They let one address look like another, so they are refused, never stripped.
 */
const HIDDEN_IN_EMAIL = /[\p{Cc}\p{Cf}\p{Cs}\p{Default_Ignorable_Code_Point}\s]/u;

export function emailHasHiddenCharacters(email: string): boolean {
  return HIDDEN_IN_EMAIL.test(email);
}

/** The platform's postal address without a recipient: a profile's address takes its name. */
export type ProfileAddress = Omit<Address, 'name'>;

/** What the API shows of a user: never the password hash or any token material. */
export interface PublicUser {
  id: string;
  email: string;
  name: string;
  role: Role;
  phone?: string;
  address?: ProfileAddress;
  createdAt: string;
  updatedAt: string;
}

/** The payload of user.created and user.updated, exactly the contract's fields. */
export function userEventData(
  user: Pick<PublicUser, 'id' | 'email' | 'name' | 'role'>,
): EventData<'user.created'> {
  return { userId: user.id, email: user.email, name: user.name, role: user.role };
}

/** bcrypt hashes carry their cost: `$2b$12$...` (after the scheme prefix, if any). */
export function bcryptCost(hash: string): number | undefined {
  const match = /^(?:[a-z0-9-]+\$)?\$2[aby]\$(\d{2})\$/.exec(hash);
  return match ? Number(match[1]) : undefined;
}
