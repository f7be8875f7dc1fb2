// The rest: window functions, quantization, ReverseSequence, NonMaxSuppression and Unique (their
// results depend on values: computed on the host), and the preview training domain's optimizers.
import * as F from '../../functional.js';
import type { Tensor } from '../../tensor.js';
import { ElemType, HostTensor } from '../host.js';
import { register, registerIn, type OpContext, type OpHandler } from '../registry.js';
import { dtypeOfAttr, idsAlong, normAxis, simple } from './util.js';

// ----- window functions (host) ---------------------------------------------------------------------

function windowOp(since: number, f: (n: number, denom: number) => number): OpHandler {
  const make = (ctx: OpContext) => {
    const size = ctx.host(0).item('window size');
    const denom = ctx.attrs.int('periodic', 1) === 1 ? size : size - 1;
    const type = ctx.attrs.int('output_datatype', ElemType.FLOAT);
    dtypeOfAttr(ctx, type);
    return [new HostTensor(type, [size], Array.from({ length: size }, (_, n) => Math.fround(f(n, denom))))];
  };
  return { since, hostInputs: [0], run: make, host: make };
}
const TAU = 2 * Math.PI;
register('HannWindow', windowOp(17, (n, d) => 0.5 - 0.5 * Math.cos((TAU * n) / d)));
register('HammingWindow', windowOp(17, (n, d) => 25 / 46 - (21 / 46) * Math.cos((TAU * n) / d)));
register('BlackmanWindow', windowOp(17, (n, d) => 0.42 - 0.5 * Math.cos((TAU * n) / d) + 0.08 * Math.cos((2 * TAU * n) / d)));

// ----- quantization ----------------------------------------------------------------------------------

/** [lo, hi] of a quantized type (int8 or uint8; held as int32 in kiln). */
const rangeOf = (type: number): [number, number] => (type === ElemType.INT8 ? [-128, 127] : [0, 255]);

/** A per-axis scale or zero point (1-D) shaped to broadcast along the `axis` attribute of x. */
function perAxis(ctx: OpContext, t: Tensor, x: Tensor): Tensor {
  if (t.ndim !== 1 || t.size === 1) return t.reshape([]);
  const axis = normAxis(ctx.opType, ctx.attrs.int('axis', 1), x.ndim);
  return t.reshape(x.shape.map((d, i) => (i === axis ? d : 1)));
}

register('QuantizeLinear', simple(10, (ctx) => {
  const x = ctx.tensor(0);
  const scale = perAxis(ctx, ctx.tensor(1), x);
  const type = ctx.has(2) ? ctx.elemType(2) : ElemType.UINT8;
  const zp = ctx.has(2) ? perAxis(ctx, ctx.tensor(2), x).to('float32') : 0;
  const [lo, hi] = rangeOf(type);
  return x.div(scale).round().add(zp).clamp(lo, hi).to('int32');
}));

register('DequantizeLinear', simple(10, (ctx) => {
  const x = ctx.tensor(0);
  const zp = ctx.has(2) ? perAxis(ctx, ctx.tensor(2), x).to('float32') : 0;
  return x.to('float32').sub(zp).mul(perAxis(ctx, ctx.tensor(1), x));
}));

register('DynamicQuantizeLinear', {
  since: 11,
  run: (ctx) => {
    const x = ctx.tensor(0);
    const lo = x.min().minimum(0), hi = x.max().maximum(0);
    const scale = hi.sub(lo).div(255);
    const zp = lo.neg().div(scale).round().clamp(0, 255);
    const y = x.div(scale).round().add(zp).clamp(0, 255).to('int32');
    return [y, scale, zp.to('int32')];
  },
});

// ----- ReverseSequence -------------------------------------------------------------------------------

register('ReverseSequence', simple(10, (ctx) => {
  const x = ctx.tensor(0);
  const lens = ctx.tensor(1).to('int32');
  const timeAxis = normAxis('ReverseSequence', ctx.attrs.int('time_axis', 0), x.ndim);
  const batchAxis = normAxis('ReverseSequence', ctx.attrs.int('batch_axis', 1), x.ndim);
  // Position t of batch b reads len_b − 1 − t while t < len_b, else stays.
  const t = idsAlong(ctx, x.shape[timeAxis], timeAxis, x.ndim);
  const len = lens.reshape(x.shape.map((d, i) => (i === batchAxis ? d : 1)));
  const src = len.sub(1).sub(t).where(t.lt(len), t);
  return x.gather(timeAxis, src.expand(x.shape).contiguous());
}));

