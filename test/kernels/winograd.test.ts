// 3×3 stride-1 convolutions as implicit-GEMM matmul kernels (a split B reading the input's windows),
// the shapes the wasm backend computes by Winograd F(2×2, 3×3) (backends/wasm/winograd.ts): odd sizes,
// batches, groups, padding on one side or none, several tile blocks, output-channel tails, fused
// epilogues, large padding, and non-finite inputs and weights (which must give exactly what the direct
// sum gives).
// Every backend against the cpu reference; on wasm the plan is asserted, so the cases do exercise it.
// The same cases again on a wasm backend with the winogradF4 option (F(4×4, 3×3) where it plans it),
// and both variants' errors against a float64 sum.
import { describe, expect, it } from 'vitest';
import type { MatmulKernel } from '../../src/core/kernel.js';
import { createWasmBackend, type WasmBackend } from '../../backends/wasm/index.js';
import { winogradPlan } from '../../backends/wasm/winograd.js';
import * as kiln from '../../src/index.js';
import { check, convKernel, forEachKernelBackend, random, runSync, startBackends, type Conv, type Tol } from './helpers.js';

const BACKENDS = await startBackends('kernels/winograd.test.ts');
const TOL: Tol = { rtol: 1e-4, atol: 1e-4 };
/**
 * F(4×4)'s tolerance against the direct float32 sum: its rounding errors grow with the outputs' scale
 * (√(9·Cin/groups)/3 for inputs and weights in [-1, 1)), measured at up to 3.0e-5 of it.
 */
const tolF4 = (c: Conv): Tol => ({ rtol: 1e-4, atol: 1e-4 * Math.sqrt((9 * c.cin) / (c.groups ?? 1)) / 3 });

/** Inputs in [-1, 1): weights, input, and the epilogue's operand. */
function inputsOf(c: Conv, seed: number): Float32Array[] {
  const [ph, pw] = c.pad ?? [1, 1];
  const outs = c.n * c.cout * (c.h + 2 * ph - 2) * (c.w + 2 * pw - 2);
  const extra = c.epilogue === 'bias-relu' ? [random('float32', c.cout, seed + 2, -1, 1)] : c.epilogue === 'residual' ? [random('float32', outs, seed + 2, -1, 1)]
    : c.epilogue === 'batch-norm' ? [random('float32', c.cout, seed + 2, -1, 1), random('float32', c.cout, seed + 3, 0.5, 1.5)] : [];
  return [random('float32', c.cout * (c.cin / (c.groups ?? 1)) * 9, seed, -1, 1), random('float32', c.n * c.cin * c.h * c.w, seed + 1, -1, 1), ...extra] as Float32Array[];
}

const CASES: [string, Conv][] = [
  ['the smallest planned: 16 -> 16 channels, 8×8', { n: 1, cin: 16, cout: 16, h: 8, w: 8 }],
  ['odd sizes, batch 2, a partial last tile row and column', { n: 2, cin: 20, cout: 24, h: 13, w: 11 }],
  ['no padding (no bounds), 19 output channels (a 3-row tile tail)', { n: 1, cin: 17, cout: 19, h: 9, w: 30, pad: [0, 0] }],
  ['padding 2 (rows and columns wholly outside the data)', { n: 3, cin: 32, cout: 16, h: 8, w: 8, pad: [2, 2] }],
  ['padding (1, 0)', { n: 1, cin: 33, cout: 18, h: 7, w: 64, pad: [1, 0] }],
  ['2 groups: weights differ per batch item', { n: 2, cin: 32, cout: 32, h: 10, w: 10, groups: 2 }],
  ['several tile blocks (64 -> 64 channels, 28×28)', { n: 1, cin: 64, cout: 64, h: 28, w: 28 }],
  ['bias and relu in the epilogue', { n: 2, cin: 16, cout: 20, h: 12, w: 9, epilogue: 'bias-relu' }],
  ['a residual in the epilogue', { n: 1, cin: 24, cout: 16, h: 17, w: 16, epilogue: 'residual' }],
  ['eval batch norm and relu in the epilogue (edge tiles too)', { n: 2, cin: 16, cout: 21, h: 13, w: 11, epilogue: 'batch-norm' }],
  ['column padding 9 (vectors reading 36 bytes past the input)', { n: 1, cin: 16, cout: 16, h: 8, w: 8, pad: [1, 9] }],
];

