// nn and optim: Module bookkeeping, the standard layers, optimizer updates against hand-computed
// float64 steps, and manualSeed determinism of the random creators.
import { describe, expect, it } from 'vitest';
import { KilnError, ShapeError, manualSeed, nn, noGrad, ones, optim, rand, randint, randn, tensor, zeros } from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import * as R from './reference.js';
import { mismatches } from './harness.js';

const vals = (t: Tensor | null) => (t ? Array.from(t.data()) : []);
const close = (got: Tensor, want: number[], shape: number[] = [want.length], tol = 1e-6) =>
  expect(mismatches(got.data(), R.raw(shape, want, 'float32'), tol, tol)).toEqual([]);

class Block extends nn.Module {
  fc: nn.Linear;
  norm: nn.LayerNorm;
  constructor() { super(); this.fc = new nn.Linear(3, 3); this.norm = new nn.LayerNorm(3); }
  forward(x: Tensor): Tensor { return this.norm.forward(this.fc.forward(x)).relu(); }
}

class Net extends nn.Module {
  embed = new nn.Embedding(5, 3);
  blocks = [new Block(), new Block()];
  head = new nn.Linear(3, 2, { bias: false });
  drop = new nn.Dropout(0.5);
  /** A buffer: a tensor field that needs no gradient (in stateDict, not in parameters). */
  scale = ones([2]);
  forward(idx: Tensor): Tensor {
    let h = this.embed.forward(idx);
    for (const b of this.blocks) h = b.forward(h);
    return this.head.forward(this.drop.forward(h)).mul(this.scale);
  }
}

describe('Module', () => {
  it('namedParameters walks fields, arrays of modules and nested modules, with dotted names', () => {
    const net = new Net();
    expect(net.namedParameters().map(([n]) => n)).toEqual([
      'embed.weight',
      'blocks.0.fc.weight', 'blocks.0.fc.bias', 'blocks.0.norm.weight', 'blocks.0.norm.bias',
      'blocks.1.fc.weight', 'blocks.1.fc.bias', 'blocks.1.norm.weight', 'blocks.1.norm.bias',
      'head.weight',
    ]);
    expect(net.parameters()).toHaveLength(10);
    expect(net.parameters().every((p) => p.requiresGrad && p.isLeaf)).toBe(true);
    expect(net.parameters().map((p) => p.shape)).toEqual([[5, 3], [3, 3], [3], [3], [3], [3, 3], [3], [3], [3], [2, 3]]);
  });

  it('stateDict holds parameters and buffers by name, sharing (not copying) them', () => {
    const net = new Net();
    const sd = net.stateDict();
    expect(Object.keys(sd)).toContain('scale');
    expect(Object.keys(sd)).toContain('blocks.1.norm.bias');
    expect(Object.keys(sd)).toHaveLength(11);
    expect(sd['head.weight']).toBe(net.head.weight);
  });

  it('loadStateDict copies values into the existing tensors', () => {
    manualSeed(1);
    const a = new Net();
    const b = new Net();
    const w = b.head.weight;
    b.loadStateDict(a.stateDict());
    expect(b.head.weight).toBe(w); // same tensor object, new values
    for (const [name, t] of a.namedTensors()) expect(vals(b.stateDict()[name]), name).toEqual(vals(t));
    // The copy is independent of the source.
    noGrad(() => a.head.weight.fill_(0));
    expect(vals(b.head.weight).some((v) => v !== 0)).toBe(true);
    // Parameters stay trainable leaves.
    expect(b.head.weight.requiresGrad && b.head.weight.isLeaf).toBe(true);
  });

  it('loadStateDict is strict about names and shapes', () => {
    const net = new Net();
    const sd = { ...net.stateDict() };
    delete sd['scale'];
    sd['extra'] = ones([1]);
    expect(() => net.loadStateDict(sd)).toThrow(KilnError);
    expect(() => net.loadStateDict(sd)).toThrow('loadStateDict: missing keys [scale], unexpected keys [extra]');
    expect(() => net.loadStateDict({ ...net.stateDict(), scale: ones([3]) })).toThrow(ShapeError);
    expect(() => net.loadStateDict({ ...net.stateDict(), scale: ones([3]) })).toThrow('loadStateDict: scale has shape [3] but the module expects [2]');
    // Non-strict loading takes what matches by name.
    net.loadStateDict({ scale: tensor([4, 5]) }, false);
    expect(vals(net.scale)).toEqual([4, 5]);
  });

  it('train() and eval() propagate to every child', () => {
    const net = new Net();
    expect(net.training && net.drop.training && net.blocks[1].fc.training).toBe(true);
    expect(net.eval()).toBe(net);
    expect([net.training, net.drop.training, net.blocks[0].norm.training, net.blocks[1].fc.training]).toEqual([false, false, false, false]);
    net.train();
    expect(net.drop.training && net.blocks[1].norm.training).toBe(true);
  });

  it('eval mode is deterministic, zeroGrad clears gradients, call() is forward()', () => {
    const net = new Net().eval();
    const idx = tensor([[0, 4, 2]], { dtype: 'int32' });
    const a = net.forward(idx);
    expect(a.shape).toEqual([1, 3, 2]);
    expect(vals(net.call(idx))).toEqual(vals(a));
    a.sum().backward();
    expect(net.parameters().every((p) => p.grad !== null)).toBe(true);
    net.zeroGrad();
    expect(net.parameters().every((p) => p.grad === null)).toBe(true);
  });
});

