// Shape arithmetic: broadcasting, strides, dim normalisation, and strided views (the index arithmetic
// that movement ops become instead of copies).
import { ShapeError, fmtShape } from './errors.js';
import { describeValue } from './validate.js';

export type Shape = readonly number[];

/** Number of elements of a shape (1 for 0-d). */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of a contiguous tensor. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** The integers a, a+1, ..., b-1 (dim lists of composites; a loop: Array.from with a map costs microseconds). */
export function range(a: number, b: number): number[] {
  const out: number[] = [];
  for (let i = a; i < b; i++) out.push(i);
  return out;
}

/** `n` copies of `value` (size lists of composites: 1 per broadcast dim, 0 per unpadded side). */
export function filled(n: number, value: number): number[] {
  return new Array<number>(Math.max(0, n)).fill(value);
}

/**
 * Sizes given as numbers, arrays or a mix (`x.reshape(2, 3)`, `x.reshape([2, 3])`), flattened one
 * level into a new array. By hand: Array.prototype.flat costs about 1.5 µs a call in V8, which every
 * traced reshape of a compiled call pays again.
 */
export function flatSizes(args: readonly (number | readonly number[])[]): number[] {
  const out: number[] = [];
  for (const a of args) {
    if (Array.isArray(a)) for (const d of a) out.push(d);
    else out.push(a as number);
  }
  return out;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Broadcasts two shapes as numpy/PyTorch do, naming the op and the failing dim. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 1; i <= n; i++) {
    const da = i <= a.length ? a[a.length - i] : 1;
    const db = i <= b.length ? b[b.length - i] : 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${op}: cannot broadcast ${fmtShape(a)} with ${fmtShape(b)} (dim -${i}: ${da} vs ${db})`);
    }
    out[n - i] = da === 1 ? db : da;
  }
  return out;
}

/** Normalises a possibly negative dim against a rank; `ndim` 0 accepts -1 and 0 (as PyTorch). */
export function normalizeDim(op: string, dim: number, ndim: number): number {
  const n = Math.max(ndim, 1);
  if (typeof dim !== 'number' || !Number.isInteger(dim)) {
    throw new ShapeError(`${op}: dim must be an integer in ${-n}..${n - 1} for a tensor of rank ${ndim}, got ${describeValue(dim)}`);
  }
  if (dim < -n || dim >= n) {
    throw new ShapeError(`${op}: dim ${dim} is out of range for a tensor of rank ${ndim} (expected ${-n}..${n - 1})`);
  }
  return dim < 0 ? dim + n : dim;
}

/** Normalises a dim argument (number, list, or undefined/null = all dims) to a sorted unique list. */
export function normalizeDims(op: string, dim: number | readonly number[] | undefined | null, ndim: number): number[] {
  if (dim === undefined || dim === null) return Array.from({ length: ndim }, (_, i) => i);
  if (typeof dim !== 'number' && !Array.isArray(dim)) {
    throw new ShapeError(`${op}: dim must be an integer or an array of integers, got ${describeValue(dim)}`);
  }
  const list = typeof dim === 'number' ? [dim] : [...dim];
  const out = list.map((d) => normalizeDim(op, d, ndim)).filter((d) => d < ndim || ndim > 0);
  const uniq = [...new Set(out)].sort((x, y) => x - y);
  if (uniq.length !== out.length) throw new ShapeError(`${op}: dim ${JSON.stringify(dim)} names a dimension twice`);
  return ndim === 0 ? [] : uniq;
}

/** Resolves one -1 in a reshape target against the element count. */
export function inferReshape(op: string, from: Shape, to: readonly number[]): number[] {
  const size = sizeOf(from);
  if (!Array.isArray(to)) throw new ShapeError(`${op}: the target shape must be sizes or an array of sizes, got ${describeValue(to)}`);
  let infer = -1;
  let known = 1;
  to.forEach((d, i) => {
    if (d === -1) {
      if (infer >= 0) throw new ShapeError(`${op}: only one dimension can be -1 in ${fmtShape(to)}`);
      infer = i;
    } else if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw new ShapeError(`${op}: invalid size ${typeof d === 'number' ? d : describeValue(d)} in ${fmtShape(to)}`);
    } else known *= d;
  });
  const out = [...to];
  if (infer >= 0) {
    if (known === 0 || size % known !== 0) {
      throw new ShapeError(`${op}: cannot reshape ${fmtShape(from)} (${size} elements) into ${fmtShape(to)}`);
    }
    out[infer] = size / known;
  }
  if (sizeOf(out) !== size) {
    throw new ShapeError(`${op}: cannot reshape ${fmtShape(from)} (${size} elements) into ${fmtShape(to)} (${sizeOf(out)} elements)`);
  }
  return out;
}

/**
 * Strides for viewing (shape, strides) as `to` without a copy, or null when the layout forbids it
 * (PyTorch's view rule: each group of merged/split dims must be contiguous within itself).
 */
export function reshapeStrides(shape: Shape, strides: readonly number[], to: Shape): number[] | null {
  if (sizeOf(shape) === 0) return contiguousStrides(to);
  // Drop size-1 dims: their strides never matter.
  const dims: number[] = [];
  const strs: number[] = [];
  shape.forEach((d, i) => {
    if (d !== 1) { dims.push(d); strs.push(strides[i]); }
  });
  const out = new Array<number>(to.length).fill(0);
  let i = 0; // index into dims
  let j = 0; // index into to
  while (j < to.length || i < dims.length) {
    if (j < to.length && to[j] === 1) { out[j] = 0; j++; continue; }
    if (i >= dims.length || j >= to.length) return null;
    // Collect a chunk of source dims and target dims with equal products.
    let srcProd = dims[i];
    let dstProd = to[j];
    const i0 = i;
    const j0 = j;
    while (srcProd !== dstProd) {
      if (srcProd < dstProd) { i++; if (i >= dims.length) return null; srcProd *= dims[i]; }
      else { j++; if (j >= to.length) return null; dstProd *= to[j]; }
    }
    // The source chunk must be contiguous within itself.
    for (let k = i0; k < i; k++) if (strs[k] !== strs[k + 1] * dims[k + 1]) return null;
    let s = strs[i];
    for (let k = j; k >= j0; k--) {
      if (to[k] === 1) { out[k] = 0; continue; }
      out[k] = s;
      s *= to[k];
    }
    i++;
    j++;
  }
  return out;
}
