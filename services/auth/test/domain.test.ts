import {
  characterClasses,
  isVerifiablePassword,
  passwordPolicyViolations,
} from '../src/domain/password-policy';
import { checkLock, isStale, lockAfterFailure, retryAfterSeconds } from '../src/domain/lockout';
import {
  generateRefreshToken,
  hashRefreshToken,
  judgeRefreshToken,
} from '../src/domain/refresh-token';
import { parseDurationSeconds } from '../src/domain/duration';
import { bcryptCost, needsRehash, normaliseEmail, userEventData } from '../src/domain/user';

describe('password policy', () => {
  it('accepts a password of 8+ characters mixing two classes', () => {
    expect(passwordPolicyViolations('abcdefg1')).toEqual([]);
    expect(passwordPolicyViolations('correct horse')).toEqual([]); // letters + space (symbol)
    expect(passwordPolicyViolations('ÄÖÜäöüßx')).toEqual([]); // upper + lower outside ASCII
  });

  it('refuses fewer than 8 characters, counting characters not bytes', () => {
    expect(passwordPolicyViolations('Ab1!xyz')).toEqual([
      'Password must be at least 8 characters long',
    ]);
    // 7 two-byte characters are 14 bytes but still only 7 characters.
    expect(passwordPolicyViolations('ÄäÖöÜüß')).toContain(
      'Password must be at least 8 characters long',
    );
  });

  it('refuses more than 72 bytes (bcrypt would silently ignore the rest)', () => {
    expect(passwordPolicyViolations('a1'.repeat(36))).toEqual([]); // exactly 72 bytes
    expect(passwordPolicyViolations('a1'.repeat(36) + 'b')).toEqual([
      'Password must be at most 72 bytes long (UTF-8)',
    ]);
    // 37 three-byte characters: 37 characters, 111 bytes.
    expect(passwordPolicyViolations('€'.repeat(36) + 'a')).toContain(
      'Password must be at most 72 bytes long (UTF-8)',
    );
  });

  it('refuses a password of a single character class, naming the classes', () => {
    for (const weak of ['abcdefghij', 'ABCDEFGHIJ', '1234567890', '!@#$%^&*()']) {
      const problems = passwordPolicyViolations(weak);
      expect(problems).toEqual([
        'Password must mix at least two of: lowercase letters, uppercase letters, digits, symbols',
      ]);
    }
  });

  it('reports every broken rule at once', () => {
    expect(passwordPolicyViolations('abc')).toHaveLength(2);
    expect(passwordPolicyViolations('')).toEqual(['Password must be at least 8 characters long']);
  });

  it('names the classes present', () => {
    expect(characterClasses('aB3$')).toEqual([
      'lowercase letters',
      'uppercase letters',
      'digits',
      'symbols',
    ]);
    expect(characterClasses('abc')).toEqual(['lowercase letters']);
  });

  it('knows which passwords can ever match a stored hash', () => {
    expect(isVerifiablePassword('x'.repeat(72))).toBe(true);
    expect(isVerifiablePassword('x'.repeat(73))).toBe(false);
    expect(isVerifiablePassword('')).toBe(false);
  });
});

