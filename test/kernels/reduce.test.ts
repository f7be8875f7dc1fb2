// Reduce kernels on every backend against the cpu reference: every op and dtype over many outer/inner
// shapes (SIMD rows and tails; a thread per short row or a workgroup tree per long one), strided,
// permuted, broadcast and padded inputs, NaN and tie rules of argmax/argmin, int reductions, empty
// and 0-d shapes, multi-reduction softmax and layerNorm with 'full' outputs, long float sums.
import { describe, expect, it } from 'vitest';
import type { DType } from '../../src/core/dtype.js';
import type { Expr, ReduceKernel, ReduceOp } from '../../src/core/kernel.js';
import { sizeOf } from '../../src/core/shape.js';
import { SERIAL_ROW_MAX } from '../../backends/webgpu/codegen.js';
import { reduceLoopNest } from '../../backends/wasm/reduce.js';
import { acc, cast, check, cst, forEachKernelBackend, host, ld, op, randF32, randI32, random, red, rng, runOn, startBackends, view, windowKernels, type Tol } from './helpers.js';

const BACKENDS = await startBackends('kernels/reduce.test.ts');

const OPS: ReduceOp[] = ['sum', 'prod', 'max', 'min', 'argmax', 'argmin'];
const isArg = (r: ReduceOp) => r === 'argmax' || r === 'argmin';
/** The tolerance of the cases whose comparisons had no explicit one. */
const LOOSE: Tol = { rtol: 1e-5, atol: 1e-6 };

/** A single reduction of `body` over `inner`, one 'outer' output. */
function reduce1(outer: number[], inner: number[], rop: ReduceOp, body: Expr, dtype: DType, nInputs = 1): ReduceKernel {
  const rdt: DType = isArg(rop) ? 'int32' : dtype;
  return red(outer, inner, nInputs, [{ op: rop, body, dtype: rdt }], [{ expr: acc(0, rdt), dtype: rdt, scope: 'outer' }]);
}

/** Data for a reduction: prod stays near 1 (float) or ±1/2 (int) so products neither overflow nor vanish. */
function dataFor(rop: ReduceOp, dt: DType, n: number, seed: number) {
  if (rop === 'prod') {
    const r = rng(seed);
    if (dt === 'float32') return host(dt, Array.from({ length: n }, () => 0.9 + 0.2 * r()));
    if (dt === 'int32') return host(dt, Array.from({ length: n }, (_, i) => (i % 29 === 0 ? 2 : r() < 0.5 ? -1 : 1)));
  }
  // Small integers make ties common, which checks the first-occurrence rule of argmax/argmin.
  if (isArg(rop)) return dt === 'bool' ? random('bool', n, seed) : host(dt, random('int32', n, seed, -4, 4));
  return random(dt, n, seed, -3, 3);
}

