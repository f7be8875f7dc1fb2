// Op-info rows of the everyday tensor ops, attention, normalisation and losses of torch's API
// (maskedFill ... cosineEmbeddingLoss) against the float64 references of reference-parity.ts. Sorting
// and extremum samples use distinct values where the gradient is checked (ties are value-only).
import * as k from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import * as R from './reference.js';
import * as RP from './reference-parity.js';
import type { RArray, Rng } from './reference.js';
import type { InputSpec, OpRow, Sample } from './opinfo.js';

const DEFAULT_TOL = { atol: 1e-5, rtol: 1e-5, gradAtol: 5e-4, gradRtol: 5e-3 };

function row<A>(r: Omit<OpRow<A>, 'atol' | 'rtol' | 'gradAtol' | 'gradRtol' | 'samples'> & Partial<typeof DEFAULT_TOL>
  & { samples: (rng: Rng) => Sample<A>[] }): OpRow<A> {
  return { ...DEFAULT_TOL, ...r, samples: r.samples(R.makeRng(R.hashString(r.name))) };
}

const C = (x: RArray, grad?: boolean): InputSpec => ({ base: x, grad });
/** x reached through a permute of a base laid out in another order. */
function P(x: RArray, order: readonly number[], grad?: boolean): InputSpec {
  const inv: number[] = [];
  order.forEach((d, i) => { inv[d] = i; });
  return { base: R.permute(x, inv), view: { kind: 'permute', order }, grad };
}
/** x reached by transposing its last two dims. */
const T = (x: RArray, grad?: boolean): InputSpec => {
  const n = x.shape.length;
  const order = [...Array(n).keys()];
  [order[n - 2], order[n - 1]] = [order[n - 1], order[n - 2]];
  return P(x, order, grad);
};
/** x reached through a flip of its last dim (negative strides). */
const Fl = (x: RArray): InputSpec => ({ base: R.flip(x, [x.shape.length - 1]), view: { kind: 'flip', dims: [x.shape.length - 1] } });

/** Distinct values (a shuffled grid): sorting and extrema have a well defined gradient. */
function distinct(rng: Rng, shape: number[], lo = -2, hi = 2): RArray {
  const n = R.sizeOf(shape);
  const vals = Array.from({ length: n }, (_, i) => lo + ((hi - lo) * (i + 0.5)) / Math.max(n, 1));
  for (let i = n - 1; i > 0; i--) { const j = Math.floor(rng() * (i + 1)); [vals[i], vals[j]] = [vals[j], vals[i]]; }
  return R.arr(shape, vals);
}

const I = (shape: number[], data: number[]) => R.arr(shape, data, 'int32');
const B = (shape: number[], data: number[]) => R.arr(shape, data, 'bool');
const EDGE = [0, -0, 1, -1, Infinity, -Infinity, NaN, 1e30, -1e30, 3.5];

// ----- masking, triangles, one-hot -----------------------------------------------------------------

const MASKED_FILL = row<{ value: number | 'tensor'; fn?: boolean }>({
  name: 'maskedFill',
  op: ([x, m, v], a) => (a.value === 'tensor' ? x.maskedFill(m, v) : a.fn ? k.maskedFill(x, m, a.value) : x.maskedFill(m, a.value)),
  ref: ([x, m, v], a) => RP.maskedFill(x, m, a.value === 'tensor' ? v.data[0] : a.value),
  grad: true,
  samples: (rng) => {
    const u = (s: number[]) => R.uniform(rng, s);
    return [
      { desc: '[3,4] -inf', inputs: [C(u([3, 4])), C(R.bools(rng, [3, 4]))], args: { value: -Infinity } },
      { desc: 'mask [4] broadcast, function form', inputs: [C(u([3, 4])), C(R.bools(rng, [4]))], args: { value: 2.5, fn: true } },
      { desc: 'a 0-d tensor value (gradient reaches it)', inputs: [C(u([2, 3])), C(R.bools(rng, [2, 3])), C(u([]))], args: { value: 'tensor' } },
      { desc: '0-d', inputs: [C(u([])), C(B([], [1]))], args: { value: 7 } },
      { desc: 'empty [0,3]', inputs: [C(u([0, 3])), C(R.bools(rng, [0, 3]))], args: { value: 1 } },
      { desc: 'transposed input and mask', inputs: [T(u([4, 3])), T(R.bools(rng, [4, 3]))], args: { value: 0 } },
      { desc: 'int32 input keeps its dtype', inputs: [C(R.randint(rng, [5], -5, 5)), C(R.bools(rng, [5]))], args: { value: 3 } },
    ];
  },
});

function triRow(name: 'tril' | 'triu'): OpRow<{ d?: number; fn?: boolean }> {
  return row<{ d?: number; fn?: boolean }>({
    name,
    op: ([x], a) => (a.fn ? k[name](x, a.d) : x[name](a.d)),
    ref: ([x], a) => RP.tri(x, a.d ?? 0, name === 'tril'),
    grad: true,
    samples: (rng) => {
      const u = (s: number[]) => R.uniform(rng, s);
      return [
        { desc: '[4,5]', inputs: [C(u([4, 5]))], args: {} },
        { desc: '[4,5] diagonal 1, function form', inputs: [C(u([4, 5]))], args: { d: 1, fn: true } },
        { desc: '[5,3] diagonal -2', inputs: [C(u([5, 3]))], args: { d: -2 } },
        { desc: 'batched [2,3,3]', inputs: [C(u([2, 3, 3]))], args: {} },
        { desc: 'transposed [3,4]', inputs: [T(u([3, 4]))], args: { d: -1 } },
        { desc: 'empty [0,3]', inputs: [C(u([0, 3]))], args: {} },
        { desc: 'bool', inputs: [C(R.bools(rng, [3, 3], 0.8))], args: {} },
        { desc: 'int32, diagonal past the edge', inputs: [C(R.randint(rng, [3, 3], -9, 9))], args: { d: 5 } },
      ];
    },
  });
}

const ONE_HOT = row<{ c: number }>({
  name: 'oneHot',
  op: ([x], a) => k.oneHot(x, a.c),
  ref: ([x], a) => RP.oneHot(x, a.c),
  grad: false,
  samples: (rng) => [
    { desc: '[5] of 4 classes', inputs: [C(R.randint(rng, [5], 0, 4))], args: { c: 4 } },
    { desc: '[2,3]', inputs: [C(R.randint(rng, [2, 3], 0, 3))], args: { c: 3 } },
    { desc: '0-d', inputs: [C(I([], [2]))], args: { c: 5 } },
    { desc: 'empty [0]', inputs: [C(I([0], []))], args: { c: 2 } },
    { desc: 'transposed [3,2]', inputs: [T(R.randint(rng, [3, 2], 0, 6))], args: { c: 6 } },
  ],
});

// ----- scatters ------------------------------------------------------------------------------------

