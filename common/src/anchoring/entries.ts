import { canonicalJson } from '../util/canonical-json';
import type { EntryDocument } from './canonical';

/**
 * The record as the service's tables hold it now: every business field (`state`) and the
 * current content of each row that holds a change (`rows`, by sourceId: `history:17`,
 * `attempt:1`, `refund:<id>`). The same function feeds writing entries and verifying them, so
 * what is anchored and what is checked can never drift apart.
 */
export interface RecordSnapshot {
  state: unknown;
  rows: Record<string, unknown>;
}

/** A change a new entry will carry. */
export interface PendingChange {
  sourceId: string;
  change: unknown;
}

/** Canonical equality (key order ignored); values that cannot be serialised equal nothing. */
export function sameContent(a: unknown, b: unknown): boolean {
  try {
    return canonicalJson(a) === canonicalJson(b);
  } catch {
    return false;
  }
}

function changedFields(before: unknown, after: unknown): string[] {
  const b = (before ?? {}) as Record<string, unknown>;
  const a = (after ?? {}) as Record<string, unknown>;
  return [...new Set([...Object.keys(b), ...Object.keys(a)])]
    .filter((k) => !sameContent(b[k], a[k]))
    .sort();
}

/**
 * What a record's entries lack to describe its snapshot: one entry per change row that is new
 * or differs from the newest entry naming it (in the snapshot's row order), else, when only
 * the record's own fields changed, one entry for that (`created` for the first, then `state`,
 * naming the fields). Empty when the entries already describe the record.
 */
export function pendingChanges(
  entries: EntryDocument[],
  snapshot: RecordSnapshot,
): PendingChange[] {
  const newest = new Map<string, EntryDocument>();
  for (const e of entries) newest.set(e.sourceId, e);
  const changes: PendingChange[] = Object.entries(snapshot.rows)
    .filter(([sourceId, content]) => {
      const entry = newest.get(sourceId);
      return !entry || !sameContent(entry.change, content);
    })
    .map(([sourceId, change]) => ({ sourceId, change }));
  if (changes.length) return changes;
  const last = entries[entries.length - 1];
  if (!last) return [{ sourceId: 'created', change: { kind: 'created' } }];
  if (sameContent(last.state, snapshot.state)) return [];
  return [
    {
      sourceId: 'state',
      change: { kind: 'state', fields: changedFields(last.state, snapshot.state) },
    },
  ];
}

/** A sourceId naming a row of the service (`history:17`), not a change without one (`created`). */
export const namesRow = (sourceId: string): boolean => sourceId.includes(':');
