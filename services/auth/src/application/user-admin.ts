import type { Role } from '@ecom/common/auth';
import { BusinessRuleError, NotFoundError } from '@ecom/common/errors';
import { page, type Page, type PageQuery } from '@ecom/common/http';
import { normaliseEmail, userEventData, type PublicUser } from '../domain/user';
import { EmailTakenError, publicUser } from '../store/user-store';
import { newPasswordProblems } from './credentials';
import { requireAccount, type AccountDeps } from './deps';

/** What admins do to other accounts, and the first admin from configuration. */
export function createUserAdmin(deps: AccountDeps) {
  const { hasher, events, logger, tokens, now } = deps;
  const { users, refreshTokens } = deps.stores;

  return {
    /** Oldest first, so pages stay stable while new users register. */
    async listUsers(query: PageQuery & { role?: Role }): Promise<Page<PublicUser>> {
      const { items, total } = await users.list(query);
      return page(items, query, total);
    },

    async getUser(id: string): Promise<PublicUser> {
      return publicUser(await requireAccount(deps, id));
    },

    async setRole(actorId: string, id: string, role: Role): Promise<PublicUser> {
      if (actorId === id) {
        // Keeps at least the acting admin: nobody locks the platform out by accident.
        throw new BusinessRuleError(
          'Admins cannot change their own role',
          undefined,
          'SELF_ROLE_CHANGE',
        );
      }
      const before = await requireAccount(deps, id);
      if (before.role === role) return publicUser(before);
      // Tokens carry the role: the user's sessions end before and after the change (a session
      // begun in between holds the old role too), so the new role holds at once everywhere.
      await tokens.revokeUserSessions(id, now());
      const user = await events.transaction(async () => {
        const changed = await users.setRole(id, role);
        if (!changed) throw new NotFoundError('User not found');
        await events.publish('user.updated', userEventData(changed));
        return changed;
      });
      await tokens.revokeUserSessions(id, now());
      return publicUser(user);
    },

    async deleteUser(actorId: string, id: string): Promise<void> {
      if (actorId === id) {
        throw new BusinessRuleError(
          'Admins cannot delete their own account',
          undefined,
          'SELF_DELETE',
        );
      }
      await requireAccount(deps, id);
      // Its sessions end first (their list goes with the refresh tokens), so no token of a
      // deleted account is accepted anywhere.
      await tokens.revokeUserSessions(id, now());
      // The user, its refresh tokens and user.deleted go together.
      await events.transaction(async () => {
        if (!(await users.delete(id))) throw new NotFoundError('User not found');
        await refreshTokens.deleteAllForUser(id);
        await events.publish('user.deleted', { userId: id });
      });
    },

    /**
     * The first admin, from configuration, created only if no user has that email (an
     * existing account is left untouched: its password may have been changed since).
     */
    async seedAdmin(input: {
      email: string;
      password: string;
      name: string;
    }): Promise<'created' | 'exists'> {
      const email = normaliseEmail(input.email);
      const existing = await users.findByEmail(email);
      if (existing) {
        if (existing.role !== 'admin') {
          logger.warn('ADMIN_EMAIL belongs to a non-admin user; left unchanged', {
            userId: existing.id,
          });
        }
        return 'exists';
      }
      const problems = newPasswordProblems(input.password, input);
      if (problems.length > 0) {
        throw new Error(`ADMIN_PASSWORD does not meet the password policy: ${problems.join('; ')}`);
      }
      try {
        const passwordHash = await hasher.hash(input.password);
        const user = await events.transaction(async () => {
          const created = await users.create({
            email,
            name: input.name,
            role: 'admin',
            passwordHash,
          });
          await events.publish('user.created', userEventData(created));
          return created;
        });
        logger.info('admin user seeded', { userId: user.id });
        return 'created';
      } catch (err) {
        // Another instance seeded it first.
        if (err instanceof EmailTakenError) return 'exists';
        throw err;
      }
    },
  };
}