describe('layers', () => {
  it('Linear computes x Wᵀ + b for 1-D, 2-D and batched inputs', () => {
    const lin = new nn.Linear(3, 2);
    noGrad(() => {
      lin.weight.copy_(tensor([[1, 2, 3], [-1, 0.5, 0]]));
      lin.bias!.copy_(tensor([0.25, -1]));
    });
    close(lin.forward(tensor([1, 1, 1])), [6.25, -1.5]);
    const y = lin.forward(tensor([[1, 0, 0], [0, 1, 2]]));
    expect(y.shape).toEqual([2, 2]);
    close(y, [1.25, -2, 8.25, -0.5], [2, 2]);
    expect(lin.forward(zeros([4, 5, 3])).shape).toEqual([4, 5, 2]);
  });

  it('Linear initialises U(-1/√in, 1/√in) and honours bias: false', () => {
    manualSeed(0);
    const lin = new nn.Linear(16, 64);
    const w = vals(lin.weight);
    const bound = 1 / 4;
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    expect(Math.abs(w.reduce((a, b) => a + b, 0) / w.length)).toBeLessThan(0.02);
    const nb = new nn.Linear(4, 2, { bias: false });
    expect(nb.bias).toBeNull();
    expect(nb.parameters()).toHaveLength(1);
  });

  it('LayerNorm normalises the trailing dims and has affine parameters', () => {
    const ln = new nn.LayerNorm([4]);
    expect(ln.parameters().map((p) => p.shape)).toEqual([[4], [4]]);
    const y = ln.forward(tensor([[1, 2, 3, 4], [10, 10, 10, 14]]));
    const m = y.mean(-1), v = y.var(-1, false, 0);
    close(m, [0, 0], [2], 1e-5);
    close(v, [1, 1], [2], 1e-4);
    expect(new nn.LayerNorm(3, 1e-5, false).parameters()).toHaveLength(0);
    const ln2 = new nn.LayerNorm([2, 2]);
    expect(ln2.forward(ones([3, 2, 2])).shape).toEqual([3, 2, 2]);
  });

  it('Embedding looks up rows and accumulates their gradient', () => {
    const emb = new nn.Embedding(4, 2);
    noGrad(() => emb.weight.copy_(tensor([[0, 1], [2, 3], [4, 5], [6, 7]])));
    const idx = tensor([[3, 1], [1, 1]], { dtype: 'int32' });
    const out = emb.forward(idx);
    expect(out.shape).toEqual([2, 2, 2]);
    expect(out.toArray()).toEqual([[[6, 7], [2, 3]], [[2, 3], [2, 3]]]);
    out.sum().backward();
    expect(emb.weight.grad!.toArray()).toEqual([[0, 0], [3, 3], [0, 0], [1, 1]]);
    expect(() => new nn.Embedding(0, 2)).toThrow('Embedding: sizes must be positive, got 0 x 2');
  });

  it('Dropout is the identity in eval mode and with p = 0', () => {
    const x = rand([100]);
    const d = new nn.Dropout(0.5).eval();
    expect(vals(d.forward(x))).toEqual(vals(x));
    expect(vals(new nn.Dropout(0).forward(x))).toEqual(vals(x));
    expect(vals(new nn.Dropout(1).forward(x)).every((v) => v === 0)).toBe(true);
  });

  it('Dropout in training zeroes about p of the entries, rescales the rest, keeps the mean, and is seeded', () => {
    const x = ones([20000]);
    manualSeed(42);
    const y = vals(new nn.Dropout(0.3).forward(x));
    const zeroFrac = y.filter((v) => v === 0).length / y.length;
    expect(zeroFrac).toBeGreaterThan(0.28);
    expect(zeroFrac).toBeLessThan(0.32);
    expect(y.filter((v) => v !== 0).every((v) => Math.abs(v - 1 / 0.7) < 1e-6)).toBe(true);
    const mean = y.reduce((a, b) => a + b, 0) / y.length;
    expect(Math.abs(mean - 1)).toBeLessThan(0.03);
    manualSeed(42);
    expect(vals(new nn.Dropout(0.3).forward(x))).toEqual(y);
  });

  it('Dropout passes the gradient only through kept entries, scaled', () => {
    manualSeed(7);
    const x = ones([50], { requiresGrad: true });
    const y = new nn.Dropout(0.5).forward(x);
    y.sum().backward();
    expect(vals(x.grad)).toEqual(vals(y)); // d(mask·x/(1-p))/dx = mask/(1-p) = y at x = 1
  });

  it('Sequential chains modules; activation modules match the functions', () => {
    const x = tensor([-2, -0.5, 0, 0.5, 2]);
    const seq = new nn.Sequential(new nn.ReLU(), new nn.Tanh());
    close(seq.forward(x), vals(x).map((v) => Math.tanh(Math.max(v, 0))));
    close(new nn.Sigmoid().forward(x), vals(x).map(R.sigmoid));
    close(new nn.GELU().forward(x), vals(x).map(R.geluErf));
    close(new nn.GELU('tanh').forward(x), vals(x).map(R.geluTanh));
    const mlp = new nn.Sequential(new nn.Linear(2, 4), new nn.ReLU(), new nn.Linear(4, 1));
    expect(mlp.parameters()).toHaveLength(4);
    expect(mlp.namedParameters()[2][0]).toBe('layers.2.weight');
    expect(mlp.forward(ones([3, 2])).shape).toEqual([3, 1]);
  });
});

