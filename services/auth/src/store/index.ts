import type { Connection } from 'mongoose';
import { createAdminGuardStore, type AdminGuardStore } from './admin-guard-store';
import { createLoginAttemptStore, type LoginAttemptStore } from './login-attempt-store';
import { createRefreshTokenStore, type RefreshTokenStore } from './refresh-token-store';
import { createUserStore, type UserStore } from './user-store';

export interface AuthStores {
  users: UserStore;
  refreshTokens: RefreshTokenStore;
  loginAttempts: LoginAttemptStore;
  adminGuard: AdminGuardStore;
}

/** Models on the service's own connection, with their indexes built. */
export async function createAuthStores(connection: Connection): Promise<AuthStores> {
  const stores = {
    users: createUserStore(connection),
    refreshTokens: createRefreshTokenStore(connection),
    loginAttempts: createLoginAttemptStore(connection),
    adminGuard: createAdminGuardStore(connection),
  };
  await Promise.all(Object.values(stores).map((store) => store.init()));
  return stores;
}

export { EmailTakenError, publicUser, type StoredUser, type ProfileChanges } from './user-store';
