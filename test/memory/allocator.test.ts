// The wasm allocator: freed blocks coalesce, a heap with little live serves any allocation that fits,
// out-of-memory is an OutOfMemoryError (a KilnError) naming the op, the bytes asked and the bytes live,
// and releaseMemory() compacts live buffers into a smaller memory with their values intact.
import { describe, expect, it } from 'vitest';
import { WasmHeap, RESERVED_BYTES, _test } from '../../backends/wasm/memory.js';
import * as k from '../../src/index.js';

const MiB = 2 ** 20;

describe('wasm heap', () => {
  it('free blocks coalesce: freeing everything leaves one free region (the bump region)', () => {
    const h = new WasmHeap(1, 1024);
    const ptrs = Array.from({ length: 200 }, (_, i) => h.alloc(100 + (i % 13) * 400));
    // Free in an interleaved order so that merges happen on both sides.
    for (let i = 0; i < ptrs.length; i += 2) h.release(ptrs[i]);
    expect(h.stats().freeListed).toBeGreaterThan(0);
    for (let i = 1; i < ptrs.length; i += 2) h.release(ptrs[i]);
    const s = h.stats();
    expect(s.live).toBe(0);
    expect(s.freeListed).toBe(0);
    expect(s.top).toBe(RESERVED_BYTES);
  });

  it('with scattered small blocks live, a large allocation is served from the coalesced free space', () => {
    // The case scaled to a 64 MiB heap: fill it, keep ~0.5 MiB scattered, then ask for most of it.
    const h = new WasmHeap(1, 1024); // at most 64 MiB
    const blocks: number[] = [];
    for (let i = 0; i < 120; i++) blocks.push(h.alloc(i % 30 === 0 ? 4096 : 500_000));
    const kept = blocks.filter((_, i) => i % 30 === 0);
    for (const p of blocks) if (!kept.includes(p)) h.release(p);
    expect(h.stats().live).toBeLessThan(MiB);
    const before = h.stats().memoryBytes;
    const big = h.alloc(14 * 500_000); // 7 MB: fits in the gap between two kept blocks
    expect(h.stats().memoryBytes).toBe(before); // no growth needed
    h.release(big);
    // Larger than any gap: it needs the top, which is free above the last kept block.
    const huge = h.alloc(20 * MiB);
    expect(huge).toBeGreaterThan(0);
  });

  it('a block is split: the rest of a larger free block stays usable', () => {
    const h = new WasmHeap(1, 1024);
    const a = h.alloc(64 * 1024), guard = h.alloc(16);
    h.release(a);
    const b = h.alloc(1024), c = h.alloc(1024);
    expect(b).toBe(a); // taken from the freed block
    expect(c).toBeGreaterThan(b); // and the remainder serves the next
    expect(c).toBeLessThan(guard);
  });

  it('bins: a free block lands in the largest class not above its size', () => {
    for (let bytes = 16; bytes < 1 << 20; bytes = Math.ceil(bytes * 1.3 / 16) * 16) {
      const bin = _test.binOf(bytes);
      const cls = _test.sizeClass(bytes);
      expect(cls.bytes === bytes ? cls.index : cls.index - 1).toBe(bin);
    }
  });

  it('out of memory past the maximum is an OutOfMemoryError with the bytes asked and live', () => {
    const h = new WasmHeap(1, 16); // 1 MiB at most
    h.alloc(512 * 1024);
    let err: unknown;
    try { h.alloc(2 * MiB); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(k.OutOfMemoryError);
    expect(err).toBeInstanceOf(k.KilnError);
    const e = err as k.OutOfMemoryError;
    expect(e.requestedBytes).toBe(2 * MiB);
    expect(e.liveBytes).toBe(512 * 1024);
  });
});

describe('out of memory and releaseMemory() on the wasm backend', () => {
  it('a tensor larger than the wasm heap can hold fails with a KilnError naming the op and sizes', async () => {
    await k.ready();
    const saved = k.configureMemory({ limitBytes: Infinity, warnBytes: Infinity });
    try {
      const x = k.ones([4], { backend: 'wasm' });
      // Past what one buffer can hold (wasm32 memory is 4 GiB): refused before allocating, naming the op.
      expect(() => k.zeros([2 ** 30 + 8], { backend: 'wasm' })).toThrow(/zeros: shape \[1073741832\] needs .*more than one buffer can hold/);
      expect(() => x.slice([[0, 1]]).expand([2 ** 30 + 8]).contiguous()).toThrow(/contiguous: shape \[1073741832\] needs .*more than one buffer can hold/);
      expect(x.add(1).sum().item()).toBe(8); // and nothing is broken afterwards
    } finally {
      k.configureMemory(saved);
    }
  });

  it('releaseMemory() moves live buffers into a smaller memory, values intact, kernels rebuilt', async () => {
    await k.ready();
    const w = k.getBackend('wasm');
    const keepers = Array.from({ length: 8 }, (_, i) => k.arange(1000 * (i + 1), undefined, 1, { backend: 'wasm' }).to('float32'));
    const junk = Array.from({ length: 40 }, () => k.randn([64 * 1024], { backend: 'wasm' }));
    const sums = keepers.map((t) => t.sum().item() as number);
    junk.forEach((t) => t.dispose());
    const before = k.memory().backends.wasm!;
    const after = k.releaseMemory().backends.wasm!;
    expect(after.heapBytes).toBeLessThan(before.heapBytes);
    expect(after.kernels).toBe(0);
    expect(after.heapBytes).toBeLessThanOrEqual(Math.max(after.bytes * 2, 1 << 20));
    keepers.forEach((t, i) => expect(t.sum().item()).toBe(sums[i]));
    expect(w.allocatedBytes()).toBeGreaterThan(0);
  });
});
