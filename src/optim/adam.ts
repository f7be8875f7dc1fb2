// Adam and AdamW as torch.optim: bias-corrected moments, amsgrad, maximize, L2 (Adam) or decoupled
// (AdamW) weight decay. The step count is a per-parameter tensor, so bias correction stays right
// when a compiled step replays.
import { full, zerosLike } from '../creation.js';
import type { Tensor } from '../tensor.js';
import { Optimizer, type Params } from './optimizer.js';
import { EPS, LR, MAXIMIZE, WEIGHT_DECAY, type OptionSpec, type OptionValue } from './options.js';
import { advanceStep, oneMinusPow, signedGrad, withWeightDecay, type UpdateContext } from './update.js';

export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Decay rates of the first and second moment estimates (default [0.9, 0.999]). */
  betas?: readonly [number, number];
  /** Added to the denominator for stability (default 1e-8). */
  eps?: number;
  /** Weight decay (Adam: L2 folded into the gradient, default 0; AdamW: decoupled, default 1e-2). */
  weightDecay?: number;
  /** Use the running maximum of the second moment (AMSGrad). */
  amsgrad?: boolean;
  /** Ascend the objective instead of descending it. */
  maximize?: boolean;
}

const specs = (weightDecay: number): readonly OptionSpec[] => [
  LR(1e-3),
  { kind: 'betas', name: 'betas', default: [0.9, 0.999] },
  EPS(1e-8),
  WEIGHT_DECAY(weightDecay),
  { kind: 'boolean', name: 'amsgrad', default: false, structural: true },
  MAXIMIZE,
];

/** Adam (Kingma & Ba), as torch.optim.Adam. */
export class Adam extends Optimizer<AdamOptions> {
  /** AdamW decays the weights directly instead of adding to the gradient. */
  protected readonly decoupled: boolean = false;

  /** The default weight decay (AdamW: 1e-2). */
  static readonly defaultWeightDecay: number = 0;

  constructor(params: Params<AdamOptions>, options?: AdamOptions) {
    super(params, options, specs((new.target as typeof Adam).defaultWeightDecay));
  }

  protected initState(p: Tensor, v: Readonly<Record<string, OptionValue>>): Record<string, Tensor> {
    const st: Record<string, Tensor> = { step: full([], 0, { dtype: 'float32', backend: p.backend }), expAvg: zerosLike(p), expAvgSq: zerosLike(p) };
    if (v.amsgrad) st.maxExpAvgSq = zerosLike(p);
    return st;
  }

  protected scalarsOf(v: Readonly<Record<string, OptionValue>>): Record<string, number> {
    const [b1, b2] = v.betas as readonly [number, number];
    const lr = v.lr as number, wd = v.weightDecay as number;
    return {
      lr, eps: v.eps as number, weightDecay: wd, oneMinusBeta1: 1 - b1, beta2: b2, oneMinusBeta2: 1 - b2,
      // β^t as exp(t·ln β): ln β rounds once from float64 (β itself in float32 would drift with t).
      logBeta1: Math.log(b1), logBeta2: Math.log(b2),
      decay: 1 - lr * wd,
    };
  }

  protected update(c: UpdateContext): void {
    const { p, s, v, tmp, state } = c;
    const t = advanceStep(c);
    let g = signedGrad(c);
    if (!this.decoupled) g = withWeightDecay(c, g);
    else if (c.tracing || v.weightDecay !== 0) tmp.assign(p, tmp.own(p.mul(s.decay)));
    // m ← m + (1 - β1)(g - m)   (torch's lerp)
    const m = state.expAvg;
    const dm = tmp.own(g.sub(m));
    const dm1 = tmp.own(dm.mul(s.oneMinusBeta1));
    tmp.free(dm);
    tmp.assign(m, tmp.own(m.add(dm1)));
    tmp.free(dm1);
    // v ← β2·v + (1 - β2)·g²
    const vv = state.expAvgSq;
    const g2 = tmp.own(g.mul(g));
    tmp.free(g);
    const g2b = tmp.own(g2.mul(s.oneMinusBeta2));
    tmp.free(g2);
    const vb = tmp.own(vv.mul(s.beta2));
    tmp.assign(vv, tmp.own(vb.add(g2b)));
    tmp.free(vb, g2b);
    let second = vv;
    if (v.amsgrad) {
      tmp.assign(state.maxExpAvgSq, tmp.own(state.maxExpAvgSq.maximum(vv)));
      second = state.maxExpAvgSq;
    }
    // step size lr / (1 - β1^t); denominator √v / √(1 - β2^t) + ε
    let stepSize: Tensor, bc2s: Tensor;
    if (t !== null) {
      // The step is known: the bias corrections in float64, as torch's eager Adam computes them.
      const [b1, b2] = v.betas as readonly [number, number];
      stepSize = c.scratch('stepSize', (v.lr as number) / (1 - b1 ** t));
      bc2s = c.scratch('biasCorrection2Sqrt', Math.sqrt(1 - b2 ** t));
    } else {
      // From the step tensor (compiled, webgpu), to a few ulps of the float64 values.
      const bc1 = oneMinusPow(c, s.logBeta1);
      stepSize = tmp.own(s.lr.div(bc1));
      tmp.free(bc1);
      const bc2 = oneMinusPow(c, s.logBeta2);
      bc2s = tmp.own(bc2.sqrt());
      tmp.free(bc2);
    }
    const root = tmp.own(second.sqrt());
    const scaled = tmp.own(root.div(bc2s));
    tmp.free(root, bc2s);
    const denom = tmp.own(scaled.add(s.eps));
    tmp.free(scaled);
    const ratio = tmp.own(m.div(denom));
    tmp.free(denom);
    const u = tmp.own(ratio.mul(stepSize));
    tmp.free(ratio, stepSize);
    tmp.assign(p, tmp.own(p.sub(u)));
    tmp.free(u);
  }
}

/** Adam with decoupled weight decay (Loshchilov & Hutter), as torch.optim.AdamW (weight decay 1e-2). */
export class AdamW extends Adam {
  static override readonly defaultWeightDecay: number = 1e-2;
  protected override readonly decoupled: boolean = true;
}
