import { getAddress } from 'ethers';
import {
  fetchChainEvents,
  fetchPublishedLog,
  replayLog,
  type AnchorRecordedEvent,
  type MonitorReport,
  type PublishedLog,
} from '@ecom/blockchain/src/monitor';
import { clear, h, shortHex, when } from '../dom';
import { loadSettings } from '../settings';
import { connectChain } from '../verify/chain';

const SERVICES = ['order', 'payment'];
const REFRESH_MS = 5000;

interface Snapshot {
  logs: PublishedLog[];
  events: AnchorRecordedEvent[];
  times: Map<number, number>;
  report: MonitorReport | null;
  chainUrl: string;
  chainError: string | null;
  at: Date;
}

/**
 * The public log with no sign-in: each anchorer's log as the chain holds it, the published
 * batches, and the monitor (blockchain/src/monitor.ts, its pure core) replayed in this browser.
 */
async function snapshot(): Promise<Snapshot> {
  const settings = loadSettings();
  const logs = await Promise.all(SERVICES.map((s) => fetchPublishedLog(location.origin, s)));
  const contract =
    settings.contractAddress || logs.find((l) => l.info.contractAddress)?.info.contractAddress;
  let chainError: string | null = null;
  let events: AnchorRecordedEvent[] = [];
  let report: MonitorReport | null = null;
  const times = new Map<number, number>();
  try {
    const chain = await connectChain(settings.rpcUrl);
    try {
      if (!contract) throw new Error('no contract address published yet');
      const all = await fetchChainEvents(chain.provider, getAddress(contract), 0);
      events = all.filter((e): e is AnchorRecordedEvent => e.name === 'AnchorRecorded');
      // Block times for the chart: one header per block with an anchor.
      for (const n of [...new Set(events.map((e) => e.blockNumber))].slice(-60)) {
        const block = await chain.provider.getBlock(n);
        if (block) times.set(n, block.timestamp);
      }
      report = replayLog({
        chainId: chain.chainId,
        contractAddress: getAddress(contract),
        events: all,
        logs,
        knownAnchorers: [...new Set(logs.map((l) => getAddress(l.info.anchorer)))],
        now: Math.floor(Date.now() / 1000),
      });
    } finally {
      chain.close();
    }
  } catch (err) {
    chainError = (err as Error).message;
  }
  return { logs, events, times, report, chainUrl: settings.rpcUrl, chainError, at: new Date() };
}

