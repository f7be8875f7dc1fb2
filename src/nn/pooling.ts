// Pooling as a reduction over the window view: max and average pooling (1-D and 2-D), and adaptive
// pooling (output size fixed, windows derived from it).
import { KilnError, ShapeError, fmtShape } from '../core/errors.js';
import { describeValue } from '../core/validate.js';
import { isGradEnabled } from '../autograd.js';
import { apply } from '../dispatch.js';
import { scoped } from '../functional.js';
import { OPS } from '../ops/index.js';
import { arange, tensor } from '../creation.js';
import { range, sizeOf } from '../core/shape.js';
import type { Tensor } from '../tensor.js';
import { checkInput, fmtDims, perDim, spatialPads, windowCount, windows, type Size } from './window.js';

export interface MaxPoolOptions {
  /** Default: the kernel size. */
  stride?: Size | null;
  padding?: Size;
  dilation?: Size;
  ceilMode?: boolean;
  /** Also return the flat index (over the input's spatial dims) each maximum came from. */
  returnIndices?: boolean;
}

export interface AvgPoolOptions {
  stride?: Size | null;
  padding?: Size;
  ceilMode?: boolean;
  /** Divide by the whole window, padding included (default), or by the input elements it covers. */
  countIncludePad?: boolean;
  /** Divide by this instead. */
  divisorOverride?: number | null;
}

interface Geometry {
  readonly ks: number[];
  readonly stride: number[];
  readonly dilation: number[];
  readonly padding: number[];
  /** Input sizes of the spatial dims. */
  readonly size: number[];
  /** Windows along each spatial dim. */
  readonly out: number[];
}

function geometry(op: string, x: Tensor, nd: number, kernelSize: Size, o: { stride?: Size | null; padding?: Size; dilation?: Size; ceilMode?: boolean }): Geometry {
  checkInput(op, x, nd, true);
  const ks = perDim(op, 'kernelSize', kernelSize, nd);
  const stride = o.stride === undefined || o.stride === null ? ks : perDim(op, 'stride', o.stride, nd);
  const dilation = perDim(op, 'dilation', o.dilation ?? 1, nd);
  const padding = perDim(op, 'padding', o.padding ?? 0, nd, 0);
  if (padding.some((p, t) => p > ks[t] / 2)) throw new ShapeError(`${op}: padding ${fmtDims(padding)} must be at most half the kernel size ${fmtDims(ks)}`);
  const size = x.shape.slice(x.ndim - nd);
  const out = size.map((n, t) => windowCount(n, ks[t], stride[t], padding[t], dilation[t], o.ceilMode ?? false));
  if (out.some((m) => m <= 0)) {
    throw new ShapeError(`${op}: kernel ${fmtDims(ks)} (dilation ${fmtDims(dilation)}) is larger than the padded input ${fmtDims(size.map((n, t) => n + 2 * padding[t]))} (input ${fmtShape(x.shape)})`);
  }
  return { ks, stride, dilation, padding, size, out };
}

/**
 * Pads the spatial dims with `value` so every window (ceil mode's last one included) lies inside.
 * NOTE: max pooling pads with -inf, so in a window whose maximum is an input -inf the padding can tie
 * with it and come first: the index is then -1 and the gradient is lost (PyTorch picks the input).
 */
function padFor(x: Tensor, g: Geometry, value: number): Tensor {
  const pads = g.size.map((n, t): [number, number] => {
    const need = (g.out[t] - 1) * g.stride[t] + g.dilation[t] * (g.ks[t] - 1) + 1;
    return [g.padding[t], Math.max(0, need - n - g.padding[t])];
  });
  return pads.some(([a, b]) => a > 0 || b > 0) ? x.pad(spatialPads(x, pads), value) : x;
}

/** True when the result will be differentiated (so the gradient must go to one element, as in PyTorch). */
const needsGrad = (x: Tensor) => isGradEnabled() && x.requiresGrad;

