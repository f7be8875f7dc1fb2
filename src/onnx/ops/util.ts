// Helpers the handlers share: building handlers from tensor functions, axes, kiln constants.
import type { DType } from '../../core/dtype.js';
import { arange, fromTypedArray, full } from '../../creation.js';
import type { Tensor } from '../../tensor.js';
import { ElemType, HostTensor, kilnDTypeOf, elemTypeName } from '../host.js';
import { normAxis } from '../host-ops.js';
import type { OpContext, OpHandler, Value } from '../registry.js';

export { normAxis };

/** A handler of one output computed from the node's tensors. */
export function simple(since: number, f: (ctx: OpContext) => Value, extra: Partial<OpHandler> = {}): OpHandler {
  return { since, run: (ctx) => [f(ctx)], ...extra };
}

/** A handler applying `f` to input 0. */
export function unary(since: number, f: (x: Tensor, ctx: OpContext) => Tensor): OpHandler {
  return simple(since, (ctx) => f(ctx.tensor(0), ctx));
}

/** Axes from a list, normalised against `rank`, sorted and unique. */
export function normAxes(ctx: OpContext, axes: readonly number[], rank: number): number[] {
  const out = axes.map((a) => {
    if (!Number.isInteger(a) || a < -rank || a >= rank) ctx.fail(`axis ${a} is out of range for rank ${rank}`);
    return a < 0 ? a + rank : a;
  });
  return [...new Set(out)].sort((a, b) => a - b);
}

/** The kiln dtype of an ONNX `to` / `dtype` attribute, or an error naming the type. */
export function dtypeOfAttr(ctx: OpContext, t: number): DType {
  const d = kilnDTypeOf(t);
  if (!d) ctx.unsupported(`element type ${elemTypeName(t)} is not supported (kiln has float32, int32 and bool)`);
  return d!;
}

/** A float32 tensor from values, on the node's backend. */
export function floats(ctx: OpContext, values: ArrayLike<number>, shape: readonly number[]): Tensor {
  return fromTypedArray(Float32Array.from(values), shape, 'float32', ctx.backend);
}

/** An int32 tensor from values, on the node's backend. */
export function ints(ctx: OpContext, values: ArrayLike<number>, shape: readonly number[]): Tensor {
  return fromTypedArray(Int32Array.from(values), shape, 'int32', ctx.backend);
}

/** arange(n) as int32 shaped to lie along `axis` of a rank-`rank` tensor. */
export function idsAlong(ctx: Pick<OpContext, 'backend'>, n: number, axis: number, rank: number): Tensor {
  return arange(n, undefined, 1, { backend: ctx.backend, dtype: 'int32' }).reshape(Array.from({ length: rank }, (_, i) => (i === axis ? n : 1)));
}

/** A constant tensor of a shape. */
export function filled(ctx: OpContext, shape: readonly number[], value: number, dtype: DType): Tensor {
  return full(shape, dtype === 'bool' ? value !== 0 : value, { dtype, backend: ctx.backend });
}

/** Host int values of an optional input, or undefined when it is omitted. */
export function optInts(ctx: OpContext, i: number): number[] | undefined {
  return ctx.has(i) ? ctx.host(i).values() : undefined;
}

/** True when the input is integer-typed in kiln. */
export const isInt = (t: Tensor) => t.dtype === 'int32';

/** Casts to float32 unless already. */
export const asFloat = (t: Tensor) => (t.dtype === 'float32' ? t : t.to('float32'));

/** The int64 host vector of a shape. */
export const shapeValue = (shape: readonly number[]) => HostTensor.vector(ElemType.INT64, shape);

/** Moves `axis` last, applies f, moves it back. */
export function alongLast(x: Tensor, axis: number, f: (y: Tensor) => Tensor): Tensor {
  const last = x.ndim - 1;
  if (axis === last) return f(x);
  return f(x.movedim(axis, last)).movedim(last, axis);
}
