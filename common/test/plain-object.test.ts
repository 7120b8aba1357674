import { isPlainObject } from '../src/util';

it('a plain object is one made by a literal, JSON.parse or Object.create(null), nothing else', () => {
  for (const v of [{}, { a: 1 }, JSON.parse('{"__proto__":{}}'), Object.create(null)])
    expect(isPlainObject(v)).toBe(true);
  class Thing {}
  for (const v of [null, undefined, [], [1], 'x', 1, true, new Date(), new Map(), new Thing()])
    expect(isPlainObject(v)).toBe(false);
});
