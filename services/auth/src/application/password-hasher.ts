import bcrypt from 'bcrypt';
import { createHash, randomBytes } from 'node:crypto';
import { normalisePassword } from '../domain/password-policy';
import { bcryptCost } from '../domain/user';

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  compare(password: string, hash: string): Promise<boolean>;
  /**
   * A hash of a random password at the configured cost. Logins for unknown emails compare
   * against it, so they take as long as a wrong password for a real user.
   */
  readonly dummyHash: string;
  readonly rounds: number;
  /** True for a hash of an older scheme or a lower cost: replace it at the next login. */
  needsRehash(hash: string): boolean;
}

/**
 * The current scheme: bcrypt over base64(SHA-256(NFKC(password))). bcrypt reads at most 72
 * bytes and stops at a NUL byte; the pre-hash gives it 44 printable bytes whatever the
 * password's length or characters, so long passphrases keep all their strength. The prefix
 * tells it apart from the first scheme (bcrypt over the raw password), whose hashes still
 * verify and are upgraded at the next successful login.
 */
export const HASH_SCHEME_PREFIX = 'bcrypt-sha256$';

function preHash(password: string): string {
  return createHash('sha256').update(normalisePassword(password), 'utf8').digest('base64');
}

export function isCurrentScheme(hash: string): boolean {
  return hash.startsWith(HASH_SCHEME_PREFIX);
}

export async function createBcryptHasher(rounds: number): Promise<PasswordHasher> {
  const hash = async (password: string) =>
    HASH_SCHEME_PREFIX + (await bcrypt.hash(preHash(password), rounds));
  const dummyHash = await hash(randomBytes(18).toString('base64'));
  return {
    rounds,
    dummyHash,
    hash,
    needsRehash: (stored) => !isCurrentScheme(stored) || (bcryptCost(stored) ?? 0) < rounds,
    async compare(password, stored) {
      if (isCurrentScheme(stored)) {
        return bcrypt.compare(preHash(password), stored.slice(HASH_SCHEME_PREFIX.length));
      }
      // First scheme: the raw password, cut by bcrypt at 72 bytes (longer ones were refused at
      // registration, so they never match). bcrypt runs either way: the same work every time.
      const matches = await bcrypt.compare(password, stored);
      return matches && Buffer.byteLength(password, 'utf8') <= 72;
    },
  };
}
