// Function forms of the tensor methods (kiln.add(a, b), kiln.softmax(x, -1), ...), accepting JS
// scalars wherever a tensor is, as torch.* does.
import { checkScalar } from './core/validate.js';
import { Tensor, expectTensor, type Dims, type TensorLike } from './tensor.js';
import { tensor } from './creation.js';
import * as F from './functional.js';
import type { ValuesIndices } from './tensor-ops.js';

/** An operand of `op` as a tensor: tensors pass, numbers and booleans become scalars (else a KilnError). */
function asTensor(op: string, x: TensorLike, like?: TensorLike): Tensor {
  if (x instanceof Tensor) return x;
  checkScalar(op, 'the operand', x);
  if (like instanceof Tensor) return like._scalar(x, op);
  return tensor(x);
}
const bin = (op: string, m: (a: Tensor, b: TensorLike) => Tensor) => (a: TensorLike, b: TensorLike): Tensor => {
  if (!(b instanceof Tensor)) checkScalar(op, 'the second operand', b);
  return m(asTensor(op, a, b), b);
};
const un = (op: string, m: (a: Tensor) => Tensor) => (a: TensorLike): Tensor => m(asTensor(op, a));
/** A function form whose first argument must be a tensor. */
const on = <F extends (x: Tensor, ...rest: any[]) => unknown>(op: string, m: F): F =>
  ((x: Tensor, ...rest: unknown[]) => m(expectTensor(op, 'the input', x), ...rest)) as F;

