// RMSprop as torch.optim.RMSprop: a running mean of squared gradients (centered: minus the squared
// running mean), optional momentum, L2 weight decay and maximize.
import { full, zerosLike } from '../creation.js';
import type { Tensor } from '../tensor.js';
import { Optimizer, type Params } from './optimizer.js';
import { EPS, LR, MAXIMIZE, WEIGHT_DECAY, type OptionSpec, type OptionValue } from './options.js';
import { advanceStep, signedGrad, withWeightDecay, type UpdateContext } from './update.js';

export interface RMSpropOptions {
  /** Learning rate (default 1e-2). */
  lr?: number;
  /** Smoothing constant of the squared-gradient average (default 0.99). */
  alpha?: number;
  /** Added to the denominator for stability (default 1e-8). */
  eps?: number;
  /** L2 penalty folded into the gradient (default 0). */
  weightDecay?: number;
  /** Momentum factor (default 0). */
  momentum?: number;
  /** Normalise by the estimated variance of the gradient instead of its second moment. */
  centered?: boolean;
  /** Ascend the objective instead of descending it. */
  maximize?: boolean;
}

const SPECS: readonly OptionSpec[] = [
  LR(1e-2),
  { kind: 'number', name: 'alpha', default: 0.99, rule: 'nonNegative' },
  EPS(1e-8),
  WEIGHT_DECAY(),
  { kind: 'number', name: 'momentum', default: 0, rule: 'nonNegative' },
  { kind: 'boolean', name: 'centered', default: false, structural: true },
  MAXIMIZE,
];

/** RMSprop (Hinton), as torch.optim.RMSprop. */
export class RMSprop extends Optimizer<RMSpropOptions> {
  constructor(params: Params<RMSpropOptions>, options?: RMSpropOptions) {
    super(params, options, SPECS);
  }

  /** Whether there is a momentum buffer also decides the shape of the update. */
  protected override structure(v: Readonly<Record<string, OptionValue>>): string {
    return `${super.structure(v)},momentum=${(v.momentum as number) > 0}`;
  }

  protected initState(p: Tensor, v: Readonly<Record<string, OptionValue>>): Record<string, Tensor> {
    const st: Record<string, Tensor> = { step: full([], 0, { dtype: 'float32', backend: p.backend }), squareAvg: zerosLike(p) };
    if ((v.momentum as number) > 0) st.momentumBuffer = zerosLike(p);
    if (v.centered) st.gradAvg = zerosLike(p);
    return st;
  }

  protected scalarsOf(v: Readonly<Record<string, OptionValue>>): Record<string, number> {
    const alpha = v.alpha as number;
    return { lr: v.lr as number, alpha, oneMinusAlpha: 1 - alpha, eps: v.eps as number, weightDecay: v.weightDecay as number, momentum: v.momentum as number };
  }

  protected update(c: UpdateContext): void {
    const { p, s, v, tmp, state } = c;
    advanceStep(c);
    const g = withWeightDecay(c, signedGrad(c));
    // E[g²] ← α·E[g²] + (1 - α)·g²
    const sq = state.squareAvg;
    const g2 = tmp.own(g.mul(g));
    const g2a = tmp.own(g2.mul(s.oneMinusAlpha));
    tmp.free(g2);
    const sqa = tmp.own(sq.mul(s.alpha));
    tmp.assign(sq, tmp.own(sqa.add(g2a)));
    tmp.free(sqa, g2a);
    let second: Tensor = sq;
    if (v.centered) {
      // E[g] ← E[g] + (1 - α)(g - E[g]);  variance E[g²] - E[g]²
      const ga = state.gradAvg;
      const d = tmp.own(g.sub(ga));
      const da = tmp.own(d.mul(s.oneMinusAlpha));
      tmp.free(d);
      tmp.assign(ga, tmp.own(ga.add(da)));
      tmp.free(da);
      const ga2 = tmp.own(ga.mul(ga));
      second = tmp.own(sq.sub(ga2));
      tmp.free(ga2);
    }
    const root = tmp.own(second.sqrt());
    tmp.free(second);
    const avg = tmp.own(root.add(s.eps));
    tmp.free(root);
    const ratio = tmp.own(g.div(avg));
    tmp.free(g, avg);
    let dir = ratio;
    if (state.momentumBuffer) {
      // buf ← momentum·buf + g / avg
      const buf = state.momentumBuffer;
      const bm = tmp.own(buf.mul(s.momentum));
      tmp.assign(buf, tmp.own(bm.add(ratio)));
      tmp.free(bm, ratio);
      dir = buf;
    }
    const u = tmp.own(dir.mul(s.lr));
    tmp.free(dir);
    tmp.assign(p, tmp.own(p.sub(u)));
    tmp.free(u);
  }
}