/**
 * The maximum over the trailing `nd` window dims. When a gradient is needed it is the window value at
 * the first maximum (argmax), so the whole gradient goes to that element, as PyTorch's pooling does;
 * amax would split it among ties (frequent after relu).
 */
function windowMax(win: Tensor, nd: number, withIndex: boolean): { value: Tensor; arg: Tensor | null } {
  const wdims = range(win.ndim - nd, win.ndim);
  if (!withIndex && !needsGrad(win)) return { value: win.amax(wdims), arg: null };
  const taps = win.shape.slice(win.ndim - nd);
  // The flat index of the first maximum over all window dims (the reduce primitive takes a dim list).
  const arg = apply(OPS.argmax, [win.detach()], { dims: wdims, keepdim: false });
  const ids = arange(sizeOf(taps), undefined, 1, { backend: win.backend }).reshape(taps);
  const hit = arg.reshape([...arg.shape, ...taps.map(() => 1)]).eq(ids);
  return { value: win.where(hit, 0).sum(wdims), arg };
}

/** Flat input index (over the spatial dims) of every window tap: [...out, taps] int32, -1 in padding. */
function tapIndex(g: Geometry, coords: (t: number, o: number) => number[]): Tensor {
  const nd = g.out.length;
  const taps = g.ks.reduce((a, b) => a * b, 1);
  const data = new Int32Array(sizeOf(g.out) * taps);
  let i = 0;
  const pos = new Array<number>(nd).fill(0);
  for (let o = 0; o < sizeOf(g.out); o++) {
    let r = o;
    for (let t = nd - 1; t >= 0; t--) { pos[t] = r % g.out[t]; r = Math.floor(r / g.out[t]); }
    const per = pos.map((p, t) => coords(t, p));
    for (let k = 0; k < taps; k++) {
      let rest = k, flat = 0, inside = true;
      const coord: number[] = [];
      for (let t = nd - 1; t >= 0; t--) { coord[t] = per[t][rest % g.ks[t]]; rest = Math.floor(rest / g.ks[t]); }
      for (let t = 0; t < nd; t++) { if (coord[t] < 0 || coord[t] >= g.size[t]) inside = false; flat = flat * g.size[t] + coord[t]; }
      data[i++] = inside ? flat : -1;
    }
  }
  return tensor(data, { shape: [...g.out, taps], dtype: 'int32' });
}

/** The flat input index of each window's maximum, from the argmax over its taps. */
function indicesOf(arg: Tensor, table: Tensor, lead: readonly number[]): Tensor {
  const t = table.to(arg.backend).expand([...lead, ...table.shape]);
  return t.gather(t.ndim - 1, arg.unsqueeze(-1)).squeeze(-1);
}

function maxPoolNd(op: string, nd: number, x: Tensor, kernelSize: Size, o: MaxPoolOptions): Tensor | [Tensor, Tensor] {
  const g = geometry(op, x, nd, kernelSize, o);
  const win = () => windows(padFor(x, g, -Infinity), g.ks, g.stride, g.dilation);
  // The padded input is freed as the call returns (unless autograd needs it).
  if (!o.returnIndices) return scoped([x], () => windowMax(win(), nd, false).value);
  const { value, arg } = windowMax(win(), nd, true);
  const table = tapIndex(g, (t, p) => range(0, g.ks[t]).map((k) => p * g.stride[t] - g.padding[t] + k * g.dilation[t]));
  return [value, indicesOf(arg!, table, x.shape.slice(0, x.ndim - nd))];
}

/** 1-D max pooling of [N, C, L] (or [C, L]). */
export function maxPool1d(input: Tensor, kernelSize: Size, options: MaxPoolOptions & { returnIndices: true }): [Tensor, Tensor];
export function maxPool1d(input: Tensor, kernelSize: Size, options?: MaxPoolOptions): Tensor;
export function maxPool1d(input: Tensor, kernelSize: Size, options: MaxPoolOptions = {}): Tensor | [Tensor, Tensor] {
  return maxPoolNd('maxPool1d', 1, input, kernelSize, options);
}

