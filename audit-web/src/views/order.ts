import { api, ApiError } from '../api';
import { clear, h, money, shortHex, when } from '../dom';
import { newestState, recordState, verifyReceipts } from '../verify/entries';
import { compareLiveOrder, type LiveOrder } from '../verify/live-order';
import { timelineItem, type TimelineItem } from '../verify/timeline';
import type { EntryVerdict, Receipt, RecordVerdict } from '../verify/types';
import {
  beginVerification,
  checkList,
  entryMark,
  pendingDeadlines,
  renderSummary,
} from './verdict';

/** One entry as GET /api/blockchain/<type>/:id answers it: the platform's verdict and receipt. */
interface EntryAnswer {
  sourceId: string;
  status: 'PENDING' | 'ANCHORED' | 'VERIFIED' | 'TAMPERED';
  reason?: string;
  anchoredAt: string | null;
  receipt: Receipt;
}
interface RecordAnswer {
  status: string;
  reasons: string[];
  records: EntryAnswer[];
}

interface Loaded {
  order: LiveOrder;
  orderRecord: RecordAnswer;
  paymentRecord: RecordAnswer | null;
  paymentError: string | null;
}

const POLL_MS = 2000;
const keyOf = (recordType: string, sourceId: string, sequence: number | null | undefined) =>
  `${recordType}|${sequence ?? sourceId}`;

async function load(orderId: string): Promise<Loaded> {
  const [order, orderRecord] = await Promise.all([
    api<LiveOrder>(`/api/orders/${orderId}`),
    api<RecordAnswer>(`/api/blockchain/order/${orderId}`),
  ]);
  let paymentRecord: RecordAnswer | null = null;
  let paymentError: string | null = null;
  if (order.paymentId) {
    try {
      paymentRecord = await api<RecordAnswer>(`/api/blockchain/payment/${order.paymentId}`);
    } catch (err) {
      paymentError = err instanceof ApiError ? err.message : String(err);
    }
  }
  return { order, orderRecord, paymentRecord, paymentError };
}

/** The platform's own word on an entry, shown as such and never used by the browser's checks. */
function platformState(e: EntryAnswer): HTMLElement {
  const r = e.receipt;
  if (e.status === 'PENDING') {
    const deadline = r.promise?.deadline;
    return h(
      'span',
      { class: 'wait', 'data-platform': 'PENDING' },
      `pending${deadline ? `, its signed receipt promises anchoring by ${when(deadline)}` : ''}${e.reason ? ` (${e.reason})` : ''}`,
    );
  }
  if (e.status === 'TAMPERED') {
    return h(
      'span',
      { class: 'bad', 'data-platform': 'TAMPERED' },
      `tampered: ${e.reason ?? 'see the record'}`,
    );
  }
  return h(
    'span',
    { class: 'ok', 'data-platform': e.status },
    `anchored in ${shortHex(r.txHash)}${r.blockNumber != null ? ` (block ${r.blockNumber})` : ''}${e.status === 'ANCHORED' && e.reason ? `; ${e.reason}` : ''}`,
  );
}

