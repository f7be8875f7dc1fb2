// torch.nn parity beyond the op-info table: callable modules and containers, activation and
// transformer modules, loss modules, nn.init, and the random and matrix ops whose checks are
// statistical or structural (multinomial, randperm, empty) or need a float64 loop (baddbmm, tile,
// allclose, MultiheadAttention). References are float64 computations written out here.
import { describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import { nn, type Tensor } from '../../src/index.js';

const f64 = (t: Tensor) => Array.from(t.data() as Float32Array, Number);
function expectClose(got: readonly number[], want: readonly number[], atol = 1e-5, rtol = 1e-5): void {
  expect(got.length).toBe(want.length);
  const bad = got.map((g, i) => [i, g, want[i]] as const).filter(([, g, w]) => !(Math.abs(g - w) <= atol + rtol * Math.abs(w)));
  expect(bad.slice(0, 5)).toEqual([]);
}
/** Float64 matmul of row-major [m, n] by [n, p]. */
function mm(a: readonly number[], b: readonly number[], m: number, n: number, p: number): number[] {
  const out = new Array<number>(m * p).fill(0);
  for (let i = 0; i < m; i++) for (let j = 0; j < p; j++) for (let l = 0; l < n; l++) out[i * p + j] += a[i * n + l] * b[l * p + j];
  return out;
}
/** Transpose of row-major [m, n]. */
const tr = (a: readonly number[], m: number, n: number) => Array.from({ length: m * n }, (_, i) => a[(i % m) * n + Math.floor(i / m)]);

describe('callable modules', () => {
  class Block extends nn.Module {
    lin = new nn.Linear(3, 2);
    act = new nn.SiLU();
    forward(x: Tensor): Tensor { return this.act(this.lin(x)); }
  }

  it('model(x) is model.forward(x); subclasses keep instanceof, fields and parameters', () => {
    k.manualSeed(1);
    const m = new Block();
    const x = k.randn([4, 3]);
    const y: Tensor = m(x);
    expect(m).toBeInstanceOf(nn.Module);
    expect(m).toBeInstanceOf(Block);
    expect(typeof m).toBe('function');
    expect(f64(y)).toEqual(f64(m.forward(x)));
    expect(Object.keys(m.stateDict()).sort()).toEqual(['lin.bias', 'lin.weight']);
    expect(m.parameters()).toHaveLength(2);
    m.eval();
    expect(m.training).toBe(false);
    expect(m.lin.training).toBe(false);
  });

  it('a compiled callable module computes what the eager one does', async () => {
    k.manualSeed(2);
    const m = new Block();
    const x = k.randn([5, 3]);
    const c = k.compile(m);
    expectClose(f64(c(x)), f64(m(x)), 1e-6, 1e-5);
  });
});

describe('containers', () => {
  it('ModuleList: indexed, iterable, named in stateDict, no forward of its own', () => {
    const list = new nn.ModuleList<nn.Module>([new nn.Linear(2, 3), new nn.Linear(3, 1)]);
    list.append(new nn.Identity());
    expect(list.length).toBe(3);
    expect(list[1]).toBeInstanceOf(nn.Linear);
    expect(list.at(-1)).toBeInstanceOf(nn.Identity);
    expect([...list]).toHaveLength(3);
    class Net extends nn.Module {
      layers = list;
      forward(x: Tensor): Tensor { let h = x; for (const l of this.layers) h = l(h) as Tensor; return h; }
    }
    const net = new Net();
    expect(Object.keys(net.stateDict()).sort()).toEqual(['layers.0.bias', 'layers.0.weight', 'layers.1.bias', 'layers.1.weight']);
    expect(net(k.ones([4, 2])).shape).toEqual([4, 1]);
    expect(() => list.forward()).toThrow(k.KilnError);
    expect(() => list.append(3 as unknown as nn.Module)).toThrow(/ModuleList.append: expected a Module/);
  });

  it('ModuleDict and ParameterList register their entries', () => {
    const d = new nn.ModuleDict({ enc: new nn.Linear(2, 2), act: new nn.ReLU() });
    expect(Object.keys(d.stateDict()).sort()).toEqual(['enc.bias', 'enc.weight']);
    const p = new nn.ParameterList([k.zeros([2]).requiresGrad_(true), k.ones([3]).requiresGrad_(true)]);
    expect(Object.keys(p.stateDict()).sort()).toEqual(['0', '1']);
    expect(p.parameters().map((t) => t.shape)).toEqual([[2], [3]]);
  });
});

describe('activation and transformer modules against float64', () => {
  const xs = [-3, -1.5, -0.2, 0, 0.3, 1, 2.5, 4];
  const x = k.tensor(xs, { shape: [2, 4] });

  it('Identity, SiLU, ELU, Softmax, LogSoftmax', () => {
    expect(f64(new nn.Identity(7, 'ignored')(x))).toEqual(f64(x));
    expectClose(f64(new nn.SiLU()(x)), xs.map((v) => v / (1 + Math.exp(-v))));
    expectClose(f64(new nn.ELU(0.7)(x)), xs.map((v) => (v > 0 ? v : 0.7 * (Math.exp(v) - 1))));
    const rows = [xs.slice(0, 4), xs.slice(4)];
    const sm = rows.flatMap((r) => { const s = r.reduce((a, v) => a + Math.exp(v), 0); return r.map((v) => Math.exp(v) / s); });
    expectClose(f64(new nn.Softmax(-1)(x)), sm);
    expectClose(f64(new nn.LogSoftmax(1)(x)), sm.map(Math.log));
  });

  it('RMSNorm: x / sqrt(mean(x^2) + eps) * weight, eps defaulting to float32 epsilon', () => {
    const norm = new nn.RMSNorm(4);
    k.noGrad(() => norm.weight!.copy_(k.tensor([1, 2, 0.5, -1])));
    const w = [1, 2, 0.5, -1];
    const want = [xs.slice(0, 4), xs.slice(4)].flatMap((r) => {
      const ms = r.reduce((a, v) => a + v * v, 0) / 4;
      return r.map((v, i) => (v / Math.sqrt(ms + 2 ** -23)) * w[i]);
    });
    expectClose(f64(norm(x)), want);
    expectClose(f64(new nn.RMSNorm([2, 4], 0.5, false)(x)), xs.map((v) => v / Math.sqrt(xs.reduce((a, u) => a + u * u, 0) / 8 + 0.5)));
  });

  it('MultiheadAttention (batchFirst, causal, weights averaged over heads) against a float64 loop', () => {
    k.manualSeed(3);
    const E = 4, H = 2, D = 2, N = 2, L = 3;
    const mha = new nn.MultiheadAttention(E, H, { batchFirst: true });
    k.noGrad(() => { mha.inProjBias!.copy_(k.randn([3 * E]).mul(0.1)); mha.outProj.bias!.copy_(k.randn([E]).mul(0.1)); });
    const xq = k.randn([N, L, E]);
    const [y, w] = mha(xq, xq, xq, { isCausal: true });
    const W = f64(mha.inProjWeight!), B = f64(mha.inProjBias!), Wo = f64(mha.outProj.weight), Bo = f64(mha.outProj.bias!);
    const X = f64(xq);
    const wantY: number[] = [], wantW: number[] = [];
    for (let n = 0; n < N; n++) {
      const xn = X.slice(n * L * E, (n + 1) * L * E);
      const proj = (i: number) => mm(xn, tr(W.slice(i * E * E, (i + 1) * E * E), E, E), L, E, E).map((v, j) => v + B[i * E + (j % E)]);
      const [q, kk, v] = [proj(0), proj(1), proj(2)];
      const heads = new Array<number>(L * E).fill(0);
      const avg = new Array<number>(L * L).fill(0);
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < L; i++) {
          const s = Array.from({ length: L }, (_, j) => (j > i ? -Infinity
            : Array.from({ length: D }, (_, d) => q[i * E + h * D + d] * kk[j * E + h * D + d]).reduce((a, b) => a + b) / Math.sqrt(D)));
          const m = Math.max(...s);
          const e = s.map((t) => Math.exp(t - m));
          const z = e.reduce((a, b) => a + b);
          for (let j = 0; j < L; j++) {
            avg[i * L + j] += e[j] / z / H;
            for (let d = 0; d < D; d++) heads[i * E + h * D + d] += (e[j] / z) * v[j * E + h * D + d];
          }
        }
      }
      wantY.push(...mm(heads, tr(Wo, E, E), L, E, E).map((t, j) => t + Bo[j % E]));
      wantW.push(...avg);
    }
    expect(y.shape).toEqual([N, L, E]);
    expect(w!.shape).toEqual([N, L, L]);
    expectClose(f64(y), wantY, 1e-5, 1e-4);
    expectClose(f64(w!), wantW, 1e-6, 1e-5);
    // Without weights it takes scaledDotProductAttention's path: the same output.
    const [y2, w2] = mha(xq, xq, xq, { isCausal: true, needWeights: false });
    expect(w2).toBeNull();
    expectClose(f64(y2), wantY, 1e-5, 1e-4);
    expect(() => new nn.MultiheadAttention(5, 2)).toThrow(/embedDim 5 must be divisible by numHeads 2/);
  });
});

