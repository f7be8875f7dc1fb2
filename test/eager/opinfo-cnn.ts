// Op-info rows of the convolutional ops: the window view (Tensor.unfold), unfold/fold, convolutions,
// pooling, normalisation, padding modes, resampling and CNN activations, against the float64
// references of reference-cnn.ts. Samples cover batch 1 and >1, odd sizes, stride > kernel, dilation,
// every groups case, padding modes, empty batches and non-contiguous inputs.
import * as k from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import * as R from './reference.js';
import * as RC from './reference-cnn.js';
import type { RArray, Rng } from './reference.js';
import type { InputSpec, OpRow, Sample } from './opinfo.js';

const DEFAULT_TOL = { atol: 1e-5, rtol: 1e-5, gradAtol: 5e-4, gradRtol: 5e-3 };
/** Sums of many float32 products: a looser value tolerance. */
const SUM_TOL = { atol: 5e-5, rtol: 5e-5 };

function row<A>(r: Omit<OpRow<A>, 'atol' | 'rtol' | 'gradAtol' | 'gradRtol' | 'samples'> & Partial<typeof DEFAULT_TOL>
  & { samples: (rng: Rng) => Sample<A>[] }): OpRow<A> {
  return { ...DEFAULT_TOL, ...r, samples: r.samples(R.makeRng(R.hashString(r.name))) };
}

const C = (x: RArray, grad?: boolean): InputSpec => ({ base: x, grad });
/** x reached through a permute of a base laid out in another order (e.g. channels-last). */
function P(x: RArray, order: readonly number[]): InputSpec {
  const inv: number[] = [];
  order.forEach((d, i) => { inv[d] = i; });
  return { base: R.permute(x, inv), view: { kind: 'permute', order } };
}
/** A 4-D [N, C, H, W] tensor stored channels-last. */
const NHWC = (x: RArray) => P(x, [0, 3, 1, 2]);
/** A 3-D [N, C, L] tensor stored as [N, L, C]. */
const NLC = (x: RArray) => P(x, [0, 2, 1]);

/**
 * Distinct values (a shuffled grid over [lo, hi)), so no two elements of a window come within a
 * finite-difference step of each other: max pooling's gradient is then well defined.
 */
function distinct(rng: Rng, shape: number[], lo = -2, hi = 2): RArray {
  const n = R.sizeOf(shape);
  const vals = Array.from({ length: n }, (_, i) => lo + ((hi - lo) * (i + 0.5)) / n);
  for (let i = n - 1; i > 0; i--) { const j = Math.floor(rng() * (i + 1)); [vals[i], vals[j]] = [vals[j], vals[i]]; }
  return R.arr(shape, vals);
}

type Pads = number | number[] | 'same' | 'valid';
const perDim = (v: number | number[] | undefined, nd: number, dflt: number) => (v === undefined ? Array(nd).fill(dflt) : typeof v === 'number' ? Array(nd).fill(v) : v);

function convGeometry(a: { stride?: number | number[]; padding?: Pads; dilation?: number | number[] }, ks: readonly number[]): RC.Geometry {
  const nd = ks.length;
  const dilation = perDim(a.dilation, nd, 1);
  let pads: [number, number][];
  if (a.padding === 'same') pads = ks.map((kk, t) => { const total = dilation[t] * (kk - 1); return [Math.floor(total / 2), total - Math.floor(total / 2)]; });
  else if (a.padding === 'valid') pads = ks.map(() => [0, 0]);
  else pads = perDim(a.padding, nd, 0).map((p) => [p, p]);
  return { stride: perDim(a.stride, nd, 1), pads, dilation };
}

// ----- the window view and im2col ----------------------------------------------------------------

const TENSOR_UNFOLD = row<{ dim: number; size: number; step: number }>({
  name: 'Tensor.unfold',
  op: ([x], a) => x.unfold(a.dim, a.size, a.step),
  ref: ([x], a) => RC.unfoldDim(x, a.dim, a.size, a.step),
  grad: true,
  samples: (rng) => {
    const u = (s: number[]) => R.uniform(rng, s);
    return [
      { desc: '[7] size 3 step 2 (overlapping)', inputs: [C(u([7]))], args: { dim: 0, size: 3, step: 2 } },
      { desc: '[2,9] dim 1 size 2 step 3 (gaps)', inputs: [C(u([2, 9]))], args: { dim: 1, size: 2, step: 3 } },
      { desc: '[5,3] dim 0 size 3 step 1', inputs: [C(u([5, 3]))], args: { dim: 0, size: 3, step: 1 } },
      { desc: '[3,4] dim -1 size 4 (one window)', inputs: [C(u([3, 4]))], args: { dim: -1, size: 4, step: 1 } },
      { desc: 'transposed [6,3] dim 0 size 2 step 2 (tiles)', inputs: [P(u([6, 3]), [1, 0])], args: { dim: 0, size: 2, step: 2 } },
      { desc: 'empty [0,6] dim 1', inputs: [C(u([0, 6]))], args: { dim: 1, size: 3, step: 1 } },
      { desc: '0-d size 1', inputs: [C(u([]))], args: { dim: 0, size: 1, step: 1 } },
      { desc: 'int32', inputs: [C(R.randint(rng, [8], -5, 5))], args: { dim: 0, size: 3, step: 2 }, grad: false },
    ];
  },
});

type FoldArgs = { k: number | number[]; dilation?: number | number[]; padding?: number | number[]; stride?: number | number[] };
const foldOpts = (a: FoldArgs) => ({ dilation: a.dilation, padding: a.padding, stride: a.stride });
const foldGeom = (a: FoldArgs): [number[], RC.Geometry] => { const ks = perDim(a.k, 2, 1); return [ks, convGeometry(a, ks)]; };

