import { fetchPublishedLog } from '@ecom/blockchain/src/monitor';
import { clear, h, when } from '../dom';
import { verifyReceipts } from '../verify/entries';
import { checkPromise } from '../verify/promise-check';
import { readReceiptInput } from '../verify/receipt-input';
import { timelineItem } from '../verify/timeline';
import {
  beginVerification,
  checkList,
  entryMark,
  MARK,
  pendingDeadlines,
  renderSummary,
} from './verdict';

/** Paste or drop a saved receipt and verify it: no sign-in, the API is not asked about it. */
export function renderReceipt(view: HTMLElement): void {
  const text = h('textarea', {
    id: 'receipt-text',
    name: 'receipt',
    spellcheck: 'false',
    'aria-describedby': 'receipt-hint',
  });
  const file = h('input', { id: 'receipt-file', type: 'file', accept: 'application/json,.json' });
  const summary = h('div', { id: 'verdict', role: 'status', 'aria-live': 'polite' });
  const results = h('div', { id: 'receipt-results' });
  const problem = h('p', { role: 'alert', class: 'bad', id: 'receipt-problem' });
  const button = h('button', { type: 'submit', id: 'verify-receipt' }, 'Verify this receipt');
  const drop = h(
    'div',
    { class: 'drop' },
    h('label', { for: 'receipt-text' }, 'Receipt (JSON)', text),
    h(
      'p',
      { class: 'hint', id: 'receipt-hint' },
      'Paste it here or drop a saved file on this box: one entry’s receipt, a record’s receipts as the order page saves them, or the signed promise an order placement answers.',
    ),
    h('label', { for: 'receipt-file' }, 'Or choose a file', file),
  );
  drop.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    const f = ev.dataTransfer?.files[0];
    if (f) void f.text().then((t) => (text.value = t));
    else text.value = ev.dataTransfer?.getData('text') ?? text.value;
  });
  file.addEventListener('change', () => {
    const f = file.files?.[0];
    if (f) void f.text().then((t) => (text.value = t));
  });

  const verify = async (): Promise<void> => {
    problem.textContent = '';
    clear(results);
    let input;
    try {
      input = readReceiptInput(text.value);
    } catch (err) {
      problem.textContent = (err as Error).message;
      clear(summary);
      summary.className = '';
      return;
    }
    const { settings, chain, chainError } = await beginVerification(summary);
    const now = Math.floor(Date.now() / 1000);
    try {
      if (input.kind === 'promise') {
        const p = input.promise;
        // The public log is published data: it counts only where the chain confirms its root.
        const log = await fetchPublishedLog(location.origin, p.recordType).catch(() => null);
        const contract = settings.contractAddress || log?.info.contractAddress || null;
        const r = await checkPromise(p, log?.batches ?? [], chain, contract, now);
        const m = MARK[r.state];
        summary.className = `verdict ${m.cls}`;
        summary.dataset.state = r.state;
        clear(
          summary,
          h('p', { class: `mark ${m.cls}` }, `${m.sign} Promise ${m.text}`),
          h(
            'p',
            {},
            `${p.recordType} ${p.recordId}, entry ${p.sequence}, anchored by ${when(p.deadline)} at the latest. ${r.checks.length} checks, none relied on the platform’s word.`,
          ),
        );
        clear(results, checkList(r.checks));
        return;
      }
      const verdict = await verifyReceipts(input.recordType, input.recordId, input.receipts, {
        chain,
        contractAddress: settings.contractAddress || undefined,
        now,
        wholeRecord: input.wholeRecord,
      });
      renderSummary(summary, {
        state: verdict.state,
        entries: verdict.entries.length,
        checks: verdict.checks.length + verdict.entries.reduce((n, e) => n + e.checks.length, 0),
        reasons: verdict.reasons,
        chainUrl: chain?.url ?? null,
        contract:
          settings.contractAddress ||
          input.receipts.find((r) => r.contractAddress)?.contractAddress ||
          null,
        pendingDeadlines: pendingDeadlines(verdict.entries),
        chainError,
      });
      clear(
        results,
        h('h2', {}, `${input.recordType} ${input.recordId}`),
        verdict.checks.length ? checkList(verdict.checks) : null,
        h(
          'ol',
          { class: 'timeline' },
          input.receipts.map((r, i) => {
            const item = timelineItem(r);
            return h(
              'li',
              {},
              h(
                'div',
                { class: 'entry-head' },
                h('strong', {}, item.title),
                h('span', { class: 'hint' }, when(item.at)),
              ),
              entryMark(verdict.entries[i]!),
            );
          }),
        ),
      );
    } catch (err) {
      problem.textContent = `Verification stopped: ${String(err)}`;
    } finally {
      chain?.close();
    }
  };

  clear(
    view,
    h('h1', {}, 'Verify a saved receipt'),
    h(
      'p',
      { class: 'hint' },
      'No sign-in: the receipt carries everything needed. The leaf is recomputed here and the chain is asked directly.',
    ),
    h(
      'form',
      {
        class: 'stack',
        onsubmit: (ev: Event) => {
          ev.preventDefault();
          void verify();
        },
      },
      drop,
      button,
    ),
    problem,
    summary,
    results,
  );
}