// ----- optimizers: float64 re-statements of the PyTorch update rules ------------------------------

interface SgdOpts { lr: number; momentum?: number; weightDecay?: number; dampening?: number; nesterov?: boolean }
function sgdRef(p0: number[], grads: number[][], o: SgdOpts): number[] {
  const p = [...p0];
  let buf: number[] | null = null;
  for (const g0 of grads) {
    let g = g0.map((g, i) => g + (o.weightDecay ?? 0) * p[i]);
    if (o.momentum) {
      buf = buf ? buf.map((b, i) => o.momentum! * b + (1 - (o.dampening ?? 0)) * g[i]) : [...g];
      g = o.nesterov ? g.map((v, i) => v + o.momentum! * buf![i]) : buf;
    }
    g.forEach((v, i) => { p[i] -= o.lr * v; });
  }
  return p;
}

interface AdamOpts { lr: number; betas?: [number, number]; eps?: number; weightDecay?: number; decoupled?: boolean }
function adamRef(p0: number[], grads: number[][], o: AdamOpts): number[] {
  const [b1, b2] = o.betas ?? [0.9, 0.999];
  const eps = o.eps ?? 1e-8, wd = o.weightDecay ?? 0;
  const p = [...p0];
  const m = p.map(() => 0), v = p.map(() => 0);
  grads.forEach((g0, step) => {
    const t = step + 1;
    if (o.decoupled) p.forEach((_, i) => { p[i] *= 1 - o.lr * wd; });
    const g = o.decoupled ? g0 : g0.map((g, i) => g + wd * p[i]);
    g.forEach((gi, i) => {
      m[i] = b1 * m[i] + (1 - b1) * gi;
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;
      const mh = m[i] / (1 - b1 ** t), vh = v[i] / (1 - b2 ** t);
      p[i] -= (o.lr * mh) / (Math.sqrt(vh) + eps);
    });
  });
  return p;
}

