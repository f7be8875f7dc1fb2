// Float64 references for the everyday tensor ops, layers and losses (opinfo-parity.ts), written as
// direct loops from PyTorch's documented semantics and sharing no code with kiln.
import * as R from './reference.js';
import type { RArray, RDType } from './reference.js';

const normDim = (d: number, n: number): number => {
  const m = Math.max(n, 1);
  if (d < -m || d >= m) throw new Error(`reference: dim ${d} out of range for rank ${n}`);
  return d < 0 ? d + m : d;
};

function build(shape: readonly number[], dtype: RDType, value: (idx: number[]) => number): RArray {
  const n = R.sizeOf(shape);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = value(R.unravel(i, shape));
  return { shape: [...shape], data: dtype === 'float32' ? data : data.map((v) => R.storeAs(v, dtype)), dtype };
}

const at = (x: RArray, idx: readonly number[]) => x.data[R.ravel(idx, x.shape)];

/** Lanes along `dim`: calls f(lane values, lane coordinates) for every lane. */
function lanes(x: RArray, dim: number, f: (vals: number[], coords: number[][]) => void): void {
  const d = normDim(dim, x.shape.length);
  if (x.shape.length === 0) { f([x.data[0]], [[]]); return; }
  const rest = x.shape.map((s, i) => (i === d ? 1 : s));
  for (let o = 0; o < R.sizeOf(rest); o++) {
    const base = R.unravel(o, rest);
    const coords = Array.from({ length: x.shape[d] }, (_, j) => base.map((v, i) => (i === d ? j : v)));
    f(coords.map((c) => at(x, c)), coords);
  }
}

// ----- masking, triangles, one-hot -----------------------------------------------------------------

export function maskedFill(x: RArray, mask: RArray, value: number): RArray {
  return R.mapN([x, mask], (v, m) => (m ? value : v), x.dtype);
}

export function tri(x: RArray, diagonal: number, lower: boolean): RArray {
  const n = x.shape.length;
  return build(x.shape, x.dtype, (idx) => {
    const keep = lower ? idx[n - 1] - idx[n - 2] <= diagonal : idx[n - 1] - idx[n - 2] >= diagonal;
    return keep ? at(x, idx) : 0;
  });
}

export function oneHot(x: RArray, c: number): RArray {
  return build([...x.shape, c], 'int32', (idx) => (x.data[R.ravel(idx.slice(0, -1), x.shape)] === idx[idx.length - 1] ? 1 : 0));
}

// ----- scatters ------------------------------------------------------------------------------------

/** torch.scatter / scatter_add: every index position j (row-major) writes or adds src[j] at index[j] along dim. */
export function scatter(x: RArray, dim: number, index: RArray, src: RArray | number, add: boolean): RArray {
  const out = Float64Array.from(x.data);
  const n = x.shape.length;
  const d = n === 0 ? 0 : normDim(dim, n);
  for (let i = 0; i < index.data.length; i++) {
    const j = R.unravel(i, index.shape);
    const v = typeof src === 'number' ? src : at(src, j);
    const t = n === 0 ? 0 : R.ravel(j.map((c, a) => (a === d ? index.data[i] : c)), x.shape);
    out[t] = add ? out[t] + v : v;
  }
  return { shape: [...x.shape], data: x.dtype === 'float32' ? out : out.map((v) => R.storeAs(v, x.dtype)), dtype: x.dtype };
}

/** torch.index_add: out[.., index[i], ..] += alpha·source[.., i, ..]. */
export function indexAdd(x: RArray, dim: number, index: RArray, source: RArray, alpha: number): RArray {
  const out = Float64Array.from(x.data);
  const n = x.shape.length;
  const d = n === 0 ? 0 : normDim(dim, n);
  for (let i = 0; i < source.data.length; i++) {
    const j = R.unravel(i, source.shape);
    const t = n === 0 ? 0 : R.ravel(j.map((c, a) => (a === d ? index.data[c] : c)), x.shape);
    out[t] += alpha * source.data[i];
  }
  return { shape: [...x.shape], data: x.dtype === 'float32' ? out : out.map((v) => R.storeAs(v, x.dtype)), dtype: x.dtype };
}

