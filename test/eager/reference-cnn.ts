// Float64 references for the convolutional ops (conv, pooling, normalisation, resampling, padding
// modes, activations), written as direct loops from PyTorch's definitions. No kiln code.
import { arr, ravel, sizeOf, unravel, type RArray } from './reference.js';

const f64 = (shape: readonly number[], data: ArrayLike<number>, dtype: RArray['dtype'] = 'float32'): RArray =>
  ({ shape: [...shape], data: Float64Array.from(data), dtype });
const at = (x: RArray, idx: readonly number[]) => x.data[ravel(idx, x.shape)];

/** Calls f(idx) for every index of `shape` in row-major order. */
function each(shape: readonly number[], f: (idx: number[], flat: number) => void): void {
  const n = sizeOf(shape);
  for (let i = 0; i < n; i++) f(unravel(i, shape), i);
}

export interface Geometry { stride: number[]; pads: [number, number][]; dilation: number[] }

// ----- windows -----------------------------------------------------------------------------------

/** torch's Tensor.unfold: dim becomes the window count, the window is a new last dim. */
export function unfoldDim(x: RArray, dim: number, size: number, step: number): RArray {
  if (x.shape.length === 0) return f64([1], [x.data[0]], x.dtype);
  const d = dim < 0 ? dim + x.shape.length : dim;
  const count = Math.floor((x.shape[d] - size) / step) + 1;
  const shape = [...x.shape.map((n, i) => (i === d ? count : n)), size];
  const out = new Float64Array(sizeOf(shape));
  each(shape, (idx, i) => {
    const src = idx.slice(0, -1);
    src[d] = idx[d] * step + idx[idx.length - 1];
    out[i] = at(x, src);
  });
  return f64(shape, out, x.dtype);
}

/** Window counts per spatial dim. */
export function counts(spatial: readonly number[], ks: readonly number[], g: Geometry): number[] {
  return spatial.map((n, t) => Math.floor((n + g.pads[t][0] + g.pads[t][1] - g.dilation[t] * (ks[t] - 1) - 1) / g.stride[t]) + 1);
}

/** Input coordinate of tap `k` of window `o` along dim t. */
const coord = (g: Geometry, t: number, o: number, k: number) => o * g.stride[t] - g.pads[t][0] + k * g.dilation[t];

/** im2col: [N, C, H, W] -> [N, C·kH·kW, L]. */
export function im2col(x: RArray, ks: number[], g: Geometry): RArray {
  const [n, c] = x.shape;
  const spatial = x.shape.slice(2);
  const out = counts(spatial, ks, g);
  const K = sizeOf(ks), L = sizeOf(out), S = sizeOf(spatial);
  const table = tapTable(spatial, ks, out, g);
  const data = new Float64Array(n * c * K * L);
  for (let bc = 0; bc < n * c; bc++) {
    for (let k = 0; k < K; k++) {
      for (let l = 0; l < L; l++) {
        const p = table[l * K + k];
        data[(bc * K + k) * L + l] = p >= 0 ? x.data[bc * S + p] : 0;
      }
    }
  }
  return f64([n, c * K, L], data);
}

/** col2im: [N, C·kH·kW, L] -> [N, C, H, W], summing overlaps. */
export function col2im(cols: RArray, size: number[], ks: number[], g: Geometry): RArray {
  const [n, ck] = cols.shape;
  const K = sizeOf(ks), c = ck / K, S = sizeOf(size);
  const out = counts(size, ks, g);
  const L = sizeOf(out);
  const table = tapTable(size, ks, out, g);
  const data = new Float64Array(n * c * S);
  for (let bc = 0; bc < n * c; bc++) {
    for (let k = 0; k < K; k++) {
      for (let l = 0; l < L; l++) {
        const p = table[l * K + k];
        if (p >= 0) data[bc * S + p] += cols.data[(bc * K + k) * L + l];
      }
    }
  }
  return f64([n, c, ...size], data);
}

// ----- convolutions ------------------------------------------------------------------------------

/**
 * For every (output position, tap) pair the flat input position it reads, or -1 in the padding
 * (a table, so the references' inner loops are plain index arithmetic).
 */
function tapTable(spatial: readonly number[], ks: readonly number[], out: readonly number[], g: Geometry): Int32Array {
  const L = sizeOf(out), K = sizeOf(ks);
  const table = new Int32Array(L * K);
  for (let l = 0; l < L; l++) {
    const oo = unravel(l, out);
    for (let k = 0; k < K; k++) {
      const kk = unravel(k, ks);
      const pos = oo.map((o, t) => coord(g, t, o, kk[t]));
      table[l * K + k] = pos.some((p, t) => p < 0 || p >= spatial[t]) ? -1 : ravel(pos, spatial);
    }
  }
  return table;
}

