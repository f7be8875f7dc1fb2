// Elementwise primitives: dtype rules (PyTorch promotion), broadcasting shape rule, gradient rules.
// Their scalar semantics live in scalar.ts; lowering is generic (loads -> casts -> scalar op).
import type { DType } from '../core/dtype.js';
import { promoteTypes } from '../core/dtype.js';
import { DTypeError } from '../core/errors.js';
import { broadcastShapes } from '../core/shape.js';
import type { ScalarOp } from './scalar.js';
import type { ElementwiseDef, Meta, OnnxRule, Vjp } from './types.js';

/** On bool operands arithmetic is logic: add/max are or, mul/min are and (as in PyTorch). */
const BOOL_FORMS: Partial<Record<ScalarOp, ScalarOp>> = { add: 'or', max: 'or', mul: 'and', min: 'and' };

const broadcastAll = (op: string, inputs: readonly Meta[]): number[] =>
  inputs.reduce<number[]>((s, m) => broadcastShapes(op, s, m.shape), []);
const promoted = (inputs: readonly Meta[]): DType => inputs.map((m) => m.dtype).reduce(promoteTypes);

// ONNX rules see the operands already cast to the dtypes the op computes in (operandDTypes).
/** One ONNX node of the same meaning. */
const onnxAs = (type: string): OnnxRule<unknown> => (e, ins) => e.node(type, ins)[0];
/** On bool operands the logic form (add is Or, mul is And), as in kiln's scalar ops. */
const onnxBool = (type: string, boolType: string): OnnxRule<unknown> => (e, ins, _a, m) => e.node(m.inputs[0].dtype === 'bool' ? boolType : type, ins)[0];
/** Rounding is the identity on integers. */
const onnxRound = (type: string): OnnxRule<unknown> => (e, ins, _a, m) => e.node(m.inputs[0].dtype === 'float32' ? type : 'Identity', ins)[0];
/** ONNX orders numbers, not bools: compare bools as int32. */
const onnxCompare = (type: string): OnnxRule<unknown> => (e, ins, _a, m) => {
  const xs = m.inputs[0].dtype === 'bool' ? ins.map((x) => e.node('Cast', [x], { to: { int: e.elemType('int32') } })[0]) : ins;
  return e.node(type, xs)[0];
};

function def(
  name: string, scalar: ScalarOp, operand: (ins: readonly Meta[]) => DType, result: (operand: DType) => DType, vjp: Vjp<unknown> | undefined, onnx: OnnxRule<unknown>,
): ElementwiseDef {
  return {
    kind: 'elementwise', name, scalar, vjp, onnx, scalarBool: BOOL_FORMS[scalar],
    operandDTypes: (ins) => ins.map(() => operand(ins)),
    infer: (ins) => {
      const shape = broadcastAll(name, ins);
      return { shape, dtype: result(operand(ins)) };
    },
  };
}

/** Arithmetic keeps the promoted type; `noBool` ops refuse bool operands (as torch does for sub/neg). */
const arith = (name: string, scalar: ScalarOp, vjp: Vjp<unknown> | undefined, onnx: OnnxRule<unknown>, noBool = false) =>
  def(name, scalar, (ins) => {
    const t = promoted(ins);
    if (noBool && t === 'bool') throw new DTypeError(`${name}: not supported for bool tensors, use logicalNot/logicalXor or cast with .to('int32')`);
    return t;
  }, (t) => t, vjp, onnx);
/** Transcendental and division ops compute in float32 whatever the input dtype. */
const floating = (name: string, scalar: ScalarOp, vjp: Vjp<unknown>, onnx: OnnxRule<unknown>) => def(name, scalar, () => 'float32', () => 'float32', vjp, onnx);
const compare = (name: string, scalar: ScalarOp, onnx: OnnxRule<unknown>) => def(name, scalar, promoted, () => 'bool', undefined, onnx);
const logical = (name: string, scalar: ScalarOp, onnx: OnnxRule<unknown>) => def(name, scalar, () => 'bool', () => 'bool', undefined, onnx);
/** Rounding ops are the identity on integers. */
const rounding = (name: string, scalar: ScalarOp, onnx: OnnxRule<unknown>) => def(name, scalar, (ins) => (ins[0].dtype === 'bool' ? 'int32' : ins[0].dtype), (t) => t, (g) => [g.mul(0)], onnx);

