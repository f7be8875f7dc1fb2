// Pointwise ONNX ops: arithmetic, comparisons, logic, activations and the maths functions kiln lacks
// as primitives (atan, asin, sinh ...), written as compositions.
import * as A from '../../activations.js';
import * as F from '../../functional.js';
import type { Tensor } from '../../tensor.js';
import { ElemType, isFloatType } from '../host.js';
import { hostMap } from '../host-ops.js';
import { register, type OpContext, type OpHandler } from '../registry.js';
import { isInt, simple, unary } from './util.js';

const HALF_PI = Math.PI / 2;

/** atan on [-1, 1] by a minimax polynomial (|error| < 2e-7 rad), extended by atan(x) = ±π/2 − atan(1/x). */
export function atan(x: Tensor): Tensor {
  const big = x.abs().gt(1);
  const r = x.where(big.logicalNot(), x.reciprocal()); // |r| <= 1
  const r2 = r.mul(r);
  const coeffs = [-0.0040540580, 0.0218612288, -0.0559098861, 0.0964200441, -0.1390853351, 0.1994653599, -0.3332985605, 0.9999993329];
  let p = r2.mul(0).add(coeffs[0]);
  for (const c of coeffs.slice(1)) p = p.mul(r2).add(c);
  const small = p.mul(r);
  return small.where(big.logicalNot(), x.sign().mul(HALF_PI).sub(small));
}
const asin = (x: Tensor) => atan(x.div(x.mul(x).neg().add(1).sqrt()));
const acos = (x: Tensor) => asin(x).neg().add(HALF_PI);
const sinh = (x: Tensor) => x.exp().sub(x.neg().exp()).mul(0.5);
const cosh = (x: Tensor) => x.exp().add(x.neg().exp()).mul(0.5);
// asinh(x) = sign(x)·ln(|x| + √(x² + 1)): the odd form keeps precision for negative x.
const asinh = (x: Tensor) => x.abs().add(x.mul(x).add(1).sqrt()).log().mul(x.sign());
const acosh = (x: Tensor) => x.add(x.mul(x).sub(1).sqrt()).log();
const atanh = (x: Tensor) => x.add(1).div(x.neg().add(1)).log().mul(0.5);

/** ONNX's legacy broadcast (opset < 7): B's dims align with A's starting at `axis`. */
function legacyOperands(ctx: OpContext): [Tensor, Tensor] {
  const a = ctx.tensor(0);
  let b = ctx.tensor(1);
  if (ctx.opset < 7 && ctx.attrs.int('broadcast', 0) === 1 && ctx.attrs.has('axis')) {
    const axis = ctx.attrs.int('axis');
    const start = axis < 0 ? axis + a.ndim : axis;
    const trailing = a.ndim - start - b.ndim;
    if (trailing > 0) b = b.reshape([...b.shape, ...Array.from({ length: trailing }, () => 1)]);
  }
  return [a, b];
}

/** A binary op with numpy broadcasting (and opset < 7's explicit broadcast), plus a host form. */
function binary(f: (a: Tensor, b: Tensor, ctx: OpContext) => Tensor, host?: (a: number, b: number) => number, hostType?: (t: number) => number): OpHandler[] {
  const run = (ctx: OpContext) => { const [a, b] = legacyOperands(ctx); return [f(a, b, ctx)]; };
  const hostFn = host && ((ctx: OpContext) => {
    if (ctx.opset < 7 && ctx.attrs.int('broadcast', 0) === 1) return null;
    const a = ctx.host(0), b = ctx.host(1);
    // Float maths stays in kiln (float32 rounding); the host computes integer shape arithmetic only.
    if (isFloatType(a.type) || isFloatType(b.type)) return null;
    return [hostMap(ctx.opType, [a, b], host, hostType ? hostType(a.type) : a.type)];
  });
  return [{ since: 1, run, host: hostFn }, { since: 7, run, host: hostFn }];
}

/** ONNX integer division truncates toward zero; float division is kiln's. */
function divide(a: Tensor, b: Tensor): Tensor {
  if (!isInt(a) || !isInt(b)) return a.div(b);
  const q = a.div(b);
  return q.floor().where(q.ge(0), q.ceil()).to('int32');
}

/** Pow keeps the base's type (an integer base gives integers). */
function power(a: Tensor, b: Tensor): Tensor {
  const p = a.pow(b);
  return isInt(a) ? p.round().to('int32') : p;
}