const UNFOLD = row<FoldArgs>({
  name: 'unfold',
  op: ([x], a) => k.unfold(x, a.k, foldOpts(a)),
  ref: ([x], a) => {
    const [ks, g] = foldGeom(a);
    if (x.shape.length === 3) { const r = RC.im2col(R.unsqueeze(x, 0), ks, g); return R.squeeze(r, 0); }
    return RC.im2col(x, ks, g);
  },
  grad: true,
  samples: (rng) => {
    const u = (s: number[]) => R.uniform(rng, s);
    return [
      { desc: '[2,3,4,5] kernel 2', inputs: [C(u([2, 3, 4, 5]))], args: { k: 2 } },
      { desc: '[1,2,5,6] kernel [2,3] stride 2 padding 1 dilation [1,2]', inputs: [C(u([1, 2, 5, 6]))], args: { k: [2, 3], stride: 2, padding: 1, dilation: [1, 2] } },
      { desc: 'stride 3 > kernel 2', inputs: [C(u([1, 2, 7, 8]))], args: { k: 2, stride: 3 } },
      { desc: 'unbatched [2,4,4]', inputs: [C(u([2, 4, 4]))], args: { k: 3, padding: 1 } },
      { desc: 'empty batch [0,2,4,4]', inputs: [C(u([0, 2, 4, 4]))], args: { k: 2 } },
      { desc: 'channels-last input', inputs: [NHWC(u([2, 3, 4, 4]))], args: { k: 3, padding: 1, stride: 2 } },
    ];
  },
});

const FOLD = row<FoldArgs & { size: number[] }>({
  name: 'fold',
  op: ([x], a) => k.fold(x, a.size, a.k, foldOpts(a)),
  ref: ([x], a) => { const [ks, g] = foldGeom(a); return RC.col2im(x, a.size, ks, g); },
  grad: true,
  samples: (rng) => {
    const u = (s: number[]) => R.uniform(rng, s);
    // Columns [N, C·k, L] for an output `size` with kernel `kk`.
    const cols = (n: number, c: number, size: number[], a: FoldArgs) => {
      const [ks, g] = foldGeom(a);
      return [n, c * R.sizeOf(ks), R.sizeOf(RC.counts(size, ks, g))];
    };
    const s = (desc: string, n: number, c: number, a: FoldArgs & { size: number[] }, wrap = C): Sample<FoldArgs & { size: number[] }> =>
      ({ desc, inputs: [wrap(u(cols(n, c, a.size, a)))], args: a });
    return [
      s('[2,2·9,L] into 5×4, kernel 3 (overlapping)', 2, 2, { size: [5, 4], k: 3 }),
      s('kernel 2 stride 2 (tiles)', 1, 3, { size: [4, 6], k: 2, stride: 2 }),
      s('kernel [2,3] stride [2,1] padding 1 dilation [2,1]', 1, 2, { size: [5, 5], k: [2, 3], stride: [2, 1], padding: 1, dilation: [2, 1] }),
      s('stride 3 > kernel 2 (gaps)', 2, 1, { size: [7, 8], k: 2, stride: 3 }),
      s('empty batch', 0, 2, { size: [4, 4], k: 2 }),
      { desc: 'transposed columns', inputs: [P(u([1, 8, 9]), [0, 2, 1])], args: { size: [4, 4], k: 2 } },
    ];
  },
});

// ----- convolutions ------------------------------------------------------------------------------

type ConvArgs = { stride?: number | number[]; padding?: Pads; dilation?: number | number[]; groups?: number };

function convRow(name: 'conv1d' | 'conv2d', samples: (u: (s: number[]) => RArray, rng: Rng) => Sample<ConvArgs>[]): OpRow<ConvArgs> {
  return row<ConvArgs>({
    name,
    op: ([x, w, b], a) => k[name](x, w, b ?? null, a),
    ref: ([x, w, b], a) => RC.conv(x, w, b ?? null, convGeometry(a, w.shape.slice(2)), a.groups ?? 1),
    grad: true,
    ...SUM_TOL,
    samples: (rng) => samples((s) => R.uniform(rng, s), rng),
  });
}

const cv = (desc: string, inputs: InputSpec[], args: ConvArgs = {}, extra: Partial<Sample> = {}): Sample<ConvArgs> => ({ desc, inputs, args, ...extra });

const CONV2D = convRow('conv2d', (u) => [
  cv('[2,3,5,4] 3×3 padding 1, bias', [C(u([2, 3, 5, 4])), C(u([2, 3, 3, 3])), C(u([2]))], { padding: 1 }),
  cv('batch 1, odd [1,2,7,5], stride 2, no bias', [C(u([1, 2, 7, 5])), C(u([3, 2, 3, 3]))], { stride: 2 }),
  cv('stride 3 > kernel 2', [C(u([2, 2, 7, 8])), C(u([2, 2, 2, 2])), C(u([2]))], { stride: 3 }),
  cv('dilation 2, padding [2,1]', [C(u([1, 2, 6, 7])), C(u([2, 2, 3, 3]))], { dilation: 2, padding: [2, 1] }),
  cv('groups 2', [C(u([2, 4, 4, 4])), C(u([4, 2, 3, 3])), C(u([4]))], { groups: 2, padding: 1 }),
  cv('depthwise (groups = channels)', [C(u([2, 3, 5, 5])), C(u([3, 1, 3, 3])), C(u([3]))], { groups: 3, padding: 1 }),
  cv('depthwise with channel multiplier 2', [C(u([1, 2, 5, 4])), C(u([4, 1, 3, 3]))], { groups: 2, stride: [1, 2] }),
  cv('1×1 (a plain matmul)', [C(u([2, 4, 3, 5])), C(u([3, 4, 1, 1])), C(u([3]))]),
  cv('1×1 stride 2 (ResNet downsample)', [C(u([1, 3, 5, 5])), C(u([2, 3, 1, 1]))], { stride: 2 }),
  cv("padding 'same', even kernel 4×2", [C(u([1, 2, 5, 4])), C(u([2, 2, 4, 2]))], { padding: 'same' }),
  cv("padding 'valid', kernel [2,3]", [C(u([1, 2, 4, 5])), C(u([2, 2, 2, 3]))], { padding: 'valid' }),
  cv('stride 2, padding 1, dilation 2, groups 2 together', [C(u([1, 4, 7, 6])), C(u([2, 2, 2, 2])), C(u([2]))], { stride: 2, padding: 1, dilation: 2, groups: 2 }),
  cv('empty batch', [C(u([0, 3, 4, 4])), C(u([2, 3, 3, 3])), C(u([2]))], { padding: 1 }),
  cv('channels-last input, transposed weight', [NHWC(u([2, 3, 4, 5])), P(u([2, 3, 3, 2]), [0, 1, 3, 2])], { padding: 1 }),
  cv('padded, output rows of whole 8-wide panels: interior and border [1,3,6,24] (values only)', [C(u([1, 3, 6, 24])), C(u([5, 3, 3, 3])), C(u([5]))], { padding: 1 }, { grad: false }),
  cv('a larger layer [2,8,9,9] (values only)', [C(u([2, 8, 9, 9])), C(u([16, 8, 3, 3])), C(u([16]))], { padding: 1 }, { grad: false }),
  cv('a larger depthwise layer [1,16,9,9] stride 2 (values only)', [C(u([1, 16, 9, 9])), C(u([16, 1, 3, 3]))], { padding: 1, stride: 2, groups: 16 }, { grad: false }),
]);

