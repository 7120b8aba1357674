import bcrypt from 'bcrypt';
import { randomBytes } from 'node:crypto';

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  compare(password: string, hash: string): Promise<boolean>;
  /**
   * A hash of a random password at the configured cost. Logins for unknown emails compare
   * against it, so they take as long as a wrong password for a real user.
   */
  readonly dummyHash: string;
  readonly rounds: number;
}

export async function createBcryptHasher(rounds: number): Promise<PasswordHasher> {
  const dummyHash = await bcrypt.hash(randomBytes(18).toString('base64'), rounds);
  return {
    rounds,
    dummyHash,
    hash: (password) => bcrypt.hash(password, rounds),
    compare: (password, hash) => bcrypt.compare(password, hash),
  };
}
