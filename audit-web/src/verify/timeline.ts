import { parseCanonical } from '@ecom/blockchain/src/verification';
import type { Receipt } from './types';

/** One line of an order's timeline, read from an entry's canonical text. */
export interface TimelineItem {
  recordType: string;
  sourceId: string;
  sequence: number | null;
  at: string | null;
  title: string;
  cause: string | null;
  amount: { cents: number; currency: string | null } | null;
  detail: string | null;
}

type Doc = {
  sourceId?: string;
  sequence?: number;
  change?: Record<string, unknown>;
  state?: Record<string, unknown>;
};

const str = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);

function causeOf(c: unknown): string | null {
  if (!c || typeof c !== 'object') return typeof c === 'string' ? c : null;
  const cause = c as Record<string, unknown>;
  const type = str(cause.type);
  if (type === 'event') return `event ${str(cause.eventType) ?? ''}`.trim();
  if (type === 'request')
    return `request${str(cause.actorId) ? ` by ${str(cause.actorId)!.slice(0, 8)}` : ''}`;
  if (type === 'system') return `system${str(cause.id) ? ` (${str(cause.id)})` : ''}`;
  return type;
}

/** What an entry says happened: a status change, a charge attempt, a refund, the creation. */
export function timelineItem(receipt: Receipt): TimelineItem {
  let doc: Doc;
  try {
    doc = parseCanonical(receipt.canonical) as Doc;
  } catch {
    return {
      recordType: receipt.recordType,
      sourceId: receipt.sourceId ?? '?',
      sequence: receipt.sequence ?? null,
      at: null,
      title: 'Unreadable entry',
      cause: null,
      amount: null,
      detail: null,
    };
  }
  const change = doc.change ?? {};
  const state = doc.state ?? {};
  const currency = str(change.currency) ?? str(state.currency);
  const base = {
    recordType: receipt.recordType,
    sourceId: String(doc.sourceId ?? receipt.sourceId),
    sequence: num(doc.sequence),
  };
  const isOrder = receipt.recordType === 'order';
  switch (change.kind) {
    case 'status':
      return {
        ...base,
        at: str(change.at),
        title: change.from
          ? `Order ${String(change.from)} → ${String(change.to)}`
          : `Order placed (${String(change.to)})`,
        cause: causeOf(change.cause),
        amount: { cents: num(state.total) ?? 0, currency },
        detail: str(change.reason),
      };
    case 'attempt':
      return {
        ...base,
        at: str(change.completedAt) ?? str(change.createdAt),
        title: `Payment attempt ${String(change.attempt)}: ${String(change.status)}`,
        cause: `${str(change.source) ?? ''} ${str(change.method) ?? ''}`.trim() || null,
        amount: num(state.amount) === null ? null : { cents: num(state.amount)!, currency },
        detail: str(change.failureReason),
      };
    case 'refund':
      return {
        ...base,
        at: str(change.completedAt) ?? str(change.at) ?? str(change.createdAt),
        title: isOrder
          ? 'Refund recorded on the order'
          : `Refund ${String(change.status ?? '')}`.trim(),
        cause: causeOf(change.cause),
        amount: { cents: num(change.amount) ?? 0, currency },
        detail: str(change.reason) ?? str(change.failureReason),
      };
    default: {
      const fields = Array.isArray(change.fields) ? (change.fields as string[]).join(', ') : null;
      const what = isOrder ? 'Order' : 'Payment';
      return {
        ...base,
        at: change.kind === 'created' ? str(state.createdAt) : null,
        title:
          change.kind === 'created'
            ? `${what} created (${String(state.status)})`
            : `${what} is ${String(state.status)}`,
        cause: fields ? `fields changed: ${fields}` : null,
        amount:
          num(isOrder ? state.total : state.amount) === null
            ? null
            : { cents: num(isOrder ? state.total : state.amount)!, currency },
        detail: null,
      };
    }
  }
}
