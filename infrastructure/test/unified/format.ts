/**
 * The unified test format (MongoDB specifications, `source/unified-test-format`): the shapes of
 * a test file this runner reads, loading YAML/JSON with Extended JSON values, and the
 * `schemaVersion` / `runOnRequirements` checks. Only the part of the format that CRUD tests use
 * is modelled (see README.md next to this file).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BSON, type Document } from 'mongodb';

const { EJSON } = BSON;
import { parse as parseYaml } from 'yaml';

/** A problem with a case file or the runner, not an outcome of the operation under test. */
export class RunnerConfigurationError extends Error {
  override name = 'RunnerConfigurationError';
}

/** The newest schema version whose CRUD subset this runner implements. */
export const SUPPORTED_SCHEMA_VERSION = '1.13';

export interface RunOnRequirement {
  minServerVersion?: string;
  maxServerVersion?: string;
  topologies?: string[];
  serverless?: 'require' | 'forbid' | 'allow';
  auth?: boolean;
  authMechanism?: string;
  serverParameters?: Document;
  csfle?: unknown;
}

export interface ClientEntity {
  id: string;
  uriOptions?: Document;
  useMultipleMongoses?: boolean;
  observeEvents?: string[];
  ignoreCommandMonitoringEvents?: string[];
  observeSensitiveCommands?: boolean;
  serverApi?: { version: string; strict?: boolean; deprecationErrors?: boolean };
  [other: string]: unknown;
}

export interface CollectionOrDatabaseOptions {
  readConcern?: { level: string };
  readPreference?: { mode: string; tagSets?: Document[]; maxStalenessSeconds?: number };
  writeConcern?: { w?: number | string; journal?: boolean; wtimeoutMS?: number };
  timeoutMS?: number;
}

export interface EntityDescription {
  client?: ClientEntity;
  database?: {
    id: string;
    client: string;
    databaseName: string;
    databaseOptions?: CollectionOrDatabaseOptions;
  };
  collection?: {
    id: string;
    database: string;
    collectionName: string;
    collectionOptions?: CollectionOrDatabaseOptions;
  };
  [other: string]: unknown;
}

export interface CollectionData {
  collectionName: string;
  databaseName: string;
  createOptions?: Document;
  documents: Document[];
}

export interface ExpectedError {
  isError?: true;
  isClientError?: boolean;
  isTimeoutError?: boolean;
  errorContains?: string;
  errorCode?: number;
  errorCodeName?: string;
  errorLabelsContain?: string[];
  errorLabelsOmit?: string[];
  writeErrors?: Document;
  writeConcernErrors?: Document[];
  errorResponse?: Document;
  expectResult?: unknown;
}

export interface Operation {
  name: string;
  object: string;
  arguments?: Document;
  expectError?: ExpectedError;
  expectResult?: unknown;
  saveResultAsEntity?: string;
  ignoreResultAndError?: boolean;
}

export interface ExpectedEventsForClient {
  client: string;
  eventType?: 'command' | 'cmap' | 'sdam';
  events: Document[];
  ignoreExtraEvents?: boolean;
}

export interface UnifiedTest {
  description: string;
  runOnRequirements?: RunOnRequirement[];
  skipReason?: string;
  operations: Operation[];
  expectEvents?: ExpectedEventsForClient[];
  outcome?: CollectionData[];
  [other: string]: unknown;
}

export interface UnifiedFile {
  description: string;
  schemaVersion: string;
  runOnRequirements?: RunOnRequirement[];
  createEntities?: EntityDescription[];
  initialData?: CollectionData[];
  tests: UnifiedTest[];
  _yamlAnchors?: unknown;
}

/** Keys that make an object an Extended JSON value (canonical or relaxed) rather than a document. */
const EJSON_KEYS = new Set([
  '$oid',
  '$date',
  '$numberInt',
  '$numberLong',
  '$numberDouble',
  '$numberDecimal',
  '$binary',
  '$uuid',
  '$regularExpression',
  '$timestamp',
  '$minKey',
  '$maxKey',
  '$undefined',
  '$symbol',
  '$code',
  '$scope',
  '$dbPointer',
]);

/**
 * Turns the Extended JSON wrappers of a parsed file into BSON values (`{$numberDecimal: "1.5"}`
 * → Decimal128, `{$numberDouble: "2.0"}` → Double, `{$oid}` → ObjectId, `{$date}` → Date...).
 * Plain numbers stay JS numbers (the driver sends integers as int32 and others as double, as
 * canonical Extended JSON would). The legacy `{$regex, $options}` form is deliberately left
 * alone: in a test file it is the query operator, not a regular expression value.
 */
export function fromExtendedJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromExtendedJson);
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length > 0 && keys.every((k) => EJSON_KEYS.has(k))) {
      return EJSON.deserialize(value as Document, { relaxed: false });
    }
    const out: Document = {};
    for (const key of keys) out[key] = fromExtendedJson((value as Document)[key]);
    return out;
  }
  return value;
}