const CONV1D = convRow('conv1d', (u) => [
  cv('[2,3,7] kernel 3 padding 1, bias', [C(u([2, 3, 7])), C(u([4, 3, 3])), C(u([4]))], { padding: 1 }),
  cv('batch 1, stride 2, dilation 2', [C(u([1, 2, 11])), C(u([2, 2, 3]))], { stride: 2, dilation: 2 }),
  cv('groups 2, stride 3 > kernel 2', [C(u([2, 4, 9])), C(u([4, 2, 2]))], { groups: 2, stride: 3 }),
  cv('depthwise', [C(u([2, 3, 6])), C(u([3, 1, 3])), C(u([3]))], { groups: 3, padding: 'same' }),
  cv("padding 'same', even kernel 4", [C(u([1, 2, 6])), C(u([3, 2, 4]))], { padding: 'same' }),
  cv('empty batch', [C(u([0, 2, 5])), C(u([3, 2, 3]))]),
  cv('[N, L, C] input', [NLC(u([2, 3, 6])), C(u([2, 3, 2]))], { padding: 1 }),
]);

type ConvTArgs = { stride?: number | number[]; padding?: number | number[]; outputPadding?: number | number[]; groups?: number; dilation?: number | number[] };

function convTransposeRow(name: 'convTranspose1d' | 'convTranspose2d', samples: (u: (s: number[]) => RArray) => Sample<ConvTArgs>[]): OpRow<ConvTArgs> {
  return row<ConvTArgs>({
    name,
    op: ([x, w, b], a) => k[name](x, w, b ?? null, a),
    ref: ([x, w, b], a) => {
      const nd = x.shape.length - 2;
      return RC.convTranspose(x, w, b ?? null, perDim(a.stride, nd, 1), perDim(a.padding, nd, 0), perDim(a.outputPadding, nd, 0), perDim(a.dilation, nd, 1), a.groups ?? 1);
    },
    grad: true,
    ...SUM_TOL,
    samples: (rng) => samples((s) => R.uniform(rng, s)),
  });
}

const ct = (desc: string, inputs: InputSpec[], args: ConvTArgs = {}, extra: Partial<Sample> = {}): Sample<ConvTArgs> => ({ desc, inputs, args, ...extra });

const CONV_TRANSPOSE2D = convTransposeRow('convTranspose2d', (u) => [
  ct('[2,3,3,3] stride 2 padding 1 outputPadding 1, bias', [C(u([2, 3, 3, 3])), C(u([3, 2, 3, 3])), C(u([2]))], { stride: 2, padding: 1, outputPadding: 1 }),
  ct('batch 1, stride 1 (overlapping taps)', [C(u([1, 2, 4, 3])), C(u([2, 3, 3, 3]))]),
  ct('groups 2', [C(u([2, 4, 3, 3])), C(u([4, 2, 2, 2])), C(u([4]))], { groups: 2, stride: 2 }),
  ct('dilation 2, padding 2', [C(u([1, 2, 4, 5])), C(u([2, 2, 3, 3]))], { dilation: 2, padding: 2 }),
  ct('stride 3 > kernel 2 (gaps), outputPadding 2', [C(u([1, 2, 3, 2])), C(u([2, 1, 2, 2]))], { stride: 3, outputPadding: 2 }),
  ct('stride [1,2], kernel [2,3]', [C(u([1, 2, 3, 3])), C(u([2, 2, 2, 3]))], { stride: [1, 2] }),
  ct('empty batch', [C(u([0, 2, 3, 3])), C(u([2, 2, 3, 3]))], { stride: 2 }),
  ct('channels-last input', [NHWC(u([2, 3, 3, 2])), C(u([3, 2, 2, 2]))], { stride: 2 }),
]);

const CONV_TRANSPOSE1D = convTransposeRow('convTranspose1d', (u) => [
  ct('[2,3,4] stride 2 padding 1 outputPadding 1, bias', [C(u([2, 3, 4])), C(u([3, 2, 3])), C(u([2]))], { stride: 2, padding: 1, outputPadding: 1 }),
  ct('groups 3, dilation 2', [C(u([1, 3, 5])), C(u([3, 1, 3]))], { groups: 3, dilation: 2 }),
  ct('empty batch', [C(u([0, 2, 3])), C(u([2, 2, 3]))]),
  ct('[N, L, C] input', [NLC(u([1, 2, 4])), C(u([2, 1, 2]))], { stride: 2 }),
]);