describe('loss modules call the functional losses', () => {
  it('CrossEntropyLoss, NLLLoss, L1Loss, SmoothL1Loss, HuberLoss, BCEWithLogitsLoss, KLDivLoss, CosineEmbeddingLoss, MSELoss', () => {
    k.manualSeed(4);
    const logits = k.randn([3, 5, 2]);
    const target = k.tensor(new Int32Array([0, 4, 2, -100, 1, 3]), { shape: [3, 2] });
    const weight = k.rand([5]).add(0.5);
    const same = (a: Tensor, b: Tensor) => expect(f64(a)).toEqual(f64(b));
    same(new nn.CrossEntropyLoss({ weight, labelSmoothing: 0.1, reduction: 'sum' })(logits, target),
      nn.crossEntropy(logits, target, { weight, labelSmoothing: 0.1, reduction: 'sum' }));
    const logp = logits.logSoftmax(1);
    same(new nn.NLLLoss({ ignoreIndex: -100 })(logp, target), nn.nllLoss(logp, target));
    const a = k.randn([4, 3]), b = k.randn([4, 3]);
    same(new nn.L1Loss({ reduction: 'none' })(a, b), nn.l1Loss(a, b, 'none'));
    same(new nn.SmoothL1Loss({ beta: 0.5 })(a, b), nn.smoothL1Loss(a, b, { beta: 0.5 }));
    same(new nn.HuberLoss({ delta: 0.3 })(a, b), nn.huberLoss(a, b, { delta: 0.3 }));
    same(new nn.MSELoss()(a, b), nn.mseLoss(a, b));
    const y01 = k.rand([4, 3]).gt(0.5).to('float32');
    same(new nn.BCEWithLogitsLoss({ posWeight: k.tensor([1, 2, 3]) })(a, y01), nn.binaryCrossEntropyWithLogits(a, y01, { posWeight: k.tensor([1, 2, 3]) }));
    same(new nn.KLDivLoss({ reduction: 'batchmean' })(a.logSoftmax(1), b.softmax(1)), nn.klDiv(a.logSoftmax(1), b.softmax(1), 'batchmean'));
    const sign = k.tensor(new Int32Array([1, -1, 1, -1]));
    same(new nn.CosineEmbeddingLoss({ margin: 0.2 })(a, b, sign), nn.cosineEmbeddingLoss(a, b, sign, { margin: 0.2 }));
    expect(new nn.CrossEntropyLoss()).toBeInstanceOf(nn.Module);
  });
});

