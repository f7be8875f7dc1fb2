// Loss functions (composites of primitives, so their gradients come from the registry).
import { DTypeError, ShapeError, fmtShape } from '../core/errors.js';
import { apply } from '../dispatch.js';
import { OPS } from '../ops/index.js';
import { shapesEqual } from '../core/shape.js';
import { checkChoice } from '../core/validate.js';
import { expectTensor, type Tensor } from '../tensor.js';
import { scoped } from '../functional.js';

type Reduction = 'mean' | 'sum' | 'none';
const REDUCTIONS: readonly Reduction[] = ['mean', 'sum', 'none'];
const reduce = (x: Tensor, r: Reduction) => (r === 'mean' ? x.mean() : r === 'sum' ? x.sum() : x);

/** The input and target are tensors and the reduction is known. */
function checkArgs(op: string, input: unknown, target: unknown, reduction: unknown): void {
  expectTensor(op, 'the input', input);
  expectTensor(op, 'the target', target);
  checkChoice(op, 'reduction', reduction, REDUCTIONS);
}

function sameShape(op: string, a: Tensor, b: Tensor): void {
  if (!shapesEqual(a.shape, b.shape)) {
    throw new ShapeError(`${op}: input ${fmtShape(a.shape)} and target ${fmtShape(b.shape)} must have the same shape`);
  }
}

/** Mean squared error. */
export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  checkArgs('mseLoss', input, target, reduction);
  sameShape('mseLoss', input, target);
  return scoped([input, target], () => {
    const d = input.sub(target);
    return reduce(d.mul(d), reduction);
  });
}

/** Cross entropy of logits [N, C] (or [C]) against int32 class indices [N] (or []). */
export function crossEntropy(logits: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  checkArgs('crossEntropy', logits, target, reduction);
  if (target.dtype !== 'int32') throw new DTypeError(`crossEntropy: target must hold int32 class indices, got ${target.dtype}`);
  if (logits.ndim < 1 || logits.ndim > 2 || target.ndim !== logits.ndim - 1 || (logits.ndim === 2 && target.shape[0] !== logits.shape[0])) {
    throw new ShapeError(`crossEntropy: expected logits [N, C] with target [N] (or [C] with []), got ${fmtShape(logits.shape)} and ${fmtShape(target.shape)}`);
  }
  // The log-probability of each target class, picked by a gather: the kernel checks every class id
  // (eagerly, compiled and on webgpu alike) and an id out of range raises an error naming crossEntropy.
  return scoped([logits], () => {
    const logp = logits.logSoftmax(-1);
    const picked = apply(OPS.gather, [logp, target.unsqueeze(-1)], { axis: logits.ndim - 1, op: 'crossEntropy' }).squeeze(-1);
    return reduce(picked.neg(), reduction);
  });
}

/** Binary cross entropy of probabilities against 0/1 targets (logs clamped at -100, as PyTorch). */
export function binaryCrossEntropy(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  checkArgs('binaryCrossEntropy', input, target, reduction);
  sameShape('binaryCrossEntropy', input, target);
  const t = target.to('float32');
  const logp = input.log().clamp(-100);
  const log1mp = input.neg().add(1).log().clamp(-100);
  return reduce(t.mul(logp).add(t.neg().add(1).mul(log1mp)).neg(), reduction);
}
