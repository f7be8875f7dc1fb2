// lrScheduler: each schedule's learning rates against its closed form in float64, and each one
// driving a compiled training step (stepped outside it: whole-graph replay; inside it: segment by
// segment) with one trace and the losses of the eager loop.
import { describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import type { BackendName, Tensor } from '../../src/index.js';
import { BACKENDS, forEachBackend } from '../eager/backends.js';
import { cosineLR, exponentialLR, linearLR, multiStepLR, oneCycleLR, stepLR } from './reference.js';

const { optim } = k;
const S = optim.lrScheduler;
type AnyOpt = k.optim.Optimizer<any>;
type Sched = k.optim.lrScheduler.LRScheduler | k.optim.lrScheduler.ReduceLROnPlateau;

const BASE = 0.1;
const sgd = (lr = BASE) => new optim.SGD([k.ones([2], { requiresGrad: true })], { lr, momentum: 0.9 });

interface Row {
  name: string;
  make: (o: AnyOpt) => k.optim.lrScheduler.LRScheduler;
  /** The lr at epoch e from the base rate. */
  want: (b: number, e: number) => number;
  epochs: number;
}

const lam = (e: number) => 0.95 ** e * (e % 2 ? 1 : 0.5);
const ROWS: Row[] = [
  { name: 'StepLR', make: (o) => new S.StepLR(o, 3, 0.5), want: (b, e) => stepLR(b, e, 3, 0.5), epochs: 12 },
  { name: 'MultiStepLR (a repeated milestone applies gamma twice)', make: (o) => new S.MultiStepLR(o, [5, 2, 8, 5], 0.3), want: (b, e) => multiStepLR(b, e, [2, 5, 5, 8], 0.3), epochs: 12 },
  { name: 'ExponentialLR', make: (o) => new S.ExponentialLR(o, 0.8), want: (b, e) => exponentialLR(b, e, 0.8), epochs: 12 },
  { name: 'CosineAnnealingLR (past tMax it keeps cycling)', make: (o) => new S.CosineAnnealingLR(o, 6, 0.001), want: (b, e) => cosineLR(b, e, 6, 0.001), epochs: 20 },
  { name: 'LinearLR', make: (o) => new S.LinearLR(o, { startFactor: 0.25, endFactor: 1, totalIters: 4 }), want: (b, e) => linearLR(b, e, 0.25, 1, 4), epochs: 8 },
  { name: 'LinearLR decaying', make: (o) => new S.LinearLR(o, { startFactor: 1, endFactor: 0.1, totalIters: 5 }), want: (b, e) => linearLR(b, e, 1, 0.1, 5), epochs: 8 },
  { name: 'LambdaLR', make: (o) => new S.LambdaLR(o, lam), want: (b, e) => b * lam(e), epochs: 10 },
  { name: 'OneCycleLR cos', make: (o) => new S.OneCycleLR(o, 1, { totalSteps: 20 }), want: (_, e) => oneCycleLR(1, e, 20), epochs: 19 },
  { name: 'OneCycleLR linear, three phases', make: (o) => new S.OneCycleLR(o, 0.5, { epochs: 4, stepsPerEpoch: 5, annealStrategy: 'linear', threePhase: true, pctStart: 0.25 }), want: (_, e) => oneCycleLR(0.5, e, 20, { anneal: 'linear', threePhase: true, pct: 0.25 }), epochs: 19 },
  {
    name: 'SequentialLR: LinearLR warm-up then CosineAnnealingLR',
    make: (o) => new S.SequentialLR(o, [new S.LinearLR(o, { startFactor: 0.1, totalIters: 3 }), new S.CosineAnnealingLR(o, 8)], [3]),
    want: (b, e) => (e < 3 ? linearLR(b, e, 0.1, 1, 3) : cosineLR(b, e - 3, 8, 0)),
    epochs: 14,
  },
];

const close = (got: number, want: number) => expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-12 + 1e-12 * Math.abs(want));