forEachKernelBackend(BACKENDS, (be, backend) => {
  // The suite's wasm backend follows KILN_WASM_WINOGRAD_F4 (F(2×2) when unset, as in CI).
  const f4 = backend === 'wasm' && (be as WasmBackend).winogradF4;
  describe('3×3 stride-1 convolution kernels (Winograd on wasm)', () => {
    CASES.forEach(([label, c], i) => {
      it(label, async () => {
        const k = convKernel(c);
        if (backend === 'wasm') expect(winogradPlan(k, f4), 'the wasm backend plans Winograd for this kernel').not.toBeNull();
        await check(be, k, inputsOf(c, 10 * i + 1), { tol: f4 ? tolF4(c) : TOL, label });
      });
    });

    it('an infinity or NaN in the input or the weights gives exactly what the direct sum gives', async () => {
      // The weight's case without padding: there the direct sums differ by backend (0·Inf read or skipped).
      for (const [what, at, v, pad] of [['input +Inf', 1, Infinity, 1], ['input -Inf', 1, -Infinity, 1], ['input NaN', 1, NaN, 1], ['weight +Inf', 0, Infinity, 0]] as const) {
        const c: Conv = { n: 2, cin: 16, cout: 16, h: 10, w: 10, pad: [pad, pad] };
        const k = convKernel(c);
        const ins = inputsOf(c, 7);
        ins[at][at === 1 ? 1 * 100 + 3 * 10 + 4 : 5] = v; // input: batch 0, channel 1, row 3, column 4
        await check(be, k, ins, { tol: f4 ? tolF4(c) : TOL, label: what });
      }
    });

    it('an output written in place over the residual it adds, with an infinity late in the input', async () => {
      // Outputs already written when the infinity is found must not be read back as the residual.
      const c: Conv = { n: 1, cin: 64, cout: 64, h: 28, w: 28, epilogue: 'residual' };
      const ins = inputsOf(c, 3);
      ins[1][63 * 784 + 27 * 28 + 20] = Infinity; // the last channel, the last row
      await check(be, convKernel(c), ins, { tol: f4 ? tolF4(c) : TOL, outputs: [{ alias: 2 }], label: 'in place' });
    });
  });
});

const F4 = await createWasmBackend({ winogradF4: true });

describe('Winograd F(4×4, 3×3) on a wasm backend with the winogradF4 option', () => {
  CASES.forEach(([label, c], i) => {
    it(label, async () => {
      const k = convKernel(c);
      expect(winogradPlan(k, true), 'the backend plans Winograd for this kernel').not.toBeNull();
      await check(F4, k, inputsOf(c, 10 * i + 1), { tol: tolF4(c), label });
    });
  });

  it('an infinity or NaN in the input or the weights gives exactly what the direct sum gives', async () => {
    for (const [what, at, v, pad] of [['input +Inf', 1, Infinity, 1], ['input -Inf', 1, -Infinity, 1], ['input NaN', 1, NaN, 1], ['weight +Inf', 0, Infinity, 0]] as const) {
      const c: Conv = { n: 2, cin: 16, cout: 16, h: 20, w: 16, pad: [pad, pad] };
      const k = convKernel(c);
      expect(winogradPlan(k, true)?.r).toBe(4);
      const ins = inputsOf(c, 7);
      ins[at][at === 1 ? 1 * 320 + 9 * 16 + 13 : 5] = v; // input: batch 0, channel 1, row 9, column 13
      await check(F4, k, ins, { tol: tolF4(c), label: what });
    }
  });
});

describe('Winograd errors against a float64 sum (inputs and weights in [-1, 1), 64 -> 64 channels, 28×28)', () => {
  it('F(2×2) is within 1e-5 of the outputs\' RMS; F(4×4) within 1e-4, its RMS error within 1e-5', async () => {
    const c: Conv = { n: 1, cin: 64, cout: 64, h: 28, w: 28 };
    const k = convKernel(c);
    expect([winogradPlan(k)?.r, winogradPlan(k, true)?.r]).toEqual([2, 4]);
    const [wt, x] = inputsOf(c, 5);
    const ref = new Float64Array(c.cout * c.h * c.w);
    for (let o = 0; o < c.cout; o++) for (let y = 0; y < c.h; y++) for (let xx = 0; xx < c.w; xx++) {
      let s = 0;
      for (let ci = 0; ci < c.cin; ci++) for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) {
        const yy = y + dy - 1, xi = xx + dx - 1;
        if (yy >= 0 && yy < c.h && xi >= 0 && xi < c.w) s += x[(ci * c.h + yy) * c.w + xi] * wt[((o * c.cin + ci) * 3 + dy) * 3 + dx];
      }
      ref[(o * c.h + y) * c.w + xx] = s;
    }
    const rms = Math.sqrt(ref.reduce((s, v) => s + v * v, 0) / ref.length);
    const errors = (got: ArrayLike<number>) => {
      let max = 0, sq = 0;
      for (let j = 0; j < ref.length; j++) { const d = Math.abs(got[j] - ref[j]); max = Math.max(max, d); sq += d * d; }
      return { max: max / rms, rms: Math.sqrt(sq / ref.length) / rms };
    };
    const f2 = errors(runSync(await createWasmBackend({ winogradF4: false }), k, [wt, x])[0]);
    const f4 = errors(runSync(F4, k, [wt, x])[0]);
    expect(f2.max).toBeLessThan(1e-5);
    expect(f4.max).toBeLessThan(1e-4);
    expect(f4.rms).toBeLessThan(1e-5);
    // F(4×4) is the less accurate of the two (else the option would not be needed).
    expect(f4.max).toBeGreaterThan(f2.max);
  });
});

