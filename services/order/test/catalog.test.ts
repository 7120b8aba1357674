import { createProductCatalog } from '../src/clients/catalog';
import { startProductStub } from './support/helpers';

let product: Awaited<ReturnType<typeof startProductStub>>;

beforeAll(async () => {
  product = await startProductStub([
    { id: 'p-a', name: 'A', priceCents: 100 },
    { id: 'p-b', name: 'B', priceCents: 200 },
    { id: 'p-c', name: 'C', priceCents: 300 },
  ]);
});
afterAll(async () => {
  await product?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('reuses a quote until its TTL is over, then asks product again', async () => {
  const catalog = createProductCatalog(product.url, { quoteTtlMs: 150 });
  const calls = product.state.calls;
  expect((await catalog.quote(['p-a'])).get('p-a')).toEqual({
    id: 'p-a',
    name: 'A',
    priceCents: 100,
    currency: 'USD',
    sellerId: 'seller-1',
  });
  await catalog.quote(['p-a']);
  expect(product.state.calls).toBe(calls + 1);
  await sleep(250);
  await catalog.quote(['p-a']);
  expect(product.state.calls).toBe(calls + 2);
});

it('asks only for the products not reused, and keeps no answer for an unknown one', async () => {
  const catalog = createProductCatalog(product.url);
  await catalog.quote(['p-a']);
  const calls = product.state.calls;
  const quotes = await catalog.quote(['p-b', 'p-a']);
  expect([...quotes.keys()].sort()).toEqual(['p-a', 'p-b']);
  expect(product.state.calls).toBe(calls + 1);
  for (let i = 0; i < 2; i += 1)
    await expect(catalog.quote(['p-a', 'p-none'])).rejects.toMatchObject({ status: 422 });
  expect(product.state.calls).toBe(calls + 3);
});

it('keeps the most recently used quotes within its bound, and none with a TTL of 0', async () => {
  const bounded = createProductCatalog(product.url, { quoteMaxEntries: 2 });
  await bounded.quote(['p-a']);
  await bounded.quote(['p-b']);
  await bounded.quote(['p-a']); // used again: p-b is now the least recent
  await bounded.quote(['p-c']);
  let calls = product.state.calls;
  await bounded.quote(['p-a', 'p-c']);
  expect(product.state.calls).toBe(calls);
  await bounded.quote(['p-b']);
  expect(product.state.calls).toBe(calls + 1);

  const off = createProductCatalog(product.url, { quoteTtlMs: 0 });
  calls = product.state.calls;
  await off.quote(['p-a']);
  await off.quote(['p-a']);
  expect(product.state.calls).toBe(calls + 2);
});

it('an answer asked for before a forget serves its order but is not kept', async () => {
  const catalog = createProductCatalog(product.url);
  const calls = product.state.calls;
  const asking = catalog.quote(['p-b']);
  catalog.forget('p-b'); // product said p-b changed while its answer was on the way
  expect((await asking).get('p-b')?.priceCents).toBe(200);
  await catalog.quote(['p-b']);
  expect(product.state.calls).toBe(calls + 2);
  await catalog.quote(['p-b']);
  expect(product.state.calls).toBe(calls + 2);
});

it('forget drops one quote', async () => {
  const catalog = createProductCatalog(product.url);
  await catalog.quote(['p-a', 'p-b']);
  const calls = product.state.calls;
  catalog.forget('p-a');
  await catalog.quote(['p-a', 'p-b']);
  expect(product.state.calls).toBe(calls + 1);
});
