// Lowering: how every kind of registry op becomes kernel IR, one rule per kind in LOWER, for eager
// mode (src/dispatch.ts) and the compiler's scheduler (compiler/schedule.ts) alike. A rule sees its
// operands as expressions whose loads read buffers (eager: a bare load per tensor; the scheduler:
// whatever fused expression it holds) and says what the op is: its operand re-indexed, a pointwise
// expression, a kernel of its own, or that some operands must first be materialised. Where buffers
// go and what to materialise otherwise is the caller's business.
import type { DType } from './core/dtype.js';
import type { Expr, Kernel, View } from './core/kernel.js';
import { exprNodes, mapExpr, someExpr } from './core/kernel.js';
import { reduction } from './core/reductions.js';
import { shapesEqual } from './core/shape.js';
import { expandView, permuteView } from './core/view.js';
import type { ElementwiseDef, Meta, OpDef } from './ops/types.js';

/** What an op lowers to. */
export type Lowered =
  /** Operand 0 re-indexed, nothing computed (a movement): eager mode views a bare load without a copy. */
  | { readonly kind: 'moved'; readonly expr: Expr }
  /** A pointwise value over the output shape, to be fused into whatever reads it. */
  | { readonly kind: 'expr'; readonly expr: Expr }
  /** A kernel of its own whose output 0 is the op's value (reductions, matmul). */
  | { readonly kind: 'kernel'; readonly kernel: Kernel }
  /** These operands must be contiguous buffers first (index arithmetic cannot express the access): lower again then. */
  | { readonly kind: 'materialize'; readonly operands: readonly number[] };

type AttrsOf<D extends OpDef> = Parameters<D['infer']>[1];

/**
 * A lowering rule. `args[i]` is operand i as an expression over `ins[i].shape` whose loads name
 * kernel inputs; the result's loads keep those names. Given operands that are contiguous buffers
 * (a bare unmasked load), a rule never asks for materialisation.
 */
export type Rule<D extends OpDef> = (def: D, attrs: AttrsOf<D>, args: readonly Expr[], ins: readonly Meta[], out: Meta) => Lowered;

/** The lowering of every kind of registry op; tsc checks that each kind has its rule. */
export const LOWER: { readonly [K in OpDef['kind']]: Rule<Extract<OpDef, { kind: K }>> } = {
  elementwise: (def, attrs, args, ins, out) => {
    const moved = args.map((a, i) => (shapesEqual(ins[i].shape, out.shape) ? a : moveExpr(a, (v) => expandView(v, out.shape))));
    if (moved.includes(null)) return { kind: 'materialize', operands: indicesOf(moved, (e) => e === null) };
    return { kind: 'expr', expr: elementwiseExpr(def, attrs, moved as Expr[], ins, out) };
  },

  movement: (def, attrs, [x]) => {
    if (x.kind === 'load' && !x.gather) {
      const view = def.view(x.view, attrs);
      return view ? { kind: 'moved', expr: loadExpr(x.input, view, x.dtype) } : { kind: 'materialize', operands: [0] };
    }
    // A computed operand takes the movement into its loads (see readsOutside for why pad cannot).
    const expr = def.readsOutside ? null : moveExpr(x, (v) => def.view(v, attrs));
    return expr ? { kind: 'moved', expr } : { kind: 'materialize', operands: [0] };
  },

  reduce: (def, attrs, [x], [xm], out) => {
    const { order, outer, inner } = reduceSplit(xm.shape, attrs.dims);
    // Reduced dims last: the row of each output element is the inner dims.
    const loads = moveExpr(x, (v) => permuteView(v, order));
    if (!loads) return { kind: 'materialize', operands: [0] };
    const body = reduction(def.reduce).arg ? loads : castExpr(loads, out.dtype);
    return {
      kind: 'kernel',
      kernel: {
        kind: 'reduce', outer, inner, nInputs: inputCount(x),
        reductions: [{ op: def.reduce, body, dtype: out.dtype }],
        outputs: [{ expr: { kind: 'acc', index: 0, dtype: out.dtype }, dtype: out.dtype, scope: 'outer' }],
      },
    };
  },

  matmul: (_def, _attrs, [a, b], _ins, out) => {
    // Operands are read through plain views (float32, never masked: pad operands are materialised first).
    if (!isPlainLoad(a) || !isPlainLoad(b) || a.kind !== 'load' || b.kind !== 'load') return { kind: 'materialize', operands: indicesOf([a, b], (e) => !isPlainLoad(e)) };
    const batch = out.shape.slice(0, -2);
    const [m, n] = out.shape.slice(-2);
    const k = a.view.shape[a.view.shape.length - 1];
    return {
      kind: 'kernel',
      kernel: {
        kind: 'matmul', batch, m, n, k, nInputs: Math.max(a.input, b.input) + 1,
        a: { input: a.input, view: expandView(a.view, [...batch, m, k]) },
        b: { input: b.input, view: expandView(b.view, [...batch, k, n]) },
        outputs: [{ expr: castExpr({ kind: 'acc', index: 0, dtype: 'float32' }, out.dtype), dtype: out.dtype }],
      },
    };
  },

  gather: (def, attrs, [x, idx], ins, out) => {
    const { axis } = attrs;
    // indexSelect's 1-D index runs along `axis` of the output.
    const index = def.select ? moveExpr(idx, (v) => layAlong(v, out.shape, axis)) : isMovable(idx) ? idx : null;
    if (!isPlainLoad(x) || x.kind !== 'load' || !index) return { kind: 'materialize', operands: [...(isPlainLoad(x) ? [] : [0]), ...(index ? [] : [1])] };
    // A 0-d source has no stride along `axis`: it reads as one element (stride 0).
    const view: View = { shape: out.shape, strides: out.shape.map((_, d) => x.view.strides[d] ?? 0), offset: x.view.offset };
    return { kind: 'expr', expr: { kind: 'load', input: x.input, view, dtype: out.dtype, gather: { axis, index, size: ins[0].shape[axis] ?? 1, op: attrs.op ?? def.name } } };
  },
};

