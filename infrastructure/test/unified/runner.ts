/**
 * Runs unified-format test files against the MongoDB stand-in through the official Node driver:
 * a fresh stand-in per file (standalone, or a one-member replica set when the file's
 * runOnRequirements only admit `replicaset`), entities created per test, initialData
 * (re)written before each test, operations with expectResult / expectError, command monitoring
 * for expectEvents, and outcome read back through an internal client.
 */
import {
  MongoBulkWriteError,
  MongoClient,
  MongoServerError,
  type Collection,
  type CommandFailedEvent,
  type CommandStartedEvent,
  type CommandSucceededEvent,
  type Db,
  type Document,
  type MongoClientOptions,
  type ServerApi,
} from 'mongodb';
import { startMongoStandIn, type MongoStandIn } from '@ecom/infrastructure/mongo';
import {
  RunnerConfigurationError,
  compareVersions,
  schemaVersionProblem,
  unmetRequirements,
  type CollectionData,
  type CollectionOrDatabaseOptions,
  type EntityDescription,
  type ExpectedError,
  type ExpectedEventsForClient,
  type Operation,
  type ServerFacts,
  type Topology,
  type UnifiedFile,
  type UnifiedTest,
} from './format';
import { assertMatches, assertMatchesIterable, isDocument, show, type EntityLookup } from './match';
import {
  bulkWriteResultDocument,
  collectionOperation,
  databaseOperation,
  readPreferenceFrom,
  type OperationOutcome,
} from './operations';

/**
 * What the stand-in claims to be (its buildInfo and hello), used to plan which files and tests
 * apply before jest registers them; `UnifiedFileRunner.start` checks the live server agrees.
 */
export const STAND_IN_VERSION: [number, number, number] = [7, 0, 0];
export const STAND_IN_TOPOLOGIES: Topology[] = ['single', 'replicaset'];
export const STAND_IN_REPLICA_SET = 'rs0';

export function standInFacts(topology: Topology): ServerFacts {
  return { version: STAND_IN_VERSION, topology, auth: false, serverless: false, csfle: false };
}

export type FilePlan =
  | { status: 'run'; topology: Topology; server: ServerFacts }
  | { status: 'not applicable'; reason: string }
  | { status: 'invalid'; reason: string };

const FILE_FIELDS = new Set([
  'description',
  'schemaVersion',
  'runOnRequirements',
  'createEntities',
  'initialData',
  'tests',
  '_yamlAnchors',
]);

/** Which stand-in a file runs on, or why it does not run. */
export function planFile(file: UnifiedFile): FilePlan {
  const problem = schemaVersionProblem(file.schemaVersion);
  if (problem) return { status: 'invalid', reason: problem };
  const unknown = Object.keys(file).filter((key) => !FILE_FIELDS.has(key));
  if (unknown.length > 0) {
    return { status: 'invalid', reason: `unsupported top-level field(s) ${unknown.join(', ')}` };
  }
  const reasons: string[] = [];
  try {
    for (const topology of STAND_IN_TOPOLOGIES) {
      const server = standInFacts(topology);
      const unmet = unmetRequirements(file.runOnRequirements, server);
      if (unmet === undefined) return { status: 'run', topology, server };
      reasons.push(unmet.replace(/ \(stand-in is (single|replicaset)\)/g, ''));
    }
  } catch (err) {
    return { status: 'invalid', reason: (err as Error).message };
  }
  const topologies = STAND_IN_TOPOLOGIES.join(' or ');
  return {
    status: 'not applicable',
    reason: `${[...new Set(reasons)].join('; ')} (the stand-in runs as ${topologies})`,
  };
}

export type TestPlan = { status: 'run' } | { status: 'not applicable' | 'skipped'; reason: string };

export function planTest(test: UnifiedTest, server: ServerFacts): TestPlan {
  if (test.skipReason) return { status: 'skipped', reason: test.skipReason };
  // Throws for a requirement this runner cannot evaluate (reported as a failure).
  const unmet = unmetRequirements(test.runOnRequirements, server);
  if (unmet !== undefined) return { status: 'not applicable', reason: unmet };
  return { status: 'run' };
}

