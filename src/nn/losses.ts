// Loss functions as torch.nn.functional's (composites of primitives, so their gradients come from the
// registry). Keyword arguments come as an options object; a bare string is the reduction.
import { DTypeError, KilnError, ShapeError, fmtShape } from '../core/errors.js';
import { apply } from '../dispatch.js';
import { OPS } from '../ops/index.js';
import { shapesEqual } from '../core/shape.js';
import { checkChoice, checkInt, describeValue } from '../core/validate.js';
import { expectTensor, type Tensor } from '../tensor.js';
import { scoped } from '../functional.js';

export type Reduction = 'mean' | 'sum' | 'none';

/** A loss's options: the reduction, or an object holding it and the loss's own options. */
type Opts<O> = Reduction | (O & { reduction?: Reduction });

const REDUCTIONS: readonly Reduction[] = ['mean', 'sum', 'none'];

/** The loss's tensor operands are tensors, and its options a known reduction or an options object holding one. */
function options<O extends object>(op: string, o: Opts<O> | undefined, tensors: Readonly<Record<string, unknown>>): O & { reduction: Reduction } {
  for (const [arg, v] of Object.entries(tensors)) expectTensor(op, arg, v);
  const obj = (typeof o === 'string' ? { reduction: o } : o ?? {}) as O & { reduction?: Reduction };
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new KilnError(`${op}: expected a reduction string or an options object, got ${describeValue(o)}`);
  const reduction = checkChoice(op, 'reduction', obj.reduction ?? 'mean', REDUCTIONS);
  for (const k of ['weight', 'posWeight'] as const) {
    const w = (obj as Record<string, unknown>)[k];
    if (w !== undefined && w !== null) expectTensor(op, k, w);
  }
  return { ...obj, reduction };
}

const reduce = (x: Tensor, r: Reduction) => (r === 'mean' ? x.mean() : r === 'sum' ? x.sum() : x);

function sameShape(op: string, a: Tensor, b: Tensor): void {
  if (!shapesEqual(a.shape, b.shape)) {
    throw new ShapeError(`${op}: input ${fmtShape(a.shape)} and target ${fmtShape(b.shape)} must have the same shape`);
  }
}

/** Mean squared error. */
export function mseLoss(input: Tensor, target: Tensor, o?: Opts<object>): Tensor {
  const { reduction } = options('mseLoss', o, { 'the input': input, 'the target': target });
  sameShape('mseLoss', input, target);
  return scoped([input, target], () => {
    const d = input.sub(target);
    return reduce(d.mul(d), reduction);
  });
}

/** Mean absolute error. */
export function l1Loss(input: Tensor, target: Tensor, o?: Opts<object>): Tensor {
  const { reduction } = options('l1Loss', o, { 'the input': input, 'the target': target });
  sameShape('l1Loss', input, target);
  return scoped([input, target], () => reduce(input.sub(target).abs(), reduction));
}

/** 0.5·d²/beta where |d| < beta, else |d| − 0.5·beta (beta 0 is the L1 loss). */
export function smoothL1Loss(input: Tensor, target: Tensor, o?: Opts<{ beta?: number }>): Tensor {
  const { reduction, beta = 1 } = options('smoothL1Loss', o, { 'the input': input, 'the target': target });
  if (!(beta >= 0)) throw new KilnError(`smoothL1Loss: beta must be non-negative, got ${beta}`);
  sameShape('smoothL1Loss', input, target);
  return scoped([input, target], () => {
    const a = input.sub(target).abs();
    if (beta === 0) return reduce(a, reduction);
    return reduce(a.mul(a).mul(0.5 / beta).where(a.lt(beta), a.sub(0.5 * beta)), reduction);
  });
}

