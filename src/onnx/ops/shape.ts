// Shape and movement ops: constants, Shape/Size, Reshape and friends, Concat/Split/Slice, gathers,
// Cast, Range ... Each has a host form where its inputs can be shape arithmetic, so chains such as
// Shape -> Gather -> Unsqueeze -> Concat -> Reshape are evaluated on the host and never traced.
import { fmtShape } from '../../core/errors.js';
import { sizeOf } from '../../core/shape.js';
import { arange, full } from '../../creation.js';
import * as F from '../../functional.js';
import type { Tensor } from '../../tensor.js';
import { ElemType, HostTensor, castNumber, elemTypeName, elemTypeOf, isFloatType, kilnDTypeOf } from '../host.js';
import { hostCast, hostConcat, hostGather, hostReshape, hostSlice, hostTranspose, int64s, normAxis, sliceBounds } from '../host-ops.js';
import { register, type OpContext, type OpHandler, type Value } from '../registry.js';
import { dtypeOfAttr, filled, idsAlong, ints, normAxes, optInts, simple } from './util.js';

type Shape = readonly number[];
const shapeOf = (v: Value): Shape => v.shape;

// ----- constants and shapes ----------------------------------------------------------------------

function constantValue(ctx: OpContext): HostTensor {
  const a = ctx.attrs;
  if (a.has('value')) return a.tensor('value');
  if (a.has('value_float')) return HostTensor.scalar(ElemType.FLOAT, a.float('value_float'));
  if (a.has('value_floats')) return HostTensor.vector(ElemType.FLOAT, a.floats('value_floats'));
  if (a.has('value_int')) return HostTensor.scalar(ElemType.INT64, a.int('value_int'));
  if (a.has('value_ints')) return HostTensor.vector(ElemType.INT64, a.ints('value_ints'));
  return ctx.fail(a.has('sparse_value') ? 'sparse constants are not supported' : a.has('value_string') || a.has('value_strings') ? 'string constants are not supported (kiln has no string tensors)' : 'has no value attribute');
}
register('Constant', { since: 1, run: (ctx) => [constantValue(ctx)], host: (ctx) => [constantValue(ctx)] });

/** Shape(x)[start:end]: always known on the host, also for a traced tensor. */
function shapeOp(ctx: OpContext): HostTensor[] {
  const s = shapeOf(ctx.value(0));
  const r = s.length;
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  const start = clamp(ctx.attrs.int('start', 0)), end = clamp(ctx.attrs.int('end', r));
  return [int64s(s.slice(start, Math.max(start, end)))];
}
register('Shape', { since: 1, run: shapeOp, host: shapeOp });
const sizeOp = (ctx: OpContext) => [HostTensor.scalar(ElemType.INT64, sizeOf(shapeOf(ctx.value(0))))];
register('Size', { since: 1, run: sizeOp, host: sizeOp });

register('Identity', { since: 1, run: (ctx) => [ctx.value(0)], host: (ctx) => [ctx.host(0)] });

// ----- reshaping ---------------------------------------------------------------------------------

/** Resolves ONNX Reshape's target: 0 copies the input dim (unless allowzero), -1 is inferred. */
function reshapeTarget(ctx: OpContext, from: Shape, spec: readonly number[], allowzero: boolean): number[] {
  const out = spec.map((d, i) => (d === 0 && !allowzero ? (i < from.length ? from[i] : ctx.fail(`shape ${fmtShape(spec)} copies dim ${i} (0), which input ${fmtShape(from)} lacks`)) : d));
  const neg = out.filter((d) => d === -1).length;
  if (neg > 1) ctx.fail(`shape ${fmtShape(spec)} has more than one -1`);
  if (neg === 1) {
    const known = sizeOf(out.filter((d) => d !== -1));
    const total = sizeOf(from);
    if (known === 0 || total % known !== 0) ctx.fail(`cannot reshape ${fmtShape(from)} into ${fmtShape(spec)}`);
    out[out.indexOf(-1)] = total / known;
  }
  if (sizeOf(out) !== sizeOf(from)) ctx.fail(`cannot reshape ${fmtShape(from)} (${sizeOf(from)} elements) into ${fmtShape(spec)}`);
  return out;
}

