// nn.utils: clipGradNorm_ / clipGradValue_ against float64 references on every backend, eagerly and
// inside a compiled training step; parametersToVector / vectorToParameters.
import { describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import type { BackendName, Tensor } from '../../src/index.js';
import { forEachBackend } from '../eager/backends.js';
import { mulberry32 } from '../rng.js';

const { clipGradNorm_, clipGradValue_, parametersToVector, vectorToParameters } = k.nn.utils;

const rnd = mulberry32(7);
const SHAPES = [[3, 4], [5], [2, 1, 3]];
const GRADS = SHAPES.map((s) => Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => (rnd() * 2 - 1) * 3));

/** torch's clip_grad_norm_ in float64: the clipped gradients and the total norm. */
function clipRef(grads: number[][], maxNorm: number, p: number): { grads: number[][]; total: number } {
  const flat = grads.flat();
  const total = p === Infinity ? Math.max(...flat.map(Math.abs)) : flat.reduce((s, g) => s + Math.abs(g) ** p, 0) ** (1 / p);
  const coef = Math.min(maxNorm / (total + 1e-6), 1);
  return { grads: grads.map((g) => g.map((x) => x * coef)), total };
}

async function read(t: Tensor): Promise<number[]> { return Array.from(await t.dataAsync()); }
function close(got: number[], want: number[], tol = 1e-5): void {
  const bad = got.map((g, i) => (Math.abs(g - want[i]) <= tol * (1 + Math.abs(want[i])) ? null : `[${i}] ${g} vs ${want[i]}`)).filter(Boolean);
  expect(bad).toEqual([]);
}

function paramsWithGrads(backend: BackendName): Tensor[] {
  return SHAPES.map((s, i) => {
    const p = k.zeros(s, { backend, requiresGrad: true });
    p.grad = k.tensor(GRADS[i], { backend, shape: s });
    return p;
  });
}

forEachBackend((backend) => {
  describe('clipGradNorm_', () => {
    it.each([
      [2, 1], [2, 100], [1, 2.5], [Infinity, 0.7], ['inf' as const, 0.7], [3, 1.5], [0.5, 10],
    ] as [number | 'inf', number][])('normType %s, maxNorm %s: norm and clipped gradients as float64', async (normType, maxNorm) => {
      const ps = paramsWithGrads(backend);
      const total = clipGradNorm_(ps, maxNorm, { normType });
      const want = clipRef(GRADS, maxNorm, normType === 'inf' ? Infinity : normType);
      expect(total.shape).toEqual([]);
      close(await read(total), [want.total]);
      for (let i = 0; i < ps.length; i++) close(await read(ps[i].grad!), want.grads[i]);
    });

    it('inside a compiled training step: same parameters as eager, one trace, replayed', async () => {
      const run = async (compiled: boolean) => {
        k.manualSeed(5);
        const W = k.randn([4, 3], { backend, requiresGrad: true }), b = k.randn([3], { backend, requiresGrad: true });
        const opt = new k.optim.SGD([W, b], { lr: 0.1, momentum: 0.9 });
        const x = k.randn([8, 4], { backend }).mul(5), y = k.randn([8, 3], { backend });
        const body = (xb: Tensor, yb: Tensor) => {
          opt.zeroGrad();
          const loss = k.nn.mseLoss(xb.matmul(W).add(b), yb);
          loss.backward();
          const norm = clipGradNorm_([W, b], 0.5);
          opt.step();
          return norm;
        };
        const step = compiled ? k.compile(body, { backend }) : body;
        const norms: number[] = [];
        for (let i = 0; i < 5; i++) norms.push(...(await read(step(x, y))));
        return { norms, W: await read(W), traces: compiled ? (step as k.Compiled<typeof body>).cacheInfo().traces : 0 };
      };
      const e = await run(false), c = await run(true);
      close(c.norms, e.norms);
      close(c.W, e.W);
      expect(e.norms[0]).toBeGreaterThan(0.5); // the clip was active
      expect(c.traces).toBe(1);
    });
  });

  it('clipGradValue_ clamps every gradient in place', async () => {
    const ps = paramsWithGrads(backend);
    const before = ps.map((p) => p.grad);
    clipGradValue_(ps, 1.25);
    for (let i = 0; i < ps.length; i++) {
      expect(ps[i].grad).toBe(before[i]);
      close(await read(ps[i].grad!), GRADS[i].map((g) => Math.min(Math.max(g, -1.25), 1.25)));
    }
  });

  it('parametersToVector / vectorToParameters round-trip; the vector is differentiable', async () => {
    const ps = SHAPES.map((s, i) => k.tensor(GRADS[i], { backend, shape: s, requiresGrad: true }));
    const v = parametersToVector(ps);
    expect(v.shape).toEqual([GRADS.flat().length]);
    close(await read(v), GRADS.flat());
    const w = k.arange(0, v.shape[0], 1, { backend, dtype: 'float32' });
    v.mul(w).sum().backward();
    let off = 0;
    for (const p of ps) { close(await read(p.grad!), Array.from({ length: p.size }, (_, j) => off + j)); off += p.size; }
    vectorToParameters(w, ps);
    off = 0;
    for (const p of ps) { close(await read(p), Array.from({ length: p.size }, (_, j) => off + j)); off += p.size; }
    expect(ps[0].isLeaf && ps[0].requiresGrad).toBe(true);
  });
});

