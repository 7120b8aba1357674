import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  UnauthorizedError,
  ValidationError,
} from '@ecom/common/errors';
import { normalisePassword } from '../domain/password-policy';
import { judgeRefreshToken, type RefreshTokenRecord } from '../domain/refresh-token';
import { normaliseEmail, userEventData } from '../domain/user';
import { EmailTakenError, publicUser, type StoredUser } from '../store/user-store';
import { createLoginGuard, newPasswordProblems, policyError } from './credentials';
import { requireAccount, type AccountDeps, type Session } from './deps';
import { hashRefreshToken } from './tokens';

const INVALID_CREDENTIALS = 'Invalid email or password';

/** Registration, login, refresh-token rotation, logout and password change. */
export function createSessions(deps: AccountDeps) {
  const { stores, hasher, tokens, events, now, logger } = deps;
  const { users, refreshTokens } = stores;
  const guard = createLoginGuard(deps);

  function authUser(user: StoredUser) {
    return { id: user.id, role: user.role, email: user.email };
  }

  /**
   * A new session for `user` as read (its session epoch included). Recorded first, then checked
   * against the epoch as committed now: whatever ends the user's sessions raises the epoch before
   * it revokes them, so a session recorded too late for that revocation is found here and ended
   * (docs/adr/0062). Either way no session outlives a logout everywhere, a password or role
   * change, or the account.
   */
  async function session(user: StoredUser, at: Date): Promise<Session> {
    const { tokens: pair, sessionId } = await tokens.newSession(authUser(user), at);
    if ((await users.sessionEpochOf(user.id)) !== user.sessionEpoch) {
      await refreshTokens.revokeFamily(sessionId, at, 'session_ended');
      await tokens.revokeSessions([sessionId]);
      throw new UnauthorizedError(
        'The account changed while signing in (password, role, sign-out everywhere or deletion): sign in again',
        { reason: 'session_ended' },
      );
    }
    return { user: publicUser(user), ...pair };
  }

  return {
    async register(input: { email: string; password: string; name: string }): Promise<Session> {
      const problems = newPasswordProblems(input.password, input);
      if (problems.length > 0) throw policyError('password', problems);
      const email = normaliseEmail(input.email);
      const passwordHash = await hasher.hash(input.password);
      let user: StoredUser;
      try {
        // The user and its user.created commit together (or neither does).
        user = await events.transaction(async () => {
          const created = await users.create({
            email,
            name: input.name,
            role: 'customer',
            passwordHash,
          });
          await events.publish('user.created', userEventData(created));
          return created;
        });
      } catch (err) {
        if (err instanceof EmailTakenError) {
          throw new ConflictError('Email is already registered', { field: 'email' });
        }
        throw err;
      }
      return session(user, now());
    },

    /**
     * `client.ip`: the caller's address (Express's `req.ip`), for the throttling: an address
     * that keeps failing for this account waits; the owner elsewhere does not (docs/adr/0016).
     */
    async login(
      input: { email: string; password: string },
      client: { ip?: string } = {},
    ): Promise<Session> {
      const email = normaliseEmail(input.email);
      const at = now();
      const attempt = await guard.beginLogin(email, client.ip, at);
      const user = await users.findByEmail(email);
      if (!(await guard.passwordMatches(user, input.password)) || !user) {
        const throttled = await guard.failed(attempt, at);
        throw (
          throttled ?? new UnauthorizedError(INVALID_CREDENTIALS, { reason: 'invalid_credentials' })
        );
      }
      await guard.succeeded(attempt);
      if (hasher.needsRehash(user.passwordHash)) {
        // An older scheme or a lower cost than configured: upgrade it now we know the password.
        await users.setPasswordHash(user.id, user.passwordHash, await hasher.hash(input.password), {
          endSessions: false,
        });
      }
      return session(user, at);
    },

    /**
     * Rotation: the presented token is spent and a new one of the same family returned. A
     * session that has ended (logout, logout-all, password or role change, deletion, reuse)
     * answers 401, even when that happens while this runs: no token is handed out that would be
     * refused, and none outlives its session.
     */
    async refresh(refreshToken: string): Promise<Session> {
      const at = now();
      const hash = hashRefreshToken(refreshToken);
      const reuse = async (familyId: string) => {
        const revoked = await refreshTokens.revokeFamily(familyId, at, 'reuse');
        await tokens.revokeSessions([familyId]);
        logger.warn('refresh token reuse detected; token family revoked', { familyId, revoked });
        return new UnauthorizedError(
          'Refresh token was already used: every session of this login has been revoked',
          { reason: 'reused' },
        );
      };
      /** Why a token that cannot be rotated is refused (a reuse revokes its family first). */
      const refusal = async (record: RefreshTokenRecord | null) => {
        const verdict = judgeRefreshToken(record, at);
        if (!verdict.ok && verdict.reason === 'reused' && record) return reuse(record.familyId);
        const reason = verdict.ok ? 'revoked' : verdict.reason;
        return new UnauthorizedError(
          reason === 'expired' ? 'Refresh token has expired' : 'Invalid refresh token',
          { reason },
        );
      };
      const record = await refreshTokens.find(hash);
      if (!record || !judgeRefreshToken(record, at).ok) throw await refusal(record);
      const user = await users.findById(record.userId);
      if (!user) {
        await refreshTokens.revokeFamily(record.familyId, at, 'user_deleted');
        throw new UnauthorizedError('Invalid refresh token', { reason: 'unknown_user' });
      }
      const next = tokens.draftRefreshToken(at);
      const stored = tokens.refreshRecord(next, user.id, record.familyId, at);
      if (!(await refreshTokens.rotate(hash, at, stored))) {
        // Lost to a concurrent refresh (a reuse) or a revocation: the token as it is now says
        // which, so a logout racing this refresh is not taken for theft.
        throw await refusal(await refreshTokens.find(hash));
      }
      // A session already on the revoked list (a role change or deletion lists it before it
      // revokes the tokens) would refuse the new access token: end the family here as well.
      if (await tokens.sessionEnded(record.familyId)) {
        await refreshTokens.revokeFamily(record.familyId, at, 'session_ended');
        throw new UnauthorizedError('Session has ended', { reason: 'revoked' });
      }
      return { user: publicUser(user), ...tokens.pair(authUser(user), next, record.familyId) };
    },

    /**
     * Ends the session the refresh token belongs to, its access tokens included; unknown tokens
     * are fine (idempotent).
     */
    async logout(refreshToken: string): Promise<void> {
      const record = await refreshTokens.find(hashRefreshToken(refreshToken));
      if (!record) return;
      await refreshTokens.revokeFamily(record.familyId, now(), 'logout');
      await tokens.revokeSessions([record.familyId]);
    },

    /** Every session of the user, on every device, access tokens included. */
    async logoutAll(userId: string): Promise<number> {
      const at = now();
      // First, committed: a login in flight then finds its session ended (see session()).
      await users.endSessions(userId);
      const revoked = await refreshTokens.revokeAllForUser(userId, at, 'logout_all');
      await tokens.revokeUserSessions(userId, at);
      return revoked;
    },

    /**
     * Needs the current password (a stolen access token alone cannot take the account over;
     * wrong guesses are throttled per user, apart from logins). Revokes every refresh token and
     * starts one new session for the caller.
     */
    async changePassword(
      userId: string,
      input: { currentPassword: string; newPassword: string },
    ): Promise<Session> {
      const user = await requireAccount(deps, userId);
      const at = now();
      const attempt = await guard.beginPasswordChange(user.id, at);
      if (!(await guard.passwordMatches(user, input.currentPassword))) {
        const throttled = await guard.failed(attempt, at);
        throw (
          throttled ??
          new ForbiddenError('Current password is incorrect', { reason: 'wrong_password' })
        );
      }
      await guard.succeeded(attempt);
      const problems = newPasswordProblems(input.newPassword, user);
      if (problems.length > 0) throw policyError('newPassword', problems);
      if (normalisePassword(input.newPassword) === normalisePassword(input.currentPassword)) {
        throw new ValidationError('New password must differ from the current one', [
          { location: 'body', field: 'newPassword', message: 'must differ from currentPassword' },
        ]);
      }
      const newHash = await hasher.hash(input.newPassword);
      // The epoch rises with the hash, before the revocation (see session()).
      const changed = await users.setPasswordHash(user.id, user.passwordHash, newHash, {
        endSessions: true,
      });
      if (!changed) throw new ConflictError('Password was changed concurrently; try again');
      await refreshTokens.revokeAllForUser(user.id, at, 'password_change');
      // Every other session ends; the caller gets a new one.
      await tokens.revokeUserSessions(user.id, at);
      return session(changed, at);
    },

    /**
     * A session for an existing account without its password, for tools that run inside the
     * platform's own process (the launcher's demo seed). Nothing reachable over HTTP calls it,
     * so it never touches the login throttling. Throws when there is no such account.
     */
    async operatorSession(email: string): Promise<Session> {
      const user = await users.findByEmail(normaliseEmail(email));
      if (!user) throw new NotFoundError(`No account with email ${normaliseEmail(email)}`);
      logger.info('operator session issued', { userId: user.id, role: user.role });
      return session(user, now());
    },
  };
}