function reshapeHandler(since: number, specOf: (ctx: OpContext) => number[]): OpHandler {
  const target = (ctx: OpContext) => reshapeTarget(ctx, shapeOf(ctx.value(0)), specOf(ctx), ctx.attrs.int('allowzero', 0) === 1);
  return { since, hostInputs: [1], run: (ctx) => [ctx.tensor(0).reshape(target(ctx))], host: (ctx) => [hostReshape(ctx.host(0), target(ctx))] };
}
register('Reshape', reshapeHandler(1, (ctx) => ctx.attrs.ints('shape')), reshapeHandler(5, (ctx) => ctx.host(1).values()));

function flattenShape(ctx: OpContext, s: Shape): number[] {
  const axis = ctx.attrs.int('axis', 1);
  const a = axis < 0 ? axis + s.length : axis;
  if (a < 0 || a > s.length) ctx.fail(`axis ${axis} is out of range for rank ${s.length}`);
  return [sizeOf(s.slice(0, a)), sizeOf(s.slice(a))];
}
register('Flatten', { since: 1, run: (ctx) => [ctx.tensor(0).reshape(flattenShape(ctx, ctx.tensor(0).shape))], host: (ctx) => [hostReshape(ctx.host(0), flattenShape(ctx, ctx.host(0).shape))] });

function squeezeShape(ctx: OpContext, s: Shape, axes: number[] | undefined): number[] {
  const ax = axes === undefined ? s.flatMap((d, i) => (d === 1 ? [i] : [])) : normAxes(ctx, axes, s.length);
  for (const a of ax) if (s[a] !== 1) ctx.fail(`cannot squeeze axis ${a} of ${fmtShape(s)} (size ${s[a]}, not 1)`);
  return s.filter((_, i) => !ax.includes(i));
}
function squeezeHandler(since: number, axesOf: (ctx: OpContext) => number[] | undefined): OpHandler {
  const target = (ctx: OpContext) => squeezeShape(ctx, shapeOf(ctx.value(0)), axesOf(ctx));
  return { since, hostInputs: [1], run: (ctx) => [ctx.tensor(0).reshape(target(ctx))], host: (ctx) => [hostReshape(ctx.host(0), target(ctx))] };
}
register('Squeeze', squeezeHandler(1, (ctx) => (ctx.attrs.has('axes') ? ctx.attrs.ints('axes') : undefined)), squeezeHandler(13, (ctx) => optInts(ctx, 1)));

function unsqueezeShape(ctx: OpContext, s: Shape, axes: readonly number[]): number[] {
  const rank = s.length + axes.length;
  const ax = normAxes(ctx, axes, rank);
  if (ax.length !== axes.length) ctx.fail(`axes ${fmtShape(axes)} repeat an axis`);
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(ax.includes(i) ? 1 : s[k++]);
  return out;
}
function unsqueezeHandler(since: number, axesOf: (ctx: OpContext) => number[]): OpHandler {
  const target = (ctx: OpContext) => unsqueezeShape(ctx, shapeOf(ctx.value(0)), axesOf(ctx));
  return { since, hostInputs: [1], run: (ctx) => [ctx.tensor(0).reshape(target(ctx))], host: (ctx) => [hostReshape(ctx.host(0), target(ctx))] };
}
register('Unsqueeze', unsqueezeHandler(1, (ctx) => ctx.attrs.ints('axes')), unsqueezeHandler(13, (ctx) => ctx.host(1).values()));

