import {
  sessionRevoked,
  signAccessToken,
  type AuthUser,
  type JwtSignOptions,
  type SessionRevocations,
} from '@ecom/common/auth';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from '@ecom/common/logging';
import type { NewRefreshToken, RefreshTokenStore } from '../store/refresh-token-store';

/**
 * Refresh tokens are opaque random strings; only their SHA-256 is stored, so a database
 * leak yields nothing usable. (A fast hash is enough: 256 random bits cannot be guessed.)
 */
export function generateRefreshToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export interface TokenSettings {
  sign: Omit<JwtSignOptions, 'expiresIn'>;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  /** Access token lifetime in seconds. */
  expiresIn: number;
  refreshTokenExpiresAt: string;
}

/** A refresh token not stored yet: its hash is known before the old token is claimed. */
export interface DraftRefreshToken {
  token: string;
  hash: string;
  expiresAt: Date;
}

/**
 * Issues access tokens (JWT) and refresh tokens (opaque, stored hashed, in families), and ends
 * sessions. A family is a session: its access tokens carry its id (`sid`), so revoking the
 * family's id refuses them everywhere at once.
 */
export function createTokenIssuer(
  settings: TokenSettings,
  store: RefreshTokenStore,
  revocations?: SessionRevocations,
  logger?: Logger,
) {
  // Kept a minute past the access tokens' lifetime, for clocks a little apart.
  const revocationTtlSeconds = settings.accessTtlSeconds + 60;

  function accessToken(user: AuthUser, sessionId?: string): string {
    return signAccessToken(
      user,
      { ...settings.sign, expiresIn: settings.accessTtlSeconds },
      sessionId,
    );
  }

  async function revokeSessions(sessionIds: string[]): Promise<void> {
    if (revocations && sessionIds.length > 0)
      await revocations.revoke(sessionIds, revocationTtlSeconds);
  }

  function draftRefreshToken(now: Date): DraftRefreshToken {
    const token = generateRefreshToken();
    return {
      token,
      hash: hashRefreshToken(token),
      // Sliding: each rotation gives the session another full refresh lifetime.
      expiresAt: new Date(now.getTime() + settings.refreshTtlSeconds * 1000),
    };
  }

  /** The stored form of a drafted token. */
  function refreshRecord(
    draft: DraftRefreshToken,
    userId: string,
    familyId: string,
    now: Date,
  ): NewRefreshToken {
    return { tokenHash: draft.hash, userId, familyId, createdAt: now, expiresAt: draft.expiresAt };
  }

  function pair(user: AuthUser, refresh: DraftRefreshToken, sessionId: string): TokenPair {
    return {
      accessToken: accessToken(user, sessionId),
      refreshToken: refresh.token,
      tokenType: 'Bearer',
      expiresIn: settings.accessTtlSeconds,
      refreshTokenExpiresAt: refresh.expiresAt.toISOString(),
    };
  }

  return {
    accessToken,
    draftRefreshToken,
    refreshRecord,
    pair,
    revokeSessions,
    /**
     * Whether the session is on the revoked-session list. Unreadable list: false, as every
     * verifier decides (docs/adr/0015).
     */
    sessionEnded: (sessionId: string): Promise<boolean> =>
      sessionRevoked(revocations, sessionId, logger),
    /** Ends every session of the user whose access tokens may still be alive. */
    async revokeUserSessions(userId: string, now: Date): Promise<void> {
      const since = new Date(now.getTime() - revocationTtlSeconds * 1000);
      await revokeSessions(await store.familiesIssuedSince(userId, since));
    },
    /** Tokens for a fresh session (a new token family): login, registration, password change. */
    async newSession(user: AuthUser, now: Date): Promise<{ tokens: TokenPair; sessionId: string }> {
      const draft = draftRefreshToken(now);
      const familyId = randomUUID();
      await store.insert(refreshRecord(draft, user.id, familyId, now));
      return { tokens: pair(user, draft, familyId), sessionId: familyId };
    },
  };
}

export type TokenIssuer = ReturnType<typeof createTokenIssuer>;