/** 0.5·d² where |d| <= delta, else delta·(|d| − 0.5·delta). */
export function huberLoss(input: Tensor, target: Tensor, o?: Opts<{ delta?: number }>): Tensor {
  const { reduction, delta = 1 } = options('huberLoss', o, { 'the input': input, 'the target': target });
  if (!(delta > 0)) throw new KilnError(`huberLoss: delta must be positive, got ${delta}`);
  sameShape('huberLoss', input, target);
  return scoped([input, target], () => {
    const a = input.sub(target).abs();
    return reduce(a.mul(a).mul(0.5).where(a.le(delta), a.sub(0.5 * delta).mul(delta)), reduction);
  });
}

export interface ClassLossOptions {
  /** A rescaling weight per class, [C]. */
  weight?: Tensor | null;
  /** Target value that contributes nothing (to the loss or the mean's denominator). Default -100. */
  ignoreIndex?: number;
}

/** The class dim is 1, or 0 for an unbatched [C] input. */
const classDim = (input: Tensor) => (input.ndim === 1 ? 0 : 1);

/**
 * Checks class-index targets' dtype and shape against input [N, C, d1, ...] (or [C]) and returns C.
 * Their values are checked by the gather that picks them (selectTargets), eagerly and compiled alike.
 */
function checkClassTarget(op: string, input: Tensor, target: Tensor, ignoreIndex: number): number {
  checkInt(op, 'ignoreIndex', ignoreIndex);
  if (target.dtype !== 'int32') throw new DTypeError(`${op}: target must hold int32 class indices (or, for crossEntropy, float32 class probabilities shaped like the input), got ${target.dtype}`);
  if (input.ndim < 1) throw new ShapeError(`${op}: input must have a class dim: [C], [N, C] or [N, C, d1, ...], got ${fmtShape(input.shape)}`);
  const cd = classDim(input);
  const want = input.shape.filter((_, i) => i !== cd);
  if (!shapesEqual(target.shape, want)) {
    throw new ShapeError(`${op}: expected target ${fmtShape(want)} for input ${fmtShape(input.shape)} (class dim ${cd} removed), got ${fmtShape(target.shape)}`);
  }
  return input.shape[cd];
}

function checkWeight(op: string, weight: Tensor | null | undefined, c: number): void {
  if (!weight) return;
  if (weight.ndim !== 1 || weight.shape[0] !== c) throw new ShapeError(`${op}: weight must have one entry per class, [${c}], got ${fmtShape(weight.shape)}`);
  if (weight.dtype !== 'float32') throw new DTypeError(`${op}: weight must be float32, got ${weight.dtype}`);
}

/** A [C] vector laid along the class dim of `like`'s shape. */
function alongClasses(v: Tensor, like: Tensor): Tensor {
  const cd = classDim(like);
  return v.reshape(like.shape.map((d, i) => (i === cd ? d : 1)));
}

/**
 * `logp` at each target class (0 where the target is ignored) and the per-element weight w[target]
 * (0 where ignored). Targets are picked by the checked gather, so a class id out of range raises an
 * error naming `op` eagerly, compiled and on every backend alike (a one-hot selection would silently
 * contribute 0). An ignored target, and only one equal to ignoreIndex, gathers class 0 and is zeroed.
 */
function selectTargets(op: string, logp: Tensor, target: Tensor, weight: Tensor | null | undefined, ignoreIndex: number) {
  const cd = classDim(logp);
  const valid = target.ne(ignoreIndex);
  const ids = target.where(valid, 0);
  const picked = apply(OPS.gather, [logp, ids.unsqueeze(cd)], { axis: cd, op }).squeeze(cd).where(valid, 0);
  const w = weight
    ? apply(OPS.gather, [weight, ids.reshape([-1])], { axis: 0, op }).reshape(ids.shape).where(valid, 0)
    : valid.to('float32');
  return { picked, w, valid };
}

/** Sums of per-element losses and of their weights, reduced as torch reduces weighted class losses. */
function weightedReduce(loss: Tensor, w: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return loss;
  if (reduction === 'sum') return loss.sum();
  return loss.sum().div(w.sum());
}

