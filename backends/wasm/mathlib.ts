// wasm backend: WASM has no exp/log/tanh/sin/cos/erf/pow/fmod, so these are polynomial builtins
// written once over the lane DSL (emit.ts) and emitted inline as f32 or f32x4 code. The JS tier
// (jsmath.ts) computes the same functions step for step: a change here is a change there.
// exp: Cody-Waite reduction and a degree-4 minimax polynomial (fitted here), log: Cephes (~1 ulp
// each); tanh and erf are built on exp; sin/cos reduce in float64 (Payne-Hanek with a 2/pi bit table past |x| >= 120) and
// are exact to ~0.5 ulp; pow and fmod evaluate in float64 in small helper functions.
import type { Fn, Module, Ref, WType, Binaryen, F, I, M } from './emit.js';
import { invPio2Table } from '../../src/core/trig.js';
export { invPio2Table };
import { horner } from './emit.js';

/** Address in linear memory of the 2/pi bit table used by the large-argument sin/cos reduction. */
export const INV_PIO2_TABLE_ADDR = 64;

/** Module-level helper functions, added on first use. */
export class Helpers {
  private readonly made = new Set<string>();
  constructor(readonly b: Binaryen, readonly m: Module) {}

  /** Name of helper `name`, building it with `build` the first time. */
  use(name: string, build: () => void): string {
    if (!this.made.has(name)) {
      this.made.add(name);
      build();
    }
    return name;
  }
}

// ---- exp / log / tanh / erf (f32 lanes) -------------------------------------------------------

export const LOG2E = 1.44269504088896341;
// Cody-Waite split of ln 2: C1 has few bits, so n*C1 is exact for |n| <= 2^15.
export const LN2_C1 = 0.693359375;
export const LN2_C2 = -2.12194440e-4;
/**
 * e^r = 1 + r + r^2 P(r) on |r| <= ln2/2: P of degree 4, fitted minimax in relative error
 * (Lawson iteration, float64; max error 3.8e-9 with these float32 coefficients, so rounding dominates).
 */
export const EXP_P = [0.4999999404, 0.16666521132, 0.041668388993, 0.0083687240258, 0.0013814583654];
/** 1.5 * 2^23: adding it rounds a float to an integer kept in the low mantissa bits. */
export const ROUND_MAGIC = 12582912;

/** n = round(x log2 e) by the magic-number add (t's bits hold n), r = x - n ln2, e^r. */
function expCore(x: F): { t: F; y: F } {
  // Each multiply-add is correct fused or not (F.madd): n*C1 is exact, and the rest only gains.
  const t = x.madd(LOG2E, ROUND_MAGIC);
  const n = t.sub(ROUND_MAGIC);
  const r = n.nmadd(LN2_C2, n.nmadd(LN2_C1, x));
  return { t, y: horner(r, EXP_P).madd(r.mul(r), r).add(1) };
}

/**
 * Below this e^x rounds to +0 in float32 (e^x < 2^-150). Masked scores (-Inf, -1e9 after a max
 * shift) land here: both exp forms return 0 for them directly, never computing the subnormal
 * product, which x86 finishes in a microcode assist (~100x slower; wasm has no flush-to-zero).
 */
const EXP_ZERO_BELOW = -103.97208;

/** x with the lanes of `mask` set to +0: one v128.andnot on vectors. */
function zeroWhere(mask: M, x: F): F {
  const c = x.c;
  return c.w === 1 ? c.sel(mask, 0, x) : c.f(c.m.v128.andnot(x.r, mask.r));
}

/**
 * e^x computed for the normal range only (one-step 2^n), with the bits of the rounding sum t,
 * which are 0x4b400000 + n: the result is exact when -125 <= n <= 127 for every lane (NaN and +Inf
 * arguments give bits far outside, either sign). Callers that can redo their work track min/max of
 * these bits and check afterwards (reduce.ts re-runs a row pass with the full-range form when some
 * lane was outside); tracking the bits rather than n saves an instruction per vector. Lanes whose
 * result rounds to 0 (x < EXP_ZERO_BELOW, -Inf included) count as in range: they give 0 from x = 0's
 * in-range bits, so masked rows stay on this path.
 */
export function expOptimistic(x: F): { value: F; nBits: I } {
  const zero = x.lt(EXP_ZERO_BELOW);
  const { t, y } = expCore(zeroWhere(zero, x));
  const tb = t.bits();
  return { value: zeroWhere(zero, y.bits().add(tb.shl(23)).asFloat()), nBits: tb };
}

