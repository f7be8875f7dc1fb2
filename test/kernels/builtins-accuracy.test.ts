// Accuracy of the transcendental builtins on every backend, in ulps against float64 references, over
// the whole float32 range (every binade, both signs, ±0, ±Inf, NaN, multiples of pi/2 and huge
// arguments for sin/cos). WGSL lets GPUs flush subnormals, so on webgpu subnormal arguments and
// results that come back as 0 are not counted. The worst case per op and backend is printed.
import { afterAll, describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import type { BackendName, Tensor } from '../../src/index.js';
import { forEachBackend } from '../eager/backends.js';
import { mulberry32 } from '../rng.js';
import { erf64, ulpDiff } from './helpers.js';

const SAMPLES = (() => {
  const r = mulberry32(21);
  const out: number[] = [0, -0, Infinity, -Infinity, NaN, 1, -1, 3.4028234663852886e38, -3.4028234663852886e38];
  for (let e = -149; e <= 127; e++) for (let i = 0; i < 20; i++) { const v = Math.fround(2 ** e * (1 + r())); out.push(v, -v); }
  for (let i = 1; i < 2000; i++) { const v = Math.fround((i * Math.PI) / 2); out.push(v, -v, Math.fround(v * (1 + 2 ** -23))); }
  for (let i = 0; i < 2000; i++) out.push(Math.fround(1 + (r() - 0.5) * 2 ** -(r() * 20)));
  return Float32Array.from(out);
})();

type Unary = 'exp' | 'log' | 'sin' | 'cos' | 'tanh' | 'erf';
const REF: Record<Unary, (x: number) => number> = { exp: Math.exp, log: Math.log, sin: Math.sin, cos: Math.cos, tanh: Math.tanh, erf: erf64 };
/** Max ulp allowed per backend: the cpu reference rounds float64 results once (erf is a float64 series). */
const BOUND: Record<BackendName, Record<Unary | 'pow', number>> = {
  cpu: { exp: 1, log: 1, sin: 1, cos: 1, tanh: 1, erf: 1, pow: 1 },
  wasm: { exp: 2, log: 2, sin: 1, cos: 1, tanh: 3, erf: 4, pow: 1 },
  webgpu: { exp: 2, log: 2, sin: 2, cos: 2, tanh: 2, erf: 4, pow: 2 },
};

const table: string[] = [];
afterAll(() => { if (table.length) console.log(`[builtin accuracy] max error in ulp over ${SAMPLES.length} samples\n${table.join('\n')}`); });

forEachBackend((backend: BackendName) => {
  const flushes = backend === 'webgpu';
  const tiny = (v: number) => v !== 0 && Math.abs(v) < 2 ** -126;
  describe('builtin accuracy over the full float32 range', () => {
    const row: string[] = [];
    afterAll(() => table.push(`  ${backend.padEnd(6)} ${row.join('  ')}`));
    for (const name of Object.keys(REF) as Unary[]) {
      it(`${name} within ${BOUND[backend][name]} ulp`, async () => {
        const x = k.tensor(SAMPLES, { backend });
        const got = await (x[name]() as Tensor).dataAsync();
        let worst = 0, at = NaN;
        for (let i = 0; i < SAMPLES.length; i++) {
          const want = Math.fround(REF[name](SAMPLES[i]));
          if (flushes && (tiny(SAMPLES[i]) || (tiny(want) && got[i] === 0))) continue;
          const d = ulpDiff(got[i], want);
          if (d > worst) { worst = d; at = SAMPLES[i]; }
        }
        row.push(`${name} ${worst}`);
        expect(worst, `${name} worst at x = ${at}`).toBeLessThanOrEqual(BOUND[backend][name]);
      });
    }
    it(`pow within ${BOUND[backend].pow} ulp over mixed magnitudes`, async () => {
      const r = mulberry32(3);
      const n = 4003;
      const a = Float32Array.from({ length: n }, () => Math.fround(2 ** (r() * 60 - 30) * (r() < 0.2 ? -1 : 1)));
      const b = Float32Array.from({ length: n }, (_, i) => Math.fround(i % 5 === 0 ? Math.round(r() * 20 - 10) : r() * 8 - 4));
      const got = await k.tensor(a, { backend }).pow(k.tensor(b, { backend })).dataAsync();
      let worst = 0;
      for (let i = 0; i < n; i++) {
        const want = Math.fround(Math.pow(a[i], b[i]));
        if (flushes && tiny(want) && got[i] === 0) continue;
        worst = Math.max(worst, ulpDiff(got[i], want));
      }
      row.push(`pow ${worst}`);
      expect(worst).toBeLessThanOrEqual(BOUND[backend].pow);
    });
  });
});