register('Transpose', {
  since: 1,
  run: (ctx) => { const x = ctx.tensor(0); return [x.permute(ctx.attrs.ints('perm', x.shape.map((_, i) => x.ndim - 1 - i)))]; },
  host: (ctx) => { const x = ctx.host(0); return [hostTranspose(x, ctx.attrs.ints('perm', x.shape.map((_, i) => x.shape.length - 1 - i)))]; },
});

// ----- concat, split, slice, expand, tile, pad -------------------------------------------------------

register('Concat', {
  since: 1,
  run: (ctx) => {
    const xs = Array.from({ length: ctx.inputCount }, (_, i) => ctx.tensor(i));
    const axis = normAxis('Concat', ctx.attrs.int('axis', 1), xs[0].ndim);
    const nonEmpty = xs.filter((x) => x.shape[axis] > 0);
    return [nonEmpty.length ? F.cat(nonEmpty, axis) : xs[0]];
  },
  host: (ctx) => {
    const xs = Array.from({ length: ctx.inputCount }, (_, i) => ctx.host(i));
    const type = xs[0].type;
    return [hostConcat(xs.map((x) => (x.type === type ? x : hostCast(x, type))), ctx.attrs.int('axis', 1))];
  },
});

function splitSizes(ctx: OpContext, n: number, given: number[] | undefined): number[] {
  if (given) {
    if (given.reduce((a, b) => a + b, 0) !== n) ctx.fail(`split sizes ${fmtShape(given)} do not sum to the axis size ${n}`);
    return given;
  }
  const parts = ctx.opset >= 18 && ctx.attrs.has('num_outputs') ? ctx.attrs.int('num_outputs') : ctx.outputCount;
  const chunk = Math.ceil(n / parts);
  if (ctx.opset < 18 && n % parts !== 0) ctx.fail(`axis size ${n} does not split evenly into ${parts} outputs`);
  return Array.from({ length: parts }, (_, i) => Math.max(0, Math.min(chunk, n - i * chunk)));
}
function splitHandler(since: number, sizesOf: (ctx: OpContext) => number[] | undefined): OpHandler {
  return {
    since, hostInputs: [1],
    run: (ctx) => {
      const x = ctx.tensor(0);
      const axis = normAxis('Split', ctx.attrs.int('axis', 0), x.ndim);
      return x.split(splitSizes(ctx, x.shape[axis], sizesOf(ctx)), axis);
    },
  };
}
register('Split',
  splitHandler(1, (ctx) => (ctx.attrs.has('split') ? ctx.attrs.ints('split') : ctx.has(1) ? ctx.host(1).values() : undefined)),
  splitHandler(13, (ctx) => optInts(ctx, 1)));

/** Per-axis slice bounds of ONNX Slice over a shape. */
function sliceSpec(ctx: OpContext, s: Shape, starts: number[], ends: number[], axes?: number[], steps?: number[]) {
  const ax = axes ?? starts.map((_, i) => i);
  const bounds = s.map((n) => ({ start: 0, count: n, step: 1 }));
  ax.forEach((a0, i) => {
    const a = normAxis('Slice', a0, s.length);
    const step = steps ? steps[i] : 1;
    const b = sliceBounds(s[a], starts[i], ends[i], step);
    bounds[a] = { start: b.start, count: b.count, step };
  });
  return bounds;
}
/** Slices a tensor by resolved bounds (a negative step reads backwards). */
function sliceTensor(x: Tensor, bounds: readonly { start: number; count: number; step: number }[]): Tensor {
  return x.slice(bounds.map((b): [number?, number?, number?] => {
    if (b.count === 0) return [0, 0, 1];
    const end = b.start + b.count * b.step;
    // Walking down past index 0 has no end index in Python's slice notation: leave it open.
    return [b.start, end < 0 ? undefined : end, b.step];
  }));
}
function sliceHandler(since: number, argsOf: (ctx: OpContext) => [number[], number[], number[] | undefined, number[] | undefined]): OpHandler {
  const spec = (ctx: OpContext) => { const [st, en, ax, sp] = argsOf(ctx); return sliceSpec(ctx, shapeOf(ctx.value(0)), st, en, ax, sp); };
  return { since, hostInputs: [1, 2, 3, 4], run: (ctx) => [sliceTensor(ctx.tensor(0), spec(ctx))], host: (ctx) => [hostSlice(ctx.host(0), spec(ctx))] };
}
register('Slice',
  sliceHandler(1, (ctx) => [ctx.attrs.ints('starts'), ctx.attrs.ints('ends'), ctx.attrs.has('axes') ? ctx.attrs.ints('axes') : undefined, undefined]),
  sliceHandler(10, (ctx) => [ctx.host(1).values(), ctx.host(2).values(), optInts(ctx, 3), optInts(ctx, 4)]));

