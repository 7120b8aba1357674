import { types } from 'pg';

const parseTimestamptz = types.getTypeParser(types.builtins.TIMESTAMPTZ) as (text: string) => Date;

/**
 * A timestamptz read through JSON (`json_agg`, `json_build_object`: "2026-12-03T09:12:11.123456+00:00")
 * as the Date pg would have given for the column itself: the same parser, so the same
 * millisecond truncation. Lets a record and its child rows come back in one statement (one round
 * trip instead of one per table) without changing a single value built from them.
 */
export function jsonTimestamp(value: string | null | undefined): Date | null {
  return value === null || value === undefined ? null : parseTimestamptz(value.replace('T', ' '));
}
