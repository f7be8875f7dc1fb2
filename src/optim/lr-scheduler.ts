// torch.optim.lr_scheduler for kiln: PyTorch's formulas in float64 JS, written into the optimizer's
// groups through `group.lr = …` (each group's lr is a runtime tensor, so a compiled training step
// sees every new value without retracing). Call step() outside the compiled step for a whole-graph
// replay; inside it, setting the lr is a graph break and the step runs segment by segment.
import { KilnError } from '../core/errors.js';
import { Tensor } from '../tensor.js';
import { Optimizer, type ParamGroup } from './optimizer.js';
import { runsEveryCall } from './update.js';

type AnyOptimizer = Optimizer<any>;
type Group = ParamGroup<Record<string, unknown>>;

function checkOptimizer(owner: string, optimizer: unknown): AnyOptimizer {
  if (!(optimizer instanceof Optimizer)) throw new KilnError(`${owner}: expected an optimizer (kiln.optim.SGD, Adam, ...), got ${optimizer === null ? 'null' : typeof optimizer}`);
  return optimizer;
}

function checkNumber(owner: string, name: string, v: unknown, ok: (x: number) => boolean, want: string): number {
  if (typeof v !== 'number' || !ok(v)) throw new KilnError(`${owner}: ${name} must be ${want}, got ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`);
  return v;
}
const isInt = (x: number) => Number.isInteger(x);
const finite = (x: number) => Number.isFinite(x);

/** Per-group values: one number for all groups, or a list with one per group. */
function perGroup(owner: string, name: string, v: number | readonly number[], n: number): number[] {
  const list = Array.isArray(v) ? [...v] : new Array<number>(n).fill(v as number);
  if (list.length !== n) throw new KilnError(`${owner}: expected ${n} values of ${name} (one per parameter group), got ${list.length}`);
  list.forEach((x) => checkNumber(owner, name, x, finite, 'a finite number'));
  return list;
}

/** The state a scheduler saves: its own fields, minus the optimizer and functions. */
function ownState(o: object, skip: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (skip.includes(k) || typeof v === 'function' || v instanceof Optimizer || v instanceof Tensor) continue;
    if (Array.isArray(v) && v.some((x) => typeof x === 'function')) continue; // LambdaLR's functions, as torch
    out[k] = Array.isArray(v) ? v.map((x) => (Array.isArray(x) ? [...x] : x)) : v;
  }
  return out;
}

/** Base of the epoch-indexed schedulers, as torch's LRScheduler. */
export abstract class LRScheduler {
  readonly optimizer: AnyOptimizer;
  /** The index of the last step taken (-1 before the first). */
  lastEpoch: number;
  /** Each group's initial learning rate (its `initialLr`). */
  baseLrs: number[];
  /** @internal */ _stepCount = 0;
  /** @internal */ _lastLr: number[] = [];

  constructor(optimizer: AnyOptimizer, lastEpoch = -1) {
    this.optimizer = checkOptimizer(this.constructor.name, optimizer);
    checkNumber(this.constructor.name, 'lastEpoch', lastEpoch, (x) => isInt(x) && x >= -1, 'an integer >= -1');
    const groups = this.groups;
    if (lastEpoch === -1) for (const g of groups) { if (g.initialLr === undefined) g.initialLr = g.lr; }
    else {
      groups.forEach((g, i) => {
        if (g.initialLr === undefined) throw new KilnError(`${this.constructor.name}: parameter group ${i} has no initialLr, which resuming (lastEpoch ${lastEpoch}) needs; load the optimizer's state first`);
      });
    }
    this.baseLrs = groups.map((g) => g.initialLr as number);
    this.lastEpoch = lastEpoch;
  }

  /** @internal The optimizer's groups. */
  get groups(): Group[] { return this.optimizer.paramGroups as Group[]; }

  /** Subclass constructors end with this: torch's initial step (sets the epoch-0 learning rate). */
  protected initialStep(): void {
    this._stepCount = 0;
    this.step();
  }

  /** Advances one epoch (or iteration) and sets each group's learning rate. */
  step(): void {
    this._stepCount++;
    this.lastEpoch++;
    this.apply(this.getLr());
  }

  /** @internal torch's deprecated step(epoch): jumps to an epoch, by the closed form where there is one. */
  _stepTo(epoch: number): void {
    this._stepCount++;
    this.lastEpoch = epoch;
    this.apply(this.closedFormLr?.() ?? this.getLr());
  }

