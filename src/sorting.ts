// sort, argsort and topk. Stable: equal values keep their order (descending too, as torch's stable
// sort); NaN sorts as the largest value. Values are gathered at the sorted indices, so the gradient
// flows back through the gather to the element each value came from. Short rows sort by ranks in
// fused kernels (no host read, so compiled code keeps one graph); long rows sort on the host, where
// the backend can read synchronously (a graph break in compiled code), as O(n²) ranks would not end.
import { getBackend } from './core/backend.js';
import { KilnError, ShapeError, fmtShape } from './core/errors.js';
import type { DType } from './core/dtype.js';
import { normalizeDim } from './core/shape.js';
import { arange, full, tensor } from './creation.js';
import type { ValuesIndices } from './tensor-ops.js';
import { expectTensor, type Tensor } from './tensor.js';

export interface SortOptions {
  /** Default -1. */
  dim?: number;
  descending?: boolean;
  /** kiln's sort is always stable; accepted for torch's signature. */
  stable?: boolean;
}

/**
 * The sorting permutation along the last dim by ranks: the rank of element i is the number of
 * elements ordered before it (NaN largest, ties by position), and index r of the result is the i
 * with rank r. O(n²) work per row, all of it fused elementwise and reduce kernels.
 */
function argsortLast(x: Tensor, descending: boolean): Tensor {
  const n = x.shape[x.ndim - 1];
  const xi = x.unsqueeze(-1); // [..., n, 1]: element i
  const xj = x.unsqueeze(-2); // [..., 1, n]: element j
  const isNanI = xi.ne(xi), isNanJ = xj.ne(xj);
  const ids = arange(n, undefined, 1, { backend: x.backend });
  const earlier = ids.reshape([1, n]).lt(ids.reshape([n, 1])); // [i, j]: j < i
  // j comes before i: strictly ordered before it, or equal (NaN equals NaN) and earlier.
  const strict = descending
    ? xj.gt(xi).logicalOr(isNanJ.logicalAnd(isNanI.logicalNot()))
    : xj.lt(xi).logicalOr(isNanI.logicalAnd(isNanJ.logicalNot()));
  const tie = xj.eq(xi).logicalOr(isNanI.logicalAnd(isNanJ));
  const rank = strict.logicalOr(tie.logicalAnd(earlier)).to('int32').sum(-1); // [..., n]
  // indices[r] = Σ_i i·[rank_i = r]
  const hit = rank.unsqueeze(-2).eq(ids.reshape([n, 1])); // [..., r, i]
  return hit.to('int32').mul(ids.reshape([1, n])).sum(-1);
}

/** Rows longer than this sort on the host when the backend reads synchronously. */
export const HOST_SORT_MIN = 1024;

/** Row positions fit below this, so a 32-bit order key and a position pack exactly into a float64. */
const POSITION_LIMIT = 2 ** 21;

/**
 * Order keys as unsigned 32-bit integers: float32 bits flipped so that integer order is numeric
 * order, with every NaN above +Infinity and -0 equal to +0 (both orders of the rank path); int32 and
 * bool offset to be non-negative.
 */
function orderKeys(data: ArrayLike<number>, dtype: DType): Uint32Array {
  const keys = new Uint32Array(data.length);
  if (dtype === 'float32') {
    const f = Float32Array.from(data);
    const bits = new Uint32Array(f.buffer);
    for (let i = 0; i < f.length; i++) {
      const v = f[i];
      const u = v !== v ? 0xffffffff : v === 0 ? 0 : bits[i];
      keys[i] = v !== v ? u : u & 0x80000000 ? ~u >>> 0 : (u | 0x80000000) >>> 0;
    }
  } else for (let i = 0; i < data.length; i++) keys[i] = (data[i] + 0x80000000) >>> 0;
  return keys;
}