/** Reads a `.yml`/`.yaml`/`.json` unified test file. */
export function loadUnifiedFile(file: string): UnifiedFile {
  const text = readFileSync(file, 'utf8');
  const raw: unknown = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text, { merge: true });
  const parsed = fromExtendedJson(raw) as UnifiedFile;
  if (!parsed || typeof parsed !== 'object' || !Array.isArray(parsed.tests)) {
    throw new Error(`${path.basename(file)}: not a unified test file (no tests array)`);
  }
  return parsed;
}

/** `"7.0"` → [7, 0, 0]; anything after major.minor.patch (`-rc1`) is discarded. */
export function parseVersion(version: string): [number, number, number] {
  const parts = version.split(/[.-]/).slice(0, 3);
  const nums = [0, 1, 2].map((i) => Number.parseInt(parts[i] ?? '0', 10));
  if (nums.some((n) => Number.isNaN(n))) throw new Error(`malformed version string '${version}'`);
  return nums as [number, number, number];
}

export function compareVersions(a: [number, number, number], b: [number, number, number]): number {
  for (let i = 0; i < 3; i += 1) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** Undefined when the runner can process files of this schema version, else why not. */
export function schemaVersionProblem(schemaVersion: unknown): string | undefined {
  if (typeof schemaVersion !== 'string') return 'schemaVersion is missing';
  const [major, minor] = parseVersion(schemaVersion);
  const [supportedMajor, supportedMinor] = parseVersion(SUPPORTED_SCHEMA_VERSION);
  if (major !== supportedMajor || minor > supportedMinor) {
    return `schemaVersion ${schemaVersion} is not supported (runner implements ${SUPPORTED_SCHEMA_VERSION})`;
  }
  return undefined;
}

export type Topology = 'single' | 'replicaset' | 'sharded' | 'load-balanced';

/** What runOnRequirements are evaluated against. */
export interface ServerFacts {
  version: [number, number, number];
  topology: Topology;
  auth: boolean;
  serverless: boolean;
  csfle: boolean;
}

/** Undefined when `req` is met by `server`, else the reason it is not. */
export function unmetRequirement(req: RunOnRequirement, server: ServerFacts): string | undefined {
  const known = new Set([
    'minServerVersion',
    'maxServerVersion',
    'topologies',
    'serverless',
    'auth',
    'authMechanism',
    'serverParameters',
    'csfle',
  ]);
  for (const key of Object.keys(req)) {
    if (!known.has(key)) throw new Error(`unknown runOnRequirement field '${key}'`);
  }
  const shown = server.version.join('.');
  if (
    req.minServerVersion &&
    compareVersions(server.version, parseVersion(req.minServerVersion)) < 0
  ) {
    return `needs server >= ${req.minServerVersion} (stand-in is ${shown})`;
  }
  if (
    req.maxServerVersion &&
    compareVersions(server.version, parseVersion(req.maxServerVersion)) > 0
  ) {
    return `needs server <= ${req.maxServerVersion} (stand-in is ${shown})`;
  }
  if (req.topologies) {
    // "sharded" accepts any sharded cluster, "sharded-replicaset" one whose shards are replica sets.
    const accepted = req.topologies.some(
      (t) => t === server.topology || (t === 'sharded-replicaset' && server.topology === 'sharded'),
    );
    if (!accepted)
      return `needs topology ${req.topologies.join('/')} (stand-in is ${server.topology})`;
  }
  if (req.serverless === 'require' && !server.serverless) return 'needs Atlas Serverless';
  if (req.serverless === 'forbid' && server.serverless) return 'forbids Atlas Serverless';
  if (req.auth === true && !server.auth) return 'needs authentication (the stand-in has none)';
  if (req.auth === false && server.auth) return 'needs authentication disabled';
  if (req.authMechanism !== undefined) return `needs auth mechanism ${req.authMechanism}`;
  if (req.csfle !== undefined && req.csfle !== false && !server.csfle) {
    return 'needs client-side field level encryption';
  }
  if (req.serverParameters !== undefined) {
    // Would need a getParameter round trip per parameter; no file here uses it.
    throw new Error('runOnRequirements.serverParameters is not implemented by this runner');
  }
  return undefined;
}

/** Undefined when no requirements are given or one of them is met; else every reason. */
export function unmetRequirements(
  reqs: RunOnRequirement[] | undefined,
  server: ServerFacts,
): string | undefined {
  if (!reqs || reqs.length === 0) return undefined;
  const reasons: string[] = [];
  for (const req of reqs) {
    const reason = unmetRequirement(req, server);
    if (reason === undefined) return undefined;
    reasons.push(reason);
  }
  return reasons.join('; or ');
}
