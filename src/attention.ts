// Scaled dot-product attention as a composite: a matmul with the scale as its epilogue, the mask
// folded into one softmax reduction, and a matmul. Compiled, that is three kernels (plus dropout's).
import { DTypeError, KilnError, ShapeError, fmtShape } from './core/errors.js';
import { arange } from './creation.js';
import * as F from './functional.js';
import { maskedFill } from './tensor-ops.js';
import { expectTensor, type Tensor } from './tensor.js';

export interface AttentionOptions {
  /**
   * Bool: true where a query may attend to a key; float: added to the scores. Broadcasts to
   * [..., L, S].
   */
  attnMask?: Tensor | null;
  /** Dropout probability on the attention weights (applied whenever > 0, as torch's functional form). */
  dropoutP?: number;
  /** Each query i attends to keys j <= i (a top-left aligned lower triangle). */
  isCausal?: boolean;
  /** Multiplies the scores; default 1/√E. */
  scale?: number | null;
}

/**
 * softmax(q kᵀ · scale + mask) v for q [..., L, E], k [..., S, E], v [..., S, Ev]. Rows whose keys
 * are all masked give NaN, as torch's math form does.
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions = {}): Tensor {
  const op = 'scaledDotProductAttention';
  expectTensor(op, 'the query', q);
  expectTensor(op, 'the key', k);
  expectTensor(op, 'the value', v);
  const { attnMask = null, dropoutP = 0, isCausal = false, scale = null } = o;
  if (q.ndim < 2 || k.ndim < 2 || v.ndim < 2) {
    throw new ShapeError(`${op}: query, key and value need at least 2 dims [..., L, E], got ${fmtShape(q.shape)}, ${fmtShape(k.shape)}, ${fmtShape(v.shape)}`);
  }
  const [L, E] = q.shape.slice(-2);
  const [S, Ek] = k.shape.slice(-2);
  if (Ek !== E) throw new ShapeError(`${op}: query ${fmtShape(q.shape)} and key ${fmtShape(k.shape)} must share the embedding size (last dim)`);
  if (v.shape[v.ndim - 2] !== S) throw new ShapeError(`${op}: key ${fmtShape(k.shape)} and value ${fmtShape(v.shape)} must have the same sequence length (dim -2)`);
  if (isCausal && attnMask) throw new KilnError(`${op}: pass either attnMask or isCausal, not both (as torch)`);
  if (!(dropoutP >= 0 && dropoutP <= 1)) throw new KilnError(`${op}: dropoutP must be in [0, 1], got ${dropoutP}`);
  const s = scale ?? 1 / Math.sqrt(E);
  if (typeof s !== 'number' || !Number.isFinite(s)) throw new KilnError(`${op}: scale must be a finite number, got ${String(scale)}`);
  let scores = q.matmul(k.mT()).mul(s);
  if (isCausal) {
    const rows = arange(L, undefined, 1, { backend: q.backend }).reshape([L, 1]);
    const cols = arange(S, undefined, 1, { backend: q.backend }).reshape([1, S]);
    scores = maskedFill(scores, cols.gt(rows), -Infinity);
  } else if (attnMask) {
    if (attnMask.dtype === 'bool') scores = maskedFill(scores, attnMask.logicalNot(), -Infinity);
    else if (attnMask.dtype === 'float32') scores = scores.add(attnMask);
    else throw new DTypeError(`${op}: attnMask must be bool or float32, got ${attnMask.dtype}`);
    if (scores.ndim !== Math.max(q.ndim, k.ndim)) throw new ShapeError(`${op}: attnMask ${fmtShape(attnMask.shape)} must broadcast to the scores [..., ${L}, ${S}]`);
  }
  let weights = scores.softmax(-1);
  if (dropoutP > 0) weights = F.dropout(weights, dropoutP, true);
  return weights.matmul(v);
}