/**
 * The same permutation as argsortLast, computed on the host in O(n log n): each element's order key
 * and position packed into one float64 (exact below POSITION_LIMIT), sorted natively; ties keep their
 * positions, so the sort is stable in both directions.
 */
function argsortLastOnHost(x: Tensor, descending: boolean): Tensor {
  const n = x.shape[x.ndim - 1];
  const keys = orderKeys(x.data() as ArrayLike<number>, x.dtype);
  const out = new Int32Array(keys.length);
  const packed = new Float64Array(n);
  for (let base = 0; base < keys.length; base += n) {
    for (let i = 0; i < n; i++) packed[i] = (descending ? 0xffffffff - keys[base + i] : keys[base + i]) * POSITION_LIMIT + i;
    packed.sort();
    for (let i = 0; i < n; i++) out[base + i] = packed[i] % POSITION_LIMIT;
  }
  return tensor(out, { shape: x.shape, backend: x.backend });
}

function sortIndices(op: string, x: Tensor, dim: number, descending: boolean): { d: number; indices: Tensor } {
  if (x.ndim === 0) {
    normalizeDim(op, dim, 0);
    return { d: 0, indices: full([], 0, { dtype: 'int32', backend: x.backend }) };
  }
  const d = normalizeDim(op, dim, x.ndim);
  if (x.shape[d] === 0) return { d, indices: x.eq(x).to('int32') };
  const last = d === x.ndim - 1;
  const rows = last ? x : x.movedim(d, -1);
  const onHost = x.shape[d] > HOST_SORT_MIN && x.shape[d] < POSITION_LIMIT && getBackend(x.backend).syncReads;
  const idx = onHost ? argsortLastOnHost(rows, descending) : argsortLast(rows, descending);
  return { d, indices: last ? idx : idx.movedim(-1, d) };
}

/** Sorted values along `dim` and the indices they came from (int32). */
export function sort(x: Tensor, o: SortOptions = {}): ValuesIndices {
  expectTensor('sort', 'the input', x);
  checkOptions('sort', o);
  const { dim = -1, descending = false } = o;
  const { d, indices } = sortIndices('sort', x, dim, descending);
  return { values: x.ndim === 0 ? x : x.gather(d, indices), indices };
}

/** The indices that sort `dim` (stable). */
export function argsort(x: Tensor, o: SortOptions = {}): Tensor {
  expectTensor('argsort', 'the input', x);
  checkOptions('argsort', o);
  const { dim = -1, descending = false } = o;
  return sortIndices('argsort', x, dim, descending).indices;
}

export interface TopkOptions {
  /** Default -1. */
  dim?: number;
  /** The k largest (default) or smallest. */
  largest?: boolean;
  /** kiln returns them sorted in either case. */
  sorted?: boolean;
}

/** The k largest (or smallest) values along `dim`, in order, with their indices. */
export function topk(x: Tensor, k: number, o: TopkOptions = {}): ValuesIndices {
  expectTensor('topk', 'the input', x);
  checkOptions('topk', o);
  const { dim = -1, largest = true } = o;
  const d = normalizeDim('topk', dim, x.ndim);
  const n = x.ndim === 0 ? 1 : x.shape[d];
  if (!Number.isInteger(k) || k < 0 || k > n) throw new ShapeError(`topk: k = ${k} is out of range for dim ${dim} of size ${n} in ${fmtShape(x.shape)}`);
  const { values, indices } = sort(x, { dim: d, descending: largest });
  if (x.ndim === 0) return { values, indices };
  return { values: values.narrow(d, 0, k), indices: indices.narrow(d, 0, k) };
}

/** Keyword arguments come as an object: a stray positional dim would otherwise be ignored. */
function checkOptions(op: string, o: unknown): void {
  if (o !== undefined && (typeof o !== 'object' || o === null)) {
    throw new KilnError(`${op}: options must be an object such as { dim: -1, descending: true }, got ${JSON.stringify(o)}`);
  }
}
