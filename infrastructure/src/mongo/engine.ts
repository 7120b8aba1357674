import { Binary, type Document } from 'bson';
import { Collection, type ChangeListener, type IndexSpec } from './collection';
import { MongoCommandError } from './errors';
import type { Transaction, TransactionHooks } from './transaction';

/**
 * All databases of one stand-in. Changes are reported to a listener (the journal); the
 * document writes of a transaction are held back and reported together at its commit,
 * framed as `{ op: 'txn', n }` followed by its n entries (one append, replayed all or nothing).
 */
export class Engine {
  readonly dbs = new Map<string, Map<string, Collection>>();
  private listener: ChangeListener = () => undefined;
  /** The transaction of the command running now (commands run one at a time). */
  current: Transaction | undefined;
  private readonly hooks: TransactionHooks = {
    current: () => this.current,
    abort: (txn, reason) => this.abortTransaction(txn, reason),
  };

  setListener(listener: ChangeListener): void {
    this.listener = listener;
  }

  /** Document writes of a transaction wait for its commit; everything else goes out at once. */
  private emit(change: Document): void {
    const txn = this.current;
    if (txn && (change.op === 'put' || change.op === 'del')) txn.changes.push(change);
    else this.listener(change);
  }

  /**
   * Runs `fn` with its journal entries appended as one group, replayed all or nothing after a
   * crash ($out's replacement of a collection).
   */
  atomically<T>(fn: () => T): T {
    const outer = this.listener;
    const entries: Document[] = [];
    this.listener = (change) => entries.push(change);
    try {
      return fn();
    } finally {
      this.listener = outer;
      if (entries.length > 0) {
        outer({ op: 'txn', n: entries.length });
        for (const change of entries) outer(change);
      }
    }
  }

  /** Runs `fn` as a statement of `txn` (its writes become pending, its reads see them). */
  within<T>(txn: Transaction, fn: () => T): T {
    const outer = this.current;
    this.current = txn;
    try {
      return fn();
    } finally {
      this.current = outer;
    }
  }

  /** Makes a transaction's writes visible to all and journals them as one record. */
  commitTransaction(txn: Transaction): void {
    if (!txn.active) return;
    if (txn.changes.length > 0) {
      this.listener({ op: 'txn', n: txn.changes.length });
      for (const change of txn.changes) this.listener(change);
    }
    for (const coll of txn.touched) coll.settle(txn, true);
    txn.touched.clear();
    txn.changes.length = 0;
    txn.state = 'committed';
  }

  /** Puts back the committed version of every document a transaction changed. */
  abortTransaction(txn: Transaction, reason: string): void {
    if (!txn.active) return;
    for (const coll of txn.touched) coll.settle(txn, false);
    txn.touched.clear();
    txn.changes.length = 0;
    txn.state = 'aborted';
    txn.abortReason = reason;
  }

  /** Aborts the open transactions holding documents of a collection (before DDL on it). */
  private abortPendingOn(coll: Collection | undefined, reason: string): void {
    if (!coll) return;
    for (const txn of coll.pendingTransactions()) this.abortTransaction(txn, reason);
  }

  /** Before an index is created or dropped: no transaction may hold documents of the collection. */
  prepareDdl(db: string, name: string): void {
    this.abortPendingOn(this.collection(db, name), `collection ${db}.${name} changed (DDL)`);
  }

  collection(db: string, name: string): Collection | undefined {
    return this.dbs.get(db)?.get(name);
  }

  /** The collection, created (and journaled) on first write as MongoDB does implicitly. */
  ensureCollection(db: string, name: string, options: Document = {}, uuid?: Binary): Collection {
    const existing = this.collection(db, name);
    if (existing) return existing;
    validateName(db, name);
    let colls = this.dbs.get(db);
    if (!colls) this.dbs.set(db, (colls = new Map()));
    const coll = new Collection(db, name, (c) => this.emit(c), options, this.hooks);
    if (uuid) coll.uuid = uuid;
    colls.set(name, coll);
    this.listener({ op: 'createCollection', db, coll: name, options, uuid: coll.uuid });
    return coll;
  }

