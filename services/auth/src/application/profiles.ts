import { NotFoundError } from '@ecom/common/errors';
import { userEventData, type PublicUser } from '../domain/user';
import { publicUser, type ProfileChanges } from '../store/user-store';
import { requireAccount, type AccountDeps } from './deps';

/** The caller's own profile: name, phone, address. */
export function createProfiles(deps: AccountDeps) {
  const { users } = deps.stores;
  return {
    async profile(userId: string): Promise<PublicUser> {
      return publicUser(await requireAccount(deps, userId));
    },

    async updateProfile(userId: string, changes: ProfileChanges): Promise<PublicUser> {
      const user = await deps.events.transaction(async () => {
        const changed = await users.updateProfile(userId, changes);
        if (!changed) throw new NotFoundError('User not found');
        await deps.events.publish('user.updated', userEventData(changed));
        return changed;
      });
      return publicUser(user);
    },
  };
}
