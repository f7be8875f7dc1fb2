// Convolutional networks beyond the op-info rows: the window view's layout (a view, no copy), the nn
// modules (PyTorch's initialisation, buffers in stateDict and not in parameters, train/eval, running
// statistics, compiled training matching eager), and the errors bad shapes get.
import { describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import { KilnError, ShapeError, nn, type Tensor } from '../../src/index.js';
import { OPINFO } from './opinfo.js';

const vals = (t: Tensor) => Array.from(t.data());
const close = (a: readonly number[], b: readonly number[], tol = 1e-5) => {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => expect(Math.abs(v - b[i]), `element ${i}: ${v} vs ${b[i]}`).toBeLessThanOrEqual(tol * (1 + Math.abs(b[i]))));
};

describe('op-info coverage', () => {
  it('has a row for every convolutional op of the issue', () => {
    const names = new Set(OPINFO.map((r) => r.name));
    const listed = `Tensor.unfold unfold fold conv1d conv2d convTranspose2d maxPool1d maxPool2d avgPool1d avgPool2d adaptiveAvgPool2d
      adaptiveMaxPool2d batchNorm groupNorm instanceNorm pad(modes) interpolate pixelShuffle leakyRelu elu selu prelu hardswish
      hardsigmoid relu6 mish softsign glu`.split(/\s+/);
    expect(listed.filter((n) => !names.has(n))).toEqual([]);
  });
});

describe('the window view', () => {
  it('Tensor.unfold is a view over the same storage (strides step·s and s)', () => {
    const x = k.arange(12, undefined, 1, { dtype: 'float32', backend: 'cpu' }).reshape([3, 4]);
    const u = x.unfold(1, 2, 1);
    expect(u.shape).toEqual([3, 3, 2]);
    expect(u._view.strides).toEqual([4, 1, 1]);
    expect(u._sharesStorage(x)).toBe(true);
    expect(u.toArray()).toEqual([[[0, 1], [1, 2], [2, 3]], [[4, 5], [5, 6], [6, 7]], [[8, 9], [9, 10], [10, 11]]]);
  });

  it('window dims of a 2-D window have strides (d·W, d) and positions (s·W, s)', () => {
    const x = k.zeros([1, 1, 9, 10], { backend: 'cpu' });
    const w = k.OPS.unfold;
    const v = w.view(x._view, { dims: [2, 3], sizes: [3, 3], steps: [2, 2], dilations: [2, 2] })!;
    expect(v.shape).toEqual([1, 1, 3, 3, 3, 3]);
    expect(v.strides).toEqual([90, 90, 20, 2, 20, 2]);
  });

  it('a masked (padded) spatial dim cannot be windowed as one view; eager copies the padding first', () => {
    const x = k.ones([1, 1, 3, 3], { backend: 'cpu' });
    const padded = x.pad([1, 1, 1, 1]);
    expect(k.OPS.unfold.view({ ...x._view, shape: [1, 1, 5, 5], mask: [[0, 1], [0, 1], [1, 4], [1, 4]] }, { dims: [2, 3], sizes: [3, 3], steps: [1, 1], dilations: [1, 1] })).toBeNull();
    expect(padded.unfold(2, 3, 1).unfold(3, 3, 1).sum([4, 5]).toArray()).toEqual([[[[4, 6, 4], [6, 9, 6], [4, 6, 4]]]]);
  });

  it('rejects a window that does not fit', () => {
    expect(() => k.arange(4, undefined, 1, { backend: 'cpu' }).unfold(0, 5, 1)).toThrow('unfold: a window of extent 5 (size 5, dilation 1) does not fit dim 0 of size 4 in [4]');
  });
});

