/**
 * Entity test operations of the unified test format, mapped onto the official Node driver:
 * the CRUD, index and collection-management methods of Collection and Db. Arguments are the
 * format's (every option at the top level of `arguments`); an unknown argument is an error, so
 * a typo in a case file cannot silently test nothing. Results are converted to documents as the
 * format asks (iterables fully iterated, model objects as plain documents).
 */
import {
  ReadPreference,
  type AnyBulkWriteOperation,
  type BulkWriteResult,
  type Collection,
  type Db,
  type Document,
  type ReadPreferenceMode,
} from 'mongodb';
import { RunnerConfigurationError } from './format';

/** How an operation's result is matched: cursors give arrays of root-level documents. */
export type ResultKind = 'value' | 'document' | 'iterable' | 'none';

export interface OperationOutcome {
  result: unknown;
  kind: ResultKind;
}

function pick(args: Document, allowed: readonly string[], required: readonly string[], op: string) {
  for (const key of Object.keys(args)) {
    if (!allowed.includes(key) && !required.includes(key)) {
      throw new RunnerConfigurationError(`${op}: unsupported argument '${key}'`);
    }
  }
  for (const key of required) {
    if (args[key] === undefined)
      throw new RunnerConfigurationError(`${op}: missing required argument '${key}'`);
  }
  const options: Document = {};
  for (const key of allowed) if (args[key] !== undefined) options[key] = args[key];
  return options;
}

function returnDocument(value: unknown): 'before' | 'after' | undefined {
  if (value === undefined) return undefined;
  const lower = String(value).toLowerCase();
  if (lower !== 'before' && lower !== 'after') {
    throw new RunnerConfigurationError(
      `returnDocument must be "Before" or "After", got ${String(value)}`,
    );
  }
  return lower;
}

export function readPreferenceFrom(value: unknown): ReadPreference | undefined {
  if (value === undefined) return undefined;
  const rp = value as { mode: string; tagSets?: Document[]; maxStalenessSeconds?: number };
  const mode = (rp.mode.charAt(0).toLowerCase() + rp.mode.slice(1)) as ReadPreferenceMode;
  return new ReadPreference(
    mode,
    rp.tagSets,
    rp.maxStalenessSeconds !== undefined ? { maxStalenessSeconds: rp.maxStalenessSeconds } : {},
  );
}

/** BulkWriteResult as the CRUD spec's document (insertedIds/upsertedIds keyed by index). */
export function bulkWriteResultDocument(result: BulkWriteResult): Document {
  const ids = (map: Record<number, unknown>) =>
    Object.fromEntries(Object.entries(map).map(([k, v]) => [String(k), v]));
  return {
    insertedCount: result.insertedCount,
    matchedCount: result.matchedCount,
    modifiedCount: result.modifiedCount,
    deletedCount: result.deletedCount,
    upsertedCount: result.upsertedCount,
    upsertedIds: ids(result.upsertedIds),
    insertedIds: ids(result.insertedIds),
  };
}

/** Sessions are not modelled (no session entities): a `session` argument is refused. */
const COMMON = ['comment'] as const;
const FIND_OPTIONS = [
  'sort',
  'projection',
  'skip',
  'limit',
  'batchSize',
  'collation',
  'hint',
  'min',
  'max',
  'returnKey',
  'showRecordId',
  'let',
  'allowDiskUse',
  'maxTimeMS',
  'noCursorTimeout',
  ...COMMON,
] as const;
const WRITE_OPTIONS = ['collation', 'hint', 'bypassDocumentValidation', 'let', ...COMMON] as const;
const INDEX_OPTIONS = [
  'name',
  'unique',
  'sparse',
  'expireAfterSeconds',
  'partialFilterExpression',
  'collation',
  'weights',
  'default_language',
  'language_override',
  'textIndexVersion',
  'hidden',
  'background',
  'wildcardProjection',
  'commitQuorum',
  ...COMMON,
] as const;

function bulkRequests(requests: unknown): AnyBulkWriteOperation<Document>[] {
  const kinds: Record<string, { required: string[]; allowed: string[] }> = {
    insertOne: { required: ['document'], allowed: [] },
    updateOne: {
      required: ['filter', 'update'],
      allowed: ['upsert', 'arrayFilters', 'collation', 'hint', 'sort'],
    },
    updateMany: {
      required: ['filter', 'update'],
      allowed: ['upsert', 'arrayFilters', 'collation', 'hint'],
    },
    replaceOne: {
      required: ['filter', 'replacement'],
      allowed: ['upsert', 'collation', 'hint', 'sort'],
    },
    deleteOne: { required: ['filter'], allowed: ['collation', 'hint'] },
    deleteMany: { required: ['filter'], allowed: ['collation', 'hint'] },
  };
  if (!Array.isArray(requests))
    throw new RunnerConfigurationError('bulkWrite: requests must be an array');
  return requests.map((request: Document) => {
    const [kind, ...rest] = Object.keys(request);
    const spec = kind === undefined ? undefined : kinds[kind];
    if (!spec || rest.length > 0) {
      throw new RunnerConfigurationError(
        `bulkWrite: unsupported request ${JSON.stringify(Object.keys(request))}`,
      );
    }
    const body = request[kind!] as Document;
    const model = pick(
      body,
      [...spec.required, ...spec.allowed],
      spec.required,
      `bulkWrite.${kind}`,
    );
    return { [kind!]: model } as unknown as AnyBulkWriteOperation<Document>;
  });
}

