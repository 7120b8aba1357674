import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import { parse } from 'yaml';
import { loadConfig, parseServiceUrls } from '@ecom/common/config';
import { healthRouter } from '@ecom/common/health';
import { createMetrics } from '@ecom/common/metrics';
import { gatewayApi } from '@ecom/gateway';
import { CODE, repoRoot, schemaKeys, upstreamOf } from './deploy-support';
import {
  k8sDir,
  overlayNames,
  parseObjects,
  reachable,
  render,
  type Container,
  type Endpoint,
  type K8sObject,
  type PodTemplate,
  type ServiceSpec,
  type WorkloadSpec,
} from './k8s-support';

// No cluster runs in CI: the manifests are rendered with `kubectl kustomize` and checked
// offline, against the Kubernetes API schemas and against the code they run.

const NAMESPACE = 'ecom';
/** What each store variable reaches, and the port its URLs use. */
const STORES: Record<string, { target: string; port: number }> = {
  MONGO_URL: { target: 'mongodb', port: 27017 },
  DATABASE_URL: { target: 'postgres', port: 5432 },
  AMQP_URL: { target: 'rabbitmq', port: 5672 },
  REDIS_URL: { target: 'redis', port: 6379 },
  BLOCKCHAIN_RPC_URL: { target: 'chain', port: 8545 },
};
/** After SIGTERM, the HTTP drain is followed by consumers, workers and stores closing. */
const CLOSE_MARGIN_SECONDS = 5;
/** Somewhere outside the cluster (a managed store in production). */
const OUTSIDE: Endpoint = { ip: '203.0.113.10' };

/** The Secrets of the dev overlay, as its script makes them (the same names and keys serve
 * production, where the operator creates them). Decoded. */
const devSecrets: Record<string, Record<string, string>> = Object.fromEntries(
  parseObjects(
    execFileSync('bash', [path.join(k8sDir, 'overlays/dev/secrets.sh')], { encoding: 'utf8' }),
  ).map((s) => [
    s.metadata.name,
    Object.fromEntries(
      Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
    ),
  ]),
);

/** Image name (the build script's IMAGES table) → the workspace its image is built from. */
const BUILT: Record<string, string> = Object.fromEntries(
  (
    /^IMAGES=\(\n([^)]*)\)/m.exec(
      readFileSync(path.join(k8sDir, 'build-images.sh'), 'utf8'),
    )?.[1] ?? ''
  )
    .trim()
    .split(/\s+/)
    .map((entry) => entry.split('=') as [string, string]),
);

function byKind<T = unknown>(objects: K8sObject[], kind: string): (K8sObject & { spec: T })[] {
  return objects.filter((o) => o.kind === kind) as (K8sObject & { spec: T })[];
}

function find(objects: K8sObject[], kind: string, name: string): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name);
}

/** Deployments, StatefulSets and Jobs: their pod templates. */
function workloads(objects: K8sObject[]): { kind: string; name: string; spec: WorkloadSpec }[] {
  return objects
    .filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind))
    .map((o) => ({ kind: o.kind, name: o.metadata.name, spec: o.spec as WorkloadSpec }));
}

function pod(template: PodTemplate): Endpoint {
  return { namespace: NAMESPACE, labels: template.metadata.labels ?? {} };
}

/** A container's environment as the kubelet builds it, ConfigMaps from the rendering. */
function containerEnv(
  objects: K8sObject[],
  container: Container,
  secrets: Record<string, Record<string, string>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    if (source.secretRef) throw new Error(`${container.name}: envFrom a Secret hides its keys`);
    const name = source.configMapRef!.name;
    const map = find(objects, 'ConfigMap', name);
    if (!map) throw new Error(`${container.name}: no ConfigMap ${name}`);
    Object.assign(env, map.data);
  }
  for (const v of container.env ?? []) {
    const ref = v.valueFrom?.secretKeyRef ?? v.valueFrom?.configMapKeyRef;
    if (!ref) {
      env[v.name] = v.value ?? '';
      continue;
    }
    const values = v.valueFrom?.secretKeyRef
      ? secrets[ref.name]
      : find(objects, 'ConfigMap', ref.name)?.data;
    const value = values?.[ref.key];
    // An optional key (an SMTP login) may be absent: the variable is then unset, as in a pod.
    if (value === undefined && (ref as { optional?: boolean }).optional) continue;
    if (value === undefined)
      throw new Error(`${container.name}: ${v.name}: no ${ref.name}/${ref.key}`);
    env[v.name] = value;
  }
  return env;
}

