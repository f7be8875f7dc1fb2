// Comparing what a call produced eagerly with what it produced compiled: returned values, arguments
// and their gradients after the call, captured tensors, module parameters, logs and counters.
//
// Tolerance rule (float32):
// - An `exact` value was computed only by correctly rounded float32 operations (add, sub, mul, div,
//   sqrt, comparisons, where, max/min, views, gathers, ...) or by sums and matmuls whose terms are
//   small multiples of 1/8 (so every order of summation gives the same float32). Any faithful
//   implementation gives the same bits: it is compared bit for bit (+0 equals -0, NaN equals NaN).
//   This is what catches a division turned into a multiplication by the reciprocal (21/7 = 3.0000002)
//   or fused expressions evaluated in float64.
// - Any other float is compared as |c - e| <= 1e-5·|e| + 4e-6·S, where S >= 1 is the largest
//   magnitude in the value's dependency cone (measured on a dry run): 1e-5 relative is ~84 ulp, and
//   4e-6·S allows the rounding of a sum of ~64 terms of magnitude S taken in another order.
//   Infinities must match exactly, NaN must match NaN. Real bugs (wrong rows, baked sizes, lost
//   writes, dropped gradients) are errors of O(1), far above this.
// - int32 and bool tensors, strings, booleans and shapes are compared exactly.
// - Eager on wasm or webgpu against eager on cpu (kernel bugs both share) uses the same rule; on
//   webgpu nothing is bit-exact (WGSL's division, sqrt and builtins are not correctly rounded) and the
//   tolerance is 5x; programs with an optimizer are compared there on their first call only (after a
//   step, Adam's division by √v lets legitimate last-bit differences grow).
// - Values the generator keeps well-conditioned: discontinuous ops (comparisons, floor, argmax, branches
//   on item()) only see exact values, so eager and compiled always take the same side.
import { Tensor } from '../../src/index.js';

export const RTOL = 1e-5;
export const ATOL_PER_SCALE = 4e-6;

/** One thing a call produced, read back. */
export type Leaf =
  | { readonly t: 'tensor'; readonly shape: readonly number[]; readonly dtype: string; readonly data: readonly number[] }
  | { readonly t: 'number'; readonly v: number }
  | { readonly t: 'string' | 'boolean' | 'nullish' | 'other'; readonly v: string }
  | { readonly t: 'error'; readonly v: string };

/** How closely a leaf must agree (`factor` widens the tolerance: backends with less accurate builtins). */
export interface Tol { readonly exact: boolean; readonly scale: number; readonly factor?: number }

const DEFAULT_TOL: Tol = { exact: false, scale: 1 };

async function readTensor(t: Tensor): Promise<Leaf> {
  try {
    const data = Array.from(await t.dataAsync());
    return { t: 'tensor', shape: [...t.shape], dtype: t.dtype, data };
  } catch (e) {
    return { t: 'error', v: `reading the tensor failed: ${(e as Error).message}` };
  }
}

/** Reads every tensor, number and string in `v` into leaves by path (tensors' .grad as `path.grad`). */
export async function flattenResult(v: unknown, path: string, out: Map<string, Leaf>, seen = new Set<unknown>()): Promise<void> {
  if (v instanceof Tensor) {
    out.set(path, await readTensor(v));
    if (v.grad) out.set(`${path}.grad`, await readTensor(v.grad));
    return;
  }
  if (v instanceof Error) { out.set(path, { t: 'error', v: `${v.name}: ${v.message}` }); return; }
  if (typeof v === 'number') { out.set(path, { t: 'number', v }); return; }
  if (typeof v === 'string' || typeof v === 'boolean') { out.set(path, { t: typeof v as 'string' | 'boolean', v: String(v) }); return; }
  if (v === null || v === undefined) { out.set(path, { t: 'nullish', v: String(v) }); return; }
  if (typeof v === 'object') {
    if (seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v)) { for (let i = 0; i < v.length; i++) await flattenResult(v[i], `${path}.${i}`, out, seen); return; }
    if (Object.getPrototypeOf(v) === Object.prototype) {
      for (const [k, x] of Object.entries(v)) await flattenResult(x, `${path}.${k}`, out, seen);
      return;
    }
  }
  out.set(path, { t: 'other', v: Object.prototype.toString.call(v) });
}

