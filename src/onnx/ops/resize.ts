// Resize and Upsample: separable per-axis resampling. Each resized axis gets its source coordinate
// per output index (ONNX's coordinate_transformation_mode), then nearest picks one input index (a
// gather), linear and cubic mix neighbours with an interpolation matrix (a matmul, so it
// differentiates), and tf_crop_and_resize fills what falls outside with extrapolation_value.
import type { Tensor } from '../../tensor.js';
import { register, type OpContext } from '../registry.js';
import { floats, ints, normAxes, simple } from './util.js';

interface ResizeSpec {
  mode: string;
  transform: string;
  nearestMode: string;
  cubicA: number;
  excludeOutside: boolean;
  extrapolation: number;
}

/**
 * The source coordinate of output index i along an axis of size n resized to m with scale s. With
 * scales given, the corner-aligned modes use the unrounded resized length n·s (ONNX's reference).
 */
function sourceCoord(spec: ResizeSpec, i: number, n: number, m: number, s: number, roi: [number, number], mReal: number): number {
  switch (spec.transform) {
    case 'half_pixel': return (i + 0.5) / s - 0.5;
    case 'half_pixel_symmetric': {
      const adjustment = m / (s * n);
      const center = n / 2;
      return center * (1 - adjustment) + (i + 0.5) / s - 0.5;
    }
    case 'pytorch_half_pixel': return m > 1 ? (i + 0.5) / s - 0.5 : 0;
    case 'align_corners': return m === 1 ? 0 : (i * (n - 1)) / (mReal - 1);
    case 'asymmetric': return i / s;
    case 'tf_half_pixel_for_nn': return (i + 0.5) / s;
    case 'tf_crop_and_resize': return m > 1 ? roi[0] * (n - 1) + (i * (roi[1] - roi[0]) * (n - 1)) / (mReal - 1) : 0.5 * (roi[0] + roi[1]) * (n - 1);
    default: throw new Error(`coordinate_transformation_mode '${spec.transform}'`);
  }
}

function nearestIndex(mode: string, x: number): number {
  switch (mode) {
    case 'round_prefer_floor': return Math.ceil(x - 0.5);
    case 'round_prefer_ceil': return Math.floor(x + 0.5);
    case 'floor': return Math.floor(x);
    case 'ceil': return Math.ceil(x);
    default: throw new Error(`nearest_mode '${mode}'`);
  }
}

/** Keys' cubic kernel with parameter a at distance t. */
function cubic(a: number, t: number): number {
  const s = Math.abs(t);
  if (s <= 1) return (a + 2) * s ** 3 - (a + 3) * s ** 2 + 1;
  if (s < 2) return a * s ** 3 - 5 * a * s ** 2 + 8 * a * s - 4 * a;
  return 0;
}

/** Resamples one axis of x from n to m. */
function resizeAxis(ctx: OpContext, x: Tensor, axis: number, m: number, scale: number, roi: [number, number], spec: ResizeSpec, mReal: number): Tensor {
  const n = x.shape[axis];
  const coords = Array.from({ length: m }, (_, i) => sourceCoord(spec, i, n, m, scale, roi, mReal));
  const outside = coords.map((c) => spec.transform === 'tf_crop_and_resize' && (c < 0 || c > n - 1));
  const clampIdx = (k: number) => Math.min(Math.max(k, 0), n - 1);
  const last = x.ndim - 1;
  const moved = axis === last ? x : x.movedim(axis, last);
  let y: Tensor;
  if (spec.mode === 'nearest') {
    const idx = coords.map((c) => clampIdx(nearestIndex(spec.nearestMode, c)));
    y = moved.indexSelect(last, ints(ctx, idx, [m]));
  } else {
    // Interpolation matrix [n, m]: column i mixes the inputs around source coordinate i.
    const w = new Float64Array(n * m);
    coords.forEach((c, i) => {
      if (outside[i]) return;
      const i0 = Math.floor(c), f = c - i0;
      const taps: [number, number][] = spec.mode === 'linear' ? [[i0, 1 - f], [i0 + 1, f]]
        : [[i0 - 1, cubic(spec.cubicA, 1 + f)], [i0, cubic(spec.cubicA, f)], [i0 + 1, cubic(spec.cubicA, 1 - f)], [i0 + 2, cubic(spec.cubicA, 2 - f)]];
      const kept = spec.excludeOutside ? taps.filter(([k]) => k >= 0 && k < n) : taps;
      const total = spec.excludeOutside ? kept.reduce((s, [, v]) => s + v, 0) : 1;
      for (const [k, v] of kept) w[clampIdx(k) * m + i] += v / total;
    });
    y = moved.matmul(floats(ctx, w, [n, m]));
  }
  if (outside.some(Boolean)) {
    const mask = ints(ctx, outside.map(Number), [m]).eq(1);
    y = y.where(mask.logicalNot(), spec.extrapolation);
  }
  return axis === last ? y : y.movedim(last, axis);
}

