// Modules of convolutional networks, initialised as PyTorch initialises them: convolutions, pooling,
// batch and group norm (running statistics are buffers: tensor fields that need no gradient, so they
// are in stateDict() and not in parameters()), and the shape and activation layers CNNs use.
import { KilnError, ShapeError, fmtShape } from '../core/errors.js';
import { noGrad } from '../autograd.js';
import { full, ones, rand, zeros } from '../creation.js';
import { sizeOf } from '../core/shape.js';
import * as F from '../functional.js';
import { leakyRelu } from '../activations.js';
import type { PadMode } from '../padding.js';
import type { Tensor } from '../tensor.js';
import { conv1d, conv2d, convTranspose2d, type ConvPadding } from './conv.js';
import { Module, forwardInputs } from './module.js';
import { batchNorm, groupNorm } from './norm.js';
import {
  adaptiveAvgPool2d, adaptiveMaxPool2d, avgPool1d, avgPool2d, maxPool1d, maxPool2d,
  type AdaptiveSize, type AvgPoolOptions, type MaxPoolOptions,
} from './pooling.js';
import { perDim, type Size } from './window.js';

/** Uniform(-bound, bound) trainable parameter. */
function uniformParam(shape: readonly number[], bound: number): Tensor {
  return rand(shape).mul(2 * bound).sub(bound).requiresGrad_(true);
}

function checkChannels(op: string, inChannels: number, outChannels: number, groups: number): void {
  if (![inChannels, outChannels, groups].every((v) => Number.isInteger(v) && v > 0)) {
    throw new KilnError(`${op}: inChannels, outChannels and groups must be positive integers, got ${inChannels}, ${outChannels}, ${groups}`);
  }
  if (inChannels % groups !== 0) throw new ShapeError(`${op}: inChannels ${inChannels} are not divisible by groups ${groups}`);
  if (outChannels % groups !== 0) throw new ShapeError(`${op}: outChannels ${outChannels} are not divisible by groups ${groups}`);
}

export interface ConvModuleOptions {
  stride?: Size;
  padding?: ConvPadding;
  dilation?: Size;
  groups?: number;
  bias?: boolean;
  /** How the padding is filled: 'zeros' (default) or from the input itself. */
  paddingMode?: 'zeros' | Exclude<PadMode, 'constant'>;
}

/** Convolution over `nd` spatial dims with PyTorch's default init: weight and bias U(-1/√fanIn, 1/√fanIn) (kaiming-uniform, a = √5). */
abstract class ConvNd extends Module {
  weight: Tensor;
  bias: Tensor | null;
  readonly kernelSize: number[];
  readonly stride: number[];
  readonly dilation: number[];
  readonly padding: ConvPadding;
  readonly groups: number;
  readonly paddingMode: NonNullable<ConvModuleOptions['paddingMode']>;

  constructor(op: string, nd: number, readonly inChannels: number, readonly outChannels: number, kernelSize: Size, o: ConvModuleOptions) {
    super();
    this.groups = o.groups ?? 1;
    checkChannels(op, inChannels, outChannels, this.groups);
    this.kernelSize = perDim(op, 'kernelSize', kernelSize, nd);
    this.stride = perDim(op, 'stride', o.stride ?? 1, nd);
    this.dilation = perDim(op, 'dilation', o.dilation ?? 1, nd);
    this.padding = o.padding ?? 0;
    this.paddingMode = o.paddingMode ?? 'zeros';
    if (!['zeros', 'reflect', 'replicate', 'circular'].includes(this.paddingMode)) {
      throw new KilnError(`${op}: paddingMode must be 'zeros', 'reflect', 'replicate' or 'circular', got '${this.paddingMode}'`);
    }
    const fanIn = (inChannels / this.groups) * sizeOf(this.kernelSize);
    const bound = 1 / Math.sqrt(fanIn);
    this.weight = uniformParam([outChannels, inChannels / this.groups, ...this.kernelSize], bound);
    this.bias = o.bias === false ? null : uniformParam([outChannels], bound);
  }

