// Test helpers for the wasm backend: build kernels directly in kernel IR, run them on the cpu
// reference and on wasm with the same inputs, and compare (NaN/Inf aware, ulp aware).
import { expect } from 'vitest';
import type { Backend } from '../../src/core/backend.js';
import type { DType, TypedArray } from '../../src/core/dtype.js';
import type { Expr, ElementwiseKernel, Kernel, KernelOutput, MatmulKernel, ReduceKernel, ReduceOp, View } from '../../src/core/kernel.js';
import { contiguousView, outputShape } from '../../src/core/kernel.js';
import { contiguousStrides, sizeOf } from '../../src/core/shape.js';
import type { ScalarOp } from '../../src/ops/scalar.js';
import { SCALAR_OPS } from '../../src/ops/scalar.js';
import { createCpuBackend } from '../../backends/cpu/index.js';
import { createWasmBackend, type WasmBackend } from '../../backends/wasm/index.js';
import { mulberry32 } from '../rng.js';

let wasmPromise: Promise<WasmBackend> | null = null;
/** One wasm backend per test file (binaryen loads once). */
export function getWasm(): Promise<WasmBackend> {
  wasmPromise ??= createWasmBackend().then((w) => {
    // fma.test.ts runs these tests again with KILN_WASM_FMA=0: make sure the setting took.
    if (process.env.KILN_WASM_FMA === '0' && w.fma) throw new Error('KILN_WASM_FMA=0 but the wasm backend uses FMA');
    return w;
  });
  return wasmPromise;
}
export const cpu: Backend = createCpuBackend();

// ---- expression builders ------------------------------------------------------------------------

export const view = (shape: number[], strides?: number[], offset = 0, mask?: [number, number][]): View =>
  ({ shape, strides: strides ?? contiguousStrides(shape), offset, ...(mask ? { mask } : {}) });
/** A load; a gathering one checks its index against `size` (default: no bound that matters here). */
export const ld = (input: number, v: View, dtype: DType = 'float32', gather?: { axis: number; index: Expr; size?: number; op?: string }): Expr =>
  ({ kind: 'load', input, view: v, dtype, ...(gather ? { gather: { size: 2 ** 31 - 1, op: 'gather', ...gather } } : {}) });
export const cst = (value: number, dtype: DType = 'float32'): Expr => ({ kind: 'const', value, dtype });
export const cast = (x: Expr, dtype: DType): Expr => ({ kind: 'cast', x, dtype });
export const acc = (index: number, dtype: DType = 'float32'): Expr => ({ kind: 'acc', index, dtype });
/** An op node; the dtype defaults to bool for predicates, else the first argument's. */
export function op(name: ScalarOp, args: Expr[], dtype?: DType): Expr {
  const pred = (SCALAR_OPS[name] as { predicate?: boolean }).predicate;
  const dt = dtype ?? (pred ? 'bool' : name === 'where' ? args[1].dtype : args[0].dtype);
  return { kind: 'op', op: name, args, dtype: dt };
}

export function ew(shape: number[], nInputs: number, outs: (Expr | KernelOutput)[]): ElementwiseKernel {
  return { kind: 'elementwise', shape, nInputs, outputs: outs.map((o) => ('expr' in o ? o : { expr: o, dtype: o.dtype })) };
}

export function red(outer: number[], inner: number[], nInputs: number,
  reductions: { op: ReduceOp; body: Expr; dtype?: DType }[],
  outputs: { expr: Expr; scope: 'outer' | 'full'; dtype?: DType; view?: View }[]): ReduceKernel {
  return {
    kind: 'reduce', outer, inner, nInputs,
    reductions: reductions.map((r) => ({ op: r.op, body: r.body, dtype: r.dtype ?? (r.op === 'argmax' || r.op === 'argmin' ? 'int32' : r.body.dtype) })),
    outputs: outputs.map((o) => ({ expr: o.expr, scope: o.scope, dtype: o.dtype ?? o.expr.dtype, ...(o.view ? { view: o.view } : {}) })),
  };
}

