import request from 'supertest';
import type { Anchoring, TxAnchorView } from '../../src/anchoring';
import {
  anchoringHandlers,
  anchoringOperations,
  type AnchoringHandlersOptions,
} from '../../src/anchoring/api';
import type { AuthUser } from '../../src/auth';
import { NotFoundError } from '../../src/errors';
import { bindRoutes, createServiceApp, defineApi, reply } from '../../src/http';
import { createLogger } from '../../src/logging';
import { bearer, testJwtVerify as jwt } from '@ecom/test-support';
const alice: AuthUser = { id: 'alice', role: 'customer', email: 'alice@x.io' };
const bob: AuthUser = { id: 'bob', role: 'customer', email: 'bob@x.io' };
const admin: AuthUser = { id: 'root', role: 'admin', email: 'root@x.io' };

const W1 = '11111111-1111-4111-8111-111111111111';
const W2 = '22222222-2222-4222-8222-222222222222';
const TX = `0x${'ab'.repeat(32)}`;
const OTHER_TX = `0x${'cd'.repeat(32)}`;
const owners = new Map([
  [W1, 'alice'],
  [W2, 'bob'],
]);
const record = (recordId: string) => ({
  recordId,
  receipt: { chainId: 31337, contractAddress: '0xC0FFEE' },
});
const txView = {
  txHash: TX,
  batchId: 'b1',
  root: '0xroot',
  recordCount: 2,
  blockNumber: 7,
  records: [record(W1), record(W2)],
} as unknown as TxAnchorView;

/** The part of Anchoring the routes read, answering from fixed data (the chain is tested elsewhere). */
const batch = (seq: number) => ({ seq, batchId: `b${seq}`, leaves: [] });
const anchoring = {
  recordsFor: async (type: string, id: string) => ({
    recordType: type,
    recordId: id,
    status: 'VERIFIED',
    reasons: [],
    entries: [{ type, id }],
  }),
  logInfo: (type: string) => ({ recordType: type, anchorer: '0xabc', chainId: 31337 }),
  // Five batches at positions 1..5, read by cursor as the real store reads them.
  publishedLog: async ({ after, limit }: { after: number; limit: number }) => {
    const items = [1, 2, 3, 4, 5].filter((seq) => seq > after).slice(0, limit);
    return {
      items: items.map(batch),
      next: items.length ? items[items.length - 1] : after,
      hasMore: (items.at(-1) ?? after) < 5,
    };
  },
  publishedPromises: async () => ({ items: [{ sequence: 1 }], next: 1, hasMore: false }),
  // As the real one: with `only`, the records it keeps are the only ones verified and answered.
  recordsInTx: async (tx: string, only?: (ids: string[]) => Promise<Set<string>>) => {
    if (tx !== TX) return null;
    if (!only) return txView;
    const kept = await only(txView.records.map((r) => r.recordId));
    return { ...txView, records: txView.records.filter((r) => kept.has(r.recordId)) };
  },
  health: async () => ({ ok: true, pendingRecords: 0 }),
} as unknown as Anchoring;

const api = defineApi({
  service: 'widget',
  tag: { name: 'Widgets', description: 'w' },
  prefixes: ['/api/blockchain/widget', '/api/blockchain/verify'],
  operations: anchoringOperations({ recordType: 'widget', servesVerify: true }),
});

function appWith(overrides: Partial<AnchoringHandlersOptions<'widget'>> = {}) {
  const service = createServiceApp({ service: 'widget', logger: createLogger('t', 'silent') });
  service.app.use(
    bindRoutes(
      api,
      anchoringHandlers({
        anchoring,
        service: 'widget',
        recordType: 'widget',
        assertVisible: async (user, id) => {
          if (user.role !== 'admin' && owners.get(id) !== user.id) throw new NotFoundError('no');
        },
        ownersOf: async (ids) => new Map(ids.map((id) => [id, owners.get(id) ?? null])),
        ...overrides,
      }),
      { jwt },
    ),
  );
  return service.finish();
}