describe.each(ROWS)('$name', (row) => {
  it('matches the closed form at every epoch; the groups hold the same value', () => {
    const opt = sgd();
    const s = row.make(opt);
    for (let e = 0; e <= row.epochs; e++) {
      if (e > 0) s.step();
      close(s.getLastLr()[0], row.want(BASE, e));
      expect(opt.paramGroups[0].lr).toBe(s.getLastLr()[0]);
    }
    expect(s.lastEpoch).toBe(row.epochs);
  });

  it('stateDict: a new scheduler on a loaded optimizer continues the same schedule', () => {
    const opt = sgd();
    const s = row.make(opt);
    for (let e = 0; e < 5; e++) s.step();
    const optState = opt.stateDict(), sState = s.stateDict();
    expect(JSON.parse(JSON.stringify(sState))).toEqual(sState); // plain data: saveable
    const rest: number[] = [];
    for (let e = 0; e < 4; e++) { s.step(); rest.push(s.getLastLr()[0]); }
    const opt2 = sgd(0.7);
    const s2 = row.make(opt2);
    opt2.loadStateDict(optState);
    s2.loadStateDict(sState);
    const again: number[] = [];
    for (let e = 0; e < 4; e++) { s2.step(); again.push(s2.getLastLr()[0]); }
    expect(again).toEqual(rest);
  });
});

describe('scheduler details', () => {
  it('per-group base rates; OneCycleLR cycles SGD momentum and Adam beta1 inversely to the lr', () => {
    const a = k.ones([1], { requiresGrad: true }), b = k.ones([1], { requiresGrad: true });
    const opt = new optim.SGD([{ params: [a] }, { params: [b], lr: 0.5 }], { lr: 0.1 });
    const s = new S.ExponentialLR(opt, 0.5);
    s.step();
    expect(s.getLastLr()).toEqual([0.05, 0.25]);
    const adam = new optim.Adam([k.ones([1], { requiresGrad: true })]);
    const oc = new S.OneCycleLR(adam, 1, { totalSteps: 10, pctStart: 0.5 });
    expect(adam.paramGroups[0].betas[0]).toBeCloseTo(0.95, 12);
    for (let i = 0; i < 4; i++) oc.step(); // the peak: step 4 of 0..9 with pctStart 0.5
    expect(oc.getLastLr()[0]).toBeCloseTo(1, 12);
    expect(adam.paramGroups[0].betas).toEqual([0.85, 0.999]);
    const m = new optim.SGD([k.ones([1], { requiresGrad: true })], { lr: 0.1, momentum: 0.9 });
    new S.OneCycleLR(m, 1, { totalSteps: 10, baseMomentum: 0.8, maxMomentum: 0.9 });
    expect(m.paramGroups[0].momentum).toBe(0.9);
  });

  it('ReduceLROnPlateau: patience, cooldown, minLr and eps as torch', () => {
    const opt = sgd();
    const s = new S.ReduceLROnPlateau(opt, { patience: 2, factor: 0.5, threshold: 0, thresholdMode: 'abs', cooldown: 1, minLr: 0.02 });
    const metrics = [5, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3];
    const lrs = metrics.map((m) => { s.step(m); return s.getLastLr()[0]; });
    expect(lrs).toEqual([0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.025, 0.02, 0.02, 0.02, 0.02, 0.02]);
    const up = new S.ReduceLROnPlateau(sgd(), { mode: 'max', patience: 0, threshold: 0.1 });
    up.step(k.tensor(1)); // a one-element tensor is read
    up.step(1.05); // within 10% of the best: not an improvement
    expect(up.getLastLr()[0]).toBeCloseTo(0.01, 15);
    expect(up.stateDict()).toMatchObject({ best: 1, numBadEpochs: 0, lastEpoch: 2 });
  });

  it('resuming with lastEpoch needs initialLr in the groups', () => {
    expect(() => new S.StepLR(sgd(), 2, 0.5, 3)).toThrow(/StepLR: parameter group 0 has no initialLr/);
    const opt = sgd();
    new S.StepLR(opt, 2);
    const s = new S.StepLR(opt, 2, 0.5, 3);
    expect(s.lastEpoch).toBe(4);
  });

  it.each([
    [() => new S.StepLR({} as never, 2), 'StepLR: expected an optimizer'],
    [() => new S.StepLR(sgd(), 0), 'StepLR: stepSize must be a positive integer, got 0'],
    [() => new S.CosineAnnealingLR(sgd(), -1), 'CosineAnnealingLR: tMax must be a positive number, got -1'],
    [() => new S.LinearLR(sgd(), { startFactor: 0 }), 'LinearLR: startFactor must be in (0, 1], got 0'],
    [() => new S.LinearLR(sgd(), { endFactor: 2 }), 'LinearLR: endFactor must be in [0, 1], got 2'],
    [() => new S.OneCycleLR(sgd(), 1), 'OneCycleLR: give totalSteps, or epochs and stepsPerEpoch'],
    [() => new S.OneCycleLR(sgd(), [1, 2], { totalSteps: 5 }), 'OneCycleLR: expected 1 values of maxLr'],
    [() => new S.OneCycleLR(sgd(), { maxLr: 1, totalSteps: 5 } as never), 'OneCycleLR: maxLr must be a finite number, got {"maxLr":1,"totalSteps":5}'],
    [() => new S.OneCycleLR(new optim.Adagrad([k.ones([1], { requiresGrad: true })]), 1, { totalSteps: 5 }), 'OneCycleLR: cycleMomentum needs an optimizer with momentum or betas; Adagrad has neither'],
    [() => { const s = new S.OneCycleLR(sgd(), 1, { totalSteps: 2 }); s.step(); s.step(); s.step(); }, 'OneCycleLR: tried to step 3 times; the schedule has 2 total steps'],
    [() => new S.LambdaLR(sgd(), [] as never), 'LambdaLR: lrLambda must be a function or a list of 1 functions'],
    [() => new S.LambdaLR(sgd(), () => NaN), 'LambdaLR: lrLambda(0) returned NaN'],
    [() => { const o = sgd(); return new S.SequentialLR(o, [new S.StepLR(o, 2), new S.StepLR(o, 3)], []); }, 'SequentialLR: expects 1 milestones for 2 schedulers, got 0'],
    [() => { const o = sgd(); return new S.SequentialLR(o, [new S.StepLR(sgd(), 2)], []); }, 'SequentialLR: scheduler 0 belongs to a different optimizer'],
    [() => new S.ReduceLROnPlateau(sgd(), { factor: 1 }), 'ReduceLROnPlateau: factor must be in [0, 1), got 1'],
    [() => new S.ReduceLROnPlateau(sgd(), { mode: 'up' as never }), "ReduceLROnPlateau: mode must be 'min' or 'max'"],
    [() => new S.ReduceLROnPlateau(sgd()).step(NaN), 'ReduceLROnPlateau.step: the metric must be a number'],
  ])('%#: rejects bad input: %s', (make, msg) => {
    expect(make).toThrow(k.KilnError);
    expect(make).toThrow(msg);
  });
});

