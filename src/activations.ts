// Activations met in CNNs, as composites of primitives. Each picks its branch with where(), so the
// gradient at a kink is PyTorch's and a branch not taken never leaks inf·0 = NaN into it; NaN
// inputs give NaN, as in PyTorch.
import { ShapeError, fmtShape } from './core/errors.js';
import { normalizeDim } from './core/shape.js';
import { sigmoid, softplus } from './functional.js';
import { checkNumber } from './core/validate.js';
import { expectTensor, type Tensor } from './tensor.js';

const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;

/** x where x > 0, else negativeSlope·x (the gradient at 0 is negativeSlope, as PyTorch's). */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  expectTensor('leakyRelu', 'the input', x);
  checkNumber('leakyRelu', 'negativeSlope', negativeSlope, { allowNaN: true });
  return x.where(x.gt(0), x.mul(negativeSlope));
}

/** x where x > 0, else α(eˣ − 1). */
export function elu(x: Tensor, alpha = 1): Tensor {
  expectTensor('elu', 'the input', x);
  checkNumber('elu', 'alpha', alpha, { allowNaN: true });
  // e^x only of the non-positive part: a large x never reaches exp (whose inf would meet a 0 gradient).
  const negative = x.where(x.gt(0).logicalNot(), 0);
  return x.where(x.gt(0), negative.exp().sub(1).mul(alpha));
}

/** Scaled ELU with the self-normalising constants. */
export function selu(x: Tensor): Tensor {
  expectTensor('selu', 'the input', x);
  return elu(x, SELU_ALPHA).mul(SELU_SCALE);
}

/** x where x > 0, else weight·x; weight has one entry, or one per channel (dim 1). */
export function prelu(x: Tensor, weight: Tensor): Tensor {
  expectTensor('prelu', 'the input', x);
  expectTensor('prelu', 'the weight', weight);
  let w = weight;
  if (weight.size !== 1) {
    if (weight.ndim !== 1 || x.ndim < 2 || weight.shape[0] !== x.shape[1]) {
      throw new ShapeError(`prelu: weight ${fmtShape(weight.shape)} must have 1 element or one per channel (dim 1) of input ${fmtShape(x.shape)}`);
    }
    w = weight.reshape([weight.shape[0], ...x.shape.slice(2).map(() => 1)]);
  } else w = weight.reshape([]);
  return x.where(x.gt(0), x.mul(w));
}

/** min(max(x, 0), 6); the gradient is 1 strictly inside (0, 6), as PyTorch's hardtanh. */
export function relu6(x: Tensor): Tensor {
  expectTensor('relu6', 'the input', x);
  const low = x.where(x.le(0).logicalNot(), 0);
  return low.where(low.ge(6).logicalNot(), 6);
}

/** relu6(x + 3) / 6 */
export function hardsigmoid(x: Tensor): Tensor {
  expectTensor('hardsigmoid', 'the input', x);
  return relu6(x.add(3)).div(6);
}

/** x · relu6(x + 3) / 6 */
export function hardswish(x: Tensor): Tensor {
  expectTensor('hardswish', 'the input', x);
  return x.mul(hardsigmoid(x));
}

/** x · tanh(softplus(x)) */
export function mish(x: Tensor): Tensor {
  expectTensor('mish', 'the input', x);
  return x.mul(softplus(x).tanh());
}

/** x / (1 + |x|) */
export function softsign(x: Tensor): Tensor {
  expectTensor('softsign', 'the input', x);
  return x.div(x.abs().add(1));
}

/** Gated linear unit: the first half of `dim` times the sigmoid of the second half. */
export function glu(x: Tensor, dim = -1): Tensor {
  expectTensor('glu', 'the input', x);
  const d = normalizeDim('glu', dim, x.ndim);
  const n = x.ndim === 0 ? 1 : x.shape[d];
  if (x.ndim === 0 || n % 2 !== 0) throw new ShapeError(`glu: dim ${dim} of ${fmtShape(x.shape)} must have an even size to split in halves`);
  const [a, b] = x.split(n / 2, d);
  return a.mul(sigmoid(b));
}