  private apply(lrs: readonly number[]): void {
    this.groups.forEach((g, i) => { g.lr = lrs[i]; });
    this._lastLr = this.groups.map((g) => g.lr as number);
  }

  /** The learning rates the last step set, one per group. */
  getLastLr(): number[] { return [...this._lastLr]; }

  /** The learning rates for the current lastEpoch, from the groups' current ones (torch's chainable form). */
  protected abstract getLr(): number[];
  /** The learning rates at lastEpoch from the base rates alone, where the schedule has a closed form. */
  protected closedFormLr?(): number[];

  /** The scheduler's state (its fields, without the optimizer), as torch's state_dict(). */
  stateDict(): Record<string, unknown> { return ownState(this, []); }

  /** Restores a state from stateDict(). */
  loadStateDict(sd: Record<string, unknown>): void {
    for (const [k, v] of Object.entries(sd)) if (k !== 'optimizer' && k in this) (this as Record<string, unknown>)[k] = Array.isArray(v) ? [...v] : v;
  }
}

/** Multiplies the learning rate by gamma every stepSize epochs. */
export class StepLR extends LRScheduler {
  constructor(optimizer: AnyOptimizer, readonly stepSize: number, readonly gamma = 0.1, lastEpoch = -1) {
    super(optimizer, lastEpoch);
    checkNumber('StepLR', 'stepSize', stepSize, (x) => isInt(x) && x > 0, 'a positive integer');
    checkNumber('StepLR', 'gamma', gamma, finite, 'a finite number');
    this.initialStep();
  }
  protected getLr(): number[] {
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return this.groups.map((g) => g.lr as number);
    return this.groups.map((g) => (g.lr as number) * this.gamma);
  }
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** Math.floor(this.lastEpoch / this.stepSize));
  }
}

/** Multiplies the learning rate by gamma at each milestone epoch. */
export class MultiStepLR extends LRScheduler {
  readonly milestones: number[];
  constructor(optimizer: AnyOptimizer, milestones: readonly number[], readonly gamma = 0.1, lastEpoch = -1) {
    super(optimizer, lastEpoch);
    if (!Array.isArray(milestones)) throw new KilnError(`MultiStepLR: milestones must be a list of epochs, got ${String(milestones)}`);
    milestones.forEach((m) => checkNumber('MultiStepLR', 'milestones', m, (x) => isInt(x) && x >= 0, 'non-negative integers'));
    checkNumber('MultiStepLR', 'gamma', gamma, finite, 'a finite number');
    this.milestones = [...milestones].sort((a, b) => a - b);
    this.initialStep();
  }
  protected getLr(): number[] {
    const hits = this.milestones.filter((m) => m === this.lastEpoch).length;
    return this.groups.map((g) => (g.lr as number) * (hits ? this.gamma ** hits : 1));
  }
  protected override closedFormLr(): number[] {
    const passed = this.milestones.filter((m) => m <= this.lastEpoch).length;
    return this.baseLrs.map((b) => b * this.gamma ** passed);
  }
}

/** Multiplies the learning rate by gamma every epoch. */
export class ExponentialLR extends LRScheduler {
  constructor(optimizer: AnyOptimizer, readonly gamma: number, lastEpoch = -1) {
    super(optimizer, lastEpoch);
    checkNumber('ExponentialLR', 'gamma', gamma, finite, 'a finite number');
    this.initialStep();
  }
  protected getLr(): number[] {
    if (this.lastEpoch === 0) return this.groups.map((g) => g.lr as number);
    return this.groups.map((g) => (g.lr as number) * this.gamma);
  }
  protected override closedFormLr(): number[] { return this.baseLrs.map((b) => b * this.gamma ** this.lastEpoch); }
}

