// The kernel-level test helpers, one set for every backend: build kernels directly in kernel IR,
// start each backend once per test file (one that cannot start is reported skipped by name), run a
// kernel on a backend and on the cpu reference with the same inputs, and compare (NaN/Inf aware).
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend, Buffer } from '../../src/core/backend.js';
import type { DType, TypedArray } from '../../src/core/dtype.js';
import { typedArrayFor } from '../../src/core/dtype.js';
import type { ElementwiseKernel, Expr, Kernel, KernelOutput, MatmulKernel, ReduceKernel, ReduceOp, View } from '../../src/core/kernel.js';
import { contiguousView, outputShape } from '../../src/core/kernel.js';
import { contiguousStrides, sizeOf } from '../../src/core/shape.js';
import { SCALAR_OPS, type ScalarOp, type ScalarOpDef } from '../../src/ops/scalar.js';
import { createCpuBackend } from '../../backends/cpu/index.js';
import { createWasmBackend, type WasmBackend } from '../../backends/wasm/index.js';
import { createWebGpuBackend, type WebGpuBackend, type WebGpuOptions } from '../../backends/webgpu/index.js';
import { mulberry32 } from '../rng.js';

export { contiguousView };

// ---- backends -----------------------------------------------------------------------------------

/** The reference every backend is compared against. */
export const cpu: Backend = createCpuBackend();

let wasmPromise: Promise<WasmBackend> | null = null;
/** One wasm backend per test file (binaryen loads once). */
export function getWasm(): Promise<WasmBackend> {
  wasmPromise ??= createWasmBackend().then((w) => {
    // fma.test.ts runs the wasm kernel tests again with KILN_WASM_FMA=0: make sure the setting took.
    if (process.env.KILN_WASM_FMA === '0' && w.fma) throw new Error('KILN_WASM_FMA=0 but the wasm backend uses FMA');
    return w;
  });
  return wasmPromise;
}

/** The webgpu backend under test, or the reason it could not start. */
export interface GpuStart {
  readonly gpu: WebGpuBackend | null;
  readonly reason: string;
}

/**
 * Starts webgpu, warning by name when it cannot. With KILN_REQUIRE_WEBGPU=1 a missing adapter is a
 * failure rather than a skip (for CI machines that are set up for it).
 */
export async function startWebGpu(file: string, opts: WebGpuOptions = {}): Promise<GpuStart> {
  try {
    const gpu = await createWebGpuBackend(opts);
    return { gpu, reason: '' };
  } catch (e) {
    const reason = `${(e as Error).name}: ${(e as Error).message}`;
    if (process.env.KILN_REQUIRE_WEBGPU === '1') throw e;
    console.warn(`[${file}] SKIPPING webgpu tests: no WebGPU adapter could start: ${reason}`);
    return { gpu: null, reason };
  }
}

export type KernelBackendName = 'cpu' | 'wasm' | 'webgpu';
export const KERNEL_BACKENDS: readonly KernelBackendName[] = ['cpu', 'wasm', 'webgpu'];

/** A backend the kernel suites run on, or why it does not run. */
export interface BackendUnderTest {
  readonly name: KernelBackendName;
  readonly backend: Backend | null;
  readonly reason: string;
}

/**
 * Starts every backend once for a test file (webgpu: one device for the whole file, destroyed after
 * it). KILN_KERNEL_BACKENDS=wasm,cpu limits the set (fma.test.ts reruns the wasm kernels alone); a
 * backend left out that way is reported skipped like one that cannot start.
 */
export async function startBackends(file: string): Promise<readonly BackendUnderTest[]> {
  const only = process.env.KILN_KERNEL_BACKENDS?.split(',').map((s) => s.trim());
  return Promise.all(KERNEL_BACKENDS.map(async (name): Promise<BackendUnderTest> => {
    if (only && !only.includes(name)) return { name, backend: null, reason: `not selected (KILN_KERNEL_BACKENDS=${only.join(',')})` };
    switch (name) {
      case 'cpu': return { name, backend: cpu, reason: '' };
      case 'wasm': return { name, backend: await getWasm(), reason: '' };
      case 'webgpu': {
        const { gpu, reason } = await startWebGpu(file);
        if (gpu) afterAll(() => gpu.destroy());
        return { name, backend: gpu, reason };
      }
    }
  }));
}