const SCATTER = row<{ dim: number; value?: number; form?: 'fn' | 'inplace' }>({
  name: 'scatter',
  op: ([x, i, s], a) => {
    const src = a.value ?? s;
    if (a.form === 'fn') return k.scatter(x, a.dim, i, src);
    if (a.form === 'inplace') return x.mul(1).scatter_(a.dim, i, src);
    return x.scatter(a.dim, i, src);
  },
  ref: ([x, i, s], a) => RP.scatter(x, a.dim, i, a.value ?? s, false),
  grad: true,
  samples: (rng) => {
    const u = (s: number[]) => R.uniform(rng, s);
    return [
      { desc: '[3,4] dim 0, a permutation per column', inputs: [C(u([3, 4])), C(I([2, 4], [0, 2, 1, 2, 2, 0, 0, 1])), C(u([2, 4]))], args: { dim: 0 } },
      { desc: '[3,5] dim 1, src larger than index, function form', inputs: [C(u([3, 5])), C(I([2, 2], [4, 0, 1, 3])), C(u([3, 3]))], args: { dim: 1, form: 'fn' } },
      { desc: 'dim -1, a number, in place', inputs: [C(u([2, 3])), C(I([2, 1], [2, 0]))], args: { dim: -1, value: 7.5, form: 'inplace' } },
      { desc: 'duplicates: the last along dim wins', inputs: [C(u([3])), C(I([3], [1, 1, 0])), C(u([3]))], args: { dim: 0 } },
      { desc: '0-d', inputs: [C(u([])), C(I([], [0])), C(u([]))], args: { dim: 0 } },
      { desc: 'empty index', inputs: [C(u([2, 3])), C(I([0, 3], [])), C(u([0, 3]))], args: { dim: 0 } },
      { desc: 'transposed input and src', inputs: [T(u([4, 3])), C(I([3, 2], [1, 2, 0, 2, 2, 1])), T(u([3, 2]))], args: { dim: 1 } },
      { desc: 'int32', inputs: [C(R.randint(rng, [2, 3], -5, 5)), C(I([1, 3], [1, 0, 1])), C(R.randint(rng, [1, 3], -5, 5))], args: { dim: 0 } },
    ];
  },
});

const SCATTER_ADD = row<{ dim: number; form?: 'fn' | 'inplace' }>({
  name: 'scatterAdd',
  op: ([x, i, s], a) => (a.form === 'fn' ? k.scatterAdd(x, a.dim, i, s) : a.form === 'inplace' ? x.mul(1).scatterAdd_(a.dim, i, s) : x.scatterAdd(a.dim, i, s)),
  ref: ([x, i, s], a) => RP.scatter(x, a.dim, i, s, true),
  grad: true,
  samples: (rng) => {
    const u = (s: number[]) => R.uniform(rng, s);
    return [
      { desc: '[3,4] dim 0 with duplicates', inputs: [C(u([3, 4])), C(I([3, 4], [0, 2, 1, 2, 0, 0, 1, 2, 0, 2, 1, 1])), C(u([3, 4]))], args: { dim: 0 } },
      { desc: 'dim 1, function form', inputs: [C(u([2, 5])), C(I([2, 3], [4, 4, 0, 1, 3, 1])), C(u([2, 4]))], args: { dim: 1, form: 'fn' } },
      { desc: 'in place, 3-d dim 1', inputs: [C(u([2, 3, 2])), C(I([2, 4, 2], [0, 1, 2, 2, 1, 1, 0, 0, 2, 0, 1, 2, 2, 2, 0, 1])), C(u([2, 4, 2]))], args: { dim: 1, form: 'inplace' } },
      { desc: '0-d', inputs: [C(u([])), C(I([], [0])), C(u([]))], args: { dim: 0 } },
      { desc: 'empty index', inputs: [C(u([3])), C(I([0], [])), C(u([0]))], args: { dim: 0 } },
      { desc: 'transposed input', inputs: [T(u([3, 4])), C(I([2, 4], [0, 1, 2, 0, 2, 2, 1, 0])), C(u([2, 4]))], args: { dim: 0 } },
      { desc: 'int32', inputs: [C(R.randint(rng, [4], -5, 5)), C(I([5], [3, 0, 3, 3, 1])), C(R.randint(rng, [5], -5, 5))], args: { dim: 0 } },
    ];
  },
});

const INDEX_ADD = row<{ dim: number; alpha?: number; form?: 'fn' | 'inplace' }>({
  name: 'indexAdd',
  op: ([x, i, s], a) => {
    const o = a.alpha === undefined ? undefined : { alpha: a.alpha };
    return a.form === 'fn' ? k.indexAdd(x, a.dim, i, s, o) : a.form === 'inplace' ? x.mul(1).indexAdd_(a.dim, i, s, o) : x.indexAdd(a.dim, i, s, o);
  },
  ref: ([x, i, s], a) => RP.indexAdd(x, a.dim, i, s, a.alpha ?? 1),
  grad: true,
  samples: (rng) => {
    const u = (s: number[]) => R.uniform(rng, s);
    return [
      { desc: '[5,3] dim 0 with duplicates', inputs: [C(u([5, 3])), C(I([4], [4, 0, 4, 2])), C(u([4, 3]))], args: { dim: 0 } },
      { desc: 'dim 1, alpha 2, function form', inputs: [C(u([2, 4])), C(I([3], [3, 1, 3])), C(u([2, 3]))], args: { dim: 1, alpha: 2, form: 'fn' } },
      { desc: 'dim -1 of [2,3,4], alpha -0.5, in place', inputs: [C(u([2, 3, 4])), C(I([2], [0, 3])), C(u([2, 3, 2]))], args: { dim: -1, alpha: -0.5, form: 'inplace' } },
      { desc: '0-d', inputs: [C(u([])), C(I([1], [0])), C(u([1]))], args: { dim: 0 } },
      { desc: 'empty index', inputs: [C(u([3, 2])), C(I([0], [])), C(u([0, 2]))], args: { dim: 0 } },
      { desc: 'transposed input and source', inputs: [T(u([3, 4])), C(I([2], [2, 2])), T(u([2, 4]))], args: { dim: 0 } },
      { desc: 'int32', inputs: [C(R.randint(rng, [3, 2], -5, 5)), C(I([3], [1, 1, 0])), C(R.randint(rng, [3, 2], -5, 5))], args: { dim: 0 } },
    ];
  },
});

