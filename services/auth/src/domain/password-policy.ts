/** bcrypt only uses the first 72 bytes: a longer password would be silently truncated. */
export const PASSWORD_MAX_BYTES = 72;
export const PASSWORD_MIN_LENGTH = 8;

const CLASSES: Array<[string, RegExp]> = [
  ['lowercase letters', /\p{Ll}/u],
  ['uppercase letters', /\p{Lu}/u],
  ['digits', /\p{Nd}/u],
  ['symbols', /[^\p{Ll}\p{Lu}\p{Nd}]/u],
];

/** Character classes present in the password (lowercase, uppercase, digits, symbols). */
export function characterClasses(password: string): string[] {
  return CLASSES.filter(([, pattern]) => pattern.test(password)).map(([name]) => name);
}

/**
 * The rules a new password breaks, each as a sentence a user can act on; empty when the
 * password is acceptable. Length counts characters (code points), the bcrypt limit bytes.
 */
export function passwordPolicyViolations(password: string): string[] {
  const problems: string[] = [];
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) {
    problems.push(`Password must be at least ${PASSWORD_MIN_LENGTH} characters long`);
  }
  if (Buffer.byteLength(password, 'utf8') > PASSWORD_MAX_BYTES) {
    problems.push(`Password must be at most ${PASSWORD_MAX_BYTES} bytes long (UTF-8)`);
  }
  if (length > 0 && characterClasses(password).length < 2) {
    problems.push(
      'Password must mix at least two of: lowercase letters, uppercase letters, digits, symbols',
    );
  }
  return problems;
}

/** Can this password ever match a stored hash? (Longer ones were refused at registration.) */
export function isVerifiablePassword(password: string): boolean {
  return password.length > 0 && Buffer.byteLength(password, 'utf8') <= PASSWORD_MAX_BYTES;
}
