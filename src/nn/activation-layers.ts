// Activation modules over the functional forms (torch.nn's SiLU, ELU, Softmax, ...). PReLU owns a
// trainable slope; the others hold only their options.
import { KilnError } from '../core/errors.js';
import { full } from '../creation.js';
import * as F from '../functional.js';
import { elu, glu, hardsigmoid, hardswish, mish, prelu, relu6, selu, softsign } from '../activations.js';
import type { Tensor } from '../tensor.js';
import { Module, forwardInputs } from './module.js';

/** x·σ(x) */
export class SiLU extends Module { forward(x: Tensor): Tensor { forwardInputs('SiLU', { input: x }); return F.silu(x); } }

/** x where x > 0, else α(eˣ − 1). */
export class ELU extends Module {
  constructor(readonly alpha = 1) { super(); }
  forward(x: Tensor): Tensor { forwardInputs('ELU', { input: x }); return elu(x, this.alpha); }
}

export class SELU extends Module { forward(x: Tensor): Tensor { forwardInputs('SELU', { input: x }); return selu(x); } }
export class ReLU6 extends Module { forward(x: Tensor): Tensor { forwardInputs('ReLU6', { input: x }); return relu6(x); } }
export class Hardsigmoid extends Module { forward(x: Tensor): Tensor { forwardInputs('Hardsigmoid', { input: x }); return hardsigmoid(x); } }
export class Hardswish extends Module { forward(x: Tensor): Tensor { forwardInputs('Hardswish', { input: x }); return hardswish(x); } }
export class Mish extends Module { forward(x: Tensor): Tensor { forwardInputs('Mish', { input: x }); return mish(x); } }
export class Softsign extends Module { forward(x: Tensor): Tensor { forwardInputs('Softsign', { input: x }); return softsign(x); } }

/** log(1 + e^(βx))/β, linear above `threshold`. */
export class Softplus extends Module {
  constructor(readonly beta = 1, readonly threshold = 20) { super(); }
  forward(x: Tensor): Tensor { forwardInputs('Softplus', { input: x }); return F.softplus(x, this.beta, this.threshold); }
}

/** Gated linear unit over `dim`. */
export class GLU extends Module {
  constructor(readonly dim = -1) { super(); }
  forward(x: Tensor): Tensor { forwardInputs('GLU', { input: x }); return glu(x, this.dim); }
}

/** x where x > 0, else a·x with a learnt slope (one, or one per channel), initialised to `init`. */
export class PReLU extends Module {
  weight: Tensor;
  constructor(numParameters = 1, init = 0.25) {
    super();
    if (!Number.isInteger(numParameters) || numParameters < 1) throw new KilnError(`PReLU: numParameters must be a positive integer, got ${numParameters}`);
    this.weight = full([numParameters], init, { dtype: 'float32' }).requiresGrad_(true);
  }
  forward(x: Tensor): Tensor { forwardInputs('PReLU', { input: x }); return prelu(x, this.weight); }
}

function softmaxDim(op: string, dim: number | undefined): number {
  if (dim === undefined) throw new KilnError(`${op}: pass the dim to normalise over (torch's implicit choice is deprecated)`);
  return dim;
}

/** softmax over `dim`. */
export class Softmax extends Module {
  readonly dim: number;
  constructor(dim?: number) { super(); this.dim = softmaxDim('Softmax', dim); }
  forward(x: Tensor): Tensor { forwardInputs('Softmax', { input: x }); return F.softmax(x, this.dim); }
}

/** log-softmax over `dim`. */
export class LogSoftmax extends Module {
  readonly dim: number;
  constructor(dim?: number) { super(); this.dim = softmaxDim('LogSoftmax', dim); }
  forward(x: Tensor): Tensor { forwardInputs('LogSoftmax', { input: x }); return F.logSoftmax(x, this.dim); }
}
