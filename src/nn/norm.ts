// Normalisation over channels of [N, C, ...] inputs: batch norm (batch statistics and running-stat
// updates while training, running statistics as a per-channel scale and shift in eval), group norm
// and instance norm. Composites of reductions and elementwise ops.
import { DTypeError, KilnError, ShapeError, fmtShape } from '../core/errors.js';
import { noGrad } from '../autograd.js';
import { range, sizeOf } from '../core/shape.js';
import { expectTensor, type Tensor } from '../tensor.js';
import { perChannel } from './window.js';

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Batch statistics (and running-stat updates) when true; running statistics when false (default). */
  training?: boolean;
  /** Weight of the new batch statistic in the running average (default 0.1); a tensor when computed at run time. */
  momentum?: number | Tensor;
  eps?: number;
}

export interface InstanceNormOptions {
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Normalise by each instance's own statistics (default) or by the running ones. */
  useInputStats?: boolean;
  momentum?: number;
  eps?: number;
}

function checkNormInput(op: string, x: Tensor, minRank: number): number {
  expectTensor(op, 'the input', x);
  if (x.ndim < minRank) {
    const want = minRank === 2 ? '[N, C] or [N, C, ...]' : '[N, C, ...] with at least one spatial dim';
    throw new ShapeError(`${op}: expected an input ${want}, got ${fmtShape(x.shape)}`);
  }
  if (x.dtype !== 'float32') throw new DTypeError(`${op}: expected a float32 input, got ${x.dtype} ${fmtShape(x.shape)}`);
  return x.shape[1];
}

function checkPerChannel(op: string, what: string, t: Tensor | null | undefined, c: number): void {
  if (t !== undefined && t !== null) expectTensor(op, what, t);
  if (t && (t.ndim !== 1 || t.shape[0] !== c)) throw new ShapeError(`${op}: expected ${what} of shape [${c}] (one per channel), got ${fmtShape(t.shape)}`);
}

function affine(y: Tensor, weight: Tensor | null | undefined, bias: Tensor | null | undefined): Tensor {
  let out = y;
  if (weight) out = out.mul(perChannel(weight, y.ndim));
  if (bias) out = out.add(perChannel(bias, y.ndim));
  return out;
}

/** running ← (1 - momentum)·running + momentum·value, outside autograd. */
function updateRunning(running: Tensor, value: Tensor, momentum: number | Tensor): void {
  noGrad(() => {
    const keep = typeof momentum === 'number' ? 1 - momentum : momentum.neg().add(1);
    running.copy_(value.detach().mul(momentum).add(running.mul(keep)));
  });
}

/**
 * Batch normalisation of [N, C, ...] per channel C. Training: normalise by the batch mean and biased
 * variance and move the running statistics towards the batch's (unbiased variance, as PyTorch).
 * Eval: x·scale + shift with scale = weight/√(runningVar + eps) and shift = bias − runningMean·scale.
 */
export function batchNorm(input: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, options: BatchNormOptions = {}): Tensor {
  const op = 'batchNorm';
  const c = checkNormInput(op, input, 2);
  const { weight, bias, training = false, momentum = 0.1, eps = 1e-5 } = options;
  checkPerChannel(op, 'runningMean', runningMean, c);
  checkPerChannel(op, 'runningVar', runningVar, c);
  checkPerChannel(op, 'weight', weight, c);
  checkPerChannel(op, 'bias', bias, c);
  if ((runningMean === null) !== (runningVar === null)) throw new KilnError(`${op}: give both runningMean and runningVar, or neither`);
  if (training) {
    const dims = [0, ...range(2, input.ndim)];
    // An empty batch gives an empty result and leaves the running statistics alone, as in PyTorch.
    if (input.size === 0) return affine(input, weight, bias);
    const count = input.size / c;
    if (count === 1) throw new ShapeError(`${op}: expected more than 1 value per channel when training, got input ${fmtShape(input.shape)}`);
    const mean = input.mean(dims, true);
    const centered = input.sub(mean);
    const v = centered.mul(centered).mean(dims, true);
    if (runningMean && runningVar) {
      updateRunning(runningMean, mean.reshape([c]), momentum);
      updateRunning(runningVar, v.reshape([c]).mul(count / (count - 1)), momentum);
    }
    return affine(centered.mul(v.add(eps).rsqrt()), weight, bias);
  }
  if (!runningMean || !runningVar) throw new KilnError(`${op}: runningMean and runningVar are needed outside training`);
  // (x - mean)·scale (+ bias): each per-channel value is read once, so a compiled conv keeps the
  // whole normalisation in its epilogue instead of materialising a shared scale first.
  let scale = runningVar.add(eps).rsqrt();
  if (weight) scale = scale.mul(weight);
  const y = input.sub(perChannel(runningMean, input.ndim)).mul(perChannel(scale, input.ndim));
  return bias ? y.add(perChannel(bias, input.ndim)) : y;
}

/** Group normalisation: channels split into `numGroups` groups, each normalised over its channels and positions. */
export function groupNorm(input: Tensor, numGroups: number, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const op = 'groupNorm';
  const c = checkNormInput(op, input, 2);
  if (!Number.isInteger(numGroups) || numGroups < 1 || c % numGroups !== 0) {
    throw new ShapeError(`${op}: ${c} channels (input ${fmtShape(input.shape)}) are not divisible into ${numGroups} groups`);
  }
  checkPerChannel(op, 'weight', weight, c);
  checkPerChannel(op, 'bias', bias, c);
  const n = input.shape[0];
  const grouped = input.reshape([n, numGroups, (c / numGroups) * sizeOf(input.shape.slice(2))]);
  const mean = grouped.mean(2, true);
  const centered = grouped.sub(mean);
  const v = centered.mul(centered).mean(2, true);
  return affine(centered.mul(v.add(eps).rsqrt()).reshape(input.shape), weight, bias);
}

/**
 * Instance normalisation: each (sample, channel) normalised over its positions. With running stats
 * and useInputStats, they move towards the batch average of the instance statistics, as PyTorch's.
 */
export function instanceNorm(input: Tensor, options: InstanceNormOptions = {}): Tensor {
  const op = 'instanceNorm';
  const c = checkNormInput(op, input, 3);
  const { runningMean = null, runningVar = null, weight, bias, useInputStats = true, momentum = 0.1, eps = 1e-5 } = options ?? {};
  for (const [what, t] of [['runningMean', runningMean], ['runningVar', runningVar], ['weight', weight], ['bias', bias]] as const) checkPerChannel(op, what, t, c);
  if ((runningMean === null) !== (runningVar === null)) throw new KilnError(`${op}: give both runningMean and runningVar, or neither`);
  if (!useInputStats) {
    if (!runningMean || !runningVar) throw new KilnError(`${op}: useInputStats false needs runningMean and runningVar`);
    return batchNorm(input, runningMean, runningVar, { weight, bias, training: false, eps });
  }
  const dims = range(2, input.ndim);
  const count = sizeOf(input.shape.slice(2));
  if (count <= 1) throw new ShapeError(`${op}: expected more than 1 spatial element per channel, got input ${fmtShape(input.shape)}`);
  const mean = input.mean(dims, true);
  const centered = input.sub(mean);
  const v = centered.mul(centered).mean(dims, true);
  if (runningMean && runningVar && input.shape[0] > 0) {
    updateRunning(runningMean, mean.reshape(input.shape.slice(0, 2)).mean(0), momentum);
    updateRunning(runningVar, v.reshape(input.shape.slice(0, 2)).mean(0).mul(count / (count - 1)), momentum);
  }
  return affine(centered.mul(v.add(eps).rsqrt()), weight, bias);
}
