import { createProductClient } from '../src/client';
import { sendJson, startHttpStub, type HttpStub } from '@ecom/test-support';

describe('createProductClient (the one client of the product service)', () => {
  let stub: HttpStub;
  let answer: { status: number; body: unknown } = { status: 200, body: {} };

  beforeAll(async () => {
    stub = await startHttpStub((_req, res) => sendJson(res, answer.status, answer.body));
  });
  afterAll(() => stub.close());

  const client = () => createProductClient({ baseUrl: stub.url, timeoutMs: 500 });

  it('reads id, name, seller and money from the product, ignoring the rest', async () => {
    answer = {
      status: 200,
      body: {
        id: 'p1',
        name: 'Lamp',
        sellerId: 's1',
        price: { amount: 1999, currency: 'EUR' },
        inStock: true,
      },
    };
    expect(await client().get('p/1')).toEqual({
      id: 'p1',
      name: 'Lamp',
      sellerId: 's1',
      price: { amount: 1999, currency: 'EUR' },
    });
    expect(stub.calls.at(-1)?.url).toBe('/api/products/p%2F1');
  });

  it('answers null for a product that does not exist (404, or 400 for an id product cannot read)', async () => {
    for (const status of [404, 400]) {
      answer = { status, body: { error: { code: 'X', message: 'x' } } };
      expect(await client().get('nope')).toBeNull();
    }
  });

  it('throws 503 DEPENDENCY_UNAVAILABLE for an unusable answer or a failing product', async () => {
    for (const body of [{ id: 'p', name: 'L', sellerId: 's', price: 19.99 }, { name: 'L' }]) {
      answer = { status: 200, body };
      await expect(client().get('p')).rejects.toMatchObject({
        status: 503,
        code: 'DEPENDENCY_UNAVAILABLE',
      });
    }
    answer = { status: 503, body: { error: { code: 'DOWN', message: 'down' } } };
    await expect(client().get('p')).rejects.toMatchObject({ status: 503 });
  });
});