describe('errors name the op and the shapes', () => {
  const x = k.zeros([2, 4, 5, 5], { backend: 'cpu' });
  it('conv2d wants [N, C, H, W] and shows what it got', () => {
    expect(() => k.conv2d(k.zeros([4, 5, 5]), k.zeros([2, 4, 3, 3]))).toThrow(ShapeError);
    expect(() => k.conv2d(k.zeros([4, 5, 5]), k.zeros([2, 4, 3, 3]))).toThrow('conv2d: expected a 4-D input [N, C, H, W], got [4,5,5]');
    expect(() => k.conv1d(k.zeros([2, 3, 4, 5]), k.zeros([2, 3, 3]))).toThrow('conv1d: expected a 3-D input [N, C, L], got [2,3,4,5]');
    expect(() => k.conv2d(x, k.zeros([2, 4, 3]))).toThrow('conv2d: expected a 4-D weight [outChannels, inChannels/groups, kH, kW], got [2,4,3]');
  });
  it('channels not divisible by groups, and mismatched channels', () => {
    expect(() => k.conv2d(x, k.zeros([3, 2, 3, 3]), null, { groups: 3 })).toThrow('conv2d: input channels 4 are not divisible by groups 3 (input [2,4,5,5])');
    expect(() => k.conv2d(x, k.zeros([3, 2, 3, 3]), null, { groups: 2 })).toThrow('conv2d: output channels 3 are not divisible by groups 2 (weight [3,2,3,3])');
    expect(() => k.conv2d(x, k.zeros([2, 3, 3, 3]))).toThrow('conv2d: weight [2,3,3,3] expects 3 input channels (3 per group × 1 groups), but the input [2,4,5,5] has 4');
    expect(() => k.conv2d(x, k.zeros([2, 4, 3, 3]), k.zeros([3]))).toThrow('conv2d: expected a bias of shape [2] (one per output channel), got [3]');
    expect(() => new nn.Conv2d(4, 6, 3, { groups: 4 })).toThrow('Conv2d: outChannels 6 are not divisible by groups 4');
  });
  it('a kernel larger than the padded input', () => {
    expect(() => k.conv2d(k.zeros([1, 1, 2, 2]), k.zeros([1, 1, 5, 5]), null, { padding: 1 })).toThrow('conv2d: kernel 5×5 is larger than the padded input 4×4 (input [1,1,2,2], padding 1×1)');
    expect(() => k.conv2d(k.zeros([1, 1, 4, 4]), k.zeros([1, 1, 3, 3]), null, { dilation: 2 })).toThrow('conv2d: kernel 3×3, dilated extent 5×5 is larger than the padded input 4×4');
    expect(() => k.maxPool2d(k.zeros([1, 1, 2, 2]), 3)).toThrow(ShapeError);
  });
  it('bad options', () => {
    expect(() => k.conv2d(x, k.zeros([2, 4, 3, 3]), null, { padding: 'same', stride: 2 })).toThrow("conv2d: padding 'same' needs stride 1, got stride 2×2");
    expect(() => k.conv2d(x, k.zeros([2, 4, 3, 3]), null, { stride: 0 })).toThrow('conv2d: stride must be a positive integer or 2 of them, got 0');
    expect(() => k.maxPool2d(x, 2, { padding: 2 })).toThrow('maxPool2d: padding 2×2 must be at most half the kernel size 2×2');
    expect(() => k.conv2d(k.zeros([1, 4, 5, 5], { dtype: 'int32' }), k.zeros([2, 4, 3, 3]))).toThrow(k.DTypeError);
    expect(() => k.convTranspose2d(x, k.zeros([4, 2, 3, 3]), null, { stride: 2, outputPadding: 2 })).toThrow('convTranspose2d: outputPadding 2×2 must be smaller than the stride 2×2 or the dilation 1×1');
    expect(() => k.batchNorm(k.zeros([1, 3]), null, null, { training: true })).toThrow('batchNorm: expected more than 1 value per channel when training, got input [1,3]');
    expect(() => k.groupNorm(x, 3)).toThrow('groupNorm: 4 channels (input [2,4,5,5]) are not divisible into 3 groups');
    expect(() => k.pad(k.zeros([2, 3]), [3, 3], 'reflect')).toThrow('pad: reflect padding [3, 3] of dim 1 of [2,3] must be less than the dim size 3');
    expect(() => k.pixelShuffle(k.zeros([1, 3, 2, 2]), 2)).toThrow(ShapeError);
    expect(() => k.interpolate(k.zeros([1, 1, 2]), { size: 4, mode: 'bilinear' })).toThrow("interpolate: mode 'bilinear' expects a 4-D input [N, C, ...spatial], got [1,1,2]");
    expect(() => k.interpolate(k.zeros([1, 1, 2, 2]), { mode: 'nearest' })).toThrow(KilnError);
    expect(() => k.glu(k.zeros([3]))).toThrow('glu: dim -1 of [3] must have an even size to split in halves');
    expect(() => new nn.BatchNorm2d(3).forward(k.zeros([2, 3, 4]))).toThrow('BatchNorm2d: expected a 4-D [N, C, H, W] input, got [2,3,4]');
  });
});