/** The range of expOptimistic's nBits (as signed int32) in which it is exact: n in [-125, 127]. */
export const EXP_OPTIMISTIC_BITS = [0x4b400000 - 125, 0x4b400000 + 127] as const;

/**
 * e^x, ~1 ulp, over the whole range and without a branch: clamp with pmax/pmin (NaN passes through
 * as the first operand), then 2^n in two steps: 2^(n/2) added into the exponent bits (always a
 * normal float) and a multiply by 2^(n - n/2), which rounds subnormal results once and overflows
 * to Inf. `bounded` promises -86 <= x <= 88 (callers that clamp, e.g. tanh): 2^n then goes into
 * the exponent bits in one step.
 */
export function expF(x: F, bounded = false): F {
  if (bounded) {
    const { t, y } = expCore(x);
    return y.bits().add(t.bits().shl(23)).asFloat();
  }
  // Lanes that round to 0 compute e^0 and are zeroed (NaN compares false and passes through).
  const zero = x.lt(EXP_ZERO_BELOW);
  const { t, y } = expCore(zeroWhere(zero, x).pmin(89));
  const ni = t.bits().sub(0x4b400000);
  const n1 = ni.shrS(1);
  const n2 = ni.sub(n1);
  return zeroWhere(zero, y.bits().add(n1.shl(23)).asFloat().mul(n2.add(127).shl(23).asFloat()));
}

export const LOG_P = [3.3333331174e-1, -2.4999993993e-1, 2.0000714765e-1, -1.6668057665e-1, 1.4249322787e-1,
  -1.2420140846e-1, 1.1676998740e-1, -1.1514610310e-1, 7.0376836292e-2];

/** Natural log: frexp split, Cephes polynomial on [sqrt(1/2)-1, sqrt(2)-1]; -Inf at 0, NaN below. */
export function logF(x: F): F {
  const c = x.c;
  const sub = x.lt(1.17549435e-38); // subnormal (or <= 0): scale by 2^23 first
  const xs = c.sel(sub, x.mul(8388608), x);
  const bits = xs.bits();
  const e0 = bits.shrS(23).sub(126);
  const e1 = c.sel(sub, e0.sub(23), e0);
  const mant = bits.and(0x007fffff).or(0x3f000000).asFloat(); // [0.5, 1)
  const low = mant.lt(0.707106781186547524);
  const fe = c.sel(low, e1.sub(1), e1).toFloat();
  const xm = c.sel(low, mant.add(mant).sub(1), mant.sub(1));
  const z = xm.mul(xm);
  const y = horner(xm, LOG_P).mul(xm).mul(z).add(fe.mul(LN2_C2)).sub(z.mul(0.5));
  let r = xm.add(y).add(fe.mul(LN2_C1));
  r = c.sel(x.eq(0), -Infinity, r);
  r = c.sel(x.lt(0), NaN, r);
  return c.sel(x.lt(Infinity), r, x); // +Inf -> Inf, NaN -> NaN
}

export const TANH_P = [-3.33332819422e-1, 1.33314422036e-1, -5.37397155531e-2, 2.06390887954e-2, -5.70498872745e-3];

/** tanh: odd polynomial below 0.625, 1 - 2/(e^2|x| + 1) above (saturating past 9.5), sign restored. */
export function tanhF(x: F): F {
  const c = x.c;
  const ax = x.abs();
  const e = expF(ax.pmin(9.5).mul(2), true);
  const big = c.fconst(2).div(e.add(1)).neg().add(1);
  const z = ax.mul(ax);
  const small = horner(z, TANH_P).mul(z).mul(ax).add(ax);
  return c.sel(ax.lt(0.625), small, big).copysign(x);
}

// erf: Taylor series below 0.75 (2/sqrt(pi) * sum (-1)^k z^(2k+1) / (k! (2k+1))), Numerical Recipes'
// erfc Chebyshev fit (fractional error < 1.2e-7) above, where 1 - erfc loses nothing.
export const ERF_TAYLOR = (() => {
  const out: number[] = [];
  let fact = 1;
  for (let k = 0; k < 10; k++) {
    if (k > 0) fact *= k;
    out.push(((k % 2 ? -1 : 1) * 2) / Math.sqrt(Math.PI) / (fact * (2 * k + 1)));
  }
  return out;
})();
export const ERFC_NR = [-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398,
  1.48851587, -0.82215223, 0.17087277];

