import { signAccessToken, type AuthUser, type JwtSignOptions } from '@ecom/common/auth';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { RefreshTokenStore } from '../store/refresh-token-store';

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

/** Issues access tokens (JWT) and refresh tokens (opaque, stored hashed, in families). */
export function createTokenIssuer(settings: TokenSettings, store: RefreshTokenStore) {
  function accessToken(user: AuthUser): string {
    return signAccessToken(user, { ...settings.sign, expiresIn: settings.accessTtlSeconds });
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

  async function saveRefreshToken(
    draft: DraftRefreshToken,
    userId: string,
    familyId: string,
    now: Date,
  ): Promise<void> {
    await store.insert({
      tokenHash: draft.hash,
      userId,
      familyId,
      createdAt: now,
      expiresAt: draft.expiresAt,
    });
  }

  function pair(user: AuthUser, refresh: DraftRefreshToken): TokenPair {
    return {
      accessToken: accessToken(user),
      refreshToken: refresh.token,
      tokenType: 'Bearer',
      expiresIn: settings.accessTtlSeconds,
      refreshTokenExpiresAt: refresh.expiresAt.toISOString(),
    };
  }

  return {
    accessToken,
    draftRefreshToken,
    saveRefreshToken,
    pair,
    /** Tokens for a fresh session (a new token family): login, registration, password change. */
    async newSession(user: AuthUser, now: Date): Promise<TokenPair> {
      const draft = draftRefreshToken(now);
      await saveRefreshToken(draft, user.id, randomUUID(), now);
      return pair(user, draft);
    },
  };
}

export type TokenIssuer = ReturnType<typeof createTokenIssuer>;