export async function collectionOperation(
  collection: Collection<Document>,
  name: string,
  args: Document,
): Promise<OperationOutcome> {
  switch (name) {
    case 'find': {
      const o = pick(args, ['filter', ...FIND_OPTIONS], [], name);
      const { filter, ...options } = o;
      return { result: await collection.find(filter ?? {}, options).toArray(), kind: 'iterable' };
    }
    case 'findOne': {
      const o = pick(args, ['filter', ...FIND_OPTIONS.filter((k) => k !== 'limit')], [], name);
      const { filter, ...options } = o;
      return { result: await collection.findOne(filter ?? {}, options), kind: 'document' };
    }
    case 'aggregate': {
      const o = pick(
        args,
        [
          'allowDiskUse',
          'batchSize',
          'bypassDocumentValidation',
          'collation',
          'hint',
          'let',
          'maxTimeMS',
          'maxAwaitTimeMS',
          ...COMMON,
        ],
        ['pipeline'],
        name,
      );
      const docs = await collection.aggregate(args.pipeline as Document[], o).toArray();
      return { result: docs, kind: 'iterable' };
    }
    case 'countDocuments': {
      const o = pick(
        args,
        ['collation', 'hint', 'limit', 'skip', 'maxTimeMS', ...COMMON],
        ['filter'],
        name,
      );
      return { result: await collection.countDocuments(args.filter as Document, o), kind: 'value' };
    }
    case 'estimatedDocumentCount': {
      const o = pick(args, ['maxTimeMS', ...COMMON], [], name);
      return { result: await collection.estimatedDocumentCount(o), kind: 'value' };
    }
    case 'distinct': {
      const o = pick(
        args,
        ['collation', 'hint', 'maxTimeMS', ...COMMON],
        ['fieldName', 'filter'],
        name,
      );
      const values = await collection.distinct(
        args.fieldName as string,
        args.filter as Document,
        o,
      );
      return { result: values, kind: 'value' };
    }
    case 'insertOne': {
      const o = pick(args, ['bypassDocumentValidation', ...COMMON], ['document'], name);
      const res = await collection.insertOne(args.document as Document, o);
      return { result: { insertedId: res.insertedId }, kind: 'document' };
    }
    case 'insertMany': {
      const o = pick(args, ['ordered', 'bypassDocumentValidation', ...COMMON], ['documents'], name);
      const res = await collection.insertMany(args.documents as Document[], o);
      return {
        result: {
          insertedCount: res.insertedCount,
          insertedIds: Object.fromEntries(
            Object.entries(res.insertedIds).map(([k, v]) => [String(k), v]),
          ),
        },
        kind: 'document',
      };
    }
    case 'updateOne':
    case 'updateMany':
    case 'replaceOne': {
      const replace = name === 'replaceOne';
      const body = replace ? 'replacement' : 'update';
      const allowed = [
        'upsert',
        ...WRITE_OPTIONS,
        ...(replace ? [] : ['arrayFilters']),
        ...(name === 'updateMany' ? [] : ['sort']),
      ];
      const o = pick(args, allowed, ['filter', body], name);
      const filter = args.filter as Document;
      const res =
        name === 'updateOne'
          ? await collection.updateOne(filter, args.update as Document, o)
          : name === 'updateMany'
            ? await collection.updateMany(filter, args.update as Document, o)
            : await collection.replaceOne(filter, args.replacement as Document, o);
      const doc: Document = {
        matchedCount: res.matchedCount,
        modifiedCount: res.modifiedCount,
        upsertedCount: res.upsertedCount,
      };
      if (res.upsertedId !== null && res.upsertedId !== undefined) doc.upsertedId = res.upsertedId;
      return { result: doc, kind: 'document' };
    }
    case 'deleteOne':
    case 'deleteMany': {
      const o = pick(args, ['collation', 'hint', 'let', ...COMMON], ['filter'], name);
      const res =
        name === 'deleteOne'
          ? await collection.deleteOne(args.filter as Document, o)
          : await collection.deleteMany(args.filter as Document, o);
      return { result: { deletedCount: res.deletedCount }, kind: 'document' };
    }
    case 'findOneAndUpdate':
    case 'findOneAndReplace':
    case 'findOneAndDelete': {
      const kind = name.slice('findOneAnd'.length);
      const allowed = [
        'projection',
        'sort',
        'collation',
        'hint',
        'let',
        'maxTimeMS',
        ...COMMON,
        ...(kind === 'Delete' ? [] : ['upsert', 'returnDocument', 'bypassDocumentValidation']),
        ...(kind === 'Update' ? ['arrayFilters'] : []),
      ];
      const required = [
        'filter',
        ...(kind === 'Update' ? ['update'] : []),
        ...(kind === 'Replace' ? ['replacement'] : []),
      ];
      const o = pick(args, allowed, required, name);
      if (o.returnDocument !== undefined) o.returnDocument = returnDocument(o.returnDocument);
      const filter = args.filter as Document;
      const doc =
        kind === 'Update'
          ? await collection.findOneAndUpdate(filter, args.update as Document, o)
          : kind === 'Replace'
            ? await collection.findOneAndReplace(filter, args.replacement as Document, o)
            : await collection.findOneAndDelete(filter, o);
      return { result: doc, kind: 'document' };
    }
    case 'bulkWrite': {
      const o = pick(
        args,
        ['ordered', 'bypassDocumentValidation', 'let', ...COMMON],
        ['requests'],
        name,
      );
      const res = await collection.bulkWrite(bulkRequests(args.requests), o);
      return { result: bulkWriteResultDocument(res), kind: 'document' };
    }
    case 'createIndex': {
      const o = pick(args, INDEX_OPTIONS, ['keys'], name);
      return { result: await collection.createIndex(args.keys as Document, o), kind: 'value' };
    }
    case 'listIndexes': {
      const o = pick(args, ['batchSize', ...COMMON], [], name);
      return { result: await collection.listIndexes(o).toArray(), kind: 'iterable' };
    }
    case 'dropIndex': {
      const o = pick(args, [...COMMON], ['name'], name);
      return { result: await collection.dropIndex(args.name as string, o), kind: 'document' };
    }
    case 'dropIndexes': {
      const o = pick(args, ['maxTimeMS', ...COMMON], [], name);
      return { result: await collection.dropIndexes(o), kind: 'value' };
    }
    case 'drop': {
      const o = pick(args, [...COMMON], [], name);
      return { result: await collection.drop(o), kind: 'value' };
    }
    default:
      throw new RunnerConfigurationError(`unsupported collection operation '${name}'`);
  }
}

