// A float64 reference for the op-info suite, written in plain JS from the PyTorch semantics and
// sharing no code with kiln: strided nested arrays become flat Float64Arrays with a shape and a
// dtype tag, and every op is a direct loop over output coordinates.
import { mulberry32 } from '../rng.js';

/** The dtypes the reference tracks (it only decides rounding and the expected result dtype). */
export type RDType = 'float32' | 'int32' | 'bool';

/** A dense row-major array of float64 values with the dtype kiln is expected to produce. */
export interface RArray {
  readonly shape: readonly number[];
  readonly data: Float64Array;
  readonly dtype: RDType;
}

type Nested = number | boolean | readonly Nested[];

// ----- construction ------------------------------------------------------------------------------

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
  return s;
}

/** Stores a value as `dtype` does: float32 rounding, int32 truncation with wraparound, bool as 0/1. */
export function storeAs(v: number, dtype: RDType): number {
  if (dtype === 'float32') return Math.fround(v);
  if (dtype === 'int32') return Number.isNaN(v) ? 0 : Math.trunc(v) | 0;
  return v !== 0 ? 1 : 0; // NaN is truthy
}

export function arr(shape: readonly number[], data: ArrayLike<number>, dtype: RDType = 'float32'): RArray {
  if (data.length !== sizeOf(shape)) throw new Error(`reference: ${data.length} values for shape [${shape}]`);
  return { shape: [...shape], data: Float64Array.from(data, (v) => storeAs(v, dtype)), dtype };
}

/** Like arr but keeps float64 values exactly (finite differences perturb below float32 precision). */
export function raw(shape: readonly number[], data: ArrayLike<number>, dtype: RDType): RArray {
  return { shape: [...shape], data: Float64Array.from(data), dtype };
}

export function fromNested(x: Nested, dtype: RDType = 'float32'): RArray {
  const shape: number[] = [];
  let p: Nested = x;
  while (Array.isArray(p)) { shape.push(p.length); p = p[0] as Nested; }
  const flat: number[] = [];
  const walk = (v: Nested): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else flat.push(Number(v));
  };
  walk(x);
  return arr(shape, flat, dtype);
}

export const scalar = (v: number, dtype: RDType = 'float32'): RArray => arr([], [v], dtype);

/** Multi-index of flat position `i` in a row-major shape. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) { idx[d] = i % shape[d]; i = Math.floor(i / shape[d]); }
  return idx;
}

export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let o = 0;
  for (let d = 0; d < shape.length; d++) o = o * shape[d] + idx[d];
  return o;
}

const normDim = (d: number, n: number): number => {
  const m = Math.max(n, 1);
  if (d < -m || d >= m) throw new Error(`reference: dim ${d} out of range for rank ${n}`);
  return d < 0 ? d + m : d;
};

/** A dims argument as a sorted list (undefined = all). */
export function dimsOf(dim: number | readonly number[] | undefined, n: number): number[] {
  if (dim === undefined) return Array.from({ length: n }, (_, i) => i);
  const l = typeof dim === 'number' ? [dim] : [...dim];
  return n === 0 ? [] : [...new Set(l.map((d) => normDim(d, n)))].sort((a, b) => a - b);
}

// ----- dtype rules (PyTorch's, restated) ---------------------------------------------------------

const RANK: Record<RDType, number> = { bool: 0, int32: 1, float32: 2 };
export const promote = (...ts: RDType[]): RDType => ts.reduce((a, b) => (RANK[a] >= RANK[b] ? a : b));

// ----- broadcasting and elementwise maps ---------------------------------------------------------

export function broadcastShapes(...shapes: (readonly number[])[]): number[] {
  const n = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let d = 1;
    for (const s of shapes) {
      const k = s.length - n + i;
      const v = k >= 0 ? s[k] : 1;
      if (v !== 1) {
        if (d !== 1 && d !== v) throw new Error(`reference: cannot broadcast [${shapes.map((x) => x.join(',')).join('] [')}]`);
        d = v;
      }
    }
    out.push(d);
  }
  return out;
}

/** Value of `x` at the output multi-index `idx` under broadcasting. */
function at(x: RArray, idx: readonly number[]): number {
  const lead = idx.length - x.shape.length;
  let o = 0;
  for (let d = 0; d < x.shape.length; d++) o = o * x.shape[d] + (x.shape[d] === 1 ? 0 : idx[d + lead]);
  return x.data[o];
}

