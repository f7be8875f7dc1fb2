// Accuracy of the polynomial builtins (exp, log, sin, cos, tanh, erf, pow) over the whole float32
// range (every binade, both signs, subnormals, ±0, ±Inf, NaN), SIMD lanes and scalar tail, measured in
// ulps against the correctly rounded float64 reference.
import { beforeAll, describe, expect, it } from 'vitest';
import type { ScalarOp } from '../../src/ops/scalar.js';
import { acc, erf64, ew, getWasm, ld, op, red, rng, runSync, ulpDiff, view } from '../kernels/helpers.js';

/** Samples of every binade from 2^-149 to 2^127, both signs, plus specials. */
function fullRange(perBinade: number, seed: number): Float32Array {
  const r = rng(seed);
  const out: number[] = [0, -0, Infinity, -Infinity, NaN, 1, -1, 2 ** -149, -(2 ** -149), 3.4028234663852886e38, -3.4028234663852886e38];
  for (let e = -149; e <= 127; e++) {
    for (let i = 0; i < perBinade; i++) {
      const v = Math.fround(2 ** e * (1 + r()));
      out.push(v, -v);
    }
  }
  while (out.length % 4 !== 3) out.push(0.5); // leave a scalar tail
  return Float32Array.from(out);
}


const REF: Partial<Record<ScalarOp, (x: number) => number>> = {
  exp: Math.exp, log: Math.log, sin: Math.sin, cos: Math.cos, tanh: Math.tanh, erf: erf64,
};
const BOUND: Partial<Record<ScalarOp, number>> = { exp: 2, log: 2, sin: 1, cos: 1, tanh: 3, erf: 4 };

/** Max ulp error of a unary builtin over `xs` (wasm SIMD lanes + scalar tail). */
async function maxUlp(name: ScalarOp, xs: Float32Array): Promise<{ ulp: number; at: number }> {
  const w = await getWasm();
  const n = xs.length;
  const [got] = runSync(w, ew([n], 1, [op(name, [ld(0, view([n]))])]), [xs]);
  let ulp = 0, at = NaN;
  for (let i = 0; i < n; i++) {
    const want = Math.fround(REF[name]!(xs[i]));
    const d = ulpDiff(got[i], want);
    if (d > ulp) { ulp = d; at = xs[i]; }
  }
  return { ulp, at };
}

// binaryen loads once per file (15-20 s under tsx on a loaded machine), outside any test's timeout.
beforeAll(() => getWasm(), 120_000);

describe('builtin accuracy over the full float32 range', () => {
  const xs = fullRange(24, 7);
  for (const name of Object.keys(REF) as ScalarOp[]) {
    it(`${name} within ${BOUND[name]} ulp`, async () => {
      const { ulp, at } = await maxUlp(name, xs);
      console.log(`[wasm builtins] ${name}: max error ${ulp} ulp (at x = ${at}) over ${xs.length} samples`);
      expect(ulp).toBeLessThanOrEqual(BOUND[name]!);
    });
  }

  it('vectors mixing fast-path and full-range lanes (shuffled samples)', async () => {
    const r = rng(5);
    const ys = Float32Array.from(xs);
    for (let i = ys.length - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [ys[i], ys[j]] = [ys[j], ys[i]]; }
    for (const name of ['exp', 'tanh', 'erf', 'sin', 'cos', 'log'] as const) {
      const { ulp } = await maxUlp(name, ys);
      expect(ulp, name).toBeLessThanOrEqual(BOUND[name]!);
    }
  });

  it('sin/cos near multiples of pi/2 and for huge arguments', async () => {
    const pts: number[] = [];
    for (let k = 1; k < 2000; k++) {
      const x = Math.fround((k * Math.PI) / 2);
      pts.push(x, Math.fround(x * (1 + 2 ** -23)), -x);
    }
    for (let e = 0; e < 128; e++) pts.push(Math.fround(2 ** e * 1.2345), Math.fround(-(2 ** e) * 1.7));
    while (pts.length % 4 !== 1) pts.push(1);
    const xs2 = Float32Array.from(pts);
    for (const name of ['sin', 'cos'] as const) {
      const { ulp, at } = await maxUlp(name, xs2);
      console.log(`[wasm builtins] ${name} near k*pi/2 / huge: max error ${ulp} ulp (at x = ${at})`);
      expect(ulp).toBeLessThanOrEqual(1);
    }
  });

  it('pow within 1 ulp over mixed magnitudes', async () => {
    const w = await getWasm();
    const r = rng(3);
    const n = 4003;
    const a = Float32Array.from({ length: n }, () => Math.fround(2 ** (r() * 60 - 30) * (r() < 0.2 ? -1 : 1)));
    const b = Float32Array.from({ length: n }, (_, i) => Math.fround(i % 5 === 0 ? Math.round(r() * 20 - 10) : r() * 8 - 4));
    const [got] = runSync(w, ew([n], 2, [op('pow', [ld(0, view([n])), ld(1, view([n]))])]), [a, b]);
    let ulp = 0;
    for (let i = 0; i < n; i++) ulp = Math.max(ulp, ulpDiff(got[i], Math.fround(Math.pow(a[i], b[i])))) // no 1 ** y or ±Inf cases here;
    console.log(`[wasm builtins] pow: max error ${ulp} ulp over ${n} samples`);
    expect(ulp).toBeLessThanOrEqual(1);
  });
});

