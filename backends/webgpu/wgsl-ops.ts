// webgpu backend, expression level: the WGSL for each elementwise primitive (src/ops/scalar.ts) and
// each cast, matching the cpu reference's JS semantics. Values live in registers as f32 (float32) or
// i32 (int32 and bool, the latter as 0/1); storage of bool is u32 (WGSL has no 8-bit storage).
// NOTE: WGSL lets implementations ignore NaN and infinities (and SwiftShader does: `x != x` is false
// for NaN, max(NaN, 1) is 1, tanh(100) is NaN), so NaN-sensitive ops test bit patterns in helpers.
import type { DType } from '../../src/core/dtype.js';
import type { ScalarOp } from '../../src/ops/scalar.js';
import { invPio2Table } from '../../src/core/trig.js';

/** Register type of a dtype. */
export function wgslType(dtype: DType): 'f32' | 'i32' {
  return dtype === 'float32' ? 'f32' : 'i32';
}

/** Taylor coefficients of erf: 2/sqrt(pi) (-1)^k / (k! (2k + 1)), k = 0..9 (mathlib.ts ERF_TAYLOR). */
const ERF_TAYLOR_WGSL = (() => {
  const out: string[] = [];
  let fact = 1;
  for (let k = 0; k < 10; k++) {
    if (k > 0) fact *= k;
    out.push(wgslFloat(((k % 2 ? -1 : 1) * 2) / Math.sqrt(Math.PI) / (fact * (2 * k + 1))));
  }
  return out;
})();

/** A finite JS number as a WGSL f32 literal (always with a point or exponent). */
function wgslFloat(v: number): string {
  const t = String(v);
  return /[.e]/.test(t) ? t : `${t}.0`;
}

/** The bits of 2/pi (src/core/trig.ts) as a WGSL constant array, for the sin/cos reduction. */
export const WGSL_INV_PIO2 = `const K_INV_PIO2 = array<u32, 24>(${Array.from(invPio2Table(), (v) => `0x${v.toString(16)}u`).join(', ')});`;

