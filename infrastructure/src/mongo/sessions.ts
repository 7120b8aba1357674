import { createHash } from 'node:crypto';
import { Binary, EJSON, type Document } from 'bson';
import type { Engine } from './engine';
import { MongoCommandError, TRANSIENT_TRANSACTION_ERROR } from './errors';
import { isPlainObject } from './keys';
import { Transaction } from './transaction';

/** mongod's transactionLifetimeLimitSeconds: an open transaction idle this long is aborted. */
export const TRANSACTION_LIFETIME_MS = 60_000;
/** logicalSessionTimeoutMinutes: a session unused this long is forgotten. */
const SESSION_TIMEOUT_MS = 30 * 60_000;

interface SessionState {
  /** The session's `lsid.id` as the client sent it ($listLocalSessions answers it). */
  id?: unknown;
  /** Highest txnNumber seen (transactions and retryable writes). */
  txnNumber: number;
  txn?: Transaction;
  /** The reply of the last retryable write, answered again if it is retried. */
  lastWrite?: { txnNumber: number; reply: Document };
  lastUsed: number;
}

/** Server sessions (`lsid`): their transaction and the reply of their last retryable write. */
export class Sessions {
  private readonly sessions = new Map<string, SessionState>();

  constructor(
    private readonly engine: Engine,
    private readonly lifetimeMs = TRANSACTION_LIFETIME_MS,
  ) {}

  /** The session a command names; InvalidOptions when it names none. */
  of(lsid: unknown): { key: string; state: SessionState } {
    const key = sessionKey(lsid);
    if (key === undefined)
      throw new MongoCommandError(
        'InvalidOptions',
        'Transaction numbers are only allowed in a session (lsid)',
      );
    let state = this.sessions.get(key);
    if (!state) this.sessions.set(key, (state = { txnNumber: -1, lastUsed: Date.now() }));
    state.id ??= (lsid as Document).id;
    state.lastUsed = Date.now();
    return { key, state };
  }

  /** Notes the use of a session by any command carrying an `lsid` ($listLocalSessions). */
  touch(lsid: unknown): void {
    const key = sessionKey(lsid);
    if (key === undefined) return;
    let state = this.sessions.get(key);
    if (!state) this.sessions.set(key, (state = { txnNumber: -1, lastUsed: Date.now() }));
    state.id ??= (lsid as Document).id;
    state.lastUsed = Date.now();
  }

  /**
   * `$listLocalSessions`: the sessions this server has seen, as `{ _id: { id, uid }, lastUse }`.
   * Without authentication every session belongs to the unauthenticated user (uid = SHA-256
   * of the empty string); `users` naming anyone therefore lists nothing.
   */
  localSessions(spec: unknown): Document[] {
    const options = isPlainObject(spec) ? spec : {};
    if (spec !== undefined && !isPlainObject(spec))
      throw new MongoCommandError(
        'TypeMismatch',
        "BSON field '$listLocalSessions' is the wrong type, expected type 'object'",
      );
    for (const k of Object.keys(options))
      if (k !== 'allUsers' && k !== 'users')
        throw new MongoCommandError(
          'IDLUnknownField',
          `BSON field '$listLocalSessions.${k}' is an unknown field.`,
        );
    if (options.allUsers === true && options.users !== undefined)
      throw new MongoCommandError(
        'FailedToParse',
        "$listLocalSessions cannot specify both 'allUsers' and 'users'.",
      );
    if (Array.isArray(options.users) && options.users.length > 0) return [];
    const uid = new Binary(createHash('sha256').update('').digest(), 0);
    const out: Document[] = [];
    for (const state of this.sessions.values()) {
      if (state.id === undefined) continue;
      out.push({ _id: { id: state.id, uid }, lastUse: new Date(state.lastUsed) });
    }
    return out;
  }