/** erf, accurate to a few ulp over the whole range. */
export function erfF(x: F): F {
  const c = x.c;
  const ax = x.abs();
  const small = horner(ax.mul(ax), ERF_TAYLOR).mul(ax);
  const t = c.fconst(1).div(ax.mul(0.5).add(1));
  const r = t.mul(expF(horner(t, ERFC_NR).sub(ax.mul(ax))));
  const big = r.neg().add(1);
  return c.sel(ax.lt(0.75), small, big).copysign(x);
}

// ---- float64 lanes for sin/cos and the f64 helpers ---------------------------------------------

/** f64 (w=1) or f64x2 (w=2) arithmetic over locals, the double-precision twin of `Lanes`. */
class D {
  constructor(readonly fn: Fn, readonly w: 1 | 2) {}
  private get m(): Module { return this.fn.m; }
  private get t(): WType { return this.w === 1 ? this.fn.b.f64 : this.fn.b.v128; }
  private ns() { return this.w === 1 ? this.m.f64 : this.m.f64x2; }
  let(r: Ref): number { return this.fn.let(this.t, r); }
  g(i: number): Ref { return this.fn.get(i); }
  k(x: number): Ref {
    if (this.w === 1) return this.m.f64.const(x);
    return this.m.v128.const(Array.from(new Uint8Array(new Float64Array([x, x]).buffer)));
  }
  private a(x: number | { v: number }): Ref { return typeof x === 'number' ? this.k(x) : this.g(x.v); }
  bin(op: 'add' | 'sub' | 'mul' | 'div' | 'min' | 'max', x: { v: number }, y: number | { v: number }): { v: number } {
    return { v: this.let(this.ns()[op](this.g(x.v), this.a(y))) };
  }
  un(op: 'abs' | 'neg' | 'nearest' | 'floor' | 'trunc', x: { v: number }): { v: number } {
    return { v: this.let(this.ns()[op](this.g(x.v))) };
  }
  /** Horner in ascending coefficient order. */
  horner(x: { v: number }, c: readonly number[]): { v: number } {
    let acc: { v: number } = { v: this.let(this.k(c[c.length - 1])) };
    for (let i = c.length - 2; i >= 0; i--) acc = this.bin('add', this.bin('mul', acc, x), c[i]);
    return acc;
  }
}

type DV = { v: number };

export const TWO_OVER_PI = 0.63661977236758134308;
// pi/2 = PIO2_1 + PIO2_1T: PIO2_1 has 33 bits, so n * PIO2_1 is exact for the |n| < 2^20 used here.
export const PIO2_1 = 1.57079632673412561417e+00;
export const PIO2_1T = 6.07710050650619224932e-11;
export const SIN_C = [-1 / 6, 1 / 120, -1 / 5040, 1 / 362880, -1 / 39916800];
export const COS_C = [-1 / 2, 1 / 24, -1 / 720, 1 / 40320, -1 / 3628800, 1 / 479001600];

/** sin(r) and cos(r) for |r| <= pi/4 + eps, Taylor in float64 (error < 1e-11 relative). */
function sinCosPoly(d: D, r: DV): { s: DV; c: DV } {
  const r2 = d.bin('mul', r, r);
  const s = d.bin('add', r, d.bin('mul', d.bin('mul', r, r2), d.horner(r2, SIN_C)));
  const c = d.bin('add', d.bin('mul', r2, d.horner(r2, COS_C)), 1);
  return { s, c };
}

/** Picks +-sin/+-cos of the reduced argument by quadrant q (int lanes: i32 scalar, or i32x4 lanes 0..1). */
function byQuadrant(d: D, s: DV, c: DV, q: Ref): DV {
  const fn = d.fn;
  const m = fn.m;
  if (d.w === 1) {
    const qi = fn.let(fn.b.i32, q);
    const v = d.let(m.select(m.i32.and(fn.get(qi), m.i32.const(1)), d.g(c.v), d.g(s.v)));
    return { v: d.let(m.select(m.i32.and(fn.get(qi), m.i32.const(2)), m.f64.neg(d.g(v)), d.g(v))) };
  }
  const q64 = fn.let(fn.b.v128, m.i64x2.extend_low_i32x4_s(q));
  const k64 = (x: number) => m.v128.const(Array.from(new Uint8Array(new BigInt64Array([BigInt(x), BigInt(x)]).buffer)));
  const odd = m.i64x2.ne(m.v128.and(fn.get(q64), k64(1)), k64(0));
  const neg = m.i64x2.ne(m.v128.and(fn.get(q64), k64(2)), k64(0));
  const v = d.let(m.v128.bitselect(d.g(c.v), d.g(s.v), odd));
  const signBit = m.v128.const(Array.from(new Uint8Array(new Float64Array([-0, -0]).buffer)));
  return { v: d.let(m.v128.xor(d.g(v), m.v128.and(neg, signBit))) };
}

