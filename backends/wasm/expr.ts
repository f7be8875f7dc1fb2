// wasm backend: lowers kernel expressions (src/core/kernel.ts) to lane values, scalar or SIMD.
// One emitter per scalar primitive, in a table typed Record<ScalarOp, ...> so tsc flags a missing op.
// Semantics follow src/ops/scalar.ts (the cpu reference): int32 wraps, mod is torch.remainder,
// round is half-to-even, predicates give bool, JS truthiness for and/or/not/where (NaN is false).
import type { DType } from '../../src/core/dtype.js';
import type { Expr } from '../../src/core/kernel.js';
import { children } from '../../src/core/kernel.js';
import { assertNever } from '../../src/core/errors.js';
import type { ScalarOp } from '../../src/ops/scalar.js';
import type { Fn, Lanes, WType } from './emit.js';
import { F, I, M } from './emit.js';
import type { Helpers } from './mathlib.js';
import { erfF, expF, expOptimistic, f32ToI32, fmodF, imodI, logF, powF, sinCosF, tanhF } from './mathlib.js';

export type LoadExpr = Extract<Expr, { kind: 'load' }>;
export type OpExpr = Extract<Expr, { kind: 'op' }>;

/** A lowered value: float32 as float lanes, int32 as int lanes, bool as int 0/1 lanes or a mask. */
export type Value =
  | { readonly dt: 'float32'; readonly v: F }
  | { readonly dt: 'int32'; readonly v: I }
  | { readonly dt: 'bool'; readonly v: I | M };

/** Where loads come from: the kernel template knows the pointers and coordinates. */
export interface LoadSite {
  load(e: LoadExpr, lw: Lowerer): Value;
}

/** Module-level context the lowering needs (helper functions for pow/fmod/sin/cos). */
export interface LowerEnv {
  readonly helpers: Helpers;
  readonly makeFn: (params: WType[]) => Fn;
}

const fv = (v: F): Value => ({ dt: 'float32', v });
const mv = (v: M): Value => ({ dt: 'bool', v });
function iv(dt: DType, v: I): Value {
  return dt === 'bool' ? { dt: 'bool', v } : { dt: 'int32', v };
}

/** The value as float lanes (int and bool convert exactly). */
export function toF(c: Lanes, x: Value): F {
  if (x.dt === 'float32') return x.v;
  return toI(c, x).toFloat();
}

/** The value as int lanes (float truncates like JS `| 0`; masks become 0/1). */
export function toI(c: Lanes, x: Value): I {
  if (x.dt === 'float32') return f32ToI32(x.v);
  return x.v instanceof M ? x.v.to01() : x.v;
}

/** JS truthiness as a mask: nonzero, and NaN counts as false. */
export function truthy(c: Lanes, x: Value): M {
  if (x.dt === 'float32') return x.v.eq(x.v).and(x.v.ne(0));
  return x.v instanceof M ? x.v : x.v.nonzero();
}

/** Casts as the cpu backend does: float->int truncates (NaN->0, wrapping), ->bool is x != 0 (NaN true). */
export function castTo(c: Lanes, x: Value, to: DType): Value {
  if (x.dt === to) return x;
  switch (to) {
    case 'float32': return fv(toF(c, x));
    case 'int32': return iv('int32', toI(c, x));
    case 'bool':
      if (x.dt === 'float32') return mv(x.v.ne(0));
      return mv(x.v instanceof M ? x.v : x.v.nonzero());
  }
}

/** A constant of a dtype at this width. */
export function constValue(c: Lanes, value: number, dt: DType): Value {
  if (dt === 'float32') return fv(c.fconst(value));
  const v = dt === 'bool' ? (value !== 0 ? 1 : 0) : Number.isNaN(value) ? 0 : Math.trunc(value) | 0;
  return iv(dt, c.iconst(v));
}

/** Broadcasts a scalar value (width 1) to the lanes of `c` (width 4). */
export function splatValue(c: Lanes, x: Value): Value {
  if (c.w === 1) return x;
  if (x.dt === 'float32') return fv(c.splatF(x.v.r));
  if (x.v instanceof M) return mv(c.mask(c.m.i32x4.splat(c.m.i32.sub(c.m.i32.const(0), x.v.r))));
  return iv(x.dt, c.splatI(x.v.r));
}

/** Lowers expressions at one width, computing each DAG node once (memo by identity). */
export class Lowerer {
  readonly memo = new Map<Expr, Value>();

  constructor(
    readonly c: Lanes,
    readonly env: LowerEnv,
    readonly site: LoadSite,
    /** Reduction results (`acc i`) at this width. */
    readonly acc: (index: number) => Value,
    /** Values computed outside the loop (hoisted loop invariants), at this width. */
    readonly pre?: ReadonlyMap<Expr, Value>,
    /** When set, exp takes the normal-range form and reports its exponent's bits here (see expOptimistic). */
    readonly guard?: (n: I) => void,
  ) {}