function chart(
  events: AnchorRecordedEvent[],
  times: Map<number, number>,
  anchorer: string,
): HTMLElement {
  const mine = events.filter((e) => e.anchorer.toLowerCase() === anchorer.toLowerCase()).slice(-40);
  if (!mine.length) return h('p', { class: 'hint' }, 'No batch on chain yet.');
  const max = Math.max(...mine.map((e) => e.recordCount));
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  const width = 400;
  // Bars keep a readable width when there are few batches.
  const bar = Math.min(width / mine.length, 24);
  svg.setAttribute('viewBox', `0 0 ${width} 100`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  const first = times.get(mine[0]!.blockNumber);
  const last = times.get(mine[mine.length - 1]!.blockNumber);
  svg.setAttribute(
    'aria-label',
    `Records per batch for the last ${mine.length} batches${first && last ? `, ${when(first)} to ${when(last)}` : ''}; largest ${max}`,
  );
  mine.forEach((e, i) => {
    const r = document.createElementNS(ns, 'rect');
    const height = Math.max(2, (e.recordCount / max) * 96);
    r.setAttribute('x', String(i * bar + 1));
    r.setAttribute('width', String(Math.max(1, bar - 2)));
    r.setAttribute('y', String(100 - height));
    r.setAttribute('height', String(height));
    const title = document.createElementNS(ns, 'title');
    title.textContent = `batch ${e.size}: ${e.recordCount} records, block ${e.blockNumber}`;
    r.append(title);
    svg.append(r);
  });
  return h(
    'figure',
    { class: 'chart-figure' },
    svg,
    h(
      'figcaption',
      { class: 'hint' },
      `Records per batch, batches ${mine[0]!.size} to ${mine[mine.length - 1]!.size}` +
        (first && last ? `, ${when(first)} to ${when(last)}` : ''),
    ),
  );
}

function renderSnapshot(body: HTMLElement, s: Snapshot): void {
  const findings = s.report?.findings ?? [];
  // A warning is what the monitor cannot check (a superseded batch whose chain is gone), not a
  // broken rule: shown, but not as a failed log.
  const errors = findings.filter((f) => f.severity === 'error').length;
  const warnings = findings.length - errors;
  const verdict = errors ? 'bad' : warnings ? 'wait' : 'ok';
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  clear(
    body,
    h(
      'section',
      { 'aria-labelledby': 'monitor-h' },
      h('h2', { id: 'monitor-h' }, 'Monitor findings'),
      s.report
        ? h(
            'div',
            {
              id: 'monitor',
              class: `verdict ${verdict}`,
              'data-findings': String(findings.length),
              'data-errors': String(errors),
            },
            h(
              'p',
              { class: `mark ${verdict}` },
              errors
                ? `✗ ${plural(errors, 'finding')}${warnings ? `, ${plural(warnings, 'warning')}` : ''}`
                : warnings
                  ? `⚠ No broken rule; ${plural(warnings, 'warning')} (what the chain can no longer prove)`
                  : '✓ No findings',
            ),
            h(
              'p',
              {},
              `Replayed in this browser from the chain at ${s.chainUrl} and the published logs: ${s.report.stats.batches} batches, ${s.report.stats.leaves} leaves, ${s.report.stats.records} records, ${s.report.stats.promises} promises (${s.report.stats.promisesPending} pending). `,
              'Checked: equivocations, sequence gaps, unpublished roots, root mismatches, the chain of roots, unknown anchorers, broken promises and signatures.',
            ),
            findings.length
              ? h(
                  'ul',
                  { class: 'findings' },
                  findings.map((f) =>
                    h(
                      'li',
                      { class: f.severity },
                      h('strong', {}, f.kind),
                      ` (${f.severity}) ${shortHex(f.subject)}: ${f.message}`,
                    ),
                  ),
                )
              : null,
          )
        : h(
            'p',
            { class: 'bad', role: 'alert' },
            `The chain could not be asked: ${s.chainError ?? 'unknown error'}`,
          ),
    ),
    s.logs.map((log) => {
      const mine = s.events.filter(
        (e) => e.anchorer.toLowerCase() === log.info.anchorer.toLowerCase(),
      );
      const confirmed = log.batches.filter((b) => b.status === 'confirmed');
      const latest = [...confirmed].reverse().slice(0, 8);
      return h(
        'section',
        { 'aria-labelledby': `log-${log.info.service}`, 'data-service': log.info.service },
        h('h2', { id: `log-${log.info.service}` }, `The ${log.info.service} log`),
        h(
          'dl',
          {},
          h('dt', {}, 'Anchorer'),
          h('dd', { class: 'mono' }, log.info.anchorer),
          h('dt', {}, 'Contract'),
          h(
            'dd',
            { class: 'mono' },
            `${log.info.contractAddress ?? '—'} (chain ${log.info.chainId})`,
          ),
          h('dt', {}, 'Log size'),
          h(
            'dd',
            { 'data-log-size': String(mine.length) },
            `${mine.length} batch${mine.length === 1 ? '' : 'es'} on chain; ${log.batches.length} published (${confirmed.length} confirmed), ${log.promises.length} promises`,
          ),
        ),
        h('h3', {}, 'Batches over time'),
        chart(s.events, s.times, log.info.anchorer),
        h('h3', {}, 'Latest roots'),
        latest.length
          ? h(
              'div',
              { class: 'table-wrap' },
              h(
                'table',
                {},
                h(
                  'thead',
                  {},
                  h(
                    'tr',
                    {},
                    h('th', { scope: 'col' }, '#'),
                    h('th', { scope: 'col' }, 'Root'),
                    h('th', { scope: 'col' }, 'Records'),
                    h('th', { scope: 'col' }, 'Transaction'),
                  ),
                ),
                h(
                  'tbody',
                  {},
                  latest.map((b) =>
                    h(
                      'tr',
                      { 'data-tx': b.txHash ?? '' },
                      h('td', {}, String(b.seq)),
                      h('td', { class: 'mono', title: b.root }, shortHex(b.root)),
                      h('td', {}, String(b.recordCount)),
                      h(
                        'td',
                        { class: 'mono', title: b.txHash ?? '' },
                        `${shortHex(b.txHash)}${b.blockNumber != null ? ` · block ${b.blockNumber}` : ''}`,
                      ),
                    ),
                  ),
                ),
              ),
            )
          : h('p', { class: 'hint' }, 'No confirmed batch yet.'),
      );
    }),
  );
}

export function renderLog(view: HTMLElement): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const updated = h(
    'p',
    { class: 'hint', id: 'log-updated', 'aria-live': 'polite' },
    'Reading the log…',
  );
  const body = h('div', { id: 'log-body' });
  clear(
    view,
    h('h1', {}, 'Public log'),
    h('p', { class: 'hint' }, `No sign-in. Refreshed every ${REFRESH_MS / 1000} seconds.`),
    updated,
    body,
  );
  const tick = async (): Promise<void> => {
    try {
      const s = await snapshot();
      if (stopped) return;
      renderSnapshot(body, s);
      updated.textContent = `Updated ${when(s.at.toISOString())}${s.report ? `: ${s.report.findings.length} findings` : ''}.`;
    } catch (err) {
      updated.textContent = `Could not read the log: ${(err as Error).message}`;
    }
    if (!stopped) timer = setTimeout(() => void tick(), REFRESH_MS);
  };
  void tick();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