/** Cosine annealing from the base rate to etaMin over tMax epochs (SGDR without restarts). */
export class CosineAnnealingLR extends LRScheduler {
  constructor(optimizer: AnyOptimizer, readonly tMax: number, readonly etaMin = 0, lastEpoch = -1) {
    super(optimizer, lastEpoch);
    checkNumber('CosineAnnealingLR', 'tMax', tMax, (x) => finite(x) && x > 0, 'a positive number');
    checkNumber('CosineAnnealingLR', 'etaMin', etaMin, finite, 'a finite number');
    this.initialStep();
  }
  protected getLr(): number[] {
    const { lastEpoch: e, tMax: T, etaMin } = this;
    const lrs = this.groups.map((g) => g.lr as number);
    if (e === 0) return lrs;
    if (this._stepCount === 1 && e > 0) return this.baseLrs.map((b) => etaMin + ((b - etaMin) * (1 + Math.cos((e * Math.PI) / T))) / 2);
    if ((e - 1 - T) % (2 * T) === 0) return lrs.map((lr, i) => lr + ((this.baseLrs[i] - etaMin) * (1 - Math.cos(Math.PI / T))) / 2);
    return lrs.map((lr) => ((1 + Math.cos((Math.PI * e) / T)) / (1 + Math.cos((Math.PI * (e - 1)) / T))) * (lr - etaMin) + etaMin);
  }
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => this.etaMin + ((b - this.etaMin) * (1 + Math.cos((Math.PI * this.lastEpoch) / this.tMax))) / 2);
  }
}

/** Scales the learning rate linearly from startFactor to endFactor over totalIters epochs (warm-up). */
export class LinearLR extends LRScheduler {
  readonly startFactor: number;
  readonly endFactor: number;
  readonly totalIters: number;
  constructor(optimizer: AnyOptimizer, opts: { startFactor?: number; endFactor?: number; totalIters?: number } = {}, lastEpoch = -1) {
    super(optimizer, lastEpoch);
    this.startFactor = checkNumber('LinearLR', 'startFactor', opts.startFactor ?? 1 / 3, (x) => x > 0 && x <= 1, 'in (0, 1]');
    this.endFactor = checkNumber('LinearLR', 'endFactor', opts.endFactor ?? 1, (x) => x >= 0 && x <= 1, 'in [0, 1]');
    this.totalIters = checkNumber('LinearLR', 'totalIters', opts.totalIters ?? 5, (x) => isInt(x) && x > 0, 'a positive integer');
    this.initialStep();
  }
  protected getLr(): number[] {
    const { lastEpoch: e, startFactor: s, endFactor: f, totalIters: T } = this;
    if (e === 0) return this.groups.map((g) => (g.lr as number) * s);
    if (e > T) return this.groups.map((g) => g.lr as number);
    return this.groups.map((g) => (g.lr as number) * (1 + (f - s) / (T * s + (e - 1) * (f - s))));
  }
  protected override closedFormLr(): number[] {
    const { lastEpoch: e, startFactor: s, endFactor: f, totalIters: T } = this;
    return this.baseLrs.map((b) => b * (s + ((f - s) * Math.min(T, e)) / T));
  }
}

/** Sets each group's learning rate to its base rate times lrLambda(epoch). */
export class LambdaLR extends LRScheduler {
  private readonly lambdas: ((epoch: number) => number)[];
  constructor(optimizer: AnyOptimizer, lrLambda: ((epoch: number) => number) | readonly ((epoch: number) => number)[], lastEpoch = -1) {
    super(optimizer, lastEpoch);
    const n = this.groups.length;
    const list = typeof lrLambda === 'function' ? new Array(n).fill(lrLambda) : Array.isArray(lrLambda) ? [...lrLambda] : [];
    if (list.length !== n || list.some((f) => typeof f !== 'function')) {
      throw new KilnError(`LambdaLR: lrLambda must be a function or a list of ${n} functions (one per parameter group)`);
    }
    this.lambdas = list;
    this.initialStep();
  }
  protected getLr(): number[] {
    return this.baseLrs.map((b, i) => {
      const f = this.lambdas[i](this.lastEpoch);
      if (typeof f !== 'number' || !Number.isFinite(f)) throw new KilnError(`LambdaLR: lrLambda(${this.lastEpoch}) returned ${String(f)}; expected a finite number`);
      return b * f;
    });
  }
}

export interface OneCycleOptions {
  /** Total steps of the cycle; or give epochs and stepsPerEpoch. */
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent increasing the learning rate (default 0.3). */
  pctStart?: number;
  /** 'cos' (default) or 'linear'. */
  annealStrategy?: 'cos' | 'linear';
  /** Cycle momentum (or Adam's beta1) inversely to the learning rate (default true). */
  cycleMomentum?: boolean;
  baseMomentum?: number | readonly number[];
  maxMomentum?: number | readonly number[];
  /** initialLr = maxLr / divFactor (default 25). */
  divFactor?: number;
  /** minLr = initialLr / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
  /** Use a third phase that anneals to minLr (default false: two phases). */
  threePhase?: boolean;
}