/** sin or cos of float64 lanes with |x| < 120 (Cody-Waite reduction in double is exact enough there). */
function sinCosFast(d: D, x: DV, cos: boolean): DV {
  const m = d.fn.m;
  const n = d.un('nearest', d.bin('mul', x, TWO_OVER_PI));
  const r = d.bin('sub', d.bin('sub', x, d.bin('mul', n, PIO2_1)), d.bin('mul', n, PIO2_1T));
  const { s, c } = sinCosPoly(d, r);
  let q: Ref = d.w === 1 ? m.i32.trunc_s_sat.f64(d.g(n.v)) : m.i32x4.trunc_sat_f64x2_s_zero(d.g(n.v));
  if (cos) q = d.w === 1 ? m.i32.add(q, m.i32.const(1)) : m.i32x4.add(q, m.v128.const([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]));
  return byQuadrant(d, s, c, q);
}

/** Emits sin or cos of f32 lanes. */
export function sinCosF(x: F, cos: boolean, h: Helpers, makeFn: (params: WType[]) => Fn): F {
  const c = x.c;
  const name = h.use(cos ? 'kiln_cos' : 'kiln_sin', () => buildSinCos(h, makeFn, cos));
  const m = c.m;
  if (c.w === 1) return c.f(m.call(name, [x.r], c.b.f32));
  // Fast path: both halves in f64x2; lanes with |x| >= 120, Inf or NaN are redone by the helper.
  const d = new D(c.fn, 2);
  const lo = { v: d.let(m.f64x2.promote_low_f32x4(x.r)) };
  const hi = { v: d.let(m.f64x2.promote_low_f32x4(m.i8x16.shuffle(x.r, x.r, [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]))) };
  const rl = sinCosFast(d, lo, cos);
  const rh = sinCosFast(d, hi, cos);
  const res = c.f(m.i8x16.shuffle(m.f32x4.demote_f64x2_zero(d.g(rl.v)), m.f32x4.demote_f64x2_zero(d.g(rh.v)),
    [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]));
  const slow = x.abs().ge(120).or(x.ne(x));
  c.fn.if(c.anyTrue(slow), () => {
    const lanes = [0, 1, 2, 3].map((l) => m.call(name, [c.laneF(x, l)], c.b.f32));
    c.fn.set(res.idx, c.fromLanesF(lanes).r);
  });
  return res;
}

