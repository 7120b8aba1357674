import { dictionary } from '@zxcvbn-ts/language-common';
import { normalisePassword, PASSWORD_MIN_LENGTH } from '../domain/password-policy';

/**
 * Breached passwords: the common-password dictionary of zxcvbn-ts (about 49,000 of the most
 * frequent passwords in public breach corpora), folded to lower case. Shorter entries are
 * left out since the length rule already refuses them. Built on first use.
 */
let blocklist: Set<string> | undefined;
function breachedPasswords(): Set<string> {
  blocklist ??= new Set(
    (dictionary['passwords-common'] as string[])
      .map((p) => normalisePassword(p).toLowerCase())
      .filter((p) => [...p].length >= PASSWORD_MIN_LENGTH),
  );
  return blocklist;
}

/** True when the password (any letter case) is in the shipped list of breached passwords. */
export function isBreachedPassword(password: string): boolean {
  return breachedPasswords().has(normalisePassword(password).toLowerCase());
}
