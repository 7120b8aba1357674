import type { Pool } from 'pg';
import {
  createPgPool,
  createIdempotencyStore,
  httpIdempotencyMigration,
  runMigrations,
  withTransaction,
} from '../src/postgres';
import { BusinessRuleError, DependencyUnavailableError } from '../src/errors/app-error';
import { createTestPostgres, describeIfServer, type TestPostgres } from '@ecom/test-support';

describeIfServer('postgres', 'createIdempotencyStore (HTTP Idempotency-Key, PostgreSQL)', () => {
  let db: TestPostgres;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestPostgres('common_http_idempotency');
    pool = createPgPool(db.url, 10);
    await runMigrations(pool, [httpIdempotencyMigration]);
    await pool.query('CREATE TABLE things (id text PRIMARY KEY, name text NOT NULL)');
  });
  afterAll(async () => {
    await pool.end();
    await db.cleanup();
  });

  const count = async () => Number((await pool.query('SELECT count(*) FROM things')).rows[0].count);
  let n = 0;
  /** Creates a thing; the key is claimed in the same transaction, with or without the answer. */
  const create = (
    key: string | undefined,
    body: { name: string },
    answerAtClaim = true,
    delayMs = 0,
  ) =>
    createIdempotencyStore(pool).run({ scope: 'things.create', userId: 'u1', key, body }, (claim) =>
      withTransaction(pool, async (client) => {
        const id = `t${(n += 1)}`;
        await client.query('INSERT INTO things (id, name) VALUES ($1, $2)', [id, body.name]);
        const answer = { status: 201, body: { id, ...body } };
        await claim(client, id, answerAtClaim ? answer : undefined);
        if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
        return answer;
      }),
    );

  it('runs once per key: the same key and body replay the first answer', async () => {
    const before = await count();
    const first = await create('k1', { name: 'a' });
    const again = await create('k1', { name: 'a' });
    expect(first.replayed).toBe(false);
    expect(again).toEqual({ ...first, replayed: true });
    expect(await count()).toBe(before + 1);
  });

  it('refuses the same key with another body (422 IDEMPOTENCY_KEY_REUSED), changing nothing', async () => {
    await create('k2', { name: 'a' });
    const before = await count();
    await expect(create('k2', { name: 'b' })).rejects.toMatchObject({
      status: 422,
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    expect(await count()).toBe(before);
  });

  it('keys are per scope and user; no key runs the work every time', async () => {
    const before = await count();
    await create(undefined, { name: 'x' });
    await create(undefined, { name: 'x' });
    const other = await createIdempotencyStore(pool).run(
      { scope: 'things.create', userId: 'u2', key: 'k1', body: { name: 'a' } },
      async () => ({ status: 201, body: { id: 'other' } }),
    );
    expect(other).toEqual({ status: 201, body: { id: 'other' }, replayed: false });
    expect(await count()).toBe(before + 2);
  });

  it('lets exactly one of many concurrent requests with one key do the work; the others replay it', async () => {
    const before = await count();
    const results = await Promise.all(
      Array.from({ length: 8 }, () => create('k3', { name: 'c' }, true, 30)),
    );
    expect(await count()).toBe(before + 1);
    expect(new Set(results.map((r) => JSON.stringify(r.body))).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
  });

  it('answers 409 while a request whose answer comes after its transaction is still running', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let claimed!: () => void;
    const committed = new Promise<void>((r) => (claimed = r));
    const slow = createIdempotencyStore(pool).run(
      { scope: 'things.slow', userId: 'u1', key: 'k4', body: {} },
      async (claim) => {
        await withTransaction(pool, (client) => claim(client, 'pending-thing'));
        claimed();
        await held; // e.g. a payment gateway call after the claim committed
        return { status: 202, body: { done: true } };
      },
    );
    // The second request comes once the claim is committed (a 50 ms timer was outrun on CI).
    await committed;
    await expect(
      createIdempotencyStore(pool).run(
        { scope: 'things.slow', userId: 'u1', key: 'k4', body: {} },
        async () => ({
          status: 202,
          body: {},
        }),
      ),
    ).rejects.toMatchObject({ status: 409, details: { resourceId: 'pending-thing' } });
    release();
    expect(await slow).toEqual({ status: 202, body: { done: true }, replayed: false });
    const replay = await createIdempotencyStore(pool).run(
      { scope: 'things.slow', userId: 'u1', key: 'k4', body: {} },
      async () => ({ status: 500, body: {} }),
    );
    expect(replay).toEqual({ status: 202, body: { done: true }, replayed: true });
  });

  it('replays the answer of a request with the key that committed while this one ran and then refused', async () => {
    const store = createIdempotencyStore(pool);
    const req = { scope: 'carts.checkout', userId: 'u1', key: 'k5', body: { cart: 'mine' } };
    // The second request looked for the key and found none; the first then commits (the cart
    // is checked out) before the second reads the cart, which it finds empty.
    const second = store.run(req, async () => {
      const first = await store.run(req, (claim) =>
        withTransaction(pool, async (client) => {
          const answer = { status: 201, body: { id: 'order-1' } };
          await claim(client, 'order-1', answer);
          return answer;
        }),
      );
      expect(first.replayed).toBe(false);
      throw new BusinessRuleError('The cart is empty', {}, 'CART_EMPTY');
    });
    await expect(second).resolves.toEqual({ status: 201, body: { id: 'order-1' }, replayed: true });
    // Without a key stored, the refusal stands.
    await expect(
      store.run({ ...req, key: 'k6' }, async () => {
        throw new BusinessRuleError('The cart is empty', {}, 'CART_EMPTY');
      }),
    ).rejects.toMatchObject({ status: 422, code: 'CART_EMPTY' });
  });

  it('answers a refusal after its own claim committed with that refusal, not its own claim', async () => {
    const store = createIdempotencyStore(pool);
    const req = { scope: 'payments.initiate', userId: 'u1', key: 'k7', body: {} };
    // As a payment does: the key claimed and committed, then the gateway is down.
    await expect(
      store.run(req, async (claim) => {
        await withTransaction(pool, (client) => claim(client, 'payment-1'));
        throw new DependencyUnavailableError('payment-gateway');
      }),
    ).rejects.toMatchObject({ status: 503, code: 'DEPENDENCY_UNAVAILABLE' });
  });

  describe('not looked for first (lookFirst: false)', () => {
    /** Creates a thing as `create` does; `refuse` makes the work fail before its claim. */
    const createClaimingFirst = (key: string, body: { name: string }, refuse?: Error) =>
      createIdempotencyStore(pool).run(
        { scope: 'things.fast', userId: 'u1', key, body },
        async (claim) => {
          if (refuse) throw refuse; // e.g. the product it would order is gone now
          return withTransaction(pool, async (client) => {
            const id = `t${(n += 1)}`;
            await client.query('INSERT INTO things (id, name) VALUES ($1, $2)', [id, body.name]);
            const answer = { status: 201, body: { id, ...body } };
            await claim(client, id, answer, { atCommit: true });
            return answer;
          });
        },
        { lookFirst: false },
      );
    const lookups = (spy: jest.SpyInstance) =>
      spy.mock.calls.filter(([text]) => String(text).includes('FROM http_idempotency')).length;

    it('reads nothing before a new key’s work, and replays its answer to a repeat, which changes nothing', async () => {
      const spy = jest.spyOn(pool, 'query');
      try {
        const before = await count();
        const first = await createClaimingFirst('f1', { name: 'a' });
        expect(lookups(spy)).toBe(0);
        const again = await createClaimingFirst('f1', { name: 'a' });
        expect(again).toEqual({ ...first, replayed: true });
        expect(await count()).toBe(before + 1);
      } finally {
        spy.mockRestore();
      }
    });

    it('replays the stored answer to a repeat whose work now fails, and gives a new key the work’s error', async () => {
      const first = await createClaimingFirst('f2', { name: 'b' });
      const gone = new BusinessRuleError('That product is gone', {}, 'PRODUCT_GONE');
      expect(await createClaimingFirst('f2', { name: 'b' }, gone)).toEqual({
        ...first,
        replayed: true,
      });
      await expect(createClaimingFirst('f3', { name: 'b' }, gone)).rejects.toBe(gone);
    });

    it('refuses the key with another body (422), changing nothing, and answers many concurrent repeats once', async () => {
      await createClaimingFirst('f4', { name: 'c' });
      const before = await count();
      await expect(createClaimingFirst('f4', { name: 'other' })).rejects.toMatchObject({
        status: 422,
        code: 'IDEMPOTENCY_KEY_REUSED',
      });
      expect(await count()).toBe(before);
      const results = await Promise.all(
        Array.from({ length: 6 }, () => createClaimingFirst('f5', { name: 'd' })),
      );
      expect(await count()).toBe(before + 1);
      expect(new Set(results.map((r) => JSON.stringify(r.body))).size).toBe(1);
      expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    });
  });
});
