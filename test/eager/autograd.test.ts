// Autograd semantics on the default (cpu) backend: accumulation, retainGrad, detach, noGrad,
// requiresGrad_ rules, leaves, explicit output gradients, freed graphs, the in-place version
// counter, views sharing storage, and dispose / `using`.
import { describe, expect, it } from 'vitest';
import { AutogradError, KilnError, ShapeError, arange, currentBackend, getBackend, isGradEnabled, noGrad, ones, tensor, zeros } from '../../src/index.js';
import type { Tensor } from '../../src/index.js';

const leaf = (v: number[]) => tensor(v, { requiresGrad: true });
const vals = (t: Tensor | null) => (t ? Array.from(t.data()) : null);

describe('gradient accumulation', () => {
  it('accumulates into a leaf across two backward calls', () => {
    const x = leaf([1, 2, 3]);
    x.mul(x).sum().backward();
    expect(vals(x.grad)).toEqual([2, 4, 6]);
    x.mul(x).sum().backward();
    expect(vals(x.grad)).toEqual([4, 8, 12]);
  });

  it('sums the paths when a leaf is used twice in one graph', () => {
    const x = leaf([1, 2, 3]);
    x.mul(x).add(x.mul(3)).sum().backward(); // d/dx (x² + 3x) = 2x + 3
    expect(vals(x.grad)).toEqual([5, 7, 9]);
  });

  it('un-broadcasts the gradient to the leaf shape', () => {
    const b = leaf([1, 2, 3]);
    const x = ones([4, 3]);
    x.mul(b).sum().backward();
    expect(b.grad!.shape).toEqual([3]);
    expect(vals(b.grad)).toEqual([4, 4, 4]);
  });

  it('zeroing .grad (set to null) restarts accumulation', () => {
    const x = leaf([1, 2]);
    x.sum().backward();
    x.grad = null;
    x.mul(5).sum().backward();
    expect(vals(x.grad)).toEqual([5, 5]);
  });

  it('refuses a .grad of the wrong shape', () => {
    const x = leaf([1, 2]);
    expect(() => { x.grad = zeros([3]); }).toThrow(ShapeError);
  });
});

describe('retainGrad and non-leaf tensors', () => {
  it('keeps .grad on a non-leaf only when asked', () => {
    const x = leaf([1, 2]);
    const y = x.mul(2);
    y.retainGrad();
    const w = x.mul(3);
    y.mul(y).sum().add(w.sum()).backward();
    expect(vals(y.grad)).toEqual([4, 8]); // d(y²)/dy = 2y
    expect(w.grad).toBeNull();
    expect(vals(x.grad)).toEqual([11, 19]); // 2y·2 + 3
  });

  it('throws on a tensor that does not require grad', () => {
    expect(() => tensor([1]).retainGrad()).toThrow(AutogradError);
  });

  it('isLeaf and gradFn', () => {
    const x = leaf([1, 2]);
    const c = tensor([1, 2]);
    const y = x.mul(c);
    expect(x.isLeaf).toBe(true);
    expect(x.gradFn).toBeNull();
    expect(y.isLeaf).toBe(false);
    expect(y.gradFn).toBe('mul');
    expect(y.requiresGrad).toBe(true);
    // Results of ops on tensors that need no gradient are leaves, as in PyTorch.
    const z = c.mul(2);
    expect(z.isLeaf).toBe(true);
    expect(z.requiresGrad).toBe(false);
  });
});

describe('requiresGrad_', () => {
  it('only float32 tensors can require gradients', () => {
    expect(() => arange(3).requiresGrad_()).toThrow(/requiresGrad_: only float32 tensors can require gradients, got int32/);
    expect(() => tensor([true]).requiresGrad_()).toThrow(AutogradError);
    expect(() => tensor([1], { dtype: 'int32', requiresGrad: true })).toThrow(AutogradError);
  });

  it('a leaf can be switched on and off; a non-leaf cannot be switched off', () => {
    const x = tensor([1, 2]);
    expect(x.requiresGrad).toBe(false);
    expect(x.requiresGrad_()).toBe(x);
    expect(x.requiresGrad).toBe(true);
    x.requiresGrad = false;
    expect(x.requiresGrad).toBe(false);
    const y = leaf([1]).mul(2);
    expect(() => y.requiresGrad_(false)).toThrow(/non-leaf.*detach/);
  });
});

describe('detach and noGrad', () => {
  it('detach cuts the graph: the detached value is a constant', () => {
    const x = leaf([1, 2, 3]);
    const d = x.mul(2).detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.isLeaf).toBe(true);
    d.mul(x).sum().backward(); // d/dx (c·x) = c = 2x
    expect(vals(x.grad)).toEqual([2, 4, 6]);
  });

  it('detach shares storage with the original', () => {
    const x = leaf([1, 2]);
    const d = x.detach();
    d.add_(1);
    expect(vals(x)).toEqual([2, 3]);
  });

  it('noGrad records nothing and restores the mode, even after a throw', () => {
    const x = leaf([1, 2]);
    expect(isGradEnabled()).toBe(true);
    const y = noGrad(() => {
      expect(isGradEnabled()).toBe(false);
      noGrad(() => expect(isGradEnabled()).toBe(false));
      expect(isGradEnabled()).toBe(false);
      return x.mul(2);
    });
    expect(isGradEnabled()).toBe(true);
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(() => noGrad(() => { throw new Error('boom'); })).toThrow('boom');
    expect(isGradEnabled()).toBe(true);
  });
});

