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
  /** The record's state after this entry (the snapshot's, or less for an out-of-band part). */
  state: unknown;
  /** The state fields whose value differs from the previous entry's (absent for entry 1). */
  fields?: string[];
}

/**
 * Which state fields a change row of each kind (`change.kind`) accounts for, per record type:
 * `true`, or a test of the field's values before and after (and the row) that says whether this
 * row explains the difference. A field a write changes that none of its rows explains gets an
 * entry of its own (`state`), before the rows' entries, so an edit made outside the service
 * shows in the history instead of riding the next change. A kind not listed explains nothing.
 */
export type ChangeRules = Record<string, Record<string, ExplainsField>>;
export type ExplainsField = true | ((before: unknown, after: unknown, change: unknown) => boolean);

type Fields = Record<string, unknown>;
/** A state or change as its fields (anything else has none). */
export const asFields = (v: unknown): Fields => (v && typeof v === 'object' ? (v as Fields) : {});

/** Canonical equality (key order ignored); values that cannot be serialised equal nothing. */
export function sameContent(a: unknown, b: unknown): boolean {
  try {
    return canonicalJson(a) === canonicalJson(b);
  } catch {
    return false;
  }
}

/** The names of the fields whose value differs between two states, sorted. */
export function changedFields(before: unknown, after: unknown): string[] {
  const b = asFields(before);
  const a = asFields(after);
  return [...new Set([...Object.keys(b), ...Object.keys(a)])]
    .filter((k) => !sameContent(b[k], a[k]))
    .sort();
}

/**
 * The state the rows of one write start from: `last` with every difference from `now` that no
 * row explains already made (an edit outside the service), and the names of those fields. A
 * status row explains the status only from its `from`: a status set by hand before it shows as
 * that edit. `changed` is the difference between `last` and `now`, computed once by the caller.
 */
function outOfBand(
  last: unknown,
  now: unknown,
  changed: string[],
  rows: PendingChange[],
  rules: ChangeRules,
): { start: Fields; fields: string[] } {
  const before = asFields(last);
  const after = asFields(now);
  const start: Fields = { ...before };
  const fields = changed.filter((field) => {
    const explained = rows.some((r) => {
      const rule = rules[String(asFields(r.change).kind)]?.[field];
      return rule === true || (!!rule && rule(before[field], after[field], r.change));
    });
    if (!explained) start[field] = after[field];
    return !explained;
  });
  const firstStatus = rows.map((r) => asFields(r.change)).find((c) => c.kind === 'status');
  if (rules.status?.status && firstStatus?.from != null && !fields.includes('status')) {
    start.status = firstStatus.from;
    if (!sameContent(before.status, start.status)) fields.push('status');
  }
  return { start, fields: fields.sort() };
}

/**
 * What a record's entries lack to describe its snapshot: one entry per change row that is new
 * or differs from the newest entry naming it (in the snapshot's row order), else, when only
 * the record's own fields changed, one entry for that (`created` for the first, then `state`,
 * naming the fields). Empty when the entries already describe the record. With `rules` (the
 * record type's), fields the rows do not explain get a `state` entry before theirs; without,
 * the rows take every difference (as entries were written before ADR 0058). Each entry names
 * the fields it changes (`fields`; not the first entry of a record, which has nothing before).
 * It runs on every anchored write: the states are compared once, field by field.
 */
export function pendingChanges(
  entries: EntryDocument[],
  snapshot: RecordSnapshot,
  rules?: ChangeRules,
): PendingChange[] {
  const newest = new Map<string, EntryDocument>();
  for (const e of entries) newest.set(e.sourceId, e);
  const rows = Object.entries(snapshot.rows)
    .filter(([sourceId, content]) => {
      const entry = newest.get(sourceId);
      return !entry || !sameContent(entry.change, content);
    })
    .map(([sourceId, change]) => ({ sourceId, change, state: snapshot.state }));
  const last = entries[entries.length - 1];
  if (!last) {
    return rows.length
      ? rows
      : [{ sourceId: 'created', change: { kind: 'created' }, state: snapshot.state }];
  }
  const changed = changedFields(last.state, snapshot.state);
  if (!rows.length) {
    if (!changed.length) return [];
    return [
      {
        sourceId: 'state',
        change: { kind: 'state', fields: changed },
        state: snapshot.state,
        fields: changed,
      },
    ];
  }
  const out: PendingChange[] = [];
  let rowFields = changed;
  if (rules) {
    const { start, fields } = outOfBand(last.state, snapshot.state, changed, rows, rules);
    if (fields.length) {
      out.push({ sourceId: 'state', change: { kind: 'state', fields }, state: start, fields });
      rowFields = changedFields(start, snapshot.state);
    }
  }
  // The rows of one write share its resulting state: the first names what they changed.
  rows.forEach((r, i) => out.push({ ...r, fields: i ? [] : rowFields }));
  return out;
}

const listed = (names: string[]) => names.join(', ');
const them = (names: string[]) => (names.length === 1 ? 'it' : 'them');
const isNameList = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((f) => typeof f === 'string');

/**
 * How entry `doc` breaks the rule that an entry names every change it carries (ADR 0058,
 * docs/verification.md §5): the fields whose value differs between `previous`'s state and its
 * own must be exactly those it names in `fields`, and for a `state` entry those its change
 * names too. An entry naming no `fields` (a row's entry written before the rule) cannot be
 * checked, unless an entry before it named them (`named`): from then on every entry must.
 * Empty when it holds.
 */
export function unnamedChanges(
  previous: EntryDocument,
  doc: EntryDocument,
  named: boolean,
): string[] {
  const n = doc.sequence;
  const changed = changedFields(previous.state, doc.state);
  const lists: string[][] = [];
  const problems: string[] = [];
  if (doc.fields !== undefined) {
    if (isNameList(doc.fields)) lists.push(doc.fields);
    else problems.push(`entry ${n} names its fields in no list of names`);
  } else if (named) {
    problems.push(`entry ${n} does not name the fields it changes, as the entries before it do`);
  }
  const change = asFields(doc.change);
  if (change.kind === 'state') {
    if (isNameList(change.fields)) lists.push(change.fields);
    else problems.push(`entry ${n} is a change of state that names no fields`);
  }
  for (const list of lists) {
    const unnamed = changed.filter((f) => !list.includes(f));
    const unchanged = list.filter((f) => !changed.includes(f));
    if (unnamed.length) {
      problems.push(`entry ${n} changes ${listed(unnamed)} without naming ${them(unnamed)}`);
    }
    if (unchanged.length) {
      problems.push(`entry ${n} names ${listed(unchanged)} but does not change ${them(unchanged)}`);
    }
  }
  return [...new Set(problems)];
}

/** A sourceId naming a row of the service (`history:17`), not a change without one (`created`). */
export const namesRow = (sourceId: string): boolean => sourceId.includes(':');
