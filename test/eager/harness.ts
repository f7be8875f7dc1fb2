// Runs op-info rows: builds kiln inputs from reference arrays, compares results with a tolerance
// (NaN where NaN, infinities exactly), and computes central finite differences of the float64
// reference for gradient checks.
import { tensor, type BackendName, type Tensor } from '../../src/index.js';
import * as R from './reference.js';
import type { RArray } from './reference.js';
import { viewKiln, viewRef, type OpRow, type Sample } from './opinfo.js';

/** A kiln tensor holding exactly the reference array's values. */
export function toKiln(r: RArray, backend: BackendName, requiresGrad = false): Tensor {
  const data = r.dtype === 'float32' ? Float32Array.from(r.data) : r.dtype === 'int32' ? Int32Array.from(r.data) : Uint8Array.from(r.data);
  return tensor(data, { shape: r.shape, dtype: r.dtype, backend, requiresGrad });
}

export const asList = <T>(x: T | T[]): T[] => (Array.isArray(x) ? x : [x]);

/** Indices of inputs whose gradient a sample checks. */
export function gradInputs(sample: Sample): number[] {
  return sample.inputs.flatMap((s, i) => (s.base.dtype === 'float32' && s.grad !== false ? [i] : []));
}

/** Human-readable mismatches between kiln's values and the reference (empty when they agree). */
export function mismatches(got: ArrayLike<number>, want: RArray, atol: number, rtol: number, limit = 8): string[] {
  const out: string[] = [];
  if (got.length !== want.data.length) return [`length ${got.length} vs expected ${want.data.length}`];
  let count = 0;
  for (let i = 0; i < got.length; i++) {
    const g = got[i];
    const w = want.dtype === 'float32' ? Math.fround(want.data[i]) : want.data[i];
    let ok: boolean;
    if (want.dtype !== 'float32') ok = g === w;
    else if (Number.isNaN(w) || Number.isNaN(g)) ok = Number.isNaN(w) && Number.isNaN(g);
    else if (!Number.isFinite(w) || !Number.isFinite(g)) ok = g === w;
    else ok = Math.abs(g - w) <= atol + rtol * Math.abs(w);
    if (!ok && count++ < limit) out.push(`[${R.unravel(i, want.shape).join(',')}] got ${g} expected ${w}`);
  }
  if (count > limit) out.push(`... ${count - limit} more`);
  return out;
}

/** Σ out·cot over the float outputs of the reference at the given bases (the scalar whose gradient is checked). */
function refLoss(row: OpRow, sample: Sample, bases: RArray[], cots: (RArray | null)[]): number {
  const xs = bases.map((b, i) => viewRef(b, sample.inputs[i].view));
  const outs = asList(row.ref(xs, sample.args));
  let s = 0;
  outs.forEach((o, j) => {
    const c = cots[j];
    if (!c) return;
    for (let i = 0; i < o.data.length; i++) if (c.data[i] !== 0) s += o.data[i] * c.data[i];
  });
  return s;
}

// Finite differences depend on the sample only (its cotangents are seeded by row and sample), so each
// backend's run reuses the first one's: the references are the slow part of a gradient check.
const fdMemo = new WeakMap<Sample, Map<number, RArray>>();

/** Central differences of the reference loss w.r.t. every element of input `which` (h relative to the value). */
export function finiteDifferences(row: OpRow, sample: Sample, cots: (RArray | null)[], which: number): RArray {
  let memo = fdMemo.get(sample);
  if (!memo) fdMemo.set(sample, memo = new Map());
  const hit = memo.get(which);
  if (hit) return hit;
  const fd = computeFiniteDifferences(row, sample, cots, which);
  memo.set(which, fd);
  return fd;
}

function computeFiniteDifferences(row: OpRow, sample: Sample, cots: (RArray | null)[], which: number): RArray {
  const bases = sample.inputs.map((s) => R.raw(s.base.shape, s.base.data, s.base.dtype));
  const base = bases[which];
  const grad = new Float64Array(base.data.length);
  for (let i = 0; i < base.data.length; i++) {
    const v = base.data[i];
    const h = sample.fdStep ?? 1e-3 * Math.max(1, Math.abs(v));
    const at = (x: number) => {
      const d = base.data.slice();
      d[i] = x;
      const bs = bases.slice();
      bs[which] = R.raw(base.shape, d, 'float32');
      return refLoss(row, sample, bs, cots);
    };
    grad[i] = (at(v + h) - at(v - h)) / (2 * h);
  }
  return { shape: base.shape, data: grad, dtype: 'float32' };
}

/**
 * A seeded cotangent per output (null for outputs that are not float). It is 0 where the output is
 * not finite (e.g. -inf padding), where a finite difference of the loss would be NaN.
 */
export function cotangents(outs: readonly RArray[], seed: number): (RArray | null)[] {
  const rng = R.makeRng(seed);
  return outs.map((o) => {
    if (o.dtype !== 'float32') return null;
    const c = R.uniform(rng, o.shape, -1, 1);
    return R.arr(o.shape, c.data.map((v, i) => (Number.isFinite(o.data[i]) ? v : 0)));
  });
}
