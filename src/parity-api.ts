// Function forms of torch's everyday ops (torch.tril, torch.cumsum, torch.einsum, ...), re-exported on
// `kiln`; the tensor methods of the same names call the same composites.
import { expectTensor, type Tensor, type TensorLike } from './tensor.js';
import * as TO from './tensor-ops.js';
import type { IndexAddOptions, IndexPutOptions } from './scatter.js';

export {
  maskedFill, tril, triu, oneHot, repeat, tile, chunk, roll, diag, diagonal, outer, lerp, addmm, baddbmm,
  isnan, isinf, isfinite, isclose, allclose, allcloseAsync, nanToNum, norm,
} from './tensor-ops.js';
export type { ValuesIndices, ScaleOptions, CloseOptions, NanToNumOptions, VectorNormOptions } from './tensor-ops.js';
export { scatter, scatterAdd, indexAdd, indexPut } from './scatter.js';
export type { IndexAddOptions, IndexPutOptions } from './scatter.js';
export { cumsum, cumprod } from './scan.js';
export { sort, argsort, topk } from './sorting.js';
export type { SortOptions, TopkOptions } from './sorting.js';
export { einsum } from './einsum.js';
export { scaledDotProductAttention } from './attention.js';
export type { AttentionOptions } from './attention.js';
export { multinomial, randperm, empty, emptyLike } from './sampling.js';
export type { MultinomialOptions, RandpermOptions, EmptyOptions } from './sampling.js';

/** torch.masked_fill's in-place form. */
export const maskedFill_ = (x: Tensor, mask: Tensor, value: TensorLike): Tensor => expectTensor('maskedFill_', 'the input', x).maskedFill_(mask, value);

/** The in-place forms of torch.scatter, scatter_add, index_add and index_put. */
export const scatter_ = (x: Tensor, dim: number, index: Tensor, src: Tensor | number): Tensor => expectTensor('scatter_', 'the input', x).scatter_(dim, index, src);
export const scatterAdd_ = (x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor => expectTensor('scatterAdd_', 'the input', x).scatterAdd_(dim, index, src);
export const indexAdd_ = (x: Tensor, dim: number, index: Tensor, source: Tensor, options?: IndexAddOptions): Tensor =>
  expectTensor('indexAdd_', 'the input', x).indexAdd_(dim, index, source, options);
export const indexPut_ = (x: Tensor, indices: readonly Tensor[], values: Tensor | number, options?: IndexPutOptions): Tensor =>
  expectTensor('indexPut_', 'the input', x).indexPut_(indices, values, options);

/** torch.linalg: vector norms. */
export const linalg = {
  /** torch.linalg.vector_norm(x, ord, dim, keepdim) with the keywords as an options object. */
  vectorNorm: TO.vectorNorm,
  /** torch.linalg.norm for vectors: the 2-norm over all (or the given) dims. */
  norm: (x: Tensor, ord?: number, dim?: number | readonly number[], keepdim = false): Tensor => TO.vectorNormAs('norm', x, { ord, dim, keepdim }),
};