/** torch.index_put: indices broadcast together, negatives wrap, values broadcast to [...B, ...rest]. */
export function indexPut(x: RArray, indices: readonly RArray[], values: RArray | number, accumulate: boolean): RArray {
  const out = Float64Array.from(x.data);
  const k = indices.length;
  const b = R.broadcastShapes(...indices.map((t) => t.shape));
  const rest = x.shape.slice(k);
  const target = [...b, ...rest];
  for (let i = 0; i < R.sizeOf(target); i++) {
    const j = R.unravel(i, target);
    const bj = j.slice(0, b.length);
    const lead = indices.map((t, a) => {
      const v = t.data[R.ravel(bj.slice(b.length - t.shape.length).map((c, q) => (t.shape[q] === 1 ? 0 : c)), t.shape)];
      return v < 0 ? v + x.shape[a] : v;
    });
    let v: number;
    if (typeof values === 'number') v = values;
    else {
      const vj = j.slice(j.length - values.shape.length).map((c, q) => (values.shape[q] === 1 ? 0 : c));
      v = values.data[R.ravel(vj, values.shape)];
    }
    const t = R.ravel([...lead, ...j.slice(b.length)], x.shape);
    out[t] = accumulate ? out[t] + v : v;
  }
  return { shape: [...x.shape], data: x.dtype === 'float32' ? out : out.map((v) => R.storeAs(v, x.dtype)), dtype: x.dtype };
}

// ----- scans ---------------------------------------------------------------------------------------

export function scan(x: RArray, dim: number, op: 'sum' | 'prod'): RArray {
  const dtype: RDType = x.dtype === 'bool' ? 'int32' : x.dtype;
  const out = new Float64Array(x.data.length);
  lanes(x, dim, (vals, coords) => {
    let acc = op === 'sum' ? 0 : 1;
    vals.forEach((v, j) => {
      acc = op === 'sum' ? acc + v : acc * v;
      out[x.shape.length === 0 ? 0 : R.ravel(coords[j], x.shape)] = acc;
    });
  });
  return { shape: [...x.shape], data: dtype === 'float32' ? out : out.map((v) => R.storeAs(v, dtype)), dtype };
}

// ----- sorting -------------------------------------------------------------------------------------

/** Stable sort order of a lane, NaN largest. */
function order(vals: number[], descending: boolean): number[] {
  const key = (v: number) => (Number.isNaN(v) ? Infinity : v);
  const ids = vals.map((_, i) => i);
  return ids.sort((a, b) => {
    const [va, vb] = [vals[a], vals[b]];
    const na = Number.isNaN(va), nb = Number.isNaN(vb);
    let c: number;
    if (na || nb) c = na === nb ? 0 : na ? 1 : -1;
    else c = key(va) < key(vb) ? -1 : key(va) > key(vb) ? 1 : 0;
    if (descending) c = -c;
    return c !== 0 ? c : a - b;
  });
}

/** [values, indices] of a stable sort along `dim`, keeping the first `k` (all by default). */
export function sort(x: RArray, dim: number, descending: boolean, k?: number): [RArray, RArray] {
  const d = normDim(dim, x.shape.length);
  const n = x.shape.length === 0 ? 1 : x.shape[d];
  const kk = k ?? n;
  const shape = x.shape.map((s, i) => (i === d ? kk : s));
  const values = new Float64Array(R.sizeOf(shape));
  const indices = new Float64Array(R.sizeOf(shape));
  lanes(x, dim, (vals, coords) => {
    const o = order(vals, descending).slice(0, kk);
    o.forEach((src, j) => {
      const pos = x.shape.length === 0 ? 0 : R.ravel(coords[j].map((v, i) => (i === d ? j : v)), shape);
      values[pos] = vals[src];
      indices[pos] = src;
    });
  });
  return [{ shape, data: values, dtype: x.dtype }, { shape, data: indices, dtype: 'int32' }];
}

