// wasm backend, JS tier: the builtins of mathlib.ts and the value rules of expr.ts computed in
// JavaScript, step for step, so that a kernel run as JS gives the bits its WebAssembly gives. Every
// float32 operation of the wasm code is one Math.fround here (a double result rounded once is the
// float32 result for + - * / and sqrt); the float64 helpers (sin/cos, pow, fmod) are the same double
// operations; a fused multiply-add (relaxed SIMD) is rounded once, exactly (round-to-odd in double).
import {
  COS_C, ERF_TAYLOR, ERFC_NR, EXP_P, EXP_TAYLOR, LN2, LN2_C1, LN2_C2, LOG2E, LOG_P, LOG_SERIES, PIO2_1, PIO2_1T,
  ROUND_MAGIC, SIN_C, TANH_P, TWO_OVER_PI, invPio2Table,
} from './mathlib.js';

const f32 = Math.fround;

// ---- bits ---------------------------------------------------------------------------------------

const F32 = new Float32Array(1);
const I32 = new Int32Array(F32.buffer);
const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer); // little-endian: [low word, high word]

/** The IEEE bits of a float32 value as an int32 (i32.reinterpret_f32). */
export function bitsOf(x: number): number { F32[0] = x; return I32[0]; }
/** The float32 value of int32 bits (f32.reinterpret_i32). */
export function fromBits(i: number): number { I32[0] = i; return F32[0]; }

/** fma(a, b, c) rounded once to float32: a*b is exact in double; the sum is rounded to odd first. */
export function fma32(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  if (s !== s || s === Infinity || s === -Infinity) return f32(s);
  const v = s - p;
  const err = (p - (s - v)) + (c - v);
  if (err === 0) return f32(s);
  F64[0] = s;
  if ((U32[0] & 1) === 0) {
    // Round to odd: step one ulp toward the exact value (its low word is even, so no carry upward).
    if ((s > 0) === (err > 0)) U32[0]++;
    else if (U32[0] === 0) { U32[0] = 0xffffffff; U32[1]--; } else U32[0]--;
  }
  return f32(F64[0]);
}

/** Round half to even (f32.nearest / f64.nearest), keeping the sign of a zero result. */
export function nearest(x: number): number {
  if (!Number.isFinite(x)) return x;
  let r = Math.round(x);
  if (Math.abs(x % 1) === 0.5 && r % 2 !== 0) r -= 1;
  return r === 0 ? (x < 0 || Object.is(x, -0) ? -0 : 0) : r;
}

/** i32.trunc_sat_f32_s / _f64_s: NaN -> 0, saturating, toward zero. */
export function truncSat(x: number): number {
  if (x !== x) return 0;
  if (x >= 2147483647) return 2147483647;
  if (x <= -2147483648) return -2147483648;
  return Math.trunc(x) | 0;
}

// ---- the math library, for one multiply-add mode ------------------------------------------------

/** `pmax(a, c)` = a < c ? c : a and `pmin(a, c)` = c < a ? c : a (f32x4.pmax / pmin). */
export const pmax = (a: number, c: number): number => (a < c ? c : a);
export const pmin = (a: number, c: number): number => (c < a ? c : a);

/** The builtins for kernels whose multiply-adds are fused (`fused`) or a multiply then an add. */
export interface JsMath {
  readonly fused: boolean;
  madd(a: number, b: number, c: number): number;
  exp(x: number): number;
  log(x: number): number;
  tanh(x: number): number;
  erf(x: number): number;
  sin(x: number): number;
  cos(x: number): number;
  pow(a: number, b: number): number;
  fmod(a: number, b: number): number;
  imod(a: number, b: number): number;
  /** float32 -> int32 as `Math.trunc(x) | 0` (expr.ts toI). */
  f2i(x: number): number;
  round(x: number): number;
  sign(x: number): number;
}

const TABLE = invPio2Table();