/** WGSL helper functions, emitted into a shader only when an expression uses them. */
export const WGSL_HELPERS = {
  // Made at run time from bits: a NaN or infinite literal is a shader-creation error in WGSL.
  k_nan: 'fn k_nan() -> f32 { var b = 0x7fc00000u; return bitcast<f32>(b); }',
  k_inf: 'fn k_inf() -> f32 { var b = 0x7f800000u; return bitcast<f32>(b); }',
  k_isnan: 'fn k_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }',
  k_isinf: 'fn k_isinf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }',
  // A gathered index checked: in 0..size-1 it passes, else the first one is recorded in the kernel's
  // error buffer `kerr` (declared by the header of kernels that use this) and element 0 is read.
  k_ix: `fn k_ix(i: i32, size: i32, op: u32, axis: u32) -> i32 {
  if (i >= 0 && i < size) { return i; }
  if (atomicAdd(&kerr[0], 1u) == 0u) {
    atomicStore(&kerr[1], bitcast<u32>(i));
    atomicStore(&kerr[2], op);
    atomicStore(&kerr[3], axis);
    atomicStore(&kerr[4], u32(size));
  }
  return 0;
}`,
  // The sign bit, so that -0 is negative (odd functions keep it: sin(-0) = -0).
  k_signbit: 'fn k_signbit(x: f32) -> bool { return (bitcast<u32>(x) & 0x80000000u) != 0u; }',
  // JS truthiness of a number: ±0 and NaN are false.
  k_truthy: `fn k_truthy(x: f32) -> bool {
  let b = bitcast<u32>(x) & 0x7fffffffu;
  return b != 0u && b <= 0x7f800000u;
}`,
  // float -> int32 as JS `Math.trunc(x) | 0`: NaN and ±Inf give 0, large values wrap modulo 2^32
  // (WGSL's i32(x) would saturate instead).
  k_f2i: `fn k_f2i(x: f32) -> i32 {
  if ((bitcast<u32>(x) & 0x7fffffffu) >= 0x7f800000u) { return 0; }
  let t = trunc(x);
  if (abs(t) < 2147483648.0) { return i32(t); }
  let m = t - 4294967296.0 * floor(t / 4294967296.0);
  return bitcast<i32>(u32(m));
}`,
  // Math.max / Math.min: NaN wins.
  k_max: 'fn k_max(a: f32, b: f32) -> f32 { return select(max(a, b), k_nan(), k_isnan(a) || k_isnan(b)); }',
  k_min: 'fn k_min(a: f32, b: f32) -> f32 { return select(min(a, b), k_nan(), k_isnan(a) || k_isnan(b)); }',
  k_sign: 'fn k_sign(x: f32) -> f32 { return select(select(select(0.0, -1.0, x < 0.0), 1.0, x > 0.0), x, k_isnan(x)); }',
  // torch.remainder on int32: sign of the divisor; the cpu reference defines x mod 0 as 0.
  k_imod: `fn k_imod(a: i32, b: i32) -> i32 {
  if (b == 0 || b == -1) { return 0; }
  let r = a % b;
  return select(r, r + b, r != 0 && ((r < 0) != (b < 0)));
}`,
  // C fmodf (musl's algorithm on the bits): exact for all finite x and nonzero y, as JS's % is.
  // (a - b*trunc(a/b) is not: SwiftShader's fma is not fused, and a/b rounds.)
  k_fmod_exact: `fn k_fmod_exact(x: f32, y: f32) -> f32 {
  let sx = bitcast<u32>(x) & 0x80000000u;
  var uxi = bitcast<u32>(x);
  var uy = bitcast<u32>(y);
  var ex = i32((uxi >> 23u) & 0xffu);
  var ey = i32((uy >> 23u) & 0xffu);
  if ((uxi << 1u) <= (uy << 1u)) {
    if ((uxi << 1u) == (uy << 1u)) { return bitcast<f32>(sx); }
    return x;
  }
  if (ex == 0) {
    var i = uxi << 9u;
    loop { if ((i >> 31u) != 0u) { break; } ex -= 1; i = i << 1u; }
    uxi = uxi << u32(1 - ex);
  } else {
    uxi = (uxi & 0x007fffffu) | 0x00800000u;
  }
  if (ey == 0) {
    var i = uy << 9u;
    loop { if ((i >> 31u) != 0u) { break; } ey -= 1; i = i << 1u; }
    uy = uy << u32(1 - ey);
  } else {
    uy = (uy & 0x007fffffu) | 0x00800000u;
  }
  for (; ex > ey; ex -= 1) {
    let i = uxi - uy;
    if ((i >> 31u) == 0u) {
      if (i == 0u) { return bitcast<f32>(sx); }
      uxi = i;
    }
    uxi = uxi << 1u;
  }
  let i = uxi - uy;
  if ((i >> 31u) == 0u) {
    if (i == 0u) { return bitcast<f32>(sx); }
    uxi = i;
  }
  loop { if ((uxi >> 23u) != 0u) { break; } uxi = uxi << 1u; ex -= 1; }
  if (ex > 0) { uxi = (uxi - 0x00800000u) | (u32(ex) << 23u); } else { uxi = uxi >> u32(1 - ex); }
  return bitcast<f32>(uxi | sx);
}`,
  // torch.remainder on float32: the truncated remainder moved to the divisor's sign.
  k_fmod: `fn k_fmod(a: f32, b: f32) -> f32 {
  if (k_isnan(a) || k_isnan(b) || k_isinf(a) || b == 0.0) { return k_nan(); }
  var r = a;
  if (!k_isinf(b)) { r = k_fmod_exact(a, b); }
  return select(r, r + b, r != 0.0 && ((r < 0.0) != (b < 0.0)));
}`,
  // z^b for finite z > 0 as exp(b ln z), with ln z and the product carried in two floats (TwoSum and
  // Dekker's split: no fma needed), so that the error stays a few ulp where exp2(b * log2(z)) loses
  // up to 100 (WGSL's log2 promises 3 ulp, and b * log2 z amplifies it).
  k_powpos: `fn k_powpos(z: f32, b: f32) -> f32 {
  let bits = bitcast<i32>(z);
  var e = (bits >> 23u) - 126;
  let mant = bitcast<f32>((bits & 0x007fffff) | 0x3f000000);
  let low = mant < 0.707106781186547524;
  if (low) { e = e - 1; }
  let fe = f32(e);
  let xm = select(mant - 1.0, mant + mant - 1.0, low);
  let q = xm * xm;
  let p = ((((((((7.0376836292e-2 * xm - 1.1514610310e-1) * xm + 1.1676998740e-1) * xm - 1.2420140846e-1) * xm + 1.4249322787e-1) * xm
    - 1.6668057665e-1) * xm + 2.0000714765e-1) * xm - 2.4999993993e-1) * xm + 3.3333331174e-1);
  let y = p * xm * q + fe * -2.12194440e-4 - q * 0.5;
  let a0 = fe * 0.693359375;
  let hi = a0 + xm;
  let bb = hi - a0;
  let lo = ((a0 - (hi - bb)) + (xm - bb)) + y;
  let l = hi + lo;
  let l2 = lo - (l - hi);
  let ph = b * l;
  // Past the float range either way (also b = ±Inf): no split needed, and it would overflow.
  if (abs(ph) > 160.0) { return select(0.0, k_inf(), ph > 0.0); }
  let bs = 4097.0 * b;
  let bh = bs - (bs - b);
  let bl = b - bh;
  let ls = 4097.0 * l;
  let lh = ls - (ls - l);
  let ll = l - lh;
  let pl = (((bh * lh - ph) + bh * ll + bl * lh) + bl * ll) + b * l2;
  return k_exp2p(ph, pl);
}`,
  // C's pow, as torch: 1^y = 1 and (-1)^±inf = 1. WGSL's pow is undefined for a < 0 and for many IEEE cases.
  k_pow: `fn k_pow(a: f32, b: f32) -> f32 {
  if (b == 0.0 || a == 1.0) { return 1.0; }
  if (k_isnan(a) || k_isnan(b)) { return k_nan(); }
  let z = abs(a);
  var r: f32;
  if (z == 0.0) { r = select(0.0, k_inf(), b < 0.0); }
  else if (k_isinf(z)) { r = select(k_inf(), 0.0, b < 0.0); }
  else if (z == 1.0 && k_isinf(b)) { return 1.0; }
  else { r = k_powpos(z, b); }
  if ((bitcast<u32>(a) & 0x80000000u) != 0u) {
    if (floor(b) != b) { return select(r, k_nan(), a < 0.0 && !k_isinf(a)); }
    if (abs(b) < 16777216.0 && b - 2.0 * floor(b * 0.5) == 1.0) { r = -r; }
  }
  return r;
}`,
  // exp as the wasm builtin (mathlib.ts expF): n = round(x log2 e), r = x - n ln2 in two parts (n*C1
  // exact), e^r = 1 + r + r^2 P(r), then 2^n in two exponent steps (subnormal results round once).
  // WGSL's exp promises only 3 + 2|x| ulp (SwiftShader's is 50 off at x = 75, and exp(NaN) is Inf).
  k_exp: 'fn k_exp(x: f32) -> f32 { return k_exp2p(x, 0.0); }',
  // e^(x + dx) for a small correction dx, folded into the reduced argument (used by pow).
  k_exp2p: `fn k_exp2p(x: f32, dx: f32) -> f32 {
  if (k_isnan(x)) { return x; }
  let v = clamp(x, -104.0, 89.0);
  let n = round(v * 1.44269504088896341);
  let r = ((v - n * 0.693359375) - n * -2.12194440e-4) + dx;
  let y = ((((0.0013814583654 * r + 0.0083687240258) * r + 0.041668388993) * r + 0.16666521132) * r + 0.4999999404) * (r * r) + r + 1.0;
  let ni = i32(n);
  let n1 = ni >> 1u;
  return bitcast<f32>(bitcast<i32>(y) + (n1 << 23u)) * bitcast<f32>((ni - n1 + 127) << 23u);
}`,
  // log as the wasm builtin (mathlib.ts logF): mantissa in [sqrt(1/2), sqrt(2)), Cephes polynomial,
  // ln 2 in two parts. WGSL's log promises 2^-21 absolute error near 1; SwiftShader's computes
  // log|x| (log(-1) = 0) and log(0) = -88, so the IEEE cases are by hand.
  k_log: `fn k_log(x: f32) -> f32 {
  if (k_isnan(x) || x < 0.0) { return k_nan(); }
  if (x == 0.0) { return -k_inf(); }
  if (k_isinf(x)) { return x; }
  let sub = x < 1.17549435e-38;
  let bits = bitcast<i32>(select(x, x * 8388608.0, sub));
  var e = (bits >> 23u) - select(126, 149, sub);
  let mant = bitcast<f32>((bits & 0x007fffff) | 0x3f000000);
  let low = mant < 0.707106781186547524;
  if (low) { e = e - 1; }
  let fe = f32(e);
  let xm = select(mant - 1.0, mant + mant - 1.0, low);
  let z = xm * xm;
  let p = ((((((((7.0376836292e-2 * xm - 1.1514610310e-1) * xm + 1.1676998740e-1) * xm - 1.2420140846e-1) * xm + 1.4249322787e-1) * xm
    - 1.6668057665e-1) * xm + 2.0000714765e-1) * xm - 2.4999993993e-1) * xm + 3.3333331174e-1);
  let y = p * xm * z + fe * -2.12194440e-4 - z * 0.5;
  return xm + y + fe * 0.693359375;
}`,
  // 32 x 32 -> 64-bit product (hi, lo) from 16-bit halves: WGSL has no 64-bit integers.
  k_mul64: `fn k_mul64(a: u32, b: u32) -> vec2<u32> {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let p00 = a0 * b0;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return vec2<u32>(a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u), (mid << 16u) | (p00 & 0xffffu));
}`,
  // sin/cos (WGSL leaves them undefined outside [-pi, pi]; SwiftShader's are far off there): |x| =
  // n pi/2 + r, then polynomials on |r| <= pi/4. Below 120 the reduction is Cody-Waite with pi/2 in
  // four 17-bit parts (each n * part exact, so r keeps its relative accuracy near the zeros); above,
  // Payne-Hanek with the bits of 2/pi in 32-bit integer arithmetic (the wasm builtin's reduce_large).
  k_sincos: `fn k_sincos(x: f32, cosine: bool) -> f32 {
  if (k_isnan(x) || k_isinf(x)) { return k_nan(); }
  let ax = abs(x);
  var r: f32;
  var q: u32;
  if (ax < 120.0) {
    let n = round(ax * 0.63661977236758134);
    r = (((ax - n * 1.5707855224609375) - n * 1.0804273188114166e-05) - n * 6.077094383272197e-11) - n * 6.123201175701337e-17;
    q = u32(n);
  } else {
    let xi = bitcast<u32>(ax);
    let idx = (xi >> 26u) & 15u;
    let mant = ((xi & 0x7fffffu) | 0x800000u) << ((xi >> 23u) & 7u);
    let res0a = mant * K_INV_PIO2[idx];
    let res1 = k_mul64(mant, K_INV_PIO2[idx + 4u]);
    let res2 = k_mul64(mant, K_INV_PIO2[idx + 8u]);
    let lo = res2.x + res1.y;
    let hi = res0a + res1.x + select(0u, 1u, lo < res1.y);
    let n = (hi + 0x20000000u) >> 30u;
    let rh = bitcast<i32>(hi - (n << 30u));
    // r = (rh 2^32 + lo) (pi/2) 2^-62, the product with pi/2 split in two floats.
    let rf = f32(rh) * 4294967296.0 + f32(lo);
    r = rf * 3.4061216748705226e-19 + rf * -9.478396428567739e-27;
    q = n;
  }
  if (cosine) { q = q + 1u; }
  let z = r * r;
  var v: f32;
  if ((q & 1u) != 0u) {
    v = ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z - 0.5 * z + 1.0;
  } else {
    v = ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * r + r;
  }
  if ((q & 2u) != 0u) { v = -v; }
  if (!cosine && k_signbit(x)) { v = -v; }
  return v;
}`,
  // tanh as the wasm builtin (mathlib.ts tanhF): an odd polynomial below 0.625, 1 - 2/(e^2|x| + 1)
  // above (saturating past 9.5); SwiftShader's tanh overflows to NaN past |x| ~ 44.
  k_tanh: `fn k_tanh(x: f32) -> f32 {
  if (k_isnan(x)) { return x; }
  let ax = abs(x);
  var r: f32;
  if (ax < 0.625) {
    let z = ax * ax;
    r = ((((-5.70498872745e-3 * z + 2.06390887954e-2) * z - 5.37397155531e-2) * z + 1.33314422036e-1) * z - 3.33332819422e-1) * z * ax + ax;
  } else {
    r = 1.0 - 2.0 / (k_exp(2.0 * min(ax, 9.5)) + 1.0);
  }
  return select(r, -r, k_signbit(x));
}`,
  // WGSL has no erf: the same Numerical Recipes approximation the cpu reference uses.
  // argmax/argmin steps: does (v at i) beat (b at j)? NaN beats numbers; ties go to the first index.
  k_argmax_f: `fn k_argmax_f(v: f32, i: i32, b: f32, j: i32) -> bool {
  let nv = k_isnan(v);
  let nb = k_isnan(b);
  if (nv || nb) { return nv && (!nb || i < j); }
  return v > b || (v == b && i < j);
}`,
  k_argmin_f: `fn k_argmin_f(v: f32, i: i32, b: f32, j: i32) -> bool {
  let nv = k_isnan(v);
  let nb = k_isnan(b);
  if (nv || nb) { return nv && (!nb || i < j); }
  return v < b || (v == b && i < j);
}`,
  k_argmax_i: 'fn k_argmax_i(v: i32, i: i32, b: i32, j: i32) -> bool { return v > b || (v == b && i < j); }',
  k_argmin_i: 'fn k_argmin_i(v: i32, i: i32, b: i32, j: i32) -> bool { return v < b || (v == b && i < j); }',
  // erf as the wasm builtin (mathlib.ts erfF): Taylor series below 0.75, Numerical Recipes' erfc
  // fit above, with this file's exp.
  k_erf: `fn k_erf(x: f32) -> f32 {
  if (k_isnan(x)) { return x; }
  let ax = abs(x);
  var r: f32;
  if (ax < 0.75) {
    let z = ax * ax;
    var p = ${ERF_TAYLOR_WGSL[ERF_TAYLOR_WGSL.length - 1]};
    ${ERF_TAYLOR_WGSL.slice(0, -1).reverse().map((c) => `p = p * z + ${c};`).join('\n    ')}
    r = p * ax;
  } else {
    let t = 1.0 / (ax * 0.5 + 1.0);
    var p = 0.17087277;
    ${[-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223].reverse().map((c) => `p = p * t + ${c};`).join('\n    ')}
    r = 1.0 - t * k_exp(p - ax * ax);
  }
  return select(r, -r, k_signbit(x));
}`,
} as const;