function buildSinCos(h: Helpers, makeFn: (params: WType[]) => Fn, cos: boolean): void {
  const { b, m } = h;
  const fn = makeFn([b.f32]);
  const d = new D(fn, 1);
  const x = 0;
  const ax = fn.let(b.f32, m.f32.abs(fn.get(x)));
  // |x| < 120: fast reduction.
  fn.if(m.f32.lt(fn.get(ax), m.f32.const(120)), () => {
    const xd = { v: d.let(m.f64.promote(fn.get(x))) };
    fn.emit(m.return(m.f32.demote(d.g(sinCosFast(d, xd, cos).v))));
  });
  // Inf / NaN.
  fn.if(m.i32.eqz(m.f32.lt(fn.get(ax), m.f32.const(Infinity))), () => {
    fn.emit(m.return(m.f32.sub(fn.get(x), fn.get(x))));
  });
  // Payne-Hanek: |x| = n*pi/2 + r with 2/pi from the table (ARM optimized-routines' reduce_large).
  const i64 = b.i64;
  const xi = fn.let(b.i32, m.i32.reinterpret(fn.get(ax)));
  const idx = fn.let(b.i32, m.i32.and(m.i32.shr_u(fn.get(xi), m.i32.const(26)), m.i32.const(15)));
  const shift = m.i32.and(m.i32.shr_u(fn.get(xi), m.i32.const(23)), m.i32.const(7));
  const mant = fn.let(b.i32, m.i32.shl(m.i32.or(m.i32.and(fn.get(xi), m.i32.const(0xffffff)), m.i32.const(0x800000)), shift));
  const at = () => m.i32.shl(fn.get(idx), m.i32.const(2));
  // NOTE: binaryen 132 folds i64.extend_i32_u(i32.load) into i64.load32_s (sign-extending!) inside
  // this multiply, so the 64-bit table reads use i64.load32_u directly.
  const tab64 = (k: number) => m.i64.load32_u(INV_PIO2_TABLE_ADDR + 4 * k, 4, at());
  const mant64 = () => m.i64.extend_u(fn.get(mant));
  const res0a = m.i64.extend_u(m.i32.mul(fn.get(mant), m.i32.load(INV_PIO2_TABLE_ADDR, 4, at())));
  const res1 = m.i64.mul(mant64(), tab64(4));
  const res2 = m.i64.mul(mant64(), tab64(8));
  const r0 = fn.let(i64, m.i64.add(m.i64.or(m.i64.shr_u(res2, m.i64.const(32n)), m.i64.shl(res0a, m.i64.const(32n))), res1));
  const n = fn.let(i64, m.i64.shr_u(m.i64.add(fn.get(r0), m.i64.const(1n << 61n)), m.i64.const(62n)));
  const rr = m.i64.sub(fn.get(r0), m.i64.shl(fn.get(n), m.i64.const(62n)));
  const PI63 = (Math.PI / 2) * 2 ** -62; // pi/2 per 2^62 units of the fixed-point quotient
  const r = { v: d.let(m.f64.mul(m.f64.convert_s.i64(rr), m.f64.const(PI63))) };
  const { s, c } = sinCosPoly(d, r);
  let q = m.i32.wrap(fn.get(n));
  if (cos) q = m.i32.add(q, m.i32.const(1));
  let res = byQuadrant(d, s, c, q);
  if (!cos) res = { v: d.let(m.select(m.f32.lt(fn.get(x), m.f32.const(0)), m.f64.neg(d.g(res.v)), d.g(res.v))) }; // sin is odd
  fn.emit(m.return(m.f32.demote(d.g(res.v))));
  fn.emit(m.unreachable());
  fn.finish(cos ? 'kiln_cos' : 'kiln_sin', b.f32, false);
}

// ---- pow / fmod (float64 helpers, called per lane) --------------------------------------------

export const LN2 = 0.693147180559945309417;
export const LOG_SERIES = [1, 1 / 3, 1 / 5, 1 / 7, 1 / 9, 1 / 11, 1 / 13, 1 / 15, 1 / 17];
export const EXP_TAYLOR = [1, 1, 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720, 1 / 5040, 1 / 40320, 1 / 362880, 1 / 3628800, 1 / 39916800];

/** A helper fn(a: f32, b: f32): f32 computed in float64: its builder, a and b promoted, and `ret`. */
function f64Binary(h: Helpers, makeFn: (params: WType[]) => Fn) {
  const { b, m } = h;
  const fn = makeFn([b.f32, b.f32]);
  const d = new D(fn, 1);
  const A = d.let(m.f64.promote(fn.get(0)));
  const B = d.let(m.f64.promote(fn.get(1)));
  return { fn, d, A, B, ret: (r: Ref) => fn.emit(m.return(r)) };
}