// ----- in a compiled training step ----------------------------------------------------------------

const COMPILED: [string, (o: AnyOpt) => Sched][] = [
  ['StepLR', (o) => new S.StepLR(o, 2, 0.5)],
  ['MultiStepLR', (o) => new S.MultiStepLR(o, [1, 3], 0.3)],
  ['ExponentialLR', (o) => new S.ExponentialLR(o, 0.8)],
  ['CosineAnnealingLR', (o) => new S.CosineAnnealingLR(o, 5, 0.001)],
  ['LinearLR', (o) => new S.LinearLR(o, { startFactor: 0.2, totalIters: 4 })],
  ['OneCycleLR', (o) => new S.OneCycleLR(o, 0.2, { totalSteps: 9 })],
  ['LambdaLR', (o) => new S.LambdaLR(o, (e) => 1 / (1 + e))],
  ['SequentialLR', (o) => new S.SequentialLR(o, [new S.LinearLR(o, { startFactor: 0.1, totalIters: 2 }), new S.CosineAnnealingLR(o, 6)], [2])],
  ['ReduceLROnPlateau', (o) => new S.ReduceLROnPlateau(o, { patience: 0, factor: 0.5, threshold: 0.5 })],
];
const STEPS = 8;

/** A linear regression trained by AdamW with a scheduler; returns the losses. */
function train(backend: BackendName, make: (o: AnyOpt) => Sched, mode: 'eager' | 'outside' | 'inside'): { losses: number[]; traces: number; how: string } {
  k.manualSeed(3);
  const W = k.randn([4, 2], { backend, requiresGrad: true });
  const x = k.randn([6, 4], { backend }), y = k.randn([6, 2], { backend });
  const opt = new optim.AdamW([W], { lr: 0.1, weightDecay: 0.05 });
  const s = make(opt);
  const schedStep = (loss: Tensor) => { if (s instanceof S.ReduceLROnPlateau) s.step(loss); else s.step(); };
  const body = (xb: Tensor, yb: Tensor) => {
    opt.zeroGrad();
    const loss = k.nn.mseLoss(xb.matmul(W), yb);
    loss.backward();
    opt.step();
    if (mode === 'inside') schedStep(loss);
    return loss;
  };
  const step = mode === 'eager' ? body : k.compile(body, { backend });
  const losses: number[] = [];
  for (let i = 0; i < STEPS; i++) {
    const loss = step(x, y);
    if (mode !== 'inside') schedStep(loss.detach());
    losses.push(Number(loss.item()));
  }
  if (mode === 'eager') return { losses, traces: 0, how: 'eager' };
  const traces = (step as k.Compiled<typeof body>).cacheInfo().traces;
  return { losses, traces, how: k.explain(step, x, y).mode };
}

