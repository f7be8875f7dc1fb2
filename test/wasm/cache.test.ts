// Kernel cache: a kernel is compiled once (by its printed form), replays of the same object skip
// printing, equal kernels built separately hit the cache, and the generated source is available.
import { describe, expect, it } from 'vitest';
import { createWasmBackend } from '../../backends/wasm/index.js';
import { cst, ew, ld, op, randF32, runSync, view } from '../kernels/helpers.js';

describe('wasm kernel cache', () => {
  it('builds each kernel once and records compile time', async () => {
    const w = await createWasmBackend({ jsRunsBeforeBuild: 0, diskCache: false });
    const mk = () => ew([33], 1, [op('add', [op('exp', [ld(0, view([33]))]), cst(1)])]);
    const x = randF32(33, 1);
    runSync(w, mk(), [x]);
    const s1 = w.stats();
    expect(s1.compiled).toBe(1);
    expect(s1.compileMs).toBeGreaterThan(0);
    const k = mk();
    for (let i = 0; i < 5; i++) runSync(w, k, [x]); // same object
    runSync(w, mk(), [x]); // equal kernel, new object
    const s2 = w.stats();
    expect(s2.compiled).toBe(1);
    expect(s2.cacheHits).toBe(6);
    runSync(w, ew([34], 1, [op('add', [op('exp', [ld(0, view([34]))]), cst(1)])]), [randF32(34, 2)]);
    expect(w.stats().compiled).toBe(2);
    expect(w.unsupported?.(k)).toBeNull();
  });

  it('exposes the generated WAT', async () => {
    const w = await createWasmBackend({ keepWat: true });
    const k = ew([8], 1, [op('mul', [ld(0, view([8])), cst(2)])]);
    expect(w.wat(k)).toMatch(/f32x4\.mul/);
    expect(w.source(k)).toMatch(/\(import "env" "memory"/);
  });
});
