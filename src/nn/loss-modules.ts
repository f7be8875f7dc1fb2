// Loss modules over the functional losses, as torch.nn's (CrossEntropyLoss, ...). A class weight is a
// tensor field that needs no gradient: a buffer, in stateDict() as torch registers it.
import type { Tensor } from '../tensor.js';
import {
  binaryCrossEntropy, binaryCrossEntropyWithLogits, cosineEmbeddingLoss, crossEntropy, huberLoss, klDiv, l1Loss,
  mseLoss, nllLoss, smoothL1Loss, type CrossEntropyOptions, type Reduction,
} from './losses.js';
import { Module, forwardInputs } from './module.js';

/** The options every loss module takes. */
export interface LossOptions { reduction?: Reduction }

export class MSELoss extends Module {
  readonly reduction: Reduction;
  constructor(o: LossOptions = {}) { super(); this.reduction = o.reduction ?? 'mean'; }
  forward(input: Tensor, target: Tensor): Tensor { forwardInputs('MSELoss', { input, target }); return mseLoss(input, target, this.reduction); }
}

export class L1Loss extends Module {
  readonly reduction: Reduction;
  constructor(o: LossOptions = {}) { super(); this.reduction = o.reduction ?? 'mean'; }
  forward(input: Tensor, target: Tensor): Tensor { forwardInputs('L1Loss', { input, target }); return l1Loss(input, target, this.reduction); }
}

export class SmoothL1Loss extends Module {
  readonly reduction: Reduction;
  readonly beta: number;
  constructor(o: LossOptions & { beta?: number } = {}) { super(); this.reduction = o.reduction ?? 'mean'; this.beta = o.beta ?? 1; }
  forward(input: Tensor, target: Tensor): Tensor { forwardInputs('SmoothL1Loss', { input, target }); return smoothL1Loss(input, target, { reduction: this.reduction, beta: this.beta }); }
}

export class HuberLoss extends Module {
  readonly reduction: Reduction;
  readonly delta: number;
  constructor(o: LossOptions & { delta?: number } = {}) { super(); this.reduction = o.reduction ?? 'mean'; this.delta = o.delta ?? 1; }
  forward(input: Tensor, target: Tensor): Tensor { forwardInputs('HuberLoss', { input, target }); return huberLoss(input, target, { reduction: this.reduction, delta: this.delta }); }
}

export class CrossEntropyLoss extends Module {
  weight: Tensor | null;
  readonly reduction: Reduction;
  readonly ignoreIndex: number;
  readonly labelSmoothing: number;
  constructor(o: CrossEntropyOptions & LossOptions = {}) {
    super();
    this.weight = o.weight ?? null;
    this.reduction = o.reduction ?? 'mean';
    this.ignoreIndex = o.ignoreIndex ?? -100;
    this.labelSmoothing = o.labelSmoothing ?? 0;
  }
  forward(input: Tensor, target: Tensor): Tensor {
    forwardInputs('CrossEntropyLoss', { input, target });
    return crossEntropy(input, target, { weight: this.weight, reduction: this.reduction, ignoreIndex: this.ignoreIndex, labelSmoothing: this.labelSmoothing });
  }
}

export class NLLLoss extends Module {
  weight: Tensor | null;
  readonly reduction: Reduction;
  readonly ignoreIndex: number;
  constructor(o: { weight?: Tensor | null; ignoreIndex?: number } & LossOptions = {}) {
    super();
    this.weight = o.weight ?? null;
    this.reduction = o.reduction ?? 'mean';
    this.ignoreIndex = o.ignoreIndex ?? -100;
  }
  forward(input: Tensor, target: Tensor): Tensor {
    forwardInputs('NLLLoss', { input, target });
    return nllLoss(input, target, { weight: this.weight, reduction: this.reduction, ignoreIndex: this.ignoreIndex });
  }
}

export class BCELoss extends Module {
  weight: Tensor | null;
  readonly reduction: Reduction;
  constructor(o: { weight?: Tensor | null } & LossOptions = {}) { super(); this.weight = o.weight ?? null; this.reduction = o.reduction ?? 'mean'; }
  forward(input: Tensor, target: Tensor): Tensor { forwardInputs('BCELoss', { input, target }); return binaryCrossEntropy(input, target, { weight: this.weight, reduction: this.reduction }); }
}

export class BCEWithLogitsLoss extends Module {
  weight: Tensor | null;
  posWeight: Tensor | null;
  readonly reduction: Reduction;
  constructor(o: { weight?: Tensor | null; posWeight?: Tensor | null } & LossOptions = {}) {
    super();
    this.weight = o.weight ?? null;
    this.posWeight = o.posWeight ?? null;
    this.reduction = o.reduction ?? 'mean';
  }
  forward(input: Tensor, target: Tensor): Tensor {
    forwardInputs('BCEWithLogitsLoss', { input, target });
    return binaryCrossEntropyWithLogits(input, target, { weight: this.weight, posWeight: this.posWeight, reduction: this.reduction });
  }
}

export class KLDivLoss extends Module {
  readonly reduction: Reduction | 'batchmean';
  readonly logTarget: boolean;
  constructor(o: { reduction?: Reduction | 'batchmean'; logTarget?: boolean } = {}) { super(); this.reduction = o.reduction ?? 'mean'; this.logTarget = o.logTarget ?? false; }
  forward(input: Tensor, target: Tensor): Tensor { forwardInputs('KLDivLoss', { input, target }); return klDiv(input, target, { reduction: this.reduction, logTarget: this.logTarget }); }
}

export class CosineEmbeddingLoss extends Module {
  readonly reduction: Reduction;
  readonly margin: number;
  constructor(o: LossOptions & { margin?: number } = {}) { super(); this.reduction = o.reduction ?? 'mean'; this.margin = o.margin ?? 0; }
  forward(x1: Tensor, x2: Tensor, y: Tensor): Tensor { forwardInputs('CosineEmbeddingLoss', { input1: x1, input2: x2, target: y }); return cosineEmbeddingLoss(x1, x2, y, { reduction: this.reduction, margin: this.margin }); }
}
