import { describe, expect, it } from 'vitest';
import { jsonNestingDepth, nestingDepth } from '../../src/http/answers.js';

describe('variables nesting (no server)', () => {
  it('measures parsed values without recursion, stopping past the limit', () => {
    expect(nestingDepth(undefined, 32)).toBe(0);
    expect(nestingDepth('x', 32)).toBe(0);
    expect(nestingDepth({ a: [1, { b: [] }] }, 32)).toBe(4);
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as unknown;
    expect(nestingDepth(deep, 32)).toBe(33);
  });

  it('measures JSON text, ignoring brackets inside strings', () => {
    expect(jsonNestingDepth('{"a":[1,{"b":"[[[{{{\\"[["}]}', 32)).toBe(3);
    expect(jsonNestingDepth('"{{{{"', 1)).toBe(0);
    expect(jsonNestingDepth(`{"d":${'['.repeat(100_000)}`, 32)).toBe(33);
  });
});
