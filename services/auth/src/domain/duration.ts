const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `15m` → 900, `7d` → 604800, `30` → 30 (seconds). NaN when the text is not a duration. */
export function parseDurationSeconds(text: string): number {
  const match = /^(\d+)\s*(s|m|h|d)?$/i.exec(text.trim());
  if (!match) return Number.NaN;
  const unit = (match[2] ?? 's').toLowerCase();
  return Number(match[1]) * (UNIT_SECONDS[unit] ?? Number.NaN);
}
