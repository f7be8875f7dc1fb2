// Scatters as compositions (kiln has no scatter primitive): a one-hot of the indices, then a sum
// (ScatterElements) or a matmul (ScatterND) puts each update in place; a mask keeps the rest of the
// data. Reductions add, mul, max and min combine with the data instead of replacing it.
import { sizeOf } from '../../core/shape.js';
import type { Tensor } from '../../tensor.js';
import { register, type OpContext } from '../registry.js';
import { idsAlong, ints, normAxis, simple } from './util.js';

/** Pads the dims of t up to `shape` (indices may cover fewer positions than the data has). */
function padTo(t: Tensor, shape: readonly number[], value: number | boolean): Tensor {
  const pads = t.shape.map((d, i): [number, number] => [0, shape[i] - d]);
  if (pads.every(([, r]) => r === 0)) return t;
  return typeof value === 'boolean' ? t.to('int32').pad(pads, 0).to('bool') : t.pad(pads, value);
}

/** Combines scattered values into the data by the node's reduction. */
function combine(ctx: OpContext, data: Tensor, mask: Tensor, placed: Tensor, reduced: (how: 'mul' | 'max' | 'min') => Tensor): Tensor {
  const reduction = ctx.attrs.string('reduction', 'none');
  switch (reduction) {
    case 'none': return placed.where(mask, data).to(data.dtype);
    case 'add': return data.add(placed.where(mask, 0)).to(data.dtype);
    case 'mul': return data.mul(reduced('mul').where(mask, 1)).to(data.dtype);
    case 'max': return data.maximum(reduced('max')).where(mask, data).to(data.dtype);
    case 'min': return data.minimum(reduced('min')).where(mask, data).to(data.dtype);
    default: return ctx.fail(`reduction '${reduction}' is not none, add, mul, max or min`);
  }
}

const identityOf = (how: 'mul' | 'max' | 'min') => (how === 'mul' ? 1 : how === 'max' ? -Infinity : Infinity);

function scatterElements(ctx: OpContext): Tensor {
  const data = ctx.tensor(0);
  const axis = normAxis(ctx.opType, ctx.attrs.int('axis', 0), data.ndim);
  const n = data.shape[axis];
  let idx = ctx.tensor(1).to('int32');
  idx = idx.where(idx.ge(0), idx.add(n));
  const upd = ctx.tensor(2);
  // hit[.., j, k, ..] = (idx[.., j, ..] == k): the update at j lands on k.
  const hit = idx.unsqueeze(axis + 1).eq(idsAlong(ctx, n, axis + 1, idx.ndim + 1));
  const u = upd.unsqueeze(axis + 1);
  const placed = padTo(u.where(hit, 0).sum(axis), data.shape, 0);
  const mask = padTo(hit.to('int32').sum(axis).gt(0), data.shape, false);
  const reduced = (how: 'mul' | 'max' | 'min') => {
    const r = u.where(hit, identityOf(how));
    return padTo(how === 'mul' ? r.prod(axis) : how === 'max' ? r.amax(axis) : r.amin(axis), data.shape, identityOf(how));
  };
  return combine(ctx, data, mask, placed, reduced);
}
register('ScatterElements', simple(11, scatterElements));
register('Scatter', simple(9, scatterElements));

register('ScatterND', simple(11, (ctx) => {
  const data = ctx.tensor(0);
  const idx = ctx.tensor(1).to('int32');
  const upd = ctx.tensor(2);
  const k = idx.shape[idx.ndim - 1];
  const lead = data.shape.slice(0, k), rest = data.shape.slice(k);
  const m = sizeOf(lead), count = sizeOf(idx.shape.slice(0, -1));
  // Flat row of each index tuple, then hit[j, r] = (row_j == r).
  const strides = lead.map((_, i) => sizeOf(lead.slice(i + 1)));
  const wrapped = idx.where(idx.ge(0), idx.add(ints(ctx, lead, [k])));
  const rows = wrapped.mul(ints(ctx, strides, [k])).sum(-1).reshape([count]);
  const hit = rows.unsqueeze(1).eq(idsAlong(ctx, m, 1, 2)); // [count, m]
  const u = upd.reshape([count, sizeOf(rest)]);
  const flat = data.reshape([m, sizeOf(rest)]);
  const mask = hit.to('int32').sum(0).gt(0).unsqueeze(1);
  const placed = hit.to(u.dtype === 'bool' ? 'int32' : u.dtype).mT().matmul(u.dtype === 'bool' ? u.to('int32') : u);
  const reduced = (how: 'mul' | 'max' | 'min') => {
    const r = u.unsqueeze(1).where(hit.unsqueeze(2), identityOf(how)); // [count, m, rest]
    return how === 'mul' ? r.prod(0) : how === 'max' ? r.amax(0) : r.amin(0);
  };
  return combine(ctx, flat, mask, placed, reduced).reshape(data.shape);
}));