/**
 * Runs `body` inside a describe per backend that started; one that did not becomes a skipped
 * describe naming the backend and the reason. On cpu, the reference itself, comparisons with the
 * reference only check that the kernel runs; each test's own expectations still apply.
 */
export function forEachKernelBackend(backends: readonly BackendUnderTest[], body: (be: Backend, name: KernelBackendName) => void): void {
  for (const b of backends) {
    if (!b.backend) {
      describe.skip(`backend ${b.name} skipped: ${b.reason}`, () => { it('runs the suite', () => {}); });
      continue;
    }
    const be = b.backend;
    describe(`backend ${b.name}`, () => body(be, b.name));
  }
}

/**
 * Kernels whose meaning the IR leaves open on some backend, which kiln's ops never emit: test name
 * -> backend -> what that backend does instead. Such a test is reported skipped there, by name.
 */
export type UndefinedOn = Readonly<Record<string, Partial<Record<KernelBackendName, string>>>>;

/** `it`, or a named skip where `undefinedOn` says the kernel's meaning is left open on this backend. */
export function itWhereDefined(backend: KernelBackendName, undefinedOn: UndefinedOn, name: string, fn: () => Promise<void>): void {
  const why = undefinedOn[name]?.[backend];
  if (why) it.skip(`${name} (left open on ${backend}, never emitted by kiln's ops: ${why})`, fn);
  else it(name, fn);
}

// ---- expression builders ------------------------------------------------------------------------

/** A view of `shape` with optional strides/offset/mask (default contiguous). */
export function view(shape: readonly number[], strides?: readonly number[], offset = 0, mask?: readonly (readonly [number, number])[]): View {
  return { shape: [...shape], strides: [...(strides ?? contiguousStrides(shape))], offset, ...(mask ? { mask } : {}) };
}

/** A load of a view (or a contiguous shape); a gathering one checks its index against `size` (default: no bound that matters here). */
export function ld(input: number, v: View | readonly number[], dtype: DType = 'float32', gather?: { axis: number; index: Expr; size?: number; op?: string }): Expr {
  const vv = Array.isArray(v) ? contiguousView(v as number[]) : (v as View);
  return { kind: 'load', input, view: vv, dtype, ...(gather ? { gather: { size: 2 ** 31 - 1, op: 'gather', ...gather } } : {}) };
}

export const cst = (value: number, dtype: DType = 'float32'): Expr => ({ kind: 'const', value, dtype });
export const cast = (x: Expr, dtype: DType): Expr => ({ kind: 'cast', x, dtype });
export const acc = (index: number, dtype: DType = 'float32'): Expr => ({ kind: 'acc', index, dtype });

/** An op node; its dtype defaults to bool for predicates, else the value arguments' dtype. */
export function op(name: ScalarOp, args: readonly Expr[], dtype?: DType): Expr {
  const def: ScalarOpDef = SCALAR_OPS[name];
  const dt = dtype ?? (def.predicate ? 'bool' : name === 'where' ? args[1].dtype : args[0].dtype);
  return { kind: 'op', op: name, args, dtype: dt };
}

/** An elementwise kernel; a bare expression is an output of its own dtype. */
export function ew(shape: number[], nInputs: number, outs: readonly (Expr | KernelOutput)[]): ElementwiseKernel {
  return { kind: 'elementwise', shape, nInputs, outputs: outs.map((o) => ('expr' in o ? o : { expr: o, dtype: o.dtype })) };
}

/** A reduce kernel; arg reductions give int32, others their body's dtype, unless told. */
export function red(outer: number[], inner: number[], nInputs: number,
  reductions: readonly { op: ReduceOp; body: Expr; dtype?: DType }[],
  outputs: readonly { expr: Expr; scope: 'outer' | 'full'; dtype?: DType; view?: View }[]): ReduceKernel {
  return {
    kind: 'reduce', outer, inner, nInputs,
    reductions: reductions.map((r) => ({ op: r.op, body: r.body, dtype: r.dtype ?? (r.op === 'argmax' || r.op === 'argmin' ? 'int32' : r.body.dtype) })),
    outputs: outputs.map((o) => ({ expr: o.expr, scope: o.scope, dtype: o.dtype ?? o.expr.dtype, ...(o.view ? { view: o.view } : {}) })),
  };
}

