// Standard layers, initialised as PyTorch initialises them.
import { KilnError } from '../core/errors.js';
import { checkInt } from '../core/validate.js';
import { rand } from '../creation.js';
import { ones, zeros } from '../creation.js';
import * as F from '../functional.js';
import type { Tensor } from '../tensor.js';
import { Module, forwardInputs } from './module.js';

/** Uniform(-bound, bound) parameter. */
function uniformParam(shape: number[], bound: number): Tensor {
  return rand(shape).mul(2 * bound).sub(bound).requiresGrad_(true);
}

/** y = x Wᵀ + b, W: [out, in], initialised U(-1/√in, 1/√in) like torch.nn.Linear. */
export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { bias?: boolean } = {}) {
    super();
    checkInt('Linear', 'inFeatures', inFeatures, 0);
    checkInt('Linear', 'outFeatures', outFeatures, 0);
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = uniformParam([outFeatures, inFeatures], bound);
    this.bias = opts.bias === false ? null : uniformParam([outFeatures], bound);
  }
  forward(x: Tensor): Tensor {
    forwardInputs('Linear', { input: x });
    return F.scoped([x, this.weight, this.bias], () => {
      const y = x.matmul(this.weight.mT());
      return this.bias ? y.add(this.bias) : y;
    });
  }
}

/** Runs modules in order. */
export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
  }
  forward(x: Tensor): Tensor {
    const run = () => this.layers.reduce((h, m) => m.forward(h), x);
    // Between kiln's own layers no user code sees the activations, so backward may free them; a
    // user-defined layer might keep its input, so then they stay the user's (garbage-collected).
    return this.layers.every(isBuiltinLayer) ? F.scoped([x, ...this.parameters()], run) : run();
  }
}

export class ReLU extends Module { forward(x: Tensor): Tensor { forwardInputs('ReLU', { input: x }); return F.relu(x); } }
export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') { super(); }
  forward(x: Tensor): Tensor { forwardInputs('GELU', { input: x }); return F.gelu(x, this.approximate); }
}
export class Sigmoid extends Module { forward(x: Tensor): Tensor { forwardInputs('Sigmoid', { input: x }); return F.sigmoid(x); } }
export class Tanh extends Module { forward(x: Tensor): Tensor { forwardInputs('Tanh', { input: x }); return x.tanh(); } }

/** Layer normalisation over the trailing dims, with learnable scale and shift. */
export class LayerNorm extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  readonly normalizedShape: number[];
  constructor(normalizedShape: number | readonly number[], readonly eps = 1e-5, elementwiseAffine = true) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    this.weight = elementwiseAffine ? ones(this.normalizedShape).requiresGrad_(true) : null;
    this.bias = elementwiseAffine ? zeros(this.normalizedShape).requiresGrad_(true) : null;
  }
  forward(x: Tensor): Tensor { forwardInputs('LayerNorm', { input: x }); return F.layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps); }
}

/** A lookup table of `num` vectors of size `dim`, initialised N(0, 1) like torch.nn.Embedding. */
export class Embedding extends Module {
  weight: Tensor;
  constructor(readonly numEmbeddings: number, readonly embeddingDim: number) {
    super();
    if (typeof numEmbeddings !== 'number' || typeof embeddingDim !== 'number' || !Number.isInteger(numEmbeddings) || !Number.isInteger(embeddingDim) || numEmbeddings <= 0 || embeddingDim <= 0) throw new KilnError(`Embedding: sizes must be positive, got ${numEmbeddings} x ${embeddingDim}`);
    this.weight = F.randnParam([numEmbeddings, embeddingDim]);
  }
  forward(indices: Tensor): Tensor { forwardInputs('Embedding', { indices }); return F.embedding(indices, this.weight); }
}

/** Zeroes activations with probability p while training. */
export class Dropout extends Module {
  constructor(readonly p = 0.5) { super(); }
  forward(x: Tensor): Tensor { forwardInputs('Dropout', { input: x }); return F.dropout(x, this.p, this.training); }
}

const BUILTIN_LAYERS: readonly Function[] = [Linear, Sequential, ReLU, GELU, Sigmoid, Tanh, LayerNorm, Embedding, Dropout];
/** True for an instance of one of kiln's layers itself (not of a user subclass, which might keep tensors). */
function isBuiltinLayer(m: Module): boolean {
  return BUILTIN_LAYERS.includes(Object.getPrototypeOf(m).constructor) && (!(m instanceof Sequential) || m.layers.every(isBuiltinLayer));
}
