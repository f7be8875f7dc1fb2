// Neural-network ops: Conv/ConvTranspose (kiln's conv1d/2d where they fit, the same window-view
// composition for 3-D), pooling (ONNX's padding rules, ceil mode, Indices), normalisations, LRN and
// the NLL / softmax cross-entropy losses.
import { filled, range, sizeOf } from '../../core/shape.js';
import { apply } from '../../dispatch.js';
import { OPS } from '../../ops/index.js';
import { foldWindows } from '../../ops/movement.js';
import * as F from '../../functional.js';
import { conv1d, conv2d, convTranspose1d, convTranspose2d } from '../../nn/conv.js';
import { batchNorm } from '../../nn/norm.js';
import { perChannel } from '../../nn/window.js';
import type { Tensor } from '../../tensor.js';
import { register, type OpContext } from '../registry.js';
import { floats, ints, normAxes, normAxis, simple } from './util.js';

/** Sliding windows over the trailing `sizes.length` dims: [..., O1.., k1..]. */
function windows(x: Tensor, sizes: readonly number[], steps: readonly number[], dilations: readonly number[]): Tensor {
  const nd = sizes.length;
  return apply(OPS.unfold, [x], { dims: sizes.map((_, t) => x.ndim - nd + t), sizes, steps, dilations });
}

/** Pads the trailing spatial dims by [begin, end] pairs (negative crops) with a constant. */
function padSpatial(x: Tensor, pads: readonly (readonly [number, number])[], value = 0): Tensor {
  const lead = x.ndim - pads.length;
  const all = x.shape.map((_, i): [number, number] => (i < lead ? [0, 0] : [pads[i - lead][0], pads[i - lead][1]]));
  if (all.every(([b, e]) => b === 0 && e === 0)) return x;
  let y = x;
  if (all.some(([b, e]) => b < 0 || e < 0)) y = y.slice(all.map(([b, e], d): [number, number] => [Math.max(0, -b), x.shape[d] - Math.max(0, -e)]));
  const pos = all.map(([b, e]): [number, number] => [Math.max(0, b), Math.max(0, e)]);
  return pos.some(([b, e]) => b > 0 || e > 0) ? F.pad(y, pos, value) : y;
}

interface Geometry { ks: number[]; strides: number[]; dilations: number[]; pads: [number, number][]; out: number[] }

/** ONNX's window geometry: explicit pads, or auto_pad SAME_UPPER/SAME_LOWER/VALID; ceil_mode for pooling. */
function geometry(ctx: OpContext, spatial: readonly number[], ks: readonly number[], ceil = false): Geometry {
  const nd = spatial.length;
  const strides = ctx.attrs.ints('strides', filled(nd, 1));
  const dilations = ctx.attrs.ints('dilations', filled(nd, 1));
  const autoPad = ctx.attrs.string('auto_pad', 'NOTSET');
  let pads: [number, number][];
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    pads = spatial.map((n, t) => {
      const out = Math.ceil(n / strides[t]);
      const total = Math.max(0, (out - 1) * strides[t] + (ks[t] - 1) * dilations[t] + 1 - n);
      const small = Math.floor(total / 2);
      return autoPad === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
    });
  } else if (autoPad === 'VALID') {
    pads = spatial.map(() => [0, 0]);
  } else {
    const p = ctx.attrs.ints('pads', filled(2 * nd, 0));
    pads = spatial.map((_, t) => [p[t], p[t + nd]]);
  }
  const out = spatial.map((n, t) => {
    const span = n + pads[t][0] + pads[t][1] - (ks[t] - 1) * dilations[t] - 1;
    if (!ceil) return Math.floor(span / strides[t]) + 1;
    let o = Math.ceil(span / strides[t]) + 1;
    if ((o - 1) * strides[t] >= n + pads[t][0]) o--; // the last window must start inside (as PyTorch)
    return o;
  });
  if (out.some((o) => o <= 0)) ctx.fail(`kernel ${ks.join('×')} does not fit the padded input ${spatial.map((n, t) => n + pads[t][0] + pads[t][1]).join('×')}`);
  return { ks: [...ks], strides, dilations, pads, out };
}