/** A matmul kernel of inputs 0 (a) and 1 (b), its output `epilogue` (default the product). */
export function matmul(batch: number[], M: number, N: number, K: number, a: View, b: View, epilogue?: Expr, nInputs = 2, outView?: View, dtype: DType = 'float32'): MatmulKernel {
  return {
    kind: 'matmul', batch, m: M, n: N, k: K, nInputs,
    a: { input: 0, view: a }, b: { input: 1, view: b },
    outputs: [{ expr: epilogue ?? acc(0), dtype, ...(outView ? { view: outView } : {}) }],
  };
}

/** A 2-D convolution with 3×3 windows, stride 1 (a padding per side, default 1). */
export interface Conv {
  n: number; cin: number; cout: number; h: number; w: number;
  pad?: [number, number];
  groups?: number;
  /** 'bias-relu': relu(acc + bias[channel]) (input 2); 'residual': acc + r (input 2, the output's shape); 'batch-norm': inputs 2 and 3 per channel. */
  epilogue?: 'bias-relu' | 'residual' | 'batch-norm';
}

/** The matmul kernel compile() makes of conv2d(x, w, padding) for 3×3 windows, stride 1 (see implicit-gemm.test.ts). */
export function convKernel(c: Conv): MatmulKernel {
  const [ph, pw] = c.pad ?? [1, 1];
  const g = c.groups ?? 1, cg = c.cin / g, og = c.cout / g;
  const ho = c.h + 2 * ph - 2, wo = c.w + 2 * pw - 2, hw = c.h * c.w;
  const a: View = view([c.n, g, og, cg * 9], [0, og * cg * 9, cg * 9, 1]);
  const bounds = [
    ...(ph ? [{ terms: [[5, 1], [3, 1]] as [number, number][], lo: ph, hi: ph + c.h }] : []),
    ...(pw ? [{ terms: [[6, 1], [4, 1]] as [number, number][], lo: pw, hi: pw + c.w }] : []),
  ];
  const b = { input: 1, view: view([c.n, g, cg, 3, 3, ho, wo], [c.cin * hw, cg * hw, hw, c.w, 1, c.w, 1], -(ph * c.w + pw)), split: [3, 2] as const, ...(bounds.length ? { bounds } : {}) };
  const out = [c.n, g, og, ho * wo];
  let expr: Expr = acc(0);
  if (c.epilogue === 'bias-relu') expr = op('relu', [op('add', [acc(0), ld(2, view(out, [0, og, 1, 0]))])]);
  if (c.epilogue === 'residual') expr = op('add', [acc(0), ld(2, out)]);
  // relu((acc - mean[c]) / sqrt(var[c] + 1e-5)): eval batch norm, per-channel values read once per row.
  const perChannel = (input: number) => ld(input, view(out, [0, og, 1, 0]));
  if (c.epilogue === 'batch-norm') expr = op('relu', [op('mul', [op('sub', [acc(0), perChannel(2)]), op('recip', [op('sqrt', [op('add', [perChannel(3), cst(1e-5)])])])])]);
  return {
    kind: 'matmul', batch: [c.n, g], m: og, n: ho * wo, k: cg * 9, nInputs: c.epilogue === 'batch-norm' ? 4 : c.epilogue ? 3 : 2,
    a: { input: 0, view: a }, b, outputs: [{ expr, dtype: 'float32' }],
  };
}

// ---- data ---------------------------------------------------------------------------------------

/** The tests' seeded generator (test/rng.ts). */
export const rng = mulberry32;

/** `n` floats in [lo, hi). */
export function randF32(n: number, seed = 1, lo = -2, hi = 2): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}
/** `n` integers in [lo, hi] (both ends included). */
export function randI32(n: number, seed = 1, lo = -100, hi = 100): Int32Array {
  const r = rng(seed);
  return Int32Array.from({ length: n }, () => Math.floor(lo + (hi - lo + 1) * r()));
}
export function randBool(n: number, seed = 1): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => (r() < 0.5 ? 1 : 0));
}