export type WgslHelper = keyof typeof WGSL_HELPERS;

/** Helpers a helper calls (emitted with it). */
const HELPER_DEPS: Partial<Record<WgslHelper, readonly WgslHelper[]>> = {
  k_max: ['k_nan', 'k_isnan'], k_min: ['k_nan', 'k_isnan'], k_sign: ['k_isnan'],
  k_fmod: ['k_nan', 'k_isnan', 'k_isinf', 'k_fmod_exact'], k_exp: ['k_exp2p'], k_exp2p: ['k_isnan'], k_log: ['k_nan', 'k_inf', 'k_isnan', 'k_isinf'],
  k_sincos: ['k_nan', 'k_isnan', 'k_isinf', 'k_mul64', 'k_signbit'], k_tanh: ['k_isnan', 'k_exp', 'k_signbit'], k_erf: ['k_isnan', 'k_exp', 'k_signbit'], k_argmax_f: ['k_isnan'], k_argmin_f: ['k_isnan'], k_pow: ['k_nan', 'k_inf', 'k_isnan', 'k_isinf', 'k_powpos'], k_powpos: ['k_exp2p', 'k_inf'],
};

/** The WGSL text of the helpers in `used` and their dependencies, in a fixed order. */
export function renderHelpers(used: ReadonlySet<WgslHelper>): string {
  const all = new Set<WgslHelper>();
  const add = (h: WgslHelper): void => {
    if (all.has(h)) return;
    all.add(h);
    (HELPER_DEPS[h] ?? []).forEach(add);
  };
  used.forEach(add);
  const fns = (Object.keys(WGSL_HELPERS) as WgslHelper[]).filter((h) => all.has(h)).map((h) => WGSL_HELPERS[h]);
  return (all.has('k_sincos') ? [WGSL_INV_PIO2, ...fns] : fns).join('\n');
}

