// torch's scatters as composites (kiln has no scatter primitive): the indices pass through a checked
// gather of 0..n-1 (an out-of-range index raises a ShapeError naming the op, eagerly and compiled,
// where a one-hot alone would silently drop it), a one-hot of them places each update, and a sum
// (add) or a mask (replace) merges it into the input. Gradients reach input and src by composition.
import { DTypeError, KilnError, ShapeError, fmtShape } from './core/errors.js';
import { broadcastShapes, normalizeDim, sizeOf } from './core/shape.js';
import { OPS } from './ops/index.js';
import { apply } from './dispatch.js';
import { arange } from './creation.js';
import { Tensor } from './tensor.js';
import { checkIndexDType, scalarOf } from './tensor-ops.js';

/** `index` unchanged, raising a ShapeError naming `op` where an index is outside 0..n-1. */
function checkedIndex(op: string, index: Tensor, n: number): Tensor {
  const ids = arange(n, undefined, 1, { dtype: 'int32', backend: index.backend });
  return apply(OPS.gather, [ids, index.reshape([-1])], { axis: 0, op }).reshape(index.shape);
}

/** [1, .., n (at dim `at`), .., 1] of rank `rank`: the classes a one-hot compares against. */
function classesAt(like: Tensor, n: number, at: number, rank: number): Tensor {
  return arange(n, undefined, 1, { dtype: 'int32', backend: like.backend }).reshape(Array.from({ length: rank }, (_, i) => (i === at ? n : 1)));
}

/** Zero-pads t's dims up to `shape` (indices may cover fewer positions than the input has). */
function padTo(t: Tensor, shape: readonly number[], value: number | boolean): Tensor {
  const pads = t.shape.map((d, i): [number, number] => [0, shape[i] - d]);
  if (pads.every(([, r]) => r === 0)) return t;
  return typeof value === 'boolean' ? t.to('int32').pad(pads, 0).to('bool') : t.pad(pads, value);
}

type Mode = 'replace' | 'add';

/** Shared core of scatter and scatterAdd: index has input's rank, src covers index. */
function scatterAlong(op: string, input: Tensor, dim: number, index: Tensor, src: Tensor | number, mode: Mode): Tensor {
  if (!(input instanceof Tensor)) throw new KilnError(`${op}: input must be a tensor`);
  checkIndexDType(op, 'index', index);
  if (index.ndim !== input.ndim) throw new ShapeError(`${op}: index ${fmtShape(index.shape)} must have the rank of input ${fmtShape(input.shape)}`);
  const d = normalizeDim(op, dim, input.ndim);
  if (input.ndim === 0) {
    const s = src instanceof Tensor ? (src.ndim === 0 ? src.reshape([1]) : src) : src;
    return scatterAlong(op, input.reshape([1]), 0, index.reshape([1]), s, mode).reshape([]);
  }
  if (index.shape.some((s, i) => i !== d && s > input.shape[i])) {
    throw new ShapeError(`${op}: index ${fmtShape(index.shape)} must be no larger than input ${fmtShape(input.shape)} outside dim ${d}`);
  }
  let u: Tensor;
  if (src instanceof Tensor) {
    if (src.ndim !== index.ndim || index.shape.some((s, i) => s > src.shape[i])) {
      throw new ShapeError(`${op}: src ${fmtShape(src.shape)} must have the rank of index ${fmtShape(index.shape)} and be no smaller in any dim`);
    }
    // Only the part of src that index covers is read.
    u = src.shape.some((s, i) => s !== index.shape[i]) ? src.slice(index.shape.map((s) => [0, s] as [number, number])) : src;
    u = u.to(input.dtype);
  } else {
    if (typeof src !== 'number' && typeof src !== 'boolean') throw new KilnError(`${op}: src must be a tensor or a number`);
    u = scalarOf(input, src).expand(index.shape);
  }
  const n = input.shape[d];
  const idx = checkedIndex(op, index, n).unsqueeze(d + 1);
  const hit = idx.eq(classesAt(index, n, d + 1, index.ndim + 1)); // [.., m (at d), n, ..]: update j lands on k
  const ue = u.unsqueeze(d + 1);
  if (mode === 'add') return input.add(padTo(ue.where(hit, scalarOf(u, 0)).sum(d), input.shape, 0)).to(input.dtype);
  // Duplicates: the last update along dim (the highest j) wins.
  const m = index.shape[d];
  const pos = classesAt(index, m, d, index.ndim + 1);
  // (An empty index has no duplicates, and amax has nothing to reduce.)
  const won = m === 0 ? hit : hit.logicalAnd(pos.eq(pos.where(hit, -1).amax(d, true)));
  const placed = padTo(ue.where(won, scalarOf(u, 0)).sum(d), input.shape, 0);
  const mask = padTo(hit.to('int32').sum(d).gt(0), input.shape, false);
  return placed.to(input.dtype).where(mask, input);
}

/** torch.scatter: out[.., index[..j..], ..] = src[..j..] along `dim` (src a tensor or a number); duplicates: the last along dim wins. */
export function scatter(input: Tensor, dim: number, index: Tensor, src: Tensor | number): Tensor {
  return scatterAlong('scatter', input, dim, index, src, 'replace');
}

/** torch.scatter_add: out[.., index[..j..], ..] += src[..j..] along `dim`; duplicates accumulate. */
export function scatterAdd(input: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  if (!(src instanceof Tensor)) throw new KilnError('scatterAdd: src must be a tensor');
  return scatterAlong('scatterAdd', input, dim, index, src, 'add');
}