/** 2-D max pooling of [N, C, H, W] (or [C, H, W]); padding counts as -inf. */
export function maxPool2d(input: Tensor, kernelSize: Size, options: MaxPoolOptions & { returnIndices: true }): [Tensor, Tensor];
export function maxPool2d(input: Tensor, kernelSize: Size, options?: MaxPoolOptions): Tensor;
export function maxPool2d(input: Tensor, kernelSize: Size, options: MaxPoolOptions = {}): Tensor | [Tensor, Tensor] {
  return maxPoolNd('maxPool2d', 2, input, kernelSize, options);
}

function avgPoolNd(op: string, nd: number, x: Tensor, kernelSize: Size, o: AvgPoolOptions): Tensor {
  const g = geometry(op, x, nd, kernelSize, o);
  return scoped([x], () => avgPoolBody(op, nd, x, g, o));
}

function avgPoolBody(op: string, nd: number, x: Tensor, g: Geometry, o: AvgPoolOptions): Tensor {
  const win = windows(padFor(x, g, 0), g.ks, g.stride, g.dilation);
  const sum = win.sum(range(win.ndim - nd, win.ndim));
  const d = o.divisorOverride;
  if (d !== undefined && d !== null) {
    if (!Number.isFinite(d) || d === 0) throw new KilnError(`${op}: divisorOverride must be a non-zero number, got ${d}`);
    return sum.div(d);
  }
  // PyTorch's divisor: the window clipped to the padded input (ceil mode's overhang never counts),
  // and with countIncludePad false, clipped to the input itself.
  const inclPad = o.countIncludePad ?? true;
  const per = g.out.map((m, t) => range(0, m).map((p) => {
    const start = p * g.stride[t] - g.padding[t];
    const end = Math.min(start + g.ks[t], g.size[t] + g.padding[t]);
    return inclPad ? end - start : Math.min(end, g.size[t]) - Math.max(start, 0);
  }));
  if (per.every((l) => l.every((v) => v === l[0]))) return sum.div(per.reduce((a, l) => a * l[0], 1));
  const data = new Float32Array(sizeOf(g.out));
  data.forEach((_, i) => {
    let r = i, v = 1;
    for (let t = nd - 1; t >= 0; t--) { v *= per[t][r % g.out[t]]; r = Math.floor(r / g.out[t]); }
    data[i] = v;
  });
  return sum.div(tensor(data, { shape: g.out, backend: x.backend }));
}

/** 1-D average pooling of [N, C, L] (or [C, L]). */
export function avgPool1d(input: Tensor, kernelSize: Size, options: AvgPoolOptions = {}): Tensor {
  return avgPoolNd('avgPool1d', 1, input, kernelSize, options);
}

/** 2-D average pooling of [N, C, H, W] (or [C, H, W]). */
export function avgPool2d(input: Tensor, kernelSize: Size, options: AvgPoolOptions = {}): Tensor {
  return avgPoolNd('avgPool2d', 2, input, kernelSize, options);
}

// ----- adaptive pooling --------------------------------------------------------------------------

/** Output size per spatial dim: a number, or a pair whose null entries keep the input size. */
export type AdaptiveSize = number | readonly (number | null)[];

function adaptiveOut(op: string, x: Tensor, nd: number, size: AdaptiveSize): number[] {
  checkInput(op, x, nd, true);
  const spatial = x.shape.slice(x.ndim - nd);
  if (typeof size !== 'number' && !Array.isArray(size)) throw new ShapeError(`${op}: outputSize must be a positive integer or ${nd} of them (null keeps the input size), got ${describeValue(size)}`);
  const list = typeof size === 'number' ? spatial.map(() => size) : size.map((s, t) => (s === null ? spatial[t] : s));
  if (list.length !== nd || list.some((s) => !Number.isInteger(s) || s < 1)) {
    throw new ShapeError(`${op}: outputSize must be a positive integer or ${nd} of them (null keeps the input size), got ${JSON.stringify(size)}`);
  }
  if (spatial.some((n) => n === 0)) throw new ShapeError(`${op}: input ${fmtShape(x.shape)} has an empty spatial dim`);
  return list;
}