  dropCollection(db: string, name: string): Collection | undefined {
    const colls = this.dbs.get(db);
    const coll = colls?.get(name);
    if (!colls || !coll) return undefined;
    this.abortPendingOn(coll, `collection ${db}.${name} dropped`);
    colls.delete(name);
    if (colls.size === 0) this.dbs.delete(db);
    this.listener({ op: 'dropCollection', db, coll: name });
    return coll;
  }

  /** collMod: new options for a collection or view (journaled). */
  setOptions(db: string, name: string, options: Document): void {
    const coll = this.collection(db, name);
    if (!coll) return;
    coll.options = options;
    this.listener({ op: 'setOptions', db, coll: name, options });
  }

  dropDatabase(db: string): void {
    for (const coll of this.dbs.get(db)?.values() ?? [])
      this.abortPendingOn(coll, `database ${db} dropped`);
    if (this.dbs.delete(db)) this.listener({ op: 'dropDatabase', db });
  }

  renameCollection(db: string, from: string, toDb: string, to: string, dropTarget: boolean): void {
    const source = this.collection(db, from);
    if (!source)
      throw new MongoCommandError(
        'NamespaceNotFound',
        `Source collection ${db}.${from} does not exist`,
      );
    if (this.collection(toDb, to)) {
      if (!dropTarget) throw new MongoCommandError('NamespaceExists', `target namespace exists`);
      this.dropCollection(toDb, to);
    }
    this.abortPendingOn(source, `collection ${db}.${from} renamed`);
    const target = this.ensureCollection(toDb, to, source.options, source.uuid);
    for (const index of source.indexes.values()) target.createIndex(index.spec);
    for (const doc of source.docs.values()) target.insert(doc);
    this.dropCollection(db, from);
  }

  /** Replays one journal entry; entries are idempotent so a replay after a snapshot is safe. */
  apply(change: Document): void {
    const db = change.db as string;
    const name = change.coll as string;
    switch (change.op) {
      case 'createCollection':
        this.ensureCollection(
          db,
          name,
          (change.options as Document) ?? {},
          change.uuid instanceof Binary ? change.uuid : undefined,
        );
        break;
      case 'dropCollection':
        this.dropCollection(db, name);
        break;
      case 'dropDatabase':
        this.dropDatabase(db);
        break;
      case 'createIndex':
        try {
          this.ensureCollection(db, name).createIndex(change.spec as IndexSpec, false);
        } catch {
          // An index that conflicted at replay time conflicted when it was first created too.
        }
        break;
      case 'dropIndex':
        this.collection(db, name)?.indexes.delete(change.name as string);
        break;
      case 'setOptions': {
        const coll = this.collection(db, name);
        if (coll) coll.options = (change.options as Document) ?? {};
        break;
      }
      case 'put':
        this.ensureCollection(db, name).restore(change.doc as Document);
        break;
      case 'del':
        this.collection(db, name)?.restoreDelete(change.id);
        break;
      case 'txn':
        // A transaction's header: the loader applies its entries only when all of them are there.
        break;
      default:
        throw new Error(`unknown journal entry ${String(change.op)}`);
    }
  }

  /** Entries that rebuild the committed state from nothing (the snapshot; open transactions left out). */
  *snapshotEntries(): Generator<Document> {
    for (const [db, colls] of this.dbs) {
      for (const [name, coll] of colls) {
        yield { op: 'createCollection', db, coll: name, options: coll.options, uuid: coll.uuid };
        for (const index of coll.indexes.values())
          yield { op: 'createIndex', db, coll: name, spec: index.spec };
        for (const doc of coll.committedDocs()) yield { op: 'put', db, coll: name, doc };
      }
    }
  }
}

function validateName(db: string, name: string): void {
  if (!db || /[/\\. "$]/.test(db))
    throw new MongoCommandError('InvalidNamespace', `Invalid database name: '${db}'`);
  if (!name || name.includes('$') || name.startsWith('.') || name.includes('\0')) {
    throw new MongoCommandError('InvalidNamespace', `Invalid collection name: ${name}`);
  }
}