/** Pads so every window lies inside: the geometry's pads plus what ceil mode's last window needs. */
function padForWindows(x: Tensor, g: Geometry, value: number): Tensor {
  const spatial = x.shape.slice(x.ndim - g.ks.length);
  const pads = spatial.map((n, t): [number, number] => {
    const need = (g.out[t] - 1) * g.strides[t] + (g.ks[t] - 1) * g.dilations[t] + 1;
    return [g.pads[t][0], need - n - g.pads[t][0]];
  });
  return padSpatial(x, pads, value);
}

// ----- convolution -------------------------------------------------------------------------------

/** N-d convolution of a padded input: windows laid out as im2col columns times the weight. */
function convWindows(xp: Tensor, w: Tensor, groups: number, strides: number[], dilations: number[]): Tensor {
  const nd = w.ndim - 2;
  const [n] = xp.shape;
  const [outC, cg] = w.shape;
  const ks = w.shape.slice(2);
  const win = windows(xp, ks, strides, dilations); // [N, C, ...out, ...ks]
  const out = win.shape.slice(2, 2 + nd);
  const k = cg * sizeOf(ks);
  const cols = win.reshape([n, groups, cg, ...out, ...ks])
    .permute([0, 1, 2, ...range(3 + nd, 3 + 2 * nd), ...range(3, 3 + nd)])
    .reshape([n, groups, k, sizeOf(out)]);
  return w.reshape([groups, outC / groups, k]).matmul(cols).reshape([n, outC, ...out]);
}

register('Conv', simple(1, (ctx) => {
  const x = ctx.tensor(0), w = ctx.tensor(1);
  const nd = x.ndim - 2;
  const ks = ctx.attrs.ints('kernel_shape', w.shape.slice(2));
  const group = ctx.attrs.int('group', 1);
  const g = geometry(ctx, x.shape.slice(2), ks);
  const xp = padSpatial(x, g.pads);
  const opts = { stride: g.strides, dilation: g.dilations, groups: group };
  const y = nd === 2 ? conv2d(xp, w, null, opts) : nd === 1 ? conv1d(xp, w, null, opts) : convWindows(xp, w, group, g.strides, g.dilations);
  return ctx.has(2) ? y.add(ctx.tensor(2).reshape([w.shape[0], ...filled(nd, 1)])) : y;
}));

/** N-d transposed convolution before cropping: a matmul, then fold (the window view's adjoint). */
function convTransposeWindows(x: Tensor, w: Tensor, groups: number, strides: number[], dilations: number[]): Tensor {
  const nd = w.ndim - 2;
  const [n, c] = x.shape;
  const inS = x.shape.slice(2);
  const ks = w.shape.slice(2);
  const og = w.shape[1], outC = og * groups, cg = c / groups;
  const full = inS.map((m, t) => (m - 1) * strides[t] + dilations[t] * (ks[t] - 1) + 1);
  const cols = w.reshape([groups, cg, og * sizeOf(ks)]).mT().matmul(x.reshape([n, groups, cg, sizeOf(inS)]));
  const taps = cols.reshape([n, outC, ...ks, ...inS]).permute([0, 1, ...range(2 + nd, 2 + 2 * nd), ...range(2, 2 + nd)]);
  return foldWindows(taps, [n, outC, ...full], { dims: range(2, 2 + nd), sizes: ks, steps: strides, dilations });
}

