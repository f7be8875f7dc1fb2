// SGD as torch.optim.SGD: momentum (the buffer starts as the first gradient), dampening, Nesterov,
// L2 weight decay and maximize.
import { KilnError } from '../core/errors.js';
import { full, zerosLike } from '../creation.js';
import type { Tensor } from '../tensor.js';
import { Optimizer, type Params } from './optimizer.js';
import { LR, MAXIMIZE, WEIGHT_DECAY, type OptionSpec, type OptionValue } from './options.js';
import { setScalar, signedGrad, withWeightDecay, type UpdateContext } from './update.js';

export interface SGDOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Momentum factor (default 0). */
  momentum?: number;
  /** Dampening of the momentum (default 0). */
  dampening?: number;
  /** L2 penalty folded into the gradient (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). */
  nesterov?: boolean;
  /** Ascend the objective instead of descending it. */
  maximize?: boolean;
}

const SPECS: readonly OptionSpec[] = [
  LR(1e-3),
  { kind: 'number', name: 'momentum', default: 0, rule: 'nonNegative' },
  { kind: 'number', name: 'dampening', default: 0, rule: 'finite' },
  WEIGHT_DECAY(),
  { kind: 'boolean', name: 'nesterov', default: false, structural: true },
  MAXIMIZE,
];

/** Stochastic gradient descent (optionally with momentum), as torch.optim.SGD. */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: Params<SGDOptions>, options?: SGDOptions) {
    super(params, options, SPECS);
  }

  protected override checkCombination(v: Readonly<Record<string, OptionValue>>): void {
    if (v.nesterov && ((v.momentum as number) <= 0 || v.dampening !== 0)) {
      throw new KilnError(`SGD: nesterov requires momentum > 0 and dampening = 0, got momentum ${v.momentum} and dampening ${v.dampening}`);
    }
  }

  /** Whether there is a momentum buffer also decides the shape of the update. */
  protected override structure(v: Readonly<Record<string, OptionValue>>): string {
    return `${super.structure(v)},momentum=${v.momentum !== 0}`;
  }

  protected initState(p: Tensor, v: Readonly<Record<string, OptionValue>>): Record<string, Tensor> {
    if (v.momentum === 0) return {};
    // _started: 0 until the buffer holds its first gradient (torch's "buffer is None").
    return { momentumBuffer: zerosLike(p), _started: full([], 0, { dtype: 'float32', backend: p.backend }) };
  }

  protected override afterLoad(p: Tensor, keys: readonly string[]): void {
    const st = this.state.get(p)!;
    if (st._started) setScalar(st._started, keys.includes('momentumBuffer') ? 1 : 0);
  }

  protected scalarsOf(v: Readonly<Record<string, OptionValue>>): Record<string, number> {
    const damp = v.dampening as number;
    return { lr: v.lr as number, momentum: v.momentum as number, dampening: damp, oneMinusDampening: 1 - damp, weightDecay: v.weightDecay as number };
  }

  protected update(c: UpdateContext): void {
    const { p, s, v, tmp, state } = c;
    let d = withWeightDecay(c, signedGrad(c));
    const buf = state.momentumBuffer;
    if (buf) {
      if (!c.tracing && !c.stepped) {
        buf.copy_(d);
        setScalar(state._started, 1);
      } else {
        // buf = momentum·buf + (1 - dampening)·d; traced, the first step's factor is 1 (buf starts at 0).
        const mb = tmp.own(buf.mul(s.momentum));
        let damp: Tensor;
        if (!c.tracing) damp = v.dampening === 0 ? d : tmp.own(d.mul(s.oneMinusDampening));
        else {
          const f = tmp.own(s.dampening.mul(state._started));
          const keep = tmp.own(f.neg().add(1));
          damp = tmp.own(d.mul(keep));
          setScalar(state._started, 1);
        }
        tmp.assign(buf, tmp.own(mb.add(damp)));
        tmp.free(mb);
        if (damp !== d) tmp.free(damp);
      }
      if (v.nesterov) {
        const mbuf = tmp.own(buf.mul(s.momentum));
        const nd = tmp.own(d.add(mbuf));
        tmp.free(mbuf, d);
        d = nd;
      } else {
        tmp.free(d);
        d = buf;
      }
    }
    const u = tmp.own(d.mul(s.lr));
    tmp.free(d);
    tmp.assign(p, tmp.own(p.sub(u)));
  }
}
