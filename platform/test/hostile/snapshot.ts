/**
 * What an admin can read, record by record: users, products (with their stock), categories,
 * orders, payments, the comments of every product (hidden ones included), the moderation
 * queue, and how many anchor promises each service signed (one per anchored write). Each
 * record is kept whole (updatedAt included), so any write to it shows, not only a count.
 */

export interface CallResult<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/** One JSON call to the gateway. */
export async function call<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
): Promise<CallResult<T>> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  return { status: res.status, body: body as T, headers: res.headers };
}

/** A call that must answer `ok` (default 200/201), else throws with the answer. */
export async function must<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
  ok: number[] = [200, 201],
): Promise<CallResult<T>> {
  const res = await call<T>(base, method, path, options);
  if (!ok.includes(res.status)) {
    throw new Error(
      `${method} ${path} answered ${res.status}: ${JSON.stringify(res.body).slice(0, 500)}`,
    );
  }
  return res;
}

type Item = Record<string, unknown> & { id: string };
interface Page {
  items: Item[];
  total: number;
  totalPages: number;
}

interface LogPage {
  items: Item[];
  next: number;
  hasMore: boolean;
}

export interface Snapshot {
  /** 'user:<id>', 'product:<id>', 'count:users', ... → the record as JSON. */
  records: Map<string, string>;
  users: Item[];
  products: Item[];
  categories: Item[];
  orders: Item[];
  payments: Item[];
  comments: Item[];
  /** GET requests it took. */
  requests: number;
}

/** Reads everything an admin can list, every page. */
export async function takeSnapshot(base: string, adminToken: string): Promise<Snapshot> {
  let requests = 0;
  const get = async <T>(path: string): Promise<T> => {
    requests += 1;
    return (await must<T>(base, 'GET', path, { token: adminToken })).body;
  };
  const all = async (path: string): Promise<{ items: Item[]; total: number }> => {
    const sep = path.includes('?') ? '&' : '?';
    const first = await get<Page>(`${path}${sep}limit=100&page=1`);
    const items = [...first.items];
    for (let p = 2; p <= first.totalPages; p += 1) {
      items.push(...(await get<Page>(`${path}${sep}limit=100&page=${p}`)).items);
    }
    return { items, total: first.total };
  };
  // The public logs are read by cursor: every promise, `after=next` while `hasMore`.
  const logged = async (path: string): Promise<Item[]> => {
    const items: Item[] = [];
    for (let after = 0; ;) {
      const page = await get<LogPage>(`${path}?limit=100&after=${after}`);
      items.push(...page.items);
      if (!page.hasMore) return items;
      if (page.next <= after) throw new Error(`${path}: the cursor did not move past ${after}`);
      after = page.next;
    }
  };

  const [users, products, orders, payments, queue, categoryTree] = await Promise.all([
    all('/api/users'),
    all('/api/products'),
    all('/api/orders'),
    all('/api/payments'),
    all('/api/comments/moderation/queue'),
    get<(Item & { children?: Item[] })[]>('/api/products/categories'),
  ]);
  const categories: Item[] = [];
  const walk = (nodes: (Item & { children?: Item[] })[]) => {
    for (const node of nodes) {
      const { children, ...rest } = node;
      categories.push(rest as Item);
      if (children) walk(children as (Item & { children?: Item[] })[]);
    }
  };
  walk(categoryTree);

  const comments: Item[] = [];
  const flatten = (list: Item[]) => {
    for (const c of list) {
      const { replies, ...rest } = c as Item & { replies?: Item[] };
      comments.push(rest as Item);
      if (replies) flatten(replies);
    }
  };
  const perProduct = await Promise.all(
    products.items.map((p) => all(`/api/comments/product/${p.id}`)),
  );
  for (const page of perProduct) flatten(page.items);

  const [orderPromises, paymentPromises] = await Promise.all([
    logged('/api/blockchain/order/log/promises'),
    logged('/api/blockchain/payment/log/promises'),
  ]);

  const records = new Map<string, string>();
  const put = (kind: string, items: Item[]) => {
    for (const item of items) records.set(`${kind}:${item.id}`, JSON.stringify(item));
  };
  put('user', users.items);
  put('product', products.items);
  put('category', categories);
  put('order', orders.items);
  put('payment', payments.items);
  put('comment', comments);
  put('queued', queue.items);
  records.set('count:users', String(users.total));
  records.set('count:products', String(products.total));
  records.set('count:categories', String(categories.length));
  records.set('count:orders', String(orders.total));
  records.set('count:payments', String(payments.total));
  records.set('count:comments', String(comments.length));
  records.set('count:moderation-queue', String(queue.total));
  records.set('count:order-anchor-promises', String(orderPromises.length));
  records.set('count:payment-anchor-promises', String(paymentPromises.length));
  // A promise is never rewritten: each is kept whole, by what it promises.
  for (const p of [...orderPromises, ...paymentPromises]) {
    records.set(`promise:${p.recordType}:${p.recordKey}:${p.sequence}`, JSON.stringify(p));
  }

  return {
    records,
    users: users.items,
    products: products.items,
    categories,
    orders: orders.items,
    payments: payments.items,
    comments,
    requests,
  };
}

export interface Change {
  key: string;
  change: 'added' | 'removed' | 'changed';
  before?: string;
  after?: string;
}

/** Every record that is not the same in both. */
export function diffSnapshots(before: Snapshot, after: Snapshot): Change[] {
  const changes: Change[] = [];
  for (const [key, value] of before.records) {
    const now = after.records.get(key);
    if (now === undefined) changes.push({ key, change: 'removed', before: value });
    else if (now !== value) changes.push({ key, change: 'changed', before: value, after: now });
  }
  for (const [key, value] of after.records) {
    if (!before.records.has(key)) changes.push({ key, change: 'added', after: value });
  }
  return changes;
}

/** Snapshots until two in a row agree (the saga and event consumers have settled). */
export async function settledSnapshot(
  base: string,
  adminToken: string,
  timeoutMs = 30_000,
): Promise<Snapshot> {
  const deadline = Date.now() + timeoutMs;
  let last = await takeSnapshot(base, adminToken);
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const next = await takeSnapshot(base, adminToken);
    next.requests += last.requests;
    if (diffSnapshots(last, next).length === 0 || Date.now() > deadline) return next;
    last = next;
  }
}