describe('anchoring operations and handlers', () => {
  const app = appWith();

  it('lists the anchors of a record its owner may see, keyed by <recordType>Id', async () => {
    const res = await request(app)
      .get(`/api/blockchain/widget/${W1}`)
      .set('authorization', bearer(alice));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      widgetId: W1,
      status: 'VERIFIED',
      reasons: [],
      records: [{ type: 'widget', id: W1 }],
    });
    const other = await request(app)
      .get(`/api/blockchain/widget/${W2}`)
      .set('authorization', bearer(alice));
    expect(other.status).toBe(404);
  });

  it('serves the public log to anyone, by cursor, before any record id route', async () => {
    const info = await request(app).get('/api/blockchain/widget/log/info');
    expect(info.status).toBe(200);
    expect(info.body).toEqual({
      service: 'widget',
      recordType: 'widget',
      anchorer: '0xabc',
      chainId: 31337,
    });
    const second = await request(app).get('/api/blockchain/widget/log?after=2&limit=2');
    expect(second.status).toBe(200);
    expect(second.body).toEqual({
      items: [batch(3), batch(4)],
      limit: 2,
      next: 4,
      hasMore: true,
    });
    const first = await request(app).get('/api/blockchain/widget/log');
    expect(first.body).toMatchObject({ limit: 20, next: 5, hasMore: false });
    expect(first.body.items).toHaveLength(5);
    const promises = await request(app).get('/api/blockchain/widget/log/promises');
    expect(promises.body).toEqual({ items: [{ sequence: 1 }], limit: 20, next: 1, hasMore: false });
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['after=-1', 'after'],
    ['after=1.5', 'after'],
    ['after=abc', 'after'],
    [`after=${2 ** 53}`, 'after'],
    ['page=2', 'read by cursor'],
  ])('refuses ?%s on the public logs with 400 naming %s', async (query, named) => {
    for (const path of ['log', 'log/promises']) {
      const res = await request(app).get(`/api/blockchain/widget/${path}?${query}`);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect(JSON.stringify(res.body.error)).toContain(named);
    }
  });

  it('refuses a bad id or tx hash with 400 and no token with 401', async () => {
    const badId = await request(app)
      .get('/api/blockchain/widget/nope')
      .set('authorization', bearer(alice));
    expect(badId.status).toBe(400);
    expect(badId.body.error.code).toBeDefined();
    const badTx = await request(app)
      .get('/api/blockchain/verify/0x12')
      .set('authorization', bearer(alice));
    expect(badTx.status).toBe(400);
    expect(JSON.stringify(badTx.body)).toContain('must be 0x followed by 64 hex digits');
    expect((await request(app).get('/api/blockchain/status')).status).toBe(401);
  });

  it('verify shows a customer only their records, an admin all, a stranger 404', async () => {
    const mine = await request(app)
      .get(`/api/blockchain/verify/${TX}`)
      .set('authorization', bearer(alice));
    expect(mine.status).toBe(200);
    expect(mine.body).toEqual({
      service: 'widget',
      txHash: TX,
      batchId: 'b1',
      root: '0xroot',
      blockNumber: 7,
      chainId: 31337,
      contractAddress: '0xC0FFEE',
      recordCount: 2,
      records: [record(W1)],
    });
    const all = await request(app)
      .get(`/api/blockchain/verify/${TX}`)
      .set('authorization', bearer(admin));
    expect(all.body.records).toEqual([record(W1), record(W2)]);
    const stranger = await request(app)
      .get(`/api/blockchain/verify/${TX}`)
      .set('authorization', bearer({ ...bob, id: 'carol' }));
    expect(stranger.status).toBe(404);
  });

  it('answers an unknown tx with 404, or hands it to onUnknownTx', async () => {
    const res = await request(app)
      .get(`/api/blockchain/verify/${OTHER_TX}`)
      .set('authorization', bearer(admin));
    expect(res.status).toBe(404);
    expect(res.body.error.message).toBe(
      `No anchor of the widget service in transaction ${OTHER_TX}`,
    );
    const delegating = appWith({
      onUnknownTx: async (req, txHash) =>
        reply.accepted({ from: 'elsewhere', txHash, auth: Boolean(req.get('authorization')) }),
    });
    const handed = await request(delegating)
      .get(`/api/blockchain/verify/${OTHER_TX}`)
      .set('authorization', bearer(admin));
    expect(handed.status).toBe(202);
    expect(handed.body).toEqual({ from: 'elsewhere', txHash: OTHER_TX, auth: true });
  });

  it('status is admin only and names the service', async () => {
    const res = await request(app)
      .get('/api/blockchain/status')
      .set('authorization', bearer(admin));
    expect(res.body).toEqual({ service: 'widget', ok: true, pendingRecords: 0 });
    const denied = await request(app)
      .get('/api/blockchain/status')
      .set('authorization', bearer(alice));
    expect(denied.status).toBe(403);
  });

  it('answers 503 ANCHORING_NOT_CONFIGURED on every route when anchoring is off', async () => {
    const off = appWith({ anchoring: null });
    for (const path of [
      `/widget/${W1}`,
      `/verify/${TX}`,
      '/status',
      '/widget/log',
      '/widget/log/info',
    ]) {
      const res = await request(off)
        .get(`/api/blockchain${path}`)
        .set('authorization', bearer(admin));
      expect(res.status).toBe(503);
      expect(res.body.error).toMatchObject({
        code: 'ANCHORING_NOT_CONFIGURED',
        message:
          'Blockchain anchoring is not configured on the widget service (no BLOCKCHAIN_RPC_URL)',
      });
    }
  });
});