/** remainder takes the divisor's sign: Mod(fmod=0) on integers; on floats C's fmod, moved by b where signs differ. */
const onnxRemainder: OnnxRule<unknown> = (e, [a, b], _attrs, m) => {
  if (m.inputs[0].dtype !== 'float32') return e.node('Mod', [a, b], { fmod: { int: 0 } })[0];
  const [r] = e.node('Mod', [a, b], { fmod: { int: 1 } });
  const zero = e.scalar(0, 'float32');
  const [rNeg] = e.node('Less', [r, zero]), [bNeg] = e.node('Less', [b, zero]);
  const [nonzero] = e.node('Not', e.node('Equal', [r, zero]));
  const [differ] = e.node('And', [nonzero, e.node('Xor', [rNeg, bNeg])[0]]);
  return e.node('Where', [differ, e.node('Add', [r, b])[0], r])[0];
};

export const ELEMENTWISE = {
  // d(a+b) = da + db
  add: arith('add', 'add', (g) => [g, g], onnxBool('Add', 'Or')),
  // d(a-b) = da - db
  sub: arith('sub', 'sub', (g) => [g, g.neg()], onnxAs('Sub'), true),
  // d(ab) = b da + a db
  mul: arith('mul', 'mul', (g, c) => [c.needs(0) ? g.mul(c.input(1)) : null, c.needs(1) ? g.mul(c.input(0)) : null], onnxBool('Mul', 'And')),
  // d(a/b) = da/b - a/b² db
  div: floating('div', 'div', (g, c) => [c.needs(0) ? g.div(c.input(1)) : null, c.needs(1) ? g.neg().mul(c.output()).div(c.input(1)) : null], onnxAs('Div')),
  // d(a^b) = b a^(b-1) da + a^b ln(a) db
  pow: floating('pow', 'pow', (g, c) => [
    // The b·a^(b-1) term is 0 where b = 0 (not 0·0^-1 = NaN at a = 0).
    c.needs(0) ? g.mul(c.input(1)).mul(c.input(0).pow(c.input(1).sub(1))).where(c.input(1).ne(0), 0) : null,
    c.needs(1) ? g.mul(c.output()).mul(c.input(0).log()) : null,
  ], onnxAs('Pow')),
  // max/min: the gradient goes to the larger (smaller) operand, split evenly on ties.
  maximum: arith('maximum', 'max', (g, c) => {
    const [a, b] = [c.input(0), c.input(1)];
    const share = a.gt(b).to('float32').add(a.eq(b).to('float32').mul(0.5));
    return [g.mul(share), g.mul(share.neg().add(1))];
  }, onnxBool('Max', 'Or')),
  minimum: arith('minimum', 'min', (g, c) => {
    const [a, b] = [c.input(0), c.input(1)];
    const share = a.lt(b).to('float32').add(a.eq(b).to('float32').mul(0.5));
    return [g.mul(share), g.mul(share.neg().add(1))];
  }, onnxBool('Min', 'And')),
  // remainder(a, b) = a - floor(a/b) b
  remainder: arith('remainder', 'mod', (g, c) => [g, c.needs(1) ? g.neg().mul(c.input(0).div(c.input(1)).floor()) : null], onnxRemainder),
  lt: compare('lt', 'lt', onnxCompare('Less')),
  le: compare('le', 'le', onnxCompare('LessOrEqual')),
  eq: compare('eq', 'eq', onnxAs('Equal')),
  ne: compare('ne', 'ne', (e, ins) => e.node('Not', e.node('Equal', ins))[0]),
  logicalAnd: logical('logicalAnd', 'and', onnxAs('And')),
  logicalOr: logical('logicalOr', 'or', onnxAs('Or')),
  logicalNot: logical('logicalNot', 'not', onnxAs('Not')),
  // d(-a) = -da
  neg: arith('neg', 'neg', (g) => [g.neg()], onnxAs('Neg'), true),
  // d(1/a) = -1/a² da
  reciprocal: floating('reciprocal', 'recip', (g, c) => [g.neg().mul(c.output()).mul(c.output())], onnxAs('Reciprocal')),
  // d√a = da / (2√a)
  sqrt: floating('sqrt', 'sqrt', (g, c) => [g.div(c.output().mul(2))], onnxAs('Sqrt')),
  // d eᵃ = eᵃ da
  exp: floating('exp', 'exp', (g, c) => [g.mul(c.output())], onnxAs('Exp')),
  // d ln a = da / a
  log: floating('log', 'log', (g, c) => [g.div(c.input(0))], onnxAs('Log')),
  // d sin a = cos a da
  sin: floating('sin', 'sin', (g, c) => [g.mul(c.input(0).cos())], onnxAs('Sin')),
  // d cos a = -sin a da
  cos: floating('cos', 'cos', (g, c) => [g.neg().mul(c.input(0).sin())], onnxAs('Cos')),
  // d tanh a = (1 - tanh² a) da
  tanh: floating('tanh', 'tanh', (g, c) => [g.mul(c.output().mul(c.output()).neg().add(1))], onnxAs('Tanh')),
  // d erf a = 2/√π e^(-a²) da
  erf: floating('erf', 'erf', (g, c) => [g.mul(c.input(0).mul(c.input(0)).neg().exp().mul(2 / Math.sqrt(Math.PI)))], onnxAs('Erf')),
  // d|a| = sign(a) da
  abs: def('abs', 'abs', (ins) => ins[0].dtype, (t) => t, (g, c) => [g.mul(c.input(0).sign())], (e, ins, _a, m) => e.node(m.inputs[0].dtype === 'bool' ? 'Identity' : 'Abs', ins)[0]),
  sign: def('sign', 'sign', (ins) => (ins[0].dtype === 'bool' ? 'int32' : ins[0].dtype), (t) => t, (g) => [g.mul(0)], onnxAs('Sign')),
  // d relu(a) = da where a > 0 (and where a is NaN, as the value passes NaN through), else 0.
  relu: def('relu', 'relu', (ins) => {
    if (ins[0].dtype === 'bool') throw new DTypeError('relu: not supported for bool tensors; cast with .to(\'int32\') or .to(\'float32\')');
    return ins[0].dtype;
  }, (t) => t, (g, c) => [g.where(c.input(0).le(0).logicalNot(), 0)], onnxAs('Relu')),
  floor: rounding('floor', 'floor', onnxRound('Floor')),
  ceil: rounding('ceil', 'ceil', onnxRound('Ceil')),
  round: rounding('round', 'round', onnxRound('Round')),
  // where(c, a, b): the gradient flows to whichever operand was picked.
  where: {
    kind: 'elementwise', name: 'where', scalar: 'where',
    operandDTypes: (ins) => { const t = promoteTypes(ins[1].dtype, ins[2].dtype); return ['bool', t, t]; },
    infer: (ins) => ({ shape: broadcastAll('where', ins), dtype: promoteTypes(ins[1].dtype, ins[2].dtype) }),
    vjp: (g, c) => [null, g.where(c.input(0), 0), g.where(c.input(0).logicalNot(), 0)],
    // onnxruntime has no bool Where: pick bools with logic instead.
    onnx: (e, [c, a, b], _a, m) => (m.inputs[1].dtype !== 'bool' ? e.node('Where', [c, a, b])[0]
      : e.node('Or', [e.node('And', [c, a])[0], e.node('And', [e.node('Not', [c])[0], b])[0]])[0]),
  } satisfies ElementwiseDef,
  // Casting: gradients flow back only between float types.
  cast: {
    kind: 'elementwise', name: 'cast', scalar: 'cast',
    operandDTypes: (ins) => [ins[0].dtype],
    infer: (ins, a: { dtype: DType }) => ({ shape: [...ins[0].shape], dtype: a.dtype }),
    vjp: (g, c) => [c.inputMeta[0].dtype === 'float32' ? g.to('float32') : null],
    onnx: (e, ins, a) => e.node('Cast', ins, { to: { int: e.elemType(a.dtype) } })[0],
  } satisfies ElementwiseDef<{ dtype: DType }>,
  // Materialises a view into a fresh contiguous buffer.
  contiguous: {
    kind: 'elementwise', name: 'contiguous', scalar: 'copy',
    operandDTypes: (ins) => [ins[0].dtype],
    infer: (ins) => ({ shape: [...ins[0].shape], dtype: ins[0].dtype }),
    vjp: (g) => [g],
    onnx: onnxAs('Identity'),
  } satisfies ElementwiseDef,
} as const;