/** Elementwise map over broadcast inputs; results are stored as `dtype`. */
export function mapN(xs: readonly RArray[], f: (...v: number[]) => number, dtype: RDType): RArray {
  const shape = broadcastShapes(...xs.map((x) => x.shape));
  const n = sizeOf(shape);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, shape);
    out[i] = f(...xs.map((x) => at(x, idx)));
  }
  return { shape, data: dtype === 'float32' ? out : out.map((v) => storeAs(v, dtype)), dtype };
}

// NOTE: float results are kept in float64 (not rounded to float32) so finite differences see
// smooth functions; comparisons round the reference once at the end.
export const map1 = (x: RArray, f: (a: number) => number, dtype: RDType = 'float32') => mapN([x], f, dtype);
export const map2 = (a: RArray, b: RArray, f: (a: number, b: number) => number, dtype: RDType) => mapN([a, b], f, dtype);

/** Casts (int32 truncates toward zero; bool is value != 0, NaN included). */
export const cast = (x: RArray, dtype: RDType): RArray => map1(x, (v) => v, dtype);

/** The dtype a weak JS scalar takes next to a tensor of dtype `t`. */
export function weakScalarDType(t: RDType, v: number | boolean): RDType {
  if (typeof v === 'boolean') return t;
  if (!Number.isInteger(v)) return 'float32';
  return t === 'bool' ? 'int32' : t;
}

// ----- scalar math -------------------------------------------------------------------------------

/** erf in float64: Taylor series near 0, continued fraction for erfc further out (|err| < 1e-13). */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const z = Math.abs(x);
  if (z < 2.5) {
    let term = z, sum = z;
    for (let n = 1; n < 80; n++) {
      term *= (-z * z) / n;
      sum += term / (2 * n + 1);
      if (Math.abs(term) < 1e-18) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (z > 6) return Math.sign(x);
  let k = z;
  for (let n = 80; n >= 1; n--) k = z + n / 2 / k;
  const erfc = Math.exp(-z * z) / (Math.sqrt(Math.PI) * k);
  return Math.sign(x) * (1 - erfc);
}

/** Round half to even. */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** Python's modulo: the result has the divisor's sign. */
export function pyMod(a: number, b: number): number {
  if (b === 0) return NaN;
  if (!Number.isFinite(a)) return NaN;
  if (!Number.isFinite(b)) return Number.isNaN(b) ? NaN : a === 0 || Math.sign(a) === Math.sign(b) ? a : b;
  const r = a - Math.floor(a / b) * b;
  return r;
}

export const sign = (x: number): number => (Number.isNaN(x) ? NaN : x > 0 ? 1 : x < 0 ? -1 : 0);
export const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
export const geluErf = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));
export const geluTanh = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
export function softplus(x: number, beta = 1, threshold = 20): number {
  if (beta * x > threshold) return x;
  const z = beta * x;
  return (Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)))) / beta;
}

/** torch.pow on floats, restated: JS's ** differs only at 1**NaN-like corners we do not sample. */
export const pow = (a: number, b: number): number => Math.pow(a, b);

// ----- reductions --------------------------------------------------------------------------------

/** Reduces `dims` of x: `f` receives the values of one output cell in row-major order. */
export function reduce(x: RArray, dim: number | readonly number[] | undefined, keepdim: boolean,
  f: (vals: number[]) => number, dtype: RDType): RArray {
  const dims = dimsOf(dim, x.shape.length);
  const outShape: number[] = [];
  const keptShape: number[] = [];
  x.shape.forEach((d, i) => {
    if (dims.includes(i)) { if (keepdim) outShape.push(1); } else { outShape.push(d); keptShape.push(d); }
  });
  const groups: number[][] = Array.from({ length: sizeOf(keptShape) }, () => []);
  for (let i = 0; i < x.data.length; i++) {
    const idx = unravel(i, x.shape);
    groups[ravel(idx.filter((_, d) => !dims.includes(d)), keptShape)].push(x.data[i]);
  }
  const data = groups.map(f);
  return { shape: outShape, data: Float64Array.from(data, (v) => (dtype === 'float32' ? v : storeAs(v, dtype))), dtype };
}