/** Builds the builtins for one multiply-add mode (mathlib.ts with F.madd fused or not). */
export function makeJsMath(fused: boolean): JsMath {
  const madd = fused ? fma32 : (a: number, b: number, c: number) => f32(f32(a * b) + c);
  /** c - a*b (F.nmadd). */
  const nmadd = fused ? (a: number, b: number, c: number) => fma32(-a, b, c) : (a: number, b: number, c: number) => f32(c - f32(a * b));
  const P = (c: readonly number[]) => c.map(f32);
  const expP = P(EXP_P), logP = P(LOG_P), tanhP = P(TANH_P), erfT = P(ERF_TAYLOR), erfcP = P(ERFC_NR);
  const log2e = f32(LOG2E), c1 = f32(LN2_C1), c2 = f32(LN2_C2);
  const horner = (x: number, c: readonly number[]) => {
    let acc = c[c.length - 1];
    for (let i = c.length - 2; i >= 0; i--) acc = madd(acc, x, c[i]);
    return acc;
  };
  // mathlib.ts expCore: t holds n in its low mantissa bits; y = e^r.
  let t = 0;
  const expCore = (x: number): number => {
    t = madd(x, log2e, ROUND_MAGIC);
    const n = f32(t - ROUND_MAGIC);
    const r = nmadd(n, c2, nmadd(n, c1, x));
    return f32(madd(horner(r, expP), f32(r * r), r) + 1);
  };
  const expBounded = (x: number): number => {
    const y = expCore(x);
    return fromBits((bitsOf(y) + (bitsOf(t) << 23)) | 0);
  };
  const exp = (x: number): number => {
    const y = expCore(pmin(pmax(x, -104), 89));
    const ni = (bitsOf(t) - 0x4b400000) | 0;
    const n1 = ni >> 1;
    const n2 = (ni - n1) | 0;
    return f32(fromBits((bitsOf(y) + (n1 << 23)) | 0) * fromBits(((n2 + 127) | 0) << 23));
  };
  const SQRT_HALF = f32(0.707106781186547524);
  const log = (x: number): number => {
    const sub = x < 1.1754943508222875e-38;
    const xs = sub ? f32(x * 8388608) : x;
    const bits = bitsOf(xs);
    const e0 = ((bits >> 23) - 126) | 0;
    const e1 = sub ? (e0 - 23) | 0 : e0;
    const mant = fromBits((bits & 0x007fffff) | 0x3f000000);
    const low = mant < SQRT_HALF;
    const fe = f32(low ? e1 - 1 : e1);
    const xm = low ? f32(f32(mant + mant) - 1) : f32(mant - 1);
    const z = f32(xm * xm);
    const y = f32(f32(f32(f32(horner(xm, logP) * xm) * z) + f32(fe * c2)) - f32(z * 0.5));
    let r = f32(f32(xm + y) + f32(fe * c1));
    if (x === 0) r = -Infinity;
    if (x < 0) r = NaN;
    return x < Infinity ? r : x;
  };
  const tanh = (x: number): number => {
    const ax = Math.abs(x);
    const e = expBounded(f32(pmin(ax, 9.5) * 2));
    const big = f32(-f32(2 / f32(e + 1)) + 1);
    const z = f32(ax * ax);
    const small = f32(f32(f32(horner(z, tanhP) * z) * ax) + ax);
    return copysign(ax < 0.625 ? small : big, x);
  };
  const erf = (x: number): number => {
    const ax = Math.abs(x);
    const small = f32(horner(f32(ax * ax), erfT) * ax);
    const tt = f32(1 / f32(f32(ax * 0.5) + 1));
    const r = f32(tt * exp(f32(horner(tt, erfcP) - f32(ax * ax))));
    const big = f32(-r + 1);
    return copysign(ax < 0.75 ? small : big, x);
  };
  return {
    fused, madd, exp, log, tanh, erf,
    sin: (x) => sinCos(x, false),
    cos: (x) => sinCos(x, true),
    pow, fmod, imod, f2i, round: nearest, sign,
  };
}

/** |a| with the sign of s (f32.copysign), NaN included. */
function copysign(a: number, s: number): number {
  const neg = s < 0 || Object.is(s, -0) || (s !== s && bitsOf(s) < 0);
  const m = Math.abs(a);
  return neg ? -m : m;
}

// ---- sin / cos (float64 inside, mathlib.ts sinCosF) ---------------------------------------------

function hornerD(x: number, c: readonly number[]): number {
  let acc = c[c.length - 1];
  for (let i = c.length - 2; i >= 0; i--) acc = acc * x + c[i];
  return acc;
}

/** sin or cos of the reduced argument r by quadrant q (mathlib.ts sinCosPoly + byQuadrant). */
function byQuadrant(r: number, q: number): number {
  const r2 = r * r;
  const s = r + (r * r2) * hornerD(r2, SIN_C);
  const c = r2 * hornerD(r2, COS_C) + 1;
  const v = q & 1 ? c : s;
  return q & 2 ? -v : v;
}