/** [values, indices] of max/min along a dim: the first extremum, NaN winning (as torch). */
export function extremum(x: RArray, dim: number, keepdim: boolean, isMax: boolean): [RArray, RArray] {
  const idx = isMax ? R.argmax(x, x.shape.length === 0 ? undefined : dim, keepdim) : R.argmin(x, x.shape.length === 0 ? undefined : dim, keepdim);
  const d = normDim(dim, x.shape.length);
  const full = keepdim || x.shape.length === 0 ? idx : R.unsqueeze(idx, d);
  const vals = x.shape.length === 0 ? x : R.gather(x, d, full);
  return [keepdim || x.shape.length === 0 ? vals : R.squeeze(vals, d), x.shape.length === 0 ? R.arr([], [0], 'int32') : idx];
}

// ----- einsum --------------------------------------------------------------------------------------

/** einsum by brute force: every assignment of every label, products summed into the output cell. */
export function einsum(eq: string, xs: readonly RArray[]): RArray {
  const [lhs, rhs] = eq.replace(/\s+/g, '').split('->');
  const subs = lhs.split(',');
  const ellDims = Math.max(0, ...subs.map((s, i) => (s.includes('...') ? xs[i].shape.length - (s.length - 3) : 0)));
  const ell = Array.from({ length: ellDims }, (_, i) => String(ellDims - 1 - i));
  const expand = (s: string, nd: number) => {
    const parts = s.split('...');
    if (parts.length === 1) return [...s];
    const k = nd - (parts[0].length + parts[1].length);
    return [...parts[0], ...ell.slice(ellDims - k), ...parts[1]];
  };
  const labels = subs.map((s, i) => expand(s, xs[i].shape.length));
  const size = new Map<string, number>();
  labels.forEach((ls, i) => ls.forEach((l, j) => { const d = xs[i].shape[j]; if (!size.has(l) || size.get(l) === 1) size.set(l, d); }));
  let out: string[];
  if (rhs === undefined) {
    const count = new Map<string, number>();
    for (const s of subs) for (const c of s.replace('...', '')) count.set(c, (count.get(c) ?? 0) + 1);
    out = [...ell, ...[...count].filter(([, c]) => c === 1).map(([l]) => l).sort()];
  } else out = expand(rhs, rhs.replace('...', '').length + ellDims);
  const all = [...size.keys()];
  const outShape = out.map((l) => size.get(l)!);
  const data = new Float64Array(R.sizeOf(outShape));
  const total = R.sizeOf(all.map((l) => size.get(l)!));
  const dtype = R.promote(...xs.map((x) => x.dtype));
  for (let a = 0; a < total; a++) {
    const val = R.unravel(a, all.map((l) => size.get(l)!));
    const of = (l: string) => val[all.indexOf(l)];
    let p = 1;
    xs.forEach((x, i) => { p *= at(x, labels[i].map((l, j) => (x.shape[j] === 1 ? 0 : of(l)))); });
    data[R.ravel(out.map(of), outShape)] += p;
  }
  return { shape: outShape, data, dtype };
}

// ----- repeats, rolls, diagonals -------------------------------------------------------------------

export function repeat(x: RArray, sizes: readonly number[]): RArray {
  const lead = sizes.length - x.shape.length;
  const shape = [...Array(lead).fill(1), ...x.shape];
  const out = shape.map((s, i) => s * sizes[i]);
  return build(out, x.dtype, (idx) => x.data[R.ravel(idx.slice(lead).map((v, i) => v % x.shape[i]), x.shape)]);
}