describe('lockout', () => {
  const policy = { maxFailures: 3, lockoutMs: 60_000, failureWindowMs: 120_000 };
  const t0 = new Date('2026-01-01T00:00:00Z');
  const later = (ms: number) => new Date(t0.getTime() + ms);

  it('is unlocked without state or once the lock has passed', () => {
    expect(checkLock(null, t0)).toEqual({ locked: false });
    expect(checkLock({ failures: 0, lockedUntil: t0 }, t0)).toEqual({ locked: false });
    expect(checkLock({ failures: 0, lockedUntil: later(-1) }, t0)).toEqual({ locked: false });
  });

  it('is locked until lockedUntil with a whole-second Retry-After of at least 1', () => {
    expect(checkLock({ failures: 0, lockedUntil: later(60_000) }, t0)).toEqual({
      locked: true,
      retryAfterSeconds: 60,
    });
    expect(checkLock({ failures: 0, lockedUntil: later(1500) }, t0)).toEqual({
      locked: true,
      retryAfterSeconds: 2,
    });
    expect(retryAfterSeconds(later(10), t0)).toBe(1);
  });

  it('locks when the failure count reaches the threshold', () => {
    expect(lockAfterFailure(2, t0, policy)).toBeUndefined();
    expect(lockAfterFailure(3, t0, policy)).toEqual(later(60_000));
    // Concurrent failures can overshoot the threshold: still a lock.
    expect(lockAfterFailure(5, t0, policy)).toEqual(later(60_000));
  });

  it('forgets failures older than the window, but never an active lock', () => {
    expect(isStale({ failures: 2, lastFailureAt: later(-120_001) }, t0, policy)).toBe(true);
    expect(isStale({ failures: 2, lastFailureAt: later(-119_000) }, t0, policy)).toBe(false);
    expect(
      isStale({ failures: 0, lastFailureAt: later(-500_000), lockedUntil: later(1) }, t0, policy),
    ).toBe(false);
    expect(isStale({ failures: 0 }, t0, policy)).toBe(true);
  });
});

describe('refresh tokens', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const base = { userId: 'u1', familyId: 'f1', expiresAt: new Date(now.getTime() + 1000) };

  it('are random, URL-safe and stored as their SHA-256', () => {
    const a = generateRefreshToken();
    const b = generateRefreshToken();
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(hashRefreshToken(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashRefreshToken(a)).toBe(hashRefreshToken(a));
    expect(hashRefreshToken(a)).not.toBe(hashRefreshToken(b));
    expect(hashRefreshToken('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('are good exactly once, before expiry, unless revoked', () => {
    expect(judgeRefreshToken(base, now)).toEqual({ ok: true });
    expect(judgeRefreshToken(null, now)).toEqual({ ok: false, reason: 'unknown' });
    expect(judgeRefreshToken({ ...base, usedAt: now }, now)).toEqual({
      ok: false,
      reason: 'reused',
    });
    expect(judgeRefreshToken({ ...base, expiresAt: now }, now)).toEqual({
      ok: false,
      reason: 'expired',
    });
    // A revoked token is refused as revoked even if it was also used (no second revocation).
    expect(judgeRefreshToken({ ...base, usedAt: now, revokedAt: now }, now)).toEqual({
      ok: false,
      reason: 'revoked',
    });
  });
});

describe('durations', () => {
  it('parses seconds, minutes, hours, days and bare seconds', () => {
    expect(parseDurationSeconds('15m')).toBe(900);
    expect(parseDurationSeconds('7d')).toBe(604800);
    expect(parseDurationSeconds('2h')).toBe(7200);
    expect(parseDurationSeconds('45s')).toBe(45);
    expect(parseDurationSeconds('900')).toBe(900);
    expect(parseDurationSeconds('15 M')).toBe(900);
  });

  it('returns NaN for anything else', () => {
    for (const bad of ['', 'm', '1.5h', '-5m', '10w', '5 minutes']) {
      expect(parseDurationSeconds(bad)).toBeNaN();
    }
  });
});

describe('users', () => {
  it('normalises emails by trimming and lowercasing', () => {
    expect(normaliseEmail('  Alice@Example.COM ')).toBe('alice@example.com');
  });

  it('builds the user event payload from exactly the contract fields', () => {
    expect(userEventData({ id: 'u1', email: 'a@b.c', name: 'A', role: 'seller' })).toEqual({
      userId: 'u1',
      email: 'a@b.c',
      name: 'A',
      role: 'seller',
    });
  });

  it('reads the bcrypt cost and asks for a rehash below the configured one', () => {
    expect(bcryptCost('$2b$12$abcdefghijklmnopqrstuv')).toBe(12);
    expect(bcryptCost('plain')).toBeUndefined();
    expect(needsRehash('$2b$10$x', 12)).toBe(true);
    expect(needsRehash('$2b$12$x', 12)).toBe(false);
    expect(needsRehash('$2b$13$x', 12)).toBe(false);
    expect(needsRehash('garbage', 4)).toBe(true);
  });
});