describe('backward', () => {
  it('takes an explicit gradient for a non-scalar output', () => {
    const x = leaf([1, 2, 3]);
    x.mul(2).backward(tensor([1, 10, 100]));
    expect(vals(x.grad)).toEqual([2, 20, 200]);
  });

  it('rejects a gradient of the wrong shape', () => {
    const x = leaf([1, 2, 3]);
    expect(() => x.mul(2).backward(tensor([1, 2]))).toThrow(/backward: gradient \[2\] does not match output \[3\]/);
  });

  it('on a leaf sets its own .grad', () => {
    const x = leaf([4]);
    x.backward();
    expect(vals(x.grad)).toEqual([1]);
  });

  it('twice through a freed graph throws; retainGraph allows it', () => {
    const x = leaf([1, 2]);
    const y = x.exp().sum();
    y.backward();
    expect(() => y.backward()).toThrow(AutogradError);
    expect(() => y.backward()).toThrow(/already freed.*retainGraph/);

    const z = x.mul(x).sum();
    x.grad = null;
    z.backward(undefined, { retainGraph: true });
    z.backward();
    expect(vals(x.grad)).toEqual([4, 8]);
  });

  it('walks long chains without overflowing the stack', () => {
    const x = leaf([1]);
    let y: Tensor = x;
    for (let i = 0; i < 3000; i++) y = y.add(1);
    y.sum().backward();
    expect(vals(x.grad)).toEqual([1]);
  });

  it('createGraph gives second-order gradients', () => {
    const x = leaf([3]);
    x.mul(x).mul(x).sum().backward(undefined, { createGraph: true });
    const g = x.grad!;
    expect(vals(g)).toEqual([27]);
    x.grad = null;
    g.sum().backward();
    expect(vals(x.grad)).toEqual([18]);
  });
});

describe('in-place ops and the version counter', () => {
  it('modifying a tensor saved for backward makes backward throw, naming the op', () => {
    const x = leaf([1, 2]);
    const a = x.mul(2);
    const b = a.exp(); // exp saves its output b
    b.add_(1);
    expect(() => b.sum().backward()).toThrow(AutogradError);
    const x2 = leaf([1, 2]);
    const b2 = x2.mul(2).exp();
    b2.add_(1);
    expect(() => b2.sum().backward()).toThrow(/backward through exp: .*modified by an in-place operation/);
  });

  it('modifying a saved input names the consumer', () => {
    const x = leaf([1, 2]);
    const y = x.mul(2);
    const z = y.mul(y);
    y.mul_(3);
    expect(() => z.sum().backward()).toThrow(/backward through mul: input \d \[2\] needed for the gradient was modified/);
  });

  it('an in-place op on a tensor nobody saved is fine and differentiates', () => {
    const x = leaf([1, 2]);
    const a = x.mul(2);
    a.add_(1);
    a.mul_(3); // 3(2x+1): mul_ by a scalar saves nothing that changes
    a.sum().backward();
    expect(vals(a)).toEqual([9, 15]);
    expect(vals(x.grad)).toEqual([6, 6]);
  });

  it('x.mul_(x) saves the old x for the gradient, so backward refuses (as PyTorch does)', () => {
    const a = leaf([1, 2]).mul(1);
    a.mul_(a);
    expect(() => a.sum().backward()).toThrow(/backward through mul: input \d \[2\] needed for the gradient was modified/);
  });

  it('in-place on a leaf that requires grad is refused, allowed under noGrad', () => {
    const x = leaf([1, 2]);
    expect(() => x.add_(1)).toThrow(/add_: a leaf tensor that requires grad cannot be modified in place/);
    noGrad(() => x.add_(1));
    expect(vals(x)).toEqual([2, 3]);
    expect(x.isLeaf).toBe(true);
  });

  it('zero_, fill_, copy_, sub_, div_ write in place and return this', () => {
    const t = zeros([2, 2]);
    expect(t.fill_(3)).toBe(t);
    expect(vals(t)).toEqual([3, 3, 3, 3]);
    t.sub_(1).div_(4);
    expect(vals(t)).toEqual([0.5, 0.5, 0.5, 0.5]);
    t.copy_(tensor([1, 2])); // broadcast into [2,2]
    expect(vals(t)).toEqual([1, 2, 1, 2]);
    t.zero_();
    expect(vals(t)).toEqual([0, 0, 0, 0]);
    const i = zeros([2], { dtype: 'int32' });
    i.copy_(tensor([1.7, -2.2])); // cast to the destination dtype
    expect(vals(i)).toEqual([1, -2]);
  });

  it('in-place result that does not fit the destination shape is refused', () => {
    expect(() => zeros([3]).add_(ones([2, 3]))).toThrow(/add_: result \[2,3\] cannot be written into \[3\] in place/);
  });

  // kiln does not track views' bases, so an in-place write through a view of a tensor that requires
  // grad would be missed by the base's gradient (torch rebases it): it is refused with an error instead.
  it('in-place through a view of a tensor that requires grad is refused, not silently wrong', () => {
    const x = leaf([1, 2, 3]);
    const y = x.mul(1);
    expect(() => y.narrow(0, 0, 1).mul_(5)).toThrow(AutogradError);
    expect(() => y.narrow(0, 0, 1).mul_(5)).toThrow(/mul_: in-place write into a view of a tensor that requires grad/);
    // Outside autograd the write goes through and is seen by the base.
    noGrad(() => y.narrow(0, 0, 1).mul_(5));
    expect(vals(y)).toEqual([5, 2, 3]);
  });
});

