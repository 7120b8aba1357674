/**
 * Password policy after NIST SP 800-63B (§5.1.1.2 and §3.1.1.2 of revision 4): a minimum
 * length, a generous maximum, any characters, no composition rules, and a check against
 * passwords known from breaches and context words. Lengths count Unicode code points after
 * NFKC normalisation, so a password typed on another keyboard or OS is the same password.
 */
export const PASSWORD_MIN_LENGTH = 8;
/** NIST asks for at least 64; hashing pre-hashes, so bcrypt's 72-byte limit does not apply. */
export const PASSWORD_MAX_LENGTH = 256;

/** The form a password is checked and hashed in. */
export function normalisePassword(password: string): string {
  return password.normalize('NFKC');
}

/** 'aaaaaaaa', '12345678', 'abcdefgh', 'hgfedcba': one character, or a run in either direction. */
function isRepetitiveOrSequential(chars: number[]): boolean {
  if (chars.length < 2) return false;
  const step = chars[1]! - chars[0]!;
  if (Math.abs(step) > 1) return false;
  return chars.every((c, i) => i === 0 || c - chars[i - 1]! === step);
}

/** Words tied to the account that a guesser tries first. */
export interface PasswordContext {
  email?: string;
  name?: string;
}

function contextWords(context: PasswordContext): string[] {
  const words: string[] = [];
  if (context.email) {
    const email = context.email.toLowerCase();
    words.push(email, email.split('@')[0] ?? '');
  }
  if (context.name)
    words.push(context.name.toLowerCase(), context.name.toLowerCase().replace(/\s+/g, ''));
  return words.filter((w) => w.length > 0);
}

/** Whether a password (NFKC, any letter case) is known from breaches. */
export type BreachCheck = (password: string) => boolean;

/**
 * The rules a new password breaks, each as a sentence a user can act on; empty when the
 * password is acceptable. The list of breached passwords is data the caller loads.
 */
export function passwordPolicyViolations(
  password: string,
  context: PasswordContext,
  isBreached: BreachCheck,
): string[] {
  const normal = normalisePassword(password);
  const chars = [...normal].map((c) => c.codePointAt(0)!);
  const problems: string[] = [];
  if (chars.length < PASSWORD_MIN_LENGTH) {
    problems.push(`Password must be at least ${PASSWORD_MIN_LENGTH} characters long`);
  }
  if (chars.length > PASSWORD_MAX_LENGTH) {
    problems.push(`Password must be at most ${PASSWORD_MAX_LENGTH} characters long`);
  }
  if (problems.length > 0) return problems;
  const lower = normal.toLowerCase();
  if (isBreached(normal)) {
    problems.push(
      'Password is too common: it appears in lists of passwords exposed in data breaches; choose another (a few unrelated words make a strong one)',
    );
  } else if (isRepetitiveOrSequential(chars)) {
    problems.push('Password must not be one repeated character or a simple sequence');
  } else if (contextWords(context).includes(lower)) {
    problems.push('Password must not be your email address or your name');
  }
  return problems;
}

/** Can this password ever match a stored hash? (Longer ones were refused at registration.) */
export function isVerifiablePassword(password: string): boolean {
  const length = [...normalisePassword(password)].length;
  return length > 0 && length <= PASSWORD_MAX_LENGTH;
}
