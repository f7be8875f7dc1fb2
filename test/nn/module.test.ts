// Module conveniences: apply(fn), registerBuffer (in stateDict, not in parameters), to(backend).
import { describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import { BACKENDS } from '../eager/backends.js';

class Norm extends k.nn.Module {
  weight = k.ones([3], { requiresGrad: true });
  declare runningMean: Tensor;
  declare scratch: Tensor;
  constructor() {
    super();
    this.registerBuffer('runningMean', k.zeros([3]));
    this.registerBuffer('scratch', k.zeros([2]), false);
  }
  forward(x: Tensor): Tensor { return x.sub(this.runningMean).mul(this.weight); }
}

class Net extends k.nn.Module {
  norm = new Norm();
  lin = new k.nn.Linear(3, 2);
  forward(x: Tensor): Tensor { return this.lin.forward(this.norm.forward(x)); }
}

describe('Module conveniences', () => {
  it('apply visits children first, then the module itself, and returns it', () => {
    const net = new Net();
    const seen: string[] = [];
    expect(net.apply((m) => { seen.push(m.constructor.name); })).toBe(net);
    expect(seen).toEqual(['Norm', 'Linear', 'Net']);
    net.apply((m) => { if (m instanceof k.nn.Linear) k.noGrad(() => m.weight.fill_(0.5)); });
    expect(Array.from(net.lin.weight.data())).toEqual(new Array(6).fill(0.5));
  });

  it('registerBuffer: in stateDict (unless not persistent), never in parameters; loads strictly', () => {
    const net = new Net();
    expect(net.parameters().length).toBe(3);
    expect(net.namedBuffers().map(([n]) => n)).toEqual(['norm.runningMean', 'norm.scratch']);
    const bn = new k.nn.BatchNorm1d(3); // running statistics are plain tensor fields: buffers too
    expect(bn.namedBuffers().map(([n]) => n)).toEqual(['runningMean', 'runningVar', 'numBatchesTracked']);
    expect(Object.keys(net.stateDict()).sort()).toEqual(['lin.bias', 'lin.weight', 'norm.runningMean', 'norm.weight']);
    const other = new Net();
    k.noGrad(() => other.norm.runningMean.fill_(2));
    net.loadStateDict(other.stateDict());
    expect(Array.from(net.norm.runningMean.data())).toEqual([2, 2, 2]);
    net.norm.registerBuffer('runningMean', k.full([3], 7)); // re-registering replaces it
    expect(Array.from(net.norm.runningMean.data())).toEqual([7, 7, 7]);
    net.norm.registerBuffer('gone', null);
    expect(net.namedBuffers().map(([n]) => n)).not.toContain('norm.gone');
  });

  it.each([
    [() => new Net().registerBuffer('a.b', k.ones([1])), 'registerBuffer: buffer name must be a non-empty string without "."'],
    [() => new Net().registerBuffer('lin', k.ones([1])), 'registerBuffer: Net already has an attribute lin'],
    [() => new Net().registerBuffer('forward', k.ones([1])), 'registerBuffer: Net already has an attribute forward'],
    [() => new Net().registerBuffer('w', k.ones([1], { requiresGrad: true })), 'registerBuffer: buffer w requires grad'],
    [() => new Net().registerBuffer('w', 3 as never), 'registerBuffer: buffer w must be a Tensor or null'],
    [() => new Net().to('gpu' as never), "Module.to: expected a backend ('cpu', 'wasm' or 'webgpu'), got \"gpu\""],
  ])('%#: %s', (f, msg) => {
    expect(f).toThrow(k.KilnError);
    expect(f).toThrow(msg);
  });

  it('to(backend) moves parameters (still trainable), their grads and buffers; results are unchanged', async () => {
    const avail = BACKENDS.filter((b) => b.available).map((b) => b.name);
    for (const target of avail) {
      k.manualSeed(1);
      const net = new Net().to('cpu');
      net.forward(k.ones([1, 3], { backend: 'cpu' })).sum().backward();
      const x = k.randn([4, 3], { backend: 'cpu' });
      const want = Array.from(net.forward(x).data());
      const moved = target === 'webgpu' ? await net.toAsync(target) : net.to(target);
      expect(moved).toBe(net);
      for (const [name, p] of net.namedParameters()) {
        expect([name, p.backend, p.requiresGrad, p.isLeaf, p.grad?.backend]).toEqual([name, target, true, true, target]);
      }
      expect(net.norm.runningMean.backend).toBe(target);
      expect(net.norm.scratch.backend).toBe(target);
      const got = Array.from(await net.forward(x.to(target)).dataAsync());
      got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
      const back = target === 'webgpu' ? await net.toAsync('cpu') : net.to('cpu');
      expect(back.lin.weight.backend).toBe('cpu');
    }
  });

  const wasm = BACKENDS.find((b) => b.name === 'wasm')!;
  it.skipIf(!wasm.available)('to(backend) keeps a tied weight one tensor (and a module held twice is moved once) [wasm]', () => {
    const target = 'wasm';
    class Tied extends k.nn.Module {
      emb = new k.nn.Linear(4, 4);
      head = new k.nn.Linear(4, 4);
      again = this.head;
      constructor() { super(); this.head.weight = this.emb.weight; }
      forward(x: Tensor) { return this.head.forward(this.emb.forward(x)); }
    }
    const net = new Tied().to('cpu');
    expect(net.head.weight).toBe(net.emb.weight);
    const moved = net.to(target);
    expect(moved.head.weight).toBe(moved.emb.weight);
    expect(moved.again).toBe(moved.head);
    expect(moved.emb.weight.backend).toBe(target);
    expect(new Set(moved.parameters()).size).toBe(3);
    expect(moved.parameters().every((p) => p.backend === target)).toBe(true);
  });

  it.skipIf(!wasm.available)('to(backend) moves tensors held in arrays, plain objects and Maps, where parameters() finds them [wasm]', () => {
    class Held extends k.nn.Module {
      list = [[k.ones([2], { requiresGrad: true })]];
      table = { scale: k.ones([2], { requiresGrad: true }), mask: k.zeros([2]) };
      byName = new Map([['shift', k.ones([2], { requiresGrad: true })]]);
      forward(x: Tensor) { return x.mul(this.list[0][0]).mul(this.table.scale).add(this.byName.get('shift')!).add(this.table.mask); }
    }
    const net = new Held().to('cpu');
    const want = Array.from(net.forward(k.ones([2], { backend: 'cpu' })).data());
    net.to('wasm');
    expect(net.namedTensors().map(([n, t]) => [n, t.backend])).toEqual(
      ['list.0.0', 'table.scale', 'table.mask', 'byName.shift'].map((n) => [n, 'wasm']));
    expect(net.parameters().every((p) => p.requiresGrad && p.isLeaf)).toBe(true);
    expect(Array.from(net.forward(k.ones([2], { backend: 'wasm' })).data())).toEqual(want);
  });
});