/** Every (Secret, key) a rendering refers to. */
function secretRefs(objects: K8sObject[]): string[] {
  const refs = new Set<string>();
  for (const w of workloads(objects)) {
    for (const c of w.spec.template.spec.containers) {
      for (const v of c.env ?? []) {
        const ref = v.valueFrom?.secretKeyRef;
        if (ref) refs.add(`${ref.name}/${ref.key}`);
      }
    }
  }
  for (const ingress of byKind<{ tls?: { secretName: string }[] }>(objects, 'Ingress')) {
    for (const tls of ingress.spec.tls ?? []) refs.add(`${tls.secretName}/tls.crt`);
  }
  return [...refs].sort();
}

/** Whether a Service of the rendering serves a URL's host (else the host is outside). */
function servedInside(objects: K8sObject[], url: string): boolean {
  const [first, second] = new URL(url).hostname.split('.');
  return find(objects, 'Service', second ?? first!) !== undefined;
}

/** The workload and container port a URL's host and port reach, through a Service. */
function resolveUrl(
  objects: K8sObject[],
  url: string,
  defaultPort: number,
): { workload: string; endpoint: Endpoint; port: number } | string {
  const { hostname, port: given } = new URL(url);
  const port = given ? Number(given) : defaultPort;
  const [first, second] = hostname.split('.');
  // `pod-0.headless`: one StatefulSet pod by its stable name; else a Service's name.
  const serviceName = second ?? first!;
  const service = find(objects, 'Service', serviceName);
  if (!service) return `${url}: no Service ${serviceName}`;
  const spec = service.spec as ServiceSpec;
  const servicePort = spec.ports.find((p) => p.port === port);
  if (!servicePort) return `${url}: Service ${serviceName} has no port ${port}`;
  const target = workloads(objects).find(
    (w) =>
      w.kind !== 'Job' &&
      Object.entries(spec.selector ?? {}).every(
        ([k, v]) => w.spec.template.metadata.labels?.[k] === v,
      ),
  );
  if (!target) return `${url}: Service ${serviceName} selects no workload`;
  if (second !== undefined) {
    if (target.kind !== 'StatefulSet' || target.spec.serviceName !== serviceName) {
      return `${url}: ${serviceName} is not the headless Service of a StatefulSet`;
    }
    if (!new RegExp(`^${target.name}-0$`).test(first!)) return `${url}: no pod ${first}`;
    if (spec.clusterIP !== 'None') return `${url}: ${serviceName} is not headless`;
  }
  const wanted = servicePort.targetPort ?? port;
  const containerPort = target.spec.template.spec.containers
    .flatMap((c) => c.ports ?? [])
    .find((p) => (typeof wanted === 'number' ? p.containerPort === wanted : p.name === wanted));
  if (!containerPort) return `${url}: ${target.name} has no container port ${wanted}`;
  return {
    workload: target.name,
    endpoint: pod(target.spec.template),
    port: containerPort.containerPort,
  };
}

/** What a process talks to, read from its environment: stores, broker, chain, services. */
function dependencies(
  env: Record<string, string>,
): { target: string; url: string; port: number }[] {
  const deps: { target: string; url: string; port: number }[] = [];
  for (const [key, value] of Object.entries(env)) {
    const store = STORES[key];
    if (store) deps.push({ target: store.target, url: value, port: store.port });
    const upstream = upstreamOf(key);
    if (upstream) {
      for (const url of parseServiceUrls(value)) deps.push({ target: upstream, url, port: 80 });
    }
  }
  return deps;
}