describe('clip edge cases', () => {
  it('parameters without gradients are ignored; none at all gives a zero norm', () => {
    const a = k.ones([2], { requiresGrad: true }), b = k.ones([2], { requiresGrad: true });
    expect(clipGradNorm_([a, b], 1).item()).toBe(0);
    b.grad = k.tensor([3, 4]);
    expect(clipGradNorm_([a, b], 1).item()).toBeCloseTo(5, 5);
    expect(Array.from(b.grad.data())).toEqual([Math.fround(3 / (5 + 1e-6)), Math.fround(4 / (5 + 1e-6))].map((x) => expect.closeTo(x, 6)));
    expect(clipGradNorm_(b, 1).item()).toBeCloseTo(1, 5); // a single tensor is accepted
  });

  it('a non-finite norm: an error with errorIfNonfinite, else the gradients are scaled by it (as torch)', () => {
    const p = k.ones([2], { requiresGrad: true });
    p.grad = k.tensor([Infinity, 1]);
    expect(() => clipGradNorm_([p], 1, { errorIfNonfinite: true })).toThrow(/clipGradNorm_: the total norm of order 2 of the gradients is Infinity/);
    expect(Array.from(p.grad.data())).toEqual([Infinity, 1]); // untouched by the refused clip
    const n = clipGradNorm_([p], 1);
    expect(n.item()).toBe(Infinity);
    expect(Number.isNaN(p.grad.data()[0])).toBe(true);
    expect(p.grad.data()[1]).toBe(0);
  });

  it.each([
    [() => clipGradNorm_([k.ones([1])], NaN), 'clipGradNorm_: maxNorm must be a number, got NaN'],
    [() => clipGradNorm_([k.ones([1])], 1, { normType: 0 }), "clipGradNorm_: normType must be a positive number or 'inf', got 0"],
    [() => clipGradNorm_(3 as never, 1), 'clipGradNorm_: expected a tensor or an iterable of tensors'],
    [() => clipGradValue_([k.ones([1])], 'a' as never), 'clipGradValue_: clipValue must be a number'],
    [() => vectorToParameters(k.ones([3]), [k.ones([2])]), 'vectorToParameters: vec has 3 elements, the parameters 2'],
    [() => vectorToParameters(k.ones([1, 2]), [k.ones([2])]), 'vectorToParameters: vec must be 1-D, got [1,2]'],
    [() => parametersToVector([]), 'parametersToVector: expected at least one parameter'],
  ])('%#: %s', (f, msg) => {
    expect(f).toThrow(k.KilnError);
    expect(f).toThrow(msg);
  });
});
