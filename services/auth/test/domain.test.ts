import { isBreachedPassword } from '../src/application/breached-passwords';
import { newPasswordProblems } from '../src/application/credentials';
import { generateRefreshToken, hashRefreshToken } from '../src/application/tokens';
import {
  isVerifiablePassword,
  normalisePassword,
  passwordPolicyViolations,
} from '../src/domain/password-policy';
import { addressKey } from '../src/domain/client-address';
import {
  admitAttempt,
  delayAfter,
  failureAllowance,
  liveFailures,
  retryAfterSeconds,
  type AttemptCounter,
} from '../src/domain/login-throttle';
import { judgeRefreshToken } from '../src/domain/refresh-token';
import { parseDurationSeconds } from '../src/domain/duration';
import {
  bcryptCost,
  emailHasHiddenCharacters,
  normaliseEmail,
  userEventData,
} from '../src/domain/user';

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

describe('login throttling', () => {
  const policy = {
    maxFailures: 3,
    accountMaxFailures: 10,
    baseDelayMs: 60_000,
    maxDelayMs: 240_000,
    failureWindowMs: 120_000,
  };
  const t0 = new Date('2026-01-01T00:00:00Z');
  const later = (ms: number) => new Date(t0.getTime() + ms);
  const counter = (c: Partial<AttemptCounter>): AttemptCounter => ({
    failures: 1,
    lastFailureAt: t0,
    delayedUntil: null,
    expiresAt: later(120_000),
    ...c,
  });

  it('lets an address fail up to the allowance, then doubles the delay up to the maximum', () => {
    expect([1, 2, 3, 4, 5, 6, 60].map((n) => delayAfter(n, 3, policy))).toEqual([
      0, 0, 60_000, 120_000, 240_000, 240_000, 240_000,
    ]);
    // A huge count never overflows into NaN or Infinity.
    expect(delayAfter(1e9, 3, policy)).toBe(240_000);
  });

  it('shrinks the allowance to one failure while the account has many from everywhere', () => {
    expect(failureAllowance(9, policy)).toBe(3);
    expect(failureAllowance(10, policy)).toBe(1);
    expect(delayAfter(1, failureAllowance(10, policy), policy)).toBe(60_000);
  });

  it('admits an attempt counted as failed, with the delay it starts if it fails', () => {
    expect(admitAttempt(null, t0, 3, policy)).toEqual({
      admitted: true,
      delayedUntil: null,
      next: { failures: 1, lastFailureAt: t0, delayedUntil: null, expiresAt: later(120_000) },
    });
    const third = admitAttempt(counter({ failures: 2 }), t0, 3, policy);
    expect(third).toEqual({
      admitted: true,
      delayedUntil: later(60_000),
      // Forgotten a window after the delay ends, not after the failure.
      next: {
        failures: 3,
        lastFailureAt: t0,
        delayedUntil: later(60_000),
        expiresAt: later(180_000),
      },
    });
  });

  it('refuses while the address waits, with a whole-second Retry-After of at least 1', () => {
    const waiting = counter({ failures: 3, delayedUntil: later(1500), expiresAt: later(200_000) });
    expect(admitAttempt(waiting, t0, 3, policy)).toEqual({ admitted: false, retryAfterSeconds: 2 });
    expect(admitAttempt(waiting, later(1500), 3, policy)).toMatchObject({
      admitted: true,
      next: { failures: 4 },
      delayedUntil: later(1500 + 120_000),
    });
    expect(retryAfterSeconds(later(10), t0)).toBe(1);
  });

  it('forgets a counter once its window has passed', () => {
    expect(liveFailures(counter({ failures: 2 }), later(119_999))).toBe(2);
    expect(liveFailures(counter({ failures: 2 }), later(120_000))).toBe(0);
    expect(liveFailures(null, t0)).toBe(0);
    expect(admitAttempt(counter({ failures: 7 }), later(120_000), 3, policy)).toMatchObject({
      admitted: true,
      delayedUntil: null,
      next: { failures: 1 },
    });
  });

  it('keys IPv4 by address, IPv6 by its /64, IPv4-mapped as IPv4, and no address as one key', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:DB8:1:2::9')).toBe('2001:db8:1:2::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey(undefined)).toBe('unknown');
    expect(addressKey('not-an-address')).toBe('other:not-an-address');
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

  it('gives every Unicode spelling of an address one form (NFKC), ASCII unchanged', () => {
    const composed = 'caf\u00e9@example.com';
    expect(normaliseEmail('cafe\u0301@example.com')).toBe(composed);
    expect(normaliseEmail('CAF\u00c9@example.com')).toBe(composed);
    expect(
      normaliseEmail(
        '\uff4b\uff41\uff54\uff45\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d',
      ),
    ).toBe('kate@example.com');
    expect(normaliseEmail('kate.o-brien+shop@example.co.uk')).toBe(
      'kate.o-brien+shop@example.co.uk',
    );
  });

  it('finds the characters an address may not hide', () => {
    for (const hidden of [
      '\u200b', // zero-width space
      '\u200c', // zero-width non-joiner
      '\u200d', // zero-width joiner
      '\u2060', // word joiner
      '\ufeff', // zero-width no-break space
      '\u00ad', // soft hyphen
      '\u202e', // right-to-left override
      '\u2066', // left-to-right isolate
      '\u0000',
      '\u0007',
      '\u034f', // combining grapheme joiner
      ' ',
      '\u00a0',
      '\t',
    ]) {
      expect(emailHasHiddenCharacters(`kate${hidden}@example.com`)).toBe(true);
    }
    expect(emailHasHiddenCharacters('kate@example.com')).toBe(false);
    expect(emailHasHiddenCharacters('caf\u00e9@\u00fcber.example')).toBe(false);
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