/** Cross-correlation over any number of spatial dims with groups. */
export function conv(x: RArray, w: RArray, b: RArray | null, g: Geometry, groups: number): RArray {
  const [n, c] = x.shape;
  const [o] = w.shape;
  const ks = w.shape.slice(2);
  const spatial = x.shape.slice(2);
  const out = counts(spatial, ks, g);
  const cg = c / groups, og = o / groups;
  const L = sizeOf(out), K = sizeOf(ks), S = sizeOf(spatial);
  const table = tapTable(spatial, ks, out, g);
  const data = new Float64Array(n * o * L);
  for (let bi = 0; bi < n; bi++) {
    for (let oc = 0; oc < o; oc++) {
      const grp = Math.floor(oc / og);
      for (let l = 0; l < L; l++) {
        let s = b ? b.data[oc] : 0;
        for (let ci = 0; ci < cg; ci++) {
          const xBase = (bi * c + grp * cg + ci) * S, wBase = (oc * cg + ci) * K;
          for (let k = 0; k < K; k++) {
            const p = table[l * K + k];
            if (p >= 0) s += x.data[xBase + p] * w.data[wBase + k];
          }
        }
        data[(bi * o + oc) * L + l] = s;
      }
    }
  }
  return f64([n, o, ...out], data);
}

/** Transposed convolution: every input element scatters weight·x into the (cropped) output. */
export function convTranspose(x: RArray, w: RArray, b: RArray | null, stride: number[], padding: number[], outPad: number[], dilation: number[], groups: number): RArray {
  const [n, c] = x.shape;
  const og = w.shape[1];
  const ks = w.shape.slice(2);
  const inS = x.shape.slice(2);
  const outS = inS.map((m, t) => (m - 1) * stride[t] - 2 * padding[t] + dilation[t] * (ks[t] - 1) + 1 + outPad[t]);
  const oc = og * groups, cg = c / groups;
  const L = sizeOf(inS), K = sizeOf(ks), S = sizeOf(outS);
  // Input position l, tap k -> output position: the same arithmetic as a conv's read, run backwards.
  const table = tapTable(outS, ks, inS, { stride, pads: padding.map((p) => [p, p]), dilation });
  const data = new Float64Array(n * oc * S);
  for (let bi = 0; bi < n; bi++) {
    for (let ch = 0; ch < oc; ch++) if (b) data.fill(b.data[ch], (bi * oc + ch) * S, (bi * oc + ch + 1) * S);
    for (let ci = 0; ci < c; ci++) {
      const grp = Math.floor(ci / cg);
      for (let o = 0; o < og; o++) {
        const outBase = (bi * oc + grp * og + o) * S, wBase = (ci * og + o) * K;
        for (let l = 0; l < L; l++) {
          const v = x.data[(bi * c + ci) * L + l];
          for (let k = 0; k < K; k++) {
            const q = table[l * K + k];
            if (q >= 0) data[outBase + q] += v * w.data[wBase + k];
          }
        }
      }
    }
  }
  return f64([n, oc, ...outS], data);
}

// ----- pooling -----------------------------------------------------------------------------------

export interface PoolGeometry extends Geometry { ks: number[]; ceil: boolean }

function poolCounts(spatial: readonly number[], p: PoolGeometry): number[] {
  return spatial.map((n, t) => {
    const span = n + 2 * p.pads[t][0] - p.dilation[t] * (p.ks[t] - 1) - 1;
    if (!p.ceil) return Math.floor(span / p.stride[t]) + 1;
    let o = Math.ceil(span / p.stride[t]) + 1;
    if ((o - 1) * p.stride[t] >= n + p.pads[t][0]) o--;
    return o;
  });
}

/** Max pooling over the trailing spatial dims: [values, flat indices]; the first maximum wins, NaN beats all. */
export function maxPool(x: RArray, nd: number, p: PoolGeometry): [RArray, RArray] {
  const lead = x.shape.slice(0, x.shape.length - nd);
  const spatial = x.shape.slice(-nd);
  const out = poolCounts(spatial, p);
  const L = sizeOf(out), K = sizeOf(p.ks), S = sizeOf(spatial);
  const table = tapTable(spatial, p.ks, out, p);
  const vals = new Float64Array(sizeOf(lead) * L), idxs = new Float64Array(sizeOf(lead) * L);
  for (let r = 0; r < sizeOf(lead); r++) {
    for (let l = 0; l < L; l++) {
      let best = -Infinity, bestAt = -1;
      for (let k = 0; k < K; k++) {
        const q = table[l * K + k];
        if (q < 0) continue;
        const v = x.data[r * S + q];
        if (bestAt < 0 || (!Number.isNaN(best) && (v > best || Number.isNaN(v)))) { best = v; bestAt = q; }
      }
      vals[r * L + l] = best; idxs[r * L + l] = bestAt;
    }
  }
  return [f64([...lead, ...out], vals), f64([...lead, ...out], idxs, 'int32')];
}

