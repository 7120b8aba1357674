import { WindowedBatch } from '@ecom/common/util';

/** A batch whose writes are recorded and held until released. */
function recorded(options: { windowMs: number; maxItems: number }) {
  const writes: number[][] = [];
  let release: () => void = () => undefined;
  let held = false;
  const batch = new WindowedBatch<number>(async (items) => {
    writes.push(items);
    if (held) await new Promise<void>((resolve) => (release = resolve));
  }, options);
  return { batch, writes, hold: () => (held = true), release: () => release() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('items added within one window go to one write when it closes', async () => {
  const { batch, writes } = recorded({ windowMs: 100, maxItems: 10 });
  batch.add(1);
  batch.add(2);
  await sleep(20);
  batch.add(3);
  expect(writes).toEqual([]);
  expect(batch.pending).toBe(3);
  await sleep(150);
  expect(writes).toEqual([[1, 2, 3]]);
  batch.add(4); // a new window
  await batch.flush();
  expect(writes).toEqual([[1, 2, 3], [4]]);
});

it('a full batch is written at once, and what arrives during a write waits for the next one', async () => {
  const { batch, writes, hold, release } = recorded({ windowMs: 60_000, maxItems: 2 });
  hold();
  batch.add(1);
  batch.add(2); // full: written now
  expect(writes).toEqual([[1, 2]]);
  batch.add(3);
  batch.add(4);
  batch.add(5);
  const flushed = batch.flush();
  expect(writes).toEqual([[1, 2]]); // one write at a time
  release();
  await sleep(0);
  release();
  await sleep(0);
  release();
  await flushed;
  expect(writes).toEqual([[1, 2], [3, 4], [5]]);
  expect(batch.pending).toBe(0);
});

it('what arrives during a write waits for a window of its own, not for the write to end', async () => {
  const { batch, writes, hold, release } = recorded({ windowMs: 100, maxItems: 10 });
  hold();
  batch.add(1);
  await sleep(150); // the window closed: [1] is being written, and held
  expect(writes).toEqual([[1]]);
  batch.add(2);
  release();
  await sleep(20);
  expect(writes).toEqual([[1]]); // 2 waits for its window
  await sleep(150);
  expect(writes).toEqual([[1], [2]]);
});

it.each([
  ['rejects', (): Promise<void> => Promise.reject(new Error('store down'))],
  [
    'throws at once',
    (): Promise<void> => {
      throw new Error('thrown at once');
    },
  ],
])('a write that %s loses only its own items', async (_how, fail) => {
  const writes: number[][] = [];
  const batch = new WindowedBatch<number>(
    (items) => {
      writes.push(items);
      return items.includes(1) ? fail() : Promise.resolve();
    },
    { windowMs: 0, maxItems: 10 },
  );
  batch.add(1);
  await batch.flush();
  batch.add(2);
  await batch.flush();
  expect(writes).toEqual([[1], [2]]);
});