/** Mod: fmod=0 is Python's (sign of the divisor, kiln's remainder), fmod=1 is C's (sign of the dividend). */
function modulo(a: Tensor, b: Tensor, ctx: OpContext): Tensor {
  const r = a.remainder(b);
  if (ctx.attrs.int('fmod', 0) === 0) return r;
  const flip = r.ne(0).logicalAnd(r.lt(0).ne(a.lt(0)));
  return r.where(flip.logicalNot(), r.sub(b));
}

const bool = () => ElemType.BOOL;
for (const [name, f, host, type] of [
  ['Add', (a: Tensor, b: Tensor) => a.add(b), (x: number, y: number) => x + y],
  ['Sub', (a: Tensor, b: Tensor) => a.sub(b), (x: number, y: number) => x - y],
  ['Mul', (a: Tensor, b: Tensor) => a.mul(b), (x: number, y: number) => x * y],
  ['Div', divide, (x: number, y: number) => Math.trunc(x / y)],
  ['Pow', power, undefined],
  ['Mod', modulo, undefined],
  ['Equal', (a: Tensor, b: Tensor) => a.eq(b), (x: number, y: number) => Number(x === y), bool],
  ['Less', (a: Tensor, b: Tensor) => a.lt(b), (x: number, y: number) => Number(x < y), bool],
  ['Greater', (a: Tensor, b: Tensor) => a.gt(b), (x: number, y: number) => Number(x > y), bool],
  ['LessOrEqual', (a: Tensor, b: Tensor) => a.le(b), (x: number, y: number) => Number(x <= y), bool],
  ['GreaterOrEqual', (a: Tensor, b: Tensor) => a.ge(b), (x: number, y: number) => Number(x >= y), bool],
  ['And', (a: Tensor, b: Tensor) => a.logicalAnd(b), (x: number, y: number) => Number(x && y), bool],
  ['Or', (a: Tensor, b: Tensor) => a.logicalOr(b), (x: number, y: number) => Number(x || y), bool],
  ['Xor', (a: Tensor, b: Tensor) => a.ne(b), (x: number, y: number) => Number(!x !== !y), bool],
] as const) register(name, ...binary(f as (a: Tensor, b: Tensor, ctx: OpContext) => Tensor, host, type));

/** Variadic Max/Min/Sum/Mean (broadcasting since opset 8). */
function variadic(f: (a: Tensor, b: Tensor) => Tensor, finish?: (x: Tensor, n: number) => Tensor): OpHandler {
  return simple(1, (ctx) => {
    let acc = ctx.tensor(0);
    for (let i = 1; i < ctx.inputCount; i++) acc = f(acc, ctx.tensor(i));
    return finish ? finish(acc, ctx.inputCount) : acc;
  });
}
register('Max', variadic((a, b) => a.maximum(b)));
register('Min', variadic((a, b) => a.minimum(b)));
register('Sum', variadic((a, b) => a.add(b)));
register('Mean', variadic((a, b) => a.add(b), (x, n) => x.div(n)));

register('Where', {
  since: 9,
  run: (ctx) => [F.where(ctx.tensor(0), ctx.tensor(1), ctx.tensor(2))],
  host: (ctx) => {
    const [c, a, b] = [ctx.host(0), ctx.host(1), ctx.host(2)];
    if (isFloatType(a.type)) return null;
    return [hostMap('Where', [c, a, b], (x, y, z) => (x ? y : z), a.type)];
  },
});

register('Not', { since: 1, run: (ctx) => [ctx.tensor(0).logicalNot()], host: (ctx) => [hostMap('Not', [ctx.host(0)], (x) => Number(!x), ElemType.BOOL)] });
register('Neg', { since: 1, run: (ctx) => [ctx.tensor(0).neg()], host: (ctx) => (isFloatType(ctx.host(0).type) ? null : [hostMap('Neg', [ctx.host(0)], (x) => -x, ctx.host(0).type)]) });
register('Abs', { since: 1, run: (ctx) => [ctx.tensor(0).abs()], host: (ctx) => (isFloatType(ctx.host(0).type) ? null : [hostMap('Abs', [ctx.host(0)], Math.abs, ctx.host(0).type)]) });

