// Implicit GEMM: a convolution's im2col matrix is a window view of its (padded) input regrouped by a
// reshape that no strides express, and padding seen through a window depends on a window position and
// a tap together, which no per-dim mask says. Here such a value is kept as a strided view over finer
// dims plus window bounds; a matmul reads it as its B operand in place (MatmulOperandB split and
// bounds), so the im2col matrix and the padded copy are never materialised: the compiler's scheduler
// (compiler/schedule.ts) and eager conv (src/nn/conv.ts) both build that operand here.
import type { MatmulOperandB, View, WindowBound } from './kernel.js';
import { reshapeStrides } from './shape.js';
import { unfoldView } from './view.js';

/** A strided `view` read as `shape` (a row-major regrouping of the view's dims), zero outside `bounds`. */
export interface Windowed {
  readonly view: View;
  readonly bounds: readonly WindowBound[];
  readonly shape: readonly number[];
}

/** A dim of the view, or a piece of one a regrouping cut (`src` -1). */
interface Piece { readonly size: number; readonly stride: number; readonly src: number }

/**
 * Each dim of `w.shape` as a run of pieces of the view's dims (size-1 dims dropped, dims cut where a
 * boundary falls inside them), or null: an uneven cut, a cut through a bounded dim, an empty shape.
 */
function runsOf(w: Windowed): Piece[][] | null {
  if (w.shape.some((d) => d === 0) || w.view.shape.some((d) => d === 0)) return null;
  const bounded = new Set(w.bounds.flatMap((b) => b.terms.map(([d]) => d)));
  const dims: Piece[] = w.view.shape.flatMap((size, d) => (size === 1 ? [] : [{ size, stride: w.view.strides[d], src: d }]));
  const runs: Piece[][] = [];
  let at = 0;
  for (const size of w.shape) {
    const run: Piece[] = [];
    let prod = 1;
    while (prod < size) {
      if (at >= dims.length) return null;
      const p = dims[at];
      if (size % (prod * p.size) === 0) { run.push(p); prod *= p.size; at++; continue; }
      const need = size / prod; // an integer: prod only grows by factors of size
      if (p.size % need !== 0 || bounded.has(p.src)) return null;
      run.push({ size: need, stride: p.stride * (p.size / need), src: -1 });
      dims[at] = { size: p.size / need, stride: p.stride, src: -1 };
      prod = size;
    }
    runs.push(run);
  }
  return at === dims.length ? runs : null;
}

/**
 * Bounds re-indexed by `dimOf(src)` (null: not expressible). Terms on size-1 view dims (coordinate
 * always 0) drop out; a bound left with no terms holds everywhere or nowhere.
 */
function mapBounds(w: Windowed, dimOf: (src: number) => number | null): WindowBound[] | null {
  const out: WindowBound[] = [];
  for (const b of w.bounds) {
    const terms: [number, number][] = [];
    for (const [d, coef] of b.terms) {
      if (w.view.shape[d] === 1) continue;
      const to = dimOf(d);
      if (to === null) return null;
      terms.push([to, coef]);
    }
    if (terms.length) out.push({ terms, lo: b.lo, hi: b.hi });
    else if (!(b.lo <= 0 && 0 < b.hi)) return null; // reads nothing at all: leave it to the copy
  }
  return out;
}

/**
 * Sliding windows (the unfold movement) of a view whose windowed dims may be masked (padded): the
 * windows of the unmasked view, with each mask turned into a bound (position·step + tap·dilation on
 * a windowed dim). Null when the unmasked view has no such windows.
 */
export function windowsOf(v: View, a: { dims: readonly number[]; sizes: readonly number[]; steps: readonly number[]; dilations: readonly number[] }): Windowed | null {
  const plain: View = { shape: v.shape, strides: v.strides, offset: v.offset };
  const view = unfoldView(plain, a.dims, a.sizes, a.steps, a.dilations);
  if (!view) return null;
  const bounds: WindowBound[] = [];
  (v.mask ?? []).forEach(([lo, hi], d) => {
    if (lo <= 0 && hi >= v.shape[d]) return;
    const t = a.dims.indexOf(d);
    bounds.push(t < 0 ? { terms: [[d, 1]], lo, hi } : { terms: [[d, a.steps[t]], [v.shape.length + t, a.dilations[t]]], lo, hi });
  });
  return { view, bounds, shape: view.shape };
}

/** `w` with its dims permuted (out dim i is dim order[i]), or null when its runs cannot be formed. */
export function permuteWindowed(w: Windowed, order: readonly number[]): Windowed | null {
  const runs = runsOf(w);
  if (!runs) return null;
  const pieces = order.flatMap((i) => runs[i]);
  const bounds = mapBounds(w, (src) => { const i = pieces.findIndex((p) => p.src === src); return i < 0 ? null : i; });
  if (!bounds) return null;
  return {
    view: { shape: pieces.map((p) => p.size), strides: pieces.map((p) => p.stride), offset: w.view.offset },
    bounds, shape: order.map((i) => w.shape[i]),
  };
}

/**
 * `w` (shape [...batch', k, n]) as a matmul's B over the kernel's `batch`: a view over [...batch,
 * ...kDims, ...nDims] with its split and bounds, or null when the batch dims do not merge into one
 * stride each or a bound falls on a batch dim.
 */
export function splitOperand(w: Windowed, batch: readonly number[]): Omit<MatmulOperandB, 'input'> | null {
  const runs = runsOf(w);
  if (!runs) return null;
  const lb = w.shape.length - 2;
  const strides: number[] = [];
  for (let d = 0; d < lb; d++) {
    const run = runs[d];
    const merged = run.length === 0 ? [0] : reshapeStrides(run.map((p) => p.size), run.map((p) => p.stride), [w.shape[d]]);
    if (!merged) return null;
    strides.push(merged[0]);
  }
  const own = (run: Piece[]): Piece[] => (run.length ? run : [{ size: 1, stride: 0, src: -1 }]); // a size-1 k or n keeps one dim
  const kn = [...own(runs[lb]), ...own(runs[lb + 1])];
  const bounds = mapBounds(w, (src) => { const i = kn.findIndex((p) => p.src === src); return i < 0 ? null : batch.length + i; });
  if (!bounds) return null;
  // Broadcast the batch dims to the kernel's (leading dims added, size-1 dims stride 0).
  const lead = batch.length - lb;
  const bStrides = batch.map((size, d) => (d < lead || w.shape[d - lead] !== size ? 0 : strides[d - lead]));
  return {
    view: { shape: [...batch, ...kn.map((p) => p.size)], strides: [...bStrides, ...kn.map((p) => p.stride)], offset: w.view.offset },
    split: [own(runs[lb]).length, own(runs[lb + 1]).length],
    ...(bounds.length ? { bounds } : {}),
  };
}