/** codeName of the server error codes the case files name (mongo's error_codes.yml). */
const CODE_NAMES: Record<number, string> = {
  1: 'InternalError',
  2: 'BadValue',
  9: 'FailedToParse',
  14: 'TypeMismatch',
  20: 'IllegalOperation',
  26: 'NamespaceNotFound',
  27: 'IndexNotFound',
  28: 'PathNotViable',
  40: 'ConflictingUpdateOperators',
  48: 'NamespaceExists',
  52: 'DollarPrefixedFieldName',
  53: 'InvalidIdField',
  59: 'CommandNotFound',
  66: 'ImmutableField',
  67: 'CannotCreateIndex',
  72: 'InvalidOptions',
  85: 'IndexOptionsConflict',
  86: 'IndexKeySpecsConflict',
  115: 'CommandNotSupported',
  121: 'DocumentValidationFailure',
  166: 'CommandNotSupportedOnView',
  167: 'OptionNotSupportedOnView',
  168: 'InvalidPipelineOperator',
  197: 'InvalidIndexSpecificationOption',
  11000: 'DuplicateKey',
};

const SENSITIVE_COMMANDS = new Set([
  'authenticate',
  'saslstart',
  'saslcontinue',
  'getnonce',
  'createuser',
  'updateuser',
  'copydbgetnonce',
  'copydbsaslstart',
  'copydb',
]);

type ObservedEvent =
  | { type: 'commandStartedEvent'; event: CommandStartedEvent }
  | { type: 'commandSucceededEvent'; event: CommandSucceededEvent }
  | { type: 'commandFailedEvent'; event: CommandFailedEvent };

interface ClientEntry {
  kind: 'client';
  client: MongoClient;
  events: ObservedEvent[];
}

type Entity =
  | ClientEntry
  | { kind: 'database'; db: Db }
  | { kind: 'collection'; collection: Collection<Document> }
  | { kind: 'bson'; value: unknown };

function codeOf(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = Number(value);
  return Number.isNaN(n) ? undefined : n;
}

/** One line naming an error: its class, code and message (and write errors, if any). */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as Error & { code?: unknown; codeName?: string; writeErrors?: unknown };
  const code = codeOf(e.code);
  const parts = [`${e.constructor.name}${code !== undefined ? ` code ${code}` : ''}`];
  if (e.codeName) parts[0] += ` (${e.codeName})`;
  parts.push(e.message);
  return parts.join(': ');
}

function writeErrorsOf(
  err: unknown,
): Array<{ code?: unknown; errmsg?: string; codeName?: string }> {
  if (err instanceof MongoBulkWriteError) {
    const list = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
    return list.map((w) => ({ code: w.code, errmsg: w.errmsg }));
  }
  return [];
}

function collectionOptions(options: CollectionOrDatabaseOptions | undefined): Document {
  if (!options) return {};
  const out: Document = {};
  for (const [key, value] of Object.entries(options)) {
    if (key === 'readConcern') out.readConcern = value;
    else if (key === 'readPreference') out.readPreference = readPreferenceFrom(value);
    else if (key === 'writeConcern') out.writeConcern = value;
    else throw new Error(`unsupported collection/database option '${key}'`);
  }
  return out;
}

class EntityMap {
  private readonly entities = new Map<string, Entity>();
  private recording = false;

  constructor(private readonly url: string) {}

  readonly lookup: EntityLookup = (name) => {
    const entity = this.entities.get(name);
    if (!entity) throw new Error(`no entity named '${name}'`);
    if (entity.kind !== 'bson')
      throw new Error(`entity '${name}' is a ${entity.kind}, not a value`);
    return entity.value;
  };

  get(name: string): Entity {
    const entity = this.entities.get(name);
    if (!entity) throw new Error(`no entity named '${name}'`);
    return entity;
  }

  private add(name: string, entity: Entity): void {
    if (this.entities.has(name)) throw new Error(`entity '${name}' is defined twice`);
    this.entities.set(name, entity);
  }

  saveValue(name: string, value: unknown): void {
    this.add(name, { kind: 'bson', value });
  }