  lower(e: Expr): Value {
    const hit = this.memo.get(e) ?? this.pre?.get(e);
    if (hit) return hit;
    let v: Value;
    switch (e.kind) {
      case 'load': v = this.site.load(e, this); break;
      case 'const': v = constValue(this.c, e.value, e.dtype); break;
      case 'cast': v = castTo(this.c, this.lower(e.x), e.dtype); break;
      case 'acc': v = this.acc(e.index); break;
      case 'op': v = OP_EMITTERS[e.op](this, e.args.map((a) => this.lower(a)), e); break;
      default: return assertNever(e, 'expr');
    }
    this.memo.set(e, v);
    return v;
  }

  f(x: Value): F { return toF(this.c, x); }
  i(x: Value): I { return toI(this.c, x); }
  t(x: Value): M { return truthy(this.c, x); }
}

type OpEmitter = (L: Lowerer, args: Value[], e: OpExpr) => Value;

const isF = (e: OpExpr) => e.dtype === 'float32';

/** Unary op with a float form and an int form. */
const un = (f: (x: F) => F, i: (x: I) => I): OpEmitter => (L, [a], e) => (isF(e) ? fv(f(L.f(a))) : iv(e.dtype, i(L.i(a))));
/** Float-only unary op (the registry gives it no integer form). */
const unF = (f: (x: F, L: Lowerer) => F): OpEmitter => (L, [a]) => fv(f(L.f(a), L));
const bin = (f: (x: F, y: F) => F, i: (x: I, y: I) => I): OpEmitter => (L, [a, b], e) =>
  (isF(e) ? fv(f(L.f(a), L.f(b))) : iv(e.dtype, i(L.i(a), L.i(b))));
/** Comparison in the operands' common type (float if either is float). */
const cmp = (op: 'lt' | 'le' | 'eq' | 'ne'): OpEmitter => (L, [a, b]) =>
  (a.dt === 'float32' || b.dt === 'float32' ? mv(L.f(a)[op](L.f(b))) : mv(L.i(a)[op](L.i(b))));

/**
 * max/min. Against a non-NaN constant, pmax(x, c) = (x < c ? c : x) is one x86 instruction where the
 * NaN-propagating f32x4.max takes several, and it still propagates a NaN x.
 * NOTE: the sign of a zero result may differ (max(-0, 0) can give -0), as with SIMD reductions.
 */
function minMax(op: 'max' | 'min'): OpEmitter {
  const general = bin((x, y) => x[op](y), (x, y) => x[op](y));
  return (L, args, e) => {
    if (!isF(e)) return general(L, args, e);
    const k = e.args.findIndex((x) => x.kind === 'const' && !Number.isNaN(x.value));
    if (k < 0) return general(L, args, e);
    const [x, c] = [L.f(args[1 - k]), L.f(args[k])];
    return fv(op === 'max' ? x.pmax(c) : x.pmin(c));
  };
}

/** sign with NaN -> NaN and ±0 -> +0 (as SCALAR_HELPERS.sign). */
function signF(x: F): F {
  const c = x.c;
  return c.sel(x.gt(0), 1, c.sel(x.lt(0), -1, c.sel(x.eq(x), 0, x)));
}

/** pow with a small constant exponent becomes multiplies (x**2 = x*x is what the cpu rounds to as well). */
function powEmit(L: Lowerer, a: F, b: F, e: OpExpr): F {
  const ex = e.args[1];
  const k = ex.kind === 'const' ? ex.value : ex.kind === 'cast' && ex.x.kind === 'const' ? ex.x.value : undefined;
  const c = L.c;
  switch (k) {
    case 0: return c.fconst(1);
    case 1: return a;
    case 2: return a.mul(a);
    case 3: return a.mul(a).mul(a);
    case 4: { const s = a.mul(a); return s.mul(s); }
    case -1: return c.fconst(1).div(a);
    // sqrt(-0) = -0 and sqrt(-Inf) = NaN, but (-0)**0.5 = +0 and (-Inf)**0.5 = Inf.
    case 0.5: return c.sel(a.eq(-Infinity), Infinity, a.sqrt().add(0));
    default: return powF(a, b, L.env.helpers, L.env.makeFn);
  }
}