const f32 = Math.fround;

/** Describes the first disagreement of two float arrays under a tolerance, or null. */
export function floatDiff(c: readonly number[], e: readonly number[], tol: Tol): string | null {
  const f = tol.factor ?? 1;
  const atol = f * ATOL_PER_SCALE * Math.max(1, tol.scale);
  let worst = -1, worstErr = 0, bad = 0;
  for (let i = 0; i < e.length; i++) {
    const x = c[i], y = e[i];
    let ok: boolean;
    if (Number.isNaN(y) || Number.isNaN(x)) ok = Number.isNaN(x) && Number.isNaN(y);
    else if (!Number.isFinite(y) || !Number.isFinite(x)) ok = x === y;
    else if (tol.exact) ok = f32(x) === f32(y);
    else ok = Math.abs(x - y) <= f * RTOL * Math.abs(y) + atol;
    if (!ok) {
      bad++;
      const err = Number.isFinite(x - y) ? Math.abs(x - y) : Infinity;
      if (worst < 0 || err > worstErr) { worst = i; worstErr = err; }
    }
  }
  if (bad === 0) return null;
  return `${bad} of ${e.length} elements differ${tol.exact ? ' (bit-exact expected)' : ` (tolerance ${f * RTOL}·|e| + ${atol.toExponential(1)})`}; worst at [${worst}]: compiled ${c[worst]}, eager ${e[worst]}`;
}

/** Why two leaves disagree, or null. */
export function leafDiff(c: Leaf | undefined, e: Leaf | undefined, tol: Tol = DEFAULT_TOL): string | null {
  if (!c || !e) return c ? 'present compiled, absent eager' : 'absent compiled, present eager';
  if (c.t !== e.t) return `a ${c.t} compiled (${describeLeaf(c)}), a ${e.t} eager (${describeLeaf(e)})`;
  if (c.t === 'tensor' && e.t === 'tensor') {
    if (c.dtype !== e.dtype) return `dtype ${c.dtype} compiled, ${e.dtype} eager`;
    if (c.shape.join() !== e.shape.join()) return `shape [${c.shape}] compiled, [${e.shape}] eager`;
    if (c.dtype !== 'float32') {
      const i = c.data.findIndex((x, j) => x !== e.data[j]);
      return i < 0 ? null : `${c.data.filter((x, j) => x !== e.data[j]).length} of ${e.data.length} elements differ; first at [${i}]: compiled ${c.data[i]}, eager ${e.data[i]}`;
    }
    return floatDiff(c.data, e.data, tol);
  }
  if (c.t === 'number' && e.t === 'number') return floatDiff([c.v], [e.v], tol);
  if (c.t === 'error') return null; // both threw: whether is compared, not what
  const cv = (c as { v: unknown }).v, ev = (e as { v: unknown }).v;
  return cv === ev ? null : `${cv} compiled, ${ev} eager`;
}

export function describeLeaf(l: Leaf | undefined, max = 12): string {
  if (!l) return 'nothing';
  if (l.t === 'tensor') {
    const vals = l.data.slice(0, max).map((x) => (l.dtype === 'float32' ? Number(x.toPrecision(8)) : x)).join(', ');
    return `${l.dtype}[${l.shape}] [${vals}${l.data.length > max ? ', …' : ''}]`;
  }
  return `${l.v}`;
}

/** Gradients flow back from every returned tensor that requires grad (the sum of their sums). */
export function backwardThrough(out: unknown): void {
  if (out instanceof Error) return;
  const ts: Tensor[] = [];
  const walk = (v: unknown): void => {
    if (v instanceof Tensor) { if (v.requiresGrad) ts.push(v); } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(out);
  if (!ts.length) return;
  let s = ts[0].sum();
  for (const t of ts.slice(1)) s = s.add(t.sum());
  s.backward();
}