  /** The options for the functional form; a non-zero padding mode pads first and convolves unpadded. */
  protected prepare(x: Tensor): [Tensor, { stride: number[]; padding: ConvPadding; dilation: number[]; groups: number }] {
    const opts = { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups };
    if (this.paddingMode === 'zeros') return [x, opts];
    const nd = this.kernelSize.length;
    const pairs = this.padding === 'same'
      ? this.kernelSize.map((k, t) => { const total = this.dilation[t] * (k - 1); return [Math.floor(total / 2), total - Math.floor(total / 2)] as [number, number]; })
      : this.padding === 'valid' ? this.kernelSize.map((): [number, number] => [0, 0])
      : perDim('conv', 'padding', this.padding, nd, 0).map((p): [number, number] => [p, p]);
    const lead = x.shape.slice(0, x.ndim - nd).map((): [number, number] => [0, 0]);
    return [F.pad(x, [...lead, ...pairs], this.paddingMode), { ...opts, padding: 0 }];
  }
}

/** 1-D convolution layer: [N, inChannels, L] -> [N, outChannels, L']. */
export class Conv1d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: Size, options: ConvModuleOptions = {}) {
    super('Conv1d', 1, inChannels, outChannels, kernelSize, options);
  }
  forward(x: Tensor): Tensor {
    forwardInputs('Conv1d', { input: x });
    const [input, opts] = this.prepare(x);
    return conv1d(input, this.weight, this.bias, opts);
  }
}

/** 2-D convolution layer: [N, inChannels, H, W] -> [N, outChannels, H', W']. */
export class Conv2d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: Size, options: ConvModuleOptions = {}) {
    super('Conv2d', 2, inChannels, outChannels, kernelSize, options);
  }
  forward(x: Tensor): Tensor {
    forwardInputs('Conv2d', { input: x });
    const [input, opts] = this.prepare(x);
    return conv2d(input, this.weight, this.bias, opts);
  }
}

export interface ConvTransposeModuleOptions {
  stride?: Size;
  padding?: Size;
  outputPadding?: Size;
  groups?: number;
  bias?: boolean;
  dilation?: Size;
}

/** Transposed 2-D convolution layer; weight [inChannels, outChannels/groups, kH, kW], initialised like PyTorch's. */
export class ConvTranspose2d extends Module {
  weight: Tensor;
  bias: Tensor | null;
  readonly kernelSize: number[];
  readonly stride: number[];
  readonly padding: number[];
  readonly outputPadding: number[];
  readonly dilation: number[];
  readonly groups: number;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Size, o: ConvTransposeModuleOptions = {}) {
    super();
    const op = 'ConvTranspose2d';
    this.groups = o.groups ?? 1;
    checkChannels(op, inChannels, outChannels, this.groups);
    this.kernelSize = perDim(op, 'kernelSize', kernelSize, 2);
    this.stride = perDim(op, 'stride', o.stride ?? 1, 2);
    this.padding = perDim(op, 'padding', o.padding ?? 0, 2, 0);
    this.outputPadding = perDim(op, 'outputPadding', o.outputPadding ?? 0, 2, 0);
    this.dilation = perDim(op, 'dilation', o.dilation ?? 1, 2);
    // PyTorch computes the fan-in of this weight from its dim 1: outChannels/groups · kH · kW.
    const bound = 1 / Math.sqrt((outChannels / this.groups) * sizeOf(this.kernelSize));
    this.weight = uniformParam([inChannels, outChannels / this.groups, ...this.kernelSize], bound);
    this.bias = o.bias === false ? null : uniformParam([outChannels], bound);
  }

  /** `outputSize` (the spatial size, or the whole shape) picks the outputPadding that reaches it. */
  forward(x: Tensor, outputSize?: readonly number[]): Tensor {
    forwardInputs('ConvTranspose2d', { input: x });
    let outputPadding = this.outputPadding;
    if (outputSize) {
      const want = outputSize.slice(outputSize.length - 2);
      const inS = x.shape.slice(x.ndim - 2);
      outputPadding = want.map((s, t) => s - ((inS[t] - 1) * this.stride[t] - 2 * this.padding[t] + this.dilation[t] * (this.kernelSize[t] - 1) + 1));
      if (outputPadding.some((p, t) => p < 0 || p >= Math.max(this.stride[t], this.dilation[t]))) {
        throw new ShapeError(`ConvTranspose2d: output size ${JSON.stringify(want)} is not reachable from input ${fmtShape(x.shape)} with this stride, padding and kernel`);
      }
    }
    return convTranspose2d(x, this.weight, this.bias, {
      stride: this.stride, padding: this.padding, outputPadding, groups: this.groups, dilation: this.dilation,
    });
  }
}