/** PyTorch's adaptive window i of m over n: [floor(i·n/m), ceil((i+1)·n/m)). */
const bounds = (i: number, n: number, m: number): [number, number] => [Math.floor((i * n) / m), Math.ceil(((i + 1) * n) / m)];

/** Pooling matrix [m, n]: row i averages adaptive window i. */
function averagingMatrix(n: number, m: number, backend: Tensor['backend']): Tensor {
  const data = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    const [a, b] = bounds(i, n, m);
    for (let j = a; j < b; j++) data[i * n + j] = 1 / (b - a);
  }
  return tensor(data, { shape: [m, n], backend });
}

/** Adaptive average pooling of [N, C, H, W] (or [C, H, W]) to `outputSize`. */
export function adaptiveAvgPool2d(input: Tensor, outputSize: AdaptiveSize): Tensor {
  const out = adaptiveOut('adaptiveAvgPool2d', input, 2, outputSize);
  const [h, w] = input.shape.slice(input.ndim - 2);
  // Equal windows are a plain average pool; uneven ones a product with averaging matrices per dim.
  if (h % out[0] === 0 && w % out[1] === 0) return avgPool2d(input, [h / out[0], w / out[1]]);
  const rows = averagingMatrix(h, out[0], input.backend);
  const cols = averagingMatrix(w, out[1], input.backend).mT();
  return rows.matmul(input.matmul(cols));
}

/**
 * Adaptive max pooling of [N, C, H, W] (or [C, H, W]) to `outputSize`. Uneven windows are gathered to
 * the widest one, the short ones repeating their last element (which leaves their maximum unchanged).
 */
export function adaptiveMaxPool2d(input: Tensor, outputSize: AdaptiveSize, options: { returnIndices: true }): [Tensor, Tensor];
export function adaptiveMaxPool2d(input: Tensor, outputSize: AdaptiveSize, options?: { returnIndices?: boolean }): Tensor;
export function adaptiveMaxPool2d(input: Tensor, outputSize: AdaptiveSize, options: { returnIndices?: boolean } = {}): Tensor | [Tensor, Tensor] {
  const op = 'adaptiveMaxPool2d';
  const out = adaptiveOut(op, input, 2, outputSize);
  const size = input.shape.slice(input.ndim - 2);
  const even = size.every((n, t) => n % out[t] === 0);
  if (even) {
    const ks = size.map((n, t) => n / out[t]);
    return maxPoolNd(op, 2, input, ks, { returnIndices: options.returnIndices });
  }
  const ks = size.map((n, t) => Math.max(...range(0, out[t]).map((i) => { const [a, b] = bounds(i, n, out[t]); return b - a; })));
  const at = (t: number, i: number) => { const [a, b] = bounds(i, size[t], out[t]); return range(0, ks[t]).map((k) => Math.min(a + k, b - 1)); };
  const pick = (t: number) => tensor(Int32Array.from(range(0, out[t]).flatMap((i) => at(t, i))), { dtype: 'int32', backend: input.backend });
  const lead = input.shape.slice(0, input.ndim - 2);
  // [..., H, W] -> [..., OH·kH, W] -> [..., OH·kH, OW·kW] -> [..., OH, OW, kH, kW]
  const gathered = input.indexSelect(-2, pick(0)).indexSelect(-1, pick(1))
    .reshape([...lead, out[0], ks[0], out[1], ks[1]]);
  const n = lead.length;
  const win = gathered.permute([...range(0, n), n, n + 2, n + 1, n + 3]);
  const { value, arg } = windowMax(win, 2, options.returnIndices ?? false);
  if (!options.returnIndices) return value;
  const g: Geometry = { ks, stride: [1, 1], dilation: [1, 1], padding: [0, 0], size, out };
  return [value, indicesOf(arg!, tapIndex(g, at), lead)];
}