describe('nn.init', () => {
  const stats = (t: Tensor) => {
    const v = f64(t);
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
    return { mean, std, min: Math.min(...v), max: Math.max(...v), n: v.length };
  };

  it('calculateGain as torch', () => {
    expect(nn.init.calculateGain('linear')).toBe(1);
    expect(nn.init.calculateGain('conv2d')).toBe(1);
    expect(nn.init.calculateGain('sigmoid')).toBe(1);
    expect(nn.init.calculateGain('tanh')).toBeCloseTo(5 / 3, 12);
    expect(nn.init.calculateGain('relu')).toBeCloseTo(Math.SQRT2, 12);
    expect(nn.init.calculateGain('leaky_relu')).toBeCloseTo(Math.sqrt(2 / (1 + 0.01 ** 2)), 12);
    expect(nn.init.calculateGain('leaky_relu', 0.2)).toBeCloseTo(Math.sqrt(2 / 1.04), 12);
    expect(nn.init.calculateGain('selu')).toBe(0.75);
    expect(() => nn.init.calculateGain('nope' as never)).toThrow(/unsupported nonlinearity/);
  });

  it('fills in place, without gradient, with the documented distributions', () => {
    k.manualSeed(5);
    const w = k.zeros([200, 300]).requiresGrad_(true);
    // Sample moments of 60,000 draws: the mean within 4 standard errors, the std within 2%.
    const se = (s: number) => 4 * s / Math.sqrt(60000);
    expect(nn.init.uniform_(w, -0.5, 1.5)).toBe(w);
    let s = stats(w);
    expect(s.min).toBeGreaterThanOrEqual(-0.5); expect(s.max).toBeLessThan(1.5);
    expect(Math.abs(s.mean - 0.5)).toBeLessThan(se(2 / Math.sqrt(12)));
    s = stats(nn.init.normal_(w, { mean: 2, std: 3 }));
    expect(Math.abs(s.mean - 2)).toBeLessThan(se(3)); expect(Math.abs(s.std / 3 - 1)).toBeLessThan(0.02);
    // fanIn 300, fanOut 200.
    s = stats(nn.init.xavierUniform_(w, 2));
    const xb = 2 * Math.sqrt(6 / 500);
    expect(s.max).toBeLessThanOrEqual(xb); expect(s.min).toBeGreaterThanOrEqual(-xb);
    expect(Math.abs(s.std / (xb / Math.sqrt(3)) - 1)).toBeLessThan(0.02);
    s = stats(nn.init.xavierNormal_(w));
    expect(Math.abs(s.std / Math.sqrt(2 / 500) - 1)).toBeLessThan(0.02);
    s = stats(nn.init.kaimingUniform_(w, { nonlinearity: 'relu' }));
    const kb = Math.SQRT2 * Math.sqrt(3 / 300);
    expect(s.max).toBeLessThanOrEqual(kb); expect(Math.abs(s.max / kb - 1)).toBeLessThan(0.01);
    s = stats(nn.init.kaimingNormal_(w, { mode: 'fanOut', nonlinearity: 'relu' }));
    expect(Math.abs(s.std / (Math.SQRT2 / Math.sqrt(200)) - 1)).toBeLessThan(0.02);
    s = stats(nn.init.truncNormal_(w, { std: 1, a: -1, b: 0.5 }));
    expect(s.min).toBeGreaterThanOrEqual(-1); expect(s.max).toBeLessThanOrEqual(0.5);
    // The mean of N(0,1) truncated to [-1, 0.5]: (φ(a) − φ(b)) / (Φ(b) − Φ(a)).
    const phi = (x: number) => Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);
    expect(Math.abs(s.mean - (phi(-1) - phi(0.5)) / (0.691462461 - 0.158655254))).toBeLessThan(0.01);
    expect(nn.init.trunc_normal_).toBe(nn.init.truncNormal_);
    expect(stats(nn.init.constant_(w, 0.25))).toMatchObject({ min: 0.25, max: 0.25 });
    expect(stats(nn.init.zeros_(w))).toMatchObject({ min: 0, max: 0 });
    expect(stats(nn.init.ones_(w))).toMatchObject({ min: 1, max: 1 });
    expect(w.grad).toBeNull();
    expect(w.requiresGrad).toBe(true);
    expect(() => nn.init.xavierUniform_(k.zeros([3]))).toThrow(k.KilnError);
    expect(() => nn.init.uniform_(k.zeros([2], { dtype: 'int32' }))).toThrow(/can only fill float32/);
  });
});

