// Elementwise primitives: dtype rules (PyTorch promotion), broadcasting shape rule, gradient rules.
// Their scalar semantics live in scalar.ts; lowering is generic (loads -> casts -> scalar op).
import type { DType } from '../core/dtype.js';
import { promoteTypes } from '../core/dtype.js';
import { DTypeError } from '../core/errors.js';
import { broadcastShapes } from '../core/shape.js';
import type { ScalarOp } from './scalar.js';
import type { ElementwiseDef, Meta, Vjp } from './types.js';

/** On bool operands arithmetic is logic: add/max are or, mul/min are and (as in PyTorch). */
const BOOL_FORMS: Partial<Record<ScalarOp, ScalarOp>> = { add: 'or', max: 'or', mul: 'and', min: 'and' };

const broadcastAll = (op: string, inputs: readonly Meta[]): number[] =>
  inputs.reduce<number[]>((s, m) => broadcastShapes(op, s, m.shape), []);
const promoted = (inputs: readonly Meta[]): DType => inputs.map((m) => m.dtype).reduce(promoteTypes);

function def(
  name: string, scalar: ScalarOp, operand: (ins: readonly Meta[]) => DType, result: (operand: DType) => DType, vjp?: Vjp<unknown>,
): ElementwiseDef {
  return {
    kind: 'elementwise', name, scalar, vjp, scalarBool: BOOL_FORMS[scalar],
    operandDTypes: (ins) => ins.map(() => operand(ins)),
    infer: (ins) => {
      const shape = broadcastAll(name, ins);
      return { shape, dtype: result(operand(ins)) };
    },
  };
}

/** Arithmetic keeps the promoted type; `noBool` ops refuse bool operands (as torch does for sub/neg). */
const arith = (name: string, scalar: ScalarOp, vjp?: Vjp<unknown>, noBool = false) =>
  def(name, scalar, (ins) => {
    const t = promoted(ins);
    if (noBool && t === 'bool') throw new DTypeError(`${name}: not supported for bool tensors, use logicalNot/logicalXor or cast with .to('int32')`);
    return t;
  }, (t) => t, vjp);
/** Transcendental and division ops compute in float32 whatever the input dtype. */
const floating = (name: string, scalar: ScalarOp, vjp: Vjp<unknown>) => def(name, scalar, () => 'float32', () => 'float32', vjp);
const compare = (name: string, scalar: ScalarOp) => def(name, scalar, promoted, () => 'bool');
const logical = (name: string, scalar: ScalarOp) => def(name, scalar, () => 'bool', () => 'bool');
/** Rounding ops are the identity on integers. */
const rounding = (name: string, scalar: ScalarOp) => def(name, scalar, (ins) => (ins[0].dtype === 'bool' ? 'int32' : ins[0].dtype), (t) => t, (g) => [g.mul(0)]);