const INDEX_PUT = row<{ n: number; accumulate?: boolean; value?: number; form?: 'fn' | 'inplace' }>({
  name: 'indexPut',
  op: (ins, a) => {
    const [x, ...rest] = ins;
    const idx = rest.slice(0, a.n);
    const v = a.value ?? rest[a.n];
    const o = { accumulate: a.accumulate };
    return a.form === 'fn' ? k.indexPut(x, idx, v, o) : a.form === 'inplace' ? x.mul(1).indexPut_(idx, v, o) : x.indexPut(idx, v, o);
  },
  ref: (ins, a) => {
    const [x, ...rest] = ins;
    return RP.indexPut(x, rest.slice(0, a.n), a.value ?? rest[a.n], a.accumulate ?? false);
  },
  grad: true,
  samples: (rng) => {
    const u = (s: number[]) => R.uniform(rng, s);
    return [
      { desc: 'one index of rows [4,3]', inputs: [C(u([4, 3])), C(I([2], [3, 0])), C(u([2, 3]))], args: { n: 1 } },
      { desc: 'two indices, negative wraps, function form', inputs: [C(u([3, 4])), C(I([3], [0, -1, 1])), C(I([3], [2, 0, -4])), C(u([3]))], args: { n: 2, form: 'fn' } },
      { desc: 'broadcast indices [2,1] x [3], values broadcast', inputs: [C(u([3, 4, 2])), C(I([2, 1], [0, 2])), C(I([3], [1, 3, 0])), C(u([2]))], args: { n: 2 } },
      { desc: 'accumulate with duplicates, in place', inputs: [C(u([4, 2])), C(I([4], [1, 3, 1, 1])), C(u([4, 2]))], args: { n: 1, accumulate: true, form: 'inplace' } },
      { desc: 'a number', inputs: [C(u([3, 3])), C(I([2], [2, 0])), C(I([2], [1, 1]))], args: { n: 2, value: -2 } },
      { desc: '0-d index tensors', inputs: [C(u([3, 2])), C(I([], [1])), C(u([2]))], args: { n: 1 } },
      { desc: 'empty index', inputs: [C(u([3, 2])), C(I([0], [])), C(u([0, 2]))], args: { n: 1, accumulate: true } },
      { desc: 'empty index, replacing', inputs: [C(u([3, 2])), C(I([0], [])), C(u([0, 2]))], args: { n: 1 } },
      { desc: 'transposed input', inputs: [T(u([4, 3])), C(I([2], [1, 2])), C(u([3]))], args: { n: 1 } },
      { desc: 'int32, accumulate', inputs: [C(R.randint(rng, [3, 2], -5, 5)), C(I([2], [0, 0])), C(R.randint(rng, [2, 2], -5, 5))], args: { n: 1, accumulate: true } },
    ];
  },
});

// ----- scans ---------------------------------------------------------------------------------------

function scanRow(name: 'cumsum' | 'cumprod'): OpRow<{ dim: number; fn?: boolean }> {
  const prod = name === 'cumprod';
  return row<{ dim: number; fn?: boolean }>({
    name,
    op: ([x], a) => (a.fn ? k[name](x, a.dim) : x[name](a.dim)),
    ref: ([x], a) => RP.scan(x, a.dim, prod ? 'prod' : 'sum'),
    grad: true,
    atol: 2e-5, rtol: 2e-5,
    samples: (rng) => {
      const u = (s: number[]) => (prod ? R.uniform(rng, s, 0.7, 1.3) : R.uniform(rng, s));
      return [
        { desc: '[5] dim 0', inputs: [C(u([5]))], args: { dim: 0 } },
        { desc: '[3,40] dim 1 (three blocks), function form', inputs: [C(u([3, 40]))], args: { dim: 1, fn: true } },
        { desc: '[300] (two levels of blocks)', inputs: [C(u([300]))], args: { dim: -1 }, grad: !prod },
        { desc: 'dim 0 of transposed [37,3]', inputs: [T(u([3, 37]))], args: { dim: 0 } },
        { desc: 'permuted [2,17,3] dim 1', inputs: [P(u([2, 17, 3]), [0, 2, 1])], args: { dim: 1 } },
        { desc: '0-d', inputs: [C(u([]))], args: { dim: 0 } },
        { desc: 'empty [0,4] dim 0', inputs: [C(u([0, 4]))], args: { dim: 0 } },
        { desc: 'empty [3,0] dim 1', inputs: [C(u([3, 0]))], args: { dim: 1 } },
        { desc: 'int32', inputs: [C(R.randint(rng, [2, 20], -3, 4))], args: { dim: 1 } },
        { desc: 'bool gives int32', inputs: [C(R.bools(rng, [19]))], args: { dim: 0 } },
        ...(prod ? [
          { desc: 'zeros and negatives', inputs: [C(R.arr([6], [1.5, -0.5, 0, 2, 0, -1.25]))], args: { dim: 0 } },
          { desc: 'a zero in a long row', inputs: [C(R.arr([20], Array.from({ length: 20 }, (_, i) => (i === 7 ? 0 : 1 + (i % 3) * 0.1))))], args: { dim: 0 } },
        ] : [
          { desc: 'edge values', inputs: [C(R.arr([10], EDGE))], args: { dim: 0 }, grad: false },
        ]),
      ];
    },
  });
}

// ----- sorting and extrema -------------------------------------------------------------------------

const SORT = row<{ dim?: number; descending?: boolean; fn?: boolean }>({
  name: 'sort',
  op: ([x], a) => {
    const r = a.fn ? k.sort(x, { dim: a.dim, descending: a.descending }) : x.sort({ dim: a.dim, descending: a.descending });
    return [r.values, r.indices];
  },
  ref: ([x], a) => RP.sort(x, a.dim ?? -1, a.descending ?? false),
  grad: true,
  samples: (rng) => [
    { desc: '[7]', inputs: [C(distinct(rng, [7]))], args: {} },
    { desc: '[3,5] descending, function form', inputs: [C(distinct(rng, [3, 5]))], args: { descending: true, fn: true } },
    { desc: 'dim 0 of [4,3]', inputs: [C(distinct(rng, [4, 3]))], args: { dim: 0 } },
    { desc: 'transposed [5,4] dim 1', inputs: [T(distinct(rng, [5, 4]))], args: { dim: 1, descending: true } },
    { desc: 'ties keep their order (stable), both directions', inputs: [C(R.arr([2, 6], [2, 1, 2, 1, 3, 2, 0, 0, 1, 0, 1, 1]))], args: { descending: true }, grad: false },
    { desc: 'ties ascending', inputs: [C(R.arr([8], [2, 1, 2, 1, 3, 2, 1, 2]))], args: {}, grad: false },
    { desc: 'NaN sorts last (first descending)', inputs: [C(R.arr([10], EDGE))], args: {}, grad: false },
    { desc: 'NaN descending', inputs: [C(R.arr([6], [1, NaN, -Infinity, NaN, 0, 2]))], args: { descending: true }, grad: false },
    { desc: '0-d', inputs: [C(R.uniform(rng, []))], args: {} },
    { desc: 'empty [2,0]', inputs: [C(R.uniform(rng, [2, 0]))], args: {} },
    { desc: 'int32', inputs: [C(R.randint(rng, [9], -4, 4))], args: {} },
    { desc: 'a row of 40', inputs: [C(distinct(rng, [2, 40]))], args: {}, grad: false },
  ],
});

const ARGSORT = row<{ dim?: number; descending?: boolean; fn?: boolean }>({
  name: 'argsort',
  op: ([x], a) => (a.fn ? k.argsort(x, { dim: a.dim, descending: a.descending }) : x.argsort({ dim: a.dim, descending: a.descending })),
  ref: ([x], a) => RP.sort(x, a.dim ?? -1, a.descending ?? false)[1],
  grad: false,
  samples: (rng) => [
    { desc: '[3,5]', inputs: [C(R.uniform(rng, [3, 5]))], args: {} },
    { desc: 'dim 0 descending, function form', inputs: [C(R.randint(rng, [5, 2], 0, 3))], args: { dim: 0, descending: true, fn: true } },
    { desc: 'transposed', inputs: [T(R.uniform(rng, [4, 3]))], args: {} },
    { desc: '0-d', inputs: [C(R.uniform(rng, []))], args: {} },
    { desc: 'empty [0]', inputs: [C(R.uniform(rng, [0]))], args: {} },
    { desc: 'bool', inputs: [C(R.bools(rng, [7]))], args: {} },
  ],
});

