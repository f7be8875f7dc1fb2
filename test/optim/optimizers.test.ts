// Every optimizer and option against a float64 re-statement of torch's update, with two parameter
// groups and a learning rate changed between steps: eagerly and as a compiled training step (which
// must see each new lr without a retrace), on every backend.
import { describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import type { BackendName, Tensor } from '../../src/index.js';
import { forEachBackend } from '../eager/backends.js';
import { mulberry32 } from '../rng.js';
import { adagradRef, adamRef, rmspropRef, sgdRef, type RefOptimizer } from './reference.js';

const { optim } = k;
type AnyOpt = k.optim.Optimizer<any>;

interface Case {
  name: string;
  /** Builds the optimizer over two groups (the second overrides lr and weightDecay). */
  make: (p0: Tensor, p1: Tensor) => AnyOpt;
  /** The float64 oracle for one parameter with its group's options. */
  ref: (group: 0 | 1) => RefOptimizer<{ lr: number }>;
}

const G1 = { lr: 0.03, weightDecay: 0.2 };
function twoGroups<O extends object>(Make: new (params: any, opts?: O) => AnyOpt, opts: O) {
  return (p0: Tensor, p1: Tensor) => new Make([{ params: [p0] }, { params: [p1], ...G1 }], opts);
}
const refFor = <O extends { lr: number }>(f: (o: O) => RefOptimizer<O>, opts: O) => (g: 0 | 1) => f(g === 0 ? opts : { ...opts, ...G1 }) as unknown as RefOptimizer<{ lr: number }>;

const CASES: Case[] = [
  { name: 'SGD', make: twoGroups(optim.SGD, { lr: 0.1 }), ref: refFor(sgdRef, { lr: 0.1 }) },
  { name: 'SGD momentum', make: twoGroups(optim.SGD, { lr: 0.1, momentum: 0.9 }), ref: refFor(sgdRef, { lr: 0.1, momentum: 0.9 }) },
  { name: 'SGD momentum dampening weightDecay', make: twoGroups(optim.SGD, { lr: 0.1, momentum: 0.9, dampening: 0.3, weightDecay: 0.05 }), ref: refFor(sgdRef, { lr: 0.1, momentum: 0.9, dampening: 0.3, weightDecay: 0.05 }) },
  { name: 'SGD nesterov maximize', make: twoGroups(optim.SGD, { lr: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.01, maximize: true }), ref: refFor(sgdRef, { lr: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.01, maximize: true }) },
  { name: 'Adam', make: twoGroups(optim.Adam, { lr: 0.01 }), ref: refFor(adamRef, { lr: 0.01 }) },
  {
    name: 'Adam amsgrad maximize betas eps weightDecay',
    make: twoGroups(optim.Adam, { lr: 0.02, betas: [0.8, 0.95] as const, eps: 1e-6, weightDecay: 0.1, amsgrad: true, maximize: true }),
    ref: refFor(adamRef, { lr: 0.02, betas: [0.8, 0.95] as const, eps: 1e-6, weightDecay: 0.1, amsgrad: true, maximize: true }),
  },
  { name: 'AdamW', make: twoGroups(optim.AdamW, { lr: 0.01 }), ref: refFor(adamRef, { lr: 0.01, decoupled: true }) },
  { name: 'AdamW amsgrad', make: twoGroups(optim.AdamW, { lr: 0.05, weightDecay: 0.3, amsgrad: true }), ref: refFor(adamRef, { lr: 0.05, weightDecay: 0.3, amsgrad: true, decoupled: true }) },
  { name: 'RMSprop', make: twoGroups(optim.RMSprop, { lr: 0.01 }), ref: refFor(rmspropRef, { lr: 0.01 }) },
  {
    name: 'RMSprop centered momentum weightDecay',
    make: twoGroups(optim.RMSprop, { lr: 0.01, alpha: 0.9, momentum: 0.5, centered: true, weightDecay: 0.1 }),
    ref: refFor(rmspropRef, { lr: 0.01, alpha: 0.9, momentum: 0.5, centered: true, weightDecay: 0.1 }),
  },
  { name: 'RMSprop centered maximize', make: twoGroups(optim.RMSprop, { lr: 0.005, centered: true, maximize: true }), ref: refFor(rmspropRef, { lr: 0.005, centered: true, maximize: true }) },
  { name: 'Adagrad', make: twoGroups(optim.Adagrad, { lr: 0.1 }), ref: refFor(adagradRef, { lr: 0.1 }) },
  {
    name: 'Adagrad lrDecay weightDecay initialAccumulatorValue maximize',
    make: twoGroups(optim.Adagrad, { lr: 0.1, lrDecay: 0.1, weightDecay: 0.05, initialAccumulatorValue: 0.2, maximize: true }),
    ref: refFor(adagradRef, { lr: 0.1, lrDecay: 0.1, weightDecay: 0.05, initialAccumulatorValue: 0.2, maximize: true }),
  },
];

const STEPS = 6;
const P0 = [0.5, -1.25, 2];
const P1 = [0.3, -0.7, 1.1, -0.05];
const rnd = mulberry32(16);
const GRADS: [number[], number[]][] = Array.from({ length: STEPS }, (_, s) => [
  P0.map(() => (rnd() * 2 - 1) * (s % 3 === 2 ? 0.1 : 1.5)),
  P1.map(() => (rnd() * 2 - 1) * (s % 2 ? 0.3 : 2)),
]);
/** The lr multiplier of group 0 at each step (changed between steps, as a schedule would). */
const LR_SCALE = [1, 0.5, 2, 1.5, 0.25, 1];

function reference(c: Case): [number[], number[]] {
  const p = [[...P0], [...P1]];
  const refs = [c.ref(0), c.ref(1)];
  const base = refs[0].opts.lr;
  GRADS.forEach((gs, s) => {
    refs[0].opts.lr = base * LR_SCALE[s];
    refs.forEach((r, i) => r.step(p[i], gs[i]));
  });
  return [p[0], p[1]];
}

async function read(t: Tensor): Promise<number[]> { return Array.from(await t.dataAsync()); }

function expectClose(got: number[], want: number[], atol: number, rtol: number, what: string): void {
  const bad = got.map((g, i) => (Math.abs(g - want[i]) <= atol + rtol * Math.abs(want[i]) ? null : `[${i}] got ${g} want ${want[i]}`)).filter(Boolean);
  expect(bad, what).toEqual([]);
}

/** Runs the case eagerly or as a compiled step; returns both parameters after STEPS steps. */
async function run(c: Case, backend: BackendName, compiled: boolean): Promise<{ p: [number[], number[]]; traces: number }> {
  const p0 = k.tensor(P0, { backend, requiresGrad: true }), p1 = k.tensor(P1, { backend, requiresGrad: true }).reshape([2, 2]).detach().requiresGrad_(true);
  const opt = c.make(p0, p1);
  const base = opt.paramGroups[0].lr as number;
  // loss = Σ p0·g0 + Σ p1·g1 has gradient exactly (g0, g1).
  const body = (g0: Tensor, g1: Tensor) => {
    opt.zeroGrad();
    p0.mul(g0).sum().add(p1.mul(g1).sum()).backward();
    opt.step();
  };
  const step = compiled ? k.compile(body, { backend }) : body;
  for (let s = 0; s < STEPS; s++) {
    opt.paramGroups[0].lr = base * LR_SCALE[s];
    step(k.tensor(GRADS[s][0], { backend }), k.tensor(GRADS[s][1], { backend, shape: [2, 2] }));
  }
  const traces = compiled ? (step as k.Compiled<typeof body>).cacheInfo().traces : 0;
  return { p: [await read(p0), await read(p1)], traces };
}

forEachBackend((backend) => {
  describe.each(CASES)('$name', (c) => {
    it('eager matches the float64 update; a compiled step matches eager, one trace for all lr values', async () => {
      const want = reference(c);
      const eager = await run(c, backend, false);
      expectClose(eager.p[0], want[0], 5e-6, 5e-6, 'eager group 0');
      expectClose(eager.p[1], want[1], 5e-6, 5e-6, 'eager group 1');
      const comp = await run(c, backend, true);
      expectClose(comp.p[0], eager.p[0], 1e-6, 1e-6, 'compiled group 0');
      expectClose(comp.p[1], eager.p[1], 1e-6, 1e-6, 'compiled group 1');
      expect(comp.traces).toBe(1);
    });
  });
});

describe('hyper-parameters are runtime values in a compiled step', () => {
  it('momentum, betas, eps and weightDecay set between compiled calls take effect without a retrace', () => {
    const mk = () => { const p = k.tensor([1, -2, 3], { requiresGrad: true }); return { p, opt: new optim.Adam([p], { lr: 0.1 }) }; };
    const e = mk(), c = mk();
    const body = (o: typeof e) => (g: Tensor) => { o.opt.zeroGrad(); o.p.mul(g).sum().backward(); o.opt.step(); };
    const stepE = body(e), stepC = k.compile(body(c));
    const settings: [number, number, number, number][] = [[0.9, 0.999, 1e-8, 0], [0.5, 0.9, 1e-3, 0.1], [0.0, 0.5, 0.1, 0], [0.99, 0.99, 1e-8, 1]];
    for (const [b1, b2, eps, wd] of settings) {
      for (const o of [e, c]) { o.opt.paramGroups[0].betas = [b1, b2]; o.opt.paramGroups[0].eps = eps; o.opt.paramGroups[0].weightDecay = wd; }
      const g = k.tensor([0.3, -1, 2]);
      stepE(g); stepC(g);
    }
    expectClose(Array.from(c.p.data()), Array.from(e.p.data()), 1e-6, 1e-6, 'compiled vs eager');
    expect(stepC.cacheInfo().traces).toBe(1);
    const ref = adamRef({ lr: 0.1 });
    const p = [1, -2, 3];
    for (const [b1, b2, eps, wd] of settings) { Object.assign(ref.opts, { betas: [b1, b2], eps, weightDecay: wd }); ref.step(p, [0.3, -1, 2]); }
    expectClose(Array.from(e.p.data()), p, 1e-5, 1e-5, 'eager vs float64');
  });

  it('a boolean option changed after compile() traced the update is an error, not silently ignored', () => {
    const p = k.tensor([1, 2], { requiresGrad: true });
    const opt = new optim.SGD([p], { lr: 0.1, momentum: 0.9 });
    opt.paramGroups[0].nesterov = true; // fine before any trace
    opt.paramGroups[0].nesterov = false;
    const step = k.compile(() => { opt.zeroGrad(); p.sum().backward(); opt.step(); });
    step();
    expect(() => { opt.paramGroups[0].nesterov = true; }).toThrow(/SGD: cannot change nesterov .* after compile\(\) traced/);
    expect(() => { opt.paramGroups[0].momentum = 0; }).toThrow(/SGD: cannot change momentum/);
    opt.paramGroups[0].momentum = 0.5; // a value change keeps the shape: allowed
    expect(opt.paramGroups[0].nesterov).toBe(false);
  });

  it('amsgrad switched on eagerly adds the running maximum to the state', () => {
    const p = k.tensor([1, 2], { requiresGrad: true });
    const opt = new optim.Adam([p], { lr: 0.1 });
    expect(Object.keys(opt.state.get(p)!)).toEqual(['step', 'expAvg', 'expAvgSq']);
    opt.paramGroups[0].amsgrad = true;
    expect(Object.keys(opt.state.get(p)!)).toContain('maxExpAvgSq');
  });
});

describe('param groups, zeroGrad, step(closure)', () => {
  it('groups take the defaults for options they do not set; paramGroups reads and writes plain numbers', () => {
    const a = k.ones([2], { requiresGrad: true }), b = k.ones([3], { requiresGrad: true });
    const opt = new optim.Adam([{ params: [a], lr: 0.5 }, { params: [b], weightDecay: 0, name: 'bias' }], { lr: 0.01, weightDecay: 0.1 });
    expect(opt.paramGroups.map((g) => [g.lr, g.weightDecay, g.betas])).toEqual([[0.5, 0.1, [0.9, 0.999]], [0.01, 0, [0.9, 0.999]]]);
    expect(opt.paramGroups[1].name).toBe('bias');
    opt.paramGroups[1].lr = 0.2;
    expect(opt.paramGroups[1].lr).toBe(0.2);
    expect({ ...opt.paramGroups[0], params: undefined }).toMatchObject({ lr: 0.5, eps: 1e-8, amsgrad: false });
    const c = k.ones([1], { requiresGrad: true });
    opt.addParamGroup({ params: [c], lr: 3 });
    expect(opt.paramGroups[2].lr).toBe(3);
    expect(opt.paramGroups[2].weightDecay).toBe(0.1);
  });

  it('zeroGrad sets grads to null, or to zeros in place with setToNone: false', () => {
    const p = k.ones([2], { requiresGrad: true });
    const opt = new optim.SGD([p], { lr: 0.1 });
    p.mul(3).sum().backward();
    const g = p.grad!;
    opt.zeroGrad({ setToNone: false });
    expect(p.grad).toBe(g);
    expect(Array.from(g.data())).toEqual([0, 0]);
    opt.zeroGrad();
    expect(p.grad).toBeNull();
  });

  it('step(closure) re-evaluates the loss with gradients on and returns it', () => {
    const p = k.tensor([3, -2], { requiresGrad: true });
    const opt = new optim.SGD([p], { lr: 0.1 });
    const loss = k.noGrad(() => opt.step(() => { opt.zeroGrad(); const l = p.mul(p).sum(); l.backward(); return l; }));
    expect(loss!.item()).toBe(13);
    expect(Array.from(p.data())).toEqual([Math.fround(3 - 0.6), Math.fround(-2 + 0.4)]);
  });

  it('parameters without a gradient are skipped and their state stays fresh', () => {
    const a = k.tensor([1], { requiresGrad: true }), b = k.tensor([2], { requiresGrad: true });
    const opt = new optim.Adam([a, b], { lr: 0.5 });
    a.grad = k.tensor([1]);
    opt.step();
    // Adam's first step moves by lr (to float32 bias corrections: 1 - β2 near 1e-3 carries ~1e-5 relative error)
    expect(Math.abs((a.item() as number) - 0.5)).toBeLessThan(1e-5);
    expect(b.item()).toBe(2);
    expect(Object.keys(opt.stateDict().state)).toEqual(['0']);
  });
});

describe('stateDict / loadStateDict', () => {
  const grads = GRADS.map((g) => g[0]);
  function train(opt: AnyOpt, p: Tensor, from: number, to: number): void {
    for (let s = from; s < to; s++) { opt.zeroGrad(); p.grad = k.tensor(grads[s]); opt.step(); }
  }
  it.each([
    ['SGD', (ps: Tensor[]) => new optim.SGD(ps, { lr: 0.1, momentum: 0.9, dampening: 0.2 })],
    ['Adam', (ps: Tensor[]) => new optim.Adam(ps, { lr: 0.05, amsgrad: true })],
    ['AdamW', (ps: Tensor[]) => new optim.AdamW(ps, { lr: 0.05 })],
    ['RMSprop', (ps: Tensor[]) => new optim.RMSprop(ps, { lr: 0.01, momentum: 0.3, centered: true })],
    ['Adagrad', (ps: Tensor[]) => new optim.Adagrad(ps, { lr: 0.1, lrDecay: 0.01, initialAccumulatorValue: 0.1 })],
  ] as const)('%s: a fresh optimizer loaded mid-run continues exactly as the original', (_, make) => {
    const p = k.tensor(P0, { requiresGrad: true });
    const opt = make([p]);
    train(opt, p, 0, 3);
    const sd = opt.stateDict();
    const snapshot = Array.from(p.data());
    const saved = Object.fromEntries(Object.entries(sd.state[0]).map(([n, t]) => [n, t.clone()]));
    train(opt, p, 3, 6);
    const want = Array.from(p.data());
    const q = k.tensor(snapshot, { requiresGrad: true });
    const opt2 = make([q]);
    opt2.paramGroups[0].lr = 123; // overwritten by the load
    opt2.loadStateDict({ state: { 0: saved }, paramGroups: sd.paramGroups });
    expect(opt2.paramGroups[0].lr).toBe(opt.paramGroups[0].lr);
    train(opt2, q, 3, 6);
    expect(Array.from(q.data())).toEqual(want);
  });

  it('has torch\'s layout and accepts torch\'s snake_case names', () => {
    const a = k.ones([2], { requiresGrad: true }), b = k.ones([3], { requiresGrad: true });
    const opt = new optim.Adam([{ params: [a] }, { params: [b], lr: 0.5 }], { lr: 0.01 });
    a.grad = k.ones([2]);
    opt.step();
    const sd = opt.stateDict();
    expect(sd.paramGroups).toEqual([
      { lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, params: [0] },
      { lr: 0.5, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, params: [1] },
    ]);
    expect(Object.keys(sd.state)).toEqual(['0']);
    expect(Object.keys(sd.state[0])).toEqual(['step', 'expAvg', 'expAvgSq']);
    expect(sd.state[0].step.item()).toBe(1);
    const opt2 = new optim.Adam([k.ones([2], { requiresGrad: true }), k.ones([3], { requiresGrad: true })]);
    opt2.loadStateDict({
      state: { 1: { step: k.tensor(4), exp_avg: k.full([3], 0.5), exp_avg_sq: k.full([3], 2) } },
      param_groups: [{ lr: 0.2, betas: [0.8, 0.9], eps: 1e-6, weight_decay: 0.1, amsgrad: false, maximize: false, foreach: null, params: [0, 1] }],
    });
    expect([opt2.paramGroups[0].lr, opt2.paramGroups[0].weightDecay, opt2.paramGroups[0].betas]).toEqual([0.2, 0.1, [0.8, 0.9]]);
    const st = opt2.state.get(opt2.paramGroups[0].params[1])!;
    expect([st.step.item(), st.expAvg.data()[0], st.expAvgSq.data()[2]]).toEqual([4, 0.5, 2]);
  });

  it('rejects a dict that does not fit, leaving the optimizer unchanged', () => {
    const p = k.ones([2], { requiresGrad: true });
    const opt = new optim.Adam([p], { lr: 0.01 });
    expect(() => opt.loadStateDict({ state: {}, paramGroups: [] })).toThrow(/Adam.loadStateDict: the state dict has 0 parameter groups, this optimizer 1/);
    expect(() => opt.loadStateDict({ state: {}, paramGroups: [{ lr: 1, params: [0, 1] }] })).toThrow(/group 0 has 2 parameters in the state dict, 1 here/);
    expect(() => opt.loadStateDict({ state: { 0: { expAvg: k.ones([3]) } }, paramGroups: [{ lr: 1, params: [0] }] })).toThrow(/state expAvg of parameter 0 has shape \[3\], expected \[2\]/);
    expect(opt.paramGroups[0].lr).toBe(0.01);
  });
});

describe('option validation, as torch', () => {
  const p = () => k.ones([2], { requiresGrad: true });
  it.each([
    [() => new optim.SGD([p()], { lr: -0.1 }), 'SGD: lr must be a finite number >= 0, got -0.1'],
    [() => new optim.SGD([p()], { lr: NaN }), 'SGD: lr must be a finite number >= 0, got NaN'],
    [() => new optim.Adam([p()], { lr: Infinity }), 'Adam: lr must be a finite number >= 0, got Infinity'],
    [() => new optim.SGD([p()], { momentum: -1 }), 'SGD: momentum must be a finite number >= 0, got -1'],
    [() => new optim.SGD([p()], { weightDecay: -1e-4 }), 'SGD: weightDecay must be a finite number >= 0'],
    [() => new optim.SGD([p()], { nesterov: true }), 'SGD: nesterov requires momentum > 0 and dampening = 0, got momentum 0 and dampening 0'],
    [() => new optim.SGD([p()], { nesterov: true, momentum: 0.9, dampening: 0.1 }), 'SGD: nesterov requires momentum > 0 and dampening = 0'],
    [() => new optim.Adam([p()], { betas: [1, 0.999] }), 'Adam: betas[0] must be a number in [0, 1), got 1'],
    [() => new optim.Adam([p()], { betas: [0.9, -0.1] }), 'Adam: betas[1] must be a number in [0, 1), got -0.1'],
    [() => new optim.Adam([p()], { betas: [0.9] as never }), 'Adam: betas must be a pair [beta1, beta2]'],
    [() => new optim.AdamW([p()], { eps: -1e-8 }), 'AdamW: eps must be a finite number >= 0'],
    [() => new optim.RMSprop([p()], { alpha: -0.5 }), 'RMSprop: alpha must be a finite number >= 0'],
    [() => new optim.Adagrad([p()], { lrDecay: -1 }), 'Adagrad: lrDecay must be a finite number >= 0'],
    [() => new optim.Adagrad([p()], { initialAccumulatorValue: -1 }), 'Adagrad: initialAccumulatorValue must be a finite number >= 0'],
    [() => new optim.Adam([p()], { amsgrad: 1 as never }), 'Adam: amsgrad must be true or false, got 1'],
    [() => new optim.Adam([p()], { lr: '0.1' as never }), 'Adam: lr must be a number, got string "0.1"'],
    [() => new optim.Adam([p()], { weight_decay: 0.1 } as never), 'Adam: unknown option weight_decay; kiln spells it weightDecay'],
    [() => new optim.Adam([p()], { foreach: true } as never), 'Adam: unknown option foreach'],
    [() => new optim.SGD([], { lr: 0.1 }), 'SGD: got an empty parameter list'],
    [() => new optim.SGD(p() as never), 'SGD: params must be an iterable of tensors or parameter groups, got a single Tensor'],
    [() => new optim.SGD([p().mul(2)]), 'SGD: parameter 0 of group 0 is not a leaf tensor (it was computed by mul)'],
    [() => new optim.SGD([k.ones([2], { dtype: 'int32' })]), 'SGD: parameter 0 of group 0 has dtype int32; only float32 tensors can be optimized'],
    [() => { const q = p(); return new optim.SGD([q, q]); }, 'SGD: parameter 1 of group 0 appears twice in the group'],
    [() => { const q = p(); return new optim.SGD([{ params: [q] }, { params: [p(), q] }]); }, 'SGD: parameter 1 of group 1 is already in another parameter group'],
    [() => new optim.SGD([p(), { params: [p()] }] as never), 'SGD: params mixes tensors and parameter groups'],
    [() => new optim.SGD([{ params: [p()], weight_decay: 0.1 }]), 'SGD: unknown option weight_decay; kiln spells it weightDecay'],
    [() => new optim.SGD([{ params: [p()], lr: -1 }]), 'SGD: lr must be a finite number >= 0, got -1'],
    [() => new optim.SGD([p()], 0.1 as never), 'SGD: options must be an object, got 0.1'],
  ])('%#: %s', (make, msg) => {
    expect(make).toThrow(k.KilnError);
    expect(make).toThrow(msg);
  });

  it('setting a bad value on a group is refused and leaves the old one', () => {
    const opt = new optim.Adam([p()], { lr: 0.01 });
    expect(() => { opt.paramGroups[0].lr = -1; }).toThrow('Adam: lr must be a finite number >= 0, got -1');
    expect(() => { opt.paramGroups[0].betas = [0.9, 1]; }).toThrow('Adam: betas[1] must be a number in [0, 1), got 1');
    expect(opt.paramGroups[0].lr).toBe(0.01);
    const sgd = new optim.SGD([p()], { momentum: 0.9, nesterov: true });
    expect(() => { sgd.paramGroups[0].dampening = 0.5; }).toThrow('SGD: nesterov requires momentum > 0 and dampening = 0');
    expect(sgd.paramGroups[0].dampening).toBe(0);
  });

  it('a parameter that does not require grad is accepted (frozen) and never moves', () => {
    const frozen = k.ones([2]);
    const opt = new optim.SGD([frozen], { lr: 1 });
    opt.step();
    expect(Array.from(frozen.data())).toEqual([1, 1]);
  });
});

describe('optimizers own their temporaries (issue 12)', () => {
  it('an optimizer built inside tidy() keeps its state and option tensors', () => {
    const p = k.tensor([1, 2], { requiresGrad: true });
    const opt = k.tidy(() => new optim.Adam([p], { lr: 0.1, amsgrad: true }));
    p.grad = k.tensor([1, 1]);
    k.tidy(() => opt.step());
    opt.step();
    expect(opt.state.get(p)!.step.item()).toBe(2);
  });

  it.each([
    ['SGD', (ps: Tensor[]) => new optim.SGD(ps, { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 0.1 })],
    ['Adam', (ps: Tensor[]) => new optim.Adam(ps, { lr: 0.01, amsgrad: true, weightDecay: 0.1, maximize: true })],
    ['AdamW', (ps: Tensor[]) => new optim.AdamW(ps, { lr: 0.01 })],
    ['RMSprop', (ps: Tensor[]) => new optim.RMSprop(ps, { lr: 0.01, centered: true, momentum: 0.5 })],
    ['Adagrad', (ps: Tensor[]) => new optim.Adagrad(ps, { lr: 0.01, lrDecay: 0.1 })],
  ] as const)('%s: 300 synchronous eager steps on wasm allocate nothing that outlives the step', async (_, make) => {
    await k.initBackend('wasm');
    const wasm = k.getBackend('wasm');
    const ps = [k.randn([64, 32], { backend: 'wasm', requiresGrad: true }), k.randn([32], { backend: 'wasm', requiresGrad: true })];
    const grads = ps.map((p) => k.randn(p.shape as number[], { backend: 'wasm' }));
    const opt = make(ps);
    const step = () => { ps.forEach((p, i) => { p.grad = grads[i]; }); opt.step(); };
    for (let i = 0; i < 3; i++) step();
    const before = wasm.allocatedBytes();
    for (let i = 0; i < 300; i++) step(); // no tidy(), no await: finalizers cannot run
    expect(wasm.allocatedBytes() - before).toBeLessThanOrEqual(0);
  });
});