export function roll(x: RArray, shifts: readonly number[], dims: readonly number[] | undefined): RArray {
  if (dims === undefined) {
    const flat = R.reshape(x, [-1]);
    return R.reshape(roll(flat, shifts, [0]), x.shape);
  }
  const ds = dims.map((d) => normDim(d, x.shape.length));
  return build(x.shape, x.dtype, (idx) => {
    const src = [...idx];
    ds.forEach((d, i) => { const n = x.shape[d]; src[d] = (((idx[d] - shifts[i]) % n) + n) % n; });
    return at(x, src);
  });
}

export function diagonal(x: RArray, offset: number, d1: number, d2: number): RArray {
  const a = normDim(d1, x.shape.length), b = normDim(d2, x.shape.length);
  const rest = x.shape.map((_, i) => i).filter((i) => i !== a && i !== b);
  const [m, n] = [x.shape[a], x.shape[b]];
  const len = Math.max(0, offset >= 0 ? Math.min(m, n - offset) : Math.min(m + offset, n));
  return build([...rest.map((i) => x.shape[i]), len], x.dtype, (idx) => {
    const src = new Array<number>(x.shape.length);
    rest.forEach((r, j) => { src[r] = idx[j]; });
    const t = idx[idx.length - 1];
    src[a] = offset >= 0 ? t : t - offset;
    src[b] = offset >= 0 ? t + offset : t;
    return at(x, src);
  });
}

export function diagEmbed(x: RArray, offset: number): RArray {
  const n = x.shape[0] + Math.abs(offset);
  return build([n, n], x.dtype, ([i, j]) => (j - i === offset ? x.data[offset >= 0 ? i : j] : 0));
}

// ----- arithmetic ----------------------------------------------------------------------------------

export const outer = (a: RArray, b: RArray) => build([a.shape[0], b.shape[0]], R.promote(a.dtype, b.dtype), ([i, j]) => a.data[i] * b.data[j]);

export const lerp = (s: RArray, e: RArray, w: RArray) => R.mapN([s, e, w], (a, b, t) => a + t * (b - a), 'float32');

export function addmm(input: RArray, a: RArray, b: RArray, beta: number, alpha: number): RArray {
  const p = R.matmul(a, b);
  return R.mapN([input, p], (i, v) => (beta === 0 ? 0 : beta * i) + alpha * v, 'float32');
}

export const isnan = (x: RArray) => R.map1(x, (v) => (Number.isNaN(v) ? 1 : 0), 'bool');
export const isinf = (x: RArray) => R.map1(x, (v) => (v === Infinity || v === -Infinity ? 1 : 0), 'bool');
export const isfinite = (x: RArray) => R.map1(x, (v) => (Number.isFinite(v) ? 1 : 0), 'bool');

export function isclose(a: RArray, b: RArray, rtol: number, atol: number, equalNan: boolean): RArray {
  return R.mapN([a, b], (x, y) => {
    if (Number.isNaN(x) || Number.isNaN(y)) return equalNan && Number.isNaN(x) && Number.isNaN(y) ? 1 : 0;
    if (x === y) return 1;
    if (!Number.isFinite(x) || !Number.isFinite(y)) return 0;
    return Math.abs(x - y) <= atol + rtol * Math.abs(y) ? 1 : 0;
  }, 'bool');
}

const F32_MAX = 3.4028234663852886e38;
export const nanToNum = (x: RArray, nan: number, posinf = F32_MAX, neginf = -F32_MAX) =>
  R.map1(x, (v) => (Number.isNaN(v) ? nan : v === Infinity ? posinf : v === -Infinity ? neginf : v), x.dtype);

export function vectorNorm(x: RArray, ord: number, dim: number | readonly number[] | undefined, keepdim: boolean): RArray {
  return R.reduce(x, dim, keepdim, (v) => {
    const a = v.map(Math.abs);
    if (ord === Infinity) return Math.max(...a);
    if (ord === -Infinity) return Math.min(...a);
    if (ord === 0) return a.filter((t) => t !== 0).length;
    return a.reduce((s, t) => s + t ** ord, 0) ** (1 / ord);
  }, 'float32');
}

