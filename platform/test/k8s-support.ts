import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from './deploy-support';

/**
 * Rendering the Kubernetes manifests offline (`kubectl kustomize`, no cluster) and reading
 * them: the typed shapes the checks need, label selectors, and NetworkPolicy semantics.
 */
export const k8sDir = path.join(repoRoot, 'infrastructure/k8s');

export interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  data?: Record<string, string>;
  spec?: unknown;
}
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string };
    configMapKeyRef?: { name: string; key: string };
  };
}
export interface Probe {
  httpGet?: { path: string; port: string | number };
}
export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
export interface PodTemplate {
  metadata: Meta;
  spec: { containers: Container[]; terminationGracePeriodSeconds?: number };
}
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}
export interface WorkloadSpec {
  replicas?: number;
  serviceName?: string;
  selector?: LabelSelector;
  strategy?: { type?: string; rollingUpdate?: { maxUnavailable?: number | string } };
  template: PodTemplate;
}
export interface ServiceSpec {
  clusterIP?: string;
  selector?: Record<string, string>;
  ports: { name?: string; port: number; targetPort?: number | string }[];
}
interface Peer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}
interface PolicyRule {
  ports?: { protocol?: string; port?: number | string }[];
  from?: Peer[];
  to?: Peer[];
}
export interface NetworkPolicySpec {
  podSelector: LabelSelector;
  policyTypes?: string[];
  ingress?: PolicyRule[];
  egress?: PolicyRule[];
}

/** The overlays under infrastructure/k8s/overlays. */
export function overlayNames(): string[] {
  return readdirSync(path.join(k8sDir, 'overlays'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

/** Parses a multi-document YAML stream; a document that does not parse throws. */
export function parseObjects(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length) throw new Error(doc.errors.map((e) => e.message).join('; '));
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

const rendered = new Map<string, K8sObject[]>();

/** `kubectl kustomize` of one overlay: what `kubectl apply -k` would send (rendered once). */
export function render(overlay: string): K8sObject[] {
  const cached = rendered.get(overlay);
  if (cached) return cached;
  // KUBECTL: another binary than the one on the PATH.
  const out = execFileSync(
    process.env.KUBECTL ?? 'kubectl',
    ['kustomize', path.join(k8sDir, 'overlays', overlay)],
    {
      encoding: 'utf8',
    },
  );
  const objects = parseObjects(out);
  rendered.set(overlay, objects);
  return objects;
}

export function selectorMatches(selector: LabelSelector, labels: Record<string, string>): boolean {
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpressions = (selector.matchExpressions ?? []).every(({ key, operator, values }) => {
    switch (operator) {
      case 'In':
        return key in labels && (values ?? []).includes(labels[key]!);
      case 'NotIn':
        return !(key in labels) || !(values ?? []).includes(labels[key]!);
      case 'Exists':
        return key in labels;
      case 'DoesNotExist':
        return !(key in labels);
      default:
        throw new Error(`unknown selector operator ${operator}`);
    }
  });
  return byLabels && byExpressions;
}

/** A pod (of a namespace, with labels) or an address outside the cluster. */
export type Endpoint =
  | { namespace: string; labels: Record<string, string>; ip?: undefined }
  | { ip: string; namespace?: undefined; labels?: undefined };

/** Pods have addresses too: an ipBlock covering them admits them (as most CNIs do). */
const POD_IP = '10.244.0.10';

function ipv4(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipv4(ip) / size) === Math.floor(ipv4(base!) / size);
}

function peerMatches(peer: Peer, policyNamespace: string, endpoint: Endpoint): boolean {
  if (peer.ipBlock) {
    const ip = endpoint.ip ?? POD_IP;
    return inCidr(ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((c) => inCidr(ip, c));
  }
  if (endpoint.namespace === undefined) return false;
  const namespaceOk = peer.namespaceSelector
    ? selectorMatches(peer.namespaceSelector, {
        'kubernetes.io/metadata.name': endpoint.namespace,
      })
    : endpoint.namespace === policyNamespace;
  const podOk = peer.podSelector ? selectorMatches(peer.podSelector, endpoint.labels) : true;
  return namespaceOk && podOk;
}

function portMatches(rule: PolicyRule, port: number, protocol: string): boolean {
  if (!rule.ports?.length) return true;
  return rule.ports.some((p) => {
    if (typeof p.port === 'string') throw new Error('named ports in a NetworkPolicy: not modelled');
    return (p.protocol ?? 'TCP') === protocol && (p.port === undefined || p.port === port);
  });
}

/**
 * Whether the NetworkPolicies let `from` open a connection to `to` on `port`: the source's
 * egress (when a policy isolates it) and the destination's ingress (when one isolates it).
 * Endpoints outside the namespace carry no policies of ours.
 */
export function reachable(
  objects: K8sObject[],
  namespace: string,
  from: Endpoint,
  to: Endpoint,
  port: number,
  protocol = 'TCP',
): boolean {
  const policies = objects
    .filter((o) => o.kind === 'NetworkPolicy')
    .map((o) => o.spec as NetworkPolicySpec);
  const side = (direction: 'Ingress' | 'Egress', self: Endpoint, other: Endpoint): boolean => {
    if (self.namespace !== namespace) return true;
    const isolating = policies.filter(
      (p) =>
        selectorMatches(p.podSelector, self.labels) &&
        (p.policyTypes ?? ['Ingress']).includes(direction),
    );
    if (!isolating.length) return true;
    return isolating.some((p) =>
      (direction === 'Ingress' ? p.ingress : p.egress)?.some(
        (rule) =>
          portMatches(rule, port, protocol) &&
          (() => {
            const peers = direction === 'Ingress' ? rule.from : rule.to;
            return !peers?.length || peers.some((peer) => peerMatches(peer, namespace, other));
          })(),
      ),
    );
  };
  return side('Egress', from, to) && side('Ingress', to, from);
}