describe('nn modules', () => {
  it('Conv2d: PyTorch default init U(-1/√fanIn, 1/√fanIn) for weight and bias', () => {
    k.manualSeed(3);
    const conv = new nn.Conv2d(6, 32, 3, { groups: 2 });
    expect(conv.weight.shape).toEqual([32, 3, 3, 3]);
    const bound = 1 / Math.sqrt(3 * 9);
    const w = vals(conv.weight);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    // A uniform over [-b, b] has variance b²/3: the sample's is within a few percent.
    const variance = w.reduce((s, v) => s + v * v, 0) / w.length;
    expect(variance / (bound * bound / 3)).toBeGreaterThan(0.85);
    expect(variance / (bound * bound / 3)).toBeLessThan(1.15);
    expect(Math.max(...vals(conv.bias!).map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(new nn.Conv2d(2, 3, [1, 2], { bias: false }).bias).toBeNull();
    expect(conv.parameters()).toHaveLength(2);
  });

  it('Conv2d forward equals conv2d; paddingMode pads from the input', () => {
    k.manualSeed(4);
    const x = k.randn([2, 2, 5, 6]);
    const conv = new nn.Conv2d(2, 3, 3, { padding: 1, paddingMode: 'reflect' });
    const want = k.conv2d(k.pad(x, [1, 1, 1, 1], 'reflect'), conv.weight, conv.bias);
    close(vals(conv.forward(x)), vals(want));
    const same = new nn.Conv2d(2, 3, [4, 3], { padding: 'same', paddingMode: 'replicate' });
    expect(same.forward(x).shape).toEqual([2, 3, 5, 6]);
    expect(new nn.Conv1d(2, 4, 3, { stride: 2 }).forward(k.randn([1, 2, 9])).shape).toEqual([1, 4, 4]);
  });

  it('ConvTranspose2d: weight [in, out/groups, kH, kW]; outputSize picks the output padding', () => {
    k.manualSeed(5);
    const up = new nn.ConvTranspose2d(4, 6, 3, { stride: 2, padding: 1, groups: 2 });
    expect(up.weight.shape).toEqual([4, 3, 3, 3]);
    const x = k.randn([1, 4, 5, 5]);
    expect(up.forward(x).shape).toEqual([1, 6, 9, 9]);
    expect(up.forward(x, [10, 10]).shape).toEqual([1, 6, 10, 10]);
    expect(() => up.forward(x, [12, 12])).toThrow(ShapeError);
  });

  it('BatchNorm2d: running statistics are buffers (stateDict, not parameters) updated in training only', () => {
    k.manualSeed(6);
    const bn = new nn.BatchNorm2d(3);
    expect(bn.parameters()).toEqual([bn.weight, bn.bias]);
    expect(Object.keys(bn.stateDict()).sort()).toEqual(['bias', 'numBatchesTracked', 'runningMean', 'runningVar', 'weight']);
    const x = k.randn([4, 3, 2, 2]).mul(2).add(1);
    bn.forward(x);
    const mean = vals(x.mean([0, 2, 3]));
    const unbiased = vals(x.var([0, 2, 3]));
    close(vals(bn.runningMean!), mean.map((m) => 0.1 * m));
    close(vals(bn.runningVar!), unbiased.map((v) => 0.9 + 0.1 * v));
    expect(bn.numBatchesTracked!.item()).toBe(1);
    // Eval: running statistics, no updates.
    bn.eval();
    const before = vals(bn.runningMean!);
    const y = bn.forward(x);
    expect(vals(bn.runningMean!)).toEqual(before);
    const rm = vals(bn.runningMean!), rv = vals(bn.runningVar!);
    const xs = vals(x);
    close(vals(y), xs.map((v, i) => { const c = Math.floor(i / 4) % 3; return (v - rm[c]) / Math.sqrt(rv[c] + 1e-5); }));
  });

  it('BatchNorm1d with momentum null keeps a cumulative average; trackRunningStats false always uses the batch', () => {
    k.manualSeed(7);
    const bn = new nn.BatchNorm1d(2, { momentum: null, affine: false });
    const a = k.randn([5, 2]), b = k.randn([5, 2]);
    bn.forward(a);
    bn.forward(b);
    close(vals(bn.runningMean!), vals(k.stack([a.mean(0), b.mean(0)]).mean(0)));
    expect(bn.parameters()).toEqual([]);
    const free = new nn.BatchNorm1d(2, { trackRunningStats: false }).eval();
    expect(free.runningMean).toBeNull();
    const y = free.forward(a);
    close(vals(y.mean(0)), [0, 0]);
    expect(Object.keys(free.stateDict()).sort()).toEqual(['bias', 'weight']);
  });

  it('BatchNorm2d compiled: a training step moves the running statistics exactly as eager does', () => {
    const run = (compiled: boolean) => {
      k.manualSeed(8);
      const conv = new nn.Conv2d(2, 3, 3, { padding: 1 });
      const bn = new nn.BatchNorm2d(3);
      const opt = new k.optim.SGD([...conv.parameters(), ...bn.parameters()], { lr: 0.1 });
      const step = (x: Tensor) => {
        opt.zeroGrad();
        const loss = bn.forward(conv.forward(x)).relu().mean();
        loss.backward();
        opt.step();
        return loss;
      };
      const f = compiled ? k.compile(step) : step;
      const losses = [0, 1, 2].map((i) => { k.manualSeed(100 + i); return f(k.randn([2, 2, 4, 4])).item() as number; });
      return { losses, mean: vals(bn.runningMean!), v: vals(bn.runningVar!), w: vals(conv.weight), count: bn.numBatchesTracked!.item() };
    };
    const e = run(false), c = run(true);
    close(c.losses, e.losses);
    close(c.mean, e.mean);
    close(c.v, e.v);
    close(c.w, e.w);
    expect(c.count).toBe(3);
  });

  it('GroupNorm, pooling layers, Flatten, Unflatten, LeakyReLU', () => {
    k.manualSeed(9);
    const x = k.randn([2, 4, 6, 6]);
    expect(new nn.GroupNorm(2, 4).parameters()).toHaveLength(2);
    close(vals(new nn.GroupNorm(2, 4).forward(x)), vals(k.groupNorm(x, 2)));
    expect((new nn.MaxPool2d(2).forward(x) as Tensor).shape).toEqual([2, 4, 3, 3]);
    const [v, idx] = new nn.MaxPool2d(3, { stride: 2, returnIndices: true }).forward(x) as [Tensor, Tensor];
    expect(v.shape).toEqual([2, 4, 2, 2]);
    expect(idx.dtype).toBe('int32');
    expect(new nn.AvgPool2d(2, { stride: 1 }).forward(x).shape).toEqual([2, 4, 5, 5]);
    expect(new nn.AdaptiveAvgPool2d([1, 1]).forward(x).shape).toEqual([2, 4, 1, 1]);
    expect((new nn.AdaptiveMaxPool2d(4).forward(x) as Tensor).shape).toEqual([2, 4, 4, 4]);
    expect(new nn.Flatten().forward(x).shape).toEqual([2, 144]);
    expect(new nn.Flatten(0, 1).forward(x).shape).toEqual([8, 6, 6]);
    expect(new nn.Unflatten(1, [2, -1]).forward(x).shape).toEqual([2, 2, 2, 6, 6]);
    close(vals(new nn.LeakyReLU(0.2).forward(k.tensor([-1, 2]))), [-0.2, 2]);
  });

  it('Dropout2d zeroes whole channels while training and is the identity in eval', () => {
    k.manualSeed(10);
    const drop = new nn.Dropout2d(0.5);
    const x = k.ones([4, 8, 3, 3]);
    const y = drop.forward(x);
    const per = vals(y.sum([2, 3]));
    expect(per.every((s) => s === 0 || s === 18)).toBe(true); // a channel is all dropped or all kept (×2)
    expect(per.filter((s) => s === 0).length).toBeGreaterThan(4);
    expect(per.filter((s) => s === 18).length).toBeGreaterThan(4);
    drop.eval();
    expect(drop.forward(x)).toBe(x);
  });
});

describe('composition', () => {
  it('a 1×1 convolution reads its input in place (no im2col copy)', () => {
    const x = k.randn([2, 4, 3, 5], { backend: 'cpu' });
    const w = k.randn([3, 4, 1, 1], { backend: 'cpu' });
    const y = k.conv2d(x, w);
    close(vals(y), vals(w.reshape([3, 4]).matmul(x.reshape([2, 4, 15])).reshape([2, 3, 3, 5])));
    const win = k.OPS.unfold.view(x._view, { dims: [2, 3], sizes: [1, 1], steps: [1, 1], dilations: [1, 1] })!;
    expect(k.OPS.reshape.view(k.OPS.permute.view(win, { order: [0, 1, 4, 5, 2, 3] })!, { shape: [2, 4, 15] })).not.toBeNull();
  });

  it('an eager convolution holds nothing once its result is disposed (no wait for a collection)', () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      const x = k.randn([2, 4, 9, 9], { backend }), w = k.randn([6, 4, 3, 3], { backend }), b = k.randn([6], { backend });
      const live = k.memory().numBytes;
      for (let i = 0; i < 3; i++) k.conv2d(x, w, b, { padding: 1 }).dispose();
      expect(k.memory().numBytes, backend).toBe(live);
    }
  });

  it('fold of unfold multiplies each element by the number of windows covering it', () => {
    const x = k.ones([1, 1, 4, 4], { backend: 'cpu' });
    const cols = k.unfold(x, 3, { padding: 1 });
    expect(k.fold(cols, [4, 4], 3, { padding: 1 }).toArray()).toEqual([[[[4, 6, 6, 4], [6, 9, 9, 6], [6, 9, 9, 6], [4, 6, 6, 4]]]]);
  });

  it('maxPool sends the whole gradient to the first of tied maxima, as PyTorch', () => {
    const x = k.tensor([[[[1, 1], [0, 1]]]], { backend: 'cpu', requiresGrad: true });
    k.maxPool2d(x, 2).sum().backward();
    expect(x.grad!.toArray()).toEqual([[[[1, 0], [0, 0]]]]);
  });
});
