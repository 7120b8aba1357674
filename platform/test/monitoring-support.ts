import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from './deploy-support';

// The grammar ships as an ES module with a CommonJS build beside it: Jest loads the latter.
const { parser } = require('@prometheus-io/lezer-promql') as typeof import(
  '@prometheus-io/lezer-promql',
  { with: { 'resolution-mode': 'import' } }
);

export const monitoringDir = path.join(repoRoot, 'infrastructure/monitoring');
export const alertsFile = path.join(monitoringDir, 'prometheus/alerts.yml');
export const dashboardsDir = path.join(monitoringDir, 'grafana/dashboards');

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: {
    title: string;
    datasource?: { type: string; uid: string };
    targets?: { expr: string; datasource?: { uid: string } }[];
  }[];
  templating: { list: { name: string; query?: unknown; datasource?: { uid: string } }[] };
}

export function alertRules(): AlertRule[] {
  const file = parse(readFileSync(alertsFile, 'utf8')) as { groups: { rules: AlertRule[] }[] };
  return file.groups.flatMap((g) => g.rules);
}

export function dashboards(): Record<string, Dashboard> {
  return Object.fromEntries(
    readdirSync(dashboardsDir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => [f, JSON.parse(readFileSync(path.join(dashboardsDir, f), 'utf8')) as Dashboard]),
  );
}

/** Every PromQL query the shipped configuration runs: each panel's, each variable's, each alert's. */
export function monitoringQueries(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const [file, d] of Object.entries(dashboards())) {
    for (const p of d.panels) {
      for (const t of p.targets ?? []) out.push({ where: `${file}: ${p.title}`, expr: t.expr });
    }
    for (const v of d.templating.list) {
      const q = (v.query as { query?: string } | undefined)?.query;
      // label_values(<selector>, label): the selector is the PromQL part.
      const selector = q && /^label_values\((.*),\s*\w+\)$/.exec(q)?.[1];
      if (selector) out.push({ where: `${file}: $${v.name}`, expr: selector });
    }
  }
  for (const r of alertRules()) out.push({ where: `alert ${r.alert}`, expr: r.expr });
  return out;
}

/** Grafana's variables, replaced by something PromQL parses ($__rate_interval is a duration). */
function withoutGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__(rate_)?interval|\$__range/g, '5m')
    .replace(/\$\{(\w+)\}|\$(\w+)/g, 'value');
}

/**
 * The metric names a PromQL expression selects, parsed with Prometheus's own grammar (the
 * Lezer grammar its UI uses). Throws on a syntax error, naming where.
 */
export function metricNames(expr: string): string[] {
  const text = withoutGrafanaVariables(expr);
  const tree = parser.parse(text);
  const names = new Set<string>();
  let error: number | undefined;
  tree.iterate({
    enter(node) {
      if (node.type.isError) error ??= node.from;
      if (node.name === 'VectorSelector') {
        const id = node.node.getChild('Identifier');
        if (id) names.add(text.slice(id.from, id.to));
        // {__name__="x"}: a name given as a matcher.
        const m = /__name__\s*=\s*"([^"]+)"/.exec(text.slice(node.from, node.to));
        if (m) names.add(m[1]!);
      }
    },
  });
  if (error !== undefined) {
    throw new Error(`PromQL syntax error at ${error} in: ${text}`);
  }
  return [...names];
}

/** A histogram's series names → the histogram; any other name as it is. */
export function familyOf(series: string, families: Set<string>): string | undefined {
  if (families.has(series)) return series;
  const base = series.replace(/_(bucket|sum|count)$/, '');
  return base !== series && families.has(base) ? base : undefined;
}

/** Metric families a Prometheus text exposition declares (`# TYPE name kind`). */
export function exposedFamilies(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

/** The value of one sample line (name and exact labels in any order), or undefined. */
export function sampleValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  let total: number | undefined;
  for (const m of text.matchAll(/^(\w+)(?:\{([^}]*)\})? (\S+)$/gm)) {
    if (m[1] !== name) continue;
    const got = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) {
      total = (total ?? 0) + Number(m[3]);
    }
  }
  return total;
}

/** Metrics docs/metrics.md documents, with their type (its tables' first two columns). */
export function documentedTypes(): Map<string, string> {
  const text = readFileSync(path.join(repoRoot, 'docs/metrics.md'), 'utf8');
  return new Map(
    [...text.matchAll(/^\| `([a-z_:][a-z0-9_:]*)`\s*\| (\w+)/gm)].map((m) => [m[1]!, m[2]!]),
  );
}

/** Metric names docs/metrics.md documents. */
export function documentedMetrics(): Set<string> {
  return new Set(documentedTypes().keys());
}
