// Reductions and the ops built on them: Reduce*, ArgMax/ArgMin, Softmax/LogSoftmax/Hardmax (with the
// 2-D coercion of opsets before 13), CumSum (a triangular matmul) and TopK (ranks by comparison).
import { sizeOf } from '../../core/shape.js';
import type { Tensor } from '../../tensor.js';
import { isFloatType } from '../host.js';
import { hostReduce } from '../host-ops.js';
import { register, type OpContext, type OpHandler } from '../registry.js';
import { alongLast, asFloat, filled, idsAlong, normAxes, normAxis, optInts, simple } from './util.js';

interface ReduceKind {
  /** The reduction over non-empty axes. */
  readonly f: (x: Tensor, axes: number[], keep: boolean) => Tensor;
  /** The value over an empty set. */
  readonly empty: number;
  /** Host form for integer shape arithmetic. */
  readonly host?: [number, (a: number, v: number) => number];
}

const sumSq = (x: Tensor) => x.mul(x);
const KINDS: Record<string, ReduceKind> = {
  ReduceSum: { f: (x, a, k) => x.sum(a, k), empty: 0, host: [0, (a, v) => a + v] },
  ReduceMean: { f: (x, a, k) => x.mean(a, k), empty: NaN },
  ReduceMax: { f: (x, a, k) => x.amax(a, k), empty: -Infinity, host: [-Infinity, Math.max] },
  ReduceMin: { f: (x, a, k) => x.amin(a, k), empty: Infinity, host: [Infinity, Math.min] },
  ReduceProd: { f: (x, a, k) => x.prod(a, k), empty: 1, host: [1, (a, v) => a * v] },
  ReduceL1: { f: (x, a, k) => x.abs().sum(a, k), empty: 0 },
  ReduceL2: { f: (x, a, k) => asFloat(sumSq(x).sum(a, k)).sqrt(), empty: 0 },
  ReduceSumSquare: { f: (x, a, k) => sumSq(x).sum(a, k), empty: 0 },
  ReduceLogSum: { f: (x, a, k) => asFloat(x.sum(a, k)).log(), empty: -Infinity },
  ReduceLogSumExp: { f: (x, a, k) => asFloat(x).logsumexp(a, k), empty: -Infinity },
};

/** The reduced axes: all when none are given (unless noop_with_empty_axes). null: the identity. */
function reduceAxes(ctx: OpContext, rank: number, given: number[] | undefined): number[] | null {
  if (given === undefined || given.length === 0) {
    if (ctx.attrs.int('noop_with_empty_axes', 0) === 1) return null;
    return Array.from({ length: rank }, (_, i) => i);
  }
  return normAxes(ctx, given, rank);
}

function reduceHandler(kind: ReduceKind, since: number, axesOf: (ctx: OpContext) => number[] | undefined): OpHandler {
  const run = (ctx: OpContext) => {
    const x = ctx.tensor(0);
    const axes = reduceAxes(ctx, x.ndim, axesOf(ctx));
    if (axes === null) return [x];
    const keep = ctx.attrs.int('keepdims', 1) === 1;
    if (axes.some((a) => x.shape[a] === 0)) {
      const shape = x.shape.flatMap((d, i) => (axes.includes(i) ? (keep ? [1] : []) : [d]));
      return [filled(ctx, shape, kind.empty, x.dtype === 'bool' ? 'int32' : x.dtype)];
    }
    return [kind.f(x, axes, keep)];
  };
  const host = kind.host && ((ctx: OpContext) => {
    const x = ctx.host(0);
    if (isFloatType(x.type)) return null;
    const axes = reduceAxes(ctx, x.shape.length, axesOf(ctx));
    if (axes === null) return [x];
    return [hostReduce(x, axes, ctx.attrs.int('keepdims', 1) === 1, kind.host![0], kind.host![1])];
  });
  return { since, hostInputs: [1], run, host };
}
for (const [name, kind] of Object.entries(KINDS)) {
  const fromAttr = (ctx: OpContext) => (ctx.attrs.has('axes') ? ctx.attrs.ints('axes') : undefined);
  const fromInput = (ctx: OpContext) => optInts(ctx, 1);
  // ReduceSum took its axes as an input from opset 13, the others from 18.
  register(name, reduceHandler(kind, 1, fromAttr), reduceHandler(kind, name === 'ReduceSum' ? 13 : 18, fromInput));
}

