// The scalar semantics of every elementwise primitive, written once as a JS expression template.
// The cpu backend inlines these templates into generated loops; the constant folder and the test
// oracle evaluate them directly. WASM and WGSL emitters key their tables by the same names.
import type { DType } from '../core/dtype.js';

/** One elementwise primitive: arity and its JS template for float and for int/bool results. */
export interface ScalarOpDef {
  readonly arity: 1 | 2 | 3;
  /** JS expression for a float32 result (args are JS expressions). */
  readonly f: (a: string, b: string, c: string) => string;
  /** JS expression for an int32/bool result; absent when the op has no integer form. */
  readonly i?: (a: string, b: string, c: string) => string;
  /** True when the result is bool whatever the operand dtype (comparisons, logic). */
  readonly predicate?: boolean;
}

const pred = (f: (a: string, b: string) => string): ScalarOpDef => ({ arity: 2, f, i: f, predicate: true });

/** The elementwise primitives. Keys are the op names every backend's emitter table must cover. */
export const SCALAR_OPS = {
  neg: { arity: 1, f: (a) => `(-${a})`, i: (a) => `((-${a})|0)` },
  recip: { arity: 1, f: (a) => `(1/${a})` },
  sqrt: { arity: 1, f: (a) => `Math.sqrt(${a})` },
  exp: { arity: 1, f: (a) => `Math.exp(${a})` },
  log: { arity: 1, f: (a) => `Math.log(${a})` },
  sin: { arity: 1, f: (a) => `Math.sin(${a})` },
  cos: { arity: 1, f: (a) => `Math.cos(${a})` },
  tanh: { arity: 1, f: (a) => `Math.tanh(${a})` },
  erf: { arity: 1, f: (a) => `H.erf(${a})` },
  floor: { arity: 1, f: (a) => `Math.floor(${a})`, i: (a) => a },
  ceil: { arity: 1, f: (a) => `Math.ceil(${a})`, i: (a) => a },
  round: { arity: 1, f: (a) => `H.roundEven(${a})`, i: (a) => a },
  abs: { arity: 1, f: (a) => `Math.abs(${a})`, i: (a) => `(Math.abs(${a})|0)` },
  sign: { arity: 1, f: (a) => `H.sign(${a})`, i: (a) => `Math.sign(${a})` },
  relu: { arity: 1, f: (a) => `H.relu(${a})`, i: (a) => `H.relu(${a})` },
  not: { arity: 1, f: (a) => `(${a}?0:1)`, i: (a) => `(${a}?0:1)`, predicate: true },
  add: { arity: 2, f: (a, b) => `(${a}+${b})`, i: (a, b) => `((${a}+${b})|0)` },
  sub: { arity: 2, f: (a, b) => `(${a}-${b})`, i: (a, b) => `((${a}-${b})|0)` },
  mul: { arity: 2, f: (a, b) => `(${a}*${b})`, i: (a, b) => `Math.imul(${a},${b})` },
  div: { arity: 2, f: (a, b) => `(${a}/${b})` },
  pow: { arity: 2, f: (a, b) => `H.pow(${a},${b})` },
  max: { arity: 2, f: (a, b) => `Math.max(${a},${b})`, i: (a, b) => `Math.max(${a},${b})` },
  min: { arity: 2, f: (a, b) => `Math.min(${a},${b})`, i: (a, b) => `Math.min(${a},${b})` },
  mod: { arity: 2, f: (a, b) => `H.fmod(${a},${b})`, i: (a, b) => `H.imod(${a},${b})` },
  lt: pred((a, b) => `(${a}<${b}?1:0)`),
  le: pred((a, b) => `(${a}<=${b}?1:0)`),
  eq: pred((a, b) => `(${a}===${b}?1:0)`),
  ne: pred((a, b) => `(${a}!==${b}?1:0)`),
  and: pred((a, b) => `(${a}&&${b}?1:0)`),
  or: pred((a, b) => `(${a}||${b}?1:0)`),
  where: { arity: 3, f: (a, b, c) => `(${a}?${b}:${c})`, i: (a, b, c) => `(${a}?${b}:${c})` },
} satisfies Record<string, ScalarOpDef>;

/** Name of an elementwise primitive. */
export type ScalarOp = keyof typeof SCALAR_OPS;
export const SCALAR_OP_NAMES = Object.keys(SCALAR_OPS) as ScalarOp[];

/** The JS template of an op for a result dtype. */
export function scalarTemplate(op: ScalarOp, dtype: DType): (a: string, b: string, c: string) => string {
  const def: ScalarOpDef = SCALAR_OPS[op];
  if (dtype === 'float32') return def.f;
  if (!def.i) throw new Error(`scalar op ${op} has no ${dtype} form`);
  return def.i;
}

/**
 * erf in float64 (the reference: a few ulp of double, so the float32 result is correctly rounded
 * but for ties): its Taylor series below 2.5, Lentz's continued fraction for erfc up to 6, 1 above.
 */
function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  let r: number;
  if (a < 2.5) {
    let term = a, sum = a;
    for (let k = 1; k < 100; k++) {
      term *= (-a * a) / k;
      const t = term / (2 * k + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else if (a >= 6) r = 1;
  else {
    // erfc(a) = e^(-a^2)/sqrt(pi) / (a + (1/2)/(a + 1/(a + (3/2)/(a + ...))))
    let f = a, C = a, D = 0;
    for (let k = 1; k < 300; k++) {
      const an = k / 2;
      D = a + an * D;
      D = D === 0 ? 1e-300 : 1 / D;
      C = a + an / C;
      if (C === 0) C = 1e-300;
      const delta = C * D;
      f *= delta;
      if (Math.abs(delta - 1) < 1e-16) break;
    }
    r = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? -r : r;
}

/** Round half to even, as torch.round. */
function roundEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Helpers the templates call (passed to generated code as `H`). */
export const SCALAR_HELPERS = {
  erf,
  roundEven,
  // C's pow (and torch): 1^y = 1 and (-1)^±inf = 1, where JS's Math.pow gives NaN.
  pow: (a: number, b: number) => (a === 1 || (a === -1 && (b === Infinity || b === -Infinity)) ? 1 : Math.pow(a, b)),
  sign: (x: number) => (Number.isNaN(x) ? NaN : x > 0 ? 1 : x < 0 ? -1 : 0),
  // relu as torch: NaN stays NaN, -0 becomes +0.
  relu: (x: number) => (x <= 0 ? 0 : x),
  // torch.remainder: the result takes the sign of the divisor.
  fmod: (a: number, b: number) => { const r = a % b; return r !== 0 && (r < 0) !== (b < 0) ? r + b : r; },
  imod: (a: number, b: number) => { if (b === 0) return 0; const r = a % b; return r !== 0 && (r < 0) !== (b < 0) ? r + b : r; },
};

const folders = new Map<string, (...xs: number[]) => number>();

/** Evaluates an elementwise primitive on JS numbers (constant folding, oracles). */
export function evalScalar(op: ScalarOp, dtype: DType, args: readonly number[]): number {
  const key = `${op}:${dtype}`;
  let fn = folders.get(key);
  if (!fn) {
    const body = scalarTemplate(op, dtype)('a', 'b', 'c');
    fn = new Function('H', `return (a, b, c) => ${body};`)(SCALAR_HELPERS) as (...xs: number[]) => number;
    folders.set(key, fn);
  }
  return fn(args[0], args[1], args[2]);
}