const sumDType = (t: RDType): RDType => (t === 'bool' ? 'int32' : t);
export const sum = (x: RArray, dim?: number | readonly number[], keepdim = false) =>
  reduce(x, dim, keepdim, (v) => v.reduce((a, b) => a + b, 0), sumDType(x.dtype));
export const prod = (x: RArray, dim?: number | readonly number[], keepdim = false) =>
  reduce(x, dim, keepdim, (v) => v.reduce((a, b) => a * b, 1), sumDType(x.dtype));
export const mean = (x: RArray, dim?: number | readonly number[], keepdim = false) =>
  reduce(x, dim, keepdim, (v) => v.reduce((a, b) => a + b, 0) / v.length, 'float32');
/** max/min propagate NaN, as torch.amax does. */
export const amax = (x: RArray, dim?: number | readonly number[], keepdim = false) =>
  reduce(x, dim, keepdim, (v) => (v.some(Number.isNaN) ? NaN : Math.max(...v)), x.dtype);
export const amin = (x: RArray, dim?: number | readonly number[], keepdim = false) =>
  reduce(x, dim, keepdim, (v) => (v.some(Number.isNaN) ? NaN : Math.min(...v)), x.dtype);
export function variance(x: RArray, dim?: number | readonly number[], keepdim = false, correction = 1): RArray {
  return reduce(x, dim, keepdim, (v) => {
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    const ss = v.reduce((a, b) => a + (b - m) ** 2, 0);
    return ss / Math.max(v.length - correction, 0);
  }, 'float32');
}
export const std = (x: RArray, dim?: number | readonly number[], keepdim = false, correction = 1) =>
  map1(variance(x, dim, keepdim, correction), Math.sqrt);
export function logsumexp(x: RArray, dim?: number | readonly number[], keepdim = false): RArray {
  return reduce(x, dim, keepdim, (v) => {
    if (v.length === 0) return -Infinity;
    const m = Math.max(...v);
    if (!Number.isFinite(m)) return v.some(Number.isNaN) ? NaN : m;
    return m + Math.log(v.reduce((a, b) => a + Math.exp(b - m), 0));
  }, 'float32');
}
/** Index of the first maximum (NaN counts as the maximum, as in torch). */
function argExt(v: number[], better: (a: number, b: number) => boolean): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) {
    if (Number.isNaN(v[best])) break;
    if (Number.isNaN(v[i]) || better(v[i], v[best])) best = i;
  }
  return best;
}
export function argmax(x: RArray, dim?: number, keepdim = false): RArray {
  if (dim === undefined) {
    const r = reduce(reshape(x, [-1]), 0, false, (v) => argExt(v, (a, b) => a > b), 'int32');
    return keepdim ? reshape(r, x.shape.map(() => 1)) : r;
  }
  return reduce(x, dim, keepdim, (v) => argExt(v, (a, b) => a > b), 'int32');
}
export function argmin(x: RArray, dim?: number, keepdim = false): RArray {
  if (dim === undefined) {
    const r = reduce(reshape(x, [-1]), 0, false, (v) => argExt(v, (a, b) => a < b), 'int32');
    return keepdim ? reshape(r, x.shape.map(() => 1)) : r;
  }
  return reduce(x, dim, keepdim, (v) => argExt(v, (a, b) => a < b), 'int32');
}

// ----- movement ----------------------------------------------------------------------------------

/** Builds an array by reading the input coordinate for every output coordinate (null: `fill`). */
function gatherBy(shape: readonly number[], dtype: RDType, read: (idx: number[]) => number): RArray {
  const n = sizeOf(shape);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = read(unravel(i, shape));
  return { shape: [...shape], data, dtype };
}

const valAt = (x: RArray, idx: readonly number[]) => x.data[ravel(idx, x.shape)];

export function reshape(x: RArray, shape: readonly number[]): RArray {
  const n = sizeOf(x.shape);
  const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const s = shape.map((d) => (d === -1 ? n / known : d));
  if (sizeOf(s) !== n) throw new Error(`reference: reshape [${x.shape}] -> [${shape}]`);
  return { shape: s, data: x.data.slice(), dtype: x.dtype };
}

export function permute(x: RArray, order: readonly number[]): RArray {
  const o = order.map((d) => normDim(d, x.shape.length));
  const shape = o.map((d) => x.shape[d]);
  return gatherBy(shape, x.dtype, (idx) => {
    const src = new Array<number>(idx.length);
    o.forEach((d, i) => { src[d] = idx[i]; });
    return valAt(x, src);
  });
}

