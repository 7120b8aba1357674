import type { PoolClient, QueryResult, QueryResultRow } from 'pg';

/**
 * A statement and its values ($1, $2, …), for code that sends it with another one in a round
 * trip (anchoring's write, runExclusively's first read) or lets its caller send it.
 */
export interface Statement {
  text: string;
  values?: readonly unknown[];
}

/** How a store sends one statement when its caller wants a say in the round trip. */
export type SendStatement = <R extends QueryResultRow = QueryResultRow>(
  statement: Statement,
) => Promise<QueryResult<R>>;

/** The plain way: on `client`, alone. */
export const sendOn =
  (client: PoolClient): SendStatement =>
  (statement) =>
    client.query(statement.text, [...(statement.values ?? [])]);