/** Expand broadcasts both ways: the result has the broadcast of the input's and the given shape. */
function expandShape(ctx: OpContext, s: Shape, target: readonly number[]): number[] {
  const n = Math.max(s.length, target.length);
  return Array.from({ length: n }, (_, i) => {
    const a = s[s.length - n + i] ?? 1, b = target[target.length - n + i] ?? 1;
    if (a !== b && a !== 1 && b !== 1) ctx.fail(`cannot expand ${fmtShape(s)} to ${fmtShape(target)}`);
    return a === 1 ? b : a;
  });
}
register('Expand', {
  since: 8, hostInputs: [1],
  run: (ctx) => { const x = ctx.tensor(0); const s = expandShape(ctx, x.shape, ctx.host(1).values()); return [x.reshape([...s.slice(0, s.length - x.ndim).map(() => 1), ...x.shape]).expand(s)]; },
});

register('Tile', {
  since: 6, hostInputs: [1],
  run: (ctx) => {
    const x = ctx.tensor(0);
    const reps = ctx.host(1).values();
    if (reps.length !== x.ndim) ctx.fail(`repeats ${fmtShape(reps)} must have one entry per dim of ${fmtShape(x.shape)}`);
    // [.., d, ..] -> [.., 1, d, ..] expanded to [.., r, d, ..] -> [.., r·d, ..]
    const inter = x.shape.flatMap((d) => [1, d]);
    const big = x.shape.flatMap((d, i) => [reps[i], d]);
    return [x.reshape(inter).expand(big).reshape(x.shape.map((d, i) => d * reps[i]))];
  },
});

/** Pad with ONNX's layout [x1_begin, x2_begin, ..., x1_end, ...]; negative pads crop. */
function padTensor(ctx: OpContext, x: Tensor, pads: number[], mode: string, value: Tensor | number, axes?: number[]): Tensor {
  const ax = axes ? axes.map((a) => normAxis('Pad', a, x.ndim)) : x.shape.map((_, i) => i);
  if (pads.length !== 2 * ax.length) ctx.fail(`pads ${fmtShape(pads)} must have 2 entries per padded axis (${ax.length})`);
  const pairs = x.shape.map((): [number, number] => [0, 0]);
  ax.forEach((a, i) => { pairs[a] = [pads[i], pads[i + ax.length]]; });
  // Negative pads remove elements: slice first, then pad the rest.
  let y = x;
  if (pairs.some(([b, e]) => b < 0 || e < 0)) {
    y = y.slice(pairs.map(([b, e], d): [number, number] => [Math.max(0, -b), x.shape[d] - Math.max(0, -e)]));
  }
  const pos = pairs.map(([b, e]): [number, number] => [Math.max(0, b), Math.max(0, e)]);
  if (pos.every(([b, e]) => b === 0 && e === 0)) return y;
  if (mode === 'constant') {
    if (typeof value === 'number') return F.pad(y, pos, value);
    const inside = F.pad(full(y.shape, true, { backend: y.backend }), pos, 0).to('bool');
    return F.pad(y, pos, 0).where(inside, value.to(y.dtype));
  }
  if (mode === 'reflect' || mode === 'edge' || mode === 'wrap') return F.pad(y, pos, mode === 'edge' ? 'replicate' : mode === 'wrap' ? 'circular' : 'reflect');
  return ctx.fail(`mode '${mode}' is not supported (constant, reflect, edge, wrap)`);
}
register('Pad',
  simple(2, (ctx) => padTensor(ctx, ctx.tensor(0), ctx.attrs.ints(ctx.opset < 2 ? 'paddings' : 'pads'), ctx.attrs.string('mode', 'constant'), ctx.attrs.float('value', 0))),
  {
    since: 11, hostInputs: [1, 3],
    run: (ctx) => {
      const x = ctx.tensor(0);
      const value: Tensor | number = ctx.has(2) ? ctx.tensor(2).reshape([]) : 0;
      return [padTensor(ctx, x, ctx.host(1).values(), ctx.attrs.string('mode', 'constant'), value, optInts(ctx, 3))];
    },
  });

