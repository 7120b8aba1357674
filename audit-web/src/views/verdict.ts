import { clear, h, when } from '../dom';
import { loadSettings, type Settings } from '../settings';
import { connectChain, type ChainReader } from '../verify/chain';
import type { Check, EntryState, EntryVerdict } from '../verify/types';

export const MARK: Record<EntryState, { sign: string; text: string; cls: string }> = {
  verified: { sign: '✓', text: 'verified', cls: 'ok' },
  tampered: { sign: '✗', text: 'tampered', cls: 'bad' },
  pending: { sign: '…', text: 'pending', cls: 'wait' },
  unconfirmed: { sign: '?', text: 'not confirmed on chain', cls: 'wait' },
};

export function checkList(checks: Check[]): HTMLUListElement {
  return h(
    'ul',
    { class: 'checks' },
    checks.map((c) =>
      h(
        'li',
        { 'data-check': c.name, 'data-status': c.status },
        h(
          'span',
          { class: c.status === 'pass' ? 'ok' : c.status === 'fail' ? 'bad' : 'wait' },
          `${c.status === 'pass' ? '✓' : c.status === 'fail' ? '✗' : '–'} ${c.name}`,
        ),
        ': ',
        c.detail,
        ' ',
        h('span', { class: 'basis' }, `(${c.basis})`),
      ),
    ),
  );
}

/** An entry's result in this browser: its mark and, on demand, every check. */
export function entryMark(v: EntryVerdict): HTMLElement {
  const m = MARK[v.state];
  const late = v.state === 'pending' && v.late;
  return h(
    'div',
    { class: 'browser-mark', 'data-state': v.state },
    h('span', { class: `badge ${m.cls}` }, `${m.sign} ${m.text} in this browser`),
    v.state === 'pending' && v.deadline
      ? h(
          'span',
          { class: late ? 'bad' : 'hint' },
          ` promised by ${when(v.deadline)}${late ? ' (passed)' : ''}`,
        )
      : null,
    v.reasons.length ? h('p', { class: 'bad reason' }, v.reasons.join('; ')) : null,
    h('details', {}, h('summary', {}, `${v.checks.length} checks`), checkList(v.checks)),
  );
}

export interface Summary {
  state: EntryState;
  entries: number;
  checks: number;
  reasons: string[];
  chainUrl: string | null;
  contract: string | null;
  pendingDeadlines: number[];
  chainError?: string;
}

/** The result everyone reads first, announced to screen readers (the region is aria-live). */
export function renderSummary(region: HTMLElement, s: Summary): void {
  const m = MARK[s.state];
  region.className = `verdict ${m.cls}`;
  region.dataset.state = s.state;
  const relied = h(
    'p',
    {},
    `${s.checks} checks on ${s.entries} entries: every leaf recomputed here from its canonical text and salt, `,
    'every hash-chain link and Merkle proof recomputed here, every promise signature recovered here, ',
    s.chainUrl
      ? `and every root asked of the chain at ${s.chainUrl}${s.contract ? ` (contract ${s.contract})` : ''}. `
      : 'and no chain asked. ',
    'None of them relied on the platform’s word.',
  );
  const lines: HTMLElement[] = [];
  if (s.state === 'verified') {
    lines.push(h('p', { class: 'mark ok' }, '✓ Verified in this browser'));
  } else if (s.state === 'tampered') {
    lines.push(h('p', { class: 'mark bad' }, '✗ Tampered with: the records do not hold'));
    lines.push(
      h(
        'ul',
        { class: 'reasons' },
        s.reasons.map((r) => h('li', { class: 'bad' }, r)),
      ),
    );
  } else if (s.state === 'pending') {
    const first = s.pendingDeadlines.length ? Math.min(...s.pendingDeadlines) : null;
    lines.push(
      h(
        'p',
        { class: 'mark wait' },
        `… Not anchored yet${first ? `: promised by ${when(first)}` : ''}; the rest verified`,
      ),
    );
  } else {
    lines.push(
      h(
        'p',
        { class: 'mark wait' },
        `? The offline checks passed, but the chain could not be asked${s.chainError ? `: ${s.chainError}` : ''}`,
      ),
    );
  }
  clear(region, lines, relied);
}

/**
 * A verification's start, the same on every page: the summary says it runs, and the chain of
 * the settings is connected; a chain that cannot be reached is reported, not fatal (the checks
 * that need it stay unconfirmed).
 */
export async function beginVerification(summary: HTMLElement): Promise<{
  settings: Settings;
  chain: ChainReader | null;
  chainError?: string;
}> {
  summary.className = 'verdict wait';
  summary.dataset.state = 'running';
  clear(summary, h('p', {}, 'Verifying in this browser…'));
  const settings = loadSettings();
  try {
    return { settings, chain: await connectChain(settings.rpcUrl) };
  } catch (err) {
    return { settings, chain: null, chainError: (err as Error).message };
  }
}

/** The promised deadlines of the entries still pending. */
export function pendingDeadlines(entries: EntryVerdict[]): number[] {
  return entries.filter((e) => e.state === 'pending' && e.deadline).map((e) => e.deadline!);
}