function sinCos(x: number, cos: boolean): number {
  const ax = Math.abs(x);
  if (ax < 120) {
    const n = nearest(x * TWO_OVER_PI);
    const r = (x - n * PIO2_1) - n * PIO2_1T;
    return f32(byQuadrant(r, (truncSat(n) + (cos ? 1 : 0)) | 0));
  }
  if (!(ax < Infinity)) return f32(x - x);
  // Payne-Hanek with the 2/pi bit table, in 64-bit integers (mathlib.ts buildSinCos).
  const xi = bitsOf(ax);
  const idx = (xi >>> 26) & 15;
  const shift = (xi >>> 23) & 7;
  const mant = (((xi & 0xffffff) | 0x800000) << shift) >>> 0;
  const M64 = (1n << 64n) - 1n;
  const mant64 = BigInt(mant);
  const res0a = BigInt(Math.imul(mant, TABLE[idx]) >>> 0);
  const res1 = (mant64 * BigInt(TABLE[idx + 4])) & M64;
  const res2 = (mant64 * BigInt(TABLE[idx + 8])) & M64;
  const r0 = (((res2 >> 32n) | ((res0a << 32n) & M64)) + res1) & M64;
  const n = ((r0 + (1n << 61n)) & M64) >> 62n;
  const rr = BigInt.asIntN(64, (r0 - (n << 62n)) & M64);
  const r = Number(rr) * ((Math.PI / 2) * 2 ** -62);
  let res = byQuadrant(r, (Number(n) + (cos ? 1 : 0)) | 0);
  if (!cos && x < 0) res = -res;
  return f32(res);
}

// ---- pow / fmod (float64 helpers) ----------------------------------------------------------------

function pow(a: number, b: number): number {
  if (b === 0 || a === 1) return 1;
  if (a !== a || b !== b) return NaN;
  const ax = Math.abs(a);
  if (a === -1 && Math.abs(b) === Infinity) return 1;
  const isInt = Math.floor(b) === b;
  const isOdd = isInt && Math.abs(b) < 16777216 && (truncSat(b) & 1) === 1;
  if (a < 0 && a > -Infinity && !isInt) return NaN;
  let L: number;
  if (ax === 0) L = -Infinity;
  else if (ax === Infinity) L = Infinity;
  else {
    F64[0] = ax;
    const e = ((U32[1] >>> 20) - 1023) | 0;
    U32[1] = (U32[1] & 0x000fffff) | 0x3ff00000;
    const mant0 = F64[0];
    const big = mant0 > Math.SQRT2;
    const mant = big ? mant0 * 0.5 : mant0;
    const ef = e + (big ? 1 : 0);
    const f = (mant - 1) / (mant + 1);
    const ln = (f * 2) * hornerD(f * f, LOG_SERIES);
    L = ef + ln * (1 / LN2);
  }
  const y = Math.min(Math.max(b * L, -300), 300);
  const n = nearest(y);
  const p = hornerD((y - n) * LN2, EXP_TAYLOR);
  const r = p * 2 ** n; // the wasm helper builds 2^n from its exponent bits, n in [-300, 300]
  const neg = bitsOf(a) < 0 && isOdd;
  return f32(neg ? -r : r);
}

function fmod(a: number, b: number): number {
  if (b === 0 || a !== a || b !== b || Math.abs(a) === Infinity) return NaN;
  let r = a;
  if (Math.abs(b) !== Infinity) {
    let x = Math.abs(a);
    const y = Math.abs(b);
    const ey = expField(y);
    while (!(x < y)) {
      const k = expField(x) - ey - 23;
      const cdiv = k > 0 ? y * 2 ** k : y;
      const q = Math.trunc(x / cdiv);
      x = x - q * cdiv;
    }
    r = a < 0 || Object.is(a, -0) ? -x : x;
  }
  const adjust = r !== 0 && (r < 0) !== (b < 0);
  return f32(adjust ? r + b : r);
}

/** The biased exponent field of a non-negative double. */
function expField(x: number): number {
  F64[0] = x;
  return U32[1] >>> 20;
}

/** torch.remainder on int32 (mathlib.ts imodI): the divisor's sign, x mod 0 = 0. */
function imod(a: number, b: number): number {
  if (b === 0) return 0;
  const r = (a % b) | 0;
  return r !== 0 && (r ^ b) < 0 ? (r + b) | 0 : r;
}

/** float -> int32 as mathlib.ts f32ToI32: x mod 2^32 in float32, then a saturating truncation. */
function f2i(x: number): number {
  const y0 = f32(x - f32(Math.trunc(f32(x * 2 ** -32)) * 2 ** 32));
  const y = y0 >= 2 ** 31 ? f32(y0 - 2 ** 32) : y0 < -(2 ** 31) ? f32(y0 + 2 ** 32) : y0;
  return truncSat(y);
}

/** sign with NaN -> NaN and ±0 -> +0 (expr.ts signF). */
function sign(x: number): number {
  return x > 0 ? 1 : x < 0 ? -1 : x === x ? 0 : x;
}