describe('exp where float32 underflows (masked attention scores)', () => {
  /** Every float32 from `lo` up to `hi` (both negative), in steps of `stride` float32s. */
  function float32sBetween(lo: number, hi: number, stride = 1): number[] {
    const f = new Float32Array([lo]);
    const u = new Uint32Array(f.buffer);
    const out: number[] = [];
    for (; f[0] <= hi; u[0] -= stride) out.push(f[0]); // negative floats: smaller bits are closer to 0
    return out;
  }
  const specials = [-Infinity, -3.4028234663852886e38, -1e30, -1e9, -1e4, -150, -104, -103.97208, -103.972076, -87.33655, -87.3];
  const xs = [...specials, ...float32sBetween(-104.05, -103.9), ...float32sBetween(-130, -85, 97)];
  while (xs.length % 4 !== 3) xs.push(-1e9); // leave a scalar tail

  it('elementwise: within 2 ulp of float64 (absolute 2^-149 among subnormals), +0 wherever float64 rounds to 0', async () => {
    const x32 = Float32Array.from(xs);
    const { ulp, at } = await maxUlp('exp', x32);
    expect(ulp, `at x = ${at}`).toBeLessThanOrEqual(2);
    const w = await getWasm();
    const [got] = runSync(w, ew([x32.length], 1, [op('exp', [ld(0, view([x32.length]))])]), [x32]);
    const zeros = [...x32.keys()].filter((i) => Math.fround(Math.exp(x32[i])) === 0);
    expect(zeros.length).toBeGreaterThan(1000);
    expect(zeros.filter((i) => !Object.is(got[i], 0)).map((i) => x32[i])).toEqual([]);
  }, 60_000);

  it('in a row reduction (the range-guarded form): sum of exp and exp / sum match float64', async () => {
    // Rows of a causal mask: a few ordinary scores, the rest -Inf or far below the underflow point.
    const n = 37, rows = 6;
    const r = rng(11);
    const x = new Float32Array(rows * n);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < n; j++) {
        const tail = xs[(i * n + j) % xs.length];
        x[i * n + j] = j <= i * 6 ? Math.fround(r() * 4 - 2) : i % 2 ? -Infinity : tail;
      }
    }
    const w = await getWasm();
    const xl = ld(0, view([rows, n]));
    const e = op('exp', [xl]);
    const k = red([rows], [n], 1, [{ op: 'sum', body: e }], [{ expr: op('div', [e, acc(0)]), scope: 'full' }, { expr: acc(0), scope: 'outer' }]);
    const [p, s] = runSync(w, k, [x]);
    for (let i = 0; i < rows; i++) {
      const row = [...x.subarray(i * n, (i + 1) * n)];
      const sum64 = row.reduce((a, v) => a + Math.exp(v), 0);
      expect(Math.abs(s[i] - sum64) / sum64, `row ${i} sum`).toBeLessThan(1e-6);
      for (let j = 0; j < n; j++) {
        const want = Math.fround(Math.exp(row[j]) / sum64);
        expect(ulpDiff(p[i * n + j], want), `row ${i} col ${j} (x = ${row[j]})`).toBeLessThanOrEqual(3);
      }
    }
  }, 60_000);
});