const P0 = [0.5, -1.25, 2];
const GRADS = [[0.1, -0.4, 1.5], [-0.3, 0.2, 0.25], [0.05, 0.05, -2]];

/** Runs an optimizer over fixed gradient sequences (assigned to .grad directly). */
function run(make: (ps: Tensor[]) => optim.Optimizer, grads = GRADS): number[] {
  const p = tensor(P0, { requiresGrad: true });
  const opt = make([p]);
  for (const g of grads) {
    opt.zeroGrad();
    expect(p.grad).toBeNull();
    p.grad = tensor(g);
    opt.step();
  }
  expect(p.isLeaf && p.requiresGrad).toBe(true);
  return vals(p);
}

const closeTo = (got: number[], want: number[], tol = 2e-6) =>
  expect(mismatches(got, R.raw([want.length], want, 'float32'), tol, tol)).toEqual([]);

describe('SGD', () => {
  it('plain step: p -= lr·g', () => {
    closeTo(run((ps) => new optim.SGD(ps, { lr: 0.1 }), GRADS.slice(0, 1)), [0.49, -1.21, 1.85]);
    closeTo(run((ps) => new optim.SGD(ps, { lr: 0.1 })), sgdRef(P0, GRADS, { lr: 0.1 }));
  });
  it('momentum (buffer starts at the first gradient)', () => {
    closeTo(run((ps) => new optim.SGD(ps, { lr: 0.1, momentum: 0.9 })), sgdRef(P0, GRADS, { lr: 0.1, momentum: 0.9 }));
  });
  it('weight decay, with and without momentum', () => {
    closeTo(run((ps) => new optim.SGD(ps, { lr: 0.05, weightDecay: 0.1 })), sgdRef(P0, GRADS, { lr: 0.05, weightDecay: 0.1 }));
    const o = { lr: 0.05, momentum: 0.8, weightDecay: 0.01 };
    closeTo(run((ps) => new optim.SGD(ps, o)), sgdRef(P0, GRADS, o));
  });
  it('dampening and nesterov', () => {
    const d = { lr: 0.1, momentum: 0.9, dampening: 0.5 };
    closeTo(run((ps) => new optim.SGD(ps, d)), sgdRef(P0, GRADS, d));
    const n = { lr: 0.1, momentum: 0.9, nesterov: true };
    closeTo(run((ps) => new optim.SGD(ps, n)), sgdRef(P0, GRADS, n));
  });
  it('skips parameters without a gradient', () => {
    const a = tensor([1], { requiresGrad: true }), b = tensor([2], { requiresGrad: true });
    const opt = new optim.SGD([a, b], { lr: 0.5, momentum: 0.9 });
    a.grad = tensor([1]);
    opt.step();
    expect([...vals(a), ...vals(b)]).toEqual([0.5, 2]);
  });
  it('a real backward + step decreases a quadratic loss', () => {
    const p = tensor([3, -2], { requiresGrad: true });
    const opt = new optim.SGD([p], { lr: 0.1 });
    for (let i = 0; i < 3; i++) {
      opt.zeroGrad();
      p.mul(p).sum().backward(); // grad 2p: p ← 0.8 p
      opt.step();
    }
    closeTo(vals(p), [3 * 0.8 ** 3, -2 * 0.8 ** 3]);
  });
});

