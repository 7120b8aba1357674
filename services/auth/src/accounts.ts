import {
  BusinessRuleError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  RateLimitedError,
  UnauthorizedError,
  ValidationError,
  type Logger,
  type Role,
} from '@ecom/common';
import {
  checkLock,
  isStale,
  lockAfterFailure,
  retryAfterSeconds,
  type LockoutPolicy,
} from './domain/lockout';
import {
  isVerifiablePassword,
  normalisePassword,
  passwordPolicyViolations,
} from './domain/password-policy';
import { hashRefreshToken, judgeRefreshToken } from './domain/refresh-token';
import { normaliseEmail, userEventData, type PublicUser } from './domain/user';
import type { UserEventPublisher } from './events';
import type { PasswordHasher } from './security/password-hasher';
import type { TokenIssuer, TokenPair } from './security/tokens';
import type { AuthStores } from './store';
import {
  EmailTakenError,
  publicUser,
  type ProfileChanges,
  type StoredUser,
} from './store/user-store';

export interface AccountDeps {
  stores: AuthStores;
  hasher: PasswordHasher;
  tokens: TokenIssuer;
  events: UserEventPublisher;
  lockout: LockoutPolicy;
  now: () => Date;
  logger: Logger;
}

export type Session = TokenPair & { user: PublicUser };

function policyError(field: string, problems: string[]): ValidationError {
  return new ValidationError(
    `Password does not meet the policy: ${problems.join('; ')}`,
    problems.map((message) => ({ location: 'body', field, message })),
  );
}

const INVALID_CREDENTIALS = 'Invalid email or password';

/**
 * The use cases of the auth service: HTTP handlers call these, these apply the domain rules
 * and talk to the stores. Nothing here knows Express.
 */