const TOPK = row<{ k: number; dim?: number; largest?: boolean; fn?: boolean }>({
  name: 'topk',
  op: ([x], a) => {
    const r = a.fn ? k.topk(x, a.k, { dim: a.dim, largest: a.largest }) : x.topk(a.k, { dim: a.dim, largest: a.largest });
    return [r.values, r.indices];
  },
  ref: ([x], a) => RP.sort(x, a.dim ?? -1, a.largest ?? true, a.k),
  grad: true,
  samples: (rng) => [
    { desc: 'k=2 of [3,6]', inputs: [C(distinct(rng, [3, 6]))], args: { k: 2 } },
    { desc: 'k=3 smallest, function form', inputs: [C(distinct(rng, [8]))], args: { k: 3, largest: false, fn: true } },
    { desc: 'dim 0 of transposed [5,3]', inputs: [T(distinct(rng, [3, 5]))], args: { k: 1, dim: 0 } },
    { desc: 'k = n', inputs: [C(distinct(rng, [4]))], args: { k: 4 } },
    { desc: 'k = 0', inputs: [C(distinct(rng, [2, 4]))], args: { k: 0 } },
    { desc: '0-d, k=1', inputs: [C(R.uniform(rng, []))], args: { k: 1 } },
    { desc: 'empty batch [0,4]', inputs: [C(R.uniform(rng, [0, 4]))], args: { k: 2 } },
    { desc: 'NaN is the largest', inputs: [C(R.arr([5], [1, NaN, 3, -1, 2]))], args: { k: 2 }, grad: false },
  ],
});

function extremumRow(name: 'max' | 'min'): OpRow<{ dim: number; keepdim?: boolean; fn?: boolean }> {
  return row<{ dim: number; keepdim?: boolean; fn?: boolean }>({
    name,
    op: ([x], a) => {
      const r = a.fn ? k[name](x, a.dim, a.keepdim) : x[name](a.dim, a.keepdim);
      return [r.values, r.indices];
    },
    ref: ([x], a) => RP.extremum(x, a.dim, a.keepdim ?? false, name === 'max'),
    grad: true,
    samples: (rng) => [
      { desc: '[3,4] dim 1', inputs: [C(distinct(rng, [3, 4]))], args: { dim: 1 } },
      { desc: '[3,4] dim 0 keepdim, function form', inputs: [C(distinct(rng, [3, 4]))], args: { dim: 0, keepdim: true, fn: true } },
      { desc: 'transposed [4,3] dim -1', inputs: [T(distinct(rng, [4, 3]))], args: { dim: -1 } },
      { desc: 'ties: the first index', inputs: [C(R.arr([2, 4], [1, 3, 3, 0, 2, 2, 0, 2]))], args: { dim: 1 }, grad: false },
      { desc: 'NaN wins', inputs: [C(R.arr([2, 3], [1, NaN, 3, -Infinity, 0, Infinity]))], args: { dim: 1 }, grad: false },
      { desc: '0-d', inputs: [C(R.uniform(rng, []))], args: { dim: 0 } },
      { desc: 'empty [0,3] along dim 1', inputs: [C(R.uniform(rng, [0, 3]))], args: { dim: 1 } },
      { desc: 'int32', inputs: [C(R.randint(rng, [3, 5], -9, 9))], args: { dim: 1 } },
    ],
  });
}

// ----- einsum --------------------------------------------------------------------------------------

const EINSUM = row<{ eq: string }>({
  name: 'einsum',
  op: (xs, a) => k.einsum(a.eq, ...xs),
  ref: (xs, a) => RP.einsum(a.eq, xs),
  grad: true,
  atol: 2e-5, rtol: 2e-5,
  samples: (rng) => {
    const u = (s: number[]) => R.uniform(rng, s);
    const shapeOf = (i: InputSpec) => (i.view?.kind === 'permute' ? i.view.order.map((d) => i.base.shape[d]) : i.base.shape);
    const s = (eq: string, ...inputs: InputSpec[]): Sample<{ eq: string }> =>
      ({ desc: `'${eq}' ${inputs.map((i) => `[${shapeOf(i).join(',')}]`).join(' ')}`, inputs, args: { eq } });
    return [
      s('ij,jk->ik', C(u([2, 3])), C(u([3, 4]))),
      s('bij,bjk->bik', C(u([2, 2, 3])), T(u([2, 3, 2]))),
      s('bhqd,bhkd->bhqk', C(u([1, 2, 3, 4])), C(u([1, 2, 5, 4]))),
      s('ii->i', C(u([3, 3]))),
      s('ii', T(u([4, 4]))),
      s('i,i->', C(u([5])), C(u([5]))),
      s('i,j->ij', C(u([3])), C(u([2]))),
      s('ij,j->i', C(u([3, 4])), C(u([4]))),
      s('ij,jk,kl->il', C(u([2, 3])), C(u([3, 2])), C(u([2, 4]))),
      s('ij,jk', C(u([2, 3])), C(u([3, 2]))),
      s('ijk->i', P(u([2, 3, 4]), [2, 0, 1])),
      s('...ij->...ji', C(u([2, 3, 4]))),
      s('...ij,...jk->...ik', C(u([2, 1, 2, 3])), C(u([3, 3, 2]))),
      s('bi,bi->b', C(u([0, 3])), C(u([0, 3]))),
      s('->', C(u([]))),
      s('i,->i', C(u([3])), C(u([]))),
      s('iji->j', C(u([2, 3, 2]))),
      s('ab,cd->', C(u([2, 1])), C(u([1, 3]))),
    ];
  },
});

// ----- repeats, chunks, rolls, diagonals -----------------------------------------------------------

const REPEAT = row<{ sizes: number[]; tile?: boolean }>({
  name: 'repeat',
  op: ([x], a) => (a.tile ? k.tile(x, a.sizes) : x.repeat(a.sizes)),
  ref: ([x], a) => RP.repeat(x, a.tile && a.sizes.length < x.shape.length ? [...x.shape.slice(0, x.shape.length - a.sizes.length).map(() => 1), ...a.sizes] : a.sizes),
  grad: true,
  samples: (rng) => {
    const u = (s: number[]) => R.uniform(rng, s);
    return [
      { desc: '[2,3] x (2,1)', inputs: [C(u([2, 3]))], args: { sizes: [2, 1] } },
      { desc: '[2,3] x (2,1,2): a new leading dim', inputs: [C(u([2, 3]))], args: { sizes: [2, 1, 2] } },
      { desc: 'transposed [3,2] x (1,3)', inputs: [T(u([2, 3]))], args: { sizes: [1, 3] } },
      { desc: '0-d x (3)', inputs: [C(u([]))], args: { sizes: [3] } },
      { desc: 'empty [0,2] x (2,2)', inputs: [C(u([0, 2]))], args: { sizes: [2, 2] } },
      { desc: 'zero repeats', inputs: [C(u([2]))], args: { sizes: [0] } },
      { desc: 'tile with fewer counts than dims', inputs: [C(u([2, 3]))], args: { sizes: [2], tile: true } },
      { desc: 'int32', inputs: [C(R.randint(rng, [2], 0, 9))], args: { sizes: [2, 2] } },
    ];
  },
});

