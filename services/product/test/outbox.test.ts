import type { EventEnvelope } from '@ecom/common/bus';
import request from 'supertest';
import { bearer, eventually, FlakyBus } from '@ecom/test-support';
import { newOrderId, orderCreated, seller, startHarness, type Harness } from './support/helpers';

let h: Harness;
let flaky: FlakyBus;

beforeAll(async () => {
  // A short relay interval; a fresh row is still left 1 s to its direct send.
  h = await startHarness(
    'product_outbox',
    { OUTBOX_RELAY_INTERVAL_MS: '50' },
    { wrapBus: (bus) => (flaky = new FlakyBus(bus)) },
  );
});
afterAll(async () => {
  await h.close();
});
afterEach(() => {
  flaky.down = false;
});

const waitFor = (condition: () => boolean | Promise<boolean>, timeoutMs = 8000) =>
  eventually(condition, { timeoutMs, intervalMs: 25 });

const ofProduct = (productId: string) =>
  h.published.filter((e) => (e.data as { productId?: string }).productId === productId);

async function createProduct(name: string, inventory = 4): Promise<string> {
  const res = await request(h.service.app)
    .post('/api/products')
    .set('Authorization', bearer(seller))
    .send({ name, price: 3.5, inventory, lowStockThreshold: 2 });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

describe('events through the MongoDB outbox', () => {
  it('sends at once when the bus is up, and marks the row sent (within the mark window)', async () => {
    const id = await createProduct('Direct');
    await h.settle();
    const sent = ofProduct(id);
    expect(sent.map((e) => e.eventType)).toEqual(['product.created']);
    const row = await eventually(async () => {
      const r = await h.service.outbox.model.findById(sent[0].eventId).lean();
      return r?.sentAt ? r : undefined;
    });
    expect(row.sentAt).toBeInstanceOf(Date);
    expect(row.attempts).toBe(0);
  });

  it('bus down during a create: the relay publishes the event once the bus is back, once', async () => {
    flaky.down = true;
    const id = await createProduct('During outage');
    await h.settle();
    expect(ofProduct(id)).toEqual([]);
    const [row] = await h.service.outbox.model
      .find({ 'event.data.productId': id })
      .lean<Array<{ _id: string; sentAt: Date | null; event: EventEnvelope }>>();
    expect(row).toMatchObject({ sentAt: null, event: { eventType: 'product.created' } });

    // The relay keeps trying while the bus is down; the row stays unsent.
    await waitFor(async () => {
      const r = await h.service.outbox.model.findById(row._id).lean();
      return (r?.attempts ?? 0) >= 1;
    });
    expect(await h.service.outbox.model.findById(row._id).lean()).toMatchObject({
      sentAt: null,
      lastError: 'broker unreachable',
    });
    expect(ofProduct(id)).toEqual([]);

    flaky.down = false;
    // The relay timer (not a test-driven flush) sends it after its backoff.
    await waitFor(() => ofProduct(id).length > 0);
    await h.settle();
    const sent = ofProduct(id);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      eventId: row._id,
      eventType: 'product.created',
      source: 'product-service',
      data: { productId: id, name: 'During outage', inventory: 4 },
    });
    await waitFor(
      async () => (await h.service.outbox.model.findById(row._id).lean())?.sentAt instanceof Date,
    );

    // Once the relay has caught up (other rows of the outage may still be on their backoff),
    // further rounds and an explicit flush find nothing more: no duplicate.
    await waitFor(async () => (await h.service.outbox.pendingCount()) === 0);
    expect(await h.service.flushOutbox()).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await h.settle();
    expect(ofProduct(id)).toHaveLength(1);
  });

  it('keeps several writes made during an outage, in order, each sent exactly once', async () => {
    const id = await createProduct('Outage series', 10);
    await h.settle();
    // The create's event went out; its sent mark follows within the mark window.
    await waitFor(async () => (await h.service.outbox.pendingCount()) === 0);
    flaky.down = true;
    const auth = bearer(seller);
    await request(h.service.app)
      .put(`/api/products/${id}`)
      .set('Authorization', auth)
      .send({ price: 4.25 })
      .expect(200);
    await request(h.service.app)
      .put(`/api/products/${id}/inventory`)
      .set('Authorization', auth)
      .send({ set: 1 })
      .expect(200);
    await request(h.service.app)
      .delete(`/api/products/${id}`)
      .set('Authorization', auth)
      .expect(204);
    await h.settle();
    expect(ofProduct(id).map((e) => e.eventType)).toEqual(['product.created']);
    expect(await h.service.outbox.pendingCount()).toBe(4);

    flaky.down = false;
    await waitFor(async () => (await h.service.outbox.pendingCount()) === 0);
    await h.settle();
    expect(ofProduct(id).map((e) => e.eventType)).toEqual([
      'product.created',
      'product.updated',
      'product.updated',
      'product.inventory.low',
      'product.deleted',
    ]);
    const ids = ofProduct(id).map((e) => e.eventId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('routes the saga reply through the outbox too: a reservation made while the bus is down is announced later', async () => {
    const productId = await createProduct('Saga outage');
    await h.settle();
    flaky.down = true;
    const orderId = newOrderId();
    // Delivered on the real bus (the order service's broker side is up); product's reply fails.
    await h.deliver('order.created', orderCreated(orderId, [{ productId, quantity: 2 }], 350));
    // The handler succeeded (no redelivery, nothing dead-lettered) and its reply is held.
    expect(h.publishedOf('inventory.reserved').filter((d) => d.orderId === orderId)).toEqual([]);
    expect(h.bus.deadLetters.filter((d) => d.event?.eventType === 'order.created')).toEqual([]);
    expect(
      await h.service.outbox.model.countDocuments({
        'event.eventType': 'inventory.reserved',
        'event.data.orderId': orderId,
        sentAt: null,
      }),
    ).toBe(1);

    flaky.down = false;
    await waitFor(() => h.publishedOf('inventory.reserved').some((d) => d.orderId === orderId));
    await h.settle();
    expect(h.publishedOf('inventory.reserved').filter((d) => d.orderId === orderId)).toEqual([
      { orderId, items: [{ productId, quantity: 2 }] },
    ]);
  });

  it('stop() stops the relay: no round runs after it (last test: it stops the service)', async () => {
    // Every relay round starts by claiming a due row with findOneAndUpdate.
    const claims = jest.spyOn(h.service.outbox.model, 'findOneAndUpdate');
    try {
      await waitFor(() => claims.mock.calls.length > 0, 8000);
      await h.service.stop();
      claims.mockClear();
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(claims).not.toHaveBeenCalled();
    } finally {
      claims.mockRestore();
    }
  });
});
