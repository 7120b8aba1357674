import type { Role } from '@ecom/common/auth';
import { BusinessRuleError, ForbiddenError, NotFoundError } from '@ecom/common/errors';
import { page, type Page, type PageQuery } from '@ecom/common/http';
import { normaliseEmail, userEventData, type PublicUser } from '../domain/user';
import { EmailTakenError, publicUser, type StoredUser } from '../store/user-store';
import { newPasswordProblems } from './credentials';
import { requireAccount, type AccountDeps } from './deps';

/** What admins do to other accounts, and the first admin from configuration. */
export function createUserAdmin(deps: AccountDeps) {
  const { hasher, events, logger, tokens, now } = deps;
  const { users, refreshTokens, adminGuard } = deps.stores;

  /**
   * The start of an admin's change to another account (`role`: the new one; null: deletion),
   * inside its transaction. The guard first: admin changes then run one at a time (see
   * AdminGuardStore), so the rules hold against what the previous change left: the platform
   * keeps an admin, and the actor is still an admin (one demoted or deleted a moment ago changes
   * nothing). When the account changes, every session of the user ends: its refresh tokens are
   * revoked first, which also stops a refresh in flight (both write the token it spends), then
   * its access tokens, listed after that write so none is missed. Answers the account as it was.
   */
  async function beginAdminChange(
    actorId: string,
    id: string,
    role: Role | null,
    at: Date,
  ): Promise<StoredUser> {
    await adminGuard.take(at);
    // The actor first: one demoted a moment ago learns nothing of who is left.
    const actor = await users.findById(actorId);
    if (actor?.role !== 'admin') {
      throw new ForbiddenError('Requires role: admin', { reason: 'not_admin' });
    }
    const target = await requireAccount(deps, id);
    // The actor is an admin and not the target, so another admin remains: this holds the
    // invariant should that rule ever change.
    if (target.role === 'admin' && role !== 'admin' && (await users.countOtherAdmins(id)) === 0) {
      throw new BusinessRuleError(
        'The platform must keep at least one admin',
        { userId: id },
        'LAST_ADMIN',
      );
    }
    if (target.role === role) return target;
    await refreshTokens.revokeAllForUser(id, at, role === null ? 'user_deleted' : 'role_change');
    // Redis is outside the transaction: a retried attempt revokes again (harmless), and one that
    // then fails leaves sessions ended (refresh refuses them too), never one alive.
    await tokens.revokeUserSessions(id, at);
    return target;
  }

  return {
    /** Oldest first, so pages stay stable while new users register. */
    async listUsers(query: PageQuery & { role?: Role }): Promise<Page<PublicUser>> {
      const { items, total } = await users.list(query);
      return page(items, query, total);
    },

    async getUser(id: string): Promise<PublicUser> {
      return publicUser(await requireAccount(deps, id));
    },

    /**
     * A role change ends every session of the user, refresh tokens included (as a password
     * change does): tokens carry the role, so the new one holds from the user's next login.
     */
    async setRole(actorId: string, id: string, role: Role): Promise<PublicUser> {
      if (actorId === id) {
        // Keeps at least the acting admin: nobody locks the platform out by accident.
        throw new BusinessRuleError(
          'Admins cannot change their own role',
          undefined,
          'SELF_ROLE_CHANGE',
        );
      }
      const at = now();
      const { user, changed } = await events.transaction(async () => {
        const before = await beginAdminChange(actorId, id, role, at);
        if (before.role === role) return { user: before, changed: false };
        const updated = await users.setRole(id, role);
        if (!updated) throw new NotFoundError('User not found');
        await events.publish('user.updated', userEventData(updated));
        return { user: updated, changed: true };
      });
      // Again after the commit, refresh tokens and access tokens: a login that read the old role
      // may have recorded and checked its session before the epoch's raise was committed (one
      // that checks after finds it raised: sessions.ts).
      if (changed) {
        const after = now();
        await refreshTokens.revokeAllForUser(id, after, 'role_change');
        await tokens.revokeUserSessions(id, after);
      }
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
      const at = now();
      // The user, its refresh tokens and user.deleted go together.
      await events.transaction(async () => {
        await beginAdminChange(actorId, id, null, at);
        if (!(await users.delete(id))) throw new NotFoundError('User not found');
        await refreshTokens.deleteAllForUser(id);
        await events.publish('user.deleted', { userId: id });
      });
      // Again after the commit: a login that read the account before it went recorded its
      // session after the revocation above (the login itself ends it if it looks later).
      await tokens.revokeUserSessions(id, now());
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
