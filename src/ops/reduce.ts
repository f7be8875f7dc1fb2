// Reduction primitives: sum, prod, max, min, argmax, argmin over a set of dims.
import type { DType } from '../core/dtype.js';
import { ShapeError, fmtShape } from '../core/errors.js';
import { reduction, type ReduceOp } from '../core/reductions.js';
import type { OnnxEmitter, OnnxRule, ReduceAttrs, ReduceDef, Meta } from './types.js';

/** Output shape of reducing `dims` (already normalised). */
export function reducedShape(shape: readonly number[], dims: readonly number[], keepdim: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!dims.includes(i)) out.push(d);
    else if (keepdim) out.push(1);
  });
  return out;
}

function def(name: string, reduce: ReduceOp, result: (t: DType) => DType, vjp: ReduceDef['vjp'] | undefined, onnx: OnnxRule<ReduceAttrs>): ReduceDef {
  return {
    kind: 'reduce', name, reduce, vjp, onnx,
    infer: (ins: readonly Meta[], a: ReduceAttrs) => {
      const [x] = ins;
      const empty = a.dims.some((d) => x.shape[d] === 0);
      if (empty && reduction(reduce).empty === 'error') {
        throw new ShapeError(`${name}: cannot reduce over an empty dimension of ${fmtShape(x.shape)} (dims ${fmtShape(a.dims)}): the result has no identity`);
      }
      return { shape: reducedShape(x.shape, a.dims, a.keepdim), dtype: result(x.dtype) };
    },
  };
}

const castTo = (e: OnnxEmitter, x: string, d: DType) => e.node('Cast', [x], { to: { int: e.elemType(d) } })[0];

/** ReduceX over the dims; axes are an input from opset 18 (ReduceSum: 13), an attribute before. */
function reduceNode(e: OnnxEmitter, type: string, x: string, a: ReduceAttrs): string {
  if (a.dims.length === 0) return e.node('Identity', [x])[0];
  const keepdims = { int: a.keepdim ? 1 : 0 };
  if (e.opset >= 18 || type === 'ReduceSum') return e.node(type, [x, e.int64s(a.dims)], { keepdims })[0];
  return e.node(type, [x], { axes: { ints: a.dims }, keepdims })[0];
}
/** A reduction; bools are reduced as int32 (sum and prod count, max and min cast back). */
const onnxReduce = (type: string, boolBack: boolean): OnnxRule<ReduceAttrs> => (e, [x], a, m) => {
  if (m.inputs[0].dtype !== 'bool') return reduceNode(e, type, x, a);
  const r = reduceNode(e, type, castTo(e, x, 'int32'), a);
  return boolBack ? castTo(e, r, 'bool') : r;
};
/** ArgMax/ArgMin over one axis (several dims are moved last and merged); int64 indices cast to int32. */
const onnxArg = (type: string): OnnxRule<ReduceAttrs> => (e, [x0], a, m) => {
  const shape = m.inputs[0].shape;
  // A 0-d tensor's one element is at index 0.
  if (shape.length === 0) return e.node('Reshape', [e.scalar(0, 'int32'), e.int64s(m.output.shape)])[0];
  const x = m.inputs[0].dtype === 'bool' ? castTo(e, x0, 'int32') : x0;
  if (a.dims.length === 1) return castTo(e, e.node(type, [x], { axis: { int: a.dims[0] }, keepdims: { int: a.keepdim ? 1 : 0 } })[0], 'int32');
  const rest = shape.map((_, i) => i).filter((i) => !a.dims.includes(i));
  const moved = e.node('Transpose', [x], { perm: { ints: [...rest, ...a.dims] } })[0];
  const merged = e.node('Reshape', [moved, e.int64s([...rest.map((i) => shape[i]), a.dims.reduce((p, d) => p * shape[d], 1)])])[0];
  const arg = e.node(type, [merged], { axis: { int: -1 }, keepdims: { int: 0 } })[0];
  return castTo(e, e.node('Reshape', [arg, e.int64s(reducedShape(shape, a.dims, a.keepdim))], { allowzero: { int: 1 } })[0], 'int32');
};

/** The gradient of a reduction, broadcast back over the reduced dims (keepdim shape, then expand). */
const spread = (g: import('../tensor.js').Tensor, m: Meta, a: ReduceAttrs) =>
  g.reshape(reducedShape(m.shape, a.dims, true)).expand(m.shape);

export const REDUCE = {
  // d Σa = da broadcast over the reduced dims
  sum: def('sum', 'sum', (t) => (t === 'bool' ? 'int32' : t), (g, c) => [spread(g, c.inputMeta[0], c.attrs)], onnxReduce('ReduceSum', false)),
  // d Πa / da_i = Π_{j≠i} a_j. Without zeros that is Πa / a_i; with one zero only the zero's slot gets
  // the product of the others; with two or more every slot gets 0.
  prod: def('prod', 'prod', (t) => (t === 'bool' ? 'int32' : t), (g, c) => {
    const x = c.input(0), m = c.inputMeta[0], a = c.attrs;
    const zero = x.eq(0);
    const zeros = spread(zero.to('float32').sum(a.dims, true), m, a);
    const others = spread(x.where(zero.logicalNot(), 1).prod(a.dims, true), m, a); // product of the non-zeros
    const d = others.div(x.where(zero.logicalNot(), 1)).where(zeros.eq(0), others.where(zero, 0).where(zeros.eq(1), 0));
    return [d.mul(spread(g, m, a))];
  }, onnxReduce('ReduceProd', false)),
  // d max a: split evenly between the elements equal to the max (as torch.amax)
  max: def('max', 'max', (t) => t, (g, c) => [extremumGrad(g, c.input(0), c.output(), c.inputMeta[0], c.attrs)], onnxReduce('ReduceMax', true)),
  min: def('min', 'min', (t) => t, (g, c) => [extremumGrad(g, c.input(0), c.output(), c.inputMeta[0], c.attrs)], onnxReduce('ReduceMin', true)),
  argmax: def('argmax', 'argmax', () => 'int32', undefined, onnxArg('ArgMax')),
  argmin: def('argmin', 'argmin', () => 'int32', undefined, onnxArg('ArgMin')),
} as const;

function extremumGrad(g: import('../tensor.js').Tensor, x: import('../tensor.js').Tensor, out: import('../tensor.js').Tensor, m: Meta, a: ReduceAttrs) {
  const hit = x.eq(spread(out, m, a)).to('float32');
  const count = hit.sum(a.dims, true);
  return hit.div(count).mul(spread(g, m, a));
}
