// Implicit GEMM: a convolution's matmul reads the window view in place (a split B operand, no im2col
// copy), its bias, eval batch norm and activation run in the matmul's epilogue across the reshape of
// its result, and a 1×1 convolution is a plain matmul. Compiled equals eager on every backend that starts.
import { describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import { permuteWindowed, splitOperand, windowsOf } from '../../src/core/implicit-gemm.js';
import { forEachBackend } from '../eager/backends.js';
import { mulberry32 } from '../rng.js';

async function maxDiff(a: Tensor, b: Tensor): Promise<number> {
  expect(a.shape).toEqual(b.shape);
  const [x, y] = [await a.dataAsync(), await b.dataAsync()];
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

/** The kernels compiled code runs for `fn` at `args` (one graph expected). */
function kernelsOf(fn: (...t: Tensor[]) => Tensor, backend: k.BackendName, ...args: Tensor[]): string[] {
  const e = k.explain(fn, { backend, args });
  expect(e.graphs).toHaveLength(1);
  return [...e.graphs[0].kernels];
}

/** Output elements of each kernel's first line (elementwise[...] / matmul batch m n / reduce outer). */
const elementwiseSizes = (kernels: readonly string[]) => kernels.filter((s) => s.startsWith('elementwise')).map((s) => {
  const dims = /^elementwise\[([\d,]*)\]/.exec(s)![1];
  return dims ? dims.split(',').map(Number).reduce((a, b) => a * b, 1) : 1;
});

forEachBackend((backend) => {
  k.manualSeed(11);
  const x = k.randn([2, 5, 9, 8], { backend });
  const w = k.randn([6, 5, 3, 3], { backend }).mul(0.3), b = k.randn([6], { backend });
  const mean = k.randn([6], { backend }).mul(0.1), variance = k.rand([6], { backend }).add(0.5);
  const gamma = k.rand([6], { backend }).add(0.5), beta = k.randn([6], { backend });
  const tol = backend === 'webgpu' ? 1e-4 : 1e-5;
  // SwiftShader builds each shader slowly: the first few cases there.
  const some = <T>(cases: readonly T[], n: number): readonly T[] => (backend === 'webgpu' ? cases.slice(0, n) : cases);

  it('relu(batchNorm_eval(conv2d(x, w, b))) is one matmul kernel reading the window view in place, equal to eager', async () => {
    const fn = (t: Tensor) => k.batchNorm(k.conv2d(t, w, b), mean, variance, { weight: gamma, bias: beta }).relu();
    const kernels = kernelsOf(fn, backend, x);
    expect(kernels).toHaveLength(1);
    expect(kernels[0]).toMatch(/^matmul /);
    expect(kernels[0]).toMatch(/ split\(3,2\)/); // B's row decodes into (c, kh, kw), its column into (oh, ow)
    expect(await maxDiff(k.compile(fn, { backend })(x), fn(x))).toBeLessThanOrEqual(tol);
  });

  it('a padded, strided, dilated, grouped conv never materialises its im2col matrix', async () => {
    const wd = k.randn([5, 1, 3, 3], { backend }).mul(0.3), wgr = k.randn([6, 2, 3, 3], { backend }).mul(0.3);
    const w1d = w.reshape([6, 5, 9]).slice([null, null, [0, 3]]);
    // [what, fn, elements of its im2col matrix (N · C/groups·taps · output positions · groups)]
    const cases: [string, (t: Tensor) => Tensor, number][] = [
      ['padding 1', (t) => k.conv2d(t, w, b, { padding: 1 }).relu(), 2 * 45 * 72],
      ['stride 2, dilation (2, 1)', (t) => k.conv2d(t, w, b, { stride: 2, dilation: [2, 1] }), 2 * 45 * 9],
      ['stride (2, 3), padding (1, 0)', (t) => k.conv2d(t, w, null, { stride: [2, 3], padding: [1, 0] }).sigmoid(), 2 * 45 * 10],
      ['conv1d, padding 2', (t) => k.conv1d(t.reshape([2, 5, 72]), w1d, b, { padding: 2 }), 2 * 15 * 74],
      ['2 groups', (t) => k.conv2d(t.slice([null, [0, 4]]), wgr, b, { groups: 2 }), 2 * 36 * 42],
      ['depthwise', (t) => k.conv2d(t, wd, null, { groups: 5, padding: 1 }), 2 * 45 * 72],
    ];
    for (const [what, fn, im2col] of some(cases, 2)) {
      const kernels = kernelsOf(fn, backend, x);
      for (const size of elementwiseSizes(kernels)) expect(size, `${what}: a copy of ${size} elements`).toBeLessThan(im2col);
      expect(await maxDiff(k.compile(fn, { backend })(x), fn(x)), what).toBeLessThanOrEqual(tol);
    }
  });

  it('random convolutions (padding, stride, dilation, groups, odd widths) compiled equal eager, padding read through bounds', async () => {
    const rand = mulberry32(5);
    const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
    for (let trial = 0; trial < (backend === 'webgpu' ? 3 : 12); trial++) {
      const groups = int(1, 2), cg = int(1, 3), og = int(cg === 1 ? 2 : 1, 3), kh = int(1, 3), kw = int(1, 4); // not depthwise
      const stride: [number, number] = [int(1, 2), int(1, 3)], dilation: [number, number] = [int(1, 2), int(1, 2)];
      const padding: [number, number] | 'same' = trial % 4 === 3 ? 'same' : [int(0, 2), int(0, 2)];
      if (padding === 'same') { stride[0] = 1; stride[1] = 1; }
      const h = int(kh * dilation[0], 12), wd = int(kw * dilation[1], 21);
      const xi = k.randn([int(1, 2), groups * cg, h, wd], { backend });
      const wi = k.randn([groups * og, cg, kh, kw], { backend });
      const fn = (t: Tensor) => k.conv2d(t, wi, null, { stride, dilation, padding, groups }).add(0.5);
      const what = `trial ${trial}: x ${xi.shape} w ${wi.shape} stride ${stride} dilation ${dilation} padding ${padding} groups ${groups}`;
      const kernels = kernelsOf(fn, backend, xi);
      expect(kernels.filter((s) => s.startsWith('matmul')), what).toHaveLength(1);
      expect(await maxDiff(k.compile(fn, { backend })(xi), fn(xi)), what).toBeLessThanOrEqual(tol);
    }
  });

  it('a 1×1 convolution is a plain matmul (no unfold), strided and grouped too', async () => {
    for (const [groups, stride] of some([[1, 1], [5, 2], [1, [2, 3]]] as const, 2)) {
      const w1 = k.randn([10, 5 / groups, 1, 1], { backend });
      const fn = (t: Tensor) => k.conv2d(t, w1, null, { stride, groups }).add(1);
      const e = k.explain(fn, { backend, args: [x] });
      expect(e.graphs[0].optimized).not.toMatch(/unfold/);
      expect(e.graphs[0].kernels).toHaveLength(1);
      const ref = k.unfold(x, 1, { stride }).reshape([2, groups, 5 / groups, -1]);
      const want = w1.reshape([groups, 10 / groups, 5 / groups]).matmul(ref).reshape(fn(x).shape).add(1);
      expect(await maxDiff(fn(x), want)).toBeLessThanOrEqual(tol);
      expect(await maxDiff(k.compile(fn, { backend })(x), want)).toBeLessThanOrEqual(tol);
    }
  });

  it('the epilogue follows a reshape of the matmul result, and stops where a view would not follow', async () => {
    const A = k.randn([6, 12], { backend }), B = k.randn([12, 20], { backend });
    const c = k.randn([6, 1, 1], { backend }), r = k.randn([4, 5], { backend });
    const cases: [string, (a: Tensor, bb: Tensor) => Tensor, number][] = [
      ['split reshape + per-row bias', (a, bb) => a.matmul(bb).reshape([6, 4, 5]).add(c).relu(), 1],
      ['broadcast over the split dims', (a, bb) => a.matmul(bb).reshape([6, 4, 5]).mul(r), 1],
      ['reshape back and forth', (a, bb) => a.matmul(bb).reshape([6, 4, 5]).tanh().reshape([24, 5]).add(1), 1],
      ['a permute after the reshape is copied', (a, bb) => a.matmul(bb).reshape([6, 4, 5]).add(c).permute([2, 0, 1]).exp(), 2],
      ['the reshaped result broadcast into a bigger shape', (a, bb) => a.matmul(bb).reshape([6, 4, 5]).add(k.ones([3, 6, 4, 5], { backend })), 2],
      ['a reduction of the reshaped result', (a, bb) => a.matmul(bb).reshape([6, 4, 5]).add(c).sum(-1), 2],
    ];
    for (const [what, fn, n] of some(cases, 3)) {
      expect(kernelsOf(fn, backend, A, B), what).toHaveLength(n);
      expect(await maxDiff(k.compile(fn, { backend })(A, B), fn(A, B)), what).toBeLessThanOrEqual(tol);
    }
  });

  it('eager conv runs the same one kernel (bias in its epilogue) when nothing is differentiated', async () => {
    const be = k.getBackend(backend);
    const run = be.run.bind(be);
    let launches = 0;
    be.run = (...args: Parameters<typeof be.run>) => { launches++; return run(...args); };
    let y: Tensor;
    try { y = k.conv2d(x, w, b, { padding: 1, stride: [1, 2] }); } finally { be.run = run; }
    expect(launches).toBe(1);
    // The composite (what autograd records): padded copy, window view, im2col, matmul, bias.
    const composite = k.conv2d(x.detach().requiresGrad_(), w, b, { padding: 1, stride: [1, 2] }).detach();
    expect(await maxDiff(y, composite)).toBeLessThanOrEqual(tol);
  });

  it('a conv trained compiled gets the gradients eager gets', async () => {
    const run = (compiled: boolean) => {
      const xs = x.detach().requiresGrad_(), ws = w.detach().requiresGrad_(), bs = b.detach().requiresGrad_();
      const step = (t: Tensor, ww: Tensor, bb: Tensor) => {
        const loss = k.batchNorm(k.conv2d(t, ww, bb, { padding: 1, stride: 2 }), mean, variance).relu().pow(2).sum();
        loss.backward();
        return loss;
      };
      (compiled ? k.compile(step, { backend }) : step)(xs, ws, bs);
      return [xs.grad!, ws.grad!, bs.grad!];
    };
    const [e, c] = [run(false), run(true)];
    for (let i = 0; i < e.length; i++) {
      const scale = 1 + (await e[i].abs().max().dataAsync())[0];
      expect((await maxDiff(c[i], e[i])) / scale, `gradient ${i}`).toBeLessThanOrEqual(10 * tol);
    }
  });
});

describe('windows as a split operand', () => {
  const view = (shape: number[], strides: number[], offset = 0) => ({ shape, strides, offset });
  const split = (v: ReturnType<typeof view>, shape: number[], batch: number[]) => splitOperand({ view: v, bounds: [], shape }, batch);

  it('groups the view dims into k and n runs, cutting a dim a logical boundary falls inside', () => {
    // A window view [N=2, C=4, OH=3, OW=3, kH=2, kW=2] permuted to [N, C, kH, kW, OH, OW], read as [2, 1, 16, 9].
    expect(split(view([2, 4, 2, 2, 3, 3], [64, 16, 4, 1, 4, 1], 5), [2, 1, 16, 9], [2, 1])).toEqual({
      view: { shape: [2, 1, 4, 2, 2, 3, 3], strides: [64, 0, 16, 4, 1, 4, 1], offset: 5 }, split: [3, 2],
    });
    // Channels 6 in 2 groups of 3: the channel dim is cut into (2, 3).
    expect(split(view([1, 6, 2, 5], [60, 10, 4, 1]), [1, 2, 3, 10], [1, 2])).toEqual({
      view: { shape: [1, 2, 3, 2, 5], strides: [0, 30, 10, 4, 1], offset: 0 }, split: [1, 2],
    });
    // Missing batch dims broadcast with stride 0.
    expect(split(view([4, 2, 3], [1, 12, 4]), [4, 6], [7])!.view.strides).toEqual([0, 1, 12, 4]);
  });

  it('padding becomes bounds that follow the window dims through a permute and the split', () => {
    // x [1, 2, 4, 4] padded by 1 on H and W: a masked view over [1, 2, 6, 6].
    const padded = { shape: [1, 2, 6, 6], strides: [32, 16, 4, 1], offset: -5, mask: [[0, 1], [0, 2], [1, 5], [1, 5]] as [number, number][] };
    const w = windowsOf(padded, { dims: [2, 3], sizes: [3, 3], steps: [1, 1], dilations: [1, 1] })!;
    expect(w.view).toEqual({ shape: [1, 2, 4, 4, 3, 3], strides: [32, 16, 4, 1, 4, 1], offset: -5 });
    expect(w.bounds).toEqual([{ terms: [[2, 1], [4, 1]], lo: 1, hi: 5 }, { terms: [[3, 1], [5, 1]], lo: 1, hi: 5 }]);
    const p = permuteWindowed(w, [0, 1, 4, 5, 2, 3])!;
    const b = splitOperand({ ...p, shape: [1, 18, 16] }, [1])!;
    expect(b.split).toEqual([3, 2]); // (c, kh, kw) and (oh, ow)
    expect(b.view.shape).toEqual([1, 2, 3, 3, 4, 4]);
    expect(b.bounds).toEqual([{ terms: [[4, 1], [2, 1]], lo: 1, hi: 5 }, { terms: [[5, 1], [3, 1]], lo: 1, hi: 5 }]);
  });

  it('refuses what no view can say', () => {
    expect(split(view([3, 4], [1, 3]), [2, 6], [])).toBeNull(); // 3 then 4: a boundary at 2 cuts 3 unevenly
    expect(split(view([2, 3, 4], [1, 8, 2]), [6, 1, 4], [6])).toBeNull(); // batch (2, 3) strides 1, 8 do not merge
    expect(split(view([0, 4], [4, 1]), [0, 4], [])).toBeNull();
    // A bounded dim cut by a regrouping, or a bound on a batch dim.
    const bounded = { view: view([4, 6], [6, 1]), bounds: [{ terms: [[1, 1]] as [number, number][], lo: 1, hi: 5 }], shape: [4, 6] };
    expect(splitOperand({ ...bounded, shape: [8, 3] }, [])).toBeNull();
    expect(splitOperand({ ...bounded, view: view([2, 4, 6], [24, 6, 1]), bounds: [{ terms: [[0, 1]], lo: 0, hi: 1 }], shape: [2, 4, 6] }, [2])).toBeNull();
  });
});