export function transpose(x: RArray, a: number, b: number): RArray {
  const n = x.shape.length;
  if (n === 0) return x; // torch: a 0-d tensor's only dims are 0 and -1, and swapping them is the identity
  const order = Array.from({ length: n }, (_, i) => i);
  const [i, j] = [normDim(a, n), normDim(b, n)];
  [order[i], order[j]] = [order[j], order[i]];
  return permute(x, order);
}

export function expand(x: RArray, shape: readonly number[]): RArray {
  const lead = shape.length - x.shape.length;
  const s = shape.map((d, i) => (d === -1 ? x.shape[i - lead] : d));
  return gatherBy(s, x.dtype, (idx) => at(x, idx));
}

/** Python slice semantics per dim: [start, end, step] with clamping, negative indices and steps. */
export function sliceIndices(n: number, spec: readonly [number?, number?, number?] | null | undefined): number[] {
  const [s0, e0, step = 1] = spec ?? [];
  const out: number[] = [];
  if (step > 0) {
    let s = s0 === undefined ? 0 : s0 < 0 ? s0 + n : s0;
    let e = e0 === undefined ? n : e0 < 0 ? e0 + n : e0;
    s = Math.min(Math.max(s, 0), n);
    e = Math.min(Math.max(e, 0), n);
    for (let i = s; i < e; i += step) out.push(i);
  } else {
    let s = s0 === undefined ? n - 1 : s0 < 0 ? s0 + n : s0;
    let e = e0 === undefined ? -1 : e0 < 0 ? e0 + n : e0;
    s = Math.min(Math.max(s, -1), n - 1);
    e = Math.min(Math.max(e, -1), n - 1);
    for (let i = s; i > e; i += step) out.push(i);
  }
  return out;
}

export function slice(x: RArray, specs: readonly (readonly [number?, number?, number?] | null)[]): RArray {
  const picks = x.shape.map((n, d) => sliceIndices(n, specs[d]));
  return gatherBy(picks.map((p) => p.length), x.dtype, (idx) => valAt(x, idx.map((i, d) => picks[d][i])));
}

export const narrow = (x: RArray, dim: number, start: number, length: number): RArray => {
  const d = normDim(dim, x.shape.length);
  const s = start < 0 ? start + x.shape[d] : start;
  return slice(x, x.shape.map((_, i) => (i === d ? [s, s + length] : null)));
};

export function flip(x: RArray, dims: number | readonly number[]): RArray {
  const ds = dimsOf(dims, x.shape.length);
  return gatherBy(x.shape, x.dtype, (idx) => valAt(x, idx.map((i, d) => (ds.includes(d) ? x.shape[d] - 1 - i : i))));
}

export function pad(x: RArray, pairs: readonly (readonly [number, number])[], value = 0): RArray {
  const shape = x.shape.map((n, d) => n + pairs[d][0] + pairs[d][1]);
  return gatherBy(shape, x.dtype, (idx) => {
    const src = idx.map((i, d) => i - pairs[d][0]);
    return src.every((s, d) => s >= 0 && s < x.shape[d]) ? valAt(x, src) : storeAs(value, x.dtype);
  });
}

/** torch's flat pad list (last dim first) as per-dim pairs. */
export function flatPads(n: number, flat: readonly number[]): [number, number][] {
  const pairs: [number, number][] = Array.from({ length: n }, () => [0, 0]);
  for (let i = 0; i < flat.length / 2; i++) pairs[n - 1 - i] = [flat[2 * i], flat[2 * i + 1]];
  return pairs;
}

export function cat(xs: readonly RArray[], dim = 0): RArray {
  const d = normDim(dim, xs[0].shape.length);
  const shape = [...xs[0].shape];
  shape[d] = xs.reduce((a, x) => a + x.shape[d], 0);
  const dtype = promote(...xs.map((x) => x.dtype));
  return gatherBy(shape, dtype, (idx) => {
    let k = idx[d];
    for (const x of xs) {
      if (k < x.shape[d]) return valAt(x, idx.map((v, j) => (j === d ? k : v)));
      k -= x.shape[d];
    }
    throw new Error('unreachable');
  });
}