export interface IndexAddOptions {
  /** Multiplier of source (default 1). */
  readonly alpha?: number;
}

/** torch.index_add: out[.., index[i], ..] += alpha·source[.., i, ..] along `dim` (index 1-D); duplicates accumulate. */
export function indexAdd(input: Tensor, dim: number, index: Tensor, source: Tensor, options: IndexAddOptions = {}): Tensor {
  const op = 'indexAdd';
  if (!(input instanceof Tensor) || !(source instanceof Tensor)) throw new KilnError(`${op}: input and source must be tensors`);
  checkIndexDType(op, 'index', index);
  if (index.ndim > 1) throw new ShapeError(`${op}: index must be 1-D, got ${fmtShape(index.shape)}`);
  const d = normalizeDim(op, dim, input.ndim);
  const len = index.ndim === 0 ? 1 : index.shape[0];
  const want = input.ndim === 0 ? [len] : input.shape.map((s, i) => (i === d ? len : s));
  if (input.ndim === 0 ? source.size !== len : (source.ndim !== want.length || source.shape.some((s, i) => s !== want[i]))) {
    throw new ShapeError(`${op}: source ${fmtShape(source.shape)} must be ${fmtShape(want)} (input ${fmtShape(input.shape)} with dim ${d} the index's length ${len})`);
  }
  const alpha = options.alpha ?? 1;
  const scaled = alpha === 1 ? source : source.mul(alpha);
  if (input.ndim === 0) return scatterAlong(op, input, 0, index.reshape([]), scaled.reshape([]), 'add');
  const idx = index.reshape(want.map((_, i) => (i === d ? len : 1))).expand(want);
  return scatterAlong(op, input, d, idx, scaled, 'add');
}

export interface IndexPutOptions {
  /** Add values into the input instead of replacing (duplicates accumulate). Default false. */
  readonly accumulate?: boolean;
}

/**
 * torch.index_put: out[indices[0][j], indices[1][j], ..] = values[j] (advanced indexing of the leading
 * indices.length dims by int32 index tensors broadcast together; negative indices count from the end).
 * Without accumulate, duplicates: the last (in broadcast row-major order) wins.
 */
export function indexPut(input: Tensor, indices: readonly Tensor[], values: Tensor | number, options: IndexPutOptions = {}): Tensor {
  const op = 'indexPut';
  if (!(input instanceof Tensor)) throw new KilnError(`${op}: input must be a tensor`);
  if (!Array.isArray(indices) || indices.length === 0) throw new KilnError(`${op}: indices must be a non-empty array of int32 index tensors`);
  if (indices.length > input.ndim) throw new ShapeError(`${op}: ${indices.length} index tensors for input ${fmtShape(input.shape)} of rank ${input.ndim}`);
  indices.forEach((t, i) => {
    if (t instanceof Tensor && t.dtype === 'bool') throw new DTypeError(`${op}: indices[${i}] is a bool mask; only int32 index tensors are supported (use maskedFill or nonzero indices)`);
    checkIndexDType(op, `indices[${i}]`, t);
  });
  const k = indices.length;
  const bshape = indices.reduce<number[]>((s, t) => broadcastShapes(op, s, t.shape), []);
  const lead = input.shape.slice(0, k), rest = input.shape.slice(k);
  const m = sizeOf(lead), count = sizeOf(bshape), r = sizeOf(rest);
  // Flat row of each index tuple (negatives wrapped, then checked against each dim).
  let rows: Tensor | null = null;
  indices.forEach((t, i) => {
    const wrapped = t.where(t.ge(0), t.add(lead[i]));
    const checked = checkedIndex(op, wrapped.expand(bshape).reshape([count]), lead[i]);
    const term = checked.mul(sizeOf(lead.slice(i + 1)));
    rows = rows === null ? term : rows.add(term);
  });
  const target = [...bshape, ...rest];
  let v: Tensor;
  if (values instanceof Tensor) {
    const vs = broadcastShapes(op, values.shape, target);
    if (vs.length !== target.length || vs.some((s, i) => s !== target[i])) {
      throw new ShapeError(`${op}: values ${fmtShape(values.shape)} must broadcast to ${fmtShape(target)} (indices ${fmtShape(bshape)} then input dims ${fmtShape(rest)})`);
    }
    v = values.to(input.dtype).expand(target);
  } else {
    if (typeof values !== 'number' && typeof values !== 'boolean') throw new KilnError(`${op}: values must be a tensor or a number`);
    v = scalarOf(input, values).expand(target);
  }
  const u = v.reshape([count, 1, r]);
  const hit = (rows as unknown as Tensor).unsqueeze(1).eq(classesAt(input, m, 1, 2)).unsqueeze(2); // [count, m, 1]
  const flat = input.reshape([m, r]);
  let out: Tensor;
  if (options.accumulate) out = flat.add(u.where(hit, scalarOf(u, 0)).sum(0)).to(input.dtype);
  else {
    const pos = classesAt(input, count, 0, 3);
    const won = count === 0 ? hit : hit.logicalAnd(pos.eq(pos.where(hit, -1).amax(0, true)));
    const placed = u.where(won, scalarOf(u, 0)).sum(0).to(input.dtype);
    out = placed.where(hit.to('int32').sum(0).gt(0), flat);
  }
  return out.reshape(input.shape);
}
