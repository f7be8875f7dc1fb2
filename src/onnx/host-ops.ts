// Shape arithmetic on host values, in float64 JS numbers: the moves and integer maths of Shape ->
// Gather -> Concat -> Reshape chains, exact for int64 values up to 2^53 and keeping sentinels such as
// INT64_MAX (Slice's "to the end"), which kiln's int32 tensors could not hold.
import { ShapeError, fmtShape } from '../core/errors.js';
import { broadcastShapes, contiguousStrides, sizeOf } from '../core/shape.js';
import { ElemType, HostTensor, castNumber } from './host.js';

/** Normalises an axis against a rank, naming the op on error. */
export function normAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) throw new ShapeError(`${op}: axis ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

/** Reads element `flat` of the output from an input broadcast to `out`. */
function broadcastIndex(inShape: readonly number[], out: readonly number[]): (flat: number) => number {
  const lead = out.length - inShape.length;
  const inStrides = contiguousStrides(inShape);
  const outStrides = contiguousStrides(out);
  return (flat) => {
    let idx = 0;
    for (let d = 0; d < out.length; d++) {
      const c = Math.floor(flat / outStrides[d]) % out[d];
      const k = d - lead;
      if (k >= 0 && inShape[k] !== 1) idx += c * inStrides[k];
    }
    return idx;
  };
}

/** An elementwise op over broadcast host values. */
export function hostMap(op: string, xs: readonly HostTensor[], f: (...v: number[]) => number, outType: number): HostTensor {
  const shape = xs.reduce<number[]>((s, x) => broadcastShapes(op, s, x.shape), []);
  const n = sizeOf(shape);
  const reads = xs.map((x) => broadcastIndex(x.shape, shape));
  const data = new Array<number>(n);
  const args = new Array<number>(xs.length);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < xs.length; k++) args[k] = xs[k].data[reads[k](i)];
    data[i] = castNumber(f(...args), outType);
  }
  return new HostTensor(outType, shape, data);
}

export function hostReshape(x: HostTensor, shape: readonly number[]): HostTensor {
  return new HostTensor(x.type, shape, x.data);
}

export function hostCast(x: HostTensor, type: number): HostTensor {
  return new HostTensor(type, x.shape, Array.from(x.data, (v) => castNumber(v, type)));
}

/** Concatenation along `axis`. */
export function hostConcat(xs: readonly HostTensor[], axis: number): HostTensor {
  const ref = xs[0].shape;
  const a = normAxis('Concat', axis, ref.length);
  for (const x of xs) {
    if (x.shape.length !== ref.length || x.shape.some((d, i) => i !== a && d !== ref[i])) throw new ShapeError(`Concat: shapes ${xs.map((y) => fmtShape(y.shape)).join(', ')} differ outside axis ${a}`);
  }
  const outer = sizeOf(ref.slice(0, a));
  const inner = sizeOf(ref.slice(a + 1));
  const shape = [...ref];
  shape[a] = xs.reduce((s, x) => s + x.shape[a], 0);
  const data: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const x of xs) {
      const chunk = x.shape[a] * inner;
      for (let i = 0; i < chunk; i++) data.push(x.data[o * chunk + i]);
    }
  }
  return new HostTensor(xs[0].type, shape, data);
}

/** numpy.take along `axis` (negative indices count from the end). */
export function hostGather(x: HostTensor, idx: HostTensor, axis: number): HostTensor {
  const a = normAxis('Gather', axis, x.shape.length);
  const n = x.shape[a];
  const outer = sizeOf(x.shape.slice(0, a));
  const inner = sizeOf(x.shape.slice(a + 1));
  const data: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < idx.size; j++) {
      let k = idx.data[j];
      if (k < 0) k += n;
      if (!(k >= 0 && k < n)) throw new ShapeError(`Gather: index ${idx.data[j]} is out of range for axis ${a} of size ${n}`);
      for (let i = 0; i < inner; i++) data.push(x.data[(o * n + k) * inner + i]);
    }
  }
  return new HostTensor(x.type, [...x.shape.slice(0, a), ...idx.shape, ...x.shape.slice(a + 1)], data);
}

/** Resolved slice bounds of one axis (ONNX Slice clamping rules). */
export function sliceBounds(n: number, start: number, end: number, step: number): { start: number; count: number } {
  if (step === 0) throw new ShapeError('Slice: step must not be 0');
  let s = start < 0 ? start + n : start;
  let e = end < 0 ? end + n : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), n);
    e = Math.min(Math.max(e, 0), n);
    return { start: s, count: Math.max(0, Math.ceil((e - s) / step)) };
  }
  s = Math.min(Math.max(s, -1), n - 1);
  e = Math.min(Math.max(e, -1), n - 1);
  return { start: s, count: Math.max(0, Math.ceil((e - s) / step)) };
}

/** Slice with per-axis start, count and step (already resolved). */
export function hostSlice(x: HostTensor, bounds: readonly { start: number; count: number; step: number }[]): HostTensor {
  const shape = bounds.map((b) => b.count);
  const strides = contiguousStrides(x.shape);
  const n = sizeOf(shape);
  const outStrides = contiguousStrides(shape);
  const data = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    let src = 0;
    for (let d = 0; d < shape.length; d++) {
      const c = Math.floor(i / outStrides[d]) % shape[d];
      src += (bounds[d].start + c * bounds[d].step) * strides[d];
    }
    data[i] = x.data[src];
  }
  return new HostTensor(x.type, shape, data);
}

/** Transpose by a permutation. */
export function hostTranspose(x: HostTensor, perm: readonly number[]): HostTensor {
  const shape = perm.map((p) => x.shape[p]);
  const inStrides = contiguousStrides(x.shape);
  const outStrides = contiguousStrides(shape);
  const data = new Array<number>(x.size);
  for (let i = 0; i < x.size; i++) {
    let src = 0;
    for (let d = 0; d < shape.length; d++) src += (Math.floor(i / outStrides[d]) % shape[d]) * inStrides[perm[d]];
    data[i] = x.data[src];
  }
  return new HostTensor(x.type, shape, data);
}

/** A reduction over `axes` (sorted, normalised). */
export function hostReduce(x: HostTensor, axes: readonly number[], keepdims: boolean, init: number, f: (acc: number, v: number) => number, type = x.type): HostTensor {
  const shape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = new Array<number>(sizeOf(shape)).fill(init);
  const inStrides = contiguousStrides(x.shape);
  const outStrides = contiguousStrides(shape);
  for (let i = 0; i < x.size; i++) {
    let o = 0;
    for (let d = 0; d < x.shape.length; d++) {
      const c = Math.floor(i / inStrides[d]) % x.shape[d];
      if (!axes.includes(d)) o += c * outStrides[d];
    }
    out[o] = f(out[o], x.data[i]);
  }
  const finalShape = keepdims ? shape : x.shape.filter((_, i) => !axes.includes(i));
  return new HostTensor(type, finalShape, out.map((v) => castNumber(v, type)));
}

/** An int64 vector host value. */
export const int64s = (vs: readonly number[]) => HostTensor.vector(ElemType.INT64, vs);