/** `n` random values of a dtype: floats in [lo, hi), ints floor of that, bools 0/1. */
export function random(dtype: DType, n: number, seed = 1, lo = -3, hi = 3): TypedArray {
  const r = rng(seed);
  return host(dtype, Array.from({ length: n }, () => {
    if (dtype === 'bool') return r() < 0.5 ? 1 : 0;
    const v = lo + (hi - lo) * r();
    return dtype === 'int32' ? Math.floor(v) : v;
  }));
}

/** Host data of a dtype as its typed array. */
export function host(dtype: DType, data: ArrayLike<number>): TypedArray {
  const t = typedArrayFor(dtype, data.length);
  for (let i = 0; i < data.length; i++) t[i] = data[i];
  return t;
}

export function dtypeOf(a: TypedArray): DType {
  return a instanceof Float32Array ? 'float32' : a instanceof Int32Array ? 'int32' : 'bool';
}

// ---- running ------------------------------------------------------------------------------------

/** How an output buffer starts: fresh (zeros), with given contents, or as input buffer `alias` (in-place). */
export type OutSpec = { readonly init: TypedArray } | { readonly alias: number } | Record<string, never> | undefined;

function launch(be: Backend, k: Kernel, inputs: readonly TypedArray[], outs: readonly OutSpec[]): { bufs: Buffer[]; outBufs: Buffer[] } {
  const bufs: Buffer[] = [];
  const inBufs = inputs.map((a) => {
    const b = be.alloc(dtypeOf(a), a.length);
    if (a.length) be.write(b, a);
    bufs.push(b);
    return b;
  });
  const outBufs = k.outputs.map((o, i) => {
    const spec = outs[i];
    if (spec && 'alias' in spec) return inBufs[spec.alias];
    const init = spec && 'init' in spec ? spec.init : undefined;
    const b = be.alloc(init ? dtypeOf(init) : o.dtype, init ? init.length : sizeOf(outputShape(k, i)));
    if (init && init.length) be.write(b, init);
    bufs.push(b);
    return b;
  });
  be.run(k, inBufs, outBufs);
  return { bufs, outBufs };
}

/** Runs a kernel on a backend from host data and reads every output back. */
export async function runOn(be: Backend, k: Kernel, inputs: readonly TypedArray[], outs: readonly OutSpec[] = []): Promise<TypedArray[]> {
  const { bufs, outBufs } = launch(be, k, inputs, outs);
  try {
    return await Promise.all(outBufs.map((o) => be.readAsync(o)));
  } finally {
    bufs.forEach((b) => be.free(b));
  }
}

/** The same on a backend with synchronous reads (cpu, wasm). */
export function runSync(be: Backend, k: Kernel, inputs: readonly TypedArray[], outs: readonly OutSpec[] = []): TypedArray[] {
  const { bufs, outBufs } = launch(be, k, inputs, outs);
  try {
    return outBufs.map((o) => be.read(o));
  } finally {
    bufs.forEach((b) => be.free(b));
  }
}

/** Tolerances of a float comparison: |got - want| <= atol + rtol * |want|. */
export interface Tol {
  readonly rtol?: number;
  readonly atol?: number;
}

/** Element-wise comparison: exact for ints/bools; for floats NaN with NaN, the same infinities, |a-b| <= atol + rtol|b|. */
export function expectClose(got: TypedArray, want: TypedArray, tol: Tol = {}, what = 'output', subnormals?: { readonly flushed: TypedArray }): void {
  const { rtol = 2e-6, atol = 1e-6 } = tol;
  expect(got.length, `${what}: length`).toBe(want.length);
  const close = (g: number, w: number) => (Number.isNaN(w) ? Number.isNaN(g) : !Number.isFinite(w) ? g === w : Math.abs(g - w) <= atol + rtol * Math.abs(w));
  const bad: string[] = [];
  for (let i = 0; i < want.length && bad.length < 8; i++) {
    const g = got[i], w = want[i];
    let ok = !(want instanceof Float32Array) ? g === w : close(g, w);
    // A backend that flushes subnormals matches the reference of flushed inputs, any subnormal read as zero.
    if (!ok && subnormals) ok = [w, subnormals.flushed[i]].some((x) => close(flush(g), flush(x)));
    if (!ok) bad.push(`[${i}] got ${g}, want ${w}`);
  }
  expect(bad, `${what}: mismatches (first 8)`).toEqual([]);
}

