// Regression tests for kernels that computed the wrong numbers: each case is a program that once gave
// a wrong result on some backend, checked on every backend, eagerly and compiled, against float64
// or exact expectations.
import { describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import type { BackendName, Tensor } from '../../src/index.js';
import { forEachBackend } from '../eager/backends.js';

const vals = async (t: Tensor) => Array.from(await t.dataAsync());
/** WGSL lets GPUs flush subnormal inputs and results to zero (SwiftShader does). */
const TINY = 2 ** -126;
/** |got - want| within `rel` relative, or within 4 of float32's smallest steps where `want` is subnormal. */
const near = (got: number, want: number, rel: number) => Math.abs(got - want) <= Math.max(rel * Math.abs(want), 4 * 2 ** -149);

forEachBackend((backend: BackendName) => {
  const t = (v: number[] | number[][] | number, dtype?: k.DType) => k.tensor(v, { backend, ...(dtype ? { dtype } : {}) });

  describe('max/min gradients over a fused expression (the cpu reference rounds every value to float32)', () => {
    for (const which of ['max', 'min'] as const) {
      it(`${which}: compiled gradient equals eager`, async () => {
        const data = [0.1, 0.7, 0.3, -0.9, 0.65, 0.2];
        const step = (x: Tensor) => {
          const y = x.mul(1.1).add(0.3).exp()[which]();
          y.backward();
          return y;
        };
        const x1 = t(data).requiresGrad_();
        step(x1);
        const x2 = t(data).requiresGrad_();
        k.compile(step, { backend })(x2);
        const g1 = await vals(x1.grad!), g2 = await vals(x2.grad!);
        expect(g2).toEqual(g1);
        // All of the gradient goes to the extreme element: d/dx exp(1.1x + 0.3) there.
        const at = which === 'max' ? 1 : 3;
        expect(g2.filter((g) => g !== 0).length).toBe(1);
        expect(g2[at]).toBeCloseTo(1.1 * Math.exp(1.1 * data[at] + 0.3), 4);
      });
    }
  });

  describe('division by a loop-invariant divisor divides (no reciprocal)', () => {
    it('21 / 7 is exactly 3, and so on, eager and compiled', async () => {
      const n = 37; // SIMD body and a scalar tail
      const x = t(Array.from({ length: n }, (_, i) => 7 * (i + 1)));
      const d = t(7);
      const want = Array.from({ length: n }, (_, i) => i + 1);
      expect(await vals(x.div(d))).toEqual(want);
      expect(await vals(k.compile((a: Tensor, b: Tensor) => a.mul(1).div(b), { backend })(x, d))).toEqual(want);
    });
    it('divisors below 2^-126 and above 2^126 follow IEEE', async () => {
      const x = t([0, 1e-5, 21, -3]);
      // A subnormal divisor is flushed to zero on webgpu (WGSL allows it): only the huge one there.
      const cases = [[1e-40, [0, Math.fround(1e-5) / Math.fround(1e-40), Infinity, -Infinity]], [3e38, [0, Math.fround(1e-5) / Math.fround(3e38), 21 / Math.fround(3e38), -3 / Math.fround(3e38)]]] as const;
      for (const [dv, want] of cases.filter(([dv]) => backend !== 'webgpu' || dv >= TINY)) {
        const exp = want.map((v) => Math.fround(v));
        const d = t(dv);
        const eager = await vals(x.div(d));
        const compiled = await vals(k.compile((a: Tensor, b: Tensor) => a.add(0).div(b), { backend })(x, d));
        for (const got of [eager, compiled]) {
          got.forEach((g, i) => {
            if (backend === 'webgpu' && Math.abs(exp[i]) < TINY && g === 0) return;
            if (exp[i] === 0 || !Number.isFinite(exp[i])) expect(g).toBe(exp[i]);
            else expect(Math.abs(g - exp[i]) / Math.abs(exp[i]), `${x.shape} / ${dv} at ${i}`).toBeLessThan(backend === 'webgpu' ? 3e-7 : 1e-7);
          });
        }
      }
    });
    it('softmax rows sum to 1 and keep exact ratios', async () => {
      const x = t([0, Math.log(2), Math.log(4), Math.log(8), 0, 0, 0]);
      const s = await vals(k.compile((a: Tensor) => a.softmax(-1), { backend })(x));
      expect(s.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    });
  });

  describe('int32 tensors and JS numbers past int32', () => {
    it('div(1e10) divides by 1e10, eager and compiled', async () => {
      const x = t([2e9, -5, 7], 'int32');
      const want = [2e9 / 1e10, -5 / 1e10, 7 / 1e10].map(Math.fround);
      expect(await vals(x.div(1e10))).toEqual(want);
      expect(await vals(k.compile((a: Tensor) => a.div(1e10), { backend })(x))).toEqual(want);
    });
    it('add(2**32 + 5) is an error naming add, not a silent add(5)', () => {
      const x = t([1, 2], 'int32');
      expect(() => x.add(2 ** 32 + 5)).toThrow(/add: the scalar 4294967301 is outside the int32 range/);
      expect(() => k.compile((a: Tensor) => a.add(2 ** 32 + 5), { backend })(x)).toThrow(/add: the scalar 4294967301/);
    });
    it('arange and randint refuse ranges past int32', () => {
      expect(() => k.arange(2 ** 31 - 2, 2 ** 31 + 2, 1, { backend })).toThrow(/arange: values from 2147483646 to 2147483649 do not fit int32/);
      expect(() => k.randint(0, 2 ** 32, [3], { backend })).toThrow(/randint/);
      expect(Array.from(k.arange(2 ** 31 - 3, 2 ** 31, 1, { backend: 'cpu' }).data())).toEqual([2 ** 31 - 3, 2 ** 31 - 2, 2 ** 31 - 1]);
    });
  });

  describe('softplus is stable for very negative inputs', () => {
    it('matches log1p(exp(x)) in float64 down to x = -100, eager and compiled, with gradient sigmoid(x)', async () => {
      const xs = [-100, -80, -40, -20, -17, -16, -10, -1, 0, 1, 10, 19, 25];
      const want = xs.map((v) => (v > 20 ? v : Math.log1p(Math.exp(v))));
      const x = t(xs).requiresGrad_();
      const f = (a: Tensor) => { const y = a.softplus(); y.sum().backward(); return y; };
      const eager = await vals(f(x));
      const grad = await vals(x.grad!);
      const x2 = t(xs).requiresGrad_();
      const compiled = await vals(k.compile(f, { backend })(x2));
      const grad2 = await vals(x2.grad!);
      for (const got of [eager, compiled]) {
        got.forEach((g, i) => {
          if (backend === 'webgpu' && want[i] < TINY && g === 0) return;
          expect(near(g, want[i], 4e-7 * (backend === 'webgpu' ? 8 : 1)), `softplus(${xs[i]}) = ${g}, want ${want[i]}`).toBe(true);
        });
      }
      for (const g of [grad, grad2]) {
        g.forEach((v, i) => {
          const sig = xs[i] > 20 ? 1 : 1 / (1 + Math.exp(-xs[i]));
          if (backend === 'webgpu' && sig < TINY && v === 0) return;
          expect(near(v, sig, 2e-6 * (backend === 'webgpu' ? 8 : 1)), `softplus'(${xs[i]}) = ${v}, want ${sig}`).toBe(true);
        });
      }
    });
  });

  describe('a fused gather feeding a broadcast reads the right rows (compiled = eager)', () => {
    const same = async (f: (...a: Tensor[]) => Tensor, ...args: Tensor[]) => {
      const want = await vals(f(...args));
      const g = k.compile(f, { backend });
      expect(await vals(g(...args)), 'trace').toEqual(want);
      expect(await vals(g(...args)), 'replay').toEqual(want);
    };
    it('x.sub(x.gather(1, x.argmax(1, true)))', async () => {
      await same((b) => b.sub(b.gather(1, b.argmax(1, true))), t([[1.1416085, 1.2928535]]));
      await same((b) => b.sub(b.gather(1, b.argmax(1, true))), k.randn([5, 7], { backend }));
    });
    it('an embedding-like indexSelect added to a tensor with extra leading dims', async () => {
      const W = t([[-0.75], [3.625], [-0.125], [-1.375], [2.5], [0.25], [-0.25]]);
      const i = t([1, 0], 'int32');
      await same((w, j) => w.indexSelect(0, j).add(t([0.25]).expand([3, 2, 1])), W, i);
      const W2 = k.randn([6, 4], { backend });
      await same((w, j) => w.indexSelect(0, j).add(k.ones([2, 3, 4], { backend })), W2, t([5, 0, 2], 'int32'));
      await same((w, j) => w.mul(w.indexSelect(0, j)), W2, t([3], 'int32'));
    });
  });

  describe("slice with null for 'none'", () => {
    it('[[null, null, -1]] reverses and [[1, null]] runs to the end, eager and compiled', async () => {
      const x = t([1, 2, 3, 4]);
      expect(await vals(x.slice([[null, null, -1]]))).toEqual([4, 3, 2, 1]);
      expect(await vals(x.slice([[1, null]]))).toEqual([2, 3, 4]);
      expect(await vals(x.slice([[null, -1, 2]]))).toEqual([1, 3]);
      expect(await vals(k.compile((a: Tensor) => a.slice([[null, null, -1]]).mul(1), { backend })(x))).toEqual([4, 3, 2, 1]);
    });
  });
});