register('ConvTranspose', simple(1, (ctx) => {
  const x = ctx.tensor(0), w = ctx.tensor(1);
  const nd = x.ndim - 2;
  const inS = x.shape.slice(2);
  const ks = ctx.attrs.ints('kernel_shape', w.shape.slice(2));
  const group = ctx.attrs.int('group', 1);
  const strides = ctx.attrs.ints('strides', filled(nd, 1));
  const dilations = ctx.attrs.ints('dilations', filled(nd, 1));
  const outPad = ctx.attrs.ints('output_padding', filled(nd, 0));
  const autoPad = ctx.attrs.string('auto_pad', 'NOTSET');
  const full = inS.map((m, t) => strides[t] * (m - 1) + outPad[t] + (ks[t] - 1) * dilations[t] + 1);
  let pads: [number, number][];
  const outputShape = ctx.attrs.has('output_shape') ? ctx.attrs.ints('output_shape').slice(-nd)
    : autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER' ? inS.map((m, t) => m * strides[t]) : null;
  if (outputShape) {
    pads = full.map((f, t) => {
      const total = f - outputShape[t];
      const half = Math.floor(total / 2);
      return autoPad === 'SAME_UPPER' ? [half, total - half] : [total - half, half];
    });
  } else {
    const p = ctx.attrs.ints('pads', filled(2 * nd, 0));
    pads = inS.map((_, t) => [p[t], p[t + nd]]);
  }
  const opts = { stride: strides, dilation: dilations, groups: group };
  let y = nd === 2 ? convTranspose2d(x, w, null, opts) : nd === 1 ? convTranspose1d(x, w, null, opts) : convTransposeWindows(x, w, group, strides, dilations);
  // y covers the output before output_padding and cropping: crop `pads`, extend by output_padding.
  y = padSpatial(y, pads.map(([b, e], t): [number, number] => [-b, outPad[t] - e]));
  return ctx.has(2) ? y.add(ctx.tensor(2).reshape([y.shape[1], ...filled(nd, 1)])) : y;
}));

// ----- pooling -----------------------------------------------------------------------------------

/** Flat index of every window tap into the spatial dims (row-major, or column-major for storage_order 1). */
function tapTable(ctx: OpContext, g: Geometry, spatial: readonly number[], columnMajor: boolean): Tensor {
  const nd = spatial.length;
  const taps = sizeOf(g.ks);
  const count = sizeOf(g.out);
  const data = new Int32Array(count * taps);
  const pos = new Array<number>(nd), tap = new Array<number>(nd);
  for (let o = 0; o < count; o++) {
    let r = o;
    for (let t = nd - 1; t >= 0; t--) { pos[t] = r % g.out[t]; r = Math.floor(r / g.out[t]); }
    for (let k = 0; k < taps; k++) {
      let rk = k;
      for (let t = nd - 1; t >= 0; t--) { tap[t] = rk % g.ks[t]; rk = Math.floor(rk / g.ks[t]); }
      const coord = pos.map((p, t) => p * g.strides[t] - g.pads[t][0] + tap[t] * g.dilations[t]);
      let flat = 0;
      if (columnMajor) for (let t = nd - 1; t >= 0; t--) flat = flat * spatial[t] + coord[t];
      else for (let t = 0; t < nd; t++) flat = flat * spatial[t] + coord[t];
      data[o * taps + k] = flat;
    }
  }
  return ints(ctx, data, [...g.out, taps]);
}

function maxPool(ctx: OpContext): (Tensor | null)[] {
  const x = ctx.tensor(0);
  const nd = x.ndim - 2;
  const spatial = x.shape.slice(2);
  const g = geometry(ctx, spatial, ctx.attrs.ints('kernel_shape'), ctx.attrs.int('ceil_mode', 0) === 1);
  const low = x.dtype === 'float32' ? -Infinity : -2147483648;
  const win = windows(padForWindows(x, g, low), g.ks, g.strides, g.dilations);
  const wdims = range(2 + nd, 2 + 2 * nd);
  if (!ctx.wantsOutput(1)) return [win.amax(wdims)];
  const flatWin = win.reshape([...win.shape.slice(0, 2 + nd), sizeOf(g.ks)]);
  const arg = flatWin.argmax(-1, true); // [N, C, ...out, 1]
  const values = flatWin.gather(-1, arg).squeeze(-1);
  const table = tapTable(ctx, g, spatial, ctx.attrs.int('storage_order', 0) === 1);
  const lead = x.shape.slice(0, 2);
  const local = table.expand([...lead, ...table.shape]).gather(2 + nd, arg).squeeze(-1);
  // Indices count over the whole input: (n·C + c)·prod(spatial) + the spatial index.
  const [n, c] = lead;
  const base = ints(ctx, range(0, n * c).map((i) => i * sizeOf(spatial)), [n, c, ...filled(nd, 1)]);
  return [values, local.add(base)];
}
register('MaxPool', { since: 1, run: maxPool });

