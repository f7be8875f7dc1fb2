// The lowering table (src/lower.ts) as the scheduler uses it: where index arithmetic cannot follow
// an operand (a gathering load broadcast, padding a computed value, reshaping a transposed one) the
// operand is materialised, and compiled still equals eager.
import { describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import { LOWER } from '../../src/lower.js';

const same = (f: (...t: k.Tensor[]) => k.Tensor, ...xs: k.Tensor[]) => {
  const want = f(...xs).data(), got = k.compile(f, { backend: 'cpu' })(...xs).data();
  expect(Array.from(got)).toEqual(Array.from(want));
};

describe('lowering', () => {
  it('has a rule for every kind of registry op', () => {
    for (const def of Object.values(k.OPS)) expect(typeof LOWER[def.kind], def.name).toBe('function');
  });

  it('materialises a gather before broadcasting it (the index is not re-indexed with it)', () => {
    const x = k.randn([3, 5], { backend: 'cpu' });
    same((t) => t.sub(t.gather(1, t.argmax(1, true))), x);
    const W = k.randn([6, 4], { backend: 'cpu' });
    const z = k.randn([2, 3, 4], { backend: 'cpu' });
    const i = k.tensor([1, 3, 5], { dtype: 'int32', backend: 'cpu' });
    same((w) => w.indexSelect(0, i).add(z), W);
  });

  it('pads a computed value as zeros, not f(0), and reshapes a transposed one through a copy', () => {
    const x = k.randn([3, 4], { backend: 'cpu' });
    same((t) => t.exp().pad([[1, 0], [0, 2]]), x);
    same((t) => t.exp().mT().reshape([12]).mul(2), x);
    expect(k.explain((t: k.Tensor) => t.exp().pad([[1, 0], [0, 2]]).add(1), { backend: 'cpu', args: [x] }).graphs[0].kernels).toHaveLength(2);
  });
});
