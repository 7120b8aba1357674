export interface RefreshTokenRecord {
  userId: string;
  familyId: string;
  expiresAt: Date;
  usedAt?: Date | null;
  revokedAt?: Date | null;
}

export type RefreshVerdict =
  | { ok: true }
  | { ok: false; reason: 'unknown' | 'expired' | 'revoked' }
  /** A token that was already rotated is presented again: assume theft, revoke the family. */
  | { ok: false; reason: 'reused' };

/**
 * What presenting this refresh token means. Rotation: every token is good exactly once;
 * a second use means two parties hold it (the thief or the victim), so the whole family
 * (every token descended from the same login) is revoked.
 */
export function judgeRefreshToken(
  record: RefreshTokenRecord | null | undefined,
  now: Date,
): RefreshVerdict {
  if (!record) return { ok: false, reason: 'unknown' };
  if (record.revokedAt) return { ok: false, reason: 'revoked' };
  if (record.usedAt) return { ok: false, reason: 'reused' };
  if (record.expiresAt.getTime() <= now.getTime()) return { ok: false, reason: 'expired' };
  return { ok: true };
}
