import { NotFoundError } from '@ecom/common/errors';
import type { Logger } from '@ecom/common/logging';
import type { OutboxEventPublisher } from '@ecom/common/mongo';
import type { ThrottlePolicy } from '../domain/login-throttle';
import type { PublicUser } from '../domain/user';
import type { AuthStores } from '../store';
import type { StoredUser } from '../store/user-store';
import type { PasswordHasher } from './password-hasher';
import type { TokenIssuer, TokenPair } from './tokens';

/** What every use case of the auth service works with. */
export interface AccountDeps {
  stores: AuthStores;
  hasher: PasswordHasher;
  tokens: TokenIssuer;
  events: OutboxEventPublisher;
  /** Login and password-change throttling (docs/adr/0016). */
  throttle: ThrottlePolicy;
  now: () => Date;
  logger: Logger;
}

/** Register, login, refresh, password change: the user and a fresh token pair. */
export type Session = TokenPair & { user: PublicUser };

export async function requireAccount(deps: AccountDeps, id: string): Promise<StoredUser> {
  const user = await deps.stores.users.findById(id);
  if (!user) throw new NotFoundError('User not found');
  return user;
}