/** An argument as the emitter sees it: WGSL text and the dtype of its value. */
export interface Arg {
  readonly code: string;
  readonly dtype: DType;
}

/** Emits one op; `use` records the helpers it calls. Returns null when the op has no form for `out`. */
type OpEmitter = (a: readonly Arg[], out: DType, use: (h: WgslHelper) => string) => string | null;

/** Converts an argument to the register type `t` as a JS number would convert (exact for bool/int -> float). */
export function as(a: Arg, t: 'f32' | 'i32', use: (h: WgslHelper) => string): string {
  const from = wgslType(a.dtype);
  if (from === t) return a.code;
  return t === 'f32' ? `f32(${a.code})` : `${use('k_f2i')}(${a.code})`;
}

/** A JS truthiness test of an argument as a WGSL bool. */
export function truthy(a: Arg, use: (h: WgslHelper) => string): string {
  return a.dtype === 'float32' ? `${use('k_truthy')}(${a.code})` : `(${a.code} != 0)`;
}

const b2i = (cond: string): string => `select(0, 1, ${cond})`;

/** A float-only unary op (no int32 form in SCALAR_OPS). */
const floatUnary = (f: (x: string, use: (h: WgslHelper) => string) => string): OpEmitter =>
  (a, out, use) => (out === 'float32' ? f(as(a[0], 'f32', use), use) : null);