// ----- pooling -----------------------------------------------------------------------------------

type PoolArgs = { k: number | number[]; stride?: number | number[]; padding?: number | number[]; dilation?: number | number[]; ceilMode?: boolean; returnIndices?: boolean; countIncludePad?: boolean; divisorOverride?: number };

const poolGeom = (a: PoolArgs, nd: number): RC.PoolGeometry => {
  const ks = perDim(a.k, nd, 1);
  return { ks, stride: a.stride === undefined ? ks : perDim(a.stride, nd, 1), pads: perDim(a.padding, nd, 0).map((p) => [p, p]), dilation: perDim(a.dilation, nd, 1), ceil: a.ceilMode ?? false };
};
const poolOpts = (a: PoolArgs) => ({ stride: a.stride, padding: a.padding, dilation: a.dilation, ceilMode: a.ceilMode, returnIndices: a.returnIndices, countIncludePad: a.countIncludePad, divisorOverride: a.divisorOverride });

function maxPoolRow(name: 'maxPool1d' | 'maxPool2d', nd: number, samples: (d: (s: number[]) => RArray) => Sample<PoolArgs>[]): OpRow<PoolArgs> {
  return row<PoolArgs>({
    name,
    op: ([x], a) => (k[name] as (x: Tensor, kk: number | number[], o: object) => Tensor | Tensor[])(x, a.k, poolOpts(a)),
    ref: ([x], a) => { const [v, i] = RC.maxPool(x, nd, poolGeom(a, nd)); return a.returnIndices ? [v, i] : v; },
    grad: true,
    samples: (rng) => samples((s) => distinct(rng, s)),
  });
}

const pl = (desc: string, inputs: InputSpec[], args: PoolArgs, extra: Partial<Sample> = {}): Sample<PoolArgs> => ({ desc, inputs, args, ...extra });
const EDGE_POOL = R.arr([1, 1, 2, 4], [1, NaN, -Infinity, 2, Infinity, 0, -1, -Infinity]);

const MAX_POOL2D = maxPoolRow('maxPool2d', 2, (d) => [
  pl('[2,3,4,6] kernel 2 (stride = kernel)', [C(d([2, 3, 4, 6]))], { k: 2 }),
  pl('batch 1, odd [1,2,7,7], kernel 3 stride 2 padding 1', [C(d([1, 2, 7, 7]))], { k: 3, stride: 2, padding: 1 }),
  pl('dilation 2', [C(d([1, 2, 6, 7]))], { k: 2, stride: 1, dilation: 2 }),
  pl('ceil mode', [C(d([2, 1, 6, 5]))], { k: 3, stride: 2, ceilMode: true }),
  pl('stride 3 > kernel 2', [C(d([1, 2, 8, 7]))], { k: 2, stride: 3 }),
  pl('kernel [2,3] stride [1,2]', [C(d([1, 2, 4, 7]))], { k: [2, 3], stride: [1, 2] }),
  pl('returnIndices, padding 1, ceil mode', [C(d([2, 2, 5, 6]))], { k: 3, stride: 2, padding: 1, ceilMode: true, returnIndices: true }),
  pl('unbatched [C,H,W]', [C(d([2, 5, 5]))], { k: 2, stride: 1 }),
  pl('empty batch', [C(d([0, 2, 4, 4]))], { k: 2 }),
  pl('channels-last input', [NHWC(d([2, 3, 5, 4]))], { k: 2, stride: 1, returnIndices: true }),
  pl('NaN and inf (values only)', [C(EDGE_POOL)], { k: 2, stride: 1 }, { grad: false }),
]);

const MAX_POOL1D = maxPoolRow('maxPool1d', 1, (d) => [
  pl('[2,3,7] kernel 3 stride 2 padding 1', [C(d([2, 3, 7]))], { k: 3, stride: 2, padding: 1 }),
  pl('dilation 2, ceil mode, returnIndices', [C(d([1, 2, 8]))], { k: 2, stride: 2, dilation: 2, ceilMode: true, returnIndices: true }),
  pl('stride 3 > kernel 2, unbatched', [C(d([2, 8]))], { k: 2, stride: 3 }),
  pl('empty batch', [C(d([0, 2, 4]))], { k: 2 }),
  pl('[N, L, C] input', [NLC(d([2, 3, 6]))], { k: 2 }),
]);

function avgPoolRow(name: 'avgPool1d' | 'avgPool2d', nd: number, samples: (u: (s: number[]) => RArray) => Sample<PoolArgs>[]): OpRow<PoolArgs> {
  return row<PoolArgs>({
    name,
    op: ([x], a) => k[name](x, a.k, poolOpts(a)),
    ref: ([x], a) => RC.avgPool(x, nd, poolGeom(a, nd), a.countIncludePad ?? true, a.divisorOverride),
    grad: true,
    samples: (rng) => samples((s) => R.uniform(rng, s)),
  });
}

const AVG_POOL2D = avgPoolRow('avgPool2d', 2, (u) => [
  pl('[2,3,4,6] kernel 2', [C(u([2, 3, 4, 6]))], { k: 2 }),
  pl('batch 1, odd [1,2,7,7], kernel 3 stride 2 padding 1', [C(u([1, 2, 7, 7]))], { k: 3, stride: 2, padding: 1 }),
  pl('countIncludePad false', [C(u([2, 1, 5, 5]))], { k: 3, stride: 2, padding: 1, countIncludePad: false }),
  pl('ceil mode with padding (the overhang is not counted)', [C(u([1, 2, 6, 5]))], { k: 3, stride: 2, padding: 1, ceilMode: true }),
  pl('ceil mode, countIncludePad false', [C(u([1, 1, 6, 6]))], { k: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false }),
  pl('divisorOverride 5', [C(u([1, 2, 4, 4]))], { k: 2, divisorOverride: 5 }),
  pl('stride 3 > kernel 2, kernel [2,1]', [C(u([1, 2, 8, 7]))], { k: [2, 1], stride: 3 }),
  pl('unbatched [C,H,W]', [C(u([2, 4, 5]))], { k: 2, stride: 1 }),
  pl('empty batch', [C(u([0, 2, 4, 4]))], { k: 2 }),
  pl('channels-last input', [NHWC(u([2, 3, 4, 4]))], { k: 3, stride: 1, padding: 1 }),
]);

