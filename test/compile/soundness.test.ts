// compile() is never silently wrong: each case below once returned a wrong result without a word.
// Every test runs the same code eagerly and compiled (traced, then cache hits) and compares results,
// arguments after the call, and side effects.
import { describe, expect, it, vi } from 'vitest';
import * as k from '../../src/index.js';

k.setBackend('cpu');

const vals = (t: k.Tensor) => Array.from(t.data(), (v) => Math.round(v * 1e5) / 1e5);
/** Fused kernels on cpu keep intermediates in float64: compare within float32 rounding. */
const close = (a: k.Tensor, b: k.Tensor) => {
  expect(a.shape).toEqual(b.shape);
  const x = a.data(), y = b.data();
  x.forEach((v, i) => expect(Math.abs(v - y[i])).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(y[i]))));
};
const f32 = (n: number) => k.arange(n, undefined, 1, { dtype: 'float32' });

describe('layouts of arguments', () => {
  it('view arguments with varying offsets each compute their own values', () => {
    const base = f32(16);
    const f = k.compile((x: k.Tensor) => x.mul(2));
    for (let i = 0; i < 4; i++) {
      const v = base.slice([[4 * i, 4 * i + 4]]);
      expect(vals(f(v))).toEqual(vals(v.mul(2)));
    }
  });

  it('a transposed argument after contiguous ones is read transposed', () => {
    const f = k.compile((x: k.Tensor) => x.mul(2).sum(1));
    const a = k.randn([3, 4]), b = k.randn([3, 3]);
    f(b); f(k.randn([3, 3]));
    expect(vals(f(b.mT()))).toEqual(vals(b.mT().mul(2).sum(1)));
    expect(vals(f(a.mT()))).toEqual(vals(a.mT().mul(2).sum(1)));
  });

  it('a CNN-like loop on minibatches sliced from a dataset tensor matches eager step for step', () => {
    const data = k.randn([40, 6]), W = k.randn([6, 3]);
    const fn = (xb: k.Tensor) => xb.matmul(W).relu().mean();
    const f = k.compile(fn);
    for (let i = 0; i < 40; i += 8) close(f(data.narrow(0, i, 8)), fn(data.narrow(0, i, 8)));
    close(f(data.narrow(0, 36, 4)), fn(data.narrow(0, 36, 4))); // a short last batch
  });
});

describe('JavaScript state read by the function', () => {
  it('model.eval() turns dropout off, for compile(fn) and compile(model)', () => {
    k.manualSeed(1);
    const m = new k.nn.Sequential(new k.nn.Linear(4, 4), new k.nn.Dropout(0.5));
    const f = k.compile((x: k.Tensor) => m.forward(x));
    const x = k.randn([3, 4]);
    f(x); f(x);
    m.eval();
    expect(vals(f(x))).toEqual(vals(m.forward(x)));
    const m2 = new k.nn.Sequential(new k.nn.Linear(4, 4), new k.nn.Dropout(0.5));
    const plain = m2.forward.bind(m2);
    k.compile(m2);
    m2.forward(x); m2.forward(x);
    m2.eval();
    expect(vals(m2.forward(x))).toEqual(vals(plain(x)));
  });

  it('an LR change between calls takes effect, without a retrace (the number becomes a runtime input)', () => {
    const W = k.ones([2], { requiresGrad: true });
    const sgd = { lr: 0.1 }; // a hand-written update reading a JS number (kiln's optimizers keep theirs in tensors)
    const step = k.compile((x: k.Tensor) => {
      W.grad = null;
      x.mul(W).sum().backward();
      k.noGrad(() => W.sub_(W.grad!.mul(sgd.lr)));
    });
    const expected = [0.9, -0.1, -0.6, -0.85];
    [0.1, 1, 0.5, 0.25].forEach((lr, i) => {
      sgd.lr = lr;
      step(k.ones([2]));
      expect(vals(W)).toEqual([expected[i], expected[i]]);
    });
    expect(step.cacheInfo().traces).toBe(1);
    expect(k.explain(step, k.ones([2])).guards).toMatch(/runtime scalar/);
  });

  it('a captured tensor variable re-bound to another tensor is used', () => {
    let W = k.ones([2]);
    const f = k.compile((x: k.Tensor) => x.mul(W));
    f(k.ones([2])); f(k.ones([2]));
    W = k.full([2], 3);
    expect(vals(f(k.ones([2])))).toEqual([3, 3]);
  });

  it('a JS number read from the closure is read on every call', () => {
    const scale = { value: 2 };
    const f = k.compile((x: k.Tensor) => x.mul(scale.value));
    expect(vals(f(k.ones([2])))).toEqual([2, 2]);
    scale.value = 3;
    expect(vals(f(k.ones([2])))).toEqual([3, 3]);
  });
});