describe('views share storage', () => {
  it('a write through a narrow/slice view is visible in the base', () => {
    const base = zeros([2, 3]);
    base.narrow(0, 1, 1).fill_(5);
    expect(vals(base)).toEqual([0, 0, 0, 5, 5, 5]);
    base.slice([null, [undefined, undefined, -2]]).add_(1); // columns 2 and 0
    expect(vals(base)).toEqual([1, 0, 1, 6, 5, 6]);
  });

  it('a write through a transposed / reshaped view is visible in the base, and back', () => {
    const base = arange(6).reshape([2, 3]).to('float32');
    const t = base.transpose(0, 1); // [3,2]
    t.narrow(0, 0, 1).fill_(-1); // column 0 of base
    expect(vals(base)).toEqual([-1, 1, 2, -1, 4, 5]);
    const r = base.reshape([6]);
    expect(r.isContiguous()).toBe(true);
    r.mul_(2);
    expect(vals(base)).toEqual([-2, 2, 4, -2, 8, 10]);
    base.fill_(7);
    expect(vals(t)).toEqual([7, 7, 7, 7, 7, 7]);
  });

  it('copy_ from an overlapping view of the same storage reads the old values', () => {
    const x = arange(5).to('float32');
    x.copy_(x.flip(0));
    expect(vals(x)).toEqual([4, 3, 2, 1, 0]);
    const y = arange(5);
    y.narrow(0, 1, 4).copy_(y.narrow(0, 0, 4));
    expect(vals(y)).toEqual([0, 0, 1, 2, 3]);
  });

  it('views are not contiguous when strided; contiguous() copies', () => {
    const base = arange(6).reshape([2, 3]);
    const t = base.transpose(0, 1);
    expect(t.isContiguous()).toBe(false);
    const c = t.contiguous();
    expect(c.isContiguous()).toBe(true);
    expect(c.toArray()).toEqual([[0, 3], [1, 4], [2, 5]]);
    c.fill_(0);
    expect(base.toArray()).toEqual([[0, 1, 2], [3, 4, 5]]);
    // clone() copies even a contiguous tensor.
    const k = base.clone();
    k.fill_(9);
    expect(vals(base)).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe('dispose and using', () => {
  it('dispose frees the storage; a disposed tensor cannot be used', () => {
    const b = getBackend(currentBackend());
    const before = b.allocatedBytes();
    const x = zeros([1000]);
    expect(b.allocatedBytes() - before).toBe(4000);
    x.dispose();
    expect(b.allocatedBytes()).toBe(before);
    expect(() => x.add(1)).toThrow(KilnError);
    expect(() => x.add(1)).toThrow(/\[1000\] was disposed/);
    expect(() => x.dispose()).not.toThrow();
  });

  it('a view keeps the storage alive until it is disposed too', () => {
    const b = getBackend(currentBackend());
    const before = b.allocatedBytes();
    const x = ones([100]);
    const v = x.reshape([10, 10]);
    x.dispose();
    expect(b.allocatedBytes() - before).toBe(400);
    const s = v.sum();
    expect(s.item()).toBe(100);
    s.dispose();
    v.dispose();
    expect(b.allocatedBytes()).toBe(before);
  });

  it('`using` disposes at the end of the block', () => {
    const b = getBackend(currentBackend());
    const before = b.allocatedBytes();
    let escaped: Tensor;
    {
      using t = zeros([250]);
      escaped = t;
      expect(b.allocatedBytes() - before).toBe(1000);
    }
    expect(b.allocatedBytes()).toBe(before);
    expect(() => escaped.sum()).toThrow(/disposed/);
  });

  it('memory stays flat over a loop that disposes what it creates', () => {
    const b = getBackend(currentBackend());
    const step = () => {
      const x = ones([64]);
      const y = x.mul(2);
      const s = y.sum();
      expect(s.item()).toBe(128);
      s.dispose(); y.dispose(); x.dispose();
    };
    step(); // warm caches (scalar constants)
    const start = b.allocatedBytes();
    for (let i = 0; i < 50; i++) step();
    expect(b.allocatedBytes()).toBe(start);
  });
});
