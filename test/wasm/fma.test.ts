// Relaxed-SIMD FMA in the wasm kernels (builtins' polynomials and range reduction, matmul). It is on
// wherever it can be: natively (Chrome >= 114, Node >= 22; the browser e2e test checks Chromium takes
// it) or, on Node 20, through V8's flag set for kernel modules (v8flags.ts), which is what this
// process runs. A child process runs the wasm kernel tests again with KILN_WASM_FMA=0: the plain
// SIMD path of runtimes without relaxed SIMD.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createWasmBackend, type WasmBackend } from '../../backends/wasm/index.js';
import { RELAXED_MADD_PROBE } from '../../backends/wasm/features.js';
import type { Kernel } from '../../src/core/kernel.js';
import { acc, ew, getWasm, ld, matmul, op, randF32, red, runSync, ulpDiff, view } from '../kernels/helpers.js';

const plainRun = process.env.KILN_WASM_FMA === '0';

describe('wasm relaxed-SIMD FMA', () => {
  it('is on by default in Node (through the V8 flag on Node 20), off with fma: false, and leaves the runtime as it was', async () => {
    const w = await getWasm();
    expect(w.fma).toBe(!plainRun);
    const off = await createWasmBackend({ fma: false });
    expect(off.fma).toBe(false);
    // The flag is set only while kernel modules compile: afterwards the process is as it started.
    runSync(w, ew([5], 1, [op('exp', [ld(0, view([5]))])]), [randF32(5, 1)]);
    expect(WebAssembly.validate(RELAXED_MADD_PROBE)).toBe(process.execArgv.includes('--experimental-wasm-relaxed-simd') || Number(process.versions.node.split('.')[0]) >= 22);
  });

  it.skipIf(plainRun)('the wasm kernel tests pass on the plain SIMD path (child process with KILN_WASM_FMA=0)', () => {
    const vitest = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
    const files = ['wasm/builtins', 'kernels/reduce', 'kernels/matmul', 'kernels/scalar', 'wasm/fma'].map((f) => `test/${f}.test.ts`);
    // Run from the repository root, so the child reads vitest.config.ts like the suite does.
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const r = spawnSync(process.execPath, [vitest, 'run', ...files, '--maxWorkers=1', '--testTimeout=300000', '--hookTimeout=300000'], {
      cwd: root, env: { ...process.env, KILN_WASM_FMA: '0', KILN_KERNEL_BACKENDS: 'wasm', CI: 'true' }, encoding: 'utf8', timeout: 600_000,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.status, out.slice(-4000)).toBe(0);
    expect(out).toMatch(/Test Files\s+.*5 passed/);
  }, 600_000);

  describe.skipIf(plainRun)('FMA and plain kernels agree', () => {
    let plain: WasmBackend;
    const both = async (k: Kernel, inputs: Float32Array[]) => {
      plain ??= await createWasmBackend({ fma: false });
      return { fused: runSync(await getWasm(), k, inputs), plain: runSync(plain, k, inputs) };
    };

    it('exp, log, tanh and erf differ by at most an ulp or two', async () => {
      const n = 4099;
      const x = randF32(n, 11, -20, 20);
      for (const [name, bound] of [['exp', 1], ['tanh', 2], ['erf', 2], ['log', 1]] as const) {
        const arg = name === 'log' ? op('abs', [ld(0, view([n]))]) : ld(0, view([n]));
        const { fused, plain: p } = await both(ew([n], 1, [op(name, [arg])]), [x]);
        let worst = 0;
        for (let i = 0; i < n; i++) worst = Math.max(worst, ulpDiff(fused[0][i], p[0][i]));
        expect(worst, name).toBeLessThanOrEqual(bound);
      }
    });

    it('matmul and softmax agree to rounding', async () => {
      const M = 37, K = 129, N = 21;
      const a = randF32(M * K, 12), b = randF32(K * N, 13);
      const r1 = await both(matmul([], M, N, K, view([M, K]), view([K, N])), [a, b]);
      r1.fused[0].forEach((v, i) => expect(Math.abs(v - r1.plain[0][i])).toBeLessThan(1e-4 * (1 + Math.abs(r1.plain[0][i]))));
      const rows = 5, n = 1030;
      const x = randF32(rows * n, 14, -4, 4);
      const xl = ld(0, view([rows, n]));
      const e = op('exp', [op('sub', [xl, acc(0)])]);
      const sm = red([rows], [n], 1, [{ op: 'max', body: xl }, { op: 'sum', body: e }], [{ expr: op('div', [e, acc(1)]), scope: 'full' }]);
      const r2 = await both(sm, [x]);
      r2.fused[0].forEach((v, i) => expect(Math.abs(v - r2.plain[0][i])).toBeLessThanOrEqual(4e-7 * r2.plain[0][i] + 1e-12));
    });
  });
});
