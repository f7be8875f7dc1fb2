// Shared by the webgpu tests: start the backend once per file (or say loudly why not), build kernels
// in kernel IR, run them on webgpu and on the cpu reference, and compare.
import { expect } from 'vitest';
import type { Backend, Buffer } from '../../src/core/backend.js';
import type { DType, TypedArray } from '../../src/core/dtype.js';
import { typedArrayFor } from '../../src/core/dtype.js';
import type { Expr, Kernel, View } from '../../src/core/kernel.js';
import { contiguousView, outputShape } from '../../src/core/kernel.js';
import { contiguousStrides, sizeOf } from '../../src/core/shape.js';
import { SCALAR_OPS, type ScalarOp, type ScalarOpDef } from '../../src/ops/scalar.js';
import { createCpuBackend } from '../../backends/cpu/index.js';
import { createWebGpuBackend, type WebGpuBackend, type WebGpuOptions } from '../../backends/webgpu/index.js';
import { mulberry32 } from '../rng.js';

/** The backend under test, or the reason it could not start. */
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

export const cpu: Backend = createCpuBackend();

// --- IR builders ------------------------------------------------------------------------------

/** A view of `shape` with optional strides/offset/mask (default contiguous). */
export function view(shape: readonly number[], strides?: readonly number[], offset = 0, mask?: readonly (readonly [number, number])[]): View {
  return { shape: [...shape], strides: [...(strides ?? contiguousStrides(shape))], offset, ...(mask ? { mask } : {}) };
}

/** A load; a gathering one checks its index against `size` (default: no bound that matters here). */
export function ld(input: number, v: View | readonly number[], dtype: DType = 'float32', gather?: { axis: number; index: Expr; size?: number; op?: string }): Expr {
  const vv = Array.isArray(v) ? contiguousView(v as number[]) : (v as View);
  return { kind: 'load', input, view: vv, dtype, ...(gather ? { gather: { size: 2 ** 31 - 1, op: 'gather', ...gather } } : {}) };
}

export function cst(value: number, dtype: DType = 'float32'): Expr {
  return { kind: 'const', value, dtype };
}

/** An op node; its dtype defaults to bool for predicates, else the value arguments' dtype. */
export function op(name: ScalarOp, args: readonly Expr[], dtype?: DType): Expr {
  const def: ScalarOpDef = SCALAR_OPS[name];
  const dt = dtype ?? (def.predicate ? 'bool' : name === 'where' ? args[1].dtype : args[0].dtype);
  return { kind: 'op', op: name, args, dtype: dt };
}

export function cast(x: Expr, dtype: DType): Expr {
  return { kind: 'cast', x, dtype };
}

export function acc(index: number, dtype: DType = 'float32'): Expr {
  return { kind: 'acc', index, dtype };
}

// --- data ------------------------------------------------------------------------------------

/** The tests' seeded generator (test/rng.ts). */
export const rng = mulberry32;

/** Host data for one buffer. */
export interface HostArray {
  readonly dtype: DType;
  readonly data: ArrayLike<number>;
}

export function host(dtype: DType, data: ArrayLike<number>): HostArray {
  return { dtype, data };
}

/** `n` random values of a dtype: floats in [lo, hi), ints in [lo, hi), bools 0/1. */
export function random(dtype: DType, n: number, seed = 1, lo = -3, hi = 3): HostArray {
  const r = rng(seed);
  const data = Array.from({ length: n }, () => {
    if (dtype === 'bool') return r() < 0.5 ? 1 : 0;
    const v = lo + (hi - lo) * r();
    return dtype === 'int32' ? Math.floor(v) : v;
  });
  return { dtype, data };
}

// --- running -----------------------------------------------------------------------------------

/** How an output buffer starts: fresh (zeros), with given contents, or as input buffer `alias` (in-place). */
export type OutSpec = { readonly init: HostArray } | { readonly alias: number } | undefined;

function toTyped(h: HostArray): TypedArray {
  const t = typedArrayFor(h.dtype, h.data.length);
  for (let i = 0; i < h.data.length; i++) t[i] = h.data[i];
  return t;
}

/** Runs a kernel on one backend from host data and reads every output back. */
export async function runOn(b: Backend, k: Kernel, inputs: readonly HostArray[], outs: readonly OutSpec[]): Promise<TypedArray[]> {
  const bufs: Buffer[] = [];
  const inBufs = inputs.map((h) => {
    const buf = b.alloc(h.dtype, h.data.length);
    if (h.data.length) b.write(buf, toTyped(h));
    bufs.push(buf);
    return buf;
  });
  const n = k.outputs.length;
  const outBufs = Array.from({ length: n }, (_, i) => {
    const spec = outs[i];
    if (spec && 'alias' in spec) return inBufs[spec.alias];
    const dtype = k.outputs[i].dtype;
    const init = spec && 'init' in spec ? spec.init : undefined;
    const buf = b.alloc(init?.dtype ?? dtype, init ? init.data.length : sizeOf(outputShape(k, i)));
    if (init && init.data.length) b.write(buf, toTyped(init));
    bufs.push(buf);
    return buf;
  });
  b.run(k, inBufs, outBufs);
  const res = await Promise.all(outBufs.map((o) => b.readAsync(o)));
  bufs.forEach((x) => b.free(x));
  return res;
}

/** Tolerances of a float comparison: |got - want| <= atol + rtol * |want|. */
export interface Tol {
  readonly rtol?: number;
  readonly atol?: number;
}

/** Asserts two read-backs agree: floats within tolerance (NaN with NaN, infinities exactly), others exactly. */
export function expectClose(got: TypedArray, want: TypedArray, tol: Tol = {}, what = 'output'): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  const rtol = tol.rtol ?? 1e-5, atol = tol.atol ?? 1e-6;
  const bad: string[] = [];
  for (let i = 0; i < want.length; i++) {
    const g = got[i], w = want[i];
    let ok: boolean;
    if (want instanceof Float32Array) {
      ok = Number.isNaN(w) ? Number.isNaN(g) : !Number.isFinite(w) ? g === w : Math.abs(g - w) <= atol + rtol * Math.abs(w);
    } else ok = g === w;
    if (!ok && bad.length < 8) bad.push(`[${i}] got ${g}, want ${w}`);
  }
  expect(bad, `${what}: mismatches (first 8)`).toEqual([]);
}

/** Runs a kernel on webgpu and on the cpu reference and asserts every output agrees. Returns both. */
export async function compareKernel(gpu: Backend, k: Kernel, inputs: readonly HostArray[], opts: { outputs?: readonly OutSpec[]; tol?: Tol; label?: string } = {}): Promise<{ gpu: TypedArray[]; cpu: TypedArray[] }> {
  const outs = opts.outputs ?? [];
  const want = await runOn(cpu, k, inputs, outs);
  const got = await runOn(gpu, k, inputs, outs);
  want.forEach((w, i) => expectClose(got[i], w, opts.tol, `${opts.label ?? k.kind} out${i}`));
  return { gpu: got, cpu: want };
}