export const add = bin('add', (a, b) => a.add(b));
export const sub = bin('sub', (a, b) => a.sub(b));
export const mul = bin('mul', (a, b) => a.mul(b));
export const div = bin('div', (a, b) => a.div(b));
export const pow = bin('pow', (a, b) => a.pow(b));
export const remainder = bin('remainder', (a, b) => a.remainder(b));
export const maximum = bin('maximum', (a, b) => a.maximum(b));
export const minimum = bin('minimum', (a, b) => a.minimum(b));
export const eq = bin('eq', (a, b) => a.eq(b));
export const ne = bin('ne', (a, b) => a.ne(b));
export const lt = bin('lt', (a, b) => a.lt(b));
export const le = bin('le', (a, b) => a.le(b));
export const gt = bin('gt', (a, b) => a.gt(b));
export const ge = bin('ge', (a, b) => a.ge(b));
export const logicalAnd = bin('logicalAnd', (a, b) => a.logicalAnd(b));
export const logicalOr = bin('logicalOr', (a, b) => a.logicalOr(b));
export const logicalNot = un('logicalNot', (a) => a.logicalNot());
export const neg = un('neg', (a) => a.neg());
export const abs = un('abs', (a) => a.abs());
export const exp = un('exp', (a) => a.exp());
export const log = un('log', (a) => a.log());
export const sqrt = un('sqrt', (a) => a.sqrt());
export const rsqrt = un('rsqrt', (a) => a.rsqrt());
export const sin = un('sin', (a) => a.sin());
export const cos = un('cos', (a) => a.cos());
export const tanh = un('tanh', (a) => a.tanh());
export const erf = un('erf', (a) => a.erf());
export const floor = un('floor', (a) => a.floor());
export const ceil = un('ceil', (a) => a.ceil());
export const round = un('round', (a) => a.round());
export const sign = un('sign', (a) => a.sign());
export const reciprocal = un('reciprocal', (a) => a.reciprocal());
export const sigmoid = un('sigmoid', (a) => a.sigmoid());
export const relu = un('relu', (a) => a.relu());
export const silu = un('silu', (a) => a.silu());
export const log1p = on('log1p', F.log1p);
export const gelu = on('gelu', (x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor => x.gelu(approximate));
export const softplus = on('softplus', (x: Tensor, beta = 1, threshold = 20): Tensor => x.softplus(beta, threshold));
export const clamp = on('clamp', (x: Tensor, min?: number | null, max?: number | null): Tensor => x.clamp(min, max));
/** where(cond, a, b): a where cond is true, else b. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  expectTensor('where', 'the condition', cond);
  return F.where(cond, a, b);
}

export const sum = on('sum', (x: Tensor, dim?: Dims, keepdim = false): Tensor => x.sum(dim, keepdim));
export const mean = on('mean', (x: Tensor, dim?: Dims, keepdim = false): Tensor => x.mean(dim, keepdim));
/** torch.max: the largest element, or along `dim` the largest values and their indices. */
export function max(x: Tensor): Tensor;
export function max(x: Tensor, dim: number, keepdim?: boolean): ValuesIndices;
export function max(x: Tensor, dim?: number, keepdim = false): Tensor | ValuesIndices {
  expectTensor('max', 'the input', x);
  return dim === undefined ? x.max() : x.max(dim, keepdim);
}
/** torch.min: the smallest element, or along `dim` the smallest values and their indices. */
export function min(x: Tensor): Tensor;
export function min(x: Tensor, dim: number, keepdim?: boolean): ValuesIndices;
export function min(x: Tensor, dim?: number, keepdim = false): Tensor | ValuesIndices {
  expectTensor('min', 'the input', x);
  return dim === undefined ? x.min() : x.min(dim, keepdim);
}
export const amax = on('amax', (x: Tensor, dim?: Dims, keepdim = false): Tensor => x.amax(dim, keepdim));
export const amin = on('amin', (x: Tensor, dim?: Dims, keepdim = false): Tensor => x.amin(dim, keepdim));
export const prod = on('prod', (x: Tensor, dim?: Dims, keepdim = false): Tensor => x.prod(dim, keepdim));
export const argmax = on('argmax', (x: Tensor, dim?: number, keepdim = false): Tensor => x.argmax(dim, keepdim));
export const argmin = on('argmin', (x: Tensor, dim?: number, keepdim = false): Tensor => x.argmin(dim, keepdim));
export const variance = on('var', (x: Tensor, dim?: Dims, keepdim = false, correction = 1): Tensor => x.var(dim, keepdim, correction));
export { variance as var };
export const std = on('std', (x: Tensor, dim?: Dims, keepdim = false, correction = 1): Tensor => x.std(dim, keepdim, correction));
export const logsumexp = on('logsumexp', (x: Tensor, dim?: Dims, keepdim = false): Tensor => x.logsumexp(dim, keepdim));
export const softmax = on('softmax', (x: Tensor, dim = -1): Tensor => x.softmax(dim));
export const logSoftmax = on('logSoftmax', (x: Tensor, dim = -1): Tensor => x.logSoftmax(dim));
export const matmul = (a: Tensor, b: Tensor): Tensor => F.matmul(a, b);
export const layerNorm = F.layerNorm;

export const reshape = on('reshape', (x: Tensor, shape: readonly number[]): Tensor => x.reshape(shape));
export const flatten = on('flatten', (x: Tensor, startDim = 0, endDim = -1): Tensor => x.flatten(startDim, endDim));
export const squeeze = on('squeeze', (x: Tensor, dim?: Dims): Tensor => x.squeeze(dim));
export const unsqueeze = on('unsqueeze', (x: Tensor, dim: number): Tensor => x.unsqueeze(dim));
export const transpose = on('transpose', (x: Tensor, d0: number, d1: number): Tensor => x.transpose(d0, d1));
export const permute = on('permute', (x: Tensor, order: readonly number[]): Tensor => x.permute(order));
export const expand = on('expand', (x: Tensor, shape: readonly number[]): Tensor => x.expand(shape));
export const slice = on('slice', (x: Tensor, specs: Parameters<Tensor['slice']>[0]): Tensor => x.slice(specs));
export const narrow = on('narrow', (x: Tensor, dim: number, start: number, length: number): Tensor => x.narrow(dim, start, length));
export const flip = on('flip', (x: Tensor, dims: Dims): Tensor => x.flip(dims));
export const contiguous = on('contiguous', (x: Tensor): Tensor => x.contiguous());
export const gather = on('gather', (x: Tensor, dim: number, index: Tensor): Tensor => x.gather(dim, index));
export const indexSelect = on('indexSelect', (x: Tensor, dim: number, index: Tensor): Tensor => x.indexSelect(dim, index));
export const pad = on('pad', F.pad);
export const cat = F.cat;
export const stack = F.stack;
export const split = on('split', F.split);
export const embedding = F.embedding;
export const dropout = on('dropout', F.dropout);