function averagePool(ctx: OpContext): Tensor {
  const x = ctx.tensor(0);
  const nd = x.ndim - 2;
  const spatial = x.shape.slice(2);
  const g = geometry(ctx, spatial, ctx.attrs.ints('kernel_shape'), ctx.attrs.int('ceil_mode', 0) === 1);
  const wdims = range(2 + nd, 2 + 2 * nd);
  const sums = windows(padForWindows(x, g, 0), g.ks, g.strides, g.dilations).sum(wdims);
  // The divisor per window: the input elements it covers, or with count_include_pad the explicit
  // padding too (never the overhang of ceil mode's last window).
  const includePad = ctx.attrs.int('count_include_pad', 0) === 1;
  const ones1 = floats(ctx, new Float32Array(sizeOf(spatial)).fill(1), spatial);
  const mask = includePad ? padForWindows(padSpatial(ones1, g.pads, 1), { ...g, pads: g.pads.map(() => [0, 0]) }, 0) : padForWindows(ones1, g, 0);
  const counts = windows(mask, g.ks, g.strides, g.dilations).sum(range(nd, 2 * nd));
  return sums.div(counts);
}
register('AveragePool', simple(1, averagePool));

register('GlobalAveragePool', simple(1, (ctx) => { const x = ctx.tensor(0); return x.mean(range(2, x.ndim), true); }));
register('GlobalMaxPool', simple(1, (ctx) => { const x = ctx.tensor(0); return x.amax(range(2, x.ndim), true); }));

// ----- normalisation -----------------------------------------------------------------------------


register('BatchNormalization', {
  since: 1,
  run: (ctx) => {
    const x = ctx.tensor(0), scale = ctx.tensor(1), bias = ctx.tensor(2), mean = ctx.tensor(3), variance = ctx.tensor(4);
    const eps = ctx.attrs.float('epsilon', 1e-5);
    const training = ctx.opset >= 14 && ctx.attrs.int('training_mode', 0) === 1;
    if (!training) return [batchNorm(x, mean, variance, { weight: scale, bias, eps })];
    // Batch statistics (population variance); running stats move as input·momentum + batch·(1 − momentum).
    const momentum = ctx.attrs.float('momentum', 0.9);
    const dims = [0, ...range(2, x.ndim)];
    const m = x.mean(dims, true);
    const centered = x.sub(m);
    const v = centered.mul(centered).mean(dims, true);
    const y = centered.mul(v.add(eps).rsqrt()).mul(perChannel(scale, x.ndim)).add(perChannel(bias, x.ndim));
    const c = x.shape[1];
    return [y, mean.mul(momentum).add(m.reshape([c]).mul(1 - momentum)), variance.mul(momentum).add(v.reshape([c]).mul(1 - momentum))];
  },
});

register('InstanceNormalization', simple(1, (ctx) => {
  const x = ctx.tensor(0);
  const dims = range(2, x.ndim);
  const m = x.mean(dims, true);
  const centered = x.sub(m);
  const v = centered.mul(centered).mean(dims, true);
  const y = centered.mul(v.add(ctx.attrs.float('epsilon', 1e-5)).rsqrt());
  return y.mul(perChannel(ctx.tensor(1), x.ndim)).add(perChannel(ctx.tensor(2), x.ndim));
}));

register('LayerNormalization', {
  since: 17,
  run: (ctx) => {
    const x = ctx.tensor(0);
    const axis = normAxis('LayerNormalization', ctx.attrs.int('axis', -1), x.ndim);
    const dims = range(axis, x.ndim);
    const m = x.mean(dims, true);
    const centered = x.sub(m);
    const inv = centered.mul(centered).mean(dims, true).add(ctx.attrs.float('epsilon', 1e-5)).rsqrt();
    let y = centered.mul(inv).mul(ctx.tensor(1));
    if (ctx.has(2)) y = y.add(ctx.tensor(2));
    return [y, m, inv];
  },
});