interface Phase { endStep: number; startLr: string; endLr: string; startMomentum: string; endMomentum: string }

/** The 1cycle policy (Smith & Topsekar): warm up to maxLr, then anneal far below the start; steps per batch. */
export class OneCycleLR extends LRScheduler {
  readonly totalSteps: number;
  readonly annealStrategy: 'cos' | 'linear';
  readonly cycleMomentum: boolean;
  readonly useBeta1: boolean;
  readonly phases: Phase[];

  constructor(optimizer: AnyOptimizer, maxLr: number | readonly number[], opts: OneCycleOptions = {}, lastEpoch = -1) {
    const opt = checkOptimizer('OneCycleLR', optimizer);
    const groups = opt.paramGroups as Group[];
    const n = groups.length;
    const maxLrs = perGroup('OneCycleLR', 'maxLr', maxLr, n); // first, so options passed in its place are named
    let total: number;
    if (opts.totalSteps !== undefined) total = checkNumber('OneCycleLR', 'totalSteps', opts.totalSteps, (x) => isInt(x) && x > 0, 'a positive integer');
    else if (opts.epochs !== undefined && opts.stepsPerEpoch !== undefined) {
      checkNumber('OneCycleLR', 'epochs', opts.epochs, (x) => isInt(x) && x > 0, 'a positive integer');
      checkNumber('OneCycleLR', 'stepsPerEpoch', opts.stepsPerEpoch, (x) => isInt(x) && x > 0, 'a positive integer');
      total = opts.epochs * opts.stepsPerEpoch;
    } else throw new KilnError('OneCycleLR: give totalSteps, or epochs and stepsPerEpoch');
    const pct = checkNumber('OneCycleLR', 'pctStart', opts.pctStart ?? 0.3, (x) => x >= 0 && x <= 1, 'in [0, 1]');
    const anneal = opts.annealStrategy ?? 'cos';
    if (anneal !== 'cos' && anneal !== 'linear') throw new KilnError(`OneCycleLR: annealStrategy must be 'cos' or 'linear', got ${String(anneal)}`);
    const div = checkNumber('OneCycleLR', 'divFactor', opts.divFactor ?? 25, (x) => finite(x) && x > 0, 'a positive number');
    const finalDiv = checkNumber('OneCycleLR', 'finalDivFactor', opts.finalDivFactor ?? 1e4, (x) => finite(x) && x > 0, 'a positive number');
    const phases: Phase[] = opts.threePhase
      ? [
        { endStep: pct * total - 1, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
        { endStep: 2 * pct * total - 2, startLr: 'maxLr', endLr: 'initialLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
        { endStep: total - 1, startLr: 'initialLr', endLr: 'minLr', startMomentum: 'maxMomentum', endMomentum: 'maxMomentum' },
      ]
      : [
        { endStep: pct * total - 1, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
        { endStep: total - 1, startLr: 'maxLr', endLr: 'minLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
      ];
    if (lastEpoch === -1) {
      groups.forEach((g, i) => {
        g.initialLr = maxLrs[i] / div;
        g.maxLr = maxLrs[i];
        g.minLr = (g.initialLr as number) / finalDiv;
      });
    }
    const cycle = opts.cycleMomentum ?? true;
    const useBeta1 = 'betas' in opt.defaults;
    if (cycle) {
      if (!useBeta1 && !('momentum' in opt.defaults)) throw new KilnError(`OneCycleLR: cycleMomentum needs an optimizer with momentum or betas; ${opt.name} has neither (pass cycleMomentum: false)`);
      const maxM = perGroup('OneCycleLR', 'maxMomentum', opts.maxMomentum ?? 0.95, n);
      const baseM = perGroup('OneCycleLR', 'baseMomentum', opts.baseMomentum ?? 0.85, n);
      if (lastEpoch === -1) {
        groups.forEach((g, i) => {
          setMomentum(g, useBeta1, maxM[i]);
          g.maxMomentum = maxM[i];
          g.baseMomentum = baseM[i];
        });
      }
    }
    super(opt, lastEpoch);
    this.totalSteps = total;
    this.annealStrategy = anneal;
    this.cycleMomentum = cycle;
    this.useBeta1 = useBeta1;
    this.phases = phases;
    this.initialStep();
  }

  private anneal(start: number, end: number, pct: number): number {
    return this.annealStrategy === 'cos' ? end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1) : (end - start) * pct + start;
  }

  protected getLr(): number[] {
    const t = this.lastEpoch;
    if (t > this.totalSteps) throw new KilnError(`OneCycleLR: tried to step ${t} times; the schedule has ${this.totalSteps} total steps`);
    return this.groups.map((g) => {
      let start = 0;
      for (let i = 0; i < this.phases.length; i++) {
        const ph = this.phases[i];
        if (t <= ph.endStep || i === this.phases.length - 1) {
          const pct = (t - start) / (ph.endStep - start);
          if (this.cycleMomentum) setMomentum(g, this.useBeta1, this.anneal(g[ph.startMomentum] as number, g[ph.endMomentum] as number, pct));
          return this.anneal(g[ph.startLr] as number, g[ph.endLr] as number, pct);
        }
        start = ph.endStep;
      }
      throw new Error('unreachable: the last phase always matches');
    });
  }
}

function setMomentum(g: Group, useBeta1: boolean, m: number): void {
  if (useBeta1) g.betas = [m, (g.betas as readonly number[])[1]];
  else g.momentum = m;
}

/** Runs schedulers one after another, switching at the milestones (e.g. LinearLR warm-up, then cosine). */
export class SequentialLR extends LRScheduler {
  private readonly schedulers: LRScheduler[];
  readonly milestones: number[];

  constructor(optimizer: AnyOptimizer, schedulers: readonly LRScheduler[], milestones: readonly number[], lastEpoch = -1) {
    const opt = checkOptimizer('SequentialLR', optimizer);
    if (!Array.isArray(schedulers) || schedulers.length < 1) throw new KilnError('SequentialLR: expects at least one scheduler');
    schedulers.forEach((s, i) => {
      if (!(s instanceof LRScheduler)) throw new KilnError(`SequentialLR: scheduler ${i} is not an LRScheduler${s instanceof ReduceLROnPlateau ? ' (ReduceLROnPlateau cannot be sequenced)' : ''}`);
      if (s.optimizer !== opt) throw new KilnError(`SequentialLR: scheduler ${i} belongs to a different optimizer than the one given`);
    });
    if (!Array.isArray(milestones) || milestones.length !== schedulers.length - 1) {
      throw new KilnError(`SequentialLR: expects ${schedulers.length - 1} milestones for ${schedulers.length} schedulers, got ${Array.isArray(milestones) ? milestones.length : String(milestones)}`);
    }
    milestones.forEach((m) => checkNumber('SequentialLR', 'milestones', m, (x) => isInt(x) && x >= 0, 'non-negative integers'));
    super(opt, lastEpoch);
    this.schedulers = [...schedulers];
    this.milestones = [...milestones];
    this.lastEpoch = lastEpoch + 1;
    // Back to the initial rates, undo the step each scheduler's constructor took, start the first.
    for (const g of this.groups) g.lr = g.initialLr;
    for (const s of this.schedulers) s.lastEpoch -= 1;
    this.schedulers[0]['initialStep']();
    this._lastLr = this.schedulers[0].getLastLr();
  }

  override step(): void {
    this.lastEpoch++;
    const idx = this.milestones.filter((m) => m <= this.lastEpoch).length;
    const s = this.schedulers[idx];
    if (idx > 0 && this.milestones[idx - 1] === this.lastEpoch) s._stepTo(0);
    else s.step();
    this._lastLr = s.getLastLr();
  }

  protected getLr(): number[] { return this.groups.map((g) => g.lr as number); }

  override stateDict(): Record<string, unknown> {
    return { ...ownState(this, ['schedulers']), schedulers: this.schedulers.map((s) => s.stateDict()) };
  }

  override loadStateDict(sd: Record<string, unknown>): void {
    const { schedulers, ...rest } = sd;
    super.loadStateDict(rest);
    if (Array.isArray(schedulers)) schedulers.forEach((s, i) => this.schedulers[i]?.loadStateDict(s as Record<string, unknown>));
  }
}

export interface ReduceLROnPlateauOptions {
  /** 'min' (default): a lower metric is better; 'max': higher is better. */
  mode?: 'min' | 'max';
  /** New lr = lr·factor (default 0.1; must be < 1). */
  factor?: number;
  /** Epochs without improvement before reducing (default 10). */
  patience?: number;
  /** Smallest change that counts as an improvement (default 1e-4). */
  threshold?: number;
  /** 'rel' (default): relative to the best; 'abs': absolute. */
  thresholdMode?: 'rel' | 'abs';
  /** Epochs to wait after a reduction before counting again (default 0). */
  cooldown?: number;
  /** Lower bound of the learning rate, one or one per group (default 0). */
  minLr?: number | readonly number[];
  /** Reductions smaller than this are skipped (default 1e-8). */
  eps?: number;
}

/** Reduces the learning rate when a metric has stopped improving; step(metric) once per epoch. */
export class ReduceLROnPlateau {
  readonly optimizer: AnyOptimizer;
  readonly mode: 'min' | 'max';
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: 'rel' | 'abs';
  readonly cooldown: number;
  readonly minLrs: number[];
  readonly eps: number;
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;
  /** @internal */ _lastLr: number[];

  constructor(optimizer: AnyOptimizer, opts: ReduceLROnPlateauOptions = {}) {
    this.optimizer = checkOptimizer('ReduceLROnPlateau', optimizer);
    const mode = opts.mode ?? 'min';
    if (mode !== 'min' && mode !== 'max') throw new KilnError(`ReduceLROnPlateau: mode must be 'min' or 'max', got ${String(mode)}`);
    const tm = opts.thresholdMode ?? 'rel';
    if (tm !== 'rel' && tm !== 'abs') throw new KilnError(`ReduceLROnPlateau: thresholdMode must be 'rel' or 'abs', got ${String(tm)}`);
    this.mode = mode;
    this.thresholdMode = tm;
    this.factor = checkNumber('ReduceLROnPlateau', 'factor', opts.factor ?? 0.1, (x) => x >= 0 && x < 1, 'in [0, 1)');
    this.patience = checkNumber('ReduceLROnPlateau', 'patience', opts.patience ?? 10, (x) => isInt(x) && x >= 0, 'a non-negative integer');
    this.threshold = checkNumber('ReduceLROnPlateau', 'threshold', opts.threshold ?? 1e-4, (x) => finite(x) && x >= 0, 'a finite number >= 0');
    this.cooldown = checkNumber('ReduceLROnPlateau', 'cooldown', opts.cooldown ?? 0, (x) => isInt(x) && x >= 0, 'a non-negative integer');
    this.eps = checkNumber('ReduceLROnPlateau', 'eps', opts.eps ?? 1e-8, (x) => finite(x) && x >= 0, 'a finite number >= 0');
    this.minLrs = perGroup('ReduceLROnPlateau', 'minLr', opts.minLr ?? 0, this.optimizer.paramGroups.length);
    this.best = mode === 'min' ? Infinity : -Infinity;
    this._lastLr = this.optimizer.paramGroups.map((g) => g.lr as number);
  }

  /** Records this epoch's metric (a number, or a one-element tensor read synchronously) and maybe reduces. */
  step(metric: number | Tensor): void {
    runsEveryCall('ReduceLROnPlateau.step()');
    const current = metric instanceof Tensor ? Number(metric.item()) : metric;
    if (typeof current !== 'number' || Number.isNaN(current)) throw new KilnError(`ReduceLROnPlateau.step: the metric must be a number, got ${String(metric)}`);
    this.lastEpoch++;
    if (this.isBetter(current)) { this.best = current; this.numBadEpochs = 0; } else this.numBadEpochs++;
    if (this.cooldownCounter > 0) { this.cooldownCounter--; this.numBadEpochs = 0; }
    if (this.numBadEpochs > this.patience) {
      (this.optimizer.paramGroups as Group[]).forEach((g, i) => {
        const old = g.lr as number;
        const next = Math.max(old * this.factor, this.minLrs[i]);
        if (old - next > this.eps) g.lr = next;
      });
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this._lastLr = this.optimizer.paramGroups.map((g) => g.lr as number);
  }

  private isBetter(a: number): boolean {
    const { best, threshold } = this;
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? a < best * (1 - threshold) : a < best - threshold;
    return this.thresholdMode === 'rel' ? a > best * (threshold + 1) : a > best + threshold;
  }

  getLastLr(): number[] { return [...this._lastLr]; }

  stateDict(): Record<string, unknown> { return ownState(this, []); }

  loadStateDict(sd: Record<string, unknown>): void {
    for (const [k, v] of Object.entries(sd)) if (k !== 'optimizer' && k in this) (this as Record<string, unknown>)[k] = Array.isArray(v) ? [...v] : v;
  }
}