/** Lowers one op by its kind's rule. */
export function lowerOp(def: OpDef, attrs: unknown, args: readonly Expr[], ins: readonly Meta[], out: Meta): Lowered {
  return (LOWER[def.kind] as Rule<OpDef>)(def, attrs as never, args, ins, out);
}

// ---------------------------------------------------------------------------------------------

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

/**
 * An expression re-indexed by a view function applied to each of its loads, or null where it cannot
 * be: a load whose view has no such form (a reshape across strides), a gathering load (the index
 * supplies its coordinate along the axis, which index arithmetic does not follow), or a kernel's
 * running result (acc: bound to the kernel's own iteration).
 */
export function moveExpr(e: Expr, f: (v: View) => View | null): Expr | null {
  if (e.kind === 'load' && !e.gather) {
    const view = f(e.view);
    return view && loadExpr(e.input, view, e.dtype);
  }
  if (!isMovable(e)) return null;
  let ok = true;
  const out = mapExpr(e, (x) => {
    if (x.kind !== 'load') return x;
    const view = f(x.view);
    if (!view) ok = false;
    return view ? { ...x, view } : x;
  });
  return ok ? out : null;
}

/** True when no node under `e` is a gathering load or a kernel's running result (see moveExpr). */
function isMovable(e: Expr): boolean {
  if (e.kind === 'load') return !e.gather; // the common case, without a walk
  return !someExpr(e, (x) => x.kind === 'acc' || (x.kind === 'load' && x.gather !== undefined));
}

/** True for a bare load through an unmasked view: a buffer as it is. */
function isPlainLoad(e: Expr): boolean {
  return e.kind === 'load' && !e.gather && !e.view.mask;
}

/** A 1-D view laid along `axis` of `shape` (the other dims broadcast). */
function layAlong(v: View, shape: readonly number[], axis: number): View {
  const laid: View = { shape: [...shape], strides: shape.map((_, d) => (d === axis ? v.strides[0] : 0)), offset: v.offset };
  return v.mask ? { ...laid, mask: shape.map((s, d): readonly [number, number] => (d === axis ? v.mask![0] : [0, s])) } : laid;
}

/** One more than the largest input a load under `e` reads. */
function inputCount(e: Expr): number {
  if (e.kind === 'load' && !e.gather) return e.input + 1; // eager mode's operands, without a walk
  let n = 0;
  for (const x of exprNodes([e])) if (x.kind === 'load') n = Math.max(n, x.input + 1);
  return n;
}

function indicesOf<T>(xs: readonly T[], test: (x: T) => boolean): number[] {
  return xs.flatMap((x, i) => (test(x) ? [i] : []));
}