export function unsqueeze(x: RArray, dim: number): RArray {
  const d = normDim(dim, x.shape.length + 1);
  const s = [...x.shape];
  s.splice(d, 0, 1);
  return reshape(x, s);
}

export function squeeze(x: RArray, dim?: number | readonly number[]): RArray {
  const ds = dimsOf(dim, x.shape.length);
  return reshape(x, x.shape.filter((n, i) => !(ds.includes(i) && n === 1)));
}

export function flatten(x: RArray, start = 0, end = -1): RArray {
  if (x.shape.length === 0) return reshape(x, [1]);
  const s = normDim(start, x.shape.length), e = normDim(end, x.shape.length);
  return reshape(x, [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

export const stack = (xs: readonly RArray[], dim = 0): RArray =>
  cat(xs.map((x) => unsqueeze(x, dim)), dim < 0 ? dim + xs[0].shape.length + 1 : dim);

export function split(x: RArray, size: number | readonly number[], dim = 0): RArray[] {
  const d = normDim(dim, x.shape.length);
  const n = x.shape[d];
  const sizes: number[] = [];
  if (typeof size === 'number') {
    for (let s = 0; s < n; s += size) sizes.push(Math.min(size, n - s));
    if (n === 0) sizes.push(0); // torch: max(ceil(n / size), 1) chunks
  } else sizes.push(...size);
  let start = 0;
  return sizes.map((s) => { const r = narrow(x, d, start, s); start += s; return r; });
}

export function gather(x: RArray, dim: number, index: RArray): RArray {
  const d = normDim(dim, x.shape.length);
  return gatherBy(index.shape, x.dtype, (idx) => valAt(x, idx.map((v, j) => (j === d ? index.data[ravel(idx, index.shape)] : v))));
}

export function indexSelect(x: RArray, dim: number, index: RArray): RArray {
  const d = normDim(dim, x.shape.length);
  const shape = x.shape.map((n, j) => (j === d ? index.data.length : n));
  return gatherBy(shape, x.dtype, (idx) => valAt(x, idx.map((v, j) => (j === d ? index.data[v] : v))));
}

export const embedding = (indices: RArray, weight: RArray): RArray =>
  reshape(indexSelect(weight, 0, reshape(indices, [-1])), [...indices.shape, weight.shape[1]]);

// ----- linear algebra and composites -------------------------------------------------------------

/** torch.matmul: 1-D operands promoted and squeezed, batch dims broadcast. */
export function matmul(a: RArray, b: RArray): RArray {
  const a2 = a.shape.length === 1 ? reshape(a, [1, a.shape[0]]) : a;
  const b2 = b.shape.length === 1 ? reshape(b, [b.shape[0], 1]) : b;
  const [m, k] = a2.shape.slice(-2);
  const n = b2.shape[b2.shape.length - 1];
  if (b2.shape[b2.shape.length - 2] !== k) throw new Error('reference: matmul inner dims');
  const batch = broadcastShapes(a2.shape.slice(0, -2), b2.shape.slice(0, -2));
  const A = expand(a2, [...batch, m, k]);
  const B = expand(b2, [...batch, k, n]);
  const dtype = promote(a.dtype, b.dtype);
  let out = gatherBy([...batch, m, n], dtype, (idx) => {
    const bi = idx.slice(0, -2);
    const [i, j] = idx.slice(-2);
    let s = 0;
    for (let t = 0; t < k; t++) s += valAt(A, [...bi, i, t]) * valAt(B, [...bi, t, j]);
    return dtype === 'int32' ? s | 0 : s;
  });
  if (a.shape.length === 1) out = squeeze(out, -2);
  if (b.shape.length === 1) out = squeeze(out, -1);
  return out;
}

/** Applies `f` to every 1-D lane along `dim` (lane in, lane out). */
function alongDim(x: RArray, dim: number, f: (lane: number[]) => number[]): RArray {
  const d = normDim(dim, x.shape.length);
  const moved = x.shape.length === 0 ? reshape(x, [1]) : permute(x, [...x.shape.keys()].filter((i) => i !== d).concat(d));
  const n = moved.shape[moved.shape.length - 1];
  const data = new Float64Array(moved.data.length);
  for (let o = 0; o < moved.data.length; o += n) data.set(f(Array.from(moved.data.subarray(o, o + n))), o);
  const back = { shape: moved.shape, data, dtype: 'float32' as RDType };
  if (x.shape.length === 0) return reshape(back, []);
  const order = [...x.shape.keys()].filter((i) => i !== d).concat(d);
  const inv: number[] = [];
  order.forEach((src, i) => { inv[src] = i; });
  return permute(back, inv);
}

export function softmax(x: RArray, dim = -1): RArray {
  return alongDim(x, dim, (v) => {
    const m = Math.max(...v);
    const e = v.map((a) => Math.exp(a - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((a) => a / s);
  });
}

export function logSoftmax(x: RArray, dim = -1): RArray {
  return alongDim(x, dim, (v) => {
    const m = Math.max(...v);
    // (a - m) - log Σ e^(b-m): subtracting m first keeps 1e30-sized logits exact.
    const l = Math.log(v.reduce((a, b) => a + Math.exp(b - m), 0));
    return v.map((a) => a - m - l);
  });
}

export function layerNorm(x: RArray, normalized: readonly number[], w?: RArray | null, b?: RArray | null, eps = 1e-5): RArray {
  const k = normalized.length;
  const lead = x.shape.slice(0, x.shape.length - k);
  const n = sizeOf(normalized);
  const data = new Float64Array(x.data.length);
  for (let r = 0; r < sizeOf(lead); r++) {
    const v = x.data.subarray(r * n, (r + 1) * n);
    const m = v.reduce((a, c) => a + c, 0) / n;
    const varr = v.reduce((a, c) => a + (c - m) ** 2, 0) / n;
    for (let i = 0; i < n; i++) {
      let y = (v[i] - m) / Math.sqrt(varr + eps);
      if (w) y *= w.data[i];
      if (b) y += b.data[i];
      data[r * n + i] = y;
    }
  }
  return { shape: [...x.shape], data, dtype: 'float32' };
}

export type Reduction = 'mean' | 'sum' | 'none';
const reduceLoss = (x: RArray, r: Reduction) => (r === 'mean' ? mean(x) : r === 'sum' ? sum(x) : x);

export const mseLoss = (a: RArray, t: RArray, r: Reduction = 'mean') => reduceLoss(map2(a, t, (p, q) => (p - q) ** 2, 'float32'), r);

export function crossEntropy(logits: RArray, target: RArray, r: Reduction = 'mean'): RArray {
  const lp = logSoftmax(logits, -1);
  const c = logits.shape[logits.shape.length - 1];
  const rows = sizeOf(target.shape);
  const data = new Float64Array(rows);
  for (let i = 0; i < rows; i++) data[i] = -lp.data[i * c + target.data[i]];
  return reduceLoss({ shape: [...target.shape], data, dtype: 'float32' }, r);
}

export function binaryCrossEntropy(p: RArray, t: RArray, r: Reduction = 'mean'): RArray {
  const l = map2(p, t, (a, y) => -(y * Math.max(Math.log(a), -100) + (1 - y) * Math.max(Math.log(1 - a), -100)), 'float32');
  return reduceLoss(l, r);
}

// ----- seeded sample generation ------------------------------------------------------------------

/** The tests' seeded generator (test/rng.ts). */
export const makeRng = mulberry32;

/** A stable 32-bit hash of a string (seeds per row, so adding rows never shifts other rows). */
export function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

export type Rng = () => number;

/** Uniform floats in [lo, hi), rounded to float32, avoiding values `avoid` rejects. */
export function uniform(rng: Rng, shape: readonly number[], lo = -2, hi = 2, avoid?: (v: number) => boolean): RArray {
  const data = Array.from({ length: sizeOf(shape) }, () => {
    for (let tries = 0; tries < 10000; tries++) {
      const v = Math.fround(lo + (hi - lo) * rng());
      if (!avoid || !avoid(v)) return v;
    }
    throw new Error(`uniform: no value in [${lo}, ${hi}) passes the filter`);
  });
  return arr(shape, data, 'float32');
}

export function randint(rng: Rng, shape: readonly number[], lo: number, hi: number): RArray {
  return arr(shape, Array.from({ length: sizeOf(shape) }, () => lo + Math.floor(rng() * (hi - lo))), 'int32');
}

export function bools(rng: Rng, shape: readonly number[], pTrue = 0.5): RArray {
  return arr(shape, Array.from({ length: sizeOf(shape) }, () => (rng() < pTrue ? 1 : 0)), 'bool');
}
