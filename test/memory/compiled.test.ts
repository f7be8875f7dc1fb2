// Compiled functions and memory: a failed call frees what it allocated; a compiled function nobody
// references is collected with its programs and does not pin the arguments of its last call; programs
// per concrete shape are bounded (least recently used evicted); releaseMemory() drops plans and kernels.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import { compiledRegistry } from '../../compiler/compile.js';
import { steps } from './scale.js';

let saved: Required<k.MemoryOptions>;
beforeAll(async () => { await k.ready(); saved = k.configureMemory(); });
afterEach(() => { k.configureMemory(saved); });

const live = () => k.memory().numBytes;

describe('compiled functions and memory', () => {
  it('a compiled call that fails part-way frees the buffers it had allocated', () => {
    const f = k.compile((x: k.Tensor) => x.matmul(x).exp().sum(0));
    const x = k.randn([512, 512]).mul(0.01);
    f(x); // traced and run once: plans and kernels exist now
    const wasm = k.getBackend('wasm');
    const before = wasm.allocatedBytes(); // buffers, tensors' and compiled temporaries alike
    // Room for the matmul's output (1 MiB) but not for the next kernel's.
    k.configureMemory({ collect: false, limitBytes: before + k.getBackend('cpu').allocatedBytes() + (1 << 20) + 512, warnBytes: Infinity });
    expect(() => f(x)).toThrow(/compiled anonymous: .* past the limit/);
    expect(wasm.allocatedBytes()).toBe(before);
    k.configureMemory(saved);
    expect(f(x).shape).toEqual([512]); // and the function still works
  });

  it.skipIf(!k.memory().reclamation.synchronous)('compiled functions nobody references are collected with what they hold', () => {
    const made = () => {
      for (let i = 0; i < 40; i++) {
        const f = k.compile((x: k.Tensor) => x.mul(2).add(1).sum());
        f(k.randn([256 * 1024])); // 1 MiB argument per function
      }
    };
    const before = live();
    const countBefore = [...compiledRegistry].length;
    made();
    k.releaseMemory(); // collects, then drops plans
    expect(live() - before).toBeLessThan(1 << 20);
    expect([...compiledRegistry].length - countBefore).toBeLessThan(40);
  });

  it('programs per concrete shape are kept least-recently-used, a bounded number', () => {
    const f = k.compile((x: k.Tensor) => x.mul(3).relu().sum(-1), { dynamic: 'auto' });
    for (let n = 1; n <= 30; n++) f(k.ones([n, 8]));
    const entry = f._state.entries[0];
    expect(f.cacheInfo().traces).toBe(1);
    expect(entry.programs.size).toBeLessThanOrEqual(8);
    expect(f(k.ones([5, 8])).toArray()).toEqual(new Array(5).fill(24)); // an evicted shape is re-planned
  });

  const mlpSizes = steps(40, 1000);
  it(`compiled MLP 32-64-64-4 forward over ${mlpSizes} batch sizes: no kernel module built after the second size, eager's values, bounded memory`, { timeout: 3_600_000 }, () => {
    k.manualSeed(3);
    const model = new k.nn.Sequential(new k.nn.Linear(32, 64), new k.nn.ReLU(), new k.nn.Linear(64, 64), new k.nn.ReLU(), new k.nn.Linear(64, 4));
    const f = k.compile((x: k.Tensor) => k.noGrad(() => model.forward(x)), { dynamic: 'auto' });
    const wasm = k.getBackend('wasm');
    k.releaseMemory();
    const live0 = wasm.allocatedBytes();
    const builtPerSize: number[] = [];
    let peakHeap = 0;
    for (let b = 1; b <= mlpSizes; b++) {
      const x = k.randn([b, 32]);
      const c0 = wasm.stats().compiled;
      const y = f(x);
      builtPerSize.push(wasm.stats().compiled - c0);
      const got = y.data();
      const want = k.noGrad(() => model.forward(x)).data();
      expect(got.length).toBe(b * 4);
      expect(got.every((v, i) => Object.is(v, want[i])), `batch ${b}`).toBe(true);
      peakHeap = Math.max(peakHeap, k.memory().backends.wasm!.heapBytes);
    }
    const first2 = builtPerSize[0] + builtPerSize[1];
    const later = builtPerSize.slice(2).reduce((a, x) => a + x, 0);
    const m = k.memory().backends.wasm!;
    console.log(`[memory] MLP 32-64-64-4 over ${mlpSizes} batch sizes: ${first2 + later} kernel modules built by the compiled calls ` +
      `(${first2} for the first two sizes), ${m.kernels} modules cached (eager's included), heap ${(m.heapBytes / 2 ** 20).toFixed(1)} MiB ` +
      `(peak ${(peakHeap / 2 ** 20).toFixed(1)} MiB), ${((wasm.allocatedBytes() - live0) / 2 ** 20).toFixed(2)} MiB allocated over the start`);
    // The first size plans the static graph, the second the dynamic one (one module per kernel each); later sizes reuse those.
    expect(first2).toBeLessThanOrEqual(6);
    expect(later).toBe(0);
    expect(f._state.entries[0].programs.size).toBeLessThanOrEqual(8);
    expect(peakHeap).toBeLessThan(64 * 2 ** 20);
    k.releaseMemory();
    expect(wasm.allocatedBytes() - live0).toBeLessThan(1 << 20);
  });

  const sizes = steps(6, 1000);
  it(`compiled MLP forward over ${sizes} batch sizes (dynamic: 'auto'): kernels cached and memory held afterwards are bounded`, { timeout: 3_600_000 }, () => {
    k.manualSeed(0);
    const model = new k.nn.Sequential(new k.nn.Linear(784, 512), new k.nn.ReLU(), new k.nn.Linear(512, 512), new k.nn.ReLU(), new k.nn.Linear(512, 10));
    const f = k.compile((x: k.Tensor) => k.noGrad(() => model.forward(x)), { dynamic: 'auto' });
    const wasm = k.getBackend('wasm');
    k.releaseMemory();
    const compiled0 = wasm.stats().compiled, live0 = wasm.allocatedBytes();
    let peakHeap = 0;
    for (let b = 1; b <= sizes; b++) {
      const y = f(k.randn([b, 784]));
      expect(y.shape).toEqual([b, 10]);
      peakHeap = Math.max(peakHeap, k.memory().backends.wasm!.heapBytes);
    }
    const m = k.memory().backends.wasm!;
    console.log(`[memory] ${sizes} batch sizes: ${wasm.stats().compiled - compiled0} kernel modules compiled, ${m.kernels} cached, ` +
      `${f._state.entries[0].programs.size} programs kept, peak heap ${(peakHeap / 2 ** 20).toFixed(1)} MiB, ${f.cacheInfo().traces} trace(s)`);
    expect(f.cacheInfo().traces).toBe(1);
    expect(f._state.entries[0].programs.size).toBeLessThanOrEqual(8);
    expect(m.kernels).toBeLessThanOrEqual(1024);
    k.releaseMemory();
    expect(wasm.allocatedBytes() - live0).toBeLessThan(1 << 20); // what the loop made is gone
    expect(k.memory().backends.wasm!.kernels).toBe(0);
  });
});