// ----- attention and normalisation -----------------------------------------------------------------

/** softmax(q kᵀ·scale + mask) v with a bool "may attend" mask, a float additive mask, or causal. */
export function attention(q: RArray, k: RArray, v: RArray, o: { mask?: RArray; causal?: boolean; scale?: number }): RArray {
  const E = q.shape[q.shape.length - 1];
  const scale = o.scale ?? 1 / Math.sqrt(E);
  let s = R.map1(R.matmul(q, R.transpose(k, -2, -1)), (x) => x * scale);
  const [L, S] = s.shape.slice(-2);
  if (o.causal) s = build(s.shape, 'float32', (idx) => (idx[idx.length - 1] > idx[idx.length - 2] ? -Infinity : at(s, idx)));
  if (o.mask) s = R.mapN([s, o.mask], (x, m) => (o.mask!.dtype === 'bool' ? (m ? x : -Infinity) : x + m), 'float32');
  void L; void S;
  return R.matmul(R.softmax(s, -1), v);
}

export function rmsNorm(x: RArray, normalized: readonly number[], w: RArray | null, eps: number): RArray {
  const n = R.sizeOf(normalized);
  const data = new Float64Array(x.data.length);
  for (let r = 0; r < x.data.length / Math.max(n, 1); r++) {
    const lane = x.data.subarray(r * n, (r + 1) * n);
    const ms = lane.reduce((a, c) => a + c * c, 0) / n;
    for (let i = 0; i < n; i++) data[r * n + i] = (lane[i] / Math.sqrt(ms + eps)) * (w ? w.data[i] : 1);
  }
  return { shape: [...x.shape], data, dtype: 'float32' };
}

// ----- losses --------------------------------------------------------------------------------------

export type Reduction = 'mean' | 'sum' | 'none';
const reduceLoss = (x: RArray, r: Reduction) => (r === 'mean' ? R.mean(x) : r === 'sum' ? R.sum(x) : x);

/** log-probabilities over the class dim (1, or 0 for a 1-D input). */
const classDim = (x: RArray) => (x.shape.length === 1 ? 0 : 1);

/**
 * torch's cross entropy against class indices: weighted NLL of log-softmax, ignoreIndex and label
 * smoothing, the mean divided by the summed weights of the counted targets.
 */
export function crossEntropy(x: RArray, t: RArray, o: { weight?: RArray; ignoreIndex?: number; labelSmoothing?: number; reduction?: Reduction; logProbs?: boolean }): RArray {
  const cd = classDim(x);
  const lp = o.logProbs ? x : R.logSoftmax(x, cd);
  const c = x.shape[cd];
  const ignore = o.ignoreIndex ?? -100;
  const eps = o.labelSmoothing ?? 0;
  const w = (j: number) => (o.weight ? o.weight.data[j] : 1);
  const loss = new Float64Array(t.data.length);
  let wsum = 0;
  for (let i = 0; i < t.data.length; i++) {
    const cls = t.data[i];
    if (cls === ignore) continue;
    const tIdx = R.unravel(i, t.shape);
    const lpAt = (j: number) => at(lp, [...tIdx.slice(0, cd), j, ...tIdx.slice(cd)]);
    let smooth = 0;
    for (let j = 0; j < c; j++) smooth -= w(j) * lpAt(j);
    loss[i] = (1 - eps) * -w(cls) * lpAt(cls) + (eps * smooth) / c;
    wsum += w(cls);
  }
  const r = o.reduction ?? 'mean';
  const l: RArray = { shape: [...t.shape], data: loss, dtype: 'float32' };
  if (r === 'none') return l;
  const s = loss.reduce((a, b) => a + b, 0);
  return R.arr([], [r === 'sum' ? s : s / wsum]);
}