function buildPow(h: Helpers, makeFn: (params: WType[]) => Fn): void {
  const { b, m } = h;
  const { fn, d, A, B, ret } = f64Binary(h, makeFn);
  // C/torch pow (SCALAR_HELPERS.pow): x ** ±0 = 1 and 1 ** y = 1 (even for NaN), (-1) ** ±Inf = 1;
  // otherwise NaN propagates and the rest follows Math.pow.
  fn.if(m.i32.or(m.f64.eq(d.g(B), m.f64.const(0)), m.f64.eq(d.g(A), m.f64.const(1))), () => ret(m.f32.const(1)));
  fn.if(m.i32.or(m.f64.ne(d.g(A), d.g(A)), m.f64.ne(d.g(B), d.g(B))), () => ret(m.f32.const(NaN)));
  const ax = d.let(m.f64.abs(d.g(A)));
  fn.if(m.i32.and(m.f64.eq(d.g(A), m.f64.const(-1)), m.f64.eq(m.f64.abs(d.g(B)), m.f64.const(Infinity))), () => ret(m.f32.const(1)));
  const isInt = fn.let(b.i32, m.f64.eq(m.f64.floor(d.g(B)), d.g(B)));
  const isOdd = fn.let(b.i32, m.i32.and(m.i32.and(fn.get(isInt), m.f64.lt(m.f64.abs(d.g(B)), m.f64.const(16777216))),
    m.i32.and(m.i32.trunc_s_sat.f64(d.g(B)), m.i32.const(1))));
  // Negative finite base with a non-integer exponent.
  fn.if(m.i32.and(m.i32.and(m.f64.lt(d.g(A), m.f64.const(0)), m.f64.gt(d.g(A), m.f64.const(-Infinity))), m.i32.eqz(fn.get(isInt))),
    () => ret(m.f32.const(NaN)));
  // log2|a| in double: |a| = 2^e * mant, mant in [sqrt(1/2), sqrt(2)), ln(mant) = 2 atanh(f).
  const L = d.let(m.f64.const(0));
  fn.if(m.f64.eq(d.g(ax), m.f64.const(0)), () => fn.set(L, m.f64.const(-Infinity)), () => {
    fn.if(m.f64.eq(d.g(ax), m.f64.const(Infinity)), () => fn.set(L, m.f64.const(Infinity)), () => {
      const bits = fn.let(b.i64, m.i64.reinterpret(d.g(ax)));
      const e = fn.let(b.i32, m.i32.sub(m.i32.wrap(m.i64.shr_u(fn.get(bits), m.i64.const(52n))), m.i32.const(1023)));
      const mant0 = d.let(m.f64.reinterpret(m.i64.or(m.i64.and(fn.get(bits), m.i64.const(0x000fffffffffffffn)), m.i64.const(0x3ff0000000000000n))));
      const big = fn.let(b.i32, m.f64.gt(d.g(mant0), m.f64.const(Math.SQRT2)));
      const mant = { v: d.let(m.select(fn.get(big), m.f64.mul(d.g(mant0), m.f64.const(0.5)), d.g(mant0))) };
      const ef = d.let(m.f64.convert_s.i32(m.i32.add(fn.get(e), fn.get(big))));
      const f = d.bin('div', d.bin('sub', mant, 1), d.bin('add', mant, 1));
      const ln = d.bin('mul', d.bin('mul', f, 2), d.horner(d.bin('mul', f, f), LOG_SERIES));
      fn.set(L, m.f64.add(d.g(ef), m.f64.mul(d.g(ln.v), m.f64.const(1 / LN2))));
    });
  });
  // 2^(b * log2|a|), clamped so the scale stays a normal double; the final demote rounds once.
  const y = { v: d.let(m.f64.min(m.f64.max(m.f64.mul(d.g(B), d.g(L)), m.f64.const(-300)), m.f64.const(300))) };
  const n = d.un('nearest', y);
  const t = d.bin('mul', d.bin('sub', y, n), LN2);
  const p = d.horner(t, EXP_TAYLOR);
  const scale = m.f64.reinterpret(m.i64.shl(m.i64.add(m.i64.trunc_s_sat.f64(d.g(n.v)), m.i64.const(1023n)), m.i64.const(52n)));
  const r = d.let(m.f64.mul(d.g(p.v), scale));
  // Negative base (including -0 and -Inf) with an odd integer exponent flips the sign.
  const neg = m.i32.and(m.i32.lt_s(m.i32.reinterpret(fn.get(0)), m.i32.const(0)), fn.get(isOdd));
  ret(m.f32.demote(m.select(neg, m.f64.neg(d.g(r)), d.g(r))));
  fn.emit(m.unreachable());
  fn.finish('kiln_pow', b.f32, false);
}

/**
 * torch.remainder for f32 (result has the divisor's sign), exact: fmod by long division in double,
 * where each step divides by the divisor scaled to within 2^24 of the dividend so q*c is exact.
 */
