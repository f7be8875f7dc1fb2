// kiln.autograd.grad / backward, Tensor.registerHook, enableGrad and inferenceMode: gradients
// against analytic float64 derivatives and finite differences, eager and compiled, on every backend.
import { describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import { forEachBackend } from '../eager/backends.js';

const { grad, backward } = k.autograd;
const X = [0.3, -1.2, 2.5, 0.9];
const f64 = {
  f: (x: number) => Math.sin(x) * x * x,
  df: (x: number) => Math.cos(x) * x * x + 2 * x * Math.sin(x),
  d2f: (x: number) => -Math.sin(x) * x * x + 4 * x * Math.cos(x) + 2 * Math.sin(x),
};
const f = (x: Tensor) => x.sin().mul(x).mul(x);
const read = async (t: Tensor | null) => Array.from(await t!.dataAsync());
function close(got: number[], want: number[], tol = 2e-5): void {
  const bad = got.map((g, i) => (Math.abs(g - want[i]) <= tol * (1 + Math.abs(want[i])) ? null : `[${i}] ${g} vs ${want[i]}`)).filter(Boolean);
  expect(bad).toEqual([]);
}
/** Central differences of a float64 function. */
const fd = (fn: (x: number) => number, x: number, h = 1e-6) => (fn(x + h) - fn(x - h)) / (2 * h);

forEachBackend((backend) => {
  describe('autograd.grad', () => {
    it('first and second derivatives match the analytic ones and finite differences; .grad stays untouched', async () => {
      const x = k.tensor(X, { backend, requiresGrad: true });
      const [g] = grad(f(x).sum(), x, { createGraph: true });
      close(await read(g), X.map(f64.df));
      close(await read(g), X.map((v) => fd(f64.f, v)), 1e-4);
      expect(g!.requiresGrad).toBe(true); // createGraph: the gradient has history
      const [h] = grad(g!.sum(), [x]);
      close(await read(h), X.map(f64.d2f));
      close(await read(h), X.map((v) => fd(f64.df, v)), 1e-4);
      expect(h!.requiresGrad).toBe(false);
      expect(x.grad).toBeNull();
    });

    it('intermediate inputs, several outputs with gradOutputs, and an input that is an output', async () => {
      const x = k.tensor(X, { backend, requiresGrad: true });
      const y = x.mul(2);
      const z = y.mul(y);
      const w = k.tensor([1, 2, 3, 4], { backend });
      const [gy, gx] = grad([z, y.sum()], [y, x], { gradOutputs: [w, null] });
      close(await read(gy), X.map((v, i) => 2 * 2 * v * (i + 1) + 1)); // d/dy (w·y² + Σy) = 2wy + 1
      close(await read(gx), X.map((v, i) => 2 * (2 * 2 * v * (i + 1) + 1)));
      const [self] = grad(y, y, { gradOutputs: w });
      close(await read(self), [1, 2, 3, 4]);
    });
  });

  describe('registerHook', () => {
    it('a leaf hook rewrites the gradient before it accumulates; remove() stops it; hooks run in grad() too', async () => {
      const x = k.tensor(X, { backend, requiresGrad: true });
      const seen: number[][] = [];
      const h = x.registerHook((g) => g.mul(3));
      const h2 = x.registerHook((g) => { seen.push([g.shape.length]); });
      f(x).sum().backward();
      close(await read(x.grad), X.map((v) => 3 * f64.df(v)));
      const [g] = grad(f(x).sum(), x);
      close(await read(g), X.map((v) => 3 * f64.df(v)));
      h.remove();
      h2.remove();
      x.grad = null;
      f(x).sum().backward();
      close(await read(x.grad), X.map(f64.df));
      expect(seen).toEqual([[1], [1]]);
    });

    it('a hook on an intermediate changes what flows to the leaves', async () => {
      const x = k.tensor(X, { backend, requiresGrad: true });
      const y = x.mul(x);
      y.registerHook((g) => g.mul(k.tensor([1, 0, 1, 0], { backend })));
      y.sum().backward();
      close(await read(x.grad), X.map((v, i) => (i % 2 ? 0 : 2 * v)));
    });
  });
});

describe('autograd details', () => {
  it('allowUnused, materializeGrads, retainGraph, and errors', () => {
    const x = k.tensor([1, 2], { requiresGrad: true }), u = k.tensor([3], { requiresGrad: true });
    const out = x.mul(x).sum();
    expect(() => grad(out, [x, u], { retainGraph: true })).toThrow(/grad: input 1 \[1\] was not used to compute the outputs; pass allowUnused: true/);
    const [gx, gu] = grad(out, [x, u], { allowUnused: true, retainGraph: true });
    expect([Array.from(gx!.data()), gu]).toEqual([[2, 4], null]);
    const [, zero] = grad(out, [x, u], { allowUnused: true, materializeGrads: true });
    expect(Array.from(zero!.data())).toEqual([0]);
    expect(() => grad(out, x)).toThrow(/graph was already freed/);
    expect(() => grad(x.mul(2), x)).toThrow(/only for single-element outputs/);
    expect(() => grad(k.ones([1]), x)).toThrow(/grad: output 0 \[1\] does not require grad/);
    expect(() => grad(x.sum(), k.ones([2]))).toThrow(/grad: input 0 \[2\] does not require grad/);
    expect(() => grad(x.sum(), x, { gradOutputs: [k.ones([2])] })).toThrow(/gradient 0 \[2\] does not match output \[\]/);
    expect(() => grad(x.sum(), 3 as never)).toThrow(k.AutogradError);
    expect(() => k.ones([1]).registerHook(() => {})).toThrow(/registerHook: cannot register a hook on a tensor \[1\] that does not require grad/);
    const y = k.tensor([1], { requiresGrad: true });
    y.registerHook(() => k.ones([2]));
    expect(() => y.mul(2).sum().backward()).toThrow(/a gradient hook must return nothing or a tensor of shape \[1\]/);
  });

  it('what hooks see and what grad() returns stay readable after backward frees its intermediates', () => {
    const x = k.tensor([1, 2, 3], { requiresGrad: true });
    let seen: Tensor | null = null;
    let leaf: Tensor | null = null;
    const y = x.mul(x);
    y.registerHook((g) => { seen = g; });
    x.registerHook((g) => { leaf = g; return g.mul(1); });
    y.mul(2).exp().sum().backward();
    const e = [1, 4, 9].map((v) => 2 * Math.exp(2 * v));
    expect(Array.from(seen!.data()).map((v, i) => v / e[i])).toEqual([1, 1, 1].map(() => expect.closeTo(1, 5)));
    expect(Array.from(leaf!.data()).map((v, i) => v / (e[i] * 2 * (i + 1)))).toEqual([1, 1, 1].map(() => expect.closeTo(1, 5)));
    const [g] = grad(x.exp().mul(x).sum(), x);
    expect(Array.from(g!.data()).map((v, i) => v / (Math.exp(i + 1) * (i + 2)))).toEqual([1, 1, 1].map(() => expect.closeTo(1, 5)));
  });

  it('autograd.backward: several roots in one sweep (a shared graph freed once), inputs restricts the leaves', () => {
    const x = k.tensor([1, 2], { requiresGrad: true }), b = k.tensor([5], { requiresGrad: true });
    const shared = x.mul(x).add(b);
    backward([shared.sum(), shared.mul(3).sum()]);
    expect(Array.from(x.grad!.data())).toEqual([8, 16]); // (1 + 3)·2x
    expect(Array.from(b.grad!.data())).toEqual([8]);
    x.grad = null; b.grad = null;
    backward(x.mul(b).sum(), { inputs: [x] });
    expect(Array.from(x.grad!.data())).toEqual([5, 5]);
    expect(b.grad).toBeNull();
    backward(x.mul(2), { gradTensors: k.tensor([1, 10]) });
    expect(Array.from(x.grad!.data())).toEqual([7, 25]);
  });

  it('enableGrad records inside noGrad; inferenceMode does not', () => {
    const x = k.tensor([2], { requiresGrad: true });
    const y = k.noGrad(() => k.enableGrad(() => x.mul(x)));
    expect(y.requiresGrad).toBe(true);
    let flag = false;
    const z = k.inferenceMode(() => { flag = k.isInferenceModeEnabled(); return x.mul(x); });
    expect([z.requiresGrad, flag, k.isInferenceModeEnabled()]).toEqual([false, true, false]);
    expect(k.inferenceMode(false, () => x.mul(x)).requiresGrad).toBe(true);
    expect(k.isGradEnabled()).toBe(true);
  });

  it('compiled: a gradient penalty built with grad(createGraph) and a hook match eager, one trace', () => {
    const make = () => {
      k.manualSeed(4);
      const W = k.randn([3, 2], { requiresGrad: true });
      const opt = new k.optim.SGD([W], { lr: 0.05 });
      const step = (x: Tensor) => {
        opt.zeroGrad();
        const xi = x.detach().requiresGrad_(true);
        const out = xi.matmul(W).tanh().sum();
        const [gx] = grad(out, xi, { createGraph: true });
        const loss = out.add(gx!.mul(gx!).sum());
        const hook = W.registerHook((g) => g.clamp(-0.5, 0.5)); // removed after use, so every call does the same
        loss.backward();
        hook.remove();
        opt.step();
        return loss.detach();
      };
      return { W, step };
    };
    const e = make(), c = make();
    const cstep = k.compile(c.step);
    const x = k.randn([4, 3]);
    for (let i = 0; i < 3; i++) {
      const le = e.step(x).item() as number, lc = cstep(x).item() as number;
      expect(Math.abs(lc - le)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(le)));
    }
    close(Array.from(c.W.data()), Array.from(e.W.data()), 1e-5);
    expect(cstep.cacheInfo().traces).toBe(1);
  });
});