/** Whether a float32 is subnormal (nonzero, below 2^-126 in magnitude). */
export const isSubnormal = (v: number): boolean => v !== 0 && Math.abs(v) < 2 ** -126;
/** A value with a subnormal flushed to zero of its sign. */
const flush = (v: number): number => (isSubnormal(v) ? (v < 0 ? -0 : 0) : v);

/**
 * Backends that may flush subnormal operands and results to zero: WGSL allows it (SwiftShader does);
 * cpu and wasm compute them exactly.
 */
export const FLUSHES_SUBNORMALS: ReadonlySet<string> = new Set(['webgpu']);

/** Runs a kernel on `be` and on the cpu reference and asserts every output agrees. Returns both. */
export async function check(be: Backend, k: Kernel, inputs: readonly TypedArray[], opts: { tol?: Tol; outputs?: readonly OutSpec[]; label?: string } = {}): Promise<{ got: TypedArray[]; want: TypedArray[] }> {
  const outs = opts.outputs ?? [];
  const want = await runOn(cpu, k, inputs, outs);
  // The reference itself runs once: its results are what the test's own expectations check.
  const got = be === cpu ? want : await runOn(be, k, inputs, outs);
  const flushedIns = FLUSHES_SUBNORMALS.has(be.name) && inputs.some((a) => a instanceof Float32Array && a.some(isSubnormal))
    ? inputs.map((a) => (a instanceof Float32Array ? a.map(flush) : a)) : null;
  const flushedOuts = outs.map((o) => (flushedIns && o && 'init' in o && o.init instanceof Float32Array ? { init: o.init.map(flush) } : o));
  const alt = flushedIns ? await runOn(cpu, k, flushedIns, flushedOuts) : null;
  want.forEach((w, i) => expectClose(got[i], w, opts.tol, `${be.name} ${opts.label ?? k.kind} out${i}`, FLUSHES_SUBNORMALS.has(be.name) ? { flushed: (alt ?? want)[i] } : undefined));
  return { got, want };
}

// ---- float accuracy -----------------------------------------------------------------------------

/** Distance in units in the last place between two float32 values (0 when both NaN). */
export function ulpDiff(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  const i = new Int32Array(new Float32Array([a, b]).buffer);
  const ord = (x: number) => (x < 0 ? -2147483648 - x : x);
  return Math.abs(ord(i[0]) - ord(i[1]));
}