// ----- NonMaxSuppression and Unique (host) ----------------------------------------------------------

register('NonMaxSuppression', {
  since: 10, hostInputs: [0, 1, 2, 3, 4], noFold: true,
  run: (ctx) => {
    const boxes = ctx.host(0), scores = ctx.host(1);
    const maxOut = ctx.has(2) ? ctx.host(2).item('max_output_boxes_per_class') : 0;
    const iouMax = ctx.has(3) ? ctx.host(3).item('iou_threshold') : 0;
    const scoreMin = ctx.has(4) ? ctx.host(4).item('score_threshold') : -Infinity;
    const center = ctx.attrs.int('center_point_box', 0) === 1;
    const [batches, classes, count] = scores.shape;
    const corners = (b: number, i: number): [number, number, number, number] => {
      const o = (b * count + i) * 4;
      const [a, c, d, e] = [boxes.data[o], boxes.data[o + 1], boxes.data[o + 2], boxes.data[o + 3]];
      if (center) return [c - e / 2, a - d / 2, c + e / 2, a + d / 2]; // [x_c, y_c, w, h] -> y1 x1 y2 x2
      return [Math.min(a, d), Math.min(c, e), Math.max(a, d), Math.max(c, e)];
    };
    const iou = (p: number[], q: number[]) => {
      const ih = Math.max(0, Math.min(p[2], q[2]) - Math.max(p[0], q[0])), iw = Math.max(0, Math.min(p[3], q[3]) - Math.max(p[1], q[1]));
      const inter = ih * iw;
      const union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter;
      return union > 0 ? inter / union : 0;
    };
    const selected: number[] = [];
    for (let b = 0; b < batches; b++) {
      for (let c = 0; c < classes; c++) {
        const score = (i: number) => scores.data[(b * classes + c) * count + i];
        const order = Array.from({ length: count }, (_, i) => i).filter((i) => score(i) > scoreMin).sort((i, j) => score(j) - score(i) || i - j);
        const kept: number[] = [];
        for (const i of order) {
          if (kept.length >= maxOut) break;
          if (kept.every((j) => iou(corners(b, i), corners(b, j)) <= iouMax)) kept.push(i);
        }
        for (const i of kept) selected.push(b, c, i);
      }
    }
    return [new HostTensor(ElemType.INT64, [selected.length / 3, 3], selected)];
  },
});

register('Unique', {
  since: 11, hostInputs: [0], noFold: true,
  run: (ctx) => {
    const x = ctx.host(0);
    const sorted = ctx.attrs.int('sorted', 1) === 1;
    const hasAxis = ctx.attrs.has('axis');
    const axis = hasAxis ? normAxis('Unique', ctx.attrs.int('axis'), x.shape.length) : 0;
    const shape = hasAxis ? x.shape : [x.size];
    // Slices along the axis as keys.
    const n = shape[axis], inner = shape.slice(axis + 1).reduce((p, d) => p * d, 1), outer = shape.slice(0, axis).reduce((p, d) => p * d, 1);
    const sliceOf = (k: number) => { const v: number[] = []; for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) v.push(x.data[(o * n + k) * inner + i]); return v; };
    const slices = Array.from({ length: n }, (_, k) => sliceOf(k));
    const firsts: number[] = [], inverse: number[] = [], counts: number[] = [];
    const seen = new Map<string, number>();
    slices.forEach((s, k) => {
      const key = s.join(',');
      let u = seen.get(key);
      if (u === undefined) { u = firsts.length; seen.set(key, u); firsts.push(k); counts.push(0); }
      inverse.push(u);
      counts[u]++;
    });
    let order = firsts.map((_, u) => u);
    if (sorted) {
      const cmp = (a: number[], b: number[]) => { for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i]; return 0; };
      order.sort((p, q) => cmp(slices[firsts[p]], slices[firsts[q]]));
    }
    const rank = new Map(order.map((u, i) => [u, i]));
    const ySlices = order.map((u) => slices[firsts[u]]);
    const yShape = [...shape]; yShape[axis] = order.length;
    const y: number[] = [];
    for (let o = 0; o < outer; o++) for (const s of ySlices) for (let i = 0; i < inner; i++) y.push(s[o * inner + i]);
    const I64 = ElemType.INT64;
    return [
      new HostTensor(x.type, yShape, y),
      new HostTensor(I64, [order.length], order.map((u) => firsts[u])),
      new HostTensor(I64, [n], inverse.map((u) => rank.get(u)!)),
      new HostTensor(I64, [order.length], order.map((u) => counts[u])),
    ];
  },
});