export function matmul(batch: number[], M: number, N: number, K: number, a: View, b: View, epilogue?: Expr, nInputs = 2, outView?: View): MatmulKernel {
  return {
    kind: 'matmul', batch, m: M, n: N, k: K, nInputs,
    a: { input: 0, view: a }, b: { input: 1, view: b },
    outputs: [{ expr: epilogue ?? acc(0), dtype: 'float32', ...(outView ? { view: outView } : {}) }],
  };
}

// ---- data ---------------------------------------------------------------------------------------

/** The tests' seeded generator (test/rng.ts). */
export const rng = mulberry32;

export function randF32(n: number, seed = 1, lo = -2, hi = 2): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}
export function randI32(n: number, seed = 1, lo = -100, hi = 100): Int32Array {
  const r = rng(seed);
  return Int32Array.from({ length: n }, () => Math.floor(lo + (hi - lo + 1) * r()));
}
export function randBool(n: number, seed = 1): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => (r() < 0.5 ? 1 : 0));
}

export function dtypeOf(a: TypedArray): DType {
  return a instanceof Float32Array ? 'float32' : a instanceof Int32Array ? 'int32' : 'bool';
}

// ---- running ------------------------------------------------------------------------------------

/** Output buffers: sizes from the kernel, or explicit (in-place views) with initial contents. */
export interface OutSpec {
  readonly init?: TypedArray;
}

/** Runs a kernel on one backend, returning the outputs' contents. */
export function runOn(be: Backend, k: Kernel, inputs: readonly TypedArray[], outs?: readonly OutSpec[]): TypedArray[] {
  const ins = inputs.map((a) => { const b = be.alloc(dtypeOf(a), a.length); be.write(b, a); return b; });
  const nOut = k.outputs.length;
  const outputs = Array.from({ length: nOut }, (_, i) => {
    const dt = k.outputs[i].dtype;
    const init = outs?.[i]?.init;
    const b = be.alloc(dt, init ? init.length : sizeOf(outputShape(k, i)));
    if (init) be.write(b, init);
    return b;
  });
  be.run(k, ins, outputs);
  const res = outputs.map((b) => be.read(b));
  [...ins, ...outputs].forEach((b) => be.free(b));
  return res;
}

export interface Tol { rtol?: number; atol?: number }

/** Element-wise comparison: exact for ints/bools; for floats NaN==NaN, same infinities, |a-b| <= atol + rtol|b|. */
export function expectClose(got: TypedArray, want: TypedArray, tol: Tol = {}, what = ''): void {
  const { rtol = 2e-6, atol = 1e-6 } = tol;
  expect(got.length, `${what} length`).toBe(want.length);
  const bad: string[] = [];
  for (let i = 0; i < want.length; i++) {
    const a = got[i], b = want[i];
    if (Number.isNaN(b)) { if (!Number.isNaN(a)) bad.push(`[${i}] got ${a} want NaN`); continue; }
    if (!Number.isFinite(b)) { if (a !== b) bad.push(`[${i}] got ${a} want ${b}`); continue; }
    if (!(got instanceof Float32Array)) { if (a !== b) bad.push(`[${i}] got ${a} want ${b}`); continue; }
    if (!(Math.abs(a - b) <= atol + rtol * Math.abs(b))) bad.push(`[${i}] got ${a} want ${b}`);
    if (bad.length > 8) break;
  }
  expect(bad, `${what} mismatches`).toEqual([]);
}

/** Runs on both backends and compares every output. */
export async function check(k: Kernel, inputs: readonly TypedArray[], tol: Tol = {}, outs?: readonly OutSpec[], what = ''): Promise<TypedArray[]> {
  const w = await getWasm();
  const want = runOn(cpu, k, inputs, outs);
  const got = runOn(w, k, inputs, outs);
  got.forEach((g, i) => expectClose(g, want[i], tol, `${what} out${i}`));
  return got;
}

/** Distance in units in the last place between two float32 values (0 when both NaN). */
export function ulpDiff(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  const f = new Float32Array([a, b]);
  const i = new Int32Array(f.buffer);
  const ord = (x: number) => (x < 0 ? -2147483648 - x : x);
  return Math.abs(ord(i[0]) - ord(i[1]));
}

export { contiguousView };