const CHUNK = row<{ chunks: number; dim?: number }>({
  name: 'chunk',
  op: ([x], a) => k.chunk(x, a.chunks, a.dim),
  ref: ([x], a) => {
    const d = a.dim ?? 0;
    const n = x.shape[d < 0 ? d + x.shape.length : d];
    return R.split(x, Math.max(1, Math.ceil(n / a.chunks)), d);
  },
  grad: true,
  samples: (rng) => {
    const u = (s: number[]) => R.uniform(rng, s);
    return [
      { desc: '[7,2] in 3', inputs: [C(u([7, 2]))], args: { chunks: 3 } },
      { desc: '[2,6] in 4 along dim 1 (3 chunks)', inputs: [C(u([2, 6]))], args: { chunks: 4, dim: 1 } },
      { desc: 'transposed [4,3] in 2', inputs: [T(u([3, 4]))], args: { chunks: 2, dim: -1 } },
      { desc: 'empty [0,3]', inputs: [C(u([0, 3]))], args: { chunks: 2 } },
    ];
  },
});

const ROLL = row<{ shifts: number | number[]; dims?: number | number[] }>({
  name: 'roll',
  op: ([x], a) => x.roll(a.shifts, a.dims),
  ref: ([x], a) => RP.roll(x, typeof a.shifts === 'number' ? [a.shifts] : a.shifts, a.dims === undefined ? undefined : typeof a.dims === 'number' ? [a.dims] : a.dims),
  grad: true,
  samples: (rng) => {
    const u = (s: number[]) => R.uniform(rng, s);
    return [
      { desc: '[5] by 2', inputs: [C(u([5]))], args: { shifts: 2, dims: 0 } },
      { desc: '[2,3] flattened by -4', inputs: [C(u([2, 3]))], args: { shifts: -4 } },
      { desc: '[3,4] by (1,-1) over (0,1)', inputs: [C(u([3, 4]))], args: { shifts: [1, -1], dims: [0, 1] } },
      { desc: 'transposed [4,3] by 7 along 0', inputs: [T(u([3, 4]))], args: { shifts: 7, dims: 0 } },
      { desc: '0-d', inputs: [C(u([]))], args: { shifts: 3 } },
      { desc: 'empty [0,3]', inputs: [C(u([0, 3]))], args: { shifts: 1, dims: 0 } },
    ];
  },
});

const DIAG = row<{ d?: number }>({
  name: 'diag',
  op: ([x], a) => x.diag(a.d),
  ref: ([x], a) => (x.shape.length === 1 ? RP.diagEmbed(x, a.d ?? 0) : RP.diagonal(x, a.d ?? 0, 0, 1)),
  grad: true,
  samples: (rng) => {
    const u = (s: number[]) => R.uniform(rng, s);
    return [
      { desc: '[3] -> [3,3]', inputs: [C(u([3]))], args: {} },
      { desc: '[3] offset 2 -> [5,5]', inputs: [C(u([3]))], args: { d: 2 } },
      { desc: '[2] offset -1', inputs: [C(u([2]))], args: { d: -1 } },
      { desc: 'diagonal of [3,4]', inputs: [C(u([3, 4]))], args: {} },
      { desc: 'diagonal 1 of transposed [4,3]', inputs: [T(u([3, 4]))], args: { d: 1 } },
      { desc: 'diagonal -2 of [4,3]', inputs: [C(u([4, 3]))], args: { d: -2 } },
      { desc: 'empty [0]', inputs: [C(u([0]))], args: {} },
      { desc: 'offset past the matrix', inputs: [C(u([2, 2]))], args: { d: 3 } },
    ];
  },
});

const DIAGONAL = row<{ offset: number; d1: number; d2: number }>({
  name: 'diagonal',
  op: ([x], a) => k.diagonal(x, a.offset, a.d1, a.d2),
  ref: ([x], a) => RP.diagonal(x, a.offset, a.d1, a.d2),
  grad: true,
  samples: (rng) => {
    const u = (s: number[]) => R.uniform(rng, s);
    return [
      { desc: '[2,3,4] dims (1,2)', inputs: [C(u([2, 3, 4]))], args: { offset: 0, d1: 1, d2: 2 } },
      { desc: '[3,2,3] dims (2,0) offset 1', inputs: [P(u([3, 2, 3]), [1, 2, 0])], args: { offset: 1, d1: 2, d2: 0 } },
      { desc: 'empty [0,2,2]', inputs: [C(u([0, 2, 2]))], args: { offset: 0, d1: 1, d2: 2 } },
    ];
  },
});

const OUTER = row({
  name: 'outer',
  op: ([a, b]) => a.outer(b),
  ref: ([a, b]) => RP.outer(a, b),
  grad: true,
  samples: (rng) => [
    { desc: '[3] x [4]', inputs: [C(R.uniform(rng, [3])), C(R.uniform(rng, [4]))], args: {} },
    { desc: 'flipped [2] x [0]', inputs: [Fl(R.uniform(rng, [2])), C(R.uniform(rng, [0]))], args: {} },
  ],
});

const LERP = row<{ w?: number; fn?: boolean }>({
  name: 'lerp',
  op: ([s, e, w], a) => (a.fn ? k.lerp(s, e, w ?? a.w!) : s.lerp(e, w ?? a.w!)),
  ref: ([s, e, w], a) => RP.lerp(s, e, w ?? R.scalar(a.w!)),
  grad: true,
  samples: (rng) => {
    const u = (s: number[]) => R.uniform(rng, s);
    return [
      { desc: '[3,4] weight 0.3', inputs: [C(u([3, 4])), C(u([3, 4]))], args: { w: 0.3 } },
      { desc: 'weight 0.8 (the far-end form), function form', inputs: [C(u([5])), C(u([5]))], args: { w: 0.8, fn: true } },
      { desc: 'tensor weight [4] broadcast', inputs: [C(u([2, 4])), C(u([2, 4])), C(R.uniform(rng, [4], -0.5, 1.5))], args: {} },
      { desc: '0-d', inputs: [C(u([])), C(u([]))], args: { w: 0.5 } },
      { desc: 'empty [0,2]', inputs: [C(u([0, 2])), C(u([0, 2]))], args: { w: 0.5 } },
      { desc: 'transposed end', inputs: [C(u([3, 2])), T(u([3, 2]))], args: { w: 1 } },
    ];
  },
});

