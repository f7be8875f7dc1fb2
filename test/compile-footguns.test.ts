// Every case where a compiled function differs from its eager twin by design, each with the reason.
import { describe, expect, it } from 'vitest';
import * as k from '../src/index.js';

describe('compile footguns', () => {
  it('a JS number captured from the closure is frozen at trace time', () => {
    // The number is not a tensor, so it is not a graph input: the replay keeps the traced value.
    // Pass it as an argument (numbers are guarded by value) or make it a tensor.
    const scale = { value: 2 };
    const f = k.compile((x: k.Tensor) => x.mul(scale.value));
    const x = k.ones([2]);
    expect(f(x).toArray()).toEqual([2, 2]);
    scale.value = 3;
    expect(f(x).toArray()).toEqual([2, 2]);
    expect(x.mul(scale.value).toArray()).toEqual([3, 3]);
  });

  it('a tensor returned from a replayed training step is detached', () => {
    // The step runs its own backward inside the graph; on replay no autograd graph is rebuilt.
    const W = k.randn([3, 1], { requiresGrad: true });
    const opt = new k.optim.SGD([W], { lr: 0.01 });
    const step = k.compile((x: k.Tensor) => { opt.zeroGrad(); const l = x.matmul(W).sum(); l.backward(); opt.step(); return l; });
    const x = k.ones([2, 3]);
    expect(step(x).requiresGrad).toBe(true); // the traced call is the eager call
    expect(step(x).requiresGrad).toBe(false); // the replay
  });

  it('a tensor used as a JS boolean is always truthy (JavaScript cannot intercept it)', () => {
    // `if (t)` never reads the tensor in eager mode either; compare with item() instead.
    const f = k.compile((x: k.Tensor) => (x ? x.add(1) : x));
    expect(f(k.zeros([1])).toArray()).toEqual([1]);
  });

  it('compiled kernels keep float32 intermediates in wider precision on cpu', () => {
    // Fused expressions are evaluated without rounding each step to float32, so results may differ
    // from eager (rounded after every op) in the last bits.
    const f = k.compile((x: k.Tensor) => x.mul(1 / 3).mul(3).sub(x));
    const x = k.tensor([0.1, 0.7, 1e7]);
    const eager = x.mul(1 / 3).mul(3).sub(x).data();
    const comp = f(x).data();
    comp.forEach((v, i) => expect(Math.abs(v - eager[i])).toBeLessThanOrEqual(1.5));
  });

  it('a replayed step updates the .grad it wrote last call in place (bounded memory), eager makes a new one', () => {
    // Finalizers only run when the event loop turns, so a synchronous loop of compiled steps reuses
    // its own .grad storage instead of dropping one tensor per parameter per step. A reference to
    // last step's gradient therefore sees this step's values; clone() it to keep it.
    const W = k.ones([2], { requiresGrad: true });
    const step = k.compile((x: k.Tensor) => { W.grad = null; x.mul(W).sum().backward(); });
    step(k.tensor([1, 2]));
    step(k.tensor([1, 2]));
    const kept = W.grad!;
    step(k.tensor([3, 4]));
    expect(W.grad).toBe(kept);
    expect(kept.toArray()).toEqual([3, 4]);
  });
});
