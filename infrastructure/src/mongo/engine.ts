import type { Document } from 'bson';
import { Collection, type ChangeListener, type IndexSpec } from './collection';
import { MongoCommandError } from './errors';

/** All databases of one stand-in. Changes are reported to a listener (the journal). */
export class Engine {
  readonly dbs = new Map<string, Map<string, Collection>>();
  private listener: ChangeListener = () => undefined;

  setListener(listener: ChangeListener): void {
    this.listener = listener;
  }

  collection(db: string, name: string): Collection | undefined {
    return this.dbs.get(db)?.get(name);
  }

  /** The collection, created (and journaled) on first write as MongoDB does implicitly. */
  ensureCollection(db: string, name: string, options: Document = {}): Collection {
    const existing = this.collection(db, name);
    if (existing) return existing;
    validateName(db, name);
    let colls = this.dbs.get(db);
    if (!colls) this.dbs.set(db, (colls = new Map()));
    const coll = new Collection(db, name, (c) => this.listener(c), options);
    colls.set(name, coll);
    this.listener({ op: 'createCollection', db, coll: name, options });
    return coll;
  }

  dropCollection(db: string, name: string): Collection | undefined {
    const colls = this.dbs.get(db);
    const coll = colls?.get(name);
    if (!colls || !coll) return undefined;
    colls.delete(name);
    if (colls.size === 0) this.dbs.delete(db);
    this.listener({ op: 'dropCollection', db, coll: name });
    return coll;
  }

  dropDatabase(db: string): void {
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
    const target = this.ensureCollection(toDb, to, source.options);
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
        this.ensureCollection(db, name, (change.options as Document) ?? {});
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
      case 'put':
        this.ensureCollection(db, name).restore(change.doc as Document);
        break;
      case 'del':
        this.collection(db, name)?.restoreDelete(change.id);
        break;
      default:
        throw new Error(`unknown journal entry ${String(change.op)}`);
    }
  }

  /** Entries that rebuild the current state from nothing (the snapshot). */
  *snapshotEntries(): Generator<Document> {
    for (const [db, colls] of this.dbs) {
      for (const [name, coll] of colls) {
        yield { op: 'createCollection', db, coll: name, options: coll.options };
        for (const index of coll.indexes.values())
          yield { op: 'createIndex', db, coll: name, spec: index.spec };
        for (const doc of coll.docs.values()) yield { op: 'put', db, coll: name, doc };
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
