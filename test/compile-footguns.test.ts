// Every case where a compiled function differs from its eager twin by design, each with the reason.
import { describe, expect, it } from 'vitest';
import * as k from '../src/index.js';

describe('compile footguns', () => {
  it('random numbers: compiled code draws what eager code draws (torch.compile does not); with pure: true a manualSeed() inside is not re-run', () => {
    // PyTorch's compiled code uses its own RNG stream, so torch.compile'd dropout masks differ from
    // eager ones. kiln draws each random tensor when the JavaScript asks for it, from the same
    // generator, so the streams match. The exception: with pure: true a cache hit skips the
    // JavaScript, so a manualSeed() inside the function does not run (draws still come in order).
    const fn = (x: k.Tensor) => x.add(k.rand([3]));
    k.manualSeed(9);
    const eager = [fn(k.zeros([3])), fn(k.zeros([3]))].map((t) => t.toArray());
    k.manualSeed(9);
    const f = k.compile(fn);
    expect([f(k.zeros([3])), f(k.zeros([3]))].map((t) => t.toArray())).toEqual(eager);
    const seeded = k.compile((x: k.Tensor) => { k.manualSeed(1); return x.add(k.rand([3])); }, { pure: true });
    const a = seeded(k.zeros([3])).toArray(), b = seeded(k.zeros([3])).toArray();
    expect(b).not.toEqual(a); // eagerly both calls would reseed and draw the same numbers
  });

  it('a tensor made inside a compiled call and read after it, once the call wrote in place into what it came from, is an error', () => {
    // Values the function neither returns nor stores in a .grad are computed when first read. If the
    // call then wrote in place into a tensor they were computed from, their inputs are gone: kiln
    // says so rather than compute from the new contents. Return such values, or read them inside.
    const kept: k.Tensor[] = [];
    const W = k.ones([2]);
    const f = k.compile((x: k.Tensor) => { kept.push(W.mul(x)); k.noGrad(() => W.add_(1)); return x; });
    f(k.ones([2]));
    expect(() => kept[0].data()).toThrow(/read after the call, but the call wrote in place into a tensor it was computed from/);
    const g = k.compile((x: k.Tensor) => { kept.push(x.mul(3)); return x; });
    g(k.ones([2]));
    expect(kept[1].toArray()).toEqual([3, 3]); // nothing was written: read late, computed right
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

  it('a compiled step updates the .grad it wrote last call in place (bounded memory), eager makes a new one', () => {
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