export function createAccounts(deps: AccountDeps) {
  const { stores, hasher, tokens, events, lockout, now, logger } = deps;
  const { users, refreshTokens, loginAttempts } = stores;

  function authUser(user: StoredUser) {
    return { id: user.id, role: user.role, email: user.email };
  }

  async function session(user: StoredUser, at: Date): Promise<Session> {
    return { user: publicUser(user), ...(await tokens.newSession(authUser(user), at)) };
  }

  function lockedError(seconds: number): RateLimitedError {
    return new RateLimitedError(
      seconds,
      'Too many failed login attempts: the account is temporarily locked',
      { reason: 'account_locked', retryAfterSeconds: seconds },
    );
  }

  /** Refuses at once while the email is locked; stale failures start over. */
  async function assertNotLocked(email: string, at: Date): Promise<void> {
    const state = await loginAttempts.get(email);
    if (!state) return;
    if (isStale(state, at, lockout)) {
      await loginAttempts.resetIfUnchanged(email, state);
      return;
    }
    const lock = checkLock(state, at);
    if (lock.locked) throw lockedError(lock.retryAfterSeconds);
  }

  /** Counts a failure; the one that reaches the threshold locks and answers 429 itself. */
  async function recordFailure(email: string, at: Date): Promise<RateLimitedError | undefined> {
    const keep = new Date(at.getTime() + Math.max(lockout.failureWindowMs, lockout.lockoutMs));
    const failures = await loginAttempts.recordFailure(email, at, keep);
    const until = lockAfterFailure(failures, at, lockout);
    if (!until) return undefined;
    await loginAttempts.lock(email, until, new Date(until.getTime() + lockout.failureWindowMs));
    logger.warn('account locked after repeated login failures', { failures });
    return lockedError(retryAfterSeconds(until, at));
  }

  /**
   * bcrypt always runs once: against the user's hash, or against a dummy hash of the same
   * cost when there is no such user, so both failures look and last the same.
   */
  async function passwordMatches(user: StoredUser | null, password: string): Promise<boolean> {
    const matches = await hasher.compare(password, user?.passwordHash ?? hasher.dummyHash);
    return matches && user !== null && isVerifiablePassword(password);
  }

  async function requireUser(id: string): Promise<StoredUser> {
    const user = await users.findById(id);
    if (!user) throw new NotFoundError('User not found');
    return user;
  }

  return {
    async register(input: { email: string; password: string; name: string }): Promise<Session> {
      const problems = passwordPolicyViolations(input.password, input);
      if (problems.length > 0) throw policyError('password', problems);
      const email = normaliseEmail(input.email);
      const passwordHash = await hasher.hash(input.password);
      let user: StoredUser;
      try {
        user = await users.create({ email, name: input.name, role: 'customer', passwordHash });
      } catch (err) {
        if (err instanceof EmailTakenError) {
          throw new ConflictError('Email is already registered', { field: 'email' });
        }
        throw err;
      }
      await events.publish({ type: 'user.created', data: userEventData(user) });
      return session(user, now());
    },

    async login(input: { email: string; password: string }): Promise<Session> {
      const email = normaliseEmail(input.email);
      const at = now();
      await assertNotLocked(email, at);
      const user = await users.findByEmail(email);
      if (!(await passwordMatches(user, input.password)) || !user) {
        const locked = await recordFailure(email, at);
        throw (
          locked ?? new UnauthorizedError(INVALID_CREDENTIALS, { reason: 'invalid_credentials' })
        );
      }
      await loginAttempts.clear(email);
      if (hasher.needsRehash(user.passwordHash)) {
        // An older scheme or a lower cost than configured: upgrade it now we know the password.
        await users.setPasswordHash(user.id, user.passwordHash, await hasher.hash(input.password));
      }
      return session(user, at);
    },

    /** Rotation: the presented token is spent and a new one of the same family returned. */
    async refresh(refreshToken: string): Promise<Session> {
      const at = now();
      const hash = hashRefreshToken(refreshToken);
      const record = await refreshTokens.find(hash);
      const verdict = judgeRefreshToken(record, at);
      const reuse = async (familyId: string) => {
        const revoked = await refreshTokens.revokeFamily(familyId, at, 'reuse');
        logger.warn('refresh token reuse detected; token family revoked', { familyId, revoked });
        return new UnauthorizedError(
          'Refresh token was already used: every session of this login has been revoked',
          { reason: 'reused' },
        );
      };
      if (!verdict.ok) {
        if (verdict.reason === 'reused' && record) throw await reuse(record.familyId);
        throw new UnauthorizedError(
          verdict.reason === 'expired' ? 'Refresh token has expired' : 'Invalid refresh token',
          { reason: verdict.reason },
        );
      }
      if (!record) throw new UnauthorizedError('Invalid refresh token', { reason: 'unknown' });
      const user = await users.findById(record.userId);
      if (!user) {
        await refreshTokens.revokeFamily(record.familyId, at, 'user_deleted');
        throw new UnauthorizedError('Invalid refresh token', { reason: 'unknown_user' });
      }
      const next = tokens.draftRefreshToken(at);
      // Of two concurrent refreshes with one token only one claims it; the other is a reuse.
      if (!(await refreshTokens.claim(hash, at, next.hash))) throw await reuse(record.familyId);
      await tokens.saveRefreshToken(next, user.id, record.familyId, at);
      return { user: publicUser(user), ...tokens.pair(authUser(user), next) };
    },

    /** Ends the session the refresh token belongs to; unknown tokens are fine (idempotent). */
    async logout(refreshToken: string): Promise<void> {
      const record = await refreshTokens.find(hashRefreshToken(refreshToken));
      if (record) await refreshTokens.revokeFamily(record.familyId, now(), 'logout');
    },

    /** Every session of the user, on every device. */
    async logoutAll(userId: string): Promise<number> {
      return refreshTokens.revokeAllForUser(userId, now(), 'logout_all');
    },

    async profile(userId: string): Promise<PublicUser> {
      return publicUser(await requireUser(userId));
    },

    async updateProfile(userId: string, changes: ProfileChanges): Promise<PublicUser> {
      const user = await users.updateProfile(userId, changes);
      if (!user) throw new NotFoundError('User not found');
      await events.publish({ type: 'user.updated', data: userEventData(user) });
      return publicUser(user);
    },

    /**
     * Needs the current password (a stolen access token alone cannot take the account over;
     * wrong guesses count towards the lockout). Revokes every refresh token and starts one
     * new session for the caller.
     */
    async changePassword(
      userId: string,
      input: { currentPassword: string; newPassword: string },
    ): Promise<Session> {
      const user = await requireUser(userId);
      const at = now();
      await assertNotLocked(user.email, at);
      if (!(await passwordMatches(user, input.currentPassword))) {
        const locked = await recordFailure(user.email, at);
        throw (
          locked ??
          new ForbiddenError('Current password is incorrect', { reason: 'wrong_password' })
        );
      }
      const problems = passwordPolicyViolations(input.newPassword, user);
      if (problems.length > 0) throw policyError('newPassword', problems);
      if (normalisePassword(input.newPassword) === normalisePassword(input.currentPassword)) {
        throw new ValidationError('New password must differ from the current one', [
          { location: 'body', field: 'newPassword', message: 'must differ from currentPassword' },
        ]);
      }
      const newHash = await hasher.hash(input.newPassword);
      if (!(await users.setPasswordHash(user.id, user.passwordHash, newHash))) {
        throw new ConflictError('Password was changed concurrently; try again');
      }
      await loginAttempts.clear(user.email);
      await refreshTokens.revokeAllForUser(user.id, at, 'password_change');
      return session(user, at);
    },

    async listUsers(query: { page: number; limit: number; role?: Role }) {
      const { items, total } = await users.list(query);
      return {
        items,
        page: query.page,
        limit: query.limit,
        total,
        totalPages: Math.ceil(total / query.limit),
      };
    },

    async getUser(id: string): Promise<PublicUser> {
      return publicUser(await requireUser(id));
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
      const before = await requireUser(id);
      if (before.role === role) return publicUser(before);
      const user = await users.setRole(id, role);
      if (!user) throw new NotFoundError('User not found');
      await events.publish({ type: 'user.updated', data: userEventData(user) });
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
      if (!(await users.delete(id))) throw new NotFoundError('User not found');
      await refreshTokens.deleteAllForUser(id);
      await events.publish({ type: 'user.deleted', data: { userId: id } });
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
      const problems = passwordPolicyViolations(input.password, input);
      if (problems.length > 0) {
        throw new Error(`ADMIN_PASSWORD does not meet the password policy: ${problems.join('; ')}`);
      }
      try {
        const user = await users.create({
          email,
          name: input.name,
          role: 'admin',
          passwordHash: await hasher.hash(input.password),
        });
        await events.publish({ type: 'user.created', data: userEventData(user) });
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

export type Accounts = ReturnType<typeof createAccounts>;
