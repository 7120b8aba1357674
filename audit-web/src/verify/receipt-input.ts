import type { AnchorPromise } from '@ecom/blockchain/src/verification';
import type { Receipt } from './types';

/** What a pasted or dropped file holds, once read. */
export type ReceiptInput =
  | {
      kind: 'receipts';
      recordType: string;
      recordId: string;
      receipts: Receipt[];
      wholeRecord: boolean;
    }
  | { kind: 'promise'; promise: AnchorPromise };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function asReceipt(v: unknown): Receipt | null {
  const r = isObject(v) && isObject(v.receipt) ? v.receipt : v;
  if (!isObject(r)) return null;
  const ok =
    typeof r.canonical === 'string' &&
    typeof r.salt === 'string' &&
    typeof r.leaf === 'string' &&
    typeof r.recordType === 'string' &&
    typeof r.recordId === 'string';
  return ok ? (r as unknown as Receipt) : null;
}

/**
 * Reads a saved receipt: one entry's receipt (or its `{ receipt }` view), a list of them, a whole
 * record as GET /api/blockchain/order/:id answers it (`records`), or a bare signed promise (what
 * placing an order answers). Throws an Error saying what is wrong otherwise.
 */
export function readReceiptInput(text: string): ReceiptInput {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('this is not JSON: paste a receipt as the platform gave it');
  }
  if (isObject(parsed) && isObject(parsed.anchorPromise)) parsed = parsed.anchorPromise;
  if (isObject(parsed) && parsed.type === 'ecom.anchor-promise') {
    return { kind: 'promise', promise: parsed as unknown as AnchorPromise };
  }
  const wholeRecord = isObject(parsed) && Array.isArray(parsed.records);
  const list = wholeRecord
    ? ((parsed as Record<string, unknown>).records as unknown[])
    : Array.isArray(parsed)
      ? parsed
      : [parsed];
  if (!list.length) throw new Error('no receipt in it');
  const receipts = list.map(asReceipt);
  const bad = receipts.findIndex((r) => !r);
  if (bad >= 0) {
    throw new Error(
      `item ${bad + 1} is not a receipt (it needs recordType, recordId, canonical, salt and leaf)`,
    );
  }
  const first = receipts[0]!;
  const other = receipts.find(
    (r) => r!.recordType !== first.recordType || r!.recordId !== first.recordId,
  );
  if (other) throw new Error('the receipts name more than one record: paste one record at a time');
  return {
    kind: 'receipts',
    recordType: first.recordType,
    recordId: first.recordId,
    receipts: receipts as Receipt[],
    wholeRecord,
  };
}
