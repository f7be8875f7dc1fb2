// A binaryen that loads but cannot build modules here (a host that refuses to compile them, a broken
// bundle): the wasm backend warns once and keeps running kernels on its JS tier, which computes the
// same results, instead of every op throwing.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createWasmBackendSync } from '../../backends/wasm/index.js';
import { cpu, ew, ld, op, randF32, red, acc, runSync, view } from '../kernels/helpers.js';

// The backend loads binaryen through load-binaryen.ts (as a script in Node): stand in for what it returns.
vi.mock('../../backends/wasm/load-binaryen.js', () => ({
  binaryenLoadedBy: 'module',
  loadBinaryen: async () => ({
    Module: class { constructor() { throw new Error('WebAssembly.Module(): Wasm code generation disallowed by embedder'); } },
    Features: {},
  }),
  withBinaryenTiering: <T>(f: () => T): T => f(),
}));

describe('a binaryen that loads but fails', () => {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  afterAll(() => warn.mockRestore());

  it('leaves kernels on the JS tier with one warning, computing what the cpu reference computes', async () => {
    const be = createWasmBackendSync();
    const n = 101;
    const x = randF32(n, 1);
    const k1 = ew([n], 1, [op('tanh', [op('mul', [ld(0, view([n])), ld(0, view([n]))])])]);
    const k2 = red([1], [n], 1, [{ op: 'sum', body: ld(0, view([1, n])) }], [{ expr: acc(0), scope: 'outer' }]);
    runSync(be, k1, [x]);
    await be.ready(); // resolves: the JS tier is a working backend
    expect(be.tier).toBe('js');
    for (let i = 0; i < 3; i++) {
      const [a] = runSync(be, k1, [x]);
      const [want] = runSync(cpu, k1, [x]);
      a.forEach((v, j) => expect(Math.abs(v - want[j])).toBeLessThanOrEqual(3e-7 * Math.abs(want[j]) + 1e-12));
      const [s] = runSync(be, k2, [x]);
      expect(s[0]).toBeCloseTo(runSync(cpu, k2, [x])[0][0], 5);
    }
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/binaryen loaded but cannot build kernels here \(WebAssembly\.Module\(\): Wasm code generation disallowed.*JS tier/);
    expect(() => be.forceTier('wasm')).toThrow(/forceTier\('wasm'\) needs binaryen/);
  });
});