describe('which kernels the wasm backend computes by Winograd', () => {
  it('F(4×4) with the option where it does fewer multiply-adds over its padded tiles, else F(2×2)', () => {
    const plan = (h: number, w: number, f4: boolean) => winogradPlan(convKernel({ n: 1, cin: 16, cout: 16, h, w }), f4)?.r;
    expect([plan(56, 56, false), plan(56, 56, true)]).toEqual([2, 4]); // 36·14·16 against 16·28·28 products
    expect(plan(28, 28, true)).toBe(4);
    expect(plan(8, 8, true)).toBe(2); // 36·2·4 against 16·4·4
  });

  it('3×3 stride-1 windows of at least 16 channels each way and 64 outputs; not others', () => {
    expect(winogradPlan(convKernel({ n: 1, cin: 16, cout: 16, h: 8, w: 8 }))).not.toBeNull();
    expect(winogradPlan(convKernel({ n: 1, cin: 8, cout: 16, h: 8, w: 8 }))).toBeNull(); // too few input channels
    expect(winogradPlan(convKernel({ n: 1, cin: 16, cout: 8, h: 8, w: 8 }))).toBeNull(); // too few output channels
    expect(winogradPlan(convKernel({ n: 1, cin: 16, cout: 16, h: 5, w: 5, pad: [0, 0] }))).toBeNull(); // 9 outputs
    // Its vectors would read 56 bytes past the input's last element, more than the heap keeps readable.
    expect(winogradPlan(convKernel({ n: 1, cin: 16, cout: 16, h: 8, w: 8, pad: [1, 12] }))).toBeNull();
    // Stride 2: the window's column moves by 2 elements per output.
    const k = convKernel({ n: 1, cin: 16, cout: 16, h: 17, w: 17, pad: [0, 0] });
    const v = k.b.view;
    const strided: MatmulKernel = { ...k, n: 49, b: { ...k.b, view: { ...v, shape: [...v.shape.slice(0, 5), 7, 7], strides: [...v.strides.slice(0, 5), 34, 2] } } };
    expect(winogradPlan(strided)).toBeNull();
  });
});

describe('conv2d through the API on wasm (a Winograd kernel eagerly and compiled)', () => {
  it('matches a float64 direct convolution, with bias and relu; compiled equals eager', async () => {
    await kiln.ready();
    kiln.manualSeed(5);
    const [n, ci, co, h, w] = [2, 32, 24, 15, 14];
    const x = kiln.randn([n, ci, h, w], { backend: 'wasm' }), wt = kiln.randn([co, ci, 3, 3], { backend: 'wasm' }).mul(0.1);
    const b = kiln.randn([co], { backend: 'wasm' });
    const fn = (t: kiln.Tensor) => kiln.conv2d(t, wt, b, { padding: 1 }).relu();
    const eager = await fn(x).dataAsync(), compiled = await kiln.compile(fn)(x).dataAsync();
    expect(Array.from(compiled)).toEqual(Array.from(eager));
    const [X, W, B] = [await x.dataAsync(), await wt.dataAsync(), await b.dataAsync()];
    let worst = 0;
    for (let ni = 0; ni < n; ni++) for (let o = 0; o < co; o++) for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) {
      let s = B[o];
      for (let c = 0; c < ci; c++) for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) {
        const yy = y + dy - 1, xi = xx + dx - 1;
        if (yy >= 0 && yy < h && xi >= 0 && xi < w) s += X[((ni * ci + c) * h + yy) * w + xi] * W[((o * ci + c) * 3 + dy) * 3 + dx];
      }
      worst = Math.max(worst, Math.abs(Math.max(s, 0) - eager[((ni * co + o) * h + y) * w + xx]));
    }
    // The outputs' RMS is about 1.7; F(4×4) (KILN_WASM_WINOGRAD_F4=1) errs up to 3e-5 of it.
    expect(worst).toBeLessThan((kiln.getBackend('wasm') as WasmBackend).winogradF4 ? 1e-4 : 2e-5);
  });
});