// ----- gathers -----------------------------------------------------------------------------------

/** Indices with negative entries counted from the end of a dim of size n. */
function wrapIndex(idx: Tensor, n: number): Tensor {
  const i = idx.dtype === 'int32' ? idx : idx.to('int32');
  return i.where(i.ge(0), i.add(n));
}

register('Gather', {
  since: 1,
  run: (ctx) => {
    const x = ctx.tensor(0);
    const axis = normAxis('Gather', ctx.attrs.int('axis', 0), x.ndim);
    const idx = wrapIndex(ctx.tensor(1), x.shape[axis]);
    const picked = x.indexSelect(axis, idx.reshape([-1]));
    return [picked.reshape([...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)])];
  },
  host: (ctx) => [hostGather(ctx.host(0), ctx.host(1), ctx.attrs.int('axis', 0))],
});

register('GatherElements', simple(11, (ctx) => {
  const x = ctx.tensor(0);
  const axis = normAxis('GatherElements', ctx.attrs.int('axis', 0), x.ndim);
  return x.gather(axis, wrapIndex(ctx.tensor(1), x.shape[axis]));
}));

/** GatherND: index tuples over the leading dims (after batch_dims) pick slices of the rest. */
register('GatherND', simple(11, (ctx) => {
  const x = ctx.tensor(0);
  const idx = ctx.tensor(1).to('int32');
  const b = ctx.attrs.int('batch_dims', 0);
  const k = idx.shape[idx.ndim - 1];
  const batch = x.shape.slice(0, b);
  const indexed = x.shape.slice(b, b + k);
  const rest = x.shape.slice(b + k);
  const B = sizeOf(batch), M = sizeOf(indexed);
  // Row-major strides of the indexed dims turn each tuple into one flat position.
  const strides = indexed.map((_, i) => sizeOf(indexed.slice(i + 1)));
  const wrapped = idx.where(idx.ge(0), idx.add(ints(ctx, indexed, [k])));
  const flat = wrapped.mul(ints(ctx, strides, [k])).sum(-1); // [...batch, ...idxLead]
  const lead = idx.shape.slice(b, idx.ndim - 1);
  const offsets = arange(B, undefined, 1, { backend: ctx.backend, dtype: 'int32' }).mul(M).reshape([...batch, ...lead.map(() => 1)]);
  const rows = flat.add(offsets).reshape([-1]);
  const table = x.reshape([B * M, ...rest]);
  return table.indexSelect(0, rows).reshape([...batch, ...lead, ...rest]);
}));

// ----- casts -------------------------------------------------------------------------------------

