// Adagrad as torch.optim.Adagrad: a running sum of squared gradients, learning-rate decay by step,
// L2 weight decay and maximize.
import { full } from '../creation.js';
import type { Tensor } from '../tensor.js';
import { Optimizer, type Params } from './optimizer.js';
import { EPS, LR, MAXIMIZE, WEIGHT_DECAY, type OptionSpec, type OptionValue } from './options.js';
import { advanceStep, signedGrad, withWeightDecay, type UpdateContext } from './update.js';

export interface AdagradOptions {
  /** Learning rate (default 1e-2). */
  lr?: number;
  /** Learning-rate decay per step: lr / (1 + (t - 1)·lrDecay) (default 0). */
  lrDecay?: number;
  /** L2 penalty folded into the gradient (default 0). */
  weightDecay?: number;
  /** Starting value of the sum of squared gradients (default 0; read when the state is made). */
  initialAccumulatorValue?: number;
  /** Added to the denominator for stability (default 1e-10). */
  eps?: number;
  /** Ascend the objective instead of descending it. */
  maximize?: boolean;
}

const SPECS: readonly OptionSpec[] = [
  LR(1e-2),
  { kind: 'number', name: 'lrDecay', default: 0, rule: 'nonNegative' },
  WEIGHT_DECAY(),
  { kind: 'number', name: 'initialAccumulatorValue', default: 0, rule: 'nonNegative' },
  EPS(1e-10),
  MAXIMIZE,
];

/** Adagrad (Duchi et al.), as torch.optim.Adagrad. */
export class Adagrad extends Optimizer<AdagradOptions> {
  constructor(params: Params<AdagradOptions>, options?: AdagradOptions) {
    super(params, options, SPECS);
  }

  protected initState(p: Tensor, v: Readonly<Record<string, OptionValue>>): Record<string, Tensor> {
    return { step: full([], 0, { dtype: 'float32', backend: p.backend }), sum: full(p.shape, v.initialAccumulatorValue as number, { dtype: 'float32', backend: p.backend }) };
  }

  protected scalarsOf(v: Readonly<Record<string, OptionValue>>): Record<string, number> {
    return { lr: v.lr as number, lrDecay: v.lrDecay as number, weightDecay: v.weightDecay as number, eps: v.eps as number };
  }

  protected update(c: UpdateContext): void {
    const { p, s, tmp, state } = c;
    const t = advanceStep(c);
    const g = withWeightDecay(c, signedGrad(c));
    // clr = lr / (1 + (t - 1)·lrDecay)
    let clr: Tensor;
    if (t !== null) clr = c.scratch('clr', (c.v.lr as number) / (1 + (t - 1) * (c.v.lrDecay as number)));
    else {
      const one = p._scalar(1);
      const t1 = tmp.own(state.step.sub(one));
      const td = tmp.own(t1.mul(s.lrDecay));
      tmp.free(t1);
      const den = tmp.own(td.add(one));
      tmp.free(td);
      clr = tmp.own(s.lr.div(den));
      tmp.free(den);
    }
    // sum ← sum + g²;  p ← p - clr·g / (√sum + ε)
    const g2 = tmp.own(g.mul(g));
    tmp.assign(state.sum, tmp.own(state.sum.add(g2)));
    tmp.free(g2);
    const root = tmp.own(state.sum.sqrt());
    const std = tmp.own(root.add(s.eps));
    tmp.free(root);
    const ratio = tmp.own(g.div(std));
    tmp.free(g, std);
    const u = tmp.own(ratio.mul(clr));
    tmp.free(ratio, clr);
    tmp.assign(p, tmp.own(p.sub(u)));
    tmp.free(u);
  }
}
