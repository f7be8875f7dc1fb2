// Function forms of torch's everyday ops (torch.tril, torch.cumsum, torch.einsum, ...), re-exported on
// `kiln`; the tensor methods of the same names call the same composites.
import type { Tensor, TensorLike } from './tensor.js';
import * as TO from './tensor-ops.js';

export {
  maskedFill, tril, triu, oneHot, repeat, tile, chunk, roll, diag, diagonal, outer, lerp, addmm, baddbmm,
  isnan, isinf, isfinite, isclose, allclose, allcloseAsync, nanToNum, norm,
} from './tensor-ops.js';
export type { ValuesIndices, ScaleOptions, CloseOptions, NanToNumOptions, VectorNormOptions } from './tensor-ops.js';
export { cumsum, cumprod } from './scan.js';
export { sort, argsort, topk } from './sorting.js';
export type { SortOptions, TopkOptions } from './sorting.js';
export { einsum } from './einsum.js';
export { scaledDotProductAttention } from './attention.js';
export type { AttentionOptions } from './attention.js';
export { multinomial, randperm, empty, emptyLike } from './sampling.js';
export type { MultinomialOptions, RandpermOptions, EmptyOptions } from './sampling.js';

/** torch.masked_fill's in-place form. */
export const maskedFill_ = (x: Tensor, mask: Tensor, value: TensorLike): Tensor => x.maskedFill_(mask, value);

/** torch.linalg: vector norms. */
export const linalg = {
  /** torch.linalg.vector_norm(x, ord, dim, keepdim) with the keywords as an options object. */
  vectorNorm: TO.vectorNorm,
  /** torch.linalg.norm for vectors: the 2-norm over all (or the given) dims. */
  norm: (x: Tensor, ord?: number, dim?: number | readonly number[], keepdim = false): Tensor => TO.vectorNorm(x, { ord, dim, keepdim }),
};
