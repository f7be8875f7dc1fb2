// Everyday tensor ops of torch's API as composites of primitives (so they trace, fuse and
// differentiate for free): masking, triangles, one-hot, repeats, rolls, diagonals, products with
// scaling, interpolation, float classification, closeness, norms, and max/min with indices.
import { getBackend } from './core/backend.js';
import type { DType } from './core/dtype.js';
import { DTypeError, KilnError, ShapeError, fmtShape } from './core/errors.js';
import { checkScalar, describeValue } from './core/validate.js';
import { normalizeDim, normalizeDims, sizeOf } from './core/shape.js';
import { OPS } from './ops/index.js';
import { activeTracer, apply } from './dispatch.js';
import { arange, full } from './creation.js';
import { Tensor, expectTensor, type Dims, type TensorLike } from './tensor.js';
import * as F from './functional.js';

/** torch's `(values, indices)` result of max/min/sort/topk along a dim. */
export interface ValuesIndices {
  readonly values: Tensor;
  readonly indices: Tensor;
}

/** A 0-d constant of `dtype` holding `v` (cast as torch casts a fill value into the tensor's dtype). */
export function scalarOf(like: Tensor, v: number | boolean, dtype: DType = like.dtype): Tensor {
  const t = like._scalar(v);
  return t.dtype === dtype ? t : t.to(dtype);
}

/**
 * True when the tensor's values can be read now: eager, on a backend with synchronous reads, and,
 * while compile() traces, laid out contiguously (making a strided view contiguous would be traced).
 */
export function readable(t: Tensor): boolean {
  return !t._lazy && getBackend(t.backend).syncReads && (!activeTracer() || t.isContiguous());
}

/** Index tensors must be int32. */
export function checkIndexDType(op: string, arg: string, t: Tensor): void {
  if (!(t instanceof Tensor)) throw new KilnError(`${op}: ${arg} must be a tensor of int32 indices`);
  if (t.dtype !== 'int32') throw new DTypeError(`${op}: ${arg} must hold int32 indices, got ${t.dtype}`);
}

/** `x` where mask is false, `value` (cast to x's dtype) where it is true. */
export function maskedFill(x: Tensor, mask: Tensor, value: TensorLike): Tensor {
  expectTensor('maskedFill', 'the input', x);
  if (!(mask instanceof Tensor) || mask.dtype !== 'bool') throw new DTypeError(`maskedFill: mask must be a bool tensor, got ${mask instanceof Tensor ? mask.dtype : typeof mask}`);
  let v: Tensor;
  if (value instanceof Tensor) {
    if (value.ndim !== 0) throw new ShapeError(`maskedFill: value must be a number or a 0-d tensor, got shape ${fmtShape(value.shape)}`);
    v = value.to(x.dtype);
  } else v = scalarOf(x, value);
  const out = apply(OPS.where, [mask, v, x]);
  if (out.ndim !== x.ndim || out.shape.some((d, i) => d !== x.shape[i])) {
    throw new ShapeError(`maskedFill: mask ${fmtShape(mask.shape)} must broadcast to input ${fmtShape(x.shape)}`);
  }
  return out;
}

/** The bool mask of the lower (`lower`) or upper triangle of the last two dims, offset by `diagonal`. */
function triangle(op: string, x: Tensor, diagonal: number, lower: boolean): Tensor {
  expectTensor(op, 'the input', x);
  if (x.ndim < 2) throw new ShapeError(`${op}: input must have at least 2 dims, got ${fmtShape(x.shape)}`);
  if (!Number.isInteger(diagonal)) throw new KilnError(`${op}: diagonal must be an integer, got ${diagonal}`);
  const [m, n] = x.shape.slice(-2);
  const rows = arange(m, undefined, 1, { backend: x.backend }).reshape([m, 1]);
  const cols = arange(n, undefined, 1, { backend: x.backend }).reshape([1, n]);
  const offset = cols.sub(rows);
  return lower ? offset.le(diagonal) : offset.ge(diagonal);
}