describe('random and structural ops', () => {
  it('multinomial with replacement matches the weights; without, rows hold distinct non-zero categories', () => {
    k.manualSeed(6);
    const weights = [1, 0, 3, 6];
    const draws = f64(k.multinomial(k.tensor(weights), 20000, { replacement: true }));
    for (let c = 0; c < 4; c++) {
      const p = weights[c] / 10;
      const freq = draws.filter((d) => d === c).length / 20000;
      expect(Math.abs(freq - p), `category ${c}`).toBeLessThanOrEqual(4 * Math.sqrt((p * (1 - p)) / 20000) + 1e-9);
    }
    const rows = k.multinomial(k.tensor([[1, 2, 0, 4, 1], [5, 0, 0, 1, 1]]), 3);
    expect(rows.dtype).toBe('int32');
    for (const r of rows.toArray() as number[][]) expect(new Set(r).size).toBe(3);
    expect((rows.toArray() as number[][])[1].sort()).toEqual([0, 3, 4]);
    expect(() => k.multinomial(k.tensor([1, 0, 0]), 2)).toThrow(/cannot draw 2 samples without replacement from row 0/);
  });

  it('randperm is a permutation, repeatable under manualSeed; empty has the shape and dtype asked for', () => {
    k.manualSeed(7);
    const p = f64(k.randperm(50));
    expect([...p].sort((a, b) => a - b)).toEqual([...Array(50).keys()]);
    k.manualSeed(7);
    expect(f64(k.randperm(50))).toEqual(p);
    expect(k.randperm(0).shape).toEqual([0]);
    const e = k.empty([2, 3], { dtype: 'int32' });
    expect([e.shape, e.dtype]).toEqual([[2, 3], 'int32']);
    expect(k.emptyLike(k.ones([4], { dtype: 'bool' })).dtype).toBe('bool');
  });

  it('baddbmm, tile and allclose against float64', () => {
    k.manualSeed(8);
    const inp = k.randn([2, 3, 4]), b1 = k.randn([2, 3, 5]), b2 = k.randn([2, 5, 4]);
    const I = f64(inp), A = f64(b1), B = f64(b2);
    const want = [0, 1].flatMap((n) => mm(A.slice(n * 15, n * 15 + 15), B.slice(n * 20, n * 20 + 20), 3, 5, 4).map((v, j) => 0.5 * I[n * 12 + j] + 2 * v));
    expectClose(f64(k.baddbmm(inp, b1, b2, { beta: 0.5, alpha: 2 })), want, 1e-5, 1e-5);
    const t = k.tensor([[1, 2], [3, 4]]);
    expect(k.tile(t, [2]).toArray()).toEqual([[1, 2, 1, 2], [3, 4, 3, 4]]);
    expect(k.tile(t, [2, 1, 1]).shape).toEqual([2, 2, 2]);
    expect(k.allclose(k.tensor([1, 2, Infinity]), k.tensor([1 + 1e-6, 2, Infinity]))).toBe(true);
    expect(k.allclose(k.tensor([1, 2]), k.tensor([1, Infinity]))).toBe(false);
    expect(k.allclose(k.tensor([NaN]), k.tensor([NaN]))).toBe(false);
    expect(k.allclose(k.tensor([NaN]), k.tensor([NaN]), { equalNan: true })).toBe(true);
  });
});