// ----- pooling -----------------------------------------------------------------------------------

/** Max pooling over [N, C, L]. */
export class MaxPool1d extends Module {
  constructor(readonly kernelSize: Size, readonly options: MaxPoolOptions = {}) { super(); }
  forward(x: Tensor): Tensor | [Tensor, Tensor] { forwardInputs('MaxPool1d', { input: x }); return maxPool1d(x, this.kernelSize, this.options); }
}

/** Max pooling over [N, C, H, W]; returns [values, indices] with returnIndices. */
export class MaxPool2d extends Module {
  constructor(readonly kernelSize: Size, readonly options: MaxPoolOptions = {}) { super(); }
  forward(x: Tensor): Tensor | [Tensor, Tensor] { forwardInputs('MaxPool2d', { input: x }); return maxPool2d(x, this.kernelSize, this.options); }
}

/** Average pooling over [N, C, L]. */
export class AvgPool1d extends Module {
  constructor(readonly kernelSize: Size, readonly options: AvgPoolOptions = {}) { super(); }
  forward(x: Tensor): Tensor { forwardInputs('AvgPool1d', { input: x }); return avgPool1d(x, this.kernelSize, this.options); }
}

/** Average pooling over [N, C, H, W]. */
export class AvgPool2d extends Module {
  constructor(readonly kernelSize: Size, readonly options: AvgPoolOptions = {}) { super(); }
  forward(x: Tensor): Tensor { forwardInputs('AvgPool2d', { input: x }); return avgPool2d(x, this.kernelSize, this.options); }
}

/** Average pooling to a fixed output size. */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: AdaptiveSize) { super(); }
  forward(x: Tensor): Tensor { forwardInputs('AdaptiveAvgPool2d', { input: x }); return adaptiveAvgPool2d(x, this.outputSize); }
}

/** Max pooling to a fixed output size. */
export class AdaptiveMaxPool2d extends Module {
  constructor(readonly outputSize: AdaptiveSize, readonly options: { returnIndices?: boolean } = {}) { super(); }
  forward(x: Tensor): Tensor | [Tensor, Tensor] { forwardInputs('AdaptiveMaxPool2d', { input: x }); return adaptiveMaxPool2d(x, this.outputSize, this.options); }
}

// ----- normalisation -----------------------------------------------------------------------------

export interface BatchNormModuleOptions {
  eps?: number;
  /** Running-average weight of each batch; null: a cumulative average over all batches seen. */
  momentum?: number | null;
  affine?: boolean;
  trackRunningStats?: boolean;
}

/** Batch norm with learnable weight (1) and bias (0), and running statistics as buffers. */
abstract class BatchNormNd extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  runningMean: Tensor | null;
  runningVar: Tensor | null;
  /** Batches seen in training (int32). */
  numBatchesTracked: Tensor | null;
  readonly eps: number;
  readonly momentum: number | null;

  constructor(private readonly op: string, private readonly ranks: readonly number[], readonly numFeatures: number, o: BatchNormModuleOptions) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures < 1) throw new KilnError(`${op}: numFeatures must be a positive integer, got ${numFeatures}`);
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum === undefined ? 0.1 : o.momentum;
    const affine = o.affine ?? true;
    this.weight = affine ? ones([numFeatures]).requiresGrad_(true) : null;
    this.bias = affine ? zeros([numFeatures]).requiresGrad_(true) : null;
    const track = o.trackRunningStats ?? true;
    this.runningMean = track ? zeros([numFeatures]) : null;
    this.runningVar = track ? ones([numFeatures]) : null;
    this.numBatchesTracked = track ? full([], 0, { dtype: 'int32' }) : null;
  }

  forward(x: Tensor): Tensor {
    forwardInputs(this.op, { input: x });
    if (!this.ranks.includes(x.ndim)) {
      const want = this.ranks.map((r) => `${r}-D ${r === 2 ? '[N, C]' : r === 3 ? '[N, C, L]' : '[N, C, H, W]'}`).join(' or ');
      throw new ShapeError(`${this.op}: expected a ${want} input, got ${fmtShape(x.shape)}`);
    }
    if (x.shape[1] !== this.numFeatures) throw new ShapeError(`${this.op}: expected ${this.numFeatures} channels (dim 1), got input ${fmtShape(x.shape)}`);
    // Batch statistics while training, and always when no running statistics are kept.
    const batchStats = this.training || !this.runningMean;
    let momentum: number | Tensor = this.momentum ?? 0;
    if (this.training && this.numBatchesTracked) {
      const counter = this.numBatchesTracked;
      noGrad(() => counter.add_(1));
      if (this.momentum === null) momentum = counter.to('float32').reciprocal();
    }
    return batchNorm(x, this.runningMean, this.runningVar, {
      weight: this.weight, bias: this.bias, training: batchStats, momentum, eps: this.eps,
    });
  }
}

