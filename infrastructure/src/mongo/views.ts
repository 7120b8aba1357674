import type { Document } from 'bson';
import { parseCollation, sameCollation, type Collation } from './collation';
import type { Collection } from './collection';
import type { Engine } from './engine';
import { MongoCommandError } from './errors';
import { cloneDocument } from './keys';
import { Aggregator } from './matching';

// Read-only views (`create` with `viewOn` and `pipeline`): a read of a view runs its pipeline
// over its source (itself possibly a view) and then the read; writes are refused (166).

const MAX_VIEW_DEPTH = 20;

export interface ResolvedView {
  /** The collection at the bottom of the chain (undefined when it does not exist). */
  base: Collection | undefined;
  /** The pipelines of the chain, the bottom one first. */
  pipeline: Document[];
  /** The view's collation (a view's reads use it; undefined: simple). */
  collation?: Collation;
}

export function resolveView(engine: Engine, db: string, view: Collection): ResolvedView {
  const pipelines: Document[][] = [];
  let current: Collection | undefined = view;
  let depth = 0;
  while (current?.isView) {
    if (++depth > MAX_VIEW_DEPTH)
      throw new MongoCommandError(
        'ViewDepthLimitExceeded',
        `View depth too deep or view cycle detected. Maximum depth is ${MAX_VIEW_DEPTH}`,
      );
    pipelines.unshift((current.options.pipeline as Document[] | undefined) ?? []);
    current = engine.collection(db, current.options.viewOn as string);
  }
  return {
    base: current,
    pipeline: pipelines.flat(),
    collation: parseCollation(view.options.collation),
  };
}

/** mongod's answer to a write (or index DDL) on a view. */
export function viewNotCollection(db: string, name: string): MongoCommandError {
  return new MongoCommandError(
    'CommandNotSupportedOnView',
    `Namespace ${db}.${name} is a view, not a collection`,
  );
}

/** Reads of a view take the view's collation; asking for another one is refused (167). */
export function viewCollation(view: ResolvedView, requested: unknown): Collation | undefined {
  if (requested !== undefined && !sameCollation(parseCollation(requested), view.collation))
    throw new MongoCommandError(
      'OptionNotSupportedOnView',
      "Cannot override a view's default collation",
    );
  return view.collation;
}

/**
 * How `$lookup`, `$unionWith` and `$graphLookup` read another collection of the database: its
 * documents as the running command sees them, a view's result for a view. Copies when the
 * pipeline may modify its input.
 */
export function collectionResolver(
  engine: Engine,
  db: string,
  copy: boolean,
): (name: string) => Document[] {
  const resolve = (name: string): Document[] => {
    const coll = engine.collection(db, name);
    if (!coll) return [];
    if (coll.isView) return viewDocuments(engine, db, coll, resolve);
    const docs = coll.visibleDocs();
    return copy ? docs.map(cloneDocument) : docs;
  };
  return resolve;
}

/** A view's documents: its pipeline run over its source. */
export function viewDocuments(
  engine: Engine,
  db: string,
  view: Collection,
  resolver = collectionResolver(engine, db, true),
): Document[] {
  const resolved = resolveView(engine, db, view);
  const source = resolved.base ? resolved.base.visibleDocs().map(cloneDocument) : [];
  return new Aggregator(resolved.pipeline, {
    collation: resolved.collation,
    collectionResolver: resolver,
  }).run(source) as Document[];
}

/** Refuses a view definition whose chain comes back to itself (150). */
export function checkViewCycle(engine: Engine, db: string, name: string, viewOn: string): void {
  const seen = [name];
  let next: string | undefined = viewOn;
  while (next !== undefined) {
    seen.push(next);
    if (next === name)
      throw new MongoCommandError(
        'GraphContainsCycle',
        `View cycle detected: ${seen.map((n) => `${db}.${n}`).join(' => ')}`,
      );
    const coll = engine.collection(db, next);
    next = coll?.isView ? (coll.options.viewOn as string) : undefined;
    if (seen.length > MAX_VIEW_DEPTH + 1)
      throw new MongoCommandError(
        'ViewDepthLimitExceeded',
        `View depth too deep or view cycle detected. Maximum depth is ${MAX_VIEW_DEPTH}`,
      );
  }
}