/** Negative log-likelihood of log-probabilities [N, C, d1, ...] (or [C]) at int32 class targets. */
export function nllLoss(input: Tensor, target: Tensor, o?: Opts<ClassLossOptions>): Tensor {
  const { reduction, weight = null, ignoreIndex = -100 } = options('nllLoss', o, { 'the input': input, 'the target': target });
  const c = checkClassTarget('nllLoss', input, target, ignoreIndex);
  checkWeight('nllLoss', weight, c);
  return scoped([input, target, weight], () => {
    const { picked, w } = selectTargets('nllLoss', input, target, weight, ignoreIndex);
    return weightedReduce((weight ? picked.mul(w) : picked).neg(), w, reduction);
  });
}

export interface CrossEntropyOptions extends ClassLossOptions {
  /** Mixes the target with the uniform distribution: (1 − ε)·target + ε/C. */
  labelSmoothing?: number;
}

/**
 * Cross entropy of logits [N, C, d1, ...] (or [C]) against int32 class indices [N, d1, ...] (or []),
 * or against float32 class probabilities shaped like the input; with torch's weight, ignoreIndex,
 * labelSmoothing and reduction.
 */
export function crossEntropy(input: Tensor, target: Tensor, o?: Opts<CrossEntropyOptions>): Tensor {
  const op = 'crossEntropy';
  const { reduction, weight = null, ignoreIndex = -100, labelSmoothing = 0 } = options(op, o, { 'the input': input, 'the target': target });
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) throw new KilnError(`${op}: labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
  if (input.ndim < 1) throw new ShapeError(`${op}: input must have a class dim: [C], [N, C] or [N, C, d1, ...], got ${fmtShape(input.shape)}`);
  const cd = classDim(input);
  const c = input.shape[cd];
  checkWeight(op, weight, c);
  if (target.dtype === 'float32') {
    // Class probabilities: −Σ_c w_c·p_c·log q_c, averaged over elements (not weights).
    if (!shapesEqual(target.shape, input.shape)) throw new ShapeError(`${op}: float32 targets are class probabilities and must have the input's shape ${fmtShape(input.shape)}, got ${fmtShape(target.shape)} (class indices must be int32)`);
  } else checkClassTarget(op, input, target, ignoreIndex);
  return scoped([input, target, weight], () => {
    const logp = input.logSoftmax(cd);
    const wc = weight ? alongClasses(weight, input) : null;
    if (target.dtype === 'float32') {
      const p = labelSmoothing > 0 ? target.mul(1 - labelSmoothing).add(labelSmoothing / c) : target;
      const terms = logp.mul(wc ? p.mul(wc) : p);
      return reduce(terms.sum(cd).neg(), reduction);
    }
    const { picked, w, valid } = selectTargets(op, logp, target, weight, ignoreIndex);
    const nll = (weight ? picked.mul(w) : picked).neg();
    if (labelSmoothing === 0) return weightedReduce(nll, w, reduction);
    // The uniform part: −Σ_c w_c·log q_c / C, zero where the target is ignored.
    const smooth = (wc ? logp.mul(wc) : logp).sum(cd).neg().div(c).where(valid, 0);
    const loss = nll.mul(1 - labelSmoothing).add(smooth.mul(labelSmoothing));
    return weightedReduce(loss, w, reduction);
  });
}

/** Binary cross entropy of probabilities against 0/1 targets (logs clamped at -100, as PyTorch). */
export function binaryCrossEntropy(input: Tensor, target: Tensor, o?: Opts<{ weight?: Tensor | null }>): Tensor {
  const { reduction, weight = null } = options('binaryCrossEntropy', o, { 'the input': input, 'the target': target });
  sameShape('binaryCrossEntropy', input, target);
  return scoped([input, target, weight], () => {
    const t = target.to('float32');
    const logp = input.log().clamp(-100);
    const log1mp = input.neg().add(1).log().clamp(-100);
    let loss = t.mul(logp).add(t.neg().add(1).mul(log1mp)).neg();
    if (weight) loss = loss.mul(weight);
    return reduce(loss, reduction);
  });
}