/** The lower triangle of the last two dims (j - i <= diagonal), zeros elsewhere. */
export function tril(x: Tensor, diagonal = 0): Tensor {
  const mask = triangle('tril', x, diagonal, true);
  return x.where(mask, scalarOf(x, 0));
}

/** The upper triangle of the last two dims (j - i >= diagonal), zeros elsewhere. */
export function triu(x: Tensor, diagonal = 0): Tensor {
  const mask = triangle('triu', x, diagonal, false);
  return x.where(mask, scalarOf(x, 0));
}

/** One-hot encoding of int32 class indices: [...] -> [..., numClasses] int32 (-1: the largest index + 1). */
export function oneHot(indices: Tensor, numClasses = -1): Tensor {
  checkIndexDType('oneHot', 'indices', indices);
  let c = numClasses;
  if (c === -1) {
    if (indices.size === 0) throw new ShapeError('oneHot: cannot infer numClasses from an empty tensor; pass it');
    if (!indices._lazy && !getBackend(indices.backend).syncReads) {
      throw new KilnError(`oneHot: numClasses -1 reads the largest index, which ${indices.backend} does only asynchronously; pass numClasses`);
    }
    c = (indices.amax().item() as number) + 1;
  }
  if (!Number.isInteger(c) || c < 1) throw new KilnError(`oneHot: numClasses must be a positive integer or -1, got ${numClasses}`);
  // The indices pass through a checked gather of 0..c-1 (the identity on valid ones): a class out of
  // range raises an error naming oneHot eagerly, compiled and on every backend alike, where comparing
  // against arange alone would silently give a row of zeros.
  const ids = arange(c, undefined, 1, { dtype: 'int32', backend: indices.backend });
  const checked = apply(OPS.gather, [ids, indices.reshape([-1])], { axis: 0, op: 'oneHot' }).reshape(indices.shape);
  return checked.unsqueeze(-1).eq(ids).to('int32');
}

function checkCounts(op: string, what: string, xs: readonly number[]): void {
  if (!Array.isArray(xs)) throw new KilnError(`${op}: ${what} must be an array of non-negative integers, got ${describeValue(xs)}`);
  if (xs.some((v) => !Number.isInteger(v) || v < 0)) throw new KilnError(`${op}: ${what} must be non-negative integers, got ${fmtShape(xs)}`);
}

/** torch's repeat: tiles the tensor `sizes[i]` times along dim i (leading sizes add dims). */
export function repeat(x: Tensor, sizes: readonly number[]): Tensor {
  expectTensor('repeat', 'the input', x);
  checkCounts('repeat', 'repeat counts', sizes);
  if (sizes.length < x.ndim) {
    throw new ShapeError(`repeat: ${sizes.length} repeat counts given for a tensor of rank ${x.ndim} ${fmtShape(x.shape)} (at least ${x.ndim} needed)`);
  }
  const shape = [...sizes.slice(0, sizes.length - x.ndim).map(() => 1), ...x.shape];
  // [s0, s1, ...] seen as [1, s0, 1, s1, ...], broadcast to [r0, s0, r1, s1, ...] and merged pairwise.
  const spaced = x.reshape(shape.flatMap((s) => [1, s]));
  const wide = spaced.expand(shape.flatMap((s, i) => [sizes[i], s]));
  return wide.reshape(shape.map((s, i) => s * sizes[i]));
}

/** torch's tile: repeat with missing leading counts taken as 1. */
export function tile(x: Tensor, dims: readonly number[]): Tensor {
  expectTensor('tile', 'the input', x);
  checkCounts('tile', 'tile counts', dims);
  const full = dims.length < x.ndim ? [...x.shape.slice(0, x.ndim - dims.length).map(() => 1), ...dims] : [...dims];
  return repeat(x, full);
}