  async create(descriptions: EntityDescription[]): Promise<void> {
    for (const description of descriptions) {
      const keys = Object.keys(description);
      if (keys.length !== 1)
        throw new Error(`an entity has exactly one key, got ${keys.join(', ')}`);
      const kind = keys[0];
      if (description.client) await this.createClient(description.client);
      else if (description.database) {
        const d = description.database;
        const client = this.get(d.client);
        if (client.kind !== 'client') throw new Error(`'${d.client}' is not a client`);
        const db = client.client.db(d.databaseName, collectionOptions(d.databaseOptions));
        this.add(d.id, { kind: 'database', db });
      } else if (description.collection) {
        const c = description.collection;
        const db = this.get(c.database);
        if (db.kind !== 'database') throw new Error(`'${c.database}' is not a database`);
        const collection = db.db.collection(
          c.collectionName,
          collectionOptions(c.collectionOptions),
        );
        this.add(c.id, { kind: 'collection', collection });
      } else {
        throw new Error(`entity type '${kind}' is not implemented by this runner`);
      }
    }
  }

  private async createClient(spec: EntityDescription['client'] & object): Promise<void> {
    const known = new Set([
      'id',
      'uriOptions',
      'useMultipleMongoses',
      'observeEvents',
      'ignoreCommandMonitoringEvents',
      'observeSensitiveCommands',
      'serverApi',
    ]);
    for (const key of Object.keys(spec)) {
      if (!known.has(key))
        throw new Error(`client option '${key}' is not implemented by this runner`);
    }
    const observe = new Set(spec.observeEvents ?? []);
    for (const type of observe) {
      if (!['commandStartedEvent', 'commandSucceededEvent', 'commandFailedEvent'].includes(type)) {
        throw new Error(`observing ${type} is not implemented by this runner`);
      }
    }
    const ignore = new Set(spec.ignoreCommandMonitoringEvents ?? []);
    const options: MongoClientOptions = {
      ...(spec.uriOptions as MongoClientOptions | undefined),
      monitorCommands: observe.size > 0,
      serverSelectionTimeoutMS: 5000,
      ...(spec.serverApi ? { serverApi: spec.serverApi as ServerApi } : {}),
    };
    const client = new MongoClient(this.url, options);
    await client.connect();
    const entry: ClientEntry = { kind: 'client', client, events: [] };
    const sensitive = (name: string, command?: Document) =>
      !spec.observeSensitiveCommands &&
      (SENSITIVE_COMMANDS.has(name.toLowerCase()) ||
        (['hello', 'ismaster'].includes(name.toLowerCase()) &&
          command !== undefined &&
          Object.keys(command).length === 0));
    const keep = (name: string, command?: Document) =>
      this.recording &&
      !ignore.has(name) &&
      name !== 'configureFailPoint' &&
      !sensitive(name, command);
    if (observe.has('commandStartedEvent')) {
      client.on('commandStarted', (event) => {
        if (keep(event.commandName, event.command)) {
          entry.events.push({ type: 'commandStartedEvent', event });
        }
      });
    }
    if (observe.has('commandSucceededEvent')) {
      client.on('commandSucceeded', (event) => {
        if (keep(event.commandName)) entry.events.push({ type: 'commandSucceededEvent', event });
      });
    }
    if (observe.has('commandFailedEvent')) {
      client.on('commandFailed', (event) => {
        if (keep(event.commandName)) entry.events.push({ type: 'commandFailedEvent', event });
      });
    }
    this.add(spec.id, entry);
  }

  startRecording(): void {
    this.recording = true;
  }

  stopRecording(): void {
    this.recording = false;
  }

  async close(): Promise<void> {
    this.recording = false;
    for (const entity of this.entities.values()) {
      if (entity.kind === 'client') await entity.client.close().catch(() => undefined);
    }
    this.entities.clear();
  }
}

export class UnifiedFileRunner {
  private constructor(
    private readonly standIn: MongoStandIn,
    private readonly url: string,
    private readonly internal: MongoClient,
  ) {}

