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
  /** int32 [0, 1, ..., n-1] on the op's backend (class ids a one-hot gradient compares indices with). */
  arange(n: number): Tensor;
}

/** Gradient rule: output cotangent -> one cotangent per input (null: no gradient flows there). */
export type Vjp<A> = (g: Tensor, ctx: VjpContext<A>) => (Tensor | null)[];

/** An ONNX attribute value, tagged with its type. */
export type OnnxAttr =
  | { readonly int: number } | { readonly float: number } | { readonly string: string }
  | { readonly ints: readonly number[] } | { readonly floats: readonly number[] };

/** What an `onnx` rule writes with: nodes and constants of the exported graph, named for it. */
export interface OnnxEmitter {
  /** The opset version being written (at least 13). */
  readonly opset: number;
  /** Adds a node of the default domain; returns the names of its `outputs` (default 1) outputs. */
  node(opType: string, inputs: readonly string[], attrs?: Readonly<Record<string, OnnxAttr>>, outputs?: number): string[];
  /** An int64 constant (shapes, axes, indices), 1-D unless `shape` is given. */
  int64s(values: readonly number[], shape?: readonly number[]): string;
  /** A 0-d constant of a kiln dtype. */
  scalar(value: number, dtype: import('../core/dtype.js').DType): string;
  /** The ONNX element type code of a kiln dtype (for Cast's `to`). */
  elemType(dtype: import('../core/dtype.js').DType): number;
}

/**
 * How a primitive is written as ONNX (export): given the names of its inputs (already cast to the
 * dtypes the op computes in), emits one node or a small decomposition and returns the output's name.
 */
export type OnnxRule<A> = (e: OnnxEmitter, inputs: readonly string[], attrs: A, meta: { readonly inputs: readonly Meta[]; readonly output: Meta }) => string;

interface Common<A> {
  readonly name: string;
  /** Shape and dtype of the result; throws ShapeError/DTypeError naming the op and argument. */
  readonly infer: (inputs: readonly Meta[], attrs: A) => Meta;
  /** Absent: the op is not differentiable (comparisons, argmax, integer ops). */
  readonly vjp?: Vjp<A>;
  /** The op in ONNX, for kiln.onnx.export. */
  readonly onnx: OnnxRule<A>;
  /**
   * The attrs hold sizes of the input (a target shape, slice bounds, pads): with dynamic dims they
   * may differ between calls of one compiled graph, so the tracer tolerates them changing and a
   * dynamic graph keys its programs by them.
   */
  readonly sizeAttrs?: true;
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
  /**
   * True when the view may read outside its source (pad: those points read 0). A computed operand
   * is then materialised first: its loads would read 0 there, but the computation would give f(0).
   */
  readonly readsOutside?: boolean;
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