const AVG_POOL1D = avgPoolRow('avgPool1d', 1, (u) => [
  pl('[2,3,7] kernel 3 stride 2 padding 1', [C(u([2, 3, 7]))], { k: 3, stride: 2, padding: 1 }),
  pl('countIncludePad false, ceil mode', [C(u([1, 2, 8]))], { k: 3, stride: 2, padding: 1, countIncludePad: false, ceilMode: true }),
  pl('empty batch', [C(u([0, 2, 4]))], { k: 2 }),
  pl('unbatched [N, L, C] view', [P(u([3, 6]), [1, 0])], { k: 2 }),
]);

type AdaptiveArgs = { size: number | (number | null)[]; returnIndices?: boolean };
const adaptiveOut = (x: RArray, s: AdaptiveArgs['size']) => { const sp = x.shape.slice(-2); return typeof s === 'number' ? [s, s] : s.map((v, t) => v ?? sp[t]); };

function adaptiveRow(name: 'adaptiveAvgPool2d' | 'adaptiveMaxPool2d'): OpRow<AdaptiveArgs> {
  const kind = name === 'adaptiveAvgPool2d' ? 'avg' : 'max';
  return row<AdaptiveArgs>({
    name,
    op: ([x], a) => (kind === 'avg' ? k.adaptiveAvgPool2d(x, a.size) : k.adaptiveMaxPool2d(x, a.size, { returnIndices: a.returnIndices })),
    ref: ([x], a) => { const [v, i] = RC.adaptivePool2d(x, adaptiveOut(x, a.size), kind); return a.returnIndices ? [v, i] : v; },
    grad: true,
    samples: (rng) => {
      const d = (s: number[]) => (kind === 'max' ? distinct(rng, s) : R.uniform(rng, s));
      const ad = (desc: string, x: InputSpec, args: AdaptiveArgs): Sample<AdaptiveArgs> => ({ desc, inputs: [x], args });
      const idx = kind === 'max';
      return [
        ad('global [2,3,5,7] -> 1', C(d([2, 3, 5, 7])), { size: 1 }),
        ad('even windows [1,2,6,4] -> [3,2]', C(d([1, 2, 6, 4])), { size: [3, 2] }),
        ad('uneven windows [2,2,7,5] -> [3,4]', C(d([2, 2, 7, 5])), { size: [3, 4], returnIndices: idx }),
        ad('output larger than input [1,1,3,2] -> [4,3]', C(d([1, 1, 3, 2])), { size: [4, 3] }),
        ad('null keeps a dim [1,2,5,6] -> [2,null]', C(d([1, 2, 5, 6])), { size: [2, null] }),
        ad('unbatched [C,H,W]', C(d([2, 5, 5])), { size: 2, returnIndices: idx }),
        ad('empty batch', C(d([0, 2, 4, 4])), { size: 2 }),
        ad('channels-last input', NHWC(d([2, 3, 6, 5])), { size: [4, 2] }),
      ];
    },
  });
}

// ----- normalisation -----------------------------------------------------------------------------

type BnArgs = { training: boolean; affine: boolean; stats: boolean; momentum?: number; eps?: number };
const BATCH_NORM = row<BnArgs>({
  name: 'batchNorm',
  // Running statistics are cloned first, so each run (eager, traced, replayed) starts from the same state.
  op: ([x, rm, rv, w, b], a) => {
    const m = rm.clone(), v = rv.clone();
    const y = k.batchNorm(x, m, v, { weight: a.affine ? w : null, bias: a.affine ? b : null, training: a.training, momentum: a.momentum, eps: a.eps });
    return a.stats ? [y, m, v] : y;
  },
  ref: ([x, rm, rv, w, b], a) => {
    const outs = RC.batchNorm(x, rm, rv, a.affine ? w : null, a.affine ? b : null, a.training, a.momentum ?? 0.1, a.eps ?? 1e-5);
    return a.stats ? outs : outs[0];
  },
  grad: true,
  atol: 2e-5, rtol: 1e-4,
  samples: (rng) => {
    const u = (s: number[], lo = -2, hi = 2) => R.uniform(rng, s, lo, hi);
    const stats = (c: number) => [C(u([c]), false), C(u([c], 0.5, 2), false)];
    const affine = (c: number) => [C(u([c], 0.5, 1.5)), C(u([c]))];
    const bn = (desc: string, x: InputSpec, c: number, args: BnArgs, extra: Partial<Sample> = {}): Sample<BnArgs> =>
      ({ desc, inputs: [x, ...stats(c), ...(args.affine ? affine(c) : [])], args, ...extra });
    return [
      bn('training [4,3,3,3]: running statistics move', C(u([4, 3, 3, 3])), 3, { training: true, affine: true, stats: true }, { grad: false }),
      bn('training [4,3,3,3] gradient', C(u([4, 3, 3, 3])), 3, { training: true, affine: true, stats: false }),
      bn('training [6,4] (BatchNorm1d shape), momentum 0.3', C(u([6, 4])), 4, { training: true, affine: true, stats: true, momentum: 0.3 }, { grad: false }),
      bn('training [3,2,5] no affine', C(u([3, 2, 5])), 2, { training: true, affine: false, stats: false }),
      bn('eval [2,3,4,4]: running statistics as scale and shift', C(u([2, 3, 4, 4])), 3, { training: false, affine: true, stats: true }),
      bn('eval, batch 1, no affine, eps 1e-3', C(u([1, 2, 3, 3])), 2, { training: false, affine: false, stats: false, eps: 1e-3 }),
      bn('training, empty batch: running statistics unchanged', C(u([0, 3, 2, 2])), 3, { training: true, affine: true, stats: true }, { grad: false }),
      bn('training, channels-last input', NHWC(u([3, 2, 3, 2])), 2, { training: true, affine: true, stats: false }),
    ];
  },
});