function resize(ctx: OpContext, x: Tensor, outSizes: number[], scales: number[], roi: number[] | null, spec: ResizeSpec, fromScales: boolean): Tensor {
  if (!['nearest', 'linear', 'cubic'].includes(spec.mode)) ctx.unsupported(`mode '${spec.mode}'`);
  let y = x;
  for (let a = 0; a < x.ndim; a++) {
    const r: [number, number] = roi ? [roi[a], roi[a + x.ndim]] : [0, 1];
    if (outSizes[a] === x.shape[a] && scales[a] === 1 && spec.transform !== 'tf_crop_and_resize') continue;
    y = resizeAxis(ctx, y, a, outSizes[a], scales[a], r, spec, fromScales ? x.shape[a] * scales[a] * (r[1] - r[0]) : outSizes[a]);
  }
  return y;
}

/** Resize-10 and later: scales or sizes (one given), per axis or for `axes` (18). */
function resizeRun(ctx: OpContext): Tensor {
  const x = ctx.tensor(0);
  const rank = x.ndim;
  const a = ctx.attrs;
  if (a.int('antialias', 0) === 1) ctx.unsupported('antialias=1');
  const spec: ResizeSpec = {
    mode: a.string('mode', 'nearest'),
    transform: ctx.opset < 11 ? 'asymmetric' : a.string('coordinate_transformation_mode', 'half_pixel'),
    nearestMode: ctx.opset < 11 ? 'floor' : a.string('nearest_mode', 'round_prefer_floor'),
    cubicA: a.float('cubic_coeff_a', -0.75),
    excludeOutside: a.int('exclude_outside', 0) === 1,
    extrapolation: a.float('extrapolation_value', 0),
  };
  const axes = a.has('axes') ? normAxes(ctx, a.ints('axes'), rank) : Array.from({ length: rank }, (_, i) => i);
  const given = (i: number) => ctx.has(i) && ctx.host(i).size > 0;
  const scalesIn = ctx.opset < 11 ? 1 : 2;
  let roi: number[] | null = null;
  if (ctx.opset >= 11 && given(1)) {
    const r = ctx.host(1).values();
    roi = Array.from({ length: 2 * rank }, (_, k) => (k < rank ? 0 : 1));
    axes.forEach((ax, j) => { roi![ax] = r[j]; roi![ax + rank] = r[j + axes.length]; });
  }
  const scales = x.shape.map(() => 1);
  const sizes = [...x.shape];
  if (given(scalesIn)) {
    const s = ctx.host(scalesIn).values();
    if (s.length !== axes.length) ctx.fail(`scales has ${s.length} entries for ${axes.length} axes`);
    axes.forEach((ax, j) => {
      scales[ax] = s[j];
      const span = roi ? roi[ax + rank] - roi[ax] : 1;
      sizes[ax] = Math.floor(x.shape[ax] * span * s[j] + 1e-9);
    });
  } else if (ctx.opset >= 11 && given(3)) {
    const sz = ctx.host(3).values();
    if (sz.length !== axes.length) ctx.fail(`sizes has ${sz.length} entries for ${axes.length} axes`);
    const policy = a.string('keep_aspect_ratio_policy', 'stretch');
    if (policy === 'stretch') {
      axes.forEach((ax, j) => { sizes[ax] = sz[j]; scales[ax] = sz[j] / x.shape[ax]; });
    } else {
      const ratios = axes.map((ax, j) => sz[j] / x.shape[ax]);
      const r = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
      axes.forEach((ax) => { scales[ax] = r; sizes[ax] = Math.round(r * x.shape[ax]); });
    }
  } else {
    ctx.fail('needs scales or sizes');
  }
  return resize(ctx, x, sizes, scales, roi, spec, given(scalesIn));
}

register('Resize',
  { since: 10, hostInputs: [1], run: (ctx) => [resizeRun(ctx)] },
  { since: 11, hostInputs: [1, 2, 3], run: (ctx) => [resizeRun(ctx)] });

/** Upsample (deprecated): nearest or linear with asymmetric coordinates; scales an attribute (7) or input (9). */
function upsample(ctx: OpContext, scales: number[]): Tensor {
  const x = ctx.tensor(0);
  const mode = ctx.attrs.string('mode', 'nearest');
  const spec: ResizeSpec = { mode: mode === 'bilinear' ? 'linear' : mode, transform: 'asymmetric', nearestMode: 'floor', cubicA: -0.75, excludeOutside: false, extrapolation: 0 };
  return resize(ctx, x, x.shape.map((d, i) => Math.floor(d * scales[i])), scales, null, spec, true);
}
register('Upsample',
  simple(7, (ctx) => upsample(ctx, ctx.attrs.floats('scales'))),
  { since: 9, hostInputs: [1], run: (ctx) => [upsample(ctx, ctx.host(1).values())] });