function appContainer(objects: K8sObject[], name: string): Container {
  const deployment = find(objects, 'Deployment', name);
  if (!deployment) throw new Error(`no Deployment ${name}`);
  return (deployment.spec as WorkloadSpec).template.spec.containers[0]!;
}

/** The kubernetes-models class of an object's apiVersion and kind. */
function validatorFor(object: K8sObject): { validate(): void } {
  const [group, version] = object.apiVersion.includes('/')
    ? object.apiVersion.split('/')
    : [undefined, object.apiVersion];
  const modulePath = ['kubernetes-models', group, version, object.kind].filter(Boolean).join('/');
  const Model = (
    require(modulePath) as Record<string, new (data: unknown) => { validate(): void }>
  )[object.kind]!;
  return new Model(object);
}

it('the schema check rejects a malformed object (so it is not vacuous)', () => {
  const bad: K8sObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'x' },
    spec: {
      selector: {},
      template: {
        spec: { containers: [{ name: 'a', image: 'b', ports: [{ containerPort: 'http' }] }] },
      },
    },
  };
  expect(() => validatorFor(bad).validate()).toThrow(/containerPort/);
  expect(() =>
    validatorFor({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'x' },
      spec: { maxReplicas: 'many' },
    }).validate(),
  ).toThrow();
});

it('the NetworkPolicy model denies by default and admits what a rule names', () => {
  const a: Endpoint = { namespace: NAMESPACE, labels: { app: 'a' } };
  const b: Endpoint = { namespace: NAMESPACE, labels: { app: 'b', 'ecom/x': 'client' } };
  const policy = (name: string, spec: unknown): K8sObject => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name },
    spec,
  });
  const deny = policy('deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
  const egress = policy('out', {
    podSelector: { matchLabels: { 'ecom/x': 'client' } },
    policyTypes: ['Egress'],
    egress: [{ to: [{ podSelector: { matchLabels: { app: 'a' } } }], ports: [{ port: 1 }] }],
  });
  const ingress = policy('in', {
    podSelector: { matchLabels: { app: 'a' } },
    policyTypes: ['Ingress'],
    ingress: [
      { from: [{ podSelector: { matchLabels: { 'ecom/x': 'client' } } }], ports: [{ port: 1 }] },
    ],
  });
  expect(reachable([], NAMESPACE, b, a, 1)).toBe(true);
  expect(reachable([deny], NAMESPACE, b, a, 1)).toBe(false);
  expect(reachable([deny, egress], NAMESPACE, b, a, 1)).toBe(false);
  expect(reachable([deny, egress, ingress], NAMESPACE, b, a, 1)).toBe(true);
  expect(reachable([deny, egress, ingress], NAMESPACE, b, a, 2)).toBe(false);
  expect(reachable([deny, egress, ingress], NAMESPACE, a, b, 1)).toBe(false);
});

it('builds every image of the manifests from the workspace compose builds it from', () => {
  expect(Object.keys(BUILT).sort()).toEqual(Object.keys(CODE).sort());
  for (const [name, { dir }] of Object.entries(CODE)) {
    expect({ name, dir: BUILT[name] }).toEqual({ name, dir });
    expect(existsSync(path.join(repoRoot, dir, 'src/main.ts'))).toBe(true);
  }
});

it('the dev PostgreSQL creates the databases compose creates, with the same script', () => {
  const objects = render('dev');
  const init = find(objects, 'ConfigMap', 'postgres-init')?.data?.['01-databases.sql'];
  expect(init).toBe(
    readFileSync(path.join(repoRoot, 'infrastructure/docker/postgres-init.sql'), 'utf8'),
  );
  for (const secret of ['order-secrets', 'payment-secrets']) {
    const database = new URL(devSecrets[secret]!['database-url']!).pathname.slice(1);
    expect(init).toContain(`CREATE DATABASE ${database};`);
  }
});