type GnArgs = { groups: number; affine: boolean; eps?: number };
const GROUP_NORM = row<GnArgs>({
  name: 'groupNorm',
  op: ([x, w, b], a) => k.groupNorm(x, a.groups, w ?? null, b ?? null, a.eps),
  ref: ([x, w, b], a) => RC.groupNorm(x, a.groups, w ?? null, b ?? null, a.eps ?? 1e-5),
  grad: true,
  atol: 2e-5, rtol: 1e-4,
  samples: (rng) => {
    const u = (s: number[], lo = -2, hi = 2) => R.uniform(rng, s, lo, hi);
    const aff = (c: number) => [C(u([c], 0.5, 1.5)), C(u([c]))];
    return [
      { desc: '[2,4,3,3] 2 groups, affine', inputs: [C(u([2, 4, 3, 3])), ...aff(4)], args: { groups: 2, affine: true } },
      { desc: '1 group (layer norm over C, H, W)', inputs: [C(u([2, 3, 2, 3]))], args: { groups: 1, affine: false } },
      { desc: 'groups = channels (instance norm)', inputs: [C(u([1, 3, 3, 3])), ...aff(3)], args: { groups: 3, affine: true } },
      { desc: '3-D [2,6,4] 3 groups, eps 1e-3', inputs: [C(u([2, 6, 4]))], args: { groups: 3, affine: false, eps: 1e-3 } },
      { desc: 'empty batch', inputs: [C(u([0, 4, 2, 2])), ...aff(4)], args: { groups: 2, affine: true } },
      { desc: 'channels-last input', inputs: [NHWC(u([2, 4, 3, 2])), ...aff(4)], args: { groups: 2, affine: true } },
    ];
  },
});

type InArgs = { running: boolean; useInputStats?: boolean; affine: boolean };
const INSTANCE_NORM = row<InArgs>({
  name: 'instanceNorm',
  op: (xs, a) => {
    const [x] = xs;
    const [rm, rv] = a.running ? [xs[1].clone(), xs[2].clone()] : [null, null];
    const [w, b] = a.affine ? xs.slice(a.running ? 3 : 1) : [null, null];
    const y = k.instanceNorm(x, { runningMean: rm, runningVar: rv, weight: w, bias: b, useInputStats: a.useInputStats });
    return rm && rv ? [y, rm, rv] : y;
  },
  ref: (xs, a) => {
    const [rm, rv] = a.running ? [xs[1], xs[2]] : [null, null];
    const [w, b] = a.affine ? xs.slice(a.running ? 3 : 1) : [null, null];
    const outs = RC.instanceNorm(xs[0], rm, rv, w, b, a.useInputStats ?? true, 0.1, 1e-5);
    return rm ? outs : outs[0];
  },
  grad: true,
  atol: 2e-5, rtol: 1e-4,
  samples: (rng) => {
    const u = (s: number[], lo = -2, hi = 2) => R.uniform(rng, s, lo, hi);
    const running = (c: number) => [C(u([c]), false), C(u([c], 0.5, 2), false)];
    const aff = (c: number) => [C(u([c], 0.5, 1.5)), C(u([c]))];
    return [
      { desc: '[2,3,3,4]', inputs: [C(u([2, 3, 3, 4]))], args: { running: false, affine: false } },
      { desc: 'affine, 3-D [2,2,5]', inputs: [C(u([2, 2, 5])), ...aff(2)], args: { running: false, affine: true } },
      { desc: 'running statistics move (values)', inputs: [C(u([3, 2, 3, 3])), ...running(2)], args: { running: true, affine: false }, grad: false },
      { desc: 'useInputStats false: the running statistics', inputs: [C(u([2, 2, 3, 3])), ...running(2), ...aff(2)], args: { running: true, useInputStats: false, affine: true } },
      { desc: 'empty batch', inputs: [C(u([0, 2, 3, 3]))], args: { running: false, affine: false } },
      { desc: 'channels-last input', inputs: [NHWC(u([2, 3, 2, 3]))], args: { running: false, affine: false } },
    ];
  },
});

// ----- padding modes, resampling -----------------------------------------------------------------

type PadModeArgs = { pads: number[] | [number, number][]; mode: 'reflect' | 'replicate' | 'circular'; form?: 'method' | 'options' };
const PAD_MODES = row<PadModeArgs>({
  name: 'pad(modes)',
  op: ([x], a) => (a.form === 'method' ? x.pad(a.pads, a.mode) : k.pad(x, a.pads, a.form === 'options' ? { mode: a.mode } : a.mode)),
  ref: ([x], a) => RC.padMode(x, typeof a.pads[0] === 'number' ? R.flatPads(x.shape.length, a.pads as number[]) : a.pads as [number, number][], a.mode),
  grad: true,
  samples: (rng) => {
    const u = (s: number[]) => R.uniform(rng, s);
    return [
      { desc: 'reflect [1,2,4,5] flat [1,2,3,0]', inputs: [C(u([1, 2, 4, 5]))], args: { pads: [1, 2, 3, 0], mode: 'reflect' } },
      { desc: 'replicate [2,1,3,3] flat [2,1,1,2]', inputs: [C(u([2, 1, 3, 3]))], args: { pads: [2, 1, 1, 2], mode: 'replicate', form: 'options' } },
      { desc: 'circular [1,2,3,4] flat [1,3,2,1]', inputs: [C(u([1, 2, 3, 4]))], args: { pads: [1, 3, 2, 1], mode: 'circular' } },
      { desc: 'reflect 1-D [5] method form', inputs: [C(u([5]))], args: { pads: [2, 3], mode: 'reflect', form: 'method' } },
      { desc: 'replicate by pairs, one dim unpadded', inputs: [C(u([3, 4]))], args: { pads: [[0, 0], [3, 1]], mode: 'replicate' } },
      { desc: 'reflect, empty batch', inputs: [C(u([0, 2, 3, 3]))], args: { pads: [1, 1, 1, 1], mode: 'reflect' } },
      { desc: 'circular, channels-last input', inputs: [NHWC(u([1, 2, 3, 3]))], args: { pads: [1, 1, 2, 0], mode: 'circular' } },
      { desc: 'replicate int32', inputs: [C(R.randint(rng, [2, 3], -5, 5))], args: { pads: [1, 2], mode: 'replicate' }, grad: false },
    ];
  },
});