function download(name: string, data: unknown): void {
  const url = URL.createObjectURL(
    new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }),
  );
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function renderOrder(view: HTMLElement, orderId: string): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let data: Loaded | null = null;
  let fingerprint = '';
  let browser: {
    order: RecordVerdict;
    payment: RecordVerdict | null;
    live: ReturnType<typeof compareLiveOrder>;
  } | null = null;

  const heading = h('h1', {}, `Order ${orderId.slice(0, 8)}`);
  const facts = h('div', { id: 'order-facts' });
  const verifyButton = h('button', { type: 'button', id: 'verify' }, 'Verify in this browser');
  const saveButton = h(
    'button',
    { type: 'button', class: 'secondary', id: 'save-receipts' },
    'Save receipts',
  );
  const summary = h('div', { id: 'verdict', role: 'status', 'aria-live': 'polite' });
  const platform = h('p', { id: 'platform-verdict', class: 'hint' });
  const record = h('div', { id: 'record-checks' });
  const timeline = h('ol', { class: 'timeline', id: 'timeline', 'aria-label': 'Timeline' });
  const problem = h('p', { role: 'alert', class: 'bad' });
  clear(
    view,
    h('p', {}, h('a', { href: '#/orders' }, '← All orders')),
    heading,
    facts,
    h('div', { class: 'row' }, verifyButton, saveButton),
    summary,
    problem,
    platform,
    record,
    h('h2', {}, 'Timeline'),
    h(
      'p',
      { class: 'hint' },
      'Every status change and payment event, each an anchored entry with its proof.',
    ),
    timeline,
  );

  const entriesOf = (d: Loaded): { answer: EntryAnswer; item: TimelineItem }[] => {
    const list: { answer: EntryAnswer; item: TimelineItem }[] = [];
    for (const rec of [d.orderRecord, d.paymentRecord]) {
      let lastAt: string | null = null;
      for (const answer of rec?.records ?? []) {
        const item = timelineItem(answer.receipt);
        item.at ??= lastAt;
        lastAt = item.at;
        list.push({ answer, item });
      }
    }
    return list.sort((a, b) => (a.item.at ?? '').localeCompare(b.item.at ?? ''));
  };

  const render = (): void => {
    if (!data) return;
    const d = data;
    clear(
      facts,
      h(
        'p',
        {},
        'Status ',
        h('strong', { id: 'order-status' }, d.order.status),
        ` · total ${money(d.order.total.amount, d.order.total.currency)} · placed ${when(d.order.createdAt)}`,
      ),
    );
    platform.textContent =
      `The platform says: order ${d.orderRecord.status}` +
      (d.paymentRecord ? `, payment ${d.paymentRecord.status}` : '') +
      (d.orderRecord.reasons.length ? ` (${d.orderRecord.reasons.join('; ')})` : '') +
      '. Shown for comparison; the browser’s checks do not use it.';
    platform.dataset.status = d.orderRecord.status;
    if (d.paymentError)
      problem.textContent = `The payment’s entries could not be read: ${d.paymentError}`;
    const verdicts = new Map<string, EntryVerdict>();
    for (const v of [...(browser?.order.entries ?? []), ...(browser?.payment?.entries ?? [])]) {
      verdicts.set(keyOf(v.recordType, v.sourceId, v.sequence), v);
    }
    clear(
      timeline,
      entriesOf(d).map(({ answer, item }) => {
        const v = verdicts.get(keyOf(item.recordType, item.sourceId, item.sequence));
        return h(
          'li',
          { 'data-record': item.recordType, 'data-source': item.sourceId },
          h(
            'div',
            { class: 'entry-head' },
            h('strong', {}, item.title),
            h('span', { class: 'hint' }, when(item.at)),
            item.amount ? h('span', {}, money(item.amount.cents, item.amount.currency)) : null,
          ),
          h(
            'p',
            { class: 'hint' },
            `${item.recordType} entry ${item.sequence ?? '—'} · ${item.sourceId}`,
            item.cause ? ` · cause: ${item.cause}` : '',
            item.detail ? ` · ${item.detail}` : '',
          ),
          h('p', {}, 'Platform: ', platformState(answer)),
          v ? entryMark(v) : null,
        );
      }),
    );
    if (browser) {
      clear(
        record,
        h('h2', {}, 'Checks across the records'),
        checkList([...browser.order.checks, browser.live, ...(browser.payment?.checks ?? [])]),
      );
    } else {
      clear(record);
    }
  };

  const refresh = async (): Promise<void> => {
    try {
      const next = await load(orderId);
      const print = JSON.stringify(next);
      if (print !== fingerprint) {
        const changed = fingerprint !== '';
        fingerprint = print;
        data = next;
        if (changed && browser) {
          // The records changed since they were verified: the marks no longer describe them.
          browser = null;
          summary.className = 'verdict wait';
          summary.dataset.state = 'stale';
          clear(
            summary,
            h('p', {}, 'The records changed since the last verification: verify again.'),
          );
        }
        render();
      }
      problem.textContent = data?.paymentError ? problem.textContent : '';
    } catch (err) {
      problem.textContent = `Could not load the order: ${err instanceof ApiError ? err.message : String(err)}`;
    }
    if (!stopped) timer = setTimeout(() => void refresh(), POLL_MS);
  };

  verifyButton.addEventListener('click', async () => {
    if (!data) return;
    const d = data;
    verifyButton.disabled = true;
    const { settings, chain, chainError } = await beginVerification(summary);
    try {
      const now = Math.floor(Date.now() / 1000);
      const options = {
        chain,
        contractAddress: settings.contractAddress || undefined,
        now,
        wholeRecord: true,
      };
      const order = await verifyReceipts(
        'order',
        orderId,
        d.orderRecord.records.map((r) => r.receipt),
        options,
      );
      const payment =
        d.paymentRecord && d.order.paymentId
          ? await verifyReceipts(
              'payment',
              d.order.paymentId,
              d.paymentRecord.records.map((r) => r.receipt),
              options,
            )
          : null;
      const live = compareLiveOrder(
        newestState(d.orderRecord.records.map((r) => r.receipt)),
        d.order,
      );
      browser = { order, payment, live };
      const entries = [...order.entries, ...(payment?.entries ?? [])];
      const checks = [order.checks, [live], payment?.checks ?? []].flat();
      const state = recordState(entries, checks);
      renderSummary(summary, {
        state,
        entries: entries.length,
        checks: checks.length + entries.reduce((n, e) => n + e.checks.length, 0),
        reasons: [
          ...(live.status === 'fail' ? [`${live.name}: ${live.detail}`] : []),
          ...order.reasons.map((r) => `order ${r}`),
          ...(payment?.reasons ?? []).map((r) => `payment ${r}`),
        ],
        chainUrl: chain?.url ?? null,
        contract:
          settings.contractAddress ||
          d.orderRecord.records.find((r) => r.receipt.contractAddress)?.receipt.contractAddress ||
          null,
        pendingDeadlines: pendingDeadlines(entries),
        chainError,
      });
      render();
    } catch (err) {
      problem.textContent = `Verification stopped: ${String(err)}`;
    } finally {
      chain?.close();
      verifyButton.disabled = false;
    }
  });

  saveButton.addEventListener('click', () => {
    if (!data) return;
    download(`order-${orderId}-receipts.json`, { orderId, records: data.orderRecord.records });
    if (data.paymentRecord && data.order.paymentId) {
      download(`payment-${data.order.paymentId}-receipts.json`, {
        paymentId: data.order.paymentId,
        records: data.paymentRecord.records,
      });
    }
  });

  void refresh();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
