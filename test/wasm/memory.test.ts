// The wasm heap: aligned zeroed buffers, reuse through free lists, bounded growth over alloc/free
// cycles, data intact across memory growth, and the Backend buffer API on top of it.
import { describe, expect, it } from 'vitest';
import { WasmHeap, _test } from '../../backends/wasm/memory.js';
import { getWasm, randF32 } from '../kernels/helpers.js';

describe('wasm heap', () => {
  it('size classes round up by at most 25% and stay 16-byte multiples', () => {
    for (let bytes = 1; bytes < 1 << 22; bytes = Math.ceil(bytes * 1.37) + 1) {
      const c = _test.sizeClass(bytes);
      expect(c.bytes).toBeGreaterThanOrEqual(bytes);
      expect(c.bytes % 16).toBe(0);
      if (bytes > 256) expect(c.bytes / bytes).toBeLessThanOrEqual(1.25 + 1e-9);
    }
  });

  it('hands out aligned, zeroed, distinct blocks and reuses freed ones', () => {
    const h = new WasmHeap(1);
    const a = h.alloc(100), b = h.alloc(100);
    expect(a % 16).toBe(0);
    expect(b % 16).toBe(0);
    expect(a).not.toBe(b);
    h.views().u8.fill(7, a, a + 100);
    h.release(a);
    const c = h.alloc(97); // same class (112 bytes): the freed block comes back, zeroed
    expect(c).toBe(a);
    expect(Array.from(h.views().u8.subarray(c, c + 100)).every((x) => x === 0)).toBe(true);
    expect(() => h.release(a + 16)).toThrow();
  });

  it('alloc/free cycles stay bounded', () => {
    const h = new WasmHeap(1);
    const sizes = [4096, 100, 1 << 16, 777, 4096 * 3, 64];
    for (let round = 0; round < 200; round++) {
      const ptrs = sizes.map((s) => h.alloc(s + (round % 3) * 16));
      ptrs.reverse().forEach((p) => h.release(p));
    }
    const s = h.stats();
    expect(s.live).toBe(0);
    expect(s.memoryBytes).toBeLessThan(8 << 20);
  });

  it('growth keeps data intact and refreshes views', () => {
    const h = new WasmHeap(1);
    const p = h.alloc(1000);
    const f = h.views().f32;
    for (let i = 0; i < 250; i++) f[p / 4 + i] = i * 1.5;
    const before = h.memory.buffer.byteLength;
    const big = h.alloc(8 << 20); // forces memory.grow
    expect(h.memory.buffer.byteLength).toBeGreaterThan(before);
    const g = h.views().f32;
    expect(g === f).toBe(false);
    for (let i = 0; i < 250; i++) expect(g[p / 4 + i]).toBe(i * 1.5);
    h.release(big);
    h.release(p);
  });

  it('backend buffers: allocatedBytes, read/write offsets, bool bytes, freed-buffer errors', async () => {
    const w = await getWasm();
    const base = w.allocatedBytes();
    const f = w.alloc('float32', 10), i = w.alloc('int32', 3), b = w.alloc('bool', 5);
    expect(w.allocatedBytes() - base).toBe(40 + 12 + 5);
    expect(Array.from(w.read(f))).toEqual(new Array(10).fill(0));
    w.write(f, Float32Array.from([1, 2, 3]), 4);
    expect(Array.from(w.read(f, 3, 4))).toEqual([0, 1, 2, 3]);
    w.write(b, Uint8Array.from([1, 0, 1, 1, 0]));
    const rb = w.read(b);
    expect(rb).toBeInstanceOf(Uint8Array);
    expect(Array.from(rb)).toEqual([1, 0, 1, 1, 0]);
    w.write(i, Int32Array.from([-5, 7, 2147483647]));
    expect(Array.from(await w.readAsync(i))).toEqual([-5, 7, 2147483647]);
    expect(() => w.write(f, new Float32Array(11))).toThrow();
    w.free(f); w.free(i); w.free(b);
    expect(w.allocatedBytes()).toBe(base);
    expect(() => w.read(f)).toThrow(/freed/);
  });

  it('a training-loop-like pattern keeps the heap bounded', async () => {
    const w = await getWasm();
    const start = w.heapStats();
    for (let step = 0; step < 300; step++) {
      const bufs = [w.alloc('float32', 1000 + (step % 7) * 100), w.alloc('float32', 1 << 14), w.alloc('int32', 37)];
      w.write(bufs[0], randF32(10, step));
      bufs.forEach((x) => w.free(x));
    }
    const end = w.heapStats();
    expect(end.live).toBe(start.live);
    expect(end.memoryBytes - start.memoryBytes).toBeLessThan(1 << 20);
  });
});