/**
 * Binary cross entropy of logits, stable for any magnitude: (1 − y)·x + (1 + (pw − 1)·y)·log(1 + e^−x),
 * with log(1 + e^−x) written as log(1 + e^−|x|) + max(−x, 0).
 */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, o?: Opts<{ weight?: Tensor | null; posWeight?: Tensor | null }>): Tensor {
  const { reduction, weight = null, posWeight = null } = options('binaryCrossEntropyWithLogits', o, { 'the input': input, 'the target': target });
  sameShape('binaryCrossEntropyWithLogits', input, target);
  return scoped([input, target, weight, posWeight], () => {
    const y = target.to('float32');
    const softplusNeg = input.abs().neg().exp().add(1).log().add(input.neg().maximum(0));
    const scale = posWeight ? posWeight.sub(1).mul(y).add(1) : null;
    let loss = y.neg().add(1).mul(input).add(scale ? scale.mul(softplusNeg) : softplusNeg);
    if (weight) loss = loss.mul(weight);
    return reduce(loss, reduction);
  });
}

/**
 * Kullback-Leibler divergence of log-probabilities `input` from `target` (probabilities, or
 * log-probabilities with logTarget): target·(log target − input), 0 where target is 0.
 * 'batchmean' divides the sum by the batch size (dim 0), the mathematically right mean.
 */
export function klDiv(input: Tensor, target: Tensor, o?: Reduction | 'batchmean' | { reduction?: Reduction | 'batchmean'; logTarget?: boolean }): Tensor {
  expectTensor('klDiv', 'the input', input);
  expectTensor('klDiv', 'the target', target);
  const obj = typeof o === 'string' ? { reduction: o } : o ?? {};
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new KilnError(`klDiv: expected a reduction string or an options object, got ${describeValue(o)}`);
  const reduction = checkChoice('klDiv', 'reduction', obj.reduction ?? 'mean', ['mean', 'batchmean', 'sum', 'none'] as const);
  const { logTarget = false } = obj;
  sameShape('klDiv', input, target);
  return scoped([input, target], () => {
    const t = target.to('float32');
    const pointwise = logTarget
      ? t.exp().mul(t.sub(input))
      : t.mul(t.where(t.gt(0), 1).log().sub(input)).where(t.ne(0), 0);
    if (reduction === 'batchmean') return input.ndim === 0 ? pointwise.sum() : pointwise.sum().div(input.shape[0]);
    return reduce(pointwise, reduction as Reduction);
  });
}

/** Cosine embedding loss: 1 − cos(x1, x2) where y = 1, max(0, cos − margin) where y = −1 (rows of dim 1). */
export function cosineEmbeddingLoss(x1: Tensor, x2: Tensor, y: Tensor, o?: Opts<{ margin?: number }>): Tensor {
  const op = 'cosineEmbeddingLoss';
  const { reduction, margin = 0 } = options(op, o, { 'the first input': x1, 'the second input': x2, 'the target': y });
  sameShape(op, x1, x2);
  if (x1.ndim !== 1 && x1.ndim !== 2) throw new ShapeError(`${op}: inputs must be [N, D] or [D], got ${fmtShape(x1.shape)}`);
  const want = x1.ndim === 2 ? [x1.shape[0]] : [];
  if (!shapesEqual(y.shape, want)) throw new ShapeError(`${op}: target must be ${fmtShape(want)} for inputs ${fmtShape(x1.shape)}, got ${fmtShape(y.shape)}`);
  const d = x1.ndim - 1;
  const EPS = 1e-12;
  return scoped([x1, x2, y], () => {
    const dot = x1.mul(x2).sum(d);
    const denom = x1.mul(x1).sum(d).add(EPS).mul(x2.mul(x2).sum(d).add(EPS)).sqrt();
    const cos = dot.div(denom);
    const yf = y.to('float32');
    const pos = cos.neg().add(1).where(yf.eq(1), 0);
    const neg = cos.sub(margin).maximum(0).where(yf.eq(-1), 0);
    return reduce(pos.add(neg), reduction);
  });
}