/** Average pooling with PyTorch's divisor rules. */
export function avgPool(x: RArray, nd: number, p: PoolGeometry, countIncludePad: boolean, divisorOverride?: number): RArray {
  const lead = x.shape.slice(0, x.shape.length - nd);
  const spatial = x.shape.slice(-nd);
  const out = poolCounts(spatial, p);
  const L = sizeOf(out), K = sizeOf(p.ks), S = sizeOf(spatial);
  const table = tapTable(spatial, p.ks, out, p);
  const divisors = Array.from({ length: L }, (_, l) => {
    const o = unravel(l, out);
    let div = 1;
    for (let t = 0; t < nd; t++) {
      const start = o[t] * p.stride[t] - p.pads[t][0];
      const end = Math.min(start + p.ks[t], spatial[t] + p.pads[t][0]);
      div *= countIncludePad ? end - start : Math.min(end, spatial[t]) - Math.max(start, 0);
    }
    return divisorOverride ?? div;
  });
  const data = new Float64Array(sizeOf(lead) * L);
  for (let r = 0; r < sizeOf(lead); r++) {
    for (let l = 0; l < L; l++) {
      let s = 0;
      for (let k = 0; k < K; k++) { const q = table[l * K + k]; if (q >= 0) s += x.data[r * S + q]; }
      data[r * L + l] = s / divisors[l];
    }
  }
  return f64([...lead, ...out], data);
}

const adaptiveBounds = (i: number, n: number, m: number): [number, number] => [Math.floor((i * n) / m), Math.ceil(((i + 1) * n) / m)];

/** Adaptive pooling over the last two dims: average, or max with flat indices. */
export function adaptivePool2d(x: RArray, out: number[], kind: 'avg' | 'max'): [RArray, RArray] {
  const lead = x.shape.slice(0, -2);
  const spatial = x.shape.slice(-2);
  const shape = [...lead, ...out];
  const vals = new Float64Array(sizeOf(shape)), idxs = new Float64Array(sizeOf(shape));
  each(shape, (idx, i) => {
    const l = idx.slice(0, lead.length);
    const [h0, h1] = adaptiveBounds(idx[lead.length], spatial[0], out[0]);
    const [w0, w1] = adaptiveBounds(idx[lead.length + 1], spatial[1], out[1]);
    let s = 0, best = -Infinity, bestAt = -1;
    for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) {
      const v = at(x, [...l, h, w]);
      s += v;
      if (bestAt < 0 || (!Number.isNaN(best) && (v > best || Number.isNaN(v)))) { best = v; bestAt = h * spatial[1] + w; }
    }
    vals[i] = kind === 'avg' ? s / ((h1 - h0) * (w1 - w0)) : best;
    idxs[i] = bestAt;
  });
  return [f64(shape, vals), f64(shape, idxs, 'int32')];
}

// ----- normalisation -----------------------------------------------------------------------------

/** Per-channel statistics over every dim but 1: [mean, biased variance, count]. */
function channelStats(x: RArray): [number[], number[], number] {
  const c = x.shape[1];
  const sums = new Array<number>(c).fill(0), sq = new Array<number>(c).fill(0);
  const count = sizeOf(x.shape) / c;
  each(x.shape, (idx, i) => { sums[idx[1]] += x.data[i]; });
  const mean = sums.map((s) => s / count);
  each(x.shape, (idx, i) => { sq[idx[1]] += (x.data[i] - mean[idx[1]]) ** 2; });
  return [mean, sq.map((s) => s / count), count];
}