function buildFmod(h: Helpers, makeFn: (params: WType[]) => Fn): void {
  const { b, m } = h;
  const { fn, d, A, B, ret } = f64Binary(h, makeFn);
  fn.if(m.i32.or(m.i32.or(m.f64.eq(d.g(B), m.f64.const(0)), m.f64.ne(d.g(A), d.g(A))),
    m.i32.or(m.f64.ne(d.g(B), d.g(B)), m.f64.eq(m.f64.abs(d.g(A)), m.f64.const(Infinity)))), () => ret(m.f32.const(NaN)));
  const r = d.let(d.g(A));
  fn.if(m.f64.ne(m.f64.abs(d.g(B)), m.f64.const(Infinity)), () => {
    const x = d.let(m.f64.abs(d.g(A)));
    const y = d.let(m.f64.abs(d.g(B)));
    const ey = fn.let(b.i32, m.i32.wrap(m.i64.shr_u(m.i64.reinterpret(d.g(y)), m.i64.const(52n))));
    const Lb = fn.label('fmod');
    const Lout = fn.label('fmodout');
    const body = fn.block(() => {
      fn.emit(m.br(Lout, m.f64.lt(d.g(x), d.g(y))));
      const k = fn.let(b.i32, m.i32.sub(m.i32.sub(m.i32.wrap(m.i64.shr_u(m.i64.reinterpret(d.g(x)), m.i64.const(52n))), fn.get(ey)), m.i32.const(23)));
      const scaled = m.f64.mul(d.g(y), m.f64.reinterpret(m.i64.shl(m.i64.extend_s(m.i32.add(fn.get(k), m.i32.const(1023))), m.i64.const(52n))));
      const cdiv = d.let(m.select(m.i32.gt_s(fn.get(k), m.i32.const(0)), scaled, d.g(y)));
      const q = d.let(m.f64.trunc(m.f64.div(d.g(x), d.g(cdiv))));
      fn.set(x, m.f64.sub(d.g(x), m.f64.mul(d.g(q), d.g(cdiv))));
      fn.emit(m.br(Lb));
    });
    fn.emit(m.block(Lout, [m.loop(Lb, body)]));
    fn.set(r, m.f64.copysign(d.g(x), d.g(A)));
  });
  // torch.remainder: a nonzero result takes the divisor's sign.
  const adjust = m.i32.and(m.f64.ne(d.g(r), m.f64.const(0)), m.i32.ne(m.f64.lt(d.g(r), m.f64.const(0)), m.f64.lt(d.g(B), m.f64.const(0))));
  ret(m.f32.demote(m.select(adjust, m.f64.add(d.g(r), d.g(B)), d.g(r))));
  fn.emit(m.unreachable());
  fn.finish('kiln_fmod', b.f32, false);
}

/** Calls a two-argument scalar f32 helper per lane. */
function laneCall2(name: string, a: F, x: F): F {
  const c = a.c;
  const m = c.m;
  if (c.w === 1) return c.f(m.call(name, [a.r, x.r], c.b.f32));
  return c.fromLanesF([0, 1, 2, 3].map((l) => m.call(name, [c.laneF(a, l), c.laneF(x, l)], c.b.f32)));
}

/** a ** b with C/torch semantics (float64 inside, one rounding to f32). */
export function powF(a: F, x: F, h: Helpers, makeFn: (params: WType[]) => Fn): F {
  return laneCall2(h.use('kiln_pow', () => buildPow(h, makeFn)), a, x);
}

/** torch.remainder(a, b) for floats. */
export function fmodF(a: F, x: F, h: Helpers, makeFn: (params: WType[]) => Fn): F {
  return laneCall2(h.use('kiln_fmod', () => buildFmod(h, makeFn)), a, x);
}

/** torch.remainder for int32: sign of the divisor, x mod 0 = 0 (as the cpu reference). */
export function imodI(a: I, x: I): I {
  const c = a.c;
  const m = c.m;
  const zero = x.eq(0);
  const safe = c.sel(zero, 1, x);
  let r: I;
  if (c.w === 1) r = c.i(m.i32.rem_s(a.r, safe.r));
  else r = c.fromLanesI([0, 1, 2, 3].map((l) => m.i32.rem_s(c.laneI(a, l), c.laneI(safe, l))));
  const adjust = r.ne(0).and(r.xor(safe).lt(0));
  return c.sel(zero, 0, c.sel(adjust, r.add(safe), r));
}

/** float -> int32 as JS `Math.trunc(x) | 0`: truncation, NaN/Inf -> 0, wrap modulo 2^32 past int range. */
export function f32ToI32(x: F): I {
  const c = x.c;
  const y0 = x.sub(x.mul(2 ** -32).trunc().mul(2 ** 32)); // exact: x mod 2^32 in (-2^32, 2^32)
  const y = c.sel(y0.ge(2 ** 31), y0.sub(2 ** 32), c.sel(y0.lt(-(2 ** 31)), y0.add(2 ** 32), y0));
  return y.truncSat();
}

