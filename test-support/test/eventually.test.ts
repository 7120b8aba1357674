import { eventually } from '../src';

describe('eventually', () => {
  it('returns the first truthy value, treating throws as not yet', async () => {
    let calls = 0;
    const value = await eventually(() => {
      calls += 1;
      if (calls < 3) throw new Error('not yet');
      return calls === 3 ? 'ready' : undefined;
    });
    expect(value).toBe('ready');
    expect(calls).toBe(3);
  });

  it('fails after the timeout with the last error, or naming the condition', async () => {
    await expect(
      eventually(() => Promise.reject(new Error('down')), { timeoutMs: 50 }),
    ).rejects.toThrow('down');
    await expect(eventually(() => 0, { timeoutMs: 50, what: 'count above zero' })).rejects.toThrow(
      'count above zero: still 0 after 50 ms',
    );
  });
});
