// webgpu backend, expression level: the WGSL for each elementwise primitive (src/ops/scalar.ts) and
// each cast, matching the cpu reference's JS semantics. Values live in registers as f32 (float32) or
// i32 (int32 and bool, the latter as 0/1); storage of bool is u32 (WGSL has no 8-bit storage).
// NOTE: WGSL lets implementations ignore NaN and infinities (and SwiftShader does: `x != x` is false
// for NaN, max(NaN, 1) is 1, tanh(100) is NaN), so NaN-sensitive ops test bit patterns in helpers.
import type { DType } from '../../src/core/dtype.js';
import type { ScalarOp } from '../../src/ops/scalar.js';

/** Register type of a dtype. */
export function wgslType(dtype: DType): 'f32' | 'i32' {
  return dtype === 'float32' ? 'f32' : 'i32';
}

/** WGSL helper functions, emitted into a shader only when an expression uses them. */
export const WGSL_HELPERS = {
  // Made at run time from bits: a NaN or infinite literal is a shader-creation error in WGSL.
  k_nan: 'fn k_nan() -> f32 { var b = 0x7fc00000u; return bitcast<f32>(b); }',
  k_inf: 'fn k_inf() -> f32 { var b = 0x7f800000u; return bitcast<f32>(b); }',
  k_isnan: 'fn k_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }',
  k_isinf: 'fn k_isinf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }',
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
  // C's pow, as torch: 1^y = 1 and (-1)^±inf = 1. WGSL's pow is undefined for a < 0 and for many IEEE cases.
  k_pow: `fn k_pow(a: f32, b: f32) -> f32 {
  if (b == 0.0 || a == 1.0) { return 1.0; }
  if (k_isnan(a) || k_isnan(b)) { return k_nan(); }
  let z = abs(a);
  var r: f32;
  if (z == 0.0) { r = select(0.0, k_inf(), b < 0.0); }
  else if (k_isinf(z)) { r = select(k_inf(), 0.0, b < 0.0); }
  else if (z == 1.0 && k_isinf(b)) { return 1.0; }
  else { r = exp2(b * log2(z)); }
  if ((bitcast<u32>(a) & 0x80000000u) != 0u) {
    if (floor(b) != b) { return select(r, k_nan(), a < 0.0 && !k_isinf(a)); }
    if (abs(b) < 16777216.0 && b - 2.0 * floor(b * 0.5) == 1.0) { r = -r; }
  }
  return r;
}`,
  // NOTE: SwiftShader's exp(NaN) is +Inf.
  k_exp: 'fn k_exp(x: f32) -> f32 { return select(exp(x), x, k_isnan(x)); }',
  // NOTE: SwiftShader's log computes log|x| (log(-1) = 0) and log(0) = -88: IEEE cases by hand.
  k_log: `fn k_log(x: f32) -> f32 {
  if (x == 0.0) { return -k_inf(); }
  if (x < 0.0 || k_isnan(x)) { return k_nan(); }
  return log(x);
}`,
  // sin/cos with Cephes' range reduction and polynomials (a few ulp for |x| < 8192): WGSL only
  // promises 2^-11 absolute error, and SwiftShader's sin(1) is off by 2e-5.
  k_sincos: `fn k_sincos(x: f32, cosine: bool) -> f32 {
  if (k_isnan(x) || k_isinf(x)) { return k_nan(); }
  let ax = abs(x);
  if (ax > 8192.0) { return select(sin(x), cos(x), cosine); }
  var sgn = select(1.0, -1.0, !cosine && x < 0.0);
  var j = u32(ax * 1.27323954473516);
  var y = f32(j);
  if ((j & 1u) != 0u) { j += 1u; y += 1.0; }
  j = (j + select(0u, 2u, cosine)) & 7u;
  if (j > 3u) { sgn = -sgn; j -= 4u; }
  let r = ((ax - y * 0.78515625) - y * 2.4187564849853515625e-4) - y * 3.77489497744594108e-8;
  let z = r * r;
  var v: f32;
  if (j == 1u || j == 2u) {
    v = ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z - 0.5 * z + 1.0;
  } else {
    v = ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * r + r;
  }
  return sgn * v;
}`,
  // NOTE: SwiftShader's tanh overflows to NaN past |x| ~ 44 and loses relative accuracy near 0;
  // a series near 0 and 1 - 2/(e^2z + 1) elsewhere are accurate everywhere.
  k_tanh: `fn k_tanh(x: f32) -> f32 {
  if (k_isnan(x)) { return x; }
  let z = abs(x);
  if (z < 0.25) {
    let z2 = x * x;
    return x * (1.0 + z2 * (-0.3333333333 + z2 * (0.1333333333 + z2 * (-0.0539682540 + z2 * (0.0218694885 + z2 * -0.0088632355)))));
  }
  let r = 1.0 - 2.0 / (exp(2.0 * z) + 1.0);
  return select(-r, r, x >= 0.0);
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
  k_erf: `fn k_erf(x: f32) -> f32 {
  let z = abs(x);
  if (z < 0.5) {
    let z2 = x * x;
    return x * 1.1283791670955126 * (1.0 - z2 / 3.0 + (z2 * z2) / 10.0 - (z2 * z2 * z2) / 42.0 + (z2 * z2 * z2 * z2) / 216.0);
  }
  let t = 1.0 / (1.0 + 0.5 * z);
  let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
    t * (-0.82215223 + t * 0.17087277)))))))));
  return select(r - 1.0, 1.0 - r, x >= 0.0);
}`,
} as const;

export type WgslHelper = keyof typeof WGSL_HELPERS;

/** Helpers a helper calls (emitted with it). */
const HELPER_DEPS: Partial<Record<WgslHelper, readonly WgslHelper[]>> = {
  k_max: ['k_nan', 'k_isnan'], k_min: ['k_nan', 'k_isnan'], k_sign: ['k_isnan'],
  k_fmod: ['k_nan', 'k_isnan', 'k_isinf', 'k_fmod_exact'], k_exp: ['k_isnan'], k_log: ['k_nan', 'k_inf', 'k_isnan'],
  k_sincos: ['k_nan', 'k_isnan', 'k_isinf'], k_tanh: ['k_isnan'], k_argmax_f: ['k_isnan'], k_argmin_f: ['k_isnan'], k_pow: ['k_nan', 'k_inf', 'k_isnan', 'k_isinf'],
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
  return (Object.keys(WGSL_HELPERS) as WgslHelper[]).filter((h) => all.has(h)).map((h) => WGSL_HELPERS[h]).join('\n');
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
