// compile(): compiled equals eager, the cache replays without running the body, guards retrace,
// graph breaks fall back to eager, training steps compile whole.
import { describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import { PASSES, optimize, planGraph, propagateShapes, setVerifyPasses, verifyGraph, verifyPlan } from '../../compiler/passes.js';

// These tests are about the compiler: they run on the cpu reference backend (fusion.test.ts and
// opinfo-compiled.test.ts cover every backend).
k.setBackend('cpu');

const close = (a: k.Tensor, b: k.Tensor, tol = 1e-5) => {
  expect(a.shape).toEqual(b.shape);
  expect(a.dtype).toBe(b.dtype);
  const x = a.data(), y = b.data();
  for (let i = 0; i < x.length; i++) expect(Math.abs(x[i] - y[i])).toBeLessThanOrEqual(tol * (1 + Math.abs(y[i])));
};

describe('compile on cpu', () => {
  it('replays a cached graph without running the body, retraces on a new shape', () => {
    let traces = 0;
    const body = (x: k.Tensor) => x.mul(2).add(1).exp().sum(-1);
    const f = k.compile((x: k.Tensor) => { traces += 0; return body(x); }, { dynamic: false });
    const x = k.randn([3, 4]);
    close(f(x), body(x));
    close(f(x), body(x));
    expect(f.cacheInfo()).toMatchObject({ traces: 1, hits: 1, misses: 1 });
    const x5 = k.randn([5, 4]);
    close(f(x5), body(x5));
    const info = f.cacheInfo();
    expect(info.traces).toBe(2);
    expect(info.recompileReasons[0]).toMatch(/dim 0: expected size 3, got 5/);
  });

  it('counts body runs: a pure function runs its JavaScript once', () => {
    const calls: number[] = [];
    const spy = { n: 0 };
    const pure = (x: k.Tensor) => { spy.n; return x.mul(x).sub(1); };
    const f = k.compile(pure);
    const x = k.randn([8]);
    for (let i = 0; i < 4; i++) close(f(x), pure(x));
    expect(f.cacheInfo().traces).toBe(1);
    expect(f.cacheInfo().hits).toBe(3);
    expect(calls.length).toBe(0);
  });

  it('dynamic auto: a second size reuses the graph (no retrace)', () => {
    const f = k.compile((x: k.Tensor) => x.softmax(-1).mul(3));
    for (const n of [2, 3, 7]) { const x = k.randn([n, 6]); close(f(x), x.softmax(-1).mul(3)); }
    expect(f.cacheInfo().traces).toBe(1);
  });

  it('sees in-place updates of captured weights without retracing', () => {
    const W = k.randn([4, 4]);
    const f = k.compile((x: k.Tensor) => x.matmul(W).relu());
    const x = k.randn([2, 4]);
    close(f(x), x.matmul(W).relu());
    k.noGrad(() => W.mul_(-1));
    close(f(x), x.matmul(W).relu());
    expect(f.cacheInfo().traces).toBe(1);
  });

  it('falls back to eager at a data-dependent branch and matches eager', () => {
    const fn = (x: k.Tensor) => (x.sum().item() as number) > 0 ? x.mul(2) : x.neg();
    const f = k.compile(fn);
    for (const s of [1, -1, 1]) { const x = k.ones([3]).mul(s); close(f(x), fn(x)); }
    const e = k.explain(fn, k.ones([3]));
    expect(e.breaks.length).toBe(1);
    expect(e.breaks[0].reason).toMatch(/item/);
  });

  it('explain() of an already compiled function reports that function and the entry the call used', () => {
    const f = k.compile((x: k.Tensor) => x.softmax(-1));
    f(k.randn([2, 8]));
    const e = k.explain(f, k.randn([2, 8]));
    expect(e.mode).toBe('replay');
    expect(e.sideEffects).toEqual([]); // kiln's own wrapper is not what gets analysed
    expect(e.guards).toMatch(/shapes: \[2,8\]/);
    expect(e.graphs[0].kernels).toHaveLength(1);
    expect(f.cacheInfo()).toMatchObject({ traces: 1, hits: 1 });
    expect(k.explain(f, k.randn([3, 5])).recompileReasons.join()).toMatch(/dynamic/);
    expect(() => k.explain(f, { args: [k.ones([2])], fullgraph: true })).toThrow(/already compiled.*plain function/);
  });

  it('fullgraph throws GraphBreakError naming the reason and line', () => {
    const f = k.compile((x: k.Tensor) => x.mul(2).item(), { fullgraph: true });
    expect(() => f(k.ones([1]))).toThrow(k.GraphBreakError);
    expect(() => f(k.ones([1]))).toThrow(/item\(\).*compile\.test\.ts:\d+/);
  });

  it('compiles a whole training step (forward, backward, Adam) and matches eager', () => {
    const make = () => {
      k.manualSeed(1);
      const W = k.randn([6, 3], { requiresGrad: true }), b = k.zeros([3], { requiresGrad: true });
      const opt = new k.optim.Adam([W, b], { lr: 0.05 });
      const step = (x: k.Tensor, t: k.Tensor) => { opt.zeroGrad(); const l = k.nn.mseLoss(x.matmul(W).add(b).relu(), t); l.backward(); opt.step(); return l; };
      return { W, step };
    };
    const eager = make(), comp = make();
    const cstep = k.compile(comp.step);
    const x = k.randn([5, 6]), t = k.randn([5, 3]);
    for (let i = 0; i < 4; i++) {
      const le = eager.step(x, t), lc = cstep(x, t);
      expect(Math.abs((lc.item() as number) - (le.item() as number))).toBeLessThan(1e-4);
    }
    close(comp.W, eager.W, 1e-4);
    expect(cstep.cacheInfo().traces).toBe(1);
  });

  it('supports backward() on the outputs of a compiled forward', () => {
    const x = k.randn([3, 4], { requiresGrad: true });
    const f = k.compile((a: k.Tensor) => a.tanh().mul(a).sum());
    f(x).backward();
    const g1 = x.grad!.data();
    x.grad = null;
    x.tanh().mul(x).sum().backward();
    const g2 = x.grad!.data();
    g1.forEach((v, i) => expect(v).toBeCloseTo(g2[i], 5));
  });

  it('fuses an elementwise chain into one kernel and relu(x @ W + b) into one matmul kernel', () => {
    const gelu = k.explain((x: k.Tensor) => x.gelu('tanh'), k.randn([4, 8]));
    expect(gelu.graphs[0].kernels.length).toBe(1);
    const W = k.randn([8, 5]), b = k.randn([5]);
    const lin = k.explain((x: k.Tensor) => x.matmul(W).add(b).relu(), k.randn([4, 8]));
    expect(lin.graphs[0].kernels.length).toBe(1);
    expect(lin.graphs[0].kernels[0]).toMatch(/^matmul/);
  });

  it('decorator and Module.compile', () => {
    // Applied the way TC39 decorators call it (`@compile()` on the method); vitest's transform
    // does not lower decorator syntax, tsc does (examples use the syntax).
    class Net extends k.nn.Module {
      lin = new k.nn.Linear(4, 2);
      forward(x: k.Tensor): k.Tensor { return this.lin.forward(x).relu(); }
    }
    Net.prototype.forward = k.compile()(Net.prototype.forward, { kind: 'method', name: 'forward' } as ClassMethodDecoratorContext);
    const net = new Net();
    const x = k.randn([3, 4]);
    close(net.forward(x), net.lin.forward(x).relu());
    const seq = new k.nn.Sequential(new k.nn.Linear(4, 3), new k.nn.GELU());
    const ref = seq.forward(x);
    seq.compile();
    close(seq.forward(x), ref);
  });

  it('passes keep types: the verifier re-derives every node after each pass and names what broke', () => {
    const fn = (x: k.Tensor) => x.add(1).add(1).mul(x.add(1)).sum(0, true);
    const e = k.explain(fn, k.randn([3, 3]));
    expect(e.graphs[0].optimized).toMatch(/sum/);
    // CSE merged the two x.add(1) nodes.
    expect((e.graphs[0].optimized.match(/= add/g) ?? []).length).toBe(2);
    // explain() names every pass of the pipeline, in order, with what it did.
    expect(e.graphs[0].passes.map((p) => p.split(':')[0])).toEqual(PASSES.map((p) => p.name));
    expect(e.graphs[0].passes).toContain('cse: 5 -> 4 ops');
    const f = k.compile(fn);
    f(k.randn([3, 3]));
    const g = f._state.entries[0].graph!;
    setVerifyPasses(true);
    try {
      const plan = planGraph(optimize(g), new Map());
      expect(plan.steps.length).toBe(1);
    } finally { setVerifyPasses(false); }
    expect(propagateShapes(g)).toBe(g);
    // A node typed otherwise than its inputs give, a node reading a later one, a plan reading a buffer never written.
    const sum = g.nodes.find((n) => n.kind === 'op' && n.op === 'sum')!;
    expect(() => verifyGraph({ ...g, nodes: g.nodes.map((n) => (n === sum ? { ...n, shape: [7] } : n)) }, 'test'))
      .toThrow(`verify: after pass 'test' in graph fn: verify: node %${sum.id} (sum at`);
    expect(() => verifyGraph({ ...g, nodes: g.nodes.slice(1) }, 'test')).toThrow(/reads %0, which is not an earlier node/);
    const plan = planGraph(optimize(g), new Map());
    expect(() => verifyPlan(plan, 'test')).not.toThrow();
    expect(() => verifyPlan({ ...plan, steps: [] }, 'test')).toThrow(/plan output buffer \d+ is not written/);
  });

  it('warns once and runs eagerly past cacheLimit', () => {
    const f = k.compile((x: k.Tensor) => x.add(1), { cacheLimit: 2, dynamic: false });
    for (const n of [1, 2, 3, 4]) close(f(k.ones([n])), k.ones([n]).add(1));
    expect(f.cacheInfo().fellBackToEager).toBe(true);
  });
});

describe('a kernel the backend cannot compile', () => {
  it('is a graph break: the graph runs op by op and still matches eager; fullgraph throws', () => {
    const cpu = k.getBackend('cpu');
    const saved = cpu.unsupported;
    cpu.unsupported = (kern) => (kern.kind === 'matmul' ? 'matmul is switched off in this test' : null);
    try {
      const W = k.randn([4, 3]);
      const fn = (x: k.Tensor) => x.matmul(W).relu().sum(-1);
      const x = k.randn([2, 4]);
      const e = k.explain(fn, x);
      expect(e.breaks.map((b) => b.reason).join()).toMatch(/cannot compile a kernel: matmul is switched off/);
      const f = k.compile(fn);
      close(f(x), fn(x));
      close(f(x), fn(x));
      expect(() => k.compile(fn, { fullgraph: true })(x)).toThrow(k.GraphBreakError);
    } finally {
      cpu.unsupported = saved;
    }
  });
});

describe('plan sharing', () => {
  it('two functions with the same structure but different captured weights and argument order stay apart', () => {
    const A = k.randn([3, 3]), B = k.randn([3, 3]);
    const fa = k.compile((x: k.Tensor) => x.matmul(A).relu());
    const fb = k.compile((x: k.Tensor) => x.matmul(B).relu());
    const lt = k.compile((x: k.Tensor, y: k.Tensor) => x.lt(y));
    const gt = k.compile((x: k.Tensor, y: k.Tensor) => y.lt(x));
    const x = k.randn([2, 3]), y = k.randn([2, 3]);
    for (let i = 0; i < 2; i++) {
      close(fa(x), x.matmul(A).relu());
      close(fb(x), x.matmul(B).relu());
      expect(lt(x, y).toArray()).toEqual(x.lt(y).toArray());
      expect(gt(x, y).toArray()).toEqual(y.lt(x).toArray());
    }
  });
});

describe('compiled programs from the issue', () => {
  it('the seed loop: five x = x.mul(W), compiled, then backward gives W.grad = 240', () => {
    const W = k.tensor(2, { requiresGrad: true });
    const loop = (x0: k.Tensor) => { let x = x0; const seen: k.Tensor[] = []; for (let i = 0; i < 5; i++) { x = x.mul(W); seen.push(x); } return seen; };
    const f = k.compile(loop);
    const seen = f(k.tensor(3));
    expect(seen.map((t) => t.item())).toEqual([6, 12, 24, 48, 96]);
    seen[4].backward();
    expect(W.grad!.item()).toBe(240);
  });

  it('an attention block (batch 2, 8 tokens, 2 heads of 4) compiled equals eager', () => {
    k.manualSeed(7);
    const [B, T, H, D] = [2, 8, 2, 4];
    const Wq = k.randn([H * D, H * D]).mul(0.3), Wk = k.randn([H * D, H * D]).mul(0.3), Wv = k.randn([H * D, H * D]).mul(0.3), Wo = k.randn([H * D, H * D]).mul(0.3);
    const ln = new k.nn.LayerNorm(H * D);
    const heads = (t: k.Tensor) => t.reshape([B, T, H, D]).permute(0, 2, 1, 3);
    const attention = (x: k.Tensor) => {
      const h = ln.forward(x);
      const [q, kk, v] = [h.matmul(Wq), h.matmul(Wk), h.matmul(Wv)].map(heads);
      const att = q.matmul(kk.mT()).div(Math.sqrt(D)).softmax(-1);
      const y = att.matmul(v).permute(0, 2, 1, 3).reshape([B, T, H * D]);
      return x.add(y.matmul(Wo));
    };
    const f = k.compile(attention);
    const x = k.randn([B, T, H * D]);
    close(f(x), attention(x), 1e-5);
    close(f(x), attention(x), 1e-5);
    expect(f.cacheInfo().traces).toBe(1);
  });
});

describe('decorator syntax', () => {
  it('examples/decorator.ts (@compile() on a Module method) runs through tsx and matches eager', { timeout: 60_000 }, async () => {
    const { execFileSync } = await import('node:child_process');
    const root = new URL('../..', import.meta.url).pathname;
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'examples/decorator.ts'], { cwd: root, encoding: 'utf8' });
    const diff = Number(/max \|compiled - eager\| = (\S+)/.exec(out)![1]);
    expect(diff).toBeLessThan(1e-5);
    expect(out).toMatch(/traces 1, hits 1/);
  });
});