const ADDMM = row<{ beta?: number; alpha?: number; batched?: boolean }>({
  name: 'addmm',
  op: ([i, a, b], o) => (o.batched ? k.baddbmm(i, a, b, { beta: o.beta, alpha: o.alpha }) : i.addmm(a, b, { beta: o.beta, alpha: o.alpha })),
  ref: ([i, a, b], o) => RP.addmm(i, a, b, o.beta ?? 1, o.alpha ?? 1),
  grad: true,
  samples: (rng) => {
    const u = (s: number[]) => R.uniform(rng, s);
    return [
      { desc: '[2,3] + [2,4]@[4,3]', inputs: [C(u([2, 3])), C(u([2, 4])), C(u([4, 3]))], args: {} },
      { desc: 'input [3] broadcast, beta 0.5 alpha 2', inputs: [C(u([3])), C(u([2, 4])), C(u([4, 3]))], args: { beta: 0.5, alpha: 2 } },
      { desc: '0-d input, transposed mat2', inputs: [C(u([])), C(u([2, 4])), T(u([4, 3]))], args: {} },
      { desc: 'beta 0 ignores NaN input', inputs: [C(R.arr([2, 2], [NaN, 1, 2, Infinity])), C(u([2, 3])), C(u([3, 2]))], args: { beta: 0 }, grad: false },
      { desc: 'empty inner dim', inputs: [C(u([2, 3])), C(u([2, 0])), C(u([0, 3]))], args: {} },
      { desc: 'baddbmm [2,2,3]', inputs: [C(u([2, 2, 3])), C(u([2, 2, 4])), C(u([2, 4, 3]))], args: { batched: true, beta: 2, alpha: -1 } },
    ];
  },
});

// ----- float classification, closeness, norms ------------------------------------------------------

function classifyRow(name: 'isnan' | 'isinf' | 'isfinite'): OpRow {
  return row({
    name,
    op: ([x], a: { fn?: boolean }) => (a.fn ? k[name](x) : x[name]()),
    ref: ([x]) => RP[name](x),
    grad: false,
    samples: (rng) => [
      { desc: 'edge values', inputs: [C(R.arr([10], EDGE))], args: {} },
      { desc: 'function form, transposed', inputs: [T(R.arr([2, 3], [NaN, 1, Infinity, -Infinity, 0, 2]))], args: { fn: true } },
      { desc: '0-d', inputs: [C(R.arr([], [NaN]))], args: {} },
      { desc: 'empty', inputs: [C(R.uniform(rng, [0]))], args: {} },
      { desc: 'int32', inputs: [C(R.randint(rng, [4], -3, 3))], args: {} },
      { desc: 'bool', inputs: [C(R.bools(rng, [3]))], args: {} },
    ],
  });
}

const ISCLOSE = row<{ rtol?: number; atol?: number; equalNan?: boolean }>({
  name: 'isclose',
  op: ([a, b], o) => k.isclose(a, b, o),
  ref: ([a, b], o) => RP.isclose(a, b, o.rtol ?? 1e-5, o.atol ?? 1e-8, o.equalNan ?? false),
  grad: false,
  samples: () => {
    const a = R.arr([8], [1, 1, NaN, Infinity, -Infinity, 1e-9, 100, 0]);
    const b = R.arr([8], [1 + 1e-6, 1.1, NaN, Infinity, Infinity, 0, 100.0009, -0]);
    return [
      { desc: 'defaults', inputs: [C(a), C(b)], args: {} },
      { desc: 'equalNan, loose', inputs: [C(a), C(b)], args: { equalNan: true, rtol: 1e-3, atol: 1e-3 } },
      { desc: 'broadcast 0-d, transposed', inputs: [T(R.arr([2, 2], [1, 2, 1, 3])), C(R.arr([], [1]))], args: {} },
      { desc: 'empty', inputs: [C(R.arr([0], [])), C(R.arr([0], []))], args: {} },
      { desc: 'int32', inputs: [C(I([3], [1, 2, 3])), C(I([3], [1, 0, 3]))], args: {} },
    ];
  },
});

const NAN_TO_NUM = row<{ nan?: number; posinf?: number; neginf?: number }>({
  name: 'nanToNum',
  op: ([x], o) => x.nanToNum(o),
  ref: ([x], o) => RP.nanToNum(x, o.nan ?? 0, o.posinf, o.neginf),
  grad: true,
  samples: (rng) => [
    { desc: 'edge values', inputs: [C(R.arr([10], EDGE))], args: {}, grad: false },
    { desc: 'edge values, options', inputs: [C(R.arr([10], EDGE))], args: { nan: -1, posinf: 9, neginf: -9 }, grad: false },
    { desc: 'finite [3,4] (gradient passes)', inputs: [C(R.uniform(rng, [3, 4]))], args: {} },
    { desc: '0-d NaN', inputs: [C(R.arr([], [NaN]))], args: {}, grad: false },
    { desc: 'transposed', inputs: [T(R.uniform(rng, [2, 3]))], args: {} },
    { desc: 'empty', inputs: [C(R.uniform(rng, [0, 2]))], args: {} },
    { desc: 'int32 passes through', inputs: [C(R.randint(rng, [3], -3, 3))], args: {} },
  ],
});

const VECTOR_NORM = row<{ ord?: number; dim?: number | number[]; keepdim?: boolean; form?: 'norm' | 'linalg' }>({
  name: 'vectorNorm',
  op: ([x], a) => (a.form === 'norm' ? x.norm(a.ord ?? 'fro', a.dim, a.keepdim) : k.linalg.vectorNorm(x, { ord: a.ord, dim: a.dim, keepdim: a.keepdim })),
  ref: ([x], a) => RP.vectorNorm(x, a.ord ?? 2, a.dim, a.keepdim ?? false),
  grad: true,
  samples: (rng) => {
    const u = (s: number[]) => R.uniform(rng, s, -2, 2, (v) => Math.abs(v) < 0.05);
    return [
      { desc: '[3,4] 2-norm of all', inputs: [C(u([3, 4]))], args: {} },
      { desc: 'ord 1 over dim 1 keepdim', inputs: [C(u([3, 4]))], args: { ord: 1, dim: 1, keepdim: true } },
      { desc: 'ord inf over dim 0', inputs: [C(distinct(rng, [3, 4]))], args: { ord: Infinity, dim: 0 } },
      { desc: 'ord -inf', inputs: [C(distinct(rng, [5]))], args: { ord: -Infinity } },
      { desc: 'ord 0 counts non-zeros', inputs: [C(R.arr([5], [0, 1, -0, 2, 0]))], args: { ord: 0 }, grad: false },
      { desc: 'ord 3 over dims [0,2] of permuted [2,3,2]', inputs: [P(u([2, 3, 2]), [1, 0, 2])], args: { ord: 3, dim: [0, 2] } },
      { desc: 'ord 0.5', inputs: [C(u([4]))], args: { ord: 0.5 } },
      { desc: 'Tensor.norm (fro)', inputs: [C(u([2, 3]))], args: { form: 'norm' } },
      { desc: 'a zero row: gradient 0, not NaN', inputs: [C(R.arr([2, 3], [0, 0, 0, 1, -2, 2]))], args: { dim: 1 } },
      { desc: '0-d', inputs: [C(u([]))], args: {} },
      { desc: 'empty [0,3] over dim 0', inputs: [C(u([0, 3]))], args: { dim: 0 } },
    ];
  },
});

// ----- attention, rmsNorm ----------------------------------------------------------------------------

