// The shape of a registry entry. A primitive is a name with rules keyed by it: shape/dtype inference,
// a gradient written with tensor ops, and how it lowers (scalar expression, view arithmetic, template).
import type { DType } from '../core/dtype.js';
import type { ReduceOp, View } from '../core/kernel.js';
import type { ScalarOp } from './scalar.js';
import type { Tensor } from '../tensor.js';

/** What rules see of an operand: shape and dtype only. */
export interface Meta {
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** Saved state a gradient rule reads. Accessing an input or the output checks it was not changed in place. */
export interface VjpContext<A> {
  readonly attrs: A;
  input(i: number): Tensor;
  output(): Tensor;
  readonly inputMeta: readonly Meta[];
  /** Whether input i needs a gradient (skip computing, and touching saved tensors for, the others). */
  needs(i: number): boolean;
}

/** Gradient rule: output cotangent -> one cotangent per input (null: no gradient flows there). */
export type Vjp<A> = (g: Tensor, ctx: VjpContext<A>) => (Tensor | null)[];

interface Common<A> {
  readonly name: string;
  /** Shape and dtype of the result; throws ShapeError/DTypeError naming the op and argument. */
  readonly infer: (inputs: readonly Meta[], attrs: A) => Meta;
  /** Absent: the op is not differentiable (comparisons, argmax, integer ops). */
  readonly vjp?: Vjp<A>;
}

/** Pointwise op over broadcast inputs, lowered to a scalar expression. */
export interface ElementwiseDef<A = unknown> extends Common<A> {
  readonly kind: 'elementwise';
  /** The scalar primitive it computes, or 'cast'/'copy'. */
  readonly scalar: ScalarOp | 'cast' | 'copy';
  /** The primitive used when the operands are bool (add is logical or, mul logical and, as in torch). */
  readonly scalarBool?: ScalarOp;
  /** dtype each operand is cast to before the scalar op (one per input). */
  readonly operandDTypes: (inputs: readonly Meta[], attrs: A) => DType[];
}

/** Reduction over dims. */
export interface ReduceDef extends Common<ReduceAttrs> {
  readonly kind: 'reduce';
  readonly reduce: ReduceOp;
}
export interface ReduceAttrs {
  readonly dims: readonly number[];
  readonly keepdim: boolean;
}

/** View op: index arithmetic on the input's view; null means the layout needs a copy first. */
export interface MovementDef<A = unknown> extends Common<A> {
  readonly kind: 'movement';
  readonly view: (v: View, attrs: A) => View | null;
}

/** Batched matrix product (both operands at least 2-D, batch dims broadcast). */
export interface MatmulDef extends Common<Record<string, never>> {
  readonly kind: 'matmul';
}

/** Attributes of a gather: the axis, and the op an out-of-range index error names (default the primitive). */
export interface GatherAttrs {
  readonly axis: number;
  readonly op?: string;
}

/** Gather along an axis: `index` (int32) picks the coordinate. `select`: index is 1-D (indexSelect). */
export interface GatherDef extends Common<GatherAttrs> {
  readonly kind: 'gather';
  readonly select: boolean;
}

export type OpDef = ElementwiseDef<any> | ReduceDef | MovementDef<any> | MatmulDef | GatherDef;
