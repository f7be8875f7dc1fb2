// Reduction primitives: sum, prod, max, min, argmax, argmin over a set of dims.
import type { DType } from '../core/dtype.js';
import { ShapeError, fmtShape } from '../core/errors.js';
import type { ReduceOp } from '../core/kernel.js';
import type { ReduceAttrs, ReduceDef, Meta } from './types.js';

/** Output shape of reducing `dims` (already normalised). */
export function reducedShape(shape: readonly number[], dims: readonly number[], keepdim: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!dims.includes(i)) out.push(d);
    else if (keepdim) out.push(1);
  });
  return out;
}

function def(name: string, reduce: ReduceOp, result: (t: DType) => DType, vjp?: ReduceDef['vjp']): ReduceDef {
  return {
    kind: 'reduce', name, reduce, vjp,
    infer: (ins: readonly Meta[], a: ReduceAttrs) => {
      const [x] = ins;
      const empty = a.dims.some((d) => x.shape[d] === 0);
      if (empty && reduce !== 'sum' && reduce !== 'prod') {
        throw new ShapeError(`${name}: cannot reduce over an empty dimension of ${fmtShape(x.shape)} (dims ${fmtShape(a.dims)}): the result has no identity`);
      }
      return { shape: reducedShape(x.shape, a.dims, a.keepdim), dtype: result(x.dtype) };
    },
  };
}

/** The gradient of a reduction, broadcast back over the reduced dims (keepdim shape, then expand). */
const spread = (g: import('../tensor.js').Tensor, m: Meta, a: ReduceAttrs) =>
  g.reshape(reducedShape(m.shape, a.dims, true)).expand(m.shape);

export const REDUCE = {
  // d Σa = da broadcast over the reduced dims
  sum: def('sum', 'sum', (t) => (t === 'bool' ? 'int32' : t), (g, c) => [spread(g, c.inputMeta[0], c.attrs)]),
  // d Πa / da_i = Π_{j≠i} a_j. Without zeros that is Πa / a_i; with one zero only the zero's slot gets
  // the product of the others; with two or more every slot gets 0.
  prod: def('prod', 'prod', (t) => (t === 'bool' ? 'int32' : t), (g, c) => {
    const x = c.input(0), m = c.inputMeta[0], a = c.attrs;
    const zero = x.eq(0);
    const zeros = spread(zero.to('float32').sum(a.dims, true), m, a);
    const others = spread(x.where(zero.logicalNot(), 1).prod(a.dims, true), m, a); // product of the non-zeros
    const d = others.div(x.where(zero.logicalNot(), 1)).where(zeros.eq(0), others.where(zero, 0).where(zeros.eq(1), 0));
    return [d.mul(spread(g, m, a))];
  }),
  // d max a: split evenly between the elements equal to the max (as torch.amax)
  max: def('max', 'max', (t) => t, (g, c) => [extremumGrad(g, c.input(0), c.output(), c.inputMeta[0], c.attrs)]),
  min: def('min', 'min', (t) => t, (g, c) => [extremumGrad(g, c.input(0), c.output(), c.inputMeta[0], c.attrs)]),
  argmax: def('argmax', 'argmax', () => 'int32'),
  argmin: def('argmin', 'argmin', () => 'int32'),
} as const;

function extremumGrad(g: import('../tensor.js').Tensor, x: import('../tensor.js').Tensor, out: import('../tensor.js').Tensor, m: Meta, a: ReduceAttrs) {
  const hit = x.eq(spread(out, m, a)).to('float32');
  const count = hit.sum(a.dims, true);
  return hit.div(count).mul(spread(g, m, a));
}