/** A unary op with float and int forms. */
const unary = (f: (x: string, use: (h: WgslHelper) => string) => string, i: (x: string) => string): OpEmitter =>
  (a, out, use) => (out === 'float32' ? f(as(a[0], 'f32', use), use) : i(as(a[0], 'i32', use)));

/** A binary op with float and int forms (`i` null: float only). */
const binary = (f: (x: string, y: string, use: (h: WgslHelper) => string) => string, i: ((x: string, y: string, use: (h: WgslHelper) => string) => string) | null): OpEmitter =>
  (a, out, use) => {
    const t = wgslType(out);
    if (t === 'i32' && !i) return null;
    const x = as(a[0], t, use), y = as(a[1], t, use);
    return t === 'f32' ? f(x, y, use) : i!(x, y, use);
  };

/** A comparison, done in f32 when either side is float (as JS compares numbers); result 0/1. */
const compare = (f: (x: string, y: string, use: (h: WgslHelper) => string) => string, i: (x: string, y: string) => string): OpEmitter =>
  (a, _out, use) => {
    const t = a[0].dtype === 'float32' || a[1].dtype === 'float32' ? 'f32' : 'i32';
    const x = as(a[0], t, use), y = as(a[1], t, use);
    return b2i(t === 'f32' ? f(x, y, use) : i(x, y));
  };