export async function databaseOperation(
  db: Db,
  name: string,
  args: Document,
): Promise<OperationOutcome> {
  switch (name) {
    case 'runCommand': {
      const o = pick(args, ['readPreference'], ['command', 'commandName'], name);
      const command = args.command as Document;
      if (Object.keys(command)[0] !== args.commandName) {
        throw new RunnerConfigurationError(
          `runCommand: commandName ${String(args.commandName)} is not the command's first key`,
        );
      }
      const readPreference = readPreferenceFrom(o.readPreference);
      const res = await db.command(command, readPreference ? { readPreference } : {});
      return { result: res, kind: 'document' };
    }
    case 'aggregate': {
      const o = pick(
        args,
        [
          'allowDiskUse',
          'batchSize',
          'bypassDocumentValidation',
          'collation',
          'hint',
          'let',
          'maxTimeMS',
          ...COMMON,
        ],
        ['pipeline'],
        name,
      );
      return {
        result: await db.aggregate(args.pipeline as Document[], o).toArray(),
        kind: 'iterable',
      };
    }
    case 'createCollection': {
      const o = pick(
        args,
        [
          'viewOn',
          'pipeline',
          'validator',
          'validationLevel',
          'validationAction',
          'collation',
          'expireAfterSeconds',
          'timeseries',
          'clusteredIndex',
          'capped',
          'size',
          'max',
          'changeStreamPreAndPostImages',
          'storageEngine',
          'indexOptionDefaults',
          ...COMMON,
        ],
        ['collection'],
        name,
      );
      await db.createCollection(args.collection as string, o);
      return { result: undefined, kind: 'none' };
    }
    case 'dropCollection': {
      const o = pick(args, [...COMMON], ['collection'], name);
      return { result: await db.dropCollection(args.collection as string, o), kind: 'value' };
    }
    case 'listCollections':
    case 'listCollectionNames': {
      const o = pick(args, ['filter', 'batchSize', 'authorizedCollections', ...COMMON], [], name);
      const { filter, ...options } = o;
      if (name === 'listCollectionNames') {
        const infos = await db
          .listCollections(filter ?? {}, { ...options, nameOnly: true })
          .toArray();
        return { result: infos.map((c) => c.name), kind: 'value' };
      }
      return {
        result: await db.listCollections(filter ?? {}, options).toArray(),
        kind: 'iterable',
      };
    }
    default:
      throw new RunnerConfigurationError(`unsupported database operation '${name}'`);
  }
}
