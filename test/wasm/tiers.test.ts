// The wasm backend's two tiers compute the same bits: the JS tier (which runs while binaryen loads, or
// where it cannot) and the WebAssembly kernels, compared bit for bit (any NaN equals any NaN) over
// every scalar op and dtype on special and random values, the builtins over the full float32 range,
// reductions of every kind over row lengths and layouts that change the accumulation order, matmuls,
// and every op-info sample with its gradients. A training loop that switches tiers at different
// steps gives identical losses, and kernels of programs compiled before binaryen loaded move to
// WebAssembly once it has.
import { beforeAll, describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import type { DType, TypedArray } from '../../src/core/dtype.js';
import type { Expr, Kernel, ReduceKernel } from '../../src/core/kernel.js';
import { SCALAR_OPS, type ScalarOp } from '../../src/ops/scalar.js';
import { createWasmBackendSync, type WasmBackend } from '../../backends/wasm/index.js';
import { asList, cotangents, gradInputs, toKiln } from '../eager/harness.js';
import { OPINFO, viewKiln, viewRef, type OpRow, type Sample } from '../eager/opinfo.js';
import * as R from '../eager/reference.js';
import { acc, cast, convKernel, cst, ew, getWasm, ld, matmul, op, randBool, randF32, randI32, red, rng, runSync, view, windowKernels } from '../kernels/helpers.js';
import { reduceLoopNest } from '../../backends/wasm/reduce.js';
import { winogradPlan } from '../../backends/wasm/winograd.js';

/** Bitwise equality of two arrays (NaN equals NaN; +0 and -0 differ). */
function diffs(a: ArrayLike<number>, b: ArrayLike<number>, limit = 6): string[] {
  const out: string[] = [];
  if (a.length !== b.length) return [`lengths ${a.length} vs ${b.length}`];
  for (let i = 0; i < a.length && out.length < limit; i++) {
    if (!(Object.is(a[i], b[i]) || (a[i] !== a[i] && b[i] !== b[i]))) out.push(`[${i}] js ${a[i]} wasm ${b[i]}`);
  }
  return out;
}

let w: WasmBackend;
/** Runs a kernel on each tier of the test backend and returns both outputs. */
function onTiers(kernel: Kernel, inputs: readonly TypedArray[], be: WasmBackend = w): { js: TypedArray[]; wasm: TypedArray[] } {
  be.forceTier('js');
  const js = runSync(be, kernel, inputs);
  be.forceTier('wasm');
  const wasm = runSync(be, kernel, inputs);
  be.forceTier(null);
  return { js, wasm };
}
function expectSameBits(kernel: Kernel, inputs: readonly TypedArray[], what: string, be: WasmBackend = w): void {
  const { js, wasm } = onTiers(kernel, inputs, be);
  js.forEach((o, i) => expect(diffs(o, wasm[i]), `${what} out${i}`).toEqual([]));
}

/** Special values, every binade's worth of random magnitudes, both signs; length leaves a scalar tail. */
function specials(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const out: number[] = [0, -0, Infinity, -Infinity, NaN, 1, -1, 0.5, -0.5, 2.5, -2.5, 1.5, 2 ** -149, -(2 ** -149), 2 ** -126,
    3.4028234663852886e38, -3.4028234663852886e38, 88.7, -87.4, -103.9, 89.5, 120, -120, 1e10, 2 ** 31, -(2 ** 31), 2 ** 24 + 1, 0.6, 0.75];
  while (out.length < n) {
    const e = Math.floor(r() * 276) - 149;
    out.push(Math.fround((r() < 0.5 ? -1 : 1) * 2 ** e * (1 + r())));
  }
  return Float32Array.from(out);
}

const DTYPE_ARRAYS: Record<DType, (n: number, seed: number) => TypedArray> = {
  float32: (n, s) => specials(n, s),
  int32: (n, s) => { const a = randI32(n, s, -1000, 1000); a.set([0, 1, -1, 2147483647, -2147483648, 7, -7]); return a; },
  bool: (n, s) => randBool(n, s),
};

beforeAll(async () => {
  w = await getWasm();
});

describe('JS tier and WebAssembly compute the same bits', () => {
  it(`knows whether the kernels' multiply-add fuses (fma ${process.env.KILN_WASM_FMA === '0' ? 'off' : 'on'})`, () => {
    expect(typeof w.fma).toBe('boolean');
    expect(w.tier).toBe('wasm');
  });

  describe('every scalar op, every dtype, special and random values (SIMD lanes and scalar tails)', () => {
    const n = 4 * 301 + 3;
    const dts: DType[] = ['float32', 'int32', 'bool'];
    for (const name of Object.keys(SCALAR_OPS) as ScalarOp[]) {
      const def = SCALAR_OPS[name] as { arity: number; i?: unknown; predicate?: boolean };
      it(name, () => {
        // Every combination of operand dtypes the lowering can produce, with each result dtype the op has.
        const combos: DType[][] = def.arity === 1 ? dts.map((d) => [d]) : def.arity === 2 ? dts.flatMap((a) => dts.map((b) => [a, b])) : dts.map((d) => ['bool', d, d]);
        for (const ins of combos) {
          const results: DType[] = def.predicate ? ['bool'] : name === 'where' ? [ins[1]] : ['float32', ...(def.i ? (['int32'] as DType[]) : [])];
          for (const out of results) {
            const loads = ins.map((d, i) => ld(i, view([n]), d));
            const data = ins.map((d, i) => DTYPE_ARRAYS[d](n, 17 * i + 3));
            expectSameBits(ew([n], ins.length, [op(name, loads, out)]), data, `${name}(${ins.join(', ')}) -> ${out}`);
          }
        }
      });
    }

    it('against constants (max/min with a constant, pow with small constant exponents, casts)', () => {
      const x = ld(0, view([n]));
      const data = [specials(n, 5)];
      for (const c of [0, -0, 1, -1, 2.5, -Infinity, NaN]) {
        for (const o of ['max', 'min'] as const) expectSameBits(ew([n], 1, [op(o, [x, cst(c)]), op(o, [cst(c), x])]), data, `${o} with ${c}`);
      }
      for (const e of [0, 1, 2, 3, 4, -1, 0.5, -0.5, 1.5, 10]) {
        expectSameBits(ew([n], 1, [op('pow', [x, cst(e)]), op('pow', [x, cast(cst(e, 'int32'), 'float32')]), op('pow', [cst(e), x])]), data, `pow with ${e}`);
      }
      expectSameBits(ew([n], 1, [cast(x, 'int32'), cast(x, 'bool'), cast(cast(x, 'int32'), 'float32')]), data, 'casts');
    });

    it('through strided, broadcast, masked and gathered loads', () => {
      const a = randF32(6 * 7, 9, -3, 3);
      const idx = Int32Array.from({ length: 5 * 7 }, (_, i) => (i * 5) % 6);
      const body = (e: Expr) => op('tanh', [op('mul', [e, op('exp', [e])])]);
      expectSameBits(ew([7, 6], 1, [body(ld(0, view([7, 6], [1, 7])))]), [a], 'transposed');
      expectSameBits(ew([3, 6, 7], 1, [body(ld(0, view([3, 6, 7], [0, 7, 1])))]), [a], 'broadcast');
      expectSameBits(ew([8, 9], 1, [body(ld(0, view([8, 9], [7, 1], -8, [[1, 7], [1, 8]])))]), [a], 'padded');
      expectSameBits(ew([5, 7], 2, [body(ld(0, view([5, 7], [0, 1]), 'float32', { axis: 0, index: ld(1, view([5, 7]), 'int32') }))]), [a, idx], 'gathered');
    });
  });

  describe('builtins over the whole float32 range', () => {
    const xs = (() => {
      const r = rng(11);
      const out: number[] = [0, -0, Infinity, -Infinity, NaN];
      for (let e = -149; e <= 127; e++) for (let i = 0; i < 16; i++) { const v = Math.fround(2 ** e * (1 + r())); out.push(v, -v); }
      for (let i = 1; i < 3000; i++) { const v = Math.fround((i * Math.PI) / 4); out.push(v, -v, Math.fround(v * (1 + 2 ** -22))); }
      while (out.length % 4 !== 2) out.push(1);
      return Float32Array.from(out);
    })();
    for (const name of ['exp', 'log', 'sin', 'cos', 'tanh', 'erf', 'sqrt', 'round', 'floor'] as const) {
      it(name, () => expectSameBits(ew([xs.length], 1, [op(name, [ld(0, view([xs.length]))])]), [xs], name));
    }
    it('pow and remainder over mixed magnitudes', () => {
      const m = xs.length;
      const ys = Float32Array.from(xs, (_, i) => (i % 7 === 0 ? Math.round(Math.sin(i) * 12) : xs[(i * 7919) % m]));
      for (const name of ['pow', 'mod'] as const) {
        expectSameBits(ew([m], 2, [op(name, [ld(0, view([m])), ld(1, view([m]))])]), [xs, ys], name);
      }
    });
  });

  describe('reductions: accumulation order over row lengths and layouts', () => {
    const lengths = [1, 3, 4, 5, 15, 16, 17, 31, 63, 64, 65, 1023, 1024, 1025, 1041, 2055, 16 * 64 * 3 + 21];
    /** Values whose float32 sum depends on the order, with signed zeros and (optionally) a NaN. */
    const data = (len: number, seed: number, nan: boolean) => {
      const r = rng(seed);
      const a = Float32Array.from({ length: len }, (_, i) => (i % 13 === 0 ? (r() < 0.5 ? -0 : 0) : Math.fround((r() - 0.45) * 2 ** Math.floor(r() * 30 - 10))));
      if (nan && len > 2) a[len - 2] = NaN;
      return a;
    };
    for (const o of ['sum', 'prod', 'max', 'min', 'argmax', 'argmin'] as const) {
      it(`${o}: rows of every length, with and without NaN`, () => {
        for (const L of lengths) {
          for (const nan of [false, true]) {
            const x = data(3 * L, L, nan);
            const body = o === 'prod' ? op('add', [op('mul', [ld(0, view([3, L])), cst(1e-3)]), cst(1)]) : ld(0, view([3, L]));
            const out = acc(0, o.startsWith('arg') ? 'int32' : 'float32');
            expectSameBits(red([3], [L], 1, [{ op: o, body }], [{ expr: out, scope: 'outer' }]), [x], `${o} over ${L}${nan ? ' with NaN' : ''}`);
          }
        }
      });
    }
    it('several inner dims, permuted and broadcast inputs (other walk chunks)', () => {
      const x = data(4 * 9 * 70, 5, false);
      for (const o of ['sum', 'max', 'min', 'prod'] as const) {
        const body = (e: Expr) => (o === 'prod' ? op('add', [op('mul', [e, cst(1e-3)]), cst(1)]) : e);
        const cases: [string, Kernel][] = [
          ['[4] x [9, 70]', red([4], [9, 70], 1, [{ op: o, body: body(ld(0, view([4, 9, 70]))) }], [{ expr: acc(0), scope: 'outer' }])],
          ['[70] x [4, 9] permuted', red([70], [4, 9], 1, [{ op: o, body: body(ld(0, view([70, 4, 9], [1, 630, 70]))) }], [{ expr: acc(0), scope: 'outer' }])],
          ['[9] x [70, 4] transposed', red([9], [70, 4], 1, [{ op: o, body: body(ld(0, view([9, 70, 4], [70, 1, 630]))) }], [{ expr: acc(0), scope: 'outer' }])],
          ['[2] x [4, 9, 70] broadcast', red([2], [4, 9, 70], 1, [{ op: o, body: body(ld(0, view([2, 4, 9, 70], [0, 630, 70, 1]))) }], [{ expr: acc(0), scope: 'outer' }])],
          ['[4] x [9, 1, 70] padded', red([4], [9, 3, 70], 1, [{ op: o, body: body(ld(0, view([4, 9, 3, 70], [630, 70, 0, 1], 0, [[0, 4], [0, 9], [1, 2], [0, 70]]))) }], [{ expr: acc(0), scope: 'outer' }])],
        ];
        for (const [what, kernel] of cases) expectSameBits(kernel, [x], `${o} ${what}`);
      }
    });
    it('small windows walked across rows (pooling, depthwise conv)', () => {
      for (const o of ['sum', 'prod', 'max', 'min', 'argmax', 'argmin'] as const) {
        for (const { label, kernel, inputs } of windowKernels(o)) {
          expect(reduceLoopNest(kernel as ReduceKernel).acrossRows, label).toBe(true);
          expectSameBits(kernel, inputs, label);
        }
      }
    });
    it('int32 reductions, and float reductions of int bodies', () => {
      const xi = randI32(3 * 1041, 7, -50, 50);
      for (const o of ['sum', 'prod', 'max', 'min', 'argmax', 'argmin'] as const) {
        const body = ld(0, view([3, 1041]), 'int32');
        expectSameBits(red([3], [1041], 1, [{ op: o, body, dtype: 'int32' }], [{ expr: acc(0, 'int32'), scope: 'outer' }]), [xi], `int ${o}`);
        if (!o.startsWith('arg')) expectSameBits(red([3], [1041], 1, [{ op: o, body: cast(body, 'float32'), dtype: 'float32' }], [{ expr: acc(0), scope: 'outer' }]), [xi], `float ${o} of ints`);
      }
    });
    it('softmax, log-softmax and layerNorm rows (several passes, row caches, exp guards)', () => {
      for (const L of [7, 64, 1030, 4099]) {
        const x = randF32(5 * L, L, -30, 30);
        x[3] = NaN;
        const xl = ld(0, view([5, L]));
        const e = op('exp', [op('sub', [xl, acc(0)])]);
        expectSameBits(red([5], [L], 1, [{ op: 'max', body: xl }, { op: 'sum', body: e }], [{ expr: op('div', [e, acc(1)]), scope: 'full' }]), [x], `softmax ${L}`);
        expectSameBits(red([5], [L], 1, [{ op: 'max', body: xl }, { op: 'sum', body: e }],
          [{ expr: op('sub', [op('sub', [xl, acc(0)]), op('log', [acc(1)])]), scope: 'full' }]), [x], `logSoftmax ${L}`);
        const mean = op('div', [acc(0), cst(L)]);
        const c = op('sub', [xl, mean]);
        expectSameBits(red([5], [L], 1, [{ op: 'sum', body: xl }, { op: 'sum', body: op('mul', [c, c]) }],
          [{ expr: op('mul', [c, op('recip', [op('sqrt', [op('add', [op('div', [acc(1), cst(L)]), cst(1e-5)])])])]), scope: 'full' }]), [x], `layerNorm ${L}`);
      }
    });
  });

  describe('matmul', () => {
    const shapes: [number[], number, number, number][] = [[[], 1, 1, 1], [[], 37, 21, 129], [[], 5, 9, 0], [[3], 8, 13, 33], [[2, 2], 9, 8, 17], [[], 64, 70, 257]];
    for (const [batch, M, N, K] of shapes) {
      it(`[${batch}] ${M}x${K} @ ${K}x${N}`, () => {
        const b = batch.reduce((p, x) => p * x, 1);
        const A = randF32(b * M * K, M + K, -2, 2), B = randF32(b * K * N, N + K, -2, 2);
        const av = view([...batch, M, K]), bv = view([...batch, K, N]);
        expectSameBits(matmul(batch, M, N, K, av, bv), [A, B], 'plain');
        const epi = op('where', [op('lt', [acc(0), cst(0)]), op('exp', [acc(0)]), op('mul', [acc(0), ld(2, view([...batch, M, N], [...batch.map(() => 0), 0, 1]))])]);
        expectSameBits(matmul(batch, M, N, K, av, bv, epi, 3), [A, B, randF32(N, 4)], 'epilogue');
        if (!batch.length && M && K && N) {
          expectSameBits(matmul([], M, N, K, view([M, K], [1, M]), view([K, N], [1, K])), [A, B], 'transposed');
          expectSameBits(matmul([], M, N, K, av, bv), [randI32(M * K, 3, -9, 9), randI32(K * N, 4, -9, 9)], 'int32 operands');
        }
      });
    }
    it('3×3 stride-1 convolutions (Winograd on both tiers; an infinity sends a batch item to the direct sum)', () => {
      for (const c of [{ n: 2, cin: 16, cout: 19, h: 11, w: 13 }, { n: 1, cin: 20, cout: 16, h: 10, w: 9, pad: [0, 1] as [number, number], epilogue: 'bias-relu' as const }]) {
        const kc = convKernel(c);
        expect(winogradPlan(kc)).not.toBeNull();
        const x = randF32(c.n * c.cin * c.h * c.w, 5, -2, 2), wt = randF32(c.cout * c.cin * 9, 6, -1, 1);
        const extra = c.epilogue ? [randF32(c.cout, 7)] : [];
        expectSameBits(kc, [wt, x, ...extra], `conv ${JSON.stringify(c)}`);
        const xInf = x.slice();
        xInf[17] = Infinity;
        expectSameBits(kc, [wt, xInf, ...extra], `conv ${JSON.stringify(c)}, an infinite input`);
      }
    });
    it('3×3 stride-1 convolutions by Winograd F(4×4) (the winogradF4 option) on both tiers', async () => {
      const f4 = createWasmBackendSync({ winogradF4: true });
      await f4.ready();
      for (const c of [{ n: 2, cin: 16, cout: 19, h: 21, w: 13 }, { n: 1, cin: 20, cout: 16, h: 28, w: 28, pad: [0, 1] as [number, number], epilogue: 'bias-relu' as const }]) {
        const kc = convKernel(c);
        expect(winogradPlan(kc, true)?.r).toBe(4);
        const x = randF32(c.n * c.cin * c.h * c.w, 8, -2, 2), wt = randF32(c.cout * c.cin * 9, 9, -1, 1);
        const extra = c.epilogue ? [randF32(c.cout, 10)] : [];
        expectSameBits(kc, [wt, x, ...extra], `conv ${JSON.stringify(c)}`, f4);
        const xInf = x.slice();
        xInf[40] = -Infinity;
        expectSameBits(kc, [wt, xInf, ...extra], `conv ${JSON.stringify(c)}, an infinite input`, f4);
      }
    });
  });
});

describe('every op-info sample, eagerly on the wasm backend, gives the same bits on both tiers', () => {
  const wasm = k.getBackend('wasm') as WasmBackend;
  beforeAll(async () => { await k.ready(); });

  /** Outputs and (for differentiable rows) input gradients of one sample, read back. */
  function runSample(row: OpRow, sample: Sample): number[][] {
    k.manualSeed(3); // rows that draw random numbers draw the same ones on both tiers
    const which = (sample.grad ?? row.grad) ? gradInputs(sample) : [];
    const leaves = sample.inputs.map((s, i) => toKiln(s.base, 'wasm', which.includes(i)));
    const xs = leaves.map((t, i) => viewKiln(t, sample.inputs[i].view));
    let outs: Tensor[];
    try { outs = asList(row.op(xs, sample.args)); } catch (e) { return [[NaN], [String((e as Error).message).length]]; }
    const res = outs.map((o) => Array.from(o.data()));
    const cots = cotangents(asList(row.ref(sample.inputs.map((s) => viewRef(s.base, s.view)), sample.args)), R.hashString(`${row.name}|${sample.desc}`));
    let loss: Tensor | null = null;
    outs.forEach((o, j) => {
      if (!cots[j] || !o.requiresGrad) return;
      const term = o.mul(toKiln(cots[j]!, 'wasm')).sum();
      loss = loss ? loss.add(term) : term;
    });
    if (loss) (loss as Tensor).backward();
    for (const i of which) res.push(leaves[i].grad ? Array.from(leaves[i].grad!.data()) : []);
    return res;
  }

  for (const row of OPINFO) {
    it(row.name, () => {
      for (const sample of row.samples) {
        wasm.forceTier('js');
        const js = runSample(row, sample);
        wasm.forceTier('wasm');
        const wa = runSample(row, sample);
        wasm.forceTier(null);
        expect(js.length, sample.desc).toBe(wa.length);
        js.forEach((a, j) => expect(diffs(a, wa[j]), `${sample.desc}: ${j < js.length ? `result ${j}` : ''}`).toEqual([]));
      }
    });
  }
});

describe('switching tiers', () => {
  const wasm = k.getBackend('wasm') as WasmBackend;
  beforeAll(async () => { await k.ready(); });

  /** A small MLP trained for `steps` steps, switching from the JS tier to WebAssembly at `switchAt`. */
  function train(switchAt: number, compiled: boolean, steps = 14): number[] {
    k.manualSeed(7);
    const l1 = new k.nn.Linear(6, 16), l2 = new k.nn.Linear(16, 3);
    const params = [...l1.parameters(), ...l2.parameters()];
    const opt = new k.optim.Adam(params, { lr: 0.01 });
    const x = k.randn([32, 6]);
    const y = k.randint(0, 3, [32]);
    const step = (a: Tensor, b: Tensor) => {
      opt.zeroGrad();
      const loss = k.nn.crossEntropy(l2.forward(l1.forward(a).gelu()).softmax(-1).add(1e-3).log(), b);
      loss.backward();
      opt.step();
      return loss;
    };
    const run = compiled ? k.compile(step) : step;
    const losses: number[] = [];
    for (let s = 0; s < steps; s++) {
      wasm.forceTier(s < switchAt ? 'js' : 'wasm');
      losses.push(run(x, y).item() as number);
    }
    wasm.forceTier(null);
    return losses;
  }

  for (const compiled of [false, true]) {
    it(`a training loop gives identical losses whichever step binaryen arrives at (${compiled ? 'compiled' : 'eager'})`, () => {
      const runs = [0, 1, 5, 9, 14].map((s) => train(s, compiled));
      for (const r of runs.slice(1)) expect(diffs(r, runs[0])).toEqual([]);
      expect(runs[0][13]).toBeLessThan(runs[0][0]); // it does learn
    });
  }

  it('kernels run before binaryen loaded move to WebAssembly once it has (programs replay the same kernels)', async () => {
    const be = createWasmBackendSync();
    expect(be.tier).toBe('js');
    const n = 1000;
    const kernel = ew([n], 1, [op('exp', [ld(0, view([n]))])]);
    const x = randF32(n, 2);
    const before = runSync(be, kernel, [x]);
    expect(be.stats().compiled).toBe(0);
    await be.ready();
    expect(be.tier).toBe('wasm');
    const after = runSync(be, kernel, [x]);
    expect(be.stats().compiled).toBe(1);
    expect(diffs(before[0], after[0])).toEqual([]);
  });

  it('a function compiled and first called on the JS tier runs WebAssembly kernels after the switch', () => {
    const f = k.compile((a: Tensor) => a.mul(3).exp().sum(-1));
    const a = k.randn([8, 40]);
    wasm.forceTier('js');
    const c0 = wasm.stats().compiled;
    const r1 = Array.from(f(a).data());
    expect(wasm.stats().compiled).toBe(c0);
    wasm.forceTier(null);
    const hits = wasm.stats().cacheHits, c1 = wasm.stats().compiled;
    const r2 = Array.from(f(a).data());
    expect(wasm.stats().compiled + wasm.stats().cacheHits).toBeGreaterThan(c1 + hits);
    expect(diffs(r1, r2)).toEqual([]);
  });
});