/** erf in float64: Taylor series below 2.5, Lentz continued fraction for erfc above. */
export function erf64(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  let r: number;
  if (a < 2.5) {
    let term = a, sum = a;
    for (let k = 1; k < 200; k++) {
      term *= (-a * a) / k;
      const t = term / (2 * k + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else if (a > 10) r = 1;
  else {
    // erfc(a) = exp(-a^2)/sqrt(pi) * 1/(a + 1/2/(a + 1/(a + 3/2/(a + ...))))
    let f = a, C = a, D = 0;
    for (let k = 1; k < 300; k++) {
      const an = k / 2;
      D = a + an * D; D = D === 0 ? 1e-300 : 1 / D;
      C = a + an / C; if (C === 0) C = 1e-300;
      const delta = C * D;
      f *= delta;
      if (Math.abs(delta - 1) < 1e-16) break;
    }
    r = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? -r : r;
}

// ---- window reductions --------------------------------------------------------------------------

/**
 * Reduce kernels over small sliding windows (pooling, depthwise convolution) of an [N, C, H, W]
 * input, the shapes the wasm backend walks across rows (backends/wasm/reduce-rows.ts): steps 1 and 2,
 * a flipped width, a padded height (masked along a row-invariant dim) and a masked width (along the
 * walked dim), output widths with and without a SIMD tail, a per-channel weight and a bias output,
 * ties for argmax/argmin.
 * Input 0 is the image; inputs 1 and 2 are the weight [C, kh, kw] and the bias [C].
 */
export function windowKernels(rop: ReduceOp): { label: string; kernel: ReduceKernel; inputs: TypedArray[] }[] {
  const out: { label: string; kernel: ReduceKernel; inputs: TypedArray[] }[] = [];
  const N = 2, C = 3;
  const cases: { H: number; W: number; k: [number, number]; s: number; flip?: boolean; maskH?: boolean; maskW?: boolean }[] = [
    { H: 6, W: 9, k: [3, 3], s: 1 }, { H: 7, W: 15, k: [3, 3], s: 2 }, { H: 5, W: 6, k: [2, 2], s: 1 },
    { H: 6, W: 13, k: [1, 3], s: 1, flip: true }, { H: 9, W: 21, k: [3, 2], s: 2, flip: true },
    { H: 6, W: 10, k: [3, 3], s: 1, maskH: true }, { H: 6, W: 12, k: [3, 3], s: 1, maskW: true },
  ];
  cases.forEach(({ H, W, k: [kh, kw], s, flip, maskH, maskW }, ci) => {
    const Ho = Math.floor((H - kh) / s) + 1, Wo = Math.floor((W - kw) / s) + 1;
    const shape = [N, C, Ho, Wo, kh, kw];
    // The width runs backwards when flipped: window (ho, wo) tap (i, j) reads x[ho·s + i, W-1 - (wo·s + j)].
    const strides = [C * H * W, H * W, s * W, flip ? -s : s, W, flip ? -1 : 1];
    const offset = flip ? W - 1 : 0;
    // Masks: the first window row, or the last window column, reads padding.
    const mask = maskH || maskW ? shape.map((n, d): [number, number] => (maskH && d === 2 ? [1, n] : maskW && d === 3 ? [0, n - 1] : [0, n])) : undefined;
    const x = ld(0, view(shape, strides, offset, mask));
    const wgt = ld(1, view(shape, [0, kh * kw, 0, 0, kw, 1]));
    const body = rop === 'sum' ? op('mul', [x, wgt]) : rop === 'prod' ? op('add', [op('mul', [x, cst(1e-2)]), cst(1)]) : x;
    const isArg = rop === 'argmax' || rop === 'argmin';
    const outExpr = rop === 'sum' ? op('add', [acc(0), ld(2, view([N, C, Ho, Wo], [0, 1, 0, 0]))]) : acc(0, isArg ? 'int32' : 'float32');
    const r = rng(40 + ci);
    // Few distinct values for argmax/argmin, so windows hold ties.
    const xs = Float32Array.from({ length: N * C * H * W }, (_, i) => (i % 17 === 3 ? (r() < 0.5 ? -0 : 0) : isArg ? Math.floor(r() * 4) : Math.fround((r() - 0.5) * 4)));
    const nIn = rop === 'sum' ? 3 : 1;
    const inputs: TypedArray[] = [xs, randF32(C * kh * kw, 50 + ci), randF32(C, 60 + ci)].slice(0, nIn);
    const label = `${rop} ${kh}x${kw}/${s} [${N},${C},${H},${W}]${flip ? ' flipped' : ''}${maskH ? ' masked H' : ''}${maskW ? ' masked W' : ''}`;
    out.push({ label, kernel: red([N, C, Ho, Wo], [kh, kw], nIn, [{ op: rop, body }], [{ expr: outExpr, scope: 'outer' }]), inputs });
    // With a NaN and with ties of signed zeros in some windows.
    const xn = xs.slice();
    xn[W + 2] = NaN;
    xn.fill(-0, 2 * H * W, 2 * H * W + W);
    xn.fill(0, 2 * H * W + W, 2 * H * W + 2 * W);
    out.push({ label: `${label} with NaN and signed zeros`, kernel: red([N, C, Ho, Wo], [kh, kw], nIn, [{ op: rop, body }], [{ expr: outExpr, scope: 'outer' }]), inputs: [xn, ...inputs.slice(1)] });
  });
  return out;
}