/** Batch norm: [y, new running mean, new running var] (running stats unchanged in eval). */
export function batchNorm(x: RArray, rm: RArray | null, rv: RArray | null, w: RArray | null, b: RArray | null, training: boolean, momentum: number, eps: number): RArray[] {
  const c = x.shape[1];
  let mean: number[], varr: number[];
  let newM = rm ? Array.from(rm.data) : [], newV = rv ? Array.from(rv.data) : [];
  if (training) {
    let count: number;
    [mean, varr, count] = channelStats(x);
    if (rm && rv && count > 0) {
      newM = newM.map((r, i) => (1 - momentum) * r + momentum * mean[i]);
      newV = newV.map((r, i) => (1 - momentum) * r + (momentum * varr[i] * count) / (count - 1));
    }
  } else {
    mean = Array.from(rm!.data); varr = Array.from(rv!.data);
  }
  const y = new Float64Array(x.data.length);
  each(x.shape, (idx, i) => {
    const ch = idx[1];
    let v = (x.data[i] - mean[ch]) / Math.sqrt(varr[ch] + eps);
    if (w) v *= w.data[ch];
    if (b) v += b.data[ch];
    y[i] = v;
  });
  const outs = [f64(x.shape, y)];
  if (rm && rv) outs.push(f64([c], newM), f64([c], newV));
  return outs;
}

/** Normalises each row of x viewed as [rows, n]. */
function normRows(data: Float64Array, rows: number, n: number, eps: number): { y: Float64Array; mean: number[]; varr: number[] } {
  const y = new Float64Array(data.length);
  const mean: number[] = [], varr: number[] = [];
  for (let r = 0; r < rows; r++) {
    const v = data.subarray(r * n, (r + 1) * n);
    const m = v.reduce((a, c) => a + c, 0) / n;
    const s = v.reduce((a, c) => a + (c - m) ** 2, 0) / n;
    mean.push(m); varr.push(s);
    for (let i = 0; i < n; i++) y[r * n + i] = (v[i] - m) / Math.sqrt(s + eps);
  }
  return { y, mean, varr };
}

function affine(y: Float64Array, shape: readonly number[], w: RArray | null, b: RArray | null): RArray {
  each(shape, (idx, i) => {
    if (w) y[i] *= w.data[idx[1]];
    if (b) y[i] += b.data[idx[1]];
  });
  return f64(shape, y);
}

export function groupNorm(x: RArray, groups: number, w: RArray | null, b: RArray | null, eps: number): RArray {
  const n = x.shape[0];
  const { y } = normRows(x.data, n * groups, n === 0 ? 0 : x.data.length / (n * groups), eps);
  return affine(y, x.shape, w, b);
}

/** Instance norm: [y, new running mean, new running var] when running stats are given. */
export function instanceNorm(x: RArray, rm: RArray | null, rv: RArray | null, w: RArray | null, b: RArray | null, useInputStats: boolean, momentum: number, eps: number): RArray[] {
  const [n, c] = x.shape;
  if (!useInputStats) return batchNorm(x, rm, rv, w, b, false, momentum, eps).slice(0, 1).concat(rm && rv ? [rm, rv] : []);
  const per = sizeOf(x.shape.slice(2));
  const { y, mean, varr } = normRows(x.data, n * c, per, eps);
  const outs = [affine(y, x.shape, w, b)];
  if (rm && rv) {
    const m = Array.from(rm.data), v = Array.from(rv.data);
    for (let ch = 0; ch < c; ch++) {
      let sm = 0, sv = 0;
      for (let s = 0; s < n; s++) { sm += mean[s * c + ch]; sv += (varr[s * c + ch] * per) / (per - 1); }
      if (n > 0) { m[ch] = (1 - momentum) * m[ch] + (momentum * sm) / n; v[ch] = (1 - momentum) * v[ch] + (momentum * sv) / n; }
    }
    outs.push(f64([c], m), f64([c], v));
  }
  return outs;
}

// ----- padding modes and resampling --------------------------------------------------------------

/** pad with 'reflect', 'replicate' or 'circular' per dim pairs. */
export function padMode(x: RArray, pairs: readonly (readonly [number, number])[], mode: 'reflect' | 'replicate' | 'circular'): RArray {
  const shape = x.shape.map((n, d) => n + pairs[d][0] + pairs[d][1]);
  const data = new Float64Array(sizeOf(shape));
  each(shape, (idx, i) => {
    const src = idx.map((v, d) => {
      const n = x.shape[d];
      const p = v - pairs[d][0];
      if (mode === 'replicate') return Math.min(Math.max(p, 0), n - 1);
      if (mode === 'circular') return ((p % n) + n) % n;
      return p < 0 ? -p : p >= n ? 2 * (n - 1) - p : p;
    });
    data[i] = at(x, src);
  });
  return f64(shape, data, x.dtype);
}