/** Cast to a kiln dtype; the host form keeps ONNX's element type for shape arithmetic. */
function castHandler(since: number, toOf: (ctx: OpContext) => number): OpHandler {
  return {
    since,
    run: (ctx) => {
      const to = toOf(ctx);
      // kiln computes in float32: a cast to a half type would not round as the model means.
      if (to === ElemType.FLOAT16 || to === ElemType.BFLOAT16) ctx.unsupported(`a cast to ${elemTypeName(to)}: kiln has no half-precision type`);
      return [ctx.tensor(0).to(dtypeOfAttr(ctx, to))];
    },
    host: (ctx) => {
      const x = ctx.host(0);
      const to = toOf(ctx);
      // Float conversions round through float32 in kiln: leave them to it.
      if (isFloatType(to) || isFloatType(x.type) || !kilnDTypeOf(to)) return null;
      return [hostCast(x, to)];
    },
  };
}
register('Cast', castHandler(6, (ctx) => ctx.attrs.int('to')), castHandler(1, (ctx) => ctx.attrs.int('to')));
register('CastLike', castHandler(15, (ctx) => ctx.elemType(1)));

// ----- generated tensors -------------------------------------------------------------------------

register('ConstantOfShape', {
  since: 9, hostInputs: [0],
  run: (ctx) => {
    const shape = ctx.host(0).values();
    const v = ctx.attrs.has('value') ? ctx.attrs.tensor('value') : HostTensor.scalar(ElemType.FLOAT, 0);
    return [filled(ctx, shape, v.data[0], dtypeOfAttr(ctx, v.type))];
  },
  host: (ctx) => {
    const shape = ctx.host(0).values();
    if (sizeOf(shape) > 4096) return null;
    const v = ctx.attrs.has('value') ? ctx.attrs.tensor('value') : HostTensor.scalar(ElemType.FLOAT, 0);
    return [new HostTensor(v.type, shape, new Array(sizeOf(shape)).fill(castNumber(v.data[0], v.type)))];
  },
});

/** Range: the count depends on the values, so start, limit and delta must be known. */
function rangeValues(ctx: OpContext): HostTensor {
  const [start, limit, delta] = [0, 1, 2].map((i) => ctx.host(i).item(`Range input ${i}`));
  const type = ctx.host(0).type;
  const n = Math.max(Math.ceil((limit - start) / delta), 0);
  const data = Array.from({ length: n }, (_, i) => castNumber(start + i * delta, type));
  return new HostTensor(type, [n], data);
}
register('Range', {
  since: 11, hostInputs: [0, 1, 2],
  run: (ctx) => { const r = rangeValues(ctx); return [r.size > 4096 ? r.toTensor(ctx.backend) : r]; },
  host: (ctx) => { const r = rangeValues(ctx); return r.size > 4096 ? null : [r]; },
});

register('EyeLike', simple(9, (ctx) => {
  const x = ctx.value(0);
  const [n, m] = x.shape;
  const k = ctx.attrs.int('k', 0);
  const type = ctx.attrs.int('dtype', x instanceof HostTensor ? x.type : elemTypeOf(x.dtype));
  const rows = idsAlong(ctx, n, 0, 2), cols = idsAlong(ctx, m, 1, 2);
  return cols.sub(rows).eq(k).to(dtypeOfAttr(ctx, type));
}));

register('OneHot', {
  since: 9, hostInputs: [1],
  run: (ctx) => {
    const idx = ctx.tensor(0);
    const depth = Math.trunc(ctx.host(1).item('OneHot depth'));
    const values = ctx.tensor(2);
    const rank = idx.ndim + 1;
    const axis = normAxis('OneHot', ctx.attrs.int('axis', -1), rank);
    const i = idx.dtype === 'float32' ? idx.floor().to('int32') : idx;
    const wrapped = i.where(i.ge(0), i.add(depth)).unsqueeze(axis);
    const hit = wrapped.eq(idsAlong(ctx, depth, axis, rank));
    const [off, on] = values.split(1, 0).map((v) => v.reshape([]));
    return [on.expand(hit.shape).where(hit, off)];
  },
});

