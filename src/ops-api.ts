// Function forms of the tensor methods (kiln.add(a, b), kiln.softmax(x, -1), ...), accepting JS
// scalars wherever a tensor is, as torch.* does.
import { KilnError } from './core/errors.js';
import { Tensor, type Dims, type TensorLike } from './tensor.js';
import { tensor } from './creation.js';
import * as F from './functional.js';

function asTensor(x: TensorLike, like?: TensorLike): Tensor {
  if (x instanceof Tensor) return x;
  if (like instanceof Tensor) return like._scalar(x);
  return tensor(x);
}
const bin = (m: (a: Tensor, b: TensorLike) => Tensor) => (a: TensorLike, b: TensorLike): Tensor => m(asTensor(a, b), b);
const un = (m: (a: Tensor) => Tensor) => (a: TensorLike): Tensor => m(asTensor(a));

export const add = bin((a, b) => a.add(b));
export const sub = bin((a, b) => a.sub(b));
export const mul = bin((a, b) => a.mul(b));
export const div = bin((a, b) => a.div(b));
export const pow = bin((a, b) => a.pow(b));
export const remainder = bin((a, b) => a.remainder(b));
export const maximum = bin((a, b) => a.maximum(b));
export const minimum = bin((a, b) => a.minimum(b));
export const eq = bin((a, b) => a.eq(b));
export const ne = bin((a, b) => a.ne(b));
export const lt = bin((a, b) => a.lt(b));
export const le = bin((a, b) => a.le(b));
export const gt = bin((a, b) => a.gt(b));
export const ge = bin((a, b) => a.ge(b));
export const logicalAnd = bin((a, b) => a.logicalAnd(b));
export const logicalOr = bin((a, b) => a.logicalOr(b));
export const logicalNot = un((a) => a.logicalNot());
export const neg = un((a) => a.neg());
export const abs = un((a) => a.abs());
export const exp = un((a) => a.exp());
export const log = un((a) => a.log());
export const sqrt = un((a) => a.sqrt());
export const rsqrt = un((a) => a.rsqrt());
export const sin = un((a) => a.sin());
export const cos = un((a) => a.cos());
export const tanh = un((a) => a.tanh());
export const erf = un((a) => a.erf());
export const floor = un((a) => a.floor());
export const ceil = un((a) => a.ceil());
export const round = un((a) => a.round());
export const sign = un((a) => a.sign());
export const reciprocal = un((a) => a.reciprocal());
export const sigmoid = un((a) => a.sigmoid());
export const relu = un((a) => a.relu());
export const silu = un((a) => a.silu());
export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor => x.gelu(approximate);
export const softplus = (x: Tensor, beta = 1, threshold = 20): Tensor => x.softplus(beta, threshold);
export const clamp = (x: Tensor, min?: number | null, max?: number | null): Tensor => x.clamp(min, max);
/** where(cond, a, b): a where cond is true, else b. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  if (!(cond instanceof Tensor)) throw new KilnError('where: condition must be a tensor');
  return F.where(cond, a, b);
}

export const sum = (x: Tensor, dim?: Dims, keepdim = false): Tensor => x.sum(dim, keepdim);
export const mean = (x: Tensor, dim?: Dims, keepdim = false): Tensor => x.mean(dim, keepdim);
export const max = (x: Tensor, dim?: Dims, keepdim = false): Tensor => x.max(dim, keepdim);
export const min = (x: Tensor, dim?: Dims, keepdim = false): Tensor => x.min(dim, keepdim);
export const prod = (x: Tensor, dim?: Dims, keepdim = false): Tensor => x.prod(dim, keepdim);
export const argmax = (x: Tensor, dim?: number, keepdim = false): Tensor => x.argmax(dim, keepdim);
export const argmin = (x: Tensor, dim?: number, keepdim = false): Tensor => x.argmin(dim, keepdim);
export const variance = (x: Tensor, dim?: Dims, keepdim = false, correction = 1): Tensor => x.var(dim, keepdim, correction);
export { variance as var };
export const std = (x: Tensor, dim?: Dims, keepdim = false, correction = 1): Tensor => x.std(dim, keepdim, correction);
export const logsumexp = (x: Tensor, dim?: Dims, keepdim = false): Tensor => x.logsumexp(dim, keepdim);
export const softmax = (x: Tensor, dim = -1): Tensor => x.softmax(dim);
export const logSoftmax = (x: Tensor, dim = -1): Tensor => x.logSoftmax(dim);
export const matmul = (a: Tensor, b: Tensor): Tensor => F.matmul(a, b);
export const layerNorm = F.layerNorm;

export const reshape = (x: Tensor, shape: readonly number[]): Tensor => x.reshape(shape);
export const flatten = (x: Tensor, startDim = 0, endDim = -1): Tensor => x.flatten(startDim, endDim);
export const squeeze = (x: Tensor, dim?: Dims): Tensor => x.squeeze(dim);
export const unsqueeze = (x: Tensor, dim: number): Tensor => x.unsqueeze(dim);
export const transpose = (x: Tensor, d0: number, d1: number): Tensor => x.transpose(d0, d1);
export const permute = (x: Tensor, order: readonly number[]): Tensor => x.permute(order);
export const expand = (x: Tensor, shape: readonly number[]): Tensor => x.expand(shape);
export const slice = (x: Tensor, specs: Parameters<Tensor['slice']>[0]): Tensor => x.slice(specs);
export const narrow = (x: Tensor, dim: number, start: number, length: number): Tensor => x.narrow(dim, start, length);
export const flip = (x: Tensor, dims: Dims): Tensor => x.flip(dims);
export const contiguous = (x: Tensor): Tensor => x.contiguous();
export const gather = (x: Tensor, dim: number, index: Tensor): Tensor => x.gather(dim, index);
export const indexSelect = (x: Tensor, dim: number, index: Tensor): Tensor => x.indexSelect(dim, index);
export const pad = F.pad;
export const cat = F.cat;
export const stack = F.stack;
export const split = F.split;
export const embedding = F.embedding;
export const dropout = F.dropout;