  /** The transaction a statement runs in: a new one (startTransaction) or the open one. */
  transactionFor(lsid: unknown, txnNumber: number, start: boolean): Transaction {
    const { key, state } = this.of(lsid);
    if (txnNumber < state.txnNumber) throw tooOld(txnNumber, state.txnNumber);
    if (start) {
      if (txnNumber === state.txnNumber && state.txn)
        throw new MongoCommandError(
          'NoSuchTransaction',
          `Given transaction number ${txnNumber} does not match any in-progress transactions.`,
          { errorLabels: [TRANSIENT_TRANSACTION_ERROR] },
        );
      if (state.txn) this.engine.abortTransaction(state.txn, 'a newer transaction started');
      state.txnNumber = txnNumber;
      state.txn = new Transaction(key, txnNumber);
      return state.txn;
    }
    const txn = state.txn;
    if (!txn || txn.txnNumber !== txnNumber || txn.state === 'committed')
      throw noSuchTransaction(
        `Given transaction number ${txnNumber} does not match any in-progress transactions.`,
      );
    if (txn.state === 'aborted')
      throw noSuchTransaction(
        `Transaction with { txnNumber: ${txnNumber} } has been aborted${txn.abortReason ? ` (${txn.abortReason})` : ''}.`,
      );
    txn.lastUsed = Date.now();
    return txn;
  }

  commit(lsid: unknown, txnNumber: number): Document {
    const { state } = this.of(lsid);
    const txn = state.txn;
    if (!txn || txn.txnNumber !== txnNumber)
      throw noSuchTransaction(`Transaction ${txnNumber} is not in progress.`);
    if (txn.state === 'aborted')
      throw noSuchTransaction(
        `Transaction with { txnNumber: ${txnNumber} } has been aborted${txn.abortReason ? ` (${txn.abortReason})` : ''}.`,
      );
    // A retried commit of a committed transaction succeeds again.
    this.engine.commitTransaction(txn);
    return { ok: 1 };
  }

  abort(lsid: unknown, txnNumber: number): Document {
    const { state } = this.of(lsid);
    const txn = state.txn;
    if (!txn || txn.txnNumber !== txnNumber || txn.state === 'committed')
      throw noSuchTransaction(`Transaction ${txnNumber} is not in progress.`);
    this.engine.abortTransaction(txn, 'aborted by the client');
    return { ok: 1 };
  }

  /**
   * A retryable write (txnNumber without autocommit): the stored reply when it repeats the
   * session's last one, else undefined (run it, then `rememberWrite`).
   */
  retriedWrite(lsid: unknown, txnNumber: number): Document | undefined {
    const { state } = this.of(lsid);
    if (state.lastWrite?.txnNumber === txnNumber) return state.lastWrite.reply;
    if (txnNumber < state.txnNumber) throw tooOld(txnNumber, state.txnNumber);
    if (state.txn) this.engine.abortTransaction(state.txn, 'a newer operation of the session');
    state.txnNumber = txnNumber;
    return undefined;
  }

  rememberWrite(lsid: unknown, txnNumber: number, reply: Document): void {
    this.of(lsid).state.lastWrite = { txnNumber, reply };
  }

  /** endSessions / killSessions: their open transactions are aborted. */
  end(lsids: unknown): void {
    if (!Array.isArray(lsids)) return;
    for (const lsid of lsids) {
      const key = sessionKey(lsid);
      const state = key === undefined ? undefined : this.sessions.get(key);
      if (!state) continue;
      if (state.txn) this.engine.abortTransaction(state.txn, 'session ended');
      this.sessions.delete(key as string);
    }
  }

  /** Aborts transactions idle past their lifetime and forgets idle sessions. */
  reap(now = Date.now()): void {
    for (const [key, state] of this.sessions) {
      const txn = state.txn;
      if (txn?.active && now - txn.lastUsed > this.lifetimeMs)
        this.engine.abortTransaction(txn, 'transaction lifetime limit exceeded');
      if (!txn?.active && now - state.lastUsed > SESSION_TIMEOUT_MS) this.sessions.delete(key);
    }
  }

  /** On stop: every open transaction is aborted (nothing uncommitted reaches the snapshot). */
  abortAll(): void {
    for (const state of this.sessions.values())
      if (state.txn) this.engine.abortTransaction(state.txn, 'server stopping');
  }
}

function sessionKey(lsid: unknown): string | undefined {
  if (!isPlainObject(lsid) || lsid.id === undefined) return undefined;
  const id = lsid.id;
  return id instanceof Binary ? id.toString('hex') : EJSON.stringify({ id }, { relaxed: false });
}

function noSuchTransaction(message: string): MongoCommandError {
  return new MongoCommandError('NoSuchTransaction', message, {
    errorLabels: [TRANSIENT_TRANSACTION_ERROR],
  });
}

function tooOld(txnNumber: number, current: number): MongoCommandError {
  return new MongoCommandError(
    'TransactionTooOld',
    `Cannot start transaction ${txnNumber} on session because a newer transaction ${current} has already started`,
  );
}