  /** Starts a fresh stand-in of that topology and checks it reports what the plan assumed. */
  static async start(topology: Topology): Promise<UnifiedFileRunner> {
    if (topology !== 'single' && topology !== 'replicaset') {
      throw new Error(`the stand-in cannot run as ${topology}`);
    }
    const standIn = await startMongoStandIn(
      topology === 'replicaset' ? { replicaSet: STAND_IN_REPLICA_SET } : {},
    );
    const url =
      topology === 'replicaset'
        ? `${standIn.url}/?replicaSet=${STAND_IN_REPLICA_SET}`
        : `${standIn.url}/?directConnection=true`;
    let internal: MongoClient | undefined;
    try {
      internal = new MongoClient(url, { promoteValues: false, serverSelectionTimeoutMS: 5000 });
      await internal.connect();
      const admin = internal.db('admin');
      const build = await admin.command({ buildInfo: 1 });
      const hello = await admin.command({ hello: 1 });
      const live = (build.versionArray as unknown[]).slice(0, 3).map(Number) as [
        number,
        number,
        number,
      ];
      const liveTopology: Topology = hello.setName
        ? 'replicaset'
        : hello.msg === 'isdbgrid'
          ? 'sharded'
          : 'single';
      if (compareVersions(live, STAND_IN_VERSION) !== 0 || liveTopology !== topology) {
        throw new Error(
          `the stand-in reports ${live.join('.')} ${liveTopology}, but requirements were evaluated ` +
            `for ${STAND_IN_VERSION.join('.')} ${topology}: update STAND_IN_VERSION`,
        );
      }
      return new UnifiedFileRunner(standIn, url, internal);
    } catch (err) {
      await internal?.close().catch(() => undefined);
      await standIn.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.internal.close().catch(() => undefined);
    await this.standIn.stop();
  }

  async runTest(file: UnifiedFile, test: UnifiedTest): Promise<void> {
    const known = new Set([
      'description',
      'runOnRequirements',
      'skipReason',
      'operations',
      'expectEvents',
      'outcome',
    ]);
    for (const key of Object.keys(test)) {
      if (!known.has(key)) throw new Error(`test field '${key}' is not implemented by this runner`);
    }
    await this.writeInitialData(file.initialData ?? []);
    const entities = new EntityMap(this.url);
    try {
      await entities.create(file.createEntities ?? []);
      entities.startRecording();
      for (const [i, op] of test.operations.entries()) {
        await this.runOperation(op, entities, `operations[${i}] ${op.name} on ${op.object}`);
      }
      entities.stopRecording();
      for (const expected of test.expectEvents ?? []) this.checkEvents(expected, entities);
      for (const data of test.outcome ?? []) await this.checkOutcome(data, entities.lookup);
    } finally {
      await entities.close();
    }
  }

  private async writeInitialData(initialData: CollectionData[]): Promise<void> {
    const majority = { writeConcern: { w: 'majority' as const } };
    for (const data of initialData) {
      const db = this.internal.db(data.databaseName);
      await db.dropCollection(data.collectionName, majority).catch((err: unknown) => {
        if (codeOf((err as { code?: unknown }).code) !== 26) throw err;
      });
      if (data.createOptions) {
        await db.createCollection(data.collectionName, { ...data.createOptions, ...majority });
      }
      if (data.documents.length > 0) {
        await db.collection(data.collectionName).insertMany(data.documents, majority);
      } else if (!data.createOptions) {
        await db.createCollection(data.collectionName, majority);
      }
    }
  }

  private async runOperation(op: Operation, entities: EntityMap, label: string): Promise<void> {
    const known = new Set([
      'name',
      'object',
      'arguments',
      'expectError',
      'expectResult',
      'saveResultAsEntity',
      'ignoreResultAndError',
    ]);
    for (const key of Object.keys(op)) {
      if (!known.has(key)) throw new Error(`${label}: unknown operation field '${key}'`);
    }
    if (op.object === 'testRunner') {
      await this.runSpecialOperation(op, label);
      return;
    }
    const target = entities.get(op.object);
    const args = op.arguments ?? {};
    let outcome: OperationOutcome | undefined;
    let error: unknown;
    try {
      if (target.kind === 'collection')
        outcome = await collectionOperation(target.collection, op.name, args);
      else if (target.kind === 'database')
        outcome = await databaseOperation(target.db, op.name, args);
      else throw new RunnerConfigurationError(`${label}: no operations on a ${target.kind} entity`);
    } catch (err) {
      if (err instanceof RunnerConfigurationError) throw err;
      error = err;
    }
    if (op.ignoreResultAndError) return;
    if (op.expectError) {
      if (error === undefined) {
        throw new Error(
          `${label}: expected an error, but it succeeded with ${show(outcome?.result)}`,
        );
      }
      this.checkError(op.expectError, error, label, entities.lookup);
      return;
    }
    if (error !== undefined) throw new Error(`${label}: unexpected error: ${describeError(error)}`);
    if (Object.prototype.hasOwnProperty.call(op, 'expectResult')) {
      this.checkResult(op.expectResult, outcome!, label, entities.lookup);
    }
    if (op.saveResultAsEntity) entities.saveValue(op.saveResultAsEntity, outcome!.result);
  }

  private checkResult(
    expected: unknown,
    outcome: OperationOutcome,
    label: string,
    lookup: EntityLookup,
  ) {
    const path = `${label} result`;
    try {
      if (outcome.kind === 'iterable') {
        assertMatchesIterable(expected, outcome.result as unknown[], { entities: lookup, path });
      } else {
        assertMatches(expected, outcome.result, {
          root: outcome.kind === 'document',
          entities: lookup,
          path,
        });
      }
    } catch (err) {
      throw new Error(`${(err as Error).message}\n  whole result: ${show(outcome.result)}`);
    }
  }

  private checkError(
    expected: ExpectedError,
    err: unknown,
    label: string,
    lookup: EntityLookup,
  ): void {
    const known = new Set([
      'isError',
      'isClientError',
      'errorContains',
      'errorCode',
      'errorCodeName',
      'errorLabelsContain',
      'errorLabelsOmit',
      'errorResponse',
      'expectResult',
    ]);
    for (const key of Object.keys(expected)) {
      if (!known.has(key))
        throw new Error(`${label}: expectError.${key} is not implemented by this runner`);
    }
    const got = describeError(err);
    const failWith = (message: string): never => {
      throw new Error(`${label}: ${message}; got ${got}`);
    };
    const isServerError = err instanceof MongoServerError;
    if (expected.isClientError !== undefined && expected.isClientError === isServerError) {
      failWith(expected.isClientError ? 'expected a client-side error' : 'expected a server error');
    }
    const e = err as {
      message?: string;
      code?: unknown;
      codeName?: string;
      errorResponse?: Document;
    };
    const writeErrors = writeErrorsOf(err);
    if (expected.errorContains !== undefined) {
      const needle = expected.errorContains.toLowerCase();
      const messages = [e.message ?? '', ...writeErrors.map((w) => w.errmsg ?? '')];
      if (!messages.some((m) => m.toLowerCase().includes(needle))) {
        failWith(`expected an error message containing "${expected.errorContains}"`);
      }
    }
    if (expected.errorCode !== undefined) {
      const codes = [codeOf(e.code), ...writeErrors.map((w) => codeOf(w.code))];
      if (!isServerError || !codes.includes(expected.errorCode)) {
        failWith(
          `expected server error code ${expected.errorCode}${CODE_NAMES[expected.errorCode] ? ` (${CODE_NAMES[expected.errorCode]})` : ''}`,
        );
      }
    }
    if (expected.errorCodeName !== undefined) {
      const wanted = expected.errorCodeName.toLowerCase();
      const names = [
        e.codeName,
        ...[codeOf(e.code), ...writeErrors.map((w) => codeOf(w.code))].map((c) =>
          c === undefined ? undefined : CODE_NAMES[c],
        ),
      ];
      if (!isServerError || !names.some((n) => n?.toLowerCase() === wanted)) {
        failWith(`expected server error ${expected.errorCodeName}`);
      }
    }
    const labels = err as { hasErrorLabel?: (l: string) => boolean };
    for (const l of expected.errorLabelsContain ?? []) {
      if (!labels.hasErrorLabel?.(l)) failWith(`expected error label ${l}`);
    }
    for (const l of expected.errorLabelsOmit ?? []) {
      if (labels.hasErrorLabel?.(l)) failWith(`expected no error label ${l}`);
    }
    if (expected.errorResponse !== undefined) {
      if (!isDocument(e.errorResponse)) failWith('expected a server response in the error');
      try {
        assertMatches(expected.errorResponse, e.errorResponse, {
          root: true,
          entities: lookup,
          path: 'errorResponse',
        });
      } catch (m) {
        failWith((m as Error).message);
      }
    }
    if (Object.prototype.hasOwnProperty.call(expected, 'expectResult')) {
      if (!(err instanceof MongoBulkWriteError))
        failWith('expected an error carrying a write result');
      try {
        assertMatches(
          expected.expectResult,
          bulkWriteResultDocument((err as MongoBulkWriteError).result),
          {
            root: true,
            entities: lookup,
            path: 'error result',
          },
        );
      } catch (m) {
        failWith((m as Error).message);
      }
    }
  }

  private checkEvents(expected: ExpectedEventsForClient, entities: EntityMap): void {
    if ((expected.eventType ?? 'command') !== 'command') {
      throw new Error(
        `expectEvents of type ${expected.eventType} are not implemented by this runner`,
      );
    }
    const client = entities.get(expected.client);
    if (client.kind !== 'client') throw new Error(`'${expected.client}' is not a client`);
    const actual = client.events;
    const list = actual.map((e) => `${e.type}(${e.event.commandName})`).join(', ') || 'none';
    const tooFew = actual.length < expected.events.length;
    const tooMany = !expected.ignoreExtraEvents && actual.length > expected.events.length;
    if (tooFew || tooMany) {
      throw new Error(
        `expectEvents for ${expected.client}: expected ${expected.events.length} event(s), got ${actual.length}: ${list}`,
      );
    }
    expected.events.forEach((want, i) => {
      const [type, ...rest] = Object.keys(want);
      const got = actual[i]!;
      const path = `expectEvents[${i}]`;
      if (rest.length > 0 || type === undefined)
        throw new Error(`${path}: an expected event has exactly one key`);
      if (got.type !== type)
        throw new Error(
          `${path}: expected ${type}, got ${got.type}(${got.event.commandName}) (all: ${list})`,
        );
      const fields = want[type] as Document;
      for (const [field, value] of Object.entries(fields)) {
        if (field === 'commandName' || field === 'databaseName') {
          const actualValue = (got.event as unknown as Document)[field];
          if (actualValue !== value)
            throw new Error(`${path}.${field}: expected ${show(value)}, got ${show(actualValue)}`);
        } else if (field === 'command' && got.type === 'commandStartedEvent') {
          assertMatches(value, got.event.command, {
            root: true,
            entities: entities.lookup,
            path: `${path}.command`,
          });
        } else if (field === 'reply' && got.type === 'commandSucceededEvent') {
          assertMatches(value, got.event.reply, {
            root: true,
            entities: entities.lookup,
            path: `${path}.reply`,
          });
        } else {
          throw new Error(`${path}: ${type}.${field} is not implemented by this runner`);
        }
      }
    });
  }

  private async checkOutcome(data: CollectionData, lookup: EntityLookup): Promise<void> {
    const docs = await this.internal
      .db(data.databaseName)
      .collection(data.collectionName)
      .find({}, { sort: { _id: 1 }, readPreference: 'primary', readConcern: { level: 'local' } })
      .toArray();
    const path = `outcome ${data.databaseName}.${data.collectionName}`;
    try {
      // Read with promoteValues: false, so int32, int64 and double are told apart.
      assertMatches(data.documents, docs, {
        root: false,
        entities: lookup,
        path,
        strictNumbers: true,
      });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n  whole collection: ${show(docs)}`);
    }
  }

  private async runSpecialOperation(op: Operation, label: string): Promise<void> {
    const args = op.arguments ?? {};
    const db = this.internal.db(String(args.databaseName));
    const collectionName = String(args.collectionName);
    switch (op.name) {
      case 'assertCollectionExists':
      case 'assertCollectionNotExists': {
        const found = await db
          .listCollections({ name: collectionName }, { nameOnly: true })
          .toArray();
        const want = op.name === 'assertCollectionExists';
        if (found.length > 0 !== want) {
          throw new Error(
            `${label}: collection ${args.databaseName}.${collectionName} ${want ? 'does not exist' : 'exists'}`,
          );
        }
        return;
      }
      case 'assertIndexExists':
      case 'assertIndexNotExists': {
        const indexes = await db
          .collection(collectionName)
          .listIndexes()
          .toArray()
          .catch((err: unknown) => {
            if (codeOf((err as { code?: unknown }).code) === 26) return [] as Document[];
            throw err;
          });
        const found = indexes.some((index) => index.name === args.indexName);
        const want = op.name === 'assertIndexExists';
        if (found !== want) {
          throw new Error(
            `${label}: index ${String(args.indexName)} on ${collectionName} ${want ? 'does not exist' : 'exists'}`,
          );
        }
        return;
      }
      default:
        throw new Error(`${label}: special operation ${op.name} is not implemented by this runner`);
    }
  }
}