const UNARY: Record<string, (x: Tensor, ctx: OpContext) => Tensor> = {
  Exp: (x) => x.exp(),
  Log: (x) => x.log(),
  Sqrt: (x) => x.sqrt(),
  Reciprocal: (x) => x.reciprocal(),
  Sin: (x) => x.sin(),
  Cos: (x) => x.cos(),
  Tan: (x) => x.sin().div(x.cos()),
  Tanh: (x) => x.tanh(),
  Asin: asin,
  Acos: acos,
  Atan: atan,
  Sinh: sinh,
  Cosh: cosh,
  Asinh: asinh,
  Acosh: acosh,
  Atanh: atanh,
  Erf: (x) => x.erf(),
  Sigmoid: (x) => x.sigmoid(),
  Relu: (x) => x.relu(),
  Floor: (x) => x.floor(),
  Ceil: (x) => x.ceil(),
  Round: (x) => x.round(),
  Sign: (x) => x.sign(),
  Softsign: (x) => A.softsign(x),
  // ln(1 + eˣ), linear for large x (kiln's threshold form).
  Softplus: (x) => x.softplus(1, 20),
  Mish: (x) => A.mish(x),
  IsNaN: (x) => x.ne(x),
  Elu: (x, c) => A.elu(x, c.attrs.float('alpha', 1)),
  Selu: (x, c) => A.elu(x, c.attrs.float('alpha', 1.67326319217681884765625)).mul(c.attrs.float('gamma', 1.05070102214813232421875)),
  // max(0, x) + min(0, α(e^(x/α) − 1))
  Celu: (x, c) => { const a = c.attrs.float('alpha', 1); return A.elu(x.div(a), 1).mul(a); },
  LeakyRelu: (x, c) => A.leakyRelu(x, c.attrs.float('alpha', 0.01)),
  ThresholdedRelu: (x, c) => x.where(x.gt(c.attrs.float('alpha', 1)), 0),
  HardSigmoid: (x, c) => x.mul(c.attrs.float('alpha', 0.2)).add(c.attrs.float('beta', 0.5)).clamp(0, 1),
  HardSwish: (x) => x.mul(x.div(6).add(0.5).clamp(0, 1)),
  Shrink: (x, c) => {
    const lambd = c.attrs.float('lambd', 0.5), bias = c.attrs.float('bias', 0);
    return x.add(bias).where(x.lt(-lambd), x.sub(bias).where(x.gt(lambd), 0)).to(x.dtype);
  },
  Gelu: (x, c) => x.gelu(c.attrs.string('approximate', 'none') === 'tanh' ? 'tanh' : 'none'),
};
for (const [name, f] of Object.entries(UNARY)) register(name, unary(1, f));

register('IsInf', unary(10, (x, c) => {
  const neg = c.attrs.int('detect_negative', 1) === 1, pos = c.attrs.int('detect_positive', 1) === 1;
  const p = x.eq(Infinity), n = x.eq(-Infinity);
  return pos && neg ? p.logicalOr(n) : pos ? p : neg ? n : x.ne(x).logicalAnd(x.eq(x));
}));

// PRelu: slope broadcasts to x (unidirectionally); before opset 7 a 1-D slope is one per channel.
register('PRelu', simple(1, (ctx) => {
  const x = ctx.tensor(0);
  let slope = ctx.tensor(1);
  if (ctx.opset < 7 && slope.ndim === 1 && x.ndim > 2 && slope.shape[0] === x.shape[1]) slope = slope.reshape([slope.shape[0], ...x.shape.slice(2).map(() => 1)]);
  return x.where(x.gt(0), x.mul(slope));
}));

/** Clip: bounds as attributes before opset 11, as optional inputs after (tensors, so they may be parameters). */
register('Clip',
  unary(1, (x, c) => x.clamp(c.attrs.float('min', -3.4028234663852886e38), c.attrs.float('max', 3.4028234663852886e38))),
  simple(11, (ctx) => {
    let x = ctx.tensor(0);
    // Compare so NaN stays NaN, as Clip and torch.clamp do.
    if (ctx.has(1)) { const lo = ctx.tensor(1); x = x.where(x.lt(lo).logicalNot(), lo.to(x.dtype)); }
    if (ctx.has(2)) { const hi = ctx.tensor(2); x = x.where(x.gt(hi).logicalNot(), hi.to(x.dtype)); }
    return x;
  }),
);