/** ArgMax/ArgMin along one axis; select_last_index picks the last of ties. */
function argHandler(which: 'argmax' | 'argmin'): OpHandler {
  return simple(1, (ctx) => {
    const x = ctx.tensor(0);
    const axis = normAxis(ctx.opType, ctx.attrs.int('axis', 0), x.ndim);
    const keep = ctx.attrs.int('keepdims', 1) === 1;
    if (ctx.attrs.int('select_last_index', 0) === 1) {
      const n = x.shape[axis];
      const r = x.flip(axis)[which](axis, keep);
      return r.neg().add(n - 1);
    }
    return x[which](axis, keep);
  });
}
register('ArgMax', argHandler('argmax'));
register('ArgMin', argHandler('argmin'));

/** Softmax-like ops: before opset 13 the input is seen as 2-D [prod(dims < axis), prod(dims >= axis)]. */
function softmaxLike(f: (x: Tensor, axis: number) => Tensor): OpHandler[] {
  const legacy = simple(1, (ctx) => {
    const x = ctx.tensor(0);
    const axis = ctx.attrs.int('axis', 1);
    const a = axis < 0 ? axis + x.ndim : axis;
    const flat = x.reshape([sizeOf(x.shape.slice(0, a)), sizeOf(x.shape.slice(a))]);
    return f(flat, 1).reshape(x.shape);
  });
  const modern = simple(13, (ctx) => { const x = ctx.tensor(0); return f(x, normAxis(ctx.opType, ctx.attrs.int('axis', -1), x.ndim)); });
  return [legacy, modern];
}
/** One-hot of the first maximum along an axis. */
function hardmax(x: Tensor, axis: number): Tensor {
  const arg = x.argmax(axis, true);
  return arg.eq(idsAlongLike(x, axis)).to(x.dtype);
}
const idsAlongLike = (x: Tensor, axis: number) => idsAlong({ backend: x.backend }, x.shape[axis], axis, x.ndim);
register('Softmax', ...softmaxLike((x, a) => x.softmax(a)));
register('LogSoftmax', ...softmaxLike((x, a) => x.logSoftmax(a)));
register('Hardmax', ...softmaxLike(hardmax));

/** CumSum: a product with a triangular matrix along the axis (exclusive and reverse move its diagonal). */
register('CumSum', {
  since: 11, hostInputs: [1],
  run: (ctx) => {
    const x = ctx.tensor(0);
    const axis = normAxis('CumSum', ctx.host(1).item('CumSum axis'), x.ndim);
    const exclusive = ctx.attrs.int('exclusive', 0) === 1, reverse = ctx.attrs.int('reverse', 0) === 1;
    const n = x.shape[axis];
    // y[j] = Σ_i x[i]·T[i, j]: T[i, j] = 1 where i <= j (forward) or i >= j (reverse), strictly when exclusive.
    const rows = idsAlong(ctx, n, 0, 2), cols = idsAlong(ctx, n, 1, 2);
    const d = reverse ? rows.sub(cols) : cols.sub(rows);
    const tri = (exclusive ? d.gt(0) : d.ge(0)).to(x.dtype === 'bool' ? 'int32' : x.dtype);
    return [alongLast(x, axis, (y) => y.matmul(tri))];
  },
});

/**
 * TopK: each element's rank is the number of elements ahead of it (larger, or equal and earlier, as
 * ONNX breaks ties by index); output position p takes the element of rank p.
 */
function topk(ctx: OpContext, k: number): Tensor[] {
  const x = ctx.tensor(0);
  const axis = normAxis('TopK', ctx.attrs.int('axis', -1), x.ndim);
  const largest = ctx.attrs.int('largest', 1) === 1;
  const n = x.shape[axis];
  if (k < 0 || k > n) ctx.fail(`k = ${k} is out of range for axis ${axis} of size ${n}`);
  const v = x.movedim(axis, -1); // [..., n]
  const vi = v.unsqueeze(-1), vj = v.unsqueeze(-2); // [..., n, 1] and [..., 1, n]: i indexes rows
  const ids = idsAlong(ctx, n, 0, 1);
  const earlier = ids.unsqueeze(0).lt(ids.unsqueeze(1)); // [n, n]: j < i
  const ahead = (largest ? vj.gt(vi) : vj.lt(vi)).logicalOr(vj.eq(vi).logicalAnd(earlier));
  const rank = ahead.to('int32').sum(-1); // [..., n]
  const hit = rank.unsqueeze(-2).eq(idsAlong(ctx, k, 0, 1).unsqueeze(1)); // [..., k, n]
  const values = v.unsqueeze(-2).where(hit, 0).sum(-1).to(x.dtype);
  const indices = ids.where(hit, 0).sum(-1);
  return [values.movedim(-1, axis), indices.movedim(-1, axis)];
}
register('TopK',
  { since: 1, run: (ctx) => topk(ctx, ctx.attrs.int('k')) },
  { since: 10, hostInputs: [1], run: (ctx) => topk(ctx, ctx.host(1).item('TopK k')) });