forEachKernelBackend(BACKENDS, (be) => {
  describe('reductions', () => {
    it('every op over outer/inner shapes (SIMD rows, tails, single elements)', async () => {
      const shapes: [number[], number[]][] = [
        [[], [1]], [[], [7]], [[3], [1]], [[5], [4]], [[4], [9]], [[2], [1023]], [[3], [1025]], [[7], [64]],
        [[2, 3], [5]], [[3], [4, 6]], [[2], [3, 2, 5]], [[1], [5000]], [[6], [3]],
      ];
      for (const [outer, inner] of shapes) {
        const shape = [...outer, ...inner];
        const n = sizeOf(shape);
        const x = randF32(n, n + outer.length, 0.5, 1.5);
        for (const r of OPS) {
          const k = red(outer, inner, 1, [{ op: r, body: ld(0, view(shape)) }], [{ expr: acc(0, isArg(r) ? 'int32' : 'float32'), scope: 'outer' }]);
          await check(be, k, [x], { tol: { rtol: r === 'prod' ? 2e-5 : 3e-6, atol: 1e-6 }, label: `${r} ${outer}|${inner}` });
        }
      }
    });

    const shapes: [string, number[], number[]][] = [
      ['short rows (a thread per row)', [3, 2], [5]],
      ['long rows (workgroup tree)', [4], [300]],
      ['2-d inner, tree', [3], [2, 40]],
    ];
    for (const rop of OPS) {
      for (const dt of ['float32', 'int32', 'bool'] as DType[]) {
        if (dt === 'bool' && rop === 'prod') continue;
        for (const [label, outer, inner] of shapes) {
          it(`${rop} over ${dt}: ${label}`, async () => {
            const shape = [...outer, ...inner];
            const body = ld(0, shape, dt);
            // sum/max/min of bool accumulate as int32 (as torch.sum of a bool tensor)
            const rdt: DType = dt === 'bool' && (rop === 'sum' || rop === 'max' || rop === 'min') ? 'int32' : dt;
            const k = reduce1(outer, inner, rop, dt === 'bool' && rdt === 'int32' ? cast(body, 'int32') : body, rdt);
            await check(be, k, [dataFor(rop, dt, sizeOf(shape), 31 + shape.length)], { tol: { rtol: 1e-5, atol: 1e-4 } });
          });
        }
      }
    }

    it('reductions over strided / permuted / broadcast / padded inputs', async () => {
      // reduce dim 0 of a [6, 10] tensor: permuted view [10 | 6]
      const x = randF32(60, 3);
      for (const r of OPS) {
        const k = red([10], [6], 1, [{ op: r, body: ld(0, view([10, 6], [1, 10])) }], [{ expr: acc(0, isArg(r) ? 'int32' : 'float32'), scope: 'outer' }]);
        await check(be, k, [x], { tol: { rtol: 3e-6 }, label: r });
      }
      // flipped rows and a broadcast factor
      const y = randF32(40, 4), s = randF32(4, 5);
      const body = op('mul', [ld(0, view([4, 10], [10, -1], 9)), ld(1, view([4, 10], [1, 0]))]);
      await check(be, red([4], [10], 2, [{ op: 'sum', body }], [{ expr: acc(0), scope: 'outer' }]), [y, s]);
      // masked (padded) rows
      const z = randF32(30, 6);
      const bodyP = ld(0, view([5, 8], [6, 1], -1, [[0, 5], [1, 7]]));
      await check(be, red([5], [8], 1, [{ op: 'max', body: bodyP }], [{ expr: acc(0), scope: 'outer' }]), [z]);
    });

    it('small windows (pooling, depthwise conv): steps 1 and 2, flipped, masked, NaN and signed zeros', async () => {
      for (const rop of ['sum', 'prod', 'max', 'min', 'argmax', 'argmin'] as const) {
        for (const { label, kernel, inputs } of windowKernels(rop)) await check(be, kernel, inputs, { tol: { rtol: 1e-5, atol: 1e-5 }, label });
      }
    });

    it('small windows with several reductions, later ones reading earlier results (max pooling through its argmax, a variance through its mean)', async () => {
      for (const { label, kernel, inputs } of windowKernels('argmax')) {
        const [{ body: x }] = kernel.reductions;
        const [N, C, Ho, Wo, kh, kw] = [...kernel.outer, ...kernel.inner];
        const tap = ld(1, view([N, C, Ho, Wo, kh, kw], [0, 0, 0, 0, kw, 1]), 'int32');
        const taps = cst(1 / (kh * kw));
        const dev = op('sub', [x, op('mul', [acc(2), taps])]);
        const k = red([N, C, Ho, Wo], [kh, kw], 2, [
          { op: 'argmax', body: x },
          { op: 'sum', body: op('where', [op('eq', [acc(0, 'int32'), tap]), x, cst(0)]) },
          { op: 'sum', body: x },
          { op: 'sum', body: op('mul', [dev, dev]) },
          { op: 'max', body: x },
        ], [
          { expr: acc(0, 'int32'), scope: 'outer' }, { expr: acc(1), scope: 'outer' },
          { expr: op('mul', [acc(3), taps]), scope: 'outer' }, { expr: op('sub', [acc(4), acc(1)]), scope: 'outer' },
        ]);
        expect(reduceLoopNest(k).acrossRows, `${label}: wasm walks it across rows`).toBe(true);
        await check(be, k, [inputs[0], Int32Array.from({ length: kh * kw }, (_, i) => i)], { tol: { rtol: 1e-5, atol: 1e-5 }, label: `${label}: argmax, value at it, variance` });
      }
    });

    it('a reduction over a middle axis (permuted view) with a masked (padded) prologue', async () => {
      // x: [4, 6, 5]; reduce axis 1 -> iteration [4, 5 | 6]; pad that axis by 1 on both sides -> 8
      const v = view([4, 5, 8], [30, 1, 5], -5, [[0, 4], [0, 5], [1, 7]]);
      const k = reduce1([4, 5], [8], 'sum', op('mul', [ld(0, v), cst(2)]), 'float32');
      await check(be, k, [random('float32', 120, 6)], { tol: { rtol: 1e-5, atol: 1e-5 } });
    });

    it('argmax/argmin: first occurrence, NaN wins, ties across SIMD lanes and the tail', async () => {
      const rows = 6, n = 23;
      const x = new Float32Array(rows * n).fill(1);
      x[0 * n + 5] = 3; x[0 * n + 17] = 3; // tie: first wins
      x[1 * n + 9] = NaN; x[1 * n + 21] = NaN; x[1 * n + 2] = 5; // NaN wins, first NaN
      x[2 * n + 22] = 7; // max in the scalar tail
      x.fill(-Infinity, 3 * n, 4 * n); // all -Inf: index 0
      x[4 * n + 3] = -0; x[4 * n + 1] = 0; x.fill(-1, 4 * n + 4, 5 * n); x[4 * n + 0] = -1; x[4 * n + 2] = -2; // +0 == -0: first
      for (let i = 0; i < n; i++) x[5 * n + i] = (i % 4) - 10; // ties in every lane
      for (const r of ['argmax', 'argmin'] as const) {
        const k = red([rows], [n], 1, [{ op: r, body: ld(0, view([rows, n])) }], [{ expr: acc(0, 'int32'), scope: 'outer' }]);
        await check(be, k, [x], { label: r });
      }
      const xi = randI32(5 * 37, 2, -3, 3);
      for (const r of ['argmax', 'argmin', 'max', 'min', 'sum'] as const) {
        const k = red([5], [37], 1, [{ op: r, body: ld(0, view([5, 37]), 'int32') }], [{ expr: acc(0, 'int32'), scope: 'outer' }]);
        await check(be, k, [xi], { label: `int ${r}` });
      }
    });

    it('ties in a long row: argmax/argmin give the first occurrence across threads', async () => {
      const inner = 1000;
      const data = new Array(inner).fill(1);
      data[700] = 5; data[300] = 5; data[900] = 5; data[10] = -2; data[600] = -2;
      for (const rop of ['argmax', 'argmin'] as ReduceOp[]) {
        const r = await check(be, reduce1([], [inner], rop, ld(0, [inner]), 'float32'), [host('float32', data)], { tol: LOOSE });
        expect(r.got[0][0]).toBe(rop === 'argmax' ? 300 : 10);
      }
    });

    it('NaN propagates through max/min/sum/prod', async () => {
      const x = randF32(4 * 19, 1);
      x[19 + 3] = NaN; x[2 * 19 + 18] = NaN;
      for (const r of ['max', 'min', 'sum', 'prod'] as const) {
        await check(be, red([4], [19], 1, [{ op: r, body: ld(0, view([4, 19])) }], [{ expr: acc(0), scope: 'outer' }]), [x], { tol: { rtol: 1e-5 } });
      }
    });

    for (const inner of [7, 200]) {
      it(`NaN propagates through max/min and wins argmax/argmin; all -Inf rows (inner ${inner})`, async () => {
        const rows = 5;
        const data = random('float32', rows * inner, 77);
        data[1 * inner + 3] = NaN; // row 1: one NaN
        data[2 * inner + 2] = NaN; data[2 * inner + inner - 1] = NaN; // row 2: two NaNs, the first wins
        for (let j = 0; j < inner; j++) data[3 * inner + j] = -Infinity; // row 3: all -Inf -> argmax 0
        data[4 * inner + inner - 1] = Infinity; // row 4: +Inf last
        const x = ld(0, [rows, inner]);
        for (const rop of OPS.filter((o) => o !== 'sum' && o !== 'prod')) {
          await check(be, reduce1([rows], [inner], rop, x, 'float32'), [data], { tol: LOOSE, label: rop });
        }
      });
    }

    it('int and bool bodies: sum of a predicate, wrapping int sums', async () => {
      const x = randF32(3 * 50, 7);
      const count = red([3], [50], 1, [{ op: 'sum', body: cast(op('lt', [cst(0), ld(0, view([3, 50]))]), 'int32'), dtype: 'int32' }], [{ expr: acc(0, 'int32'), scope: 'outer' }]);
      await check(be, count, [x]);
      const big = Int32Array.from({ length: 64 }, () => 2000000000);
      await check(be, red([2], [32], 1, [{ op: 'sum', body: ld(0, view([2, 32]), 'int32') }], [{ expr: acc(0, 'int32'), scope: 'outer' }]), [big]);
    });

    it('empty inner dims give the identities (sum 0, max -Inf, argmax 0); empty outer does nothing', async () => {
      for (const r of OPS) {
        const k = red([3], [0], 1, [{ op: r, body: ld(0, view([3, 0])) }], [{ expr: acc(0, isArg(r) ? 'int32' : 'float32'), scope: 'outer' }]);
        await check(be, k, [new Float32Array(0)], { label: `${r} of empty rows` });
        await check(be, reduce1([0], [5], r, ld(0, [0, 5]), 'float32'), [new Float32Array(0)], { label: `${r} of no rows` });
      }
      const [o] = await runOn(be, red([0], [5], 1, [{ op: 'sum', body: ld(0, view([0, 5])) }], [{ expr: acc(0), scope: 'outer' }]), [new Float32Array(0)]);
      expect(o.length).toBe(0);
    });

    it('0-d: a full reduction to a scalar, and a reduction of nothing over a 0-d space', async () => {
      await check(be, reduce1([], [37], 'sum', ld(0, [37]), 'float32'), [random('float32', 37, 5)], { tol: { rtol: 1e-5, atol: 1e-5 } });
      await check(be, reduce1([], [], 'max', ld(0, []), 'float32'), [host('float32', [4.5])], { tol: LOOSE });
    });

    it('softmax as one kernel: max, sum of exp(x - max), full output exp(x - max) / sum', async () => {
      for (const [rows, n] of [[4, 1024], [3, 37], [5, 3], [2, 1]]) {
        const x = randF32(rows * n, rows + n, -8, 8);
        const xl = ld(0, view([rows, n]));
        const e = op('exp', [op('sub', [xl, acc(0)])]);
        const k = red([rows], [n], 1, [{ op: 'max', body: xl }, { op: 'sum', body: e }], [{ expr: op('div', [e, acc(1)]), scope: 'full' }]);
        await check(be, k, [x], { tol: { rtol: 2e-6, atol: 1e-8 }, label: `softmax ${rows}x${n}` });
      }
    });

    for (const [rows, cols] of [[6, 10], [5, 1000], [3, SERIAL_ROW_MAX + 1]]) {
      it(`softmax with a logsumexp output (${rows}x${cols})`, async () => {
        const x = ld(0, [rows, cols]);
        const e = op('exp', [op('sub', [x, acc(0)])]);
        const k = red([rows], [cols], 1, [{ op: 'max', body: x }, { op: 'sum', body: e }], [
          { expr: op('div', [e, acc(1)]), scope: 'full' },
          { expr: op('add', [acc(0), op('log', [acc(1)])]), scope: 'outer' }, // logsumexp
        ]);
        await check(be, k, [random('float32', rows * cols, 8, -10, 10)], { tol: { rtol: 1e-5, atol: 1e-6 } });
      });
    }

    it('softmax rows whose exp arguments leave the normal range (masked -Inf, huge spreads, NaN) redo exactly', async () => {
      const rows = 8, n = 67;
      const x = randF32(rows * n, 3, -5, 5);
      for (let i = 0; i < n; i += 3) x[i] = -Infinity; // row 0: attention-style masking
      for (let i = 0; i < n; i++) x[n + i] = -i * 3; // row 1: exp arguments down to -198 (subnormal and zero results)
      x[2 * n + 5] = NaN; // row 2: NaN poisons the row
      x[3 * n + 66] = 80; // row 3: a large max in the scalar tail
      x[6 * n + 66] = NaN; // row 6: NaN in the scalar tail
      x[7 * n + 10] = Infinity; // row 7: +Inf max, so Inf - Inf
      const xl = ld(0, view([rows, n]));
      const e = op('exp', [op('sub', [xl, acc(0)])]);
      // The max pass skips NaN tracking here (exp(x - max) re-checks); the max output must still be NaN.
      const k = red([rows], [n], 1, [{ op: 'max', body: xl }, { op: 'sum', body: e }],
        [{ expr: op('div', [e, acc(1)]), scope: 'full' }, { expr: acc(1), scope: 'outer' }, { expr: acc(0), scope: 'outer' }]);
      await check(be, k, [x], { tol: { rtol: 2e-6, atol: 1e-30 } });
      // The same with a row-invariant body (a value broadcast along the row): its exp is hoisted, unguarded.
      const col = randF32(4, 6, -5, 5);
      col[2] = NaN;
      const bl = ld(0, view([4, 8], [1, 0]));
      const eb = op('exp', [op('sub', [bl, acc(0)])]);
      await check(be, red([4], [8], 1, [{ op: 'max', body: bl }, { op: 'sum', body: eb }],
        [{ expr: acc(0), scope: 'outer' }, { expr: acc(1), scope: 'outer' }]), [col], { tol: { rtol: 2e-6, atol: 1e-30 } });
      // logsumexp-like: sum of exp(x) with no max subtraction overflows to Inf exactly as the reference does
      const y = randF32(4 * 40, 4, -120, 95);
      await check(be, red([4], [40], 1, [{ op: 'sum', body: op('exp', [ld(0, view([4, 40]))]) }], [{ expr: acc(0), scope: 'outer' }]), [y], { tol: { rtol: 2e-6, atol: 1e-38 } });
    });

    it('layerNorm as one kernel: mean, variance, full output with weight and bias', async () => {
      const cases: [number, number, () => Float32Array[], number][] = [
        ...[[3, 1024], [4, 33], [2, 2]].map(([rows, n]): [number, number, () => Float32Array[], number] => [rows, n, () => [randF32(rows * n, 2, -3, 5), randF32(n, 3), randF32(n, 4)], 1e-5]),
        ...[[4, 16], [3, 768]].map(([rows, n]): [number, number, () => Float32Array[], number] => [rows, n, () => [random('float32', rows * n, 9, -2, 5), random('float32', n, 10), random('float32', n, 11)] as Float32Array[], 1e-4]),
      ];
      for (const [rows, n, inputs, tol] of cases) {
        const [x, wt, bs] = inputs();
        const xl = ld(0, view([rows, n]));
        const mean = op('div', [acc(0), cst(n)]);
        const d = op('sub', [xl, mean]);
        const rstd = op('recip', [op('sqrt', [op('add', [op('div', [acc(1), cst(n)]), cst(1e-5)])])]);
        const out = op('add', [op('mul', [op('mul', [d, rstd]), ld(1, view([rows, n], [0, 1]))]), ld(2, view([rows, n], [0, 1]))]);
        const k = red([rows], [n], 3, [{ op: 'sum', body: xl }, { op: 'sum', body: op('mul', [d, d]) }],
          [{ expr: out, scope: 'full' }, { expr: mean, scope: 'outer' }, { expr: rstd, scope: 'outer' }]);
        await check(be, k, [x, wt, bs], { tol: { rtol: tol, atol: 1e-5 }, label: `layerNorm ${rows}x${n}` });
      }
    });

    it('full outputs through strided views and multi-dim inner', async () => {
      const x = randF32(2 * 3 * 8, 5);
      const xl = ld(0, view([2, 3, 8]));
      const k = red([2], [3, 8], 1, [{ op: 'sum', body: xl }, { op: 'argmax', body: xl }],
        [{ expr: op('sub', [xl, op('div', [acc(0), cst(24)])]), scope: 'full', view: view([2, 3, 8], [1, 2, 6]) },
          { expr: acc(1, 'int32'), scope: 'outer' }]);
      await check(be, k, [x], { tol: { rtol: 1e-5, atol: 1e-6 }, outputs: [{ init: new Float32Array(48) }, {}] });
    });

    it('a per-row output that loads an outer-shaped input, and an in-place per-row store', async () => {
      const k = red([3, 4], [50], 2, [{ op: 'max', body: ld(0, [3, 4, 50]) }],
        [{ expr: op('mul', [acc(0), ld(1, [3, 4])]), scope: 'outer', view: view([3, 4], [1, 3], 2) }]);
      await check(be, k, [random('float32', 600, 12), random('float32', 12, 13)], { tol: LOOSE, outputs: [{ init: random('float32', 16, 14) }] });
    });

    it('long float sums stay close to the float64 reference (blocked partial sums)', async () => {
      const n = 1 << 20;
      const x = randF32(n, 9, 0, 1);
      let exact = 0;
      for (let i = 0; i < n; i++) exact += x[i];
      const [o] = await runOn(be, red([], [n], 1, [{ op: 'sum', body: ld(0, view([n])) }], [{ expr: acc(0), scope: 'outer' }]), [x]);
      const rel = Math.abs(o[0] - exact) / exact;
      console.log(`[${be.name} reduce] sum of 2^20 uniform floats: relative error ${rel.toExponential(2)} vs float64`);
      expect(rel).toBeLessThan(2e-7);
    });
  });
});