type InterpArgs = { size?: number | number[]; scaleFactor?: number | number[]; mode: 'nearest' | 'linear' | 'bilinear'; alignCorners?: boolean };
const INTERPOLATE = row<InterpArgs>({
  name: 'interpolate',
  op: ([x], a) => k.interpolate(x, a),
  ref: ([x], a) => {
    const nd = x.shape.length - 2;
    const inS = x.shape.slice(2);
    const factors = a.scaleFactor === undefined ? undefined : perDim(a.scaleFactor, nd, 1);
    const out = a.size !== undefined ? perDim(a.size, nd, 1) : inS.map((n, t) => Math.floor(n * factors![t]));
    return RC.interpolate(x, out, a.mode === 'nearest' ? 'nearest' : 'linear', a.alignCorners ?? false, factors);
  },
  grad: true,
  samples: (rng) => {
    const u = (s: number[]) => R.uniform(rng, s);
    return [
      { desc: 'nearest [2,3,3,4] -> [5,7]', inputs: [C(u([2, 3, 3, 4]))], args: { size: [5, 7], mode: 'nearest' } },
      { desc: 'nearest 3-D scaleFactor 2', inputs: [C(u([1, 2, 5]))], args: { scaleFactor: 2, mode: 'nearest' } },
      { desc: 'nearest downsample [1,2,7,7] -> [3,2]', inputs: [C(u([1, 2, 7, 7]))], args: { size: [3, 2], mode: 'nearest' } },
      { desc: 'bilinear x2', inputs: [C(u([2, 2, 3, 3]))], args: { scaleFactor: 2, mode: 'bilinear' } },
      { desc: 'bilinear alignCorners [1,2,3,4] -> [5,3]', inputs: [C(u([1, 2, 3, 4]))], args: { size: [5, 3], mode: 'bilinear', alignCorners: true } },
      { desc: 'bilinear downsample [1,1,7,6] -> [3,4]', inputs: [C(u([1, 1, 7, 6]))], args: { size: [3, 4], mode: 'bilinear' } },
      { desc: 'bilinear scaleFactor [1.5, 0.5]', inputs: [C(u([1, 2, 4, 6]))], args: { scaleFactor: [1.5, 0.5], mode: 'bilinear' } },
      { desc: 'linear 3-D alignCorners, size 1', inputs: [C(u([2, 2, 4]))], args: { size: 1, mode: 'linear', alignCorners: true } },
      { desc: 'linear 3-D x3', inputs: [C(u([1, 3, 4]))], args: { scaleFactor: 3, mode: 'linear' } },
      { desc: 'bilinear, empty batch', inputs: [C(u([0, 2, 3, 3]))], args: { size: [4, 4], mode: 'bilinear' } },
      { desc: 'bilinear, channels-last input', inputs: [NHWC(u([1, 3, 3, 4]))], args: { size: [4, 5], mode: 'bilinear' } },
    ];
  },
});

type ShuffleArgs = { r: number };
function shuffleRow(name: 'pixelShuffle' | 'pixelUnshuffle', ref: (x: RArray, r: number) => RArray, samples: (u: (s: number[]) => RArray) => Sample<ShuffleArgs>[]): OpRow<ShuffleArgs> {
  return row<ShuffleArgs>({ name, op: ([x], a) => k[name](x, a.r), ref: ([x], a) => ref(x, a.r), grad: true, samples: (rng) => samples((s) => R.uniform(rng, s)) });
}
const PIXEL_SHUFFLE = shuffleRow('pixelShuffle', RC.pixelShuffle, (u) => [
  { desc: '[1,8,2,3] factor 2', inputs: [C(u([1, 8, 2, 3]))], args: { r: 2 } },
  { desc: '[2,9,2,2] factor 3', inputs: [C(u([2, 9, 2, 2]))], args: { r: 3 } },
  { desc: 'extra lead dims [2,1,4,2,2]', inputs: [C(u([2, 1, 4, 2, 2]))], args: { r: 2 } },
  { desc: 'empty batch', inputs: [C(u([0, 4, 2, 2]))], args: { r: 2 } },
  { desc: 'channels-last input', inputs: [NHWC(u([1, 4, 3, 2]))], args: { r: 2 } },
]);
const PIXEL_UNSHUFFLE = shuffleRow('pixelUnshuffle', RC.pixelUnshuffle, (u) => [
  { desc: '[1,2,4,6] factor 2', inputs: [C(u([1, 2, 4, 6]))], args: { r: 2 } },
  { desc: 'unbatched [1,6,3] factor 3', inputs: [C(u([1, 6, 3]))], args: { r: 3 } },
  { desc: 'empty batch', inputs: [C(u([0, 1, 2, 2]))], args: { r: 2 } },
  { desc: 'channels-last input', inputs: [NHWC(u([2, 2, 2, 4]))], args: { r: 2 } },
]);