// webgpu reads are asynchronous (loss.item() is not), so this loop runs on cpu and wasm; webgpu below.
forEachBackend((backend) => {
  describe('a scheduler driving a compiled training step', () => {
    it.each(COMPILED)('%s: stepped outside (replay) and inside (segmented): one trace, losses of the eager loop', (_, make) => {
      const eager = train(backend, make, 'eager');
      for (const mode of ['outside', 'inside'] as const) {
        const c = train(backend, make, mode);
        expect(c.traces, mode).toBe(1);
        expect(c.how, mode).toBe(mode === 'outside' ? 'replay' : 'segmented');
        c.losses.forEach((l, i) => expect(Math.abs(l - eager.losses[i]), `${mode} step ${i}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(eager.losses[i]))));
      }
      // The schedule really changed the lr: a constant lr gives other losses.
      const flat = train(backend, () => new S.LambdaLR(sgd(), () => 1), 'eager');
      expect(flat.losses.some((l, i) => Math.abs(l - eager.losses[i]) > 1e-6)).toBe(true);
    });
  });
}, BACKENDS.filter((b) => b.name !== 'webgpu'));

describe('webgpu: a scheduler stepped between compiled steps', () => {
  it('matches eager (asynchronous reads)', { timeout: 120_000 }, async () => {
    const ok = await k.initBackend('webgpu').then(() => true, (e) => { console.warn(`[schedulers.test] SKIPPING webgpu: ${(e as Error).message}`); return false; });
    if (!ok) return;
    const run = async (compiled: boolean) => {
      k.manualSeed(3);
      const W = k.randn([4, 2], { backend: 'webgpu', requiresGrad: true });
      const x = k.randn([6, 4], { backend: 'webgpu' }), y = k.randn([6, 2], { backend: 'webgpu' });
      const opt = new optim.SGD([W], { lr: 0.2, momentum: 0.5 });
      const s = new S.CosineAnnealingLR(opt, 4);
      const body = (xb: Tensor, yb: Tensor) => { opt.zeroGrad(); const l = k.nn.mseLoss(xb.matmul(W), yb); l.backward(); opt.step(); return l; };
      const step = compiled ? k.compile(body, { backend: 'webgpu' }) : body;
      const losses: number[] = [];
      for (let i = 0; i < 6; i++) { losses.push(Number(await step(x, y).itemAsync())); s.step(); }
      return { losses, traces: compiled ? (step as k.Compiled<typeof body>).cacheInfo().traces : 0 };
    };
    const e = await run(false), c = await run(true);
    expect(c.traces).toBe(1);
    c.losses.forEach((l, i) => expect(Math.abs(l - e.losses[i])).toBeLessThanOrEqual(1e-5 * Math.max(1, e.losses[i])));
  });
});