/** Batch norm over [N, C] or [N, C, L] per channel C. */
export class BatchNorm1d extends BatchNormNd {
  constructor(numFeatures: number, options: BatchNormModuleOptions = {}) { super('BatchNorm1d', [2, 3], numFeatures, options); }
}

/** Batch norm over [N, C, H, W] per channel C. */
export class BatchNorm2d extends BatchNormNd {
  constructor(numFeatures: number, options: BatchNormModuleOptions = {}) { super('BatchNorm2d', [4], numFeatures, options); }
}

/** Group norm with learnable per-channel weight (1) and bias (0). */
export class GroupNorm extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  readonly eps: number;
  constructor(readonly numGroups: number, readonly numChannels: number, o: { eps?: number; affine?: boolean } = {}) {
    super();
    if (!Number.isInteger(numGroups) || numGroups < 1 || !Number.isInteger(numChannels) || numChannels % numGroups !== 0) {
      throw new ShapeError(`GroupNorm: numChannels ${numChannels} must be divisible by numGroups ${numGroups}`);
    }
    this.eps = o.eps ?? 1e-5;
    const affine = o.affine ?? true;
    this.weight = affine ? ones([numChannels]).requiresGrad_(true) : null;
    this.bias = affine ? zeros([numChannels]).requiresGrad_(true) : null;
  }
  forward(x: Tensor): Tensor {
    forwardInputs('GroupNorm', { input: x });
    if (x.ndim < 2 || x.shape[1] !== this.numChannels) throw new ShapeError(`GroupNorm: expected an input [N, ${this.numChannels}, ...], got ${fmtShape(x.shape)}`);
    return groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
  }
}

// ----- shape, activation and dropout layers ------------------------------------------------------

/** Flattens dims startDim..endDim (default: all but the batch dim). */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) { super(); }
  forward(x: Tensor): Tensor { forwardInputs('Flatten', { input: x }); return x.flatten(this.startDim, this.endDim); }
}

/** Splits dim `dim` into `unflattenedSize` (one entry may be -1). */
export class Unflatten extends Module {
  constructor(readonly dim: number, readonly unflattenedSize: readonly number[]) { super(); }
  forward(x: Tensor): Tensor {
    forwardInputs('Unflatten', { input: x });
    const d = this.dim < 0 ? this.dim + x.ndim : this.dim;
    if (d < 0 || d >= x.ndim) throw new ShapeError(`Unflatten: dim ${this.dim} is out of range for input ${fmtShape(x.shape)}`);
    return x.reshape([...x.shape.slice(0, d), ...this.unflattenedSize, ...x.shape.slice(d + 1)]);
  }
}

/** leakyRelu as a layer. */
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) { super(); }
  forward(x: Tensor): Tensor { forwardInputs('LeakyReLU', { input: x }); return leakyRelu(x, this.negativeSlope); }
}

/** Zeroes whole channels with probability p while training. */
export class Dropout2d extends Module {
  constructor(readonly p = 0.5) { super(); }
  forward(x: Tensor): Tensor { forwardInputs('Dropout2d', { input: x }); return F.dropout2d(x, this.p, this.training); }
}
