// kiln.data: TensorDataset, DataLoader (batching, dropLast, shuffling with kiln's generator, collate),
// Subset and randomSplit, on every backend, and a compiled training loop fed by a DataLoader.
import { describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import { forEachBackend } from '../eager/backends.js';

const { TensorDataset, DataLoader, randomSplit, Subset } = k.data;
const read = async (t: Tensor) => Array.from(await t.dataAsync());

forEachBackend((backend) => {
  describe('TensorDataset and DataLoader', () => {
    const X = () => k.arange(0, 20, 1, { backend, dtype: 'float32' }).reshape([10, 2]);
    const Y = () => k.arange(0, 10, 1, { backend });

    it('samples are slices along dim 0; batches follow the order, the last one may be short', async () => {
      const ds = new TensorDataset(X(), Y());
      expect(ds.length).toBe(10);
      const [x3, y3] = ds.get(3);
      expect([x3.shape, await read(x3), await read(y3)]).toEqual([[2], [6, 7], [3]]);
      const loader = new DataLoader(ds, { batchSize: 4 });
      expect(loader.length).toBe(3);
      const batches = [];
      for (const [x, y] of loader) batches.push([x.shape, y.dtype, x.backend, await read(y)]);
      expect(batches).toEqual([
        [[4, 2], 'int32', backend, [0, 1, 2, 3]], [[4, 2], 'int32', backend, [4, 5, 6, 7]], [[2, 2], 'int32', backend, [8, 9]],
      ]);
      const dropped = new DataLoader(ds, { batchSize: 4, dropLast: true });
      expect(dropped.length).toBe(2);
      expect([...dropped].length).toBe(2);
    });

    it('shuffle: every sample once per epoch, a new order each epoch, repeatable with manualSeed', async () => {
      const loader = new DataLoader(new TensorDataset(X(), Y()), { batchSize: 3, shuffle: true });
      const epoch = async () => { const ys: number[] = []; for (const [x, y] of loader) { const yv = await read(y); ys.push(...yv); expect(await read(x)).toEqual(yv.flatMap((v) => [2 * v, 2 * v + 1])); } return ys; };
      k.manualSeed(11);
      const a = await epoch(), b = await epoch();
      expect([...a].sort((p, q) => p - q)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(b).not.toEqual(a);
      k.manualSeed(11);
      expect(await epoch()).toEqual(a);
      expect(await epoch()).toEqual(b);
      k.manualSeed(12);
      expect(await epoch()).not.toEqual(a);
    });
  });
});

describe('collate and custom datasets', () => {
  it('objects, tuples, numbers and booleans collate field by field (integers as int32)', () => {
    const samples = Array.from({ length: 5 }, (_, i) => ({ x: k.tensor([i, i + 0.5]), label: i % 3, w: i / 2, ok: i % 2 === 0, name: `s${i}`, pair: [k.tensor(i), i] as [Tensor, number] }));
    const loader = new DataLoader(samples, { batchSize: 2 });
    const [first] = [...loader];
    expect(first.x.shape).toEqual([2, 2]);
    expect(first.x.toArray()).toEqual([[0, 0.5], [1, 1.5]]);
    expect([first.label.dtype, first.label.toArray()]).toEqual(['int32', [0, 1]]);
    expect([first.w.dtype, first.w.toArray()]).toEqual(['float32', [0, 0.5]]);
    expect(first.ok.toArray()).toEqual([true, false]);
    expect(first.name).toEqual(['s0', 's1']);
    expect(first.pair[0].toArray()).toEqual([0, 1]);
    const custom = { length: 4, get: (i: number) => [k.full([3], i), i * 10] as const };
    const batches = [...new DataLoader(custom, { batchSize: 4, collateFn: (s) => s.map(([, y]) => y) })];
    expect(batches).toEqual([[0, 10, 20, 30]]);
  });

  it('randomSplit: disjoint subsets covering the dataset; fractions; repeatable', () => {
    const ds = new TensorDataset(k.arange(0, 10, 1));
    k.manualSeed(4);
    const [a, b] = randomSplit(ds, [7, 3]);
    expect([a.length, b.length]).toEqual([7, 3]);
    const all = [...a.indices, ...b.indices].sort((p, q) => p - q);
    expect(all).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(b.get(0)[0].item()).toBe(b.indices[0]);
    k.manualSeed(4);
    expect(randomSplit(ds, [7, 3])[0].indices).toEqual(a.indices);
    const parts = randomSplit(ds, [0.5, 0.3, 0.2]);
    expect(parts.map((p) => p.length)).toEqual([5, 3, 2]);
    expect(randomSplit(ds, [0.34, 0.33, 0.33]).map((p) => p.length)).toEqual([4, 3, 3]);
    // A Subset of a TensorDataset still batches by gathers.
    const [x] = [...new DataLoader(b, { batchSize: 3 })][0] as Tensor[];
    expect(Array.from(x.data())).toEqual(b.indices);
    expect(new Subset([10, 20, 30], [2, 0]).get(0)).toBe(30);
  });

  it.each([
    [() => new TensorDataset(), 'TensorDataset: expected at least one tensor'],
    [() => new TensorDataset(k.ones([3]), k.ones([4])), 'TensorDataset: size mismatch between tensors: tensor 1 has 4 samples [4], tensor 0 has 3 [3]'],
    [() => new TensorDataset(k.tensor(1)), 'TensorDataset: tensor 0 is 0-d'],
    [() => new TensorDataset(k.ones([3])).get(3), 'TensorDataset: index 3 is out of range for 3 samples'],
    [() => new DataLoader([1, 2], { batchSize: 0 }), 'DataLoader: batchSize must be a positive integer, got 0'],
    [() => new DataLoader(42 as never), 'DataLoader: expected a dataset'],
    [() => [...new DataLoader([k.ones([2]), k.ones([3])], { batchSize: 2 })], 'DataLoader: cannot collate sample 1 [3]:float32'],
    [() => randomSplit([1, 2, 3], [2, 2]), 'randomSplit: lengths [2, 2] sum to 4, the dataset has 3 samples'],
    [() => randomSplit([1, 2, 3], [1.5, 1.5]), 'randomSplit: lengths must be non-negative integers or fractions summing to 1'],
  ])('%#: %s', (f, msg) => {
    expect(f).toThrow(k.KilnError);
    expect(f).toThrow(msg);
  });
});

describe('a DataLoader feeding a compiled training step', () => {
  it('dropLast keeps batch shapes fixed: one trace, the losses of the eager loop', () => {
    const train = (compiled: boolean) => {
      k.manualSeed(9);
      const X = k.randn([50, 3]), Y = X.matmul(k.tensor([[1], [-2], [0.5]])).add(0.1);
      const W = k.zeros([3, 1], { requiresGrad: true }), b = k.zeros([1], { requiresGrad: true });
      const opt = new k.optim.SGD([W, b], { lr: 0.1, momentum: 0.5 });
      const body = (x: Tensor, y: Tensor) => { opt.zeroGrad(); const l = k.nn.mseLoss(x.matmul(W).add(b), y); l.backward(); opt.step(); return l; };
      const step = compiled ? k.compile(body) : body;
      const loader = new DataLoader(new TensorDataset(X, Y), { batchSize: 8, shuffle: true, dropLast: true });
      const losses: number[] = [];
      for (let epoch = 0; epoch < 3; epoch++) for (const [x, y] of loader) losses.push(Number(step(x, y).item()));
      return { losses, traces: compiled ? (step as k.Compiled<typeof body>).cacheInfo().traces : 0 };
    };
    const e = train(false), c = train(true);
    expect(e.losses.length).toBe(18);
    c.losses.forEach((l, i) => expect(Math.abs(l - e.losses[i])).toBeLessThanOrEqual(1e-5 * Math.max(1, e.losses[i])));
    expect(c.traces).toBe(1);
    expect(e.losses[17]).toBeLessThan(e.losses[0] / 10);
  });
});