/** Splits into `chunks` pieces of equal size along `dim` (the last may be smaller; fewer when it does not divide). */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  expectTensor('chunk', 'the input', x);
  if (!Number.isInteger(chunks) || chunks < 1) throw new KilnError(`chunk: chunks must be a positive integer, got ${chunks}`);
  if (x.ndim === 0) throw new ShapeError('chunk: a 0-d tensor cannot be chunked');
  const d = normalizeDim('chunk', dim, x.ndim);
  const n = x.shape[d];
  return F.split(x, Math.max(1, Math.ceil(n / chunks)), d);
}

/** Rotates elements along dims by shifts (flattened first when dims are omitted), as torch.roll. */
export function roll(x: Tensor, shifts: number | readonly number[], dims?: number | readonly number[]): Tensor {
  expectTensor('roll', 'the input', x);
  const ss = typeof shifts === 'number' ? [shifts] : Array.isArray(shifts) ? [...shifts] : [NaN];
  if (ss.some((s) => !Number.isInteger(s))) throw new KilnError(`roll: shifts must be integers, got ${describeValue(shifts)}`);
  if (dims === undefined) {
    if (ss.length !== 1) throw new ShapeError(`roll: without dims, shifts must be one number, got ${JSON.stringify(shifts)}`);
    return roll(x.reshape([-1]), ss[0], 0).reshape(x.shape);
  }
  if (typeof dims !== 'number' && !Array.isArray(dims)) throw new KilnError(`roll: dims must be an integer or an array of integers, got ${describeValue(dims)}`);
  const ds = typeof dims === 'number' ? [dims] : [...dims];
  if (ds.length !== ss.length) throw new ShapeError(`roll: ${ss.length} shifts for ${ds.length} dims`);
  let out = x;
  ds.forEach((dim, i) => {
    const d = normalizeDim('roll', dim, x.ndim);
    if (x.ndim === 0) return;
    const n = x.shape[d];
    if (n === 0) return;
    const s = ((ss[i] % n) + n) % n;
    if (s === 0) return;
    out = F.cat([out.narrow(d, n - s, s), out.narrow(d, 0, n - s)], d);
  });
  return out;
}

/**
 * torch.diagonal: the diagonal at `offset` of the plane (dim1, dim2), as a new last dim (a slice with
 * step n+1 of the plane flattened, so the gradient is a slice's).
 */
export function diagonal(x: Tensor, offset = 0, dim1 = 0, dim2 = 1): Tensor {
  expectTensor('diagonal', 'the input', x);
  if (x.ndim < 2) throw new ShapeError(`diagonal: input must have at least 2 dims, got ${fmtShape(x.shape)}`);
  if (!Number.isInteger(offset)) throw new KilnError(`diagonal: offset must be an integer, got ${offset}`);
  const a = normalizeDim('diagonal', dim1, x.ndim), b = normalizeDim('diagonal', dim2, x.ndim);
  if (a === b) throw new ShapeError(`diagonal: dim1 and dim2 must differ, both are ${a}`);
  const rest = x.shape.map((_, i) => i).filter((i) => i !== a && i !== b);
  const plane = x.permute([...rest, a, b]);
  const [m, n] = [x.shape[a], x.shape[b]];
  const len = Math.max(0, offset >= 0 ? Math.min(m, n - offset) : Math.min(m + offset, n));
  const lead = rest.map((i) => x.shape[i]);
  if (len === 0) return F.sliceTensor(plane.reshape([...lead, m * n]), [...lead.map(() => null), [0, 0]]);
  const start = offset >= 0 ? offset : -offset * n;
  return F.sliceTensor(plane.reshape([...lead, m * n]), [...lead.map(() => null), [start, start + (len - 1) * (n + 1) + 1, n + 1]]);
}