describe('side effects', () => {
  it('a helper\'s calls++ and seen.push run on every call; explain() says the JavaScript runs', () => {
    let calls = 0;
    const seen: number[] = [];
    const helper = (x: k.Tensor) => { calls++; seen.push(x.shape[0]); return x.mul(2); };
    const fn = (x: k.Tensor) => helper(x).add(1);
    const f = k.compile(fn);
    for (let i = 0; i < 5; i++) f(k.ones([3]));
    expect(calls).toBe(5);
    expect(seen).toEqual([3, 3, 3, 3, 3]);
    const e = k.explain(f, k.ones([3]));
    expect(e.mode).toBe('replay');
    expect(e.javascript.onHit).toBe('verified');
    expect(e.javascript.why).toMatch(/reads helper/);
  });

  it('method calls on a captured tensor are not mistaken for side effects (polynomial fit)', () => {
    const a = k.tensor(0.1, { requiresGrad: true });
    const fn = (x: k.Tensor) => a.add(x.mul(2));
    const e = k.explain(fn, k.ones([3]));
    expect(e.sideEffects).toEqual([]);
    expect(e.javascript.why).toMatch(/reads a, a variable from outside/);
  });

  it('a function that reads only its arguments skips its JavaScript on a hit', () => {
    let runs = 0;
    const body = (x: k.Tensor) => x.mul(2).add(1);
    const f = k.compile((x: k.Tensor) => body(x));
    const g = k.compile((x: k.Tensor) => x.mul(2).add(1));
    void runs;
    f(k.ones([2])); f(k.ones([2]));
    g(k.ones([2])); g(k.ones([2]));
    expect(f._state.lastRun).toBe('verified');
    expect(g._state.lastRun).toBe('skipped');
    expect(k.explain(g, k.ones([2])).javascript.onHit).toBe('skipped');
  });

  it('values read on the host steer the JavaScript: a hit runs it again (a branch on item(), a number from data(), sort of a long row)', () => {
    const branch = (a: k.Tensor) => a.mul((a.item() as number) > 0 ? 2 : 3);
    const scale = (a: k.Tensor) => a.mul(a.data()[0]);
    const order = (a: k.Tensor) => a.argsort().mul(2);
    const fs = [branch, scale, order].map((fn) => [fn, k.compile(fn)] as const);
    for (const x of [k.tensor([1]), k.tensor([-1]), k.tensor([3])]) expect(vals(fs[0][1](x))).toEqual(vals(branch(x)));
    for (let i = 0; i < 3; i++) { const x = k.randn([4]); expect(vals(fs[1][1](x))).toEqual(vals(scale(x))); }
    for (let i = 0; i < 3; i++) { const x = k.randn([2, 1500]); expect(vals(fs[2][1](x))).toEqual(vals(order(x))); }
    for (const [, c] of fs) expect(c._state.lastRun).not.toBe('skipped');
    expect(k.explain(fs[0][1], k.tensor([1])).javascript.why).toMatch(/reads tensor values on the host \(item\(\)/);
    const p = k.compile(branch, { pure: true });
    for (const x of [k.tensor([1]), k.tensor([-1])]) expect(vals(p(x))).toEqual(vals(branch(x)));
  });

  it('pure: true skips the JavaScript (the caller asserts it), and arguments still bind per call', () => {
    let runs = 0;
    const W = k.randn([3, 3]);
    const f = k.compile((x: k.Tensor) => { runs++; return x.matmul(W); }, { pure: true });
    const xs = [k.randn([2, 3]), k.randn([2, 3]), k.randn([2, 3])];
    xs.forEach((x) => expect(vals(f(x))).toEqual(vals(x.matmul(W))));
    expect(runs).toBe(1);
    expect(f._state.lastRun).toBe('skipped');
  });
});

describe('in-place writes', () => {
  it('land in this call\'s argument', () => {
    const fn = (a: k.Tensor) => { a.add_(1); return a.mul(2); };
    const f = k.compile(fn);
    const [x1, x2] = [k.tensor([1, 1]), k.tensor([10, 10])];
    expect(vals(f(x1))).toEqual([4, 4]);
    expect(vals(f(x2))).toEqual([22, 22]);
    expect(vals(x1)).toEqual([2, 2]);
    expect(vals(x2)).toEqual([11, 11]);
  });

  it('through a transposed view of an argument into its base', () => {
    const fn = (x: k.Tensor) => { x.mT().mul_(0.5); return x.sum(); };
    const f = k.compile(fn);
    for (let i = 0; i < 3; i++) {
      const a = k.tensor([[1, 2 + i], [3, 4]]), b = k.tensor([[1, 2 + i], [3, 4]]);
      expect(vals(f(a))).toEqual(vals(fn(b)));
      expect(vals(a)).toEqual(vals(b));
    }
  });

  it('through a narrowed view of an intermediate into its base', () => {
    const fn = (x: k.Tensor) => { const y = x.add(1); y.narrow(0, 0, 1).mul_(10); return y; };
    const f = k.compile(fn);
    const x = k.tensor([[1, 2], [3, 4]]);
    for (let i = 0; i < 3; i++) expect(vals(f(x))).toEqual(vals(fn(x)));
  });

  it('aliased arguments: traced as f(x, x), called as f(p, q), and overlapping views', () => {
    const fn = (a: k.Tensor, b: k.Tensor) => { a.add_(1); return b.mul(2); };
    const f = k.compile(fn);
    const run = (make: () => [k.Tensor, k.Tensor, k.Tensor]) => {
      const [c1, c2, cBase] = make(), [e1, e2, eBase] = make();
      expect(vals(f(c1, c2))).toEqual(vals(fn(e1, e2)));
      expect(vals(cBase)).toEqual(vals(eBase));
    };
    run(() => { const x = k.tensor([1, 2]); return [x, x, x]; });
    run(() => { const p = k.tensor([1, 2]); return [p, k.tensor([5, 5]), p]; });
    run(() => { const base = f32(6); return [base.narrow(0, 0, 4), base.narrow(0, 2, 4), base]; });
    run(() => { const x = k.tensor([1, 2]); return [x, x, x]; });
  });

  it('keeps the autograd version check: a saved tensor modified in place raises as in eager mode', () => {
    const fn = (x: k.Tensor) => { const y = x.exp(); y.mul_(2); return y.sum(); };
    const x = k.randn([3], { requiresGrad: true });
    let eager = '';
    try { fn(x).backward(); } catch (e) { eager = (e as Error).message; }
    expect(eager).toMatch(/modified by an in-place operation/);
    const f = k.compile(fn);
    for (let i = 0; i < 2; i++) expect(() => f(x).backward()).toThrow(eager);
  });

  it('a read inside the function after an in-place write sees the write', () => {
    const f = k.compile((x: k.Tensor) => { x.add_(1); return x.data()[0]; });
    const x = k.tensor([1, 2]);
    expect(f(x)).toBe(2);
    expect(vals(x)).toEqual([2, 3]);
    expect(f(x)).toBe(3);
  });
});

describe('found by the differential fuzzer', () => {
  it('a function that only returns an argument, traced as f(a, a), then called as f(a, b) twice, returns b', () => {
    const f = k.compile((a: k.Tensor, b: k.Tensor) => b);
    const x = k.tensor(2);
    expect(vals(f(x, x))).toEqual([2]);
    for (let i = 0; i < 3; i++) expect(vals(f(k.tensor(2), k.tensor(-1)))).toEqual([-1]);
  });

  it('an out-of-range index raises where eager raises, before later side effects, even when the gather is dead', () => {
    const W = k.tensor([[1, 2], [3, 4], [5, 6]]);
    let count = 0;
    const fn = (i: k.Tensor) => { k.embedding(i, W); count++; W.narrow(0, 0, 1).mul_(3); return W.sum(); };
    const f = k.compile(fn);
    expect(() => f(k.tensor(3, { dtype: 'int32' }))).toThrow(/embedding: index 3 is out of range for dim 0 of size 3/);
    expect(count).toBe(0);
    expect(vals(W)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(vals(f(k.tensor(1, { dtype: 'int32' })))).toEqual([27]);
    expect(() => f(k.tensor([[0, 7]], { dtype: 'int32' }))).toThrow(/index 7 is out of range/);
    expect(count).toBe(1);
  });

  it('a gather whose result is unused still checks its (computed) indices, as eagerly', () => {
    const fn = (x: k.Tensor, i: k.Tensor) => { x.indexSelect(0, i.add(1)); return x.sum(); };
    const f = k.compile(fn);
    const x = k.tensor([1, 2, 3]);
    expect(vals(f(x, k.tensor([0], { dtype: 'int32' })))).toEqual([6]);
    expect(() => fn(x, k.tensor([2], { dtype: 'int32' }))).toThrow(/indexSelect: index 3 is out of range/);
    expect(() => f(x, k.tensor([2], { dtype: 'int32' }))).toThrow(/indexSelect: index 3 is out of range/);
  });

  it('an in-place write into a view whose strides do not nest (every other column of a [2, 3])', () => {
    const fn = (a: k.Tensor) => { a.copy_(k.tensor([[-0.375]])); return a.mul(2); };
    const f = k.compile(fn);
    for (let i = 0; i < 3; i++) {
      const cb = k.tensor([[-2, 2, 0], [-2, 2, i]]), eb = k.tensor([[-2, 2, 0], [-2, 2, i]]);
      const c = f(cb.slice([null, [0, undefined, 2]])), e = fn(eb.slice([null, [0, undefined, 2]]));
      expect(vals(c)).toEqual(vals(e));
      expect(vals(cb)).toEqual(vals(eb));
    }
  });
});

describe('dynamic shapes never bake a size in', () => {
  it('mean, var and std traced at batch 2 are right at batch 4 and 3', () => {
    for (const op of ['mean', 'var', 'std'] as const) {
      const f = k.compile((x: k.Tensor) => x[op]());
      for (const n of [2, 4, 3, 4]) { const x = k.randn([n, 3]); close(f(x), x[op]()); }
    }
  });

  it('a mean-reduced loss on a short last batch', () => {
    const W = k.randn([4, 2]);
    const fn = (x: k.Tensor, y: k.Tensor) => k.nn.mseLoss(x.matmul(W), y);
    const f = k.compile(fn);
    for (const n of [8, 8, 3]) { const x = k.randn([n, 4]), y = k.randn([n, 2]); close(f(x, y), fn(x, y)); }
  });

  it('cat along the batch dim, reshape from shape values, branches on shapes', () => {
    const cat = k.compile((x: k.Tensor) => k.cat([x, x], 0));
    const re = k.compile((x: k.Tensor) => x.reshape([x.shape[1], x.shape[0]]));
    const br = k.compile((x: k.Tensor) => (x.shape[0] > 4 ? x.mul(2) : x.neg()));
    for (const n of [2, 5, 3]) {
      const x = k.randn([n, 3]);
      expect(vals(cat(x))).toEqual(vals(k.cat([x, x], 0)));
      expect(re(x).shape).toEqual([3, n]);
      expect(vals(br(x))).toEqual(vals(n > 4 ? x.mul(2) : x.neg()));
    }
  });

  it('an expand, reshape or indexSelect that no longer fits raises as in eager mode; so does a throw for long inputs', () => {
    const ex = k.compile((x: k.Tensor) => x.expand([2, 3]));
    const re = k.compile((x: k.Tensor) => x.reshape([2, 3]));
    const ix = k.compile((x: k.Tensor) => x.indexSelect(0, k.tensor([0, 2], { dtype: 'int32' })));
    const th = k.compile((x: k.Tensor) => { if (x.shape[0] > 3) throw new RangeError('too long'); return x.add(1); });
    ex(k.ones([3])); re(k.ones([6])); ix(k.ones([3])); th(k.ones([2]));
    expect(() => ex(k.ones([4]))).toThrow(k.ShapeError);
    expect(() => re(k.ones([7]))).toThrow(k.ShapeError);
    expect(() => ix(k.ones([2]))).toThrow(/out of range/);
    expect(() => th(k.ones([5]))).toThrow(RangeError);
  });
});

describe('returned values', () => {
  it('a returned Map, string or generator is this call\'s', () => {
    const m = k.compile((x: k.Tensor) => new Map([['y', x.add(1)]]));
    const a = m(k.ones([1])), b = m(k.ones([1]));
    expect(a).not.toBe(b);
    expect(vals(b.get('y')!)).toEqual([2]);
    const s = k.compile((x: k.Tensor) => `n=${x.shape[0]}`);
    s(k.ones([1]));
    expect(s(k.ones([2]))).toBe('n=2');
    const g = k.compile(function* gen(x: k.Tensor) { yield x.add(1); });
    const [g1] = [...g(k.ones([1]))];
    const [g2] = [...g(k.ones([1]))];
    expect(vals(g1)).toEqual([2]);
    expect(vals(g2)).toEqual([2]);
  });

  it('a returned tensor is never the program\'s own constant', () => {
    const f = k.compile((x: k.Tensor) => k.tensor([1, 2]).add(x.sum().mul(0)));
    const g = k.compile((_x: k.Tensor) => k.tensor([1, 2]));
    const z = k.ones([1]);
    for (const fn of [f, g]) {
      fn(z).add_(5);
      const r = fn(z);
      r.add_(5);
      expect(vals(fn(z))).toEqual([1, 2]);
    }
  });
});

describe('autograd across the call', () => {
  it('a loss returned by a compiled training step requires grad, as eagerly', () => {
    const W = k.randn([3, 1], { requiresGrad: true });
    const opt = new k.optim.SGD([W], { lr: 0.01 });
    const step = k.compile((x: k.Tensor) => { opt.zeroGrad(); const l = x.matmul(W).sum(); l.backward(); opt.step(); return l; });
    for (let i = 0; i < 3; i++) expect(step(k.ones([2, 3])).requiresGrad).toBe(true);
  });

  it('backward after a compiled forward (many calls) matches eager gradients', () => {
    const W = k.randn([4, 3], { requiresGrad: true });
    const fn = (x: k.Tensor) => x.matmul(W).tanh().mul(x.sum(1, true)).sum();
    const f = k.compile(fn);
    for (let i = 0; i < 3; i++) {
      const x = k.randn([2, 4]);
      W.grad = null; f(x).backward(); const g1 = W.grad!;
      W.grad = null; fn(x).backward(); close(g1, W.grad!);
    }
  });
});

describe('tidy() and compile() compose in every order', () => {
  it('compiled call inside tidy, tidy inside the compiled function', () => {
    const f = k.compile((x: k.Tensor) => x.add(k.tensor([1, 2])));
    const g = k.compile((x: k.Tensor) => k.tidy(() => x.add(k.tensor([1, 2]))));
    for (let i = 0; i < 3; i++) {
      const r = k.tidy(() => f(k.ones([2])));
      expect(vals(r)).toEqual([2, 3]);
      expect(vals(f(k.ones([2])))).toEqual([2, 3]);
      expect(vals(g(k.ones([2])))).toEqual([2, 3]);
      expect(vals(k.tidy(() => g(k.ones([2]))))).toEqual([2, 3]);
    }
  });
});

describe('graph-break reads of views', () => {
  it('x.permute([1, 0]).data() and printing a view work', () => {
    const f = k.compile((x: k.Tensor) => { const d = x.permute([1, 0]).data(); return x.mul(d[1]); });
    const g = k.compile((x: k.Tensor) => String(x.add(1).permute([1, 0])));
    const x = k.tensor([[1, 2], [3, 4]]);
    for (let i = 0; i < 2; i++) {
      expect(vals(f(x))).toEqual(vals(x.mul(3)));
      expect(g(x)).toBe(String(x.add(1).permute([1, 0])));
    }
  });
});

describe('async and grad mode', () => {
  it('an async compiled function sees its own in-place writes after an await', async () => {
    const fn = async (x: k.Tensor) => { x.add_(1); await Promise.resolve(); return x.mul(2); };
    const f = k.compile(fn);
    for (let i = 0; i < 2; i++) {
      const [a, b] = [k.ones([2]), k.ones([2])];
      expect(vals(await f(a))).toEqual(vals(await fn(b)));
      expect(vals(a)).toEqual(vals(b));
    }
  });

  it('noGrad(async () => ...) is a clear error (grad mode cannot follow an await), eagerly and compiled', () => {
    expect(() => k.noGrad(async () => 1)).toThrow(/noGrad takes a synchronous function/);
    expect(() => k.noGrad(() => Promise.resolve(1))).toThrow(/synchronous/);
    const f = k.compile((x: k.Tensor) => k.noGrad(async () => x.add(1)));
    expect(() => f(k.ones([1]))).toThrow(/synchronous/);
    expect(k.isGradEnabled()).toBe(true);
  });
});

describe('random numbers', () => {
  it('manualSeed() inside a compiled function resets the generator where eager mode does', () => {
    const fn = () => { k.manualSeed(3); const a = k.rand([3]); k.manualSeed(3); const b = k.rand([3]); return a.sub(b).abs().sum(); };
    const f = k.compile(fn);
    for (let i = 0; i < 3; i++) expect(vals(f())).toEqual([0]);
    k.manualSeed(5);
    const eager = vals(k.compile((x: k.Tensor) => x.add(k.rand([4])))(k.zeros([4])));
    k.manualSeed(5);
    expect(eager).toEqual(vals(k.rand([4])));
  });
});

describe('parameters()', () => {
  it('finds modules and tensors in plain objects, Maps and nested arrays; a Set is an error', () => {
    class M extends k.nn.Module {
      heads = { a: new k.nn.Linear(2, 2), b: new k.nn.Linear(2, 2, { bias: false }) };
      byName = new Map([['x', new k.nn.Linear(2, 2)]]);
      extra = [[k.ones([1], { requiresGrad: true })], { s: k.zeros([2], { requiresGrad: true }) }];
      forward(x: k.Tensor) { return x; }
    }
    const m = new M();
    expect(m.namedParameters().map(([n]) => n)).toEqual(['extra.0.0', 'extra.1.s', 'heads.a.weight', 'heads.a.bias', 'heads.b.weight', 'byName.x.weight', 'byName.x.bias']);
    class S extends k.nn.Module { set = new Set([new k.nn.Linear(1, 1)]); forward(x: k.Tensor) { return x; } }
    expect(() => new S().parameters()).toThrow(/S.set: a Set holds modules or tensors/);
  });
});

describe('all-or-nothing compiled steps', () => {
  const make = () => {
    k.manualSeed(2);
    const W = k.randn([4, 3], { requiresGrad: true }), b = k.zeros([3], { requiresGrad: true });
    const opt = new k.optim.Adam([W, b], { lr: 0.1 });
    const step = (x: k.Tensor, y: k.Tensor) => { opt.zeroGrad(); const l = k.nn.mseLoss(x.matmul(W).add(b), y); l.backward(); opt.step(); return l.detach(); };
    return { W, b, opt, step };
  };
  const state = (m: ReturnType<typeof make>) => {
    const moments = [m.W, m.b].flatMap((p) => Object.values(m.opt.state.get(p) ?? {}));
    return [m.W, m.b, ...moments, m.W.grad, m.b.grad].map((t) => (t ? vals(t) : null));
  };

  for (const where of ['run', 'alloc'] as const) {
    it(`a failure at any ${where === 'run' ? 'kernel' : 'allocation'} of a compiled Adam step leaves every tensor as before, frees what it allocated, names the cause; the next call works`, () => {
      const cpu = k.getBackend('cpu');
      const x = k.randn([5, 4]), y = k.randn([5, 3]);
      const eager = make(), comp = make();
      const step = k.compile(comp.step);
      for (let i = 0; i < 2; i++) { eager.step(x, y); step(x, y); }
      // Count this backend's calls in one compiled step, then fail each one in turn.
      const original = cpu[where].bind(cpu) as (...a: unknown[]) => unknown;
      let count = 0;
      (cpu as unknown as Record<string, unknown>)[where] = (...a: unknown[]) => { count++; return original(...a); };
      step(x, y);
      const calls = count;
      (cpu as unknown as Record<string, unknown>)[where] = original;
      eager.step(x, y);
      expect(calls).toBeGreaterThan(3);
      const alloc = cpu.alloc.bind(cpu), free = cpu.free.bind(cpu);
      let inProgram = 0;
      for (let fail = 0; fail < calls; fail++) {
        let n = 0;
        (cpu as unknown as Record<string, unknown>)[where] = (...a: unknown[]) => { if (n++ === fail) throw new Error(`injected ${where} failure`); return original(...a); };
        // Buffers the compiled program takes (not tensors the JavaScript itself creates) must all come back.
        const live = new Set<unknown>();
        const allocHere = cpu.alloc;
        cpu.alloc = (...a: Parameters<typeof cpu.alloc>) => { const b = allocHere(...a); if (!/fromTypedArray/.test(new Error().stack ?? '')) live.add(b); return b; };
        cpu.free = (b) => { live.delete(b); free(b); };
        const before = state(comp);
        let err: unknown = null;
        try { step(x, y); } catch (e) { err = e; }
        Object.assign(cpu, { alloc, free, [where]: original });
        expect(String((err as Error).message)).toMatch(new RegExp(`injected ${where} failure`));
        if (!/kernel \d+ of \d+/.test((err as Error).message)) continue; // failed in the JavaScript itself, as eager code would
        inProgram++;
        expect((err as Error).message).toMatch(/no tensor was changed/);
        expect(state(comp)).toEqual(before);
        expect(live.size).toBe(0);
      }
      expect(inProgram).toBeGreaterThan(3);
      const l1 = step(x, y), l2 = eager.step(x, y);
      // Kernels run only in the program, so every injected kernel failure left no trace at all; an
      // allocation can also fail in the JavaScript (a constant), where what ran before it stays done.
      if (where === 'run') {
        close(l1, l2);
        state(comp).forEach((t, i) => t && t.forEach((v, j) => expect(v).toBeCloseTo(state(eager)[i]![j], 4)));
      } else expect(Number.isFinite(l1.item())).toBe(true);
    });
  }
});

describe('explain() and KILN_LOGS name the mode, the reason and the guards', () => {
  it('reports verified replays with their guards and the divergence that retraced', () => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    k.setLogs('guards,recompiles');
    try {
      let big = false;
      const W = k.ones([2]);
      const f = k.compile((x: k.Tensor) => (big ? x.mul(W) : x.add(W)));
      f(k.ones([2])); f(k.ones([2]));
      big = true;
      f(k.ones([2]));
      const text = err.mock.calls.map((c) => String(c[0])).join('\n');
      expect(text).toMatch(/cache hit \(replay; the JavaScript ran and matched the graph op by op\)/);
      expect(text).toMatch(/recompiling: the JavaScript took another path: add\(\[2\], \[2\]\) \(cached at .*soundness\.test\.ts:\d+\) became mul\(\[2\], \[2\]\)/);
      const e = k.explain(f, k.ones([2]));
      expect(e.toString()).toMatch(/on a cache hit the JavaScript is run and checked against the graph op by op/);
      expect(e.guards).toMatch(/nodes checked in order/);
    } finally {
      k.setLogs('');
      err.mockRestore();
    }
  });

  it('names the dtypes and shapes of leaves that changed (a captured tensor re-bound to another dtype)', () => {
    let c = k.tensor([1, 2]);
    const f = k.compile((x: k.Tensor) => x.add(c));
    f(k.ones([2]));
    c = k.tensor([1, 2], { dtype: 'int32' });
    f(k.ones([2]));
    expect(f.cacheInfo().recompileReasons).toEqual(['the JavaScript took another path: input captured float32[2] became input captured int32[2]']);
    // An op on the same inputs whose result changes dtype says so.
    let dtype: k.DType = 'int32';
    const g = k.compile((x: k.Tensor) => x.mul(2).to(dtype));
    g(k.ones([2]));
    dtype = 'bool';
    g(k.ones([2]));
    expect(g.cacheInfo().recompileReasons[0]).toMatch(/-> int32 \(cached at .*\) became \w+\(\[2\]\) -> bool/);
  });
});
