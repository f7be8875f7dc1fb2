// Lowering rules shared by eager mode and the compiler's fusion: how one registry op becomes an
// expression (elementwise), a reduce kernel, a matmul kernel or a gathering load.
import type { DType } from './core/dtype.js';
import type { Expr, Kernel, View } from './core/kernel.js';
import { reduction } from './core/reductions.js';
import { expandView, permuteView } from './core/view.js';
import type { ElementwiseDef, GatherAttrs, GatherDef, Meta, ReduceAttrs, ReduceDef } from './ops/types.js';

/** Casts an expression to `dtype` (no-op when it already is). */
export function castExpr(e: Expr, dtype: DType): Expr {
  if (e.dtype === dtype) return e;
  if (e.kind === 'const') return { kind: 'const', value: castConst(e.value, dtype), dtype };
  return { kind: 'cast', x: e, dtype };
}

function castConst(v: number, dtype: DType): number {
  if (dtype === 'bool') return v !== 0 ? 1 : 0;
  if (dtype === 'int32') return Number.isNaN(v) ? 0 : Math.trunc(v) | 0;
  return Math.fround(v);
}

/** The scalar expression of an elementwise op applied to operand expressions. */
export function elementwiseExpr(def: ElementwiseDef, attrs: unknown, args: readonly Expr[], ins: readonly Meta[], out: Meta): Expr {
  const types = def.operandDTypes(ins, attrs);
  const cargs = args.map((a, i) => castExpr(a, types[i]));
  if (def.scalar === 'copy') return cargs[0];
  if (def.scalar === 'cast') return castExpr(cargs[0], out.dtype);
  const op = types[0] === 'bool' && def.scalarBool ? def.scalarBool : def.scalar;
  return { kind: 'op', op, args: cargs, dtype: out.dtype };
}

/** A plain load of input `input` through `view`. */
export function loadExpr(input: number, view: View, dtype: DType): Expr {
  return { kind: 'load', input, view, dtype };
}

/** Input view permuted so the reduced dims come last: the [outer, inner] split of a reduce kernel. */
export function reduceSplit(shape: readonly number[], dims: readonly number[]): { order: number[]; outer: number[]; inner: number[] } {
  const kept = shape.map((_, i) => i).filter((i) => !dims.includes(i));
  return { order: [...kept, ...dims], outer: kept.map((i) => shape[i]), inner: dims.map((i) => shape[i]) };
}

/** One reduce kernel for a registry reduction of input 0 seen through `view`. */
export function reduceKernel(def: ReduceDef, attrs: ReduceAttrs, view: View, x: Meta, out: Meta): Kernel {
  const { order, outer, inner } = reduceSplit(x.shape, attrs.dims);
  const load = loadExpr(0, permuteView(view, order), x.dtype);
  const body = reduction(def.reduce).arg ? load : castExpr(load, out.dtype);
  return {
    kind: 'reduce', outer, inner, nInputs: 1,
    reductions: [{ op: def.reduce, body, dtype: out.dtype }],
    outputs: [{ expr: { kind: 'acc', index: 0, dtype: out.dtype }, dtype: out.dtype, scope: 'outer' }],
  };
}

/**
 * A matmul kernel for operand views a [...ba, m, k] and b [...bb, k, n] with batch broadcast. Eager
 * mode passes the operands as inputs 0 and 1 and stores the dot product; the planner passes its own
 * input numbering and a fused epilogue (an expression over acc0).
 */
export function matmulKernel(
  va: View, vb: View, out: Meta,
  inputs: { a: number; b: number; count: number } = { a: 0, b: 1, count: 2 },
  epilogue: Expr = { kind: 'acc', index: 0, dtype: 'float32' },
): Kernel {
  const batch = out.shape.slice(0, -2);
  const [m, n] = out.shape.slice(-2);
  const k = va.shape[va.shape.length - 1];
  return {
    kind: 'matmul', batch, m, n, k, nInputs: inputs.count,
    a: { input: inputs.a, view: expandView(va, [...batch, m, k]) },
    b: { input: inputs.b, view: expandView(vb, [...batch, k, n]) },
    outputs: [{ expr: epilogue, dtype: out.dtype }],
  };
}

/**
 * The gathering load of a gather/indexSelect over output `out`, reading x (input xi) and index (input
 * ii). Indices are checked against x's extent along `axis`; errors name `attrs.op` or the primitive.
 */
export function gatherExpr(def: GatherDef, attrs: GatherAttrs, xView: View, idxView: View, xi: number, ii: number, x: Meta, out: Meta): Expr {
  const { axis } = attrs;
  const idxIter: View = def.select
    ? { shape: out.shape, strides: out.shape.map((_, d) => (d === axis ? idxView.strides[0] : 0)), offset: idxView.offset }
    : idxView;
  const index = loadExpr(ii, idxIter, 'int32');
  // A 0-d source has no stride along `axis`: it reads as one element (stride 0).
  const view: View = { shape: out.shape, strides: out.shape.map((_, d) => xView.strides[d] ?? 0), offset: xView.offset };
  return { kind: 'load', input: xi, view, dtype: x.dtype, gather: { axis, index, size: x.shape[axis] ?? 1, op: attrs.op ?? def.name } };
}
