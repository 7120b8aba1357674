import { describeFailure } from '../src/run-launcher';

describe("the launcher's one line for a failed start", () => {
  it('names what failed whatever was thrown, never "[object Object]"', () => {
    expect(describeFailure(new Error('port 3000 is in use'))).toBe('port 3000 is in use');
    // A plain object (a full disk at first start was reported as "[object Object]").
    expect(describeFailure({ message: 'could not extend file', code: '53100' })).toBe(
      'could not extend file (53100)',
    );
    const errno = Object.assign(Object.create({ constructor: { name: 'ErrnoError' } }), {
      errno: 28,
    });
    expect(describeFailure(errno)).toContain('errno: 28');
    expect(describeFailure({ errno: 28 })).not.toContain('[object Object]');
    expect(describeFailure('disk full')).toBe('disk full');
  });
});