type AttnArgs = { mask?: 'bool' | 'float'; causal?: boolean; scale?: number };
const SDPA = row<AttnArgs>({
  name: 'scaledDotProductAttention',
  op: ([q, kk, v, m], a) => k.scaledDotProductAttention(q, kk, v, { attnMask: m ?? null, isCausal: a.causal, scale: a.scale }),
  ref: ([q, kk, v, m], a) => RP.attention(q, kk, v, { mask: m, causal: a.causal, scale: a.scale }),
  grad: true,
  samples: (rng) => {
    const u = (s: number[]) => R.uniform(rng, s, -1, 1);
    const allowed = (s: number[]) => { const m = R.bools(rng, s, 0.7); for (let i = 0; i < m.data.length; i += s[s.length - 1]) m.data[i] = 1; return m; };
    return [
      { desc: '[2,3,4]', inputs: [C(u([2, 3, 4])), C(u([2, 3, 4])), C(u([2, 3, 4]))], args: {} },
      { desc: 'causal [2,2,5,4]', inputs: [C(u([2, 2, 5, 4])), C(u([2, 2, 5, 4])), C(u([2, 2, 5, 4]))], args: { causal: true } },
      { desc: 'causal with more keys than queries', inputs: [C(u([1, 2, 4])), C(u([1, 5, 4])), C(u([1, 5, 3]))], args: { causal: true } },
      { desc: 'bool mask [3,5] broadcast, scale 0.3', inputs: [C(u([2, 3, 4])), C(u([2, 5, 4])), C(u([2, 5, 2])), C(allowed([3, 5]))], args: { mask: 'bool', scale: 0.3 } },
      { desc: 'float mask, transposed key', inputs: [C(u([2, 3, 4])), T(u([2, 3, 4])), C(u([2, 3, 4])), C(u([2, 3, 3]))], args: { mask: 'float' } },
      { desc: 'empty batch', inputs: [C(u([0, 3, 4])), C(u([0, 3, 4])), C(u([0, 3, 4]))], args: {} },
      { desc: 'one key', inputs: [C(u([2, 4])), C(u([1, 4])), C(u([1, 4]))], args: {} },
    ];
  },
});

const RMS_NORM = row<{ shape: number[]; eps?: number }>({
  name: 'rmsNorm',
  op: ([x, w], a) => k.nn.rmsNorm(x, a.shape, w ?? null, a.eps),
  ref: ([x, w], a) => RP.rmsNorm(x, a.shape, w ?? null, a.eps ?? 1.1920928955078125e-7),
  grad: true,
  samples: (rng) => {
    const u = (s: number[]) => R.uniform(rng, s);
    return [
      { desc: '[3,4] over [4]', inputs: [C(u([3, 4]))], args: { shape: [4] } },
      { desc: '[2,3,4] over [3,4] with weight, eps 1e-3', inputs: [C(u([2, 3, 4])), C(u([3, 4]))], args: { shape: [3, 4], eps: 1e-3 } },
      { desc: 'transposed', inputs: [T(u([3, 4])), C(u([4]))], args: { shape: [4] } },
      { desc: 'empty batch', inputs: [C(u([0, 4]))], args: { shape: [4] } },
    ];
  },
});

// ----- losses --------------------------------------------------------------------------------------

type CEArgs = { weight?: boolean; ignoreIndex?: number; labelSmoothing?: number; reduction?: RP.Reduction; probs?: boolean; nll?: boolean };
function classLossRow(name: 'crossEntropy (options)' | 'nllLoss'): OpRow<CEArgs> {
  const nll = name === 'nllLoss';
  return row<CEArgs>({
    name,
    op: ([x, t, w], a) => {
      const o = { weight: a.weight ? w : null, ignoreIndex: a.ignoreIndex, labelSmoothing: a.labelSmoothing, reduction: a.reduction };
      return nll ? k.nn.nllLoss(x, t, o) : k.nn.crossEntropy(x, t, o);
    },
    ref: ([x, t, w], a) => (a.probs
      ? RP.crossEntropyProbs(x, t, { weight: a.weight ? w : undefined, labelSmoothing: a.labelSmoothing, reduction: a.reduction })
      : RP.crossEntropy(x, t, { weight: a.weight ? w : undefined, ignoreIndex: a.ignoreIndex, labelSmoothing: a.labelSmoothing, reduction: a.reduction, logProbs: nll })),
    grad: true,
    samples: (rng) => {
      const u = (s: number[]) => (nll ? R.logSoftmax(R.uniform(rng, s, -2, 2), s.length === 1 ? 0 : 1) : R.uniform(rng, s, -3, 3));
      const w = () => C(R.uniform(rng, [4], 0.2, 2), false);
      const ce: Sample<CEArgs>[] = nll ? [] : [
        { desc: 'label smoothing 0.1', inputs: [C(u([5, 4])), C(R.randint(rng, [5], 0, 4))], args: { labelSmoothing: 0.1 } },
        { desc: 'label smoothing, weight and ignoreIndex', inputs: [C(u([6, 4])), C(I([6], [0, 3, -100, 1, 2, -100])), w()], args: { labelSmoothing: 0.2, weight: true } },
        { desc: 'probability targets', inputs: [C(u([3, 4])), C(R.softmax(R.uniform(rng, [3, 4]), 1), false)], args: { probs: true } },
        { desc: 'probability targets [2,4,3], smoothing, weight, none', inputs: [C(u([2, 4, 3])), C(R.softmax(R.uniform(rng, [2, 4, 3]), 1), false), w()], args: { probs: true, labelSmoothing: 0.1, weight: true, reduction: 'none' } },
      ];
      return [
        { desc: '[N,C,d] = [2,4,3] against [2,3]', inputs: [C(u([2, 4, 3])), C(R.randint(rng, [2, 3], 0, 4))], args: {} },
        { desc: 'class weights, mean divides by their sum', inputs: [C(u([5, 4])), C(R.randint(rng, [5], 0, 4)), w()], args: { weight: true } },
        { desc: 'ignoreIndex -100 (default) skipped, sum', inputs: [C(u([4, 4])), C(I([4], [1, -100, 3, 0]))], args: { reduction: 'sum' } },
        { desc: 'ignoreIndex 0 inside the classes, weights, none', inputs: [C(u([5, 4])), C(I([5], [0, 1, 0, 3, 2])), w()], args: { ignoreIndex: 0, weight: true, reduction: 'none' } },
        { desc: 'transposed [N,C]', inputs: [T(u([4, 3])), C(R.randint(rng, [4], 0, 3))], args: {} },
        { desc: '[C] with a 0-d target', inputs: [C(u([4])), C(I([], [2]))], args: {} },
        { desc: 'empty batch, sum', inputs: [C(u([0, 4])), C(I([0], []))], args: { reduction: 'sum' } },
        ...ce,
      ];
    },
  });
}

