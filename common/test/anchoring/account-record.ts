import type { RecordTypeConfig } from '../../src/anchoring';

/**
 * A stand-in for a service's own tables, for the anchoring tests: an account (its fields are the
 * record's state) and its moves (rows holding a change each).
 */
export const ACCOUNTS = {
  id: '001_accounts',
  sql: `CREATE TABLE accounts (id text PRIMARY KEY, status text NOT NULL, balance bigint NOT NULL);
        CREATE TABLE account_moves (id bigserial PRIMARY KEY, account_id text NOT NULL,
          amount bigint NOT NULL, note text)`,
};

type AccountRow = {
  id: string;
  status: string;
  balance: string;
  moves: Array<{ id: number; amount: number; note: string | null }>;
};

/**
 * The account as a record type, read in one statement as the services read theirs. A move's note
 * `float` reads as 1.5, which cannot be serialised (a test has such an entry refused).
 */
export function accountRecord(changes?: RecordTypeConfig['changes']): RecordTypeConfig {
  return {
    snapshotSql: (id) =>
      `SELECT a.id, a.status, a.balance,
              (SELECT coalesce(json_agg(m ORDER BY m.id), '[]')
                 FROM account_moves m WHERE m.account_id = a.id) AS moves
         FROM accounts a WHERE a.id = ${id}`,
    snapshotFrom(rows) {
      const row = (rows as AccountRow[])[0];
      if (!row) return null;
      const note = (n: string | null) => (n === 'float' ? 1.5 : n);
      return {
        state: { accountId: row.id, status: row.status, balance: Number(row.balance) },
        rows: Object.fromEntries(
          row.moves.map((m) => [
            `move:${m.id}`,
            { kind: 'move', amount: Number(m.amount), note: note(m.note) },
          ]),
        ),
      };
    },
    ...(changes ? { changes } : {}),
  };
}
