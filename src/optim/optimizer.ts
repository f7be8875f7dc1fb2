// Optimizers. All state (momentum buffers, moments, the step count) is tensors created up front and
// updated in place, so an optimizer step traced by compile() replays correctly: nothing lives in JS
// numbers that a replay would not update.
import { KilnError } from '../core/errors.js';
import { noGrad } from '../autograd.js';
import { full, zerosLike } from '../creation.js';
import type { Tensor } from '../tensor.js';

/** Base: holds the parameters, zeroGrad(), and a step() that runs the update under noGrad. */
export abstract class Optimizer {
  readonly params: Tensor[];
  constructor(params: Iterable<Tensor>, readonly lr: number) {
    this.params = [...params];
    if (this.params.length === 0) throw new KilnError(`${this.constructor.name}: got an empty parameter list`);
    if (!(lr > 0)) throw new KilnError(`${this.constructor.name}: learning rate must be positive, got ${lr}`);
    this.params.forEach((p, i) => {
      if (!p.requiresGrad || !p.isLeaf) throw new KilnError(`${this.constructor.name}: parameter ${i} must be a leaf tensor with requiresGrad`);
    });
  }

  /** Sets every parameter's .grad to null (PyTorch's default set_to_none). */
  zeroGrad(): void { for (const p of this.params) p.grad = null; }

  /** Applies one update from the current gradients (parameters without .grad are skipped). */
  step(): void { noGrad(() => this.params.forEach((p, i) => { if (p.grad) this.update(p, p.grad, i); })); }

  protected abstract update(p: Tensor, g: Tensor, i: number): void;
}

/** Stochastic gradient descent with optional momentum, dampening, Nesterov and L2 weight decay. */
export class SGD extends Optimizer {
  private readonly buf: Tensor[];
  readonly momentum: number;
  readonly weightDecay: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  constructor(params: Iterable<Tensor>, opts: { lr: number; momentum?: number; weightDecay?: number; dampening?: number; nesterov?: boolean }) {
    super(params, opts.lr);
    this.momentum = opts.momentum ?? 0;
    this.weightDecay = opts.weightDecay ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.nesterov = opts.nesterov ?? false;
    this.buf = this.momentum ? this.params.map((p) => zerosLike(p)) : [];
    this.first = this.momentum ? full([], 1, { dtype: 'float32', backend: this.params[0].backend }) : null;
  }
  /** 1 before the first step (the buffer starts as the gradient itself, as in PyTorch), then 0. */
  private readonly first: Tensor | null;

  protected update(p: Tensor, g: Tensor, i: number): void {
    let d = this.weightDecay ? g.add(p.mul(this.weightDecay)) : g;
    if (this.momentum) {
      const b = this.buf[i];
      // buf = momentum·buf + (1 - dampening)·d, except buf = d on the first step.
      const damp = this.first!.mul(this.dampening).add(1 - this.dampening);
      b.mul_(this.momentum).add_(d.mul(damp));
      d = this.nesterov ? d.add(b.mul(this.momentum)) : b;
      if (i === this.params.length - 1) this.first!.zero_();
    }
    p.sub_(d.mul(this.lr));
  }
}

interface AdamOptions { lr?: number; betas?: [number, number]; eps?: number; weightDecay?: number }

/** Adam (Kingma & Ba) with L2 weight decay folded into the gradient. */
export class Adam extends Optimizer {
  protected readonly m: Tensor[];
  protected readonly v: Tensor[];
  protected readonly t: Tensor;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  protected readonly decoupled: boolean = false;

  constructor(params: Iterable<Tensor>, opts: AdamOptions = {}) {
    super(params, opts.lr ?? 1e-3);
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    this.m = this.params.map((p) => zerosLike(p));
    this.v = this.params.map((p) => zerosLike(p));
    // The step count is a tensor so bias correction stays right when a compiled step replays.
    this.t = full([], 0, { dtype: 'float32', backend: this.params[0].backend });
  }

  override step(): void {
    noGrad(() => this.t.add_(1));
    super.step();
  }

  protected update(p: Tensor, g: Tensor, i: number): void {
    const [b1, b2] = this.betas;
    if (this.weightDecay && this.decoupled) p.mul_(1 - this.lr * this.weightDecay);
    else if (this.weightDecay) g = g.add(p.mul(this.weightDecay));
    const m = this.m[i].mul_(b1).add_(g.mul(1 - b1));
    const v = this.v[i].mul_(b2).add_(g.mul(g).mul(1 - b2));
    // m̂ = m / (1 - β1^t), v̂ = v / (1 - β2^t);  p -= lr · m̂ / (√v̂ + ε)
    const c1 = this.t._scalar(b1).pow(this.t).neg().add(1);
    const c2 = this.t._scalar(b2).pow(this.t).neg().add(1);
    const denom = v.div(c2).sqrt().add(this.eps);
    p.sub_(m.div(c1).div(denom).mul(this.lr));
  }
}

/** Adam with decoupled weight decay (Loshchilov & Hutter); default weight decay 0.01 as in PyTorch. */
export class AdamW extends Adam {
  protected override readonly decoupled = true;
  constructor(params: Iterable<Tensor>, opts: AdamOptions = {}) {
    super(params, { weightDecay: 0.01, ...opts });
  }
}
