import { createServiceClient } from '@ecom/common/client';
import { sendJson, startHttpStub, type HttpStub } from '@ecom/test-support';
import { createOrderAnchors } from '../src/clients/order-anchors';

/** GET /api/blockchain/verify/:tx falls back to the order service for its own batches. */
describe('order anchors client (verify fallback)', () => {
  const tx = (n: string) => `0x${n.repeat(64)}`;
  const answers = new Map<string, { status: number; body: unknown }>([
    [tx('a'), { status: 200, body: { service: 'order', txHash: tx('a'), records: [] } }],
    [tx('b'), { status: 404, body: { error: { code: 'NOT_FOUND', message: 'none' } } }],
    [
      tx('c'),
      {
        status: 403,
        body: { error: { code: 'FORBIDDEN', message: 'not yours', details: { x: 1 } } },
      },
    ],
    [tx('d'), { status: 503, body: { error: { code: 'DOWN', message: 'down' } } }],
  ]);
  let order: HttpStub;
  let anchors: ReturnType<typeof createOrderAnchors>;

  beforeAll(async () => {
    order = await startHttpStub((req, res) => {
      const hash = /^\/api\/blockchain\/verify\/(0x[0-9a-f]{64})$/.exec(req.url ?? '')?.[1];
      const answer = hash ? answers.get(hash) : undefined;
      sendJson(res, answer?.status ?? 404, answer?.body ?? {});
    });
    anchors = createOrderAnchors(order.url, {
      client: createServiceClient({ name: 'order-service', baseUrl: order.url, retries: 0 }),
    });
  });
  afterAll(() => order.close());

  it("answers order's view of its transaction, asked with the caller's Authorization", async () => {
    await expect(anchors.verifyTransaction(tx('a'), 'Bearer abc')).resolves.toEqual({
      service: 'order',
      txHash: tx('a'),
      records: [],
    });
    expect(order.calls.at(-1)).toMatchObject({
      url: `/api/blockchain/verify/${tx('a')}`,
      headers: { authorization: 'Bearer abc' },
    });
  });

  it("answers 404 when order has no anchor there either, and keeps order's refusals", async () => {
    await expect(anchors.verifyTransaction(tx('b'), 'Bearer abc')).rejects.toMatchObject({
      status: 404,
      code: 'NOT_FOUND',
    });
    await expect(anchors.verifyTransaction(tx('c'), 'Bearer abc')).rejects.toMatchObject({
      status: 403,
      code: 'FORBIDDEN',
      message: 'not yours',
      details: { x: 1 },
    });
  });

  it('answers 503 when order cannot answer', async () => {
    await expect(anchors.verifyTransaction(tx('d'), undefined)).rejects.toMatchObject({
      status: 503,
      code: 'DEPENDENCY_UNAVAILABLE',
    });
  });
});
