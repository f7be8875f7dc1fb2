// Views as graph values (functionalization): while compile() traces, a view and the tensor it views
// share one base, a flat array of the base's elements. Reading a view after its base was written
// re-derives it from the base's current value; writing into a view scatters the value into the base.
// Both are expressed with movement ops (slice, reshape, permute, expand, flip, pad) and a where, so
// they fuse like any other index arithmetic.
import type { View } from '../src/core/kernel.js';
import { sizeOf } from '../src/core/shape.js';
import type { OpName } from '../src/ops/index.js';

/** What the trace lends these functions: records an op node and reports node shapes. */
export interface Emitter {
  op(name: OpName, inputs: readonly number[], attrs: unknown): number;
  shape(id: number): readonly number[];
  /** A 0-d bool constant node. */
  bool(value: boolean): number;
  /** A 1-D constant node holding `values` (int32 indices or bool flags). */
  constant(values: readonly number[], dtype: 'int32' | 'bool'): number;
}

/** The flat element offset of every element of `v`, in row-major order of its shape. */
function offsetsOf(v: View): number[] {
  const out: number[] = [];
  const walk = (dim: number, at: number) => {
    if (dim === v.shape.length) { out.push(at); return; }
    for (let i = 0; i < v.shape[dim]; i++) walk(dim + 1, at + i * v.strides[dim]);
  };
  walk(0, v.offset);
  return out;
}

/** A layout movement ops cannot rebuild (strides that do not nest): every element picked by index. */
const byIndex = (v: View, n: number): number[] | null => {
  if (v.mask) return null;
  const at = offsetsOf(v);
  return at.every((p) => p >= 0 && p < n) ? at : null;
};

/** A strided view over a flat buffer of `n` elements, normalised for rebuilding with movement ops. */
interface FlatLayout {
  readonly offset: number;
  /** Dims of size > 1 with a positive stride, outermost (largest stride) first. */
  readonly core: readonly { readonly dim: number; readonly size: number; readonly stride: number }[];
  /** Dims walked backwards (negative strides). */
  readonly flips: readonly number[];
  /** Broadcast dims (stride 0, size > 1). */
  readonly expands: readonly number[];
}

/**
 * The layout of `v` over a flat buffer of `n` elements, or null when movement ops cannot express it
 * (strides that overlap or do not nest, or elements outside the buffer; such views are read and
 * written by index instead, see byIndex).
 */
function layoutOf(v: View, n: number): FlatLayout | null {
  if (v.mask) return null;
  let offset = v.offset;
  const flips: number[] = [], expands: number[] = [];
  const core: { dim: number; size: number; stride: number }[] = [];
  v.shape.forEach((size, dim) => {
    let stride = v.strides[dim];
    if (size === 1) return;
    if (stride < 0) { offset += (size - 1) * stride; stride = -stride; flips.push(dim); }
    if (stride === 0) expands.push(dim);
    else core.push({ dim, size, stride });
  });
  core.sort((a, b) => b.stride - a.stride || a.dim - b.dim);
  for (let i = 0; i + 1 < core.length; i++) {
    const [a, b] = [core[i], core[i + 1]];
    if (a.stride % b.stride !== 0 || b.size * b.stride > a.stride) return null;
  }
  const last = offset + core.reduce((s, d) => s + (d.size - 1) * d.stride, 0);
  if (offset < 0 || last >= n) return null;
  return { offset, core, flips, expands };
}

/** The shape the core dims are first laid out in: [n1, s1/s2, ..., s(k-1)/sk, sk]. */
function gridShape(l: FlatLayout): number[] {
  const c = l.core;
  if (!c.length) return [1];
  return [c[0].size, ...c.slice(1).map((d, i) => c[i].stride / d.stride), c[c.length - 1].stride];
}

/** The core dims' sizes, in the view's dim order. */
const coreShape = (l: FlatLayout) => [...l.core].sort((a, b) => a.dim - b.dim).map((d) => d.size);

/** permute order taking the core from view dim order to largest-stride-first. */
function toStrideOrder(l: FlatLayout): number[] {
  const byDim = [...l.core].sort((a, b) => a.dim - b.dim);
  return l.core.map((d) => byDim.indexOf(d));
}

const isIdentity = (order: readonly number[]) => order.every((d, i) => d === i);

function reshape(e: Emitter, x: number, shape: readonly number[]): number {
  const s = e.shape(x);
  return s.length === shape.length && s.every((d, i) => d === shape[i]) ? x : e.op('reshape', [x], { shape: [...shape] });
}