/** One emitter per elementwise primitive. */
export const OP_EMITTERS: Record<ScalarOp, OpEmitter> = {
  neg: un((x) => x.neg(), (x) => x.neg()),
  recip: unF((x) => x.c.fconst(1).div(x)),
  sqrt: unF((x) => x.sqrt()),
  exp: unF((x, L) => {
    if (!L.guard) return expF(x);
    const { value, nBits } = expOptimistic(x);
    L.guard(nBits);
    return value;
  }),
  log: unF((x) => logF(x)),
  sin: unF((x, L) => sinCosF(x, false, L.env.helpers, L.env.makeFn)),
  cos: unF((x, L) => sinCosF(x, true, L.env.helpers, L.env.makeFn)),
  tanh: unF((x) => tanhF(x)),
  erf: unF((x) => erfF(x)),
  floor: un((x) => x.floor(), (x) => x),
  ceil: un((x) => x.ceil(), (x) => x),
  round: un((x) => x.nearest(), (x) => x),
  abs: un((x) => x.abs(), (x) => x.abs()),
  sign: un(signF, (x) => x.c.sel(x.gt(0), 1, x.c.sel<I>(x.lt(0), -1, 0))),
  // NaN <= 0 is false, so NaN passes through; -0 <= 0 gives +0.
  relu: un((x) => x.c.sel(x.le(0), 0, x), (x) => x.c.sel<I>(x.le(0), 0, x)),
  not: (L, [a]) => mv(L.t(a).not()),
  add: bin((x, y) => x.add(y), (x, y) => x.add(y)),
  sub: bin((x, y) => x.sub(y), (x, y) => x.sub(y)),
  mul: bin((x, y) => x.mul(y), (x, y) => x.mul(y)),
  // Always a division: x * (1/d) is off by an ulp (21/7 != 3) and 1/d overflows for tiny d.
  div: (L, [a, b]) => fv(L.f(a).div(L.f(b))),
  pow: (L, [a, b], e) => fv(powEmit(L, L.f(a), L.f(b), e)),
  max: minMax('max'),
  min: minMax('min'),
  mod: (L, [a, b], e) => (isF(e)
    ? fv(fmodF(L.f(a), L.f(b), L.env.helpers, L.env.makeFn))
    : iv(e.dtype, imodI(L.i(a), L.i(b)))),
  lt: cmp('lt'),
  le: cmp('le'),
  eq: cmp('eq'),
  ne: cmp('ne'),
  and: (L, [a, b]) => mv(L.t(a).and(L.t(b))),
  or: (L, [a, b]) => mv(L.t(a).or(L.t(b))),
  where: (L, [cond, a, b], e) => {
    const m = L.t(cond);
    if (isF(e)) return fv(L.c.sel(m, L.f(a), L.f(b)));
    if (e.dtype === 'bool' && a.v instanceof M && b.v instanceof M) return mv(m.and(a.v).or(b.v.andNot(m)));
    return iv(e.dtype, L.c.sel(m, L.i(a), L.i(b)));
  },
};

// ---- loop invariants ----------------------------------------------------------------------------

/** Which nodes vary inside the vectorised loop, given whether each load does (gather indices count). */
export function variantNodes(roots: readonly Expr[], loadVaries: (e: LoadExpr) => boolean): Map<Expr, boolean> {
  const out = new Map<Expr, boolean>();
  const visit = (e: Expr): boolean => {
    const hit = out.get(e);
    if (hit !== undefined) return hit;
    // Every child is visited (no short cut): the map answers for every node.
    const kids = children(e).map(visit);
    const v = (e.kind === 'load' && loadVaries(e)) || kids.some((x) => x);
    out.set(e, v);
    return v;
  };
  roots.forEach(visit);
  return out;
}

/**
 * The maximal loop-invariant subexpressions under `roots`: computed once before the loop (constants
 * excepted, they are free). A variant gather load keeps its invariant index hoisted too.
 */
export function invariantFrontier(roots: readonly Expr[], variant: ReadonlyMap<Expr, boolean>): Expr[] {
  const out: Expr[] = [];
  const seen = new Set<Expr>();
  const visit = (e: Expr): void => {
    if (seen.has(e)) return;
    seen.add(e);
    if (variant.get(e) === false) {
      if (e.kind !== 'const') out.push(e);
      return;
    }
    children(e).forEach(visit);
  };
  roots.forEach(visit);
  return out;
}

/** Loop invariants lowered before the loop, at width 1 and broadcast to width 4. */
export interface Hoisted {
  readonly scalar: Map<Expr, Value>;
  readonly vector: Map<Expr, Value>;
}

/**
 * Lowers the invariant frontier of `roots` with the scalar lowerer `outer` (emitted where the caller
 * is, i.e. before the loop) and returns the values at width 1 and broadcast to width 4.
 */
export function hoist(roots: readonly Expr[], variant: ReadonlyMap<Expr, boolean>, outer: Lowerer, simd: Lanes | null): Hoisted {
  const out: Hoisted = { scalar: new Map(), vector: new Map() };
  for (const e of invariantFrontier(roots, variant)) {
    const v = outer.lower(e);
    out.scalar.set(e, v);
    if (simd) out.vector.set(e, splatValue(simd, v));
  }
  return out;
}