register('LRN', simple(1, (ctx) => {
  const x = ctx.tensor(0);
  const size = ctx.attrs.int('size');
  const alpha = ctx.attrs.float('alpha', 1e-4), beta = ctx.attrs.float('beta', 0.75), bias = ctx.attrs.float('bias', 1);
  // Σ of squares over channels [c − ⌊(size−1)/2⌋, c + ⌈(size−1)/2⌉], as a window along dim 1.
  const before = Math.floor((size - 1) / 2), after = Math.ceil((size - 1) / 2);
  const sq = F.pad(x.mul(x), x.shape.map((_, i): [number, number] => (i === 1 ? [before, after] : [0, 0])));
  const sums = sq.unfold(1, size, 1).sum(-1);
  return x.div(sums.mul(alpha / size).add(bias).pow(beta));
}));

register('MeanVarianceNormalization', simple(9, (ctx) => {
  const x = ctx.tensor(0);
  const axes = normAxes(ctx, ctx.attrs.ints('axes', [0, 2, 3]), x.ndim);
  const m = x.mean(axes, true);
  const std = x.mul(x).mean(axes, true).sub(m.mul(m)).sqrt();
  return x.sub(m).div(std.add(1e-9));
}));

// ----- losses ------------------------------------------------------------------------------------

/** NLL over log-probabilities [N, C, d...] and targets [N, d...], with class weights and ignore_index. */
function nll(ctx: OpContext, logp: Tensor, target: Tensor, weight: Tensor | null): Tensor {
  const reduction = ctx.attrs.string('reduction', 'mean');
  const t = target.to('int32');
  const ignore = ctx.attrs.has('ignore_index') ? ctx.attrs.int('ignore_index') : null;
  const kept = ignore === null ? null : t.ne(ignore);
  const safe = kept ? t.where(kept, 0) : t;
  const picked = logp.gather(1, safe.unsqueeze(1)).squeeze(1);
  let w: Tensor | null = weight ? weight.indexSelect(0, safe.reshape([-1])).reshape(t.shape) : null;
  if (kept) w = w ? w.where(kept, 0) : kept.to('float32');
  const loss = w ? picked.mul(w).neg() : picked.neg();
  if (reduction === 'none') return loss;
  if (reduction === 'sum') return loss.sum();
  if (reduction !== 'mean') ctx.fail(`reduction '${reduction}' is not one of none, sum, mean`);
  return w ? loss.sum().div(w.sum()) : loss.mean();
}

register('NegativeLogLikelihoodLoss', simple(12, (ctx) => nll(ctx, ctx.tensor(0), ctx.tensor(1), ctx.has(2) ? ctx.tensor(2) : null)));

register('SoftmaxCrossEntropyLoss', {
  since: 12,
  run: (ctx) => {
    const logp = ctx.tensor(0).logSoftmax(1);
    return [nll(ctx, logp, ctx.tensor(1), ctx.has(2) ? ctx.tensor(2) : null), logp];
  },
});


// ----- integer convolution and matmul (quantized models) --------------------------------------------

/** x − zero point; a per-channel zero point (1-D) applies along `axis`. */
function shifted(ctx: OpContext, x: Tensor, zpIndex: number, axis: number): Tensor {
  const xi = x.to('int32');
  if (!ctx.has(zpIndex)) return xi;
  let zp = ctx.tensor(zpIndex).to('int32');
  if (zp.ndim === 1 && zp.size > 1) zp = zp.reshape(x.shape.map((d, i) => (i === axis ? d : 1)));
  return xi.sub(zp.size === 1 ? zp.reshape([]) : zp);
}

register('ConvInteger', simple(10, (ctx) => {
  const x = shifted(ctx, ctx.tensor(0), 2, 1), w = shifted(ctx, ctx.tensor(1), 3, 0);
  const g = geometry(ctx, x.shape.slice(2), ctx.attrs.ints('kernel_shape', w.shape.slice(2)));
  // Integer products summed exactly in int32 (the windowed matmul), not through float32.
  return convWindows(padSpatial(x, g.pads), w, ctx.attrs.int('group', 1), g.strides, g.dilations);
}));

register('MatMulInteger', simple(10, (ctx) => {
  const a = ctx.tensor(0);
  const b = ctx.tensor(1);
  return F.matmul(shifted(ctx, a, 2, a.ndim - 2), shifted(ctx, b, 3, b.ndim - 1));
}));