/** torch.diag: a 1-D input becomes a matrix with it on diagonal `diagonal`; a 2-D input gives that diagonal. */
export function diag(x: Tensor, diag = 0): Tensor {
  expectTensor('diag', 'the input', x);
  if (!Number.isInteger(diag)) throw new KilnError(`diag: diagonal must be an integer, got ${diag}`);
  if (x.ndim === 2) return diagonal(x, diag, 0, 1);
  if (x.ndim !== 1) throw new ShapeError(`diag: input must be 1-D or 2-D, got ${fmtShape(x.shape)}`);
  const n = x.shape[0];
  const eyeMask = arange(n, undefined, 1, { backend: x.backend }).reshape([n, 1]).eq(arange(n, undefined, 1, { backend: x.backend }));
  const square = x.reshape([n, 1]).expand([n, n]).where(eyeMask, scalarOf(x, 0));
  if (diag === 0) return square;
  const k = Math.abs(diag);
  return F.pad(square, diag > 0 ? [[0, k], [k, 0]] : [[k, 0], [0, k]]);
}

/** Outer product of two 1-D tensors. */
export function outer(a: Tensor, b: Tensor): Tensor {
  expectTensor('outer', 'the first operand', a);
  expectTensor('outer', 'the second operand', b);
  if (a.ndim !== 1 || b.ndim !== 1) throw new ShapeError(`outer: both inputs must be 1-D, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  return a.reshape([a.shape[0], 1]).mul(b.reshape([1, b.shape[0]]));
}

/** start + weight·(end − start), computed from the nearer end as torch does (exact at weight 0 and 1). */
export function lerp(start: Tensor, end: Tensor, weight: TensorLike): Tensor {
  expectTensor('lerp', 'the start', start);
  expectTensor('lerp', 'the end', end);
  if (!(weight instanceof Tensor)) checkScalar('lerp', 'the weight', weight);
  const w = weight instanceof Tensor ? weight : start._scalar(weight, 'lerp');
  const diff = end.sub(start);
  const low = w.abs().lt(0.5);
  return start.add(w.mul(diff)).where(low, end.sub(diff.mul(w.neg().add(1))));
}

export interface ScaleOptions {
  /** Multiplier of `input` (0 ignores it, NaN included, as torch). */
  beta?: number;
  /** Multiplier of the product. */
  alpha?: number;
}

/** The tensors of addmm/baddbmm, checked. */
function expectOperands(op: string, input: Tensor, a: Tensor, b: Tensor, names: readonly [string, string]): void {
  expectTensor(op, 'the input', input);
  expectTensor(op, names[0], a);
  expectTensor(op, names[1], b);
}

function scaledSum(input: Tensor, product: Tensor, o: ScaleOptions): Tensor {
  const { beta = 1, alpha = 1 } = o;
  const p = alpha === 1 ? product : product.mul(alpha);
  if (beta === 0) return p.add(0).expand(p.shape);
  return p.add(beta === 1 ? input : input.mul(beta));
}

/** beta·input + alpha·(mat1 @ mat2) for 2-D mat1, mat2. */
export function addmm(input: Tensor, mat1: Tensor, mat2: Tensor, o: ScaleOptions = {}): Tensor {
  expectOperands('addmm', input, mat1, mat2, ['mat1', 'mat2']);
  if (mat1.ndim !== 2 || mat2.ndim !== 2) throw new ShapeError(`addmm: mat1 and mat2 must be 2-D, got ${fmtShape(mat1.shape)} and ${fmtShape(mat2.shape)}`);
  return checkedOut('addmm', input, scaledSum(input, mat1.matmul(mat2), o));
}

/** beta·input + alpha·(batch1 @ batch2) for 3-D batches. */
export function baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, o: ScaleOptions = {}): Tensor {
  expectOperands('baddbmm', input, batch1, batch2, ['batch1', 'batch2']);
  if (batch1.ndim !== 3 || batch2.ndim !== 3) throw new ShapeError(`baddbmm: batch1 and batch2 must be 3-D, got ${fmtShape(batch1.shape)} and ${fmtShape(batch2.shape)}`);
  if (batch1.shape[0] !== batch2.shape[0]) throw new ShapeError(`baddbmm: batch sizes differ: ${fmtShape(batch1.shape)} and ${fmtShape(batch2.shape)}`);
  return checkedOut('baddbmm', input, scaledSum(input, batch1.matmul(batch2), o));
}

/** The product decides the shape: `input` must broadcast to it. */
function checkedOut(op: string, input: Tensor, out: Tensor): Tensor {
  const [m, n] = out.shape.slice(-2);
  const ok = input.ndim <= out.ndim && input.shape.every((d, i) => d === 1 || d === out.shape[out.ndim - input.ndim + i]);
  if (!ok) throw new ShapeError(`${op}: input ${fmtShape(input.shape)} does not broadcast to the product's shape ${fmtShape(out.shape)} (${m}x${n})`);
  return out;
}

/** True where x is NaN. */
export function isnan(x: Tensor): Tensor { return expectTensor('isnan', 'the input', x).ne(x); }

/** True where x is ±Inf. */
export function isinf(x: Tensor): Tensor {
  expectTensor('isinf', 'the input', x);
  return x.dtype === 'float32' ? x.abs().eq(Infinity) : x.ne(x);
}

/** True where x is neither NaN nor ±Inf. */
export function isfinite(x: Tensor): Tensor {
  expectTensor('isfinite', 'the input', x);
  return x.dtype === 'float32' ? x.sub(x).eq(0) : x.eq(x);
}

export interface CloseOptions {
  rtol?: number;
  atol?: number;
  /** NaN equals NaN. */
  equalNan?: boolean;
}

/** |a − b| <= atol + rtol·|b| elementwise (equal infinities are close; NaN only with equalNan). */
export function isclose(a: Tensor, b: Tensor, o: CloseOptions = {}): Tensor {
  return closeMask('isclose', a, b, o);
}

/** isclose, its messages naming `op` (allclose asks it). */
function closeMask(op: string, a: Tensor, b: Tensor, o: CloseOptions): Tensor {
  expectTensor(op, 'the first operand', a);
  expectTensor(op, 'the second operand', b);
  const { rtol = 1e-5, atol = 1e-8, equalNan = false } = o ?? {};
  if (!(rtol >= 0) || !(atol >= 0)) throw new KilnError(`${op}: rtol and atol must be non-negative, got ${rtol} and ${atol}`);
  if (a.dtype !== 'float32' && b.dtype !== 'float32') return a.eq(b);
  const af = a.to('float32'), bf = b.to('float32');
  // a == b covers equal infinities; the tolerance test only counts where b is finite (else rtol·|b| is inf).
  const within = af.sub(bf).abs().le(bf.abs().mul(rtol).add(atol)).logicalAnd(isfinite(bf));
  let close = af.eq(bf).logicalOr(within);
  if (equalNan) close = close.logicalOr(isnan(af).logicalAnd(isnan(bf)));
  return close;
}

/** True when every element of a and b is close (see isclose); reads the result. */
export function allclose(a: Tensor, b: Tensor, o: CloseOptions = {}): boolean {
  const far = closeMask('allclose', a, b, o).logicalNot().to('int32').sum();
  if (!getBackend(far.backend).syncReads) throw new KilnError(`allclose: reads a value, which ${far.backend} does only asynchronously: use await allcloseAsync(a, b)`);
  return far.item() === 0;
}

/** allclose for backends with asynchronous reads (webgpu). */
export async function allcloseAsync(a: Tensor, b: Tensor, o: CloseOptions = {}): Promise<boolean> {
  return (await closeMask('allcloseAsync', a, b, o).logicalNot().to('int32').sum().itemAsync()) === 0;
}

const FLOAT32_MAX = 3.4028234663852886e38;

export interface NanToNumOptions {
  nan?: number;
  /** Default: the largest float32. */
  posinf?: number;
  /** Default: the lowest float32. */
  neginf?: number;
}

/** Replaces NaN, +Inf and −Inf by finite values (integers pass through). */
export function nanToNum(x: Tensor, o: NanToNumOptions = {}): Tensor {
  expectTensor('nanToNum', 'the input', x);
  if (x.dtype !== 'float32') return x;
  const { nan = 0, posinf = FLOAT32_MAX, neginf = -FLOAT32_MAX } = o ?? {};
  return x.where(x.eq(x), nan).where(x.ne(Infinity), posinf).where(x.ne(-Infinity), neginf);
}

export interface VectorNormOptions {
  /** The order: 2 (default), 1, Infinity, -Infinity, 0 (count of non-zeros) or any p. */
  ord?: number;
  dim?: Dims;
  keepdim?: boolean;
}

/**
 * torch.linalg.vector_norm. The gradient at an all-zero input is 0 (as torch's), not 0/0: the root
 * reads a stand-in 1 there and the result picks 0.
 */
export function vectorNorm(x: Tensor, o: VectorNormOptions = {}): Tensor {
  return vectorNormAs('vectorNorm', x, o);
}

/** vectorNorm, its messages naming `op` (norm and linalg.norm are vectorNorm by other names). */
export function vectorNormAs(op: string, x: Tensor, o: VectorNormOptions = {}): Tensor {
  expectTensor(op, 'the input', x);
  const { ord = 2, dim, keepdim = false } = o ?? {};
  if (typeof ord !== 'number' || Number.isNaN(ord)) throw new KilnError(`${op}: ord must be a number (Infinity for the max norm), got ${String(ord)}`);
  if (x.dtype !== 'float32') throw new DTypeError(`${op}: input must be float32, got ${x.dtype}`);
  const dims = normalizeDims(op, dim, x.ndim);
  const a = x.abs();
  if (ord === Infinity || ord === -Infinity) {
    if (sizeOf(dims.map((d) => x.shape[d])) === 0) throw new ShapeError(`${op}: the ${ord > 0 ? '' : '-'}inf norm of an empty dim ${fmtShape(x.shape)} is undefined`);
    return ord > 0 ? a.amax(dims, keepdim) : a.amin(dims, keepdim);
  }
  if (ord === 0) return x.ne(0).to('float32').sum(dims, keepdim);
  if (ord === 1) return a.sum(dims, keepdim);
  const s = ord === 2 ? x.mul(x).sum(dims, keepdim) : a.pow(ord).sum(dims, keepdim);
  const zero = s.eq(0);
  const root = ord === 2 ? s.where(zero.logicalNot(), 1).sqrt() : s.where(zero.logicalNot(), 1).pow(1 / ord);
  return ord > 0 ? root.where(zero.logicalNot(), 0) : s.pow(1 / ord);
}

/** torch.norm: the vector p-norm over `dim` (all dims by default); 'fro' is p = 2. */
export function norm(x: Tensor, p: number | 'fro' = 'fro', dim?: Dims, keepdim = false): Tensor {
  expectTensor('norm', 'the input', x);
  if (p !== 'fro' && typeof p !== 'number') throw new KilnError(`norm: p must be a number or 'fro', got ${String(p)}`);
  return vectorNormAs('norm', x, { ord: p === 'fro' ? 2 : p, dim, keepdim });
}

/**
 * max or min along `dim` with the index of the first extremum (NaN counts as the extremum, as
 * torch's). The values are gathered at those indices, so the gradient goes to that one element.
 */
export function extremumAlong(x: Tensor, which: 'max' | 'min', dim: number, keepdim = false): ValuesIndices {
  F.checkKeepdim(which, keepdim);
  const d = normalizeDim(which, dim, x.ndim);
  if (x.ndim > 0 && x.shape[d] === 0) throw new ShapeError(`${which}: cannot reduce over an empty dimension of ${fmtShape(x.shape)} (dims [${d}])`);
  if (x.ndim === 0) return { values: x, indices: full([], 0, { dtype: 'int32', backend: x.backend }) };
  const idx = F.argReduce(x, which === 'max' ? 'argmax' : 'argmin', d, true);
  const values = x.gather(d, idx);
  return keepdim ? { values, indices: idx } : { values: values.squeeze(d), indices: idx.squeeze(d) };
}