it('the probe and scrape paths are served by the code', async () => {
  const paths = new Set<string>();
  for (const overlay of overlayNames()) {
    for (const name of Object.keys(CODE)) {
      const c = appContainer(render(overlay), name);
      for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) {
        paths.add(`${name === 'gateway' ? 'gateway' : 'service'} ${probe!.httpGet!.path}`);
      }
    }
  }
  const app = express();
  app.use(healthRouter({ service: 'probe' }));
  const gatewayPaths = Object.values(gatewayApi.operations)
    .filter((op) => op.method === 'get')
    .map((op) => op.path);
  for (const entry of paths) {
    const [who, probePath] = entry.split(' ') as [string, string];
    if (who === 'gateway') expect(gatewayPaths).toContain(probePath);
    else await request(app).get(probePath).expect(200);
  }

  const token = 'a-metrics-token-of-some-length';
  const metrics = express().use(createMetrics('probe', undefined, { token }).router);
  await request(metrics).get('/metrics').set('authorization', `Bearer ${token}`).expect(200);
  const refused = await request(metrics).get('/metrics');
  expect(refused.status).not.toBe(200);
});

describe.each(overlayNames())('overlay %s', (overlay) => {
  const objects = render(overlay);

  it('renders objects that conform to the Kubernetes API schemas, all in one namespace', () => {
    expect(objects.length).toBeGreaterThan(40);
    for (const object of objects) {
      expect(() => validatorFor(object).validate()).not.toThrow();
      if (object.kind !== 'Namespace') {
        expect({ object: object.metadata.name, ns: object.metadata.namespace }).toEqual({
          object: object.metadata.name,
          ns: NAMESPACE,
        });
      }
    }
  });

  it('commits no Secret: every one it uses is documented in docs/kubernetes.md', () => {
    expect(byKind(objects, 'Secret')).toEqual([]);
    const docs = readFileSync(path.join(repoRoot, 'docs/kubernetes.md'), 'utf8');
    const missing = secretRefs(objects).filter((ref) => {
      const [name, key] = ref.split('/') as [string, string];
      return !docs.includes(name) || !docs.includes(key);
    });
    expect(missing).toEqual([]);
  });

  it('gives each process a valid configuration that sets only variables it reads', () => {
    for (const [name, { schema }] of Object.entries(CODE)) {
      const env = containerEnv(objects, appContainer(objects, name), devSecrets);
      expect(() => loadConfig(schema, env)).not.toThrow();
      const keys = schemaKeys(schema);
      const unknown = Object.keys(env).filter((k) => !(k in keys));
      expect({ name, unknown }).toEqual({ name, unknown: [] });
    }
  });

  it('leaves no process on a loopback default or an in-process stand-in', () => {
    // Several replicas share the broker, Redis (revoked sessions, rate limits) and the chain;
    // a default on 127.0.0.1 would point at the pod itself.
    for (const [name, { schema }] of Object.entries(CODE)) {
      const keys = schemaKeys(schema);
      const env = containerEnv(objects, appContainer(objects, name), devSecrets);
      const needed = Object.entries(keys)
        .filter(
          ([key, k]) =>
            /127\.0\.0\.1|localhost/.test(JSON.stringify(k.flags?.default ?? '')) ||
            ['REDIS_URL', 'AMQP_URL', 'BLOCKCHAIN_RPC_URL'].includes(key),
        )
        .map(([key]) => key);
      expect({ name, unset: needed.filter((key) => !(key in env)) }).toEqual({ name, unset: [] });
      if ('EVENT_BUS' in keys)
        expect({ name, bus: env.EVENT_BUS }).toEqual({ name, bus: 'rabbitmq' });
    }
  });

  it('runs each process from its own image, on its documented port, behind a Service', () => {
    for (const [name, { schema }] of Object.entries(CODE)) {
      const c = appContainer(objects, name);
      const built = path.basename(c.image.replace(/:[^/:]+$/, '')).replace(/^ecom-/, '');
      expect({ name, workspace: BUILT[built] }).toEqual({ name, workspace: CODE[name]!.dir });
      const env = containerEnv(objects, c, devSecrets);
      const port = c.ports?.find((p) => p.name === 'http')?.containerPort;
      expect({ name, port, env: Number(env.PORT) }).toEqual({
        name,
        port: schemaKeys(schema).PORT?.flags?.default,
        env: port,
      });
      const reached = resolveUrl(objects, `http://${name}:${port}`, 80);
      expect({ name, reached }).toEqual({
        name,
        reached: expect.objectContaining({ workload: name, port }),
      });
    }
  });

  it('points every upstream URL at the Service and port of that process', () => {
    for (const name of Object.keys(CODE)) {
      const env = containerEnv(objects, appContainer(objects, name), devSecrets);
      for (const dep of dependencies(env).filter((d) => d.target in CODE)) {
        const reached = resolveUrl(objects, dep.url, dep.port);
        expect({ name, url: dep.url, reached }).toEqual({
          name,
          url: dep.url,
          reached: expect.objectContaining({ workload: dep.target }),
        });
      }
    }
  });

  it('probes readiness and liveness, limits resources and rolls without losing a ready pod', () => {
    for (const name of Object.keys(CODE)) {
      const deployment = find(objects, 'Deployment', name)!;
      const spec = deployment.spec as WorkloadSpec;
      const c = spec.template.spec.containers[0]!;
      expect({ name, ready: c.readinessProbe?.httpGet, live: c.livenessProbe?.httpGet }).toEqual({
        name,
        ready: { path: '/health/ready', port: 'http' },
        live: { path: '/health/live', port: 'http' },
      });
      for (const kind of ['requests', 'limits'] as const) {
        expect({
          name,
          kind,
          cpu: !!c.resources?.[kind]?.cpu,
          memory: !!c.resources?.[kind]?.memory,
        }).toEqual({
          name,
          kind,
          cpu: true,
          memory: true,
        });
      }
      expect({ name, strategy: spec.strategy }).toEqual({
        name,
        strategy: {
          type: 'RollingUpdate',
          rollingUpdate: expect.objectContaining({ maxUnavailable: 0 }),
        },
      });
    }
  });

  it('scales each process with an autoscaler that owns the count, under a disruption budget', () => {
    for (const name of Object.keys(CODE)) {
      const spec = find(objects, 'Deployment', name)!.spec as WorkloadSpec;
      expect({ name, replicas: spec.replicas }).toEqual({ name, replicas: undefined });
      const hpa = byKind<{
        scaleTargetRef: { kind: string; name: string };
        minReplicas: number;
        maxReplicas: number;
      }>(objects, 'HorizontalPodAutoscaler').filter(
        (h) => h.spec.scaleTargetRef.kind === 'Deployment' && h.spec.scaleTargetRef.name === name,
      );
      expect({ name, hpas: hpa.length }).toEqual({ name, hpas: 1 });
      expect(hpa[0]!.spec.minReplicas).toBeGreaterThanOrEqual(1);
      expect(hpa[0]!.spec.maxReplicas).toBeGreaterThan(hpa[0]!.spec.minReplicas);
      const labels = spec.template.metadata.labels ?? {};
      const pdbs = byKind<{ selector: { matchLabels: Record<string, string> } }>(
        objects,
        'PodDisruptionBudget',
      ).filter((p) =>
        Object.entries(p.spec.selector.matchLabels).every(([k, v]) => labels[k] === v),
      );
      expect({ name, pdbs: pdbs.length }).toEqual({ name, pdbs: 1 });
    }
  });

  it('stops within the grace period: preStop sleep, then the drain, then closing', () => {
    for (const name of Object.keys(CODE)) {
      const spec = find(objects, 'Deployment', name)!.spec as WorkloadSpec;
      const c = spec.template.spec.containers[0]!;
      const sleep = c.lifecycle?.preStop?.exec?.command;
      expect({ name, sleep: sleep?.slice(0, 1) }).toEqual({ name, sleep: ['sleep'] });
      const env = containerEnv(objects, c, devSecrets);
      const { SHUTDOWN_TIMEOUT_MS } = loadConfig<{ SHUTDOWN_TIMEOUT_MS: number }>(
        CODE[name]!.schema,
        env,
      );
      const grace = spec.template.spec.terminationGracePeriodSeconds ?? 30;
      expect(
        Number(sleep![1]) + SHUTDOWN_TIMEOUT_MS / 1000 + CLOSE_MARGIN_SECONDS,
      ).toBeLessThanOrEqual(grace);
    }
  });

  it('lets each process reach exactly what its configuration names, and the gateway only from outside', () => {
    const pods = workloads(objects).filter((w) => w.kind !== 'Job');
    const problems: string[] = [];
    for (const name of Object.keys(CODE)) {
      const from = pod((find(objects, 'Deployment', name)!.spec as WorkloadSpec).template);
      const env = containerEnv(objects, appContainer(objects, name), devSecrets);
      const deps = dependencies(env);
      const allowed = new Set<string>();
      for (const dep of deps) {
        // In the cluster when a Service serves the URL (dev), else outside it (production).
        const inside = servedInside(objects, dep.url)
          ? resolveUrl(objects, dep.url, dep.port)
          : undefined;
        if (typeof inside === 'string') {
          problems.push(`${name}: ${inside}`);
          continue;
        }
        const to = inside?.endpoint ?? OUTSIDE;
        const port = inside?.port ?? dep.port;
        if (inside) allowed.add(inside.workload);
        if (!reachable(objects, NAMESPACE, from, to, port)) {
          problems.push(`${name} cannot reach ${dep.target} on ${port}`);
        }
      }
      for (const other of pods) {
        if (other.name === name || allowed.has(other.name)) continue;
        for (const p of other.spec.template.spec.containers.flatMap((c) => c.ports ?? [])) {
          if (reachable(objects, NAMESPACE, from, pod(other.spec.template), p.containerPort)) {
            problems.push(`${name} reaches ${other.name} on ${p.containerPort} without using it`);
          }
        }
      }
      for (const [key, store] of Object.entries(STORES)) {
        if (key in env) continue;
        if (reachable(objects, NAMESPACE, from, OUTSIDE, store.port)) {
          problems.push(
            `${name} reaches ${store.target}'s port ${store.port} outside without using it`,
          );
        }
      }
      const dns = { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } };
      if (!reachable(objects, NAMESPACE, from, dns, 53, 'UDP')) problems.push(`${name}: no DNS`);
    }
    const controller: Endpoint = {
      namespace: 'ingress-nginx',
      labels: { 'app.kubernetes.io/name': 'ingress-nginx' },
    };
    for (const other of pods) {
      for (const p of other.spec.template.spec.containers.flatMap((c) => c.ports ?? [])) {
        const open = reachable(
          objects,
          NAMESPACE,
          controller,
          pod(other.spec.template),
          p.containerPort,
        );
        if (open !== (other.name === 'gateway')) {
          problems.push(
            `${other.name}:${p.containerPort} ${open ? 'is' : 'is not'} reachable from outside`,
          );
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('routes the Ingress to the gateway only', () => {
    const ingresses = byKind<{
      rules: {
        http: { paths: { backend: { service: { name: string; port: { name?: string } } } }[] };
      }[];
    }>(objects, 'Ingress');
    expect(ingresses).toHaveLength(1);
    const backends = ingresses[0]!.spec.rules.flatMap((r) =>
      r.http.paths.map((p) => p.backend.service),
    );
    expect(backends).toEqual([{ name: 'gateway', port: { name: 'http' } }]);
    const service = find(objects, 'Service', 'gateway')!.spec as ServiceSpec;
    expect(service.ports.map((p) => p.name)).toContain('http');
  });

  it('runs the migrations of the PostgreSQL services as Jobs from their own images', () => {
    const jobs = workloads(objects).filter((w) => w.kind === 'Job' && w.name.endsWith('-migrate'));
    const withMigrations = Object.entries(CODE)
      .filter(([, { dir }]) => existsSync(path.join(repoRoot, dir, 'src/migrate.ts')))
      .map(([name]) => name);
    expect(jobs.map((j) => j.name.replace(/-migrate$/, '')).sort()).toEqual(withMigrations.sort());
    for (const job of jobs) {
      const name = job.name.replace(/-migrate$/, '');
      const c = job.spec.template.spec.containers[0]!;
      expect(c.image).toBe(appContainer(objects, name).image);
      expect(c.command).toEqual(['node', `${CODE[name]!.dir}/dist/migrate.js`]);
      // The same database as the service's own.
      const url = (c: Container) => c.env?.find((v) => v.name === 'DATABASE_URL')?.valueFrom;
      expect(url(c)).toEqual(url(appContainer(objects, name)));
      expect(url(c)).toBeDefined();
      const databaseUrl = devSecrets[`${name}-secrets`]!['database-url']!;
      const database = servedInside(objects, databaseUrl)
        ? resolveUrl(objects, databaseUrl, 5432)
        : undefined;
      if (typeof database === 'string') throw new Error(database);
      const to = database?.endpoint ?? OUTSIDE;
      expect(reachable(objects, NAMESPACE, pod(job.spec.template), to, 5432)).toBe(true);
    }
  });

  it('has Prometheus scrape every process with the metrics token', () => {
    const config = parse(
      find(objects, 'ConfigMap', 'prometheus-scrape')!.data!['prometheus.yml']!,
    ) as {
      scrape_configs: { authorization?: { type: string; credentials_file?: string } }[];
    };
    expect(config.scrape_configs[0]!.authorization).toEqual({
      type: 'Bearer',
      credentials_file: expect.stringMatching(/^\//),
    });
    const prometheus: Endpoint = {
      namespace: 'monitoring',
      labels: { 'app.kubernetes.io/name': 'prometheus' },
    };
    for (const name of Object.keys(CODE)) {
      const template = (find(objects, 'Deployment', name)!.spec as WorkloadSpec).template;
      const c = template.spec.containers[0]!;
      const port = c.ports![0]!.containerPort;
      expect({ name, annotations: template.metadata.annotations }).toEqual({
        name,
        annotations: {
          'prometheus.io/scrape': 'true',
          'prometheus.io/port': String(port),
          'prometheus.io/path': '/metrics',
        },
      });
      expect(c.env?.find((v) => v.name === 'METRICS_TOKEN')?.valueFrom?.secretKeyRef).toBeDefined();
      expect({
        name,
        scraped: reachable(objects, NAMESPACE, prometheus, pod(template), port),
      }).toEqual({
        name,
        scraped: true,
      });
    }
  });
});

describe('the dev overlay', () => {
  const objects = render('dev');

  it('reaches its stores, broker and chain through the URLs its secrets script writes', () => {
    const problems: string[] = [];
    for (const [secret, values] of Object.entries(devSecrets)) {
      for (const [key, value] of Object.entries(values)) {
        if (!/-url$/.test(key)) continue;
        const scheme = new URL(value).protocol.replace(':', '');
        const defaults: Record<string, number> = {
          mongodb: 27017,
          postgres: 5432,
          amqp: 5672,
          redis: 6379,
          http: 80,
        };
        const reached = resolveUrl(objects, value, defaults[scheme]!);
        if (typeof reached === 'string') problems.push(`${secret}/${key}: ${reached}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('deploys AuditAnchor with a Job the chain Secret agrees with, and one anchoring key per service', () => {
    const job = workloads(objects).find((w) => w.kind === 'Job' && w.name === 'deploy-contract')!;
    const c = job.spec.template.spec.containers[0]!;
    expect(c.args?.join('\n')).toContain('scripts/deploy.ts');
    expect(existsSync(path.join(repoRoot, 'blockchain/scripts/deploy.ts'))).toBe(true);
    const env = containerEnv(objects, c, devSecrets);
    const chain = resolveUrl(objects, env.BLOCKCHAIN_RPC_URL!, 80);
    expect(chain).toEqual(expect.objectContaining({ workload: 'hardhat' }));
    expect(
      reachable(
        objects,
        NAMESPACE,
        pod(job.spec.template),
        (chain as { endpoint: Endpoint }).endpoint,
        8545,
      ),
    ).toBe(true);
    expect(env.ANCHOR_CONTRACT_ADDRESS).toMatch(/^0x[0-9a-fA-F]{40}$/);
    // One writer per key: payment and order never share one.
    expect(devSecrets['payment-secrets']!['anchor-private-key']).not.toBe(
      devSecrets['order-secrets']!['anchor-private-key'],
    );
  });
});