export const ELEMENTWISE = {
  // d(a+b) = da + db
  add: arith('add', 'add', (g) => [g, g]),
  // d(a-b) = da - db
  sub: arith('sub', 'sub', (g) => [g, g.neg()], true),
  // d(ab) = b da + a db
  mul: arith('mul', 'mul', (g, c) => [c.needs(0) ? g.mul(c.input(1)) : null, c.needs(1) ? g.mul(c.input(0)) : null]),
  // d(a/b) = da/b - a/b² db
  div: floating('div', 'div', (g, c) => [c.needs(0) ? g.div(c.input(1)) : null, c.needs(1) ? g.neg().mul(c.output()).div(c.input(1)) : null]),
  // d(a^b) = b a^(b-1) da + a^b ln(a) db
  pow: floating('pow', 'pow', (g, c) => [
    // The b·a^(b-1) term is 0 where b = 0 (not 0·0^-1 = NaN at a = 0).
    c.needs(0) ? g.mul(c.input(1)).mul(c.input(0).pow(c.input(1).sub(1))).where(c.input(1).ne(0), 0) : null,
    c.needs(1) ? g.mul(c.output()).mul(c.input(0).log()) : null,
  ]),
  // max/min: the gradient goes to the larger (smaller) operand, split evenly on ties.
  maximum: arith('maximum', 'max', (g, c) => {
    const [a, b] = [c.input(0), c.input(1)];
    const share = a.gt(b).to('float32').add(a.eq(b).to('float32').mul(0.5));
    return [g.mul(share), g.mul(share.neg().add(1))];
  }),
  minimum: arith('minimum', 'min', (g, c) => {
    const [a, b] = [c.input(0), c.input(1)];
    const share = a.lt(b).to('float32').add(a.eq(b).to('float32').mul(0.5));
    return [g.mul(share), g.mul(share.neg().add(1))];
  }),
  // remainder(a, b) = a - floor(a/b) b
  remainder: arith('remainder', 'mod', (g, c) => [g, c.needs(1) ? g.neg().mul(c.input(0).div(c.input(1)).floor()) : null]),
  lt: compare('lt', 'lt'),
  le: compare('le', 'le'),
  eq: compare('eq', 'eq'),
  ne: compare('ne', 'ne'),
  logicalAnd: logical('logicalAnd', 'and'),
  logicalOr: logical('logicalOr', 'or'),
  logicalNot: logical('logicalNot', 'not'),
  // d(-a) = -da
  neg: arith('neg', 'neg', (g) => [g.neg()], true),
  // d(1/a) = -1/a² da
  reciprocal: floating('reciprocal', 'recip', (g, c) => [g.neg().mul(c.output()).mul(c.output())]),
  // d√a = da / (2√a)
  sqrt: floating('sqrt', 'sqrt', (g, c) => [g.div(c.output().mul(2))]),
  // d eᵃ = eᵃ da
  exp: floating('exp', 'exp', (g, c) => [g.mul(c.output())]),
  // d ln a = da / a
  log: floating('log', 'log', (g, c) => [g.div(c.input(0))]),
  // d sin a = cos a da
  sin: floating('sin', 'sin', (g, c) => [g.mul(c.input(0).cos())]),
  // d cos a = -sin a da
  cos: floating('cos', 'cos', (g, c) => [g.neg().mul(c.input(0).sin())]),
  // d tanh a = (1 - tanh² a) da
  tanh: floating('tanh', 'tanh', (g, c) => [g.mul(c.output().mul(c.output()).neg().add(1))]),
  // d erf a = 2/√π e^(-a²) da
  erf: floating('erf', 'erf', (g, c) => [g.mul(c.input(0).mul(c.input(0)).neg().exp().mul(2 / Math.sqrt(Math.PI)))]),
  // d|a| = sign(a) da
  abs: def('abs', 'abs', (ins) => ins[0].dtype, (t) => t, (g, c) => [g.mul(c.input(0).sign())]),
  sign: def('sign', 'sign', (ins) => (ins[0].dtype === 'bool' ? 'int32' : ins[0].dtype), (t) => t, (g) => [g.mul(0)]),
  // d relu(a) = da where a > 0 (and where a is NaN, as the value passes NaN through), else 0.
  relu: def('relu', 'relu', (ins) => {
    if (ins[0].dtype === 'bool') throw new DTypeError('relu: not supported for bool tensors; cast with .to(\'int32\') or .to(\'float32\')');
    return ins[0].dtype;
  }, (t) => t, (g, c) => [g.where(c.input(0).le(0).logicalNot(), 0)]),
  floor: rounding('floor', 'floor'),
  ceil: rounding('ceil', 'ceil'),
  round: rounding('round', 'round'),
  // where(c, a, b): the gradient flows to whichever operand was picked.
  where: {
    kind: 'elementwise', name: 'where', scalar: 'where',
    operandDTypes: (ins) => { const t = promoteTypes(ins[1].dtype, ins[2].dtype); return ['bool', t, t]; },
    infer: (ins) => ({ shape: broadcastAll('where', ins), dtype: promoteTypes(ins[1].dtype, ins[2].dtype) }),
    vjp: (g, c) => [null, g.where(c.input(0), 0), g.where(c.input(0).logicalNot(), 0)],
  } satisfies ElementwiseDef,
  // Casting: gradients flow back only between float types.
  cast: {
    kind: 'elementwise', name: 'cast', scalar: 'cast',
    operandDTypes: (ins) => [ins[0].dtype],
    infer: (ins, a: { dtype: DType }) => ({ shape: [...ins[0].shape], dtype: a.dtype }),
    vjp: (g, c) => [c.inputMeta[0].dtype === 'float32' ? g.to('float32') : null],
  } satisfies ElementwiseDef<{ dtype: DType }>,
  // Materialises a view into a fresh contiguous buffer.
  contiguous: {
    kind: 'elementwise', name: 'contiguous', scalar: 'copy',
    operandDTypes: (ins) => [ins[0].dtype],
    infer: (ins) => ({ shape: [...ins[0].shape], dtype: ins[0].dtype }),
    vjp: (g) => [g],
  } satisfies ElementwiseDef,
} as const;