type Red = { reduction?: RP.Reduction };
function pairLossRow(name: 'l1Loss' | 'smoothL1Loss' | 'huberLoss', ref: (a: RArray, b: RArray, r: RP.Reduction, p: number) => RArray, param?: 'beta' | 'delta'): OpRow<Red & { p?: number }> {
  return row<Red & { p?: number }>({
    name,
    op: ([a, b], o) => (k.nn[name] as (a: Tensor, b: Tensor, o: object) => Tensor)(a, b, { reduction: o.reduction, ...(param && o.p !== undefined ? { [param]: o.p } : {}) }),
    ref: ([a, b], o) => ref(a, b, o.reduction ?? 'mean', o.p ?? 1),
    grad: true,
    samples: (rng) => {
      // Differences kept away from the kinks (0 and ±beta/delta) so finite differences are clean.
      const pair = (s: number[]) => {
        const a = R.uniform(rng, s, -3, 3);
        const d = R.uniform(rng, s, -3, 3, (v) => Math.abs(v) < 0.05 || Math.abs(Math.abs(v) - 1) < 0.05 || Math.abs(Math.abs(v) - 0.5) < 0.05);
        return [a, R.arr(s, a.data.map((v, i) => v - d.data[i]))];
      };
      const [a1, b1] = pair([3, 4]), [a2, b2] = pair([5]), [a3, b3] = pair([]), [a4, b4] = pair([2, 3]);
      return [
        { desc: '[3,4] mean', inputs: [C(a1), C(b1)], args: {} },
        { desc: '[5] sum', inputs: [C(a2), C(b2)], args: { reduction: 'sum', p: 0.5 } },
        { desc: '0-d none', inputs: [C(a3), C(b3)], args: { reduction: 'none' } },
        { desc: 'transposed', inputs: [T(a4), C(b4)], args: {} },
        { desc: 'empty, none', inputs: [C(R.uniform(rng, [0, 2])), C(R.uniform(rng, [0, 2]))], args: { reduction: 'none' } },
      ];
    },
  });
}

const BCE_LOGITS = row<Red & { weight?: boolean; pos?: boolean }>({
  name: 'binaryCrossEntropyWithLogits',
  op: ([x, y, w, pw], a) => k.nn.binaryCrossEntropyWithLogits(x, y, { reduction: a.reduction, weight: a.weight ? w : null, posWeight: a.pos ? pw : null }),
  ref: ([x, y, w, pw], a) => RP.bceWithLogits(x, y, a.reduction ?? 'mean', a.weight ? w : undefined, a.pos ? pw : undefined),
  grad: true,
  samples: (rng) => {
    const x = (s: number[]) => R.uniform(rng, s, -4, 4);
    const y = (s: number[]) => R.cast(R.bools(rng, s), 'float32');
    return [
      { desc: '[3,4] mean', inputs: [C(x([3, 4])), C(y([3, 4]), false)], args: {} },
      { desc: 'soft targets, weight and posWeight, sum', inputs: [C(x([2, 3])), C(R.uniform(rng, [2, 3], 0, 1)), C(R.uniform(rng, [3], 0.5, 2), false), C(R.uniform(rng, [3], 0.5, 3), false)], args: { reduction: 'sum', weight: true, pos: true } },
      { desc: 'large logits stay finite', inputs: [C(R.arr([4], [100, -100, 80, -80])), C(R.arr([4], [0, 1, 1, 0]), false)], args: { reduction: 'none' } },
      { desc: '0-d', inputs: [C(x([])), C(R.arr([], [1]), false)], args: {} },
      { desc: 'transposed', inputs: [T(x([3, 4])), C(y([3, 4]), false)], args: {} },
      { desc: 'empty, none', inputs: [C(x([0])), C(y([0]), false)], args: { reduction: 'none' } },
    ];
  },
});

const KL_DIV = row<{ reduction?: RP.Reduction | 'batchmean'; logTarget?: boolean }>({
  name: 'klDiv',
  op: ([i, t], a) => k.nn.klDiv(i, t, { reduction: a.reduction, logTarget: a.logTarget }),
  ref: ([i, t], a) => RP.klDiv(i, t, a.reduction ?? 'mean', a.logTarget ?? false),
  grad: true,
  samples: (rng) => {
    const lp = (s: number[]) => R.logSoftmax(R.uniform(rng, s), -1);
    const p = (s: number[]) => R.softmax(R.uniform(rng, s), -1);
    return [
      { desc: '[3,4] batchmean', inputs: [C(lp([3, 4])), C(p([3, 4]))], args: { reduction: 'batchmean' } },
      { desc: 'log target, sum', inputs: [C(lp([2, 5])), C(lp([2, 5]))], args: { reduction: 'sum', logTarget: true } },
      { desc: 'zero targets contribute 0', inputs: [C(lp([4])), C(R.arr([4], [0.5, 0, 0.5, 0]), false)], args: { reduction: 'none' } },
      { desc: '0-d mean', inputs: [C(R.arr([], [-0.3])), C(R.arr([], [0.4]))], args: {} },
      { desc: 'transposed', inputs: [T(lp([2, 3])), C(p([2, 3]))], args: {} },
      { desc: 'empty, sum', inputs: [C(R.arr([0, 2], [])), C(R.arr([0, 2], []))], args: { reduction: 'sum' } },
    ];
  },
});

const COSINE_EMBEDDING = row<Red & { margin?: number }>({
  name: 'cosineEmbeddingLoss',
  op: ([a, b, y], o) => k.nn.cosineEmbeddingLoss(a, b, y, { reduction: o.reduction, margin: o.margin }),
  ref: ([a, b, y], o) => RP.cosineEmbedding(a, b, y, o.margin ?? 0, o.reduction ?? 'mean'),
  grad: true,
  samples: (rng) => {
    const u = (s: number[]) => R.uniform(rng, s);
    return [
      { desc: '[4,3]', inputs: [C(u([4, 3])), C(u([4, 3])), C(I([4], [1, -1, 1, -1]))], args: {} },
      { desc: 'margin -0.5, sum', inputs: [C(u([3, 5])), C(u([3, 5])), C(I([3], [-1, -1, 1]))], args: { margin: -0.5, reduction: 'sum' } },
      { desc: '[D] with 0-d target', inputs: [C(u([4])), C(u([4])), C(I([], [1]))], args: {} },
      { desc: 'transposed', inputs: [T(u([2, 3])), C(u([2, 3])), C(I([2], [1, -1]))], args: { reduction: 'none' } },
      { desc: 'empty batch, sum', inputs: [C(u([0, 3])), C(u([0, 3])), C(I([0], []))], args: { reduction: 'sum' } },
    ];
  },
});

/** Every row of this file. */
export const PARITY_ROWS: readonly OpRow[] = [
  MASKED_FILL, triRow('tril'), triRow('triu'), ONE_HOT, SCATTER, SCATTER_ADD, INDEX_ADD, INDEX_PUT, scanRow('cumsum'), scanRow('cumprod'),
  SORT, ARGSORT, TOPK, extremumRow('max'), extremumRow('min'), EINSUM, REPEAT, CHUNK, ROLL, DIAG, DIAGONAL, OUTER, LERP, ADDMM,
  classifyRow('isnan'), classifyRow('isinf'), classifyRow('isfinite'), ISCLOSE, NAN_TO_NUM, VECTOR_NORM, SDPA, RMS_NORM,
  classLossRow('crossEntropy (options)'), classLossRow('nllLoss'),
  pairLossRow('l1Loss', (a, b, r) => RP.l1Loss(a, b, r)), pairLossRow('smoothL1Loss', RP.smoothL1Loss, 'beta'), pairLossRow('huberLoss', RP.huberLoss, 'delta'),
  BCE_LOGITS, KL_DIV, COSINE_EMBEDDING,
];

/** Rows whose ops reject 0-d inputs in PyTorch too. */
export const PARITY_NO_0D: readonly string[] = ['tril', 'triu', 'chunk', 'diag', 'diagonal', 'outer', 'rmsNorm', 'scaledDotProductAttention'];