/** interpolate over the trailing spatial dims (nearest uses PyTorch's float32 source index). */
export function interpolate(x: RArray, out: number[], mode: 'nearest' | 'linear', alignCorners: boolean, factors?: number[]): RArray {
  const nd = out.length;
  const lead = x.shape.slice(0, -nd), inS = x.shape.slice(-nd);
  const shape = [...lead, ...out];
  const src = out.map((m, t) => Array.from({ length: m }, (_, i) => {
    const n = inS[t];
    const scale = Math.fround(factors ? 1 / factors[t] : n / m);
    if (mode === 'nearest') return Math.min(Math.floor(Math.fround(i * scale)), n - 1);
    if (alignCorners) return m > 1 ? (i * (n - 1)) / (m - 1) : 0;
    return Math.max((i + 0.5) * scale - 0.5, 0);
  }));
  const data = new Float64Array(sizeOf(shape));
  each(shape, (idx, i) => {
    const l = idx.slice(0, lead.length), o = idx.slice(lead.length);
    if (mode === 'nearest') { data[i] = at(x, [...l, ...o.map((v, t) => src[t][v])]); return; }
    // Multilinear: a sum over the 2^nd corners.
    let s = 0;
    for (let corner = 0; corner < 1 << nd; corner++) {
      let wgt = 1;
      const pos = o.map((v, t) => {
        const c = src[t][v];
        const i0 = Math.min(Math.floor(c), inS[t] - 1);
        const frac = c - i0;
        const hi = (corner >> t) & 1;
        wgt *= hi ? frac : 1 - frac;
        return hi ? Math.min(i0 + 1, inS[t] - 1) : i0;
      });
      s += wgt * at(x, [...l, ...pos]);
    }
    data[i] = s;
  });
  return f64(shape, data);
}

export function pixelShuffle(x: RArray, r: number): RArray {
  const lead = x.shape.slice(0, -3);
  const [c, h, w] = x.shape.slice(-3);
  const shape = [...lead, c / (r * r), h * r, w * r];
  const data = new Float64Array(sizeOf(shape));
  each(shape, (idx, i) => {
    const [co, ho, wo] = idx.slice(-3);
    data[i] = at(x, [...idx.slice(0, -3), co * r * r + (ho % r) * r + (wo % r), Math.floor(ho / r), Math.floor(wo / r)]);
  });
  return f64(shape, data, x.dtype);
}

export function pixelUnshuffle(x: RArray, r: number): RArray {
  const lead = x.shape.slice(0, -3);
  const [c, h, w] = x.shape.slice(-3);
  const shape = [...lead, c * r * r, h / r, w / r];
  const data = new Float64Array(sizeOf(shape));
  each(shape, (idx, i) => {
    const [co, ho, wo] = idx.slice(-3);
    const ch = Math.floor(co / (r * r)), i1 = Math.floor((co % (r * r)) / r), i2 = co % r;
    data[i] = at(x, [...idx.slice(0, -3), ch, ho * r + i1, wo * r + i2]);
  });
  return f64(shape, data, x.dtype);
}

// ----- activations (scalar) ----------------------------------------------------------------------

const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;
export const leakyRelu = (v: number, slope = 0.01) => (v > 0 ? v : v * slope);
export const elu = (v: number, alpha = 1) => (v > 0 ? v : Number.isNaN(v) ? NaN : alpha * Math.expm1(v));
export const selu = (v: number) => SELU_SCALE * elu(v, SELU_ALPHA);
export const relu6 = (v: number) => (Number.isNaN(v) ? NaN : Math.min(Math.max(v, 0), 6));
export const hardsigmoid = (v: number) => relu6(v + 3) / 6;
export const hardswish = (v: number) => v * hardsigmoid(v);
const softplus = (v: number) => (v > 20 ? v : Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v))));
export const mish = (v: number) => v * Math.tanh(softplus(v));
export const softsign = (v: number) => v / (1 + Math.abs(v));

/** prelu with weight of one element or one per channel (dim 1). */
export function prelu(x: RArray, w: RArray): RArray {
  const out = new Float64Array(x.data.length);
  each(x.shape, (idx, i) => {
    const v = x.data[i];
    const a = w.data.length === 1 ? w.data[0] : w.data[idx[1]];
    out[i] = v > 0 ? v : v * a;
  });
  return f64(x.shape, out);
}

/** glu: first half of `dim` times the sigmoid of the second. */
export function glu(x: RArray, dim: number): RArray {
  const d = dim < 0 ? dim + x.shape.length : dim;
  const half = x.shape[d] / 2;
  const shape = x.shape.map((n, i) => (i === d ? half : n));
  const out = new Float64Array(sizeOf(shape));
  each(shape, (idx, i) => {
    const a = at(x, idx);
    const b = at(x, idx.map((v, j) => (j === d ? v + half : v)));
    out[i] = a / (1 + Math.exp(-b));
  });
  return f64(shape, out);
}

export { arr };