describe('Adam and AdamW', () => {
  it('the first Adam step moves every coordinate by about lr against its gradient sign', () => {
    closeTo(run((ps) => new optim.Adam(ps, { lr: 0.01 }), GRADS.slice(0, 1)), [0.49, -1.24, 1.99], 1e-6);
  });
  it('three Adam steps match the float64 update (bias correction included)', () => {
    closeTo(run((ps) => new optim.Adam(ps, { lr: 0.01 })), adamRef(P0, GRADS, { lr: 0.01 }));
    const o = { lr: 0.05, betas: [0.8, 0.99] as [number, number], eps: 1e-6 };
    closeTo(run((ps) => new optim.Adam(ps, o)), adamRef(P0, GRADS, o));
  });
  it('Adam weight decay is L2 folded into the gradient', () => {
    const o = { lr: 0.01, weightDecay: 0.1 };
    closeTo(run((ps) => new optim.Adam(ps, o)), adamRef(P0, GRADS, o));
  });
  it('AdamW decays the weights directly (default 0.01)', () => {
    closeTo(run((ps) => new optim.AdamW(ps, { lr: 0.01 })), adamRef(P0, GRADS, { lr: 0.01, weightDecay: 0.01, decoupled: true }));
    const o = { lr: 0.1, weightDecay: 0.5 };
    closeTo(run((ps) => new optim.AdamW(ps, o)), adamRef(P0, GRADS, { ...o, decoupled: true }));
  });
});

describe('manualSeed', () => {
  it('makes rand, randn and randint repeat', () => {
    manualSeed(123);
    const a = [vals(rand([5])), vals(randn([5])), vals(randint(0, 10, [5]))];
    manualSeed(123);
    const b = [vals(rand([5])), vals(randn([5])), vals(randint(0, 10, [5]))];
    expect(b).toEqual(a);
    manualSeed(124);
    expect(vals(rand([5]))).not.toEqual(a[0]);
  });
  it('draws continue the sequence rather than restarting it', () => {
    manualSeed(5);
    const first = vals(rand([4]));
    const second = vals(rand([4]));
    expect(second).not.toEqual(first);
    manualSeed(5);
    expect(vals(rand([8]))).toEqual([...first, ...second]);
  });
  it('distributions: rand in [0,1), randint in [low,high), randn standard normal', () => {
    manualSeed(9);
    const u = vals(rand([10000]));
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(Math.abs(u.reduce((a, b) => a + b, 0) / u.length - 0.5)).toBeLessThan(0.02);
    const r = randint(-3, 4, [10000]);
    expect(r.dtype).toBe('int32');
    const rv = vals(r);
    expect(new Set(rv)).toEqual(new Set([-3, -2, -1, 0, 1, 2, 3]));
    const n = vals(randn([10001])); // odd length: the Box-Muller pair is cut
    const mean = n.reduce((a, b) => a + b, 0) / n.length;
    const sd = Math.sqrt(n.reduce((a, b) => a + (b - mean) ** 2, 0) / n.length);
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(sd - 1)).toBeLessThan(0.05);
  });
  it('seeds model initialisation', () => {
    manualSeed(3);
    const a = new nn.Linear(4, 4);
    manualSeed(3);
    const b = new nn.Linear(4, 4);
    expect(vals(b.weight)).toEqual(vals(a.weight));
    expect(vals(b.bias)).toEqual(vals(a.bias));
  });
});