/** WGSL for every elementwise primitive; typed by ScalarOp so tsc flags a missing one. */
export const WGSL_OPS: Record<ScalarOp, OpEmitter> = {
  neg: unary((x) => `(-${x})`, (x) => `(-${x})`), // i32 negation wraps (INT_MIN stays INT_MIN), as (-x)|0
  recip: floatUnary((x) => `(1.0 / ${x})`),
  sqrt: floatUnary((x) => `sqrt(${x})`),
  exp: floatUnary((x, use) => `${use('k_exp')}(${x})`),
  log: floatUnary((x, use) => `${use('k_log')}(${x})`),
  sin: floatUnary((x, use) => `${use('k_sincos')}(${x}, false)`),
  cos: floatUnary((x, use) => `${use('k_sincos')}(${x}, true)`),
  tanh: floatUnary((x, use) => `${use('k_tanh')}(${x})`),
  erf: floatUnary((x, use) => `${use('k_erf')}(${x})`),
  floor: unary((x) => `floor(${x})`, (x) => x),
  ceil: unary((x) => `ceil(${x})`, (x) => x),
  round: unary((x) => `round(${x})`, (x) => x), // WGSL round() is round-half-to-even, as torch.round
  abs: unary((x) => `abs(${x})`, (x) => `abs(${x})`), // abs(INT_MIN) = INT_MIN in both
  sign: unary((x, use) => `${use('k_sign')}(${x})`, (x) => `sign(${x})`),
  // NaN passes through (tested with k_isnan: SwiftShader's NaN compares are not IEEE), -0 becomes +0.
  relu: unary((x, use) => `select(${x}, 0.0, ${x} <= 0.0 && !${use('k_isnan')}(${x}))`, (x) => `max(${x}, 0)`),
  not: (a, _out, use) => b2i(`!${truthy(a[0], use)}`),
  add: binary((x, y) => `(${x} + ${y})`, (x, y) => `(${x} + ${y})`), // WGSL i32 arithmetic wraps, like |0
  sub: binary((x, y) => `(${x} - ${y})`, (x, y) => `(${x} - ${y})`),
  mul: binary((x, y) => `(${x} * ${y})`, (x, y) => `(${x} * ${y})`), // wraps, like Math.imul
  div: binary((x, y) => `(${x} / ${y})`, null),
  pow: binary((x, y, use) => `${use('k_pow')}(${x}, ${y})`, null),
  max: binary((x, y, use) => `${use('k_max')}(${x}, ${y})`, (x, y) => `max(${x}, ${y})`),
  min: binary((x, y, use) => `${use('k_min')}(${x}, ${y})`, (x, y) => `min(${x}, ${y})`),
  mod: binary((x, y, use) => `${use('k_fmod')}(${x}, ${y})`, (x, y, use) => `${use('k_imod')}(${x}, ${y})`),
  lt: compare((x, y) => `(${x} < ${y})`, (x, y) => `(${x} < ${y})`),
  le: compare((x, y) => `(${x} <= ${y})`, (x, y) => `(${x} <= ${y})`),
  eq: compare((x, y) => `(${x} == ${y})`, (x, y) => `(${x} == ${y})`),
  // NOTE: SwiftShader compiles f32 != as an ordered compare (NaN != NaN is false): test NaN explicitly.
  ne: compare((x, y, use) => `(${x} != ${y} || ${use('k_isnan')}(${x}) || ${use('k_isnan')}(${y}))`, (x, y) => `(${x} != ${y})`),
  and: (a, _out, use) => b2i(`(${truthy(a[0], use)} && ${truthy(a[1], use)})`),
  or: (a, _out, use) => b2i(`(${truthy(a[0], use)} || ${truthy(a[1], use)})`),
  where: (a, out, use) => {
    const t = wgslType(out);
    return `select(${as(a[2], t, use)}, ${as(a[1], t, use)}, ${truthy(a[0], use)})`;
  },
};

/** WGSL for a cast between dtypes, with the cpu reference's rules (float->int truncates, NaN->0; ->bool is x != 0). */
export function castWgsl(x: Arg, to: DType, use: (h: WgslHelper) => string): string {
  if (x.dtype === to) return x.code;
  if (to === 'bool') {
    // NaN is truthy here (as PyTorch's bool cast); only ±0 is false, tested on bits.
    return x.dtype === 'float32' ? b2i(`((bitcast<u32>(${x.code}) & 0x7fffffffu) != 0u)`) : b2i(`(${x.code} != 0)`);
  }
  if (to === 'int32') return x.dtype === 'float32' ? `${use('k_f2i')}(${x.code})` : x.code; // bool is already 0/1 i32
  return `f32(${x.code})`;
}