/** Cross entropy against class probabilities shaped like the input (mean over elements). */
export function crossEntropyProbs(x: RArray, p: RArray, o: { weight?: RArray; labelSmoothing?: number; reduction?: Reduction }): RArray {
  const cd = classDim(x);
  const lp = R.logSoftmax(x, cd);
  const c = x.shape[cd];
  const eps = o.labelSmoothing ?? 0;
  const terms = build(x.shape, 'float32', (idx) => -(o.weight ? o.weight.data[idx[cd]] : 1) * (at(p, idx) * (1 - eps) + eps / c) * at(lp, idx));
  return reduceLoss(R.sum(terms, cd), o.reduction ?? 'mean');
}

export const l1Loss = (a: RArray, b: RArray, r: Reduction) => reduceLoss(R.map2(a, b, (x, y) => Math.abs(x - y), 'float32'), r);
export const smoothL1Loss = (a: RArray, b: RArray, r: Reduction, beta: number) =>
  reduceLoss(R.map2(a, b, (x, y) => { const d = Math.abs(x - y); return beta > 0 && d < beta ? (0.5 * d * d) / beta : d - 0.5 * beta; }, 'float32'), r);
export const huberLoss = (a: RArray, b: RArray, r: Reduction, delta: number) =>
  reduceLoss(R.map2(a, b, (x, y) => { const d = Math.abs(x - y); return d <= delta ? 0.5 * d * d : delta * (d - 0.5 * delta); }, 'float32'), r);

export function bceWithLogits(x: RArray, y: RArray, r: Reduction, weight?: RArray, posWeight?: RArray): RArray {
  let l = R.mapN([x, y], (a, t) => {
    // −[p·t·log σ(a) + (1 − t)·log(1 − σ(a))] with log σ(a) = −log(1 + e^−a), in float64.
    const logSig = -Math.log1p(Math.exp(-Math.abs(a))) + Math.min(a, 0);
    const log1mSig = logSig - a;
    return -(t * logSig + (1 - t) * log1mSig);
  }, 'float32');
  if (posWeight) {
    l = R.mapN([x, y, posWeight], (a, t, pw) => {
      const logSig = -Math.log1p(Math.exp(-Math.abs(a))) + Math.min(a, 0);
      return -(pw * t * logSig + (1 - t) * (logSig - a));
    }, 'float32');
  }
  if (weight) l = R.map2(l, weight, (a, w) => a * w, 'float32');
  return reduceLoss(l, r);
}

export function klDiv(input: RArray, target: RArray, r: Reduction | 'batchmean', logTarget: boolean): RArray {
  const pw = R.map2(input, target, (i, t) => (logTarget ? Math.exp(t) * (t - i) : t === 0 ? 0 : t * (Math.log(t) - i)), 'float32');
  if (r === 'batchmean') return R.map1(R.sum(pw), (s) => s / (input.shape.length ? input.shape[0] : 1));
  return reduceLoss(pw, r);
}

export function cosineEmbedding(a: RArray, b: RArray, y: RArray, margin: number, r: Reduction): RArray {
  const d = a.shape.length === 1 ? [a.shape[0]] : a.shape;
  const rows = a.shape.length === 1 ? 1 : d[0];
  const n = d[d.length - 1];
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let dot = 0, na = 0, nb = 0;
    for (let j = 0; j < n; j++) { const u = a.data[i * n + j], v = b.data[i * n + j]; dot += u * v; na += u * u; nb += v * v; }
    const cos = dot / Math.sqrt((na + 1e-12) * (nb + 1e-12));
    out[i] = y.data[i] === 1 ? 1 - cos : Math.max(0, cos - margin);
  }
  return reduceLoss({ shape: a.shape.length === 1 ? [] : [rows], data: out, dtype: 'float32' }, r);
}