// ----- rearrangements ----------------------------------------------------------------------------

register('DepthToSpace', simple(1, (ctx) => {
  const x = ctx.tensor(0);
  const b = ctx.attrs.int('blocksize');
  const [n, c, h, w] = x.shape;
  const crd = ctx.attrs.string('mode', 'DCR') === 'CRD';
  const y = crd
    ? x.reshape([n, c / (b * b), b, b, h, w]).permute([0, 1, 4, 2, 5, 3])
    : x.reshape([n, b, b, c / (b * b), h, w]).permute([0, 3, 4, 1, 5, 2]);
  return y.reshape([n, c / (b * b), h * b, w * b]);
}));
register('SpaceToDepth', simple(1, (ctx) => {
  const x = ctx.tensor(0);
  const b = ctx.attrs.int('blocksize');
  const [n, c, h, w] = x.shape;
  return x.reshape([n, c, h / b, b, w / b, b]).permute([0, 3, 5, 1, 2, 4]).reshape([n, c * b * b, h / b, w / b]);
}));

/** Trilu: keep the upper (or lower) triangle of the last two dims, offset by k. */
register('Trilu', {
  since: 14, hostInputs: [1],
  run: (ctx) => {
    const x = ctx.tensor(0);
    const k = ctx.has(1) ? ctx.host(1).item('Trilu k') : 0;
    const [n, m] = x.shape.slice(-2);
    const rows = idsAlong(ctx, n, 0, 2), cols = idsAlong(ctx, m, 1, 2);
    const keep = ctx.attrs.int('upper', 1) === 1 ? cols.sub(rows).ge(k) : cols.sub(rows).le(k);
    return [x.where(keep, 0).to(x.dtype)];
  },
});

/** Dropout at inference: the identity, and a mask of all ones when asked. */
function dropout(ctx: OpContext): (Value | null)[] {
  const training = ctx.opset >= 12 && ctx.has(2) ? ctx.host(2).item('Dropout training_mode') !== 0 : false;
  const x = ctx.tensor(0);
  if (training) {
    const p = ctx.has(1) ? ctx.host(1).item('Dropout ratio') : ctx.attrs.float('ratio', 0.5);
    if (p !== 0) ctx.unsupported(`training-mode Dropout (ratio ${p}) draws random numbers; kiln runs imported models in inference mode`);
  }
  return [x, ctx.wantsOutput(1) ? full(x.shape, true, { backend: ctx.backend }) : null];
}
register('Dropout', { since: 1, hostInputs: [1, 2], run: dropout, noFold: true });

/** Compress: the kept positions depend on the condition's values (read on the host). */
register('Compress', {
  since: 9, hostInputs: [1],
  run: (ctx) => {
    let x = ctx.tensor(0);
    const cond = ctx.host(1).values();
    let axis = 0;
    if (ctx.attrs.has('axis')) axis = normAxis('Compress', ctx.attrs.int('axis'), x.ndim);
    else x = x.reshape([-1]);
    const keep = cond.slice(0, x.shape[axis]).flatMap((c, i) => (c ? [i] : []));
    return [x.indexSelect(axis, ints(ctx, keep, [keep.length]))];
  },
});

/** NonZero: indices of the non-zero elements, [rank, count] (the count depends on the values). */
register('NonZero', {
  since: 9, hostInputs: [0],
  run: (ctx) => {
    const x = ctx.host(0);
    const s = x.shape;
    const hits: number[][] = s.map(() => []);
    for (let i = 0; i < x.size; i++) {
      if (!x.data[i]) continue;
      let r = i;
      for (let d = s.length - 1; d >= 0; d--) { hits[d].push(r % s[d]); r = Math.floor(r / s[d]); }
    }
    const count = hits[0]?.length ?? (x.data[0] ? 1 : 0);
    return [new HostTensor(ElemType.INT64, [s.length, count], hits.flat())];
  },
});