function slice(e: Emitter, x: number, starts: readonly number[], ends: readonly number[]): number {
  const s = e.shape(x);
  if (starts.every((a) => a === 0) && ends.every((b, i) => b === s[i])) return x;
  return e.op('slice', [x], { starts: [...starts], ends: [...ends], steps: s.map(() => 1) });
}

function pad(e: Emitter, x: number, pads: readonly (readonly [number, number])[]): number {
  if (pads.every(([a, b]) => a === 0 && b === 0)) return x;
  return e.op('pad', [x], { pads: pads.map(([a, b]) => [a, b]) });
}

/** Node reading view `v` out of `flat` (a node of shape [n]); null when the layout is not expressible. */
export function readView(e: Emitter, flat: number, n: number, v: View): number | null {
  if (sizeOf(v.shape) === 0) return reshape(e, slice(e, flat, [0], [0]), v.shape);
  const l = layoutOf(v, n);
  if (!l) {
    const at = byIndex(v, n);
    if (!at) return null;
    const picked = e.op('indexSelect', [flat, e.constant(at, 'int32')], { axis: 0 });
    return reshape(e, picked, v.shape);
  }
  const grid = gridShape(l);
  const span = grid.reduce((a, b) => a * b, 1);
  let x = slice(e, flat, [l.offset], [Math.min(l.offset + span, n)]);
  if (l.offset + span > n) x = pad(e, x, [[0, l.offset + span - n]]);
  x = reshape(e, x, grid);
  // Keep size_i of each core dim inside its row, and element 0 of the innermost stride.
  const ends = l.core.length ? [...l.core.map((d) => d.size), 1] : [1];
  x = slice(e, x, grid.map(() => 0), ends);
  x = reshape(e, x, l.core.map((d) => d.size));
  const back = toStrideOrder(l).map((_, i, o) => o.indexOf(i));
  if (!isIdentity(back)) x = e.op('permute', [x], { order: back });
  x = reshape(e, x, v.shape.map((d, i) => (l.expands.includes(i) ? 1 : d)));
  if (l.expands.length) x = e.op('expand', [x], { shape: [...v.shape] });
  if (l.flips.length) x = e.op('flip', [x], { dims: [...l.flips] });
  return x;
}

/**
 * Node of `flat` (shape [n]) with `value` (shape v.shape, flat's dtype) written into view `v`; null
 * when the layout is not expressible. A write into a broadcast view keeps the last element along
 * the broadcast dims, as a sequential write of every element would.
 */
export function writeView(e: Emitter, flat: number, n: number, v: View, value: number): number | null {
  if (sizeOf(v.shape) === 0) return flat;
  const l = layoutOf(v, n);
  if (!l) {
    const at = byIndex(v, n);
    if (!at) return null;
    // For each element of the base, the last view element written there (a sequential write's result).
    const source = new Array<number>(n).fill(-1);
    at.forEach((p, i) => { source[p] = i; });
    const values = reshape(e, value, [at.length]);
    const moved = e.op('indexSelect', [values, e.constant(source.map((i) => Math.max(i, 0)), 'int32')], { axis: 0 });
    return e.op('where', [e.constant(source.map((i) => (i >= 0 ? 1 : 0)), 'bool'), moved, flat], {});
  }
  let x = value;
  if (l.flips.length) x = e.op('flip', [x], { dims: [...l.flips] });
  if (l.expands.length) x = slice(e, x, v.shape.map((d, i) => (l.expands.includes(i) ? d - 1 : 0)), v.shape);
  x = reshape(e, x, coreShape(l));
  const order = toStrideOrder(l);
  if (!isIdentity(order)) x = e.op('permute', [x], { order });
  const grid = gridShape(l);
  const inner = l.core.length ? [...l.core.map((d) => d.size), 1] : [1];
  const pads = grid.map((g, i): [number, number] => [0, g - inner[i]]);
  const span = grid.reduce((a, b) => a * b, 1);
  const keep = Math.min(span, n - l.offset);
  const place = (t: number) => {
    let y = reshape(e, pad(e, reshape(e, t, inner), pads), [span]);
    y = slice(e, y, [0], [keep]);
    return pad(e, y, [[l.offset, n - l.offset - keep]]);
  };
  const mask = place(e.op('expand', [e.bool(true)], { shape: inner }));
  return e.op('where', [mask, place(x), flat], {});
}
