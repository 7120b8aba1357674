import type { AccountDeps } from './deps';
import { createProfiles } from './profiles';
import { createSessions } from './sessions';
import { createUserAdmin } from './user-admin';

/**
 * The use cases of the auth service in one object: HTTP handlers and in-process tools (the
 * launcher's `accounts.operatorSession`) call these; they apply the domain rules and talk to
 * the stores. Nothing here knows Express.
 */
export function createAccounts(deps: AccountDeps) {
  return {
    ...createSessions(deps),
    ...createProfiles(deps),
    ...createUserAdmin(deps),
  };
}

export type Accounts = ReturnType<typeof createAccounts>;
export type { AccountDeps, Session } from './deps';
