// Every backend's cache of compiled kernels is bounded (least recently used out), so a long-running
// program that meets ever new shapes keeps at most KERNEL_CACHE_ENTRIES of each kind.
import { beforeAll, describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import { KERNEL_CACHE_ENTRIES, LruMap } from '../../src/core/lru.js';
import type { WasmBackend } from '../../backends/wasm/index.js';

beforeAll(async () => { await k.ready(); });

describe('LruMap', () => {
  it('keeps the most recently used entries, a get counting as use', () => {
    const m = new LruMap<string, number>(3);
    m.set('a', 1).set('b', 2).set('c', 3);
    expect(m.get('a')).toBe(1); // a is now the most recent: b is the oldest
    m.set('d', 4);
    expect([m.has('a'), m.has('b'), m.has('c'), m.has('d')]).toEqual([true, false, true, true]);
    m.set('c', 30); // replacing refreshes without evicting
    expect(m.size).toBe(3);
    m.set('e', 5);
    expect([m.has('a'), m.has('c'), m.has('d'), m.has('e')]).toEqual([false, true, true, true]);
    expect(m.get('c')).toBe(30);
    expect(() => new LruMap(0)).toThrow(RangeError);
  });
});

// One distinct kernel per size: x.mul(3).add(1) over 1..N elements.
const sizes = KERNEL_CACHE_ENTRIES + 60;
function runSizes(backend: 'cpu' | 'wasm'): void {
  for (let n = 1; n <= sizes; n++) {
    const y = k.arange(n, undefined, 1, { dtype: 'float32', backend }).mul(3).add(1);
    const v = y.data();
    if (v[n - 1] !== 3 * (n - 1) + 1) throw new Error(`${backend}: wrong value at size ${n}: ${v[n - 1]}`);
    y.dispose();
  }
}

describe('kernel caches are bounded', () => {
  it(`cpu: at most ${KERNEL_CACHE_ENTRIES} kernel functions after ${sizes} distinct kernels`, () => {
    runSizes('cpu');
    const info = k.getBackend('cpu').memoryInfo!();
    expect(info.kernels).toBeGreaterThan(KERNEL_CACHE_ENTRIES / 2);
    expect(info.kernels).toBeLessThanOrEqual(KERNEL_CACHE_ENTRIES);
  });

  it(`wasm JS tier: at most ${KERNEL_CACHE_ENTRIES} JS-tier functions after ${sizes} distinct kernels`, () => {
    const w = k.getBackend('wasm') as WasmBackend;
    w.forceTier('js');
    try {
      runSizes('wasm');
    } finally {
      w.forceTier(null);
    }
    const info = w.memoryInfo!();
    expect(info.jsKernels).toBeGreaterThan(KERNEL_CACHE_ENTRIES / 2);
    expect(info.jsKernels).toBeLessThanOrEqual(KERNEL_CACHE_ENTRIES);
  });
});
