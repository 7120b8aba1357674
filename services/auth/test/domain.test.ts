import { isBreachedPassword } from '../src/application/breached-passwords';
import { newPasswordProblems } from '../src/application/credentials';
import { generateRefreshToken, hashRefreshToken } from '../src/application/tokens';
import {
  isVerifiablePassword,
  normalisePassword,
  passwordPolicyViolations,
} from '../src/domain/password-policy';
import { checkLock, isStale, lockAfterFailure, retryAfterSeconds } from '../src/domain/lockout';
import { judgeRefreshToken } from '../src/domain/refresh-token';
import { parseDurationSeconds } from '../src/domain/duration';
import { bcryptCost, normaliseEmail, userEventData } from '../src/domain/user';

describe('password policy (NIST SP 800-63B), with the shipped breach list', () => {
  it('accepts any 8+ characters without composition rules', () => {
    expect(newPasswordProblems('securepassword')).toEqual([]); // the original brief's example
    expect(newPasswordProblems('correct horse')).toEqual([]);
    expect(newPasswordProblems('ÄÖÜäöüßx')).toEqual([]);
    expect(newPasswordProblems('lowercaseonlybutlong')).toEqual([]);
  });

  it('refuses fewer than 8 characters, counting characters not bytes', () => {
    expect(newPasswordProblems('Ab1!xyz')).toEqual(['Password must be at least 8 characters long']);
    // 7 two-byte characters are 14 bytes but still only 7 characters.
    expect(newPasswordProblems('ÄäÖöÜüß')).toEqual(['Password must be at least 8 characters long']);
    expect(newPasswordProblems('')).toEqual(['Password must be at least 8 characters long']);
  });

  it("takes long passphrases, far beyond bcrypt's 72 bytes, up to 256 characters", () => {
    expect(newPasswordProblems('€'.repeat(100) + 'a')).toEqual([]); // 301 bytes
    expect(newPasswordProblems('a passphrase '.repeat(19).slice(0, 256))).toEqual([]);
    expect(newPasswordProblems('x1'.repeat(129))).toEqual([
      'Password must be at most 256 characters long',
    ]);
  });

  it('refuses passwords from the breach list in any letter case, saying why', () => {
    for (const common of ['password123', 'Password123', 'iloveyou', 'qwerty123', 'sunshine1']) {
      const problems = newPasswordProblems(common);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(
        /too common: it appears in lists of passwords exposed in data breaches/,
      );
    }
    expect(isBreachedPassword('PASSWORD123')).toBe(true);
    expect(isBreachedPassword('Walk#through2026')).toBe(false);
    // The rule itself takes the list as data: the check it is given decides.
    expect(passwordPolicyViolations('Walk#through2026', {}, () => true)).toHaveLength(1);
    expect(passwordPolicyViolations('password123', {}, () => false)).toEqual([]);
  });

  it("refuses a repeated character, a simple sequence and the account's own email or name", () => {
    for (const weak of ['aaaaaaaaa', 'abcdefghi', 'ihgfedcba', '987654321']) {
      expect(newPasswordProblems(weak)).toEqual([
        'Password must not be one repeated character or a simple sequence',
      ]);
    }
    const context = { email: 'jane.doe@example.com', name: 'Jane Doe Smith' };
    for (const own of ['jane.doe@example.com', 'Jane.Doe', 'jane doe smith', 'JaneDoeSmith']) {
      expect(newPasswordProblems(own, context)).toEqual([
        'Password must not be your email address or your name',
      ]);
    }
    expect(newPasswordProblems('jane.doe.likes.tea', context)).toEqual([]);
  });

  it('checks and measures the NFKC form, so one password has one spelling', () => {
    expect(normalisePassword('ｐａｓｓｗｏｒｄ１２３')).toBe('password123'); // full-width
    expect(newPasswordProblems('ｐａｓｓｗｏｒｄ１２３')).toHaveLength(1); // breached once normalised
    expect(normalisePassword('e\u0301te\u0301')).toBe('été'); // combining accents compose
  });

  it('knows which passwords can ever match a stored hash', () => {
    expect(isVerifiablePassword('x'.repeat(256))).toBe(true);
    expect(isVerifiablePassword('x'.repeat(257))).toBe(false);
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

  it('reads the bcrypt cost, with or without the scheme prefix', () => {
    expect(bcryptCost('$2b$12$abcdefghijklmnopqrstuv')).toBe(12);
    expect(bcryptCost('bcrypt-sha256$$2b$10$abcdefghijklmnopqrstuv')).toBe(10);
    expect(bcryptCost('plain')).toBeUndefined();
  });
});