// ----- the preview training domain's optimizers ------------------------------------------------------

const TRAINING = 'ai.onnx.preview.training';

/** Splits the variadic inputs after R and T into `groups` equal lists (X..., G..., V..., H...). */
function groupsOf(ctx: OpContext, groups: number): Tensor[][] {
  const n = (ctx.inputCount - 2) / groups;
  if (!Number.isInteger(n)) ctx.fail(`expects 2 + ${groups}·n inputs, got ${ctx.inputCount}`);
  return Array.from({ length: groups }, (_, g) => Array.from({ length: n }, (_, i) => ctx.tensor(2 + g * n + i)));
}

registerIn(TRAINING, 'Adagrad', {
  since: 1,
  run: (ctx) => {
    const r = ctx.tensor(0).reshape([]), t = ctx.tensor(1).reshape([]).to('float32');
    const decay = ctx.attrs.float('decay_factor', 0), eps = ctx.attrs.float('epsilon', 0), norm = ctx.attrs.float('norm_coefficient', 0);
    const [xs, gs, hs] = groupsOf(ctx, 3);
    const rate = r.div(t.mul(decay).add(1));
    const outs = xs.map((x, i) => {
      const g = x.mul(norm).add(gs[i]);
      const h = hs[i].add(g.mul(g));
      return [x.sub(rate.mul(g).div(h.sqrt().add(eps))), h];
    });
    return [...outs.map((o) => o[0]), ...outs.map((o) => o[1])];
  },
});

registerIn(TRAINING, 'Momentum', {
  since: 1,
  run: (ctx) => {
    const r = ctx.tensor(0).reshape([]), t = ctx.tensor(1).reshape([]);
    const alpha = ctx.attrs.float('alpha'), beta = ctx.attrs.float('beta'), norm = ctx.attrs.float('norm_coefficient');
    const nesterov = ctx.attrs.string('mode') === 'nesterov';
    const [xs, gs, vs] = groupsOf(ctx, 3);
    const b = F.where(t.gt(0), beta, 1);
    const outs = xs.map((x, i) => {
      const g = x.mul(norm).add(gs[i]);
      const v = vs[i].mul(alpha).add(g.mul(b));
      return [x.sub(r.mul(nesterov ? g.add(v.mul(alpha)) : v)), v];
    });
    return [...outs.map((o) => o[0]), ...outs.map((o) => o[1])];
  },
});

registerIn(TRAINING, 'Adam', {
  since: 1,
  run: (ctx) => {
    const r = ctx.tensor(0).reshape([]), t = ctx.tensor(1).reshape([]).to('float32');
    // epsilon's default is 1e-2: the conformance suite's reference results (test_adam_multiple) use it.
    const alpha = ctx.attrs.float('alpha', 0.9), beta = ctx.attrs.float('beta', 0.999), eps = ctx.attrs.float('epsilon', 1e-2);
    const norm = ctx.attrs.float('norm_coefficient', 0), post = ctx.attrs.float('norm_coefficient_post', 0);
    const [xs, gs, vs, hs] = groupsOf(ctx, 4);
    // Bias correction once a step has been taken: R·√(1 − βᵀ)/(1 − αᵀ).
    const corrected = r.mul(t.mul(Math.log(beta)).exp().neg().add(1).sqrt()).div(t.mul(Math.log(alpha)).exp().neg().add(1));
    const rate = F.where(t.gt(0), corrected, r);
    const outs = xs.map((x, i) => {
      const g = x.mul(norm).add(gs[i]);
      const v = vs[i].mul(alpha).add(g.mul(1 - alpha));
      const h = hs[i].mul(beta).add(g.mul(g).mul(1 - beta));
      const xNew = x.sub(rate.mul(v.div(h.sqrt().add(eps)))).mul(1 - post);
      return [xNew, v, h];
    });
    return [...outs.map((o) => o[0]), ...outs.map((o) => o[1]), ...outs.map((o) => o[2])];
  },
});