// ----- activations -------------------------------------------------------------------------------

const ACT_EDGE = [0, -0, 1, -1, Infinity, -Infinity, NaN, 1e30, -1e30, 3, -3, 6, 20, -20];

/** An activation row: [3,4], function form, 0-d, empty, transposed, expanded-free views, edge values (no gradient). */
function actRow(name: string, fn: (x: Tensor) => Tensor, f: (v: number) => number, kinks: number[] = [], o: { atol?: number; rtol?: number } = {}): OpRow<Record<string, never>> {
  const avoid = (v: number) => kinks.some((p) => Math.abs(v - p) < 0.03);
  return row<Record<string, never>>({
    name,
    op: ([x]) => fn(x),
    ref: ([x]) => R.map1(x, f),
    grad: true,
    ...o,
    samples: (rng) => {
      const u = (s: number[]) => R.uniform(rng, s, -5, 7, avoid);
      return [
        { desc: '[3,4]', inputs: [C(u([3, 4]))], args: {} },
        { desc: '0-d', inputs: [C(u([]))], args: {} },
        { desc: 'empty [0,3]', inputs: [C(u([0, 3]))], args: {} },
        { desc: 'transposed [4,3]', inputs: [P(u([4, 3]), [1, 0])], args: {} },
        { desc: 'long [1027]', inputs: [C(u([1027]))], args: {}, grad: false },
        { desc: `edge values ${ACT_EDGE.join(' ')}`, inputs: [C(R.arr([ACT_EDGE.length], ACT_EDGE))], args: {}, grad: false },
      ];
    },
  });
}

const ACTIVATIONS: OpRow[] = [
  actRow('leakyRelu', (x) => k.leakyRelu(x), (v) => RC.leakyRelu(v), [0]),
  actRow('leakyRelu(0.2)', (x) => k.leakyRelu(x, 0.2), (v) => RC.leakyRelu(v, 0.2), [0]),
  actRow('elu', (x) => k.elu(x), (v) => RC.elu(v), [0], { atol: 1e-6, rtol: 1e-5 }),
  actRow('elu(alpha=0.5)', (x) => k.elu(x, 0.5), (v) => RC.elu(v, 0.5), [0], { atol: 1e-6, rtol: 1e-5 }),
  actRow('selu', (x) => k.selu(x), RC.selu, [0], { atol: 1e-6, rtol: 1e-5 }),
  actRow('relu6', (x) => k.relu6(x), RC.relu6, [0, 6]),
  actRow('hardsigmoid', (x) => k.hardsigmoid(x), RC.hardsigmoid, [-3, 3]),
  actRow('hardswish', (x) => k.hardswish(x), RC.hardswish, [-3, 3]),
  actRow('mish', (x) => k.mish(x), RC.mish, [], { atol: 1e-6, rtol: 1e-5 }),
  actRow('softsign', (x) => k.softsign(x), RC.softsign),
  row<Record<string, never>>({
    name: 'prelu',
    op: ([x, w]) => k.prelu(x, w),
    ref: ([x, w]) => RC.prelu(x, w),
    grad: true,
    samples: (rng) => {
      const u = (s: number[]) => R.uniform(rng, s, -2, 2, (v) => Math.abs(v) < 0.03);
      return [
        { desc: '[2,3,4] weight per channel [3]', inputs: [C(u([2, 3, 4])), C(u([3]))], args: {} },
        { desc: '[2,3] one weight [1]', inputs: [C(u([2, 3])), C(u([1]))], args: {} },
        { desc: '0-d input, one weight', inputs: [C(u([])), C(u([1]))], args: {} },
        { desc: 'empty batch [0,3,2]', inputs: [C(u([0, 3, 2])), C(u([3]))], args: {} },
        { desc: 'channels-last input', inputs: [NHWC(u([2, 3, 2, 2])), C(u([3]))], args: {} },
      ];
    },
  }),
  row<{ dim?: number }>({
    name: 'glu',
    op: ([x], a) => k.glu(x, a.dim),
    ref: ([x], a) => RC.glu(x, a.dim ?? -1),
    grad: true,
    samples: (rng) => {
      const u = (s: number[]) => R.uniform(rng, s);
      return [
        { desc: '[3,4] default dim -1', inputs: [C(u([3, 4]))], args: {} },
        { desc: '[2,6,3] dim 1', inputs: [C(u([2, 6, 3]))], args: { dim: 1 } },
        { desc: 'empty [0,4]', inputs: [C(u([0, 4]))], args: {} },
        { desc: 'transposed [4,2] dim 0', inputs: [P(u([4, 2]), [1, 0])], args: { dim: 0 } },
      ];
    },
  }),
];

/** Every row, in a stable order. */
export const CNN_ROWS: readonly OpRow[] = [
  TENSOR_UNFOLD, UNFOLD, FOLD, CONV1D, CONV2D, CONV_TRANSPOSE1D, CONV_TRANSPOSE2D,
  MAX_POOL1D, MAX_POOL2D, AVG_POOL1D, AVG_POOL2D, adaptiveRow('adaptiveAvgPool2d'), adaptiveRow('adaptiveMaxPool2d'),
  BATCH_NORM, GROUP_NORM, INSTANCE_NORM, PAD_MODES, INTERPOLATE, PIXEL_SHUFFLE, PIXEL_UNSHUFFLE, ...ACTIVATIONS,
];

/** Rows whose ops take no 0-d input (as in PyTorch): all but the window view and the pointwise activations. */
export const CNN_NO_0D: readonly string[] = CNN_ROWS.map((r) => r.name)
  .filter((n) => n !== 'Tensor.unfold' && n !== 'prelu' && (n === 'glu' || !ACTIVATIONS.some((a) => a.name === n)));
