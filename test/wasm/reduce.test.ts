// Reduce kernels on wasm vs the cpu reference: every op over many outer/inner shapes, strided and
// permuted inputs, NaN/tie semantics of argmax/argmin, int reductions, multi-reduction softmax and
// layerNorm with 'full' outputs, empty rows, and accuracy of long float sums.
import { describe, expect, it } from 'vitest';
import type { ReduceOp } from '../../src/core/kernel.js';
import { acc, cast, check, cst, getWasm, ld, op, randF32, randI32, red, runOn, view } from './helpers.js';

const OPS: ReduceOp[] = ['sum', 'prod', 'max', 'min', 'argmax', 'argmin'];

describe('reductions (wasm vs cpu)', () => {
  it('every op over outer/inner shapes (SIMD rows, tails, single elements)', async () => {
    const shapes: [number[], number[]][] = [
      [[], [1]], [[], [7]], [[3], [1]], [[5], [4]], [[4], [9]], [[2], [1023]], [[3], [1025]], [[7], [64]],
      [[2, 3], [5]], [[3], [4, 6]], [[2], [3, 2, 5]], [[1], [5000]], [[6], [3]],
    ];
    for (const [outer, inner] of shapes) {
      const shape = [...outer, ...inner];
      const n = shape.reduce((a, b) => a * b, 1);
      const x = randF32(n, n + outer.length, 0.5, 1.5);
      for (const r of OPS) {
        const body = ld(0, view(shape));
        const k = red(outer, inner, 1, [{ op: r, body }], [{ expr: acc(0, r.startsWith('arg') ? 'int32' : 'float32'), scope: 'outer' }]);
        await check(k, [x], { rtol: r === 'prod' ? 2e-5 : 3e-6, atol: 1e-6 }, undefined, `${r} ${outer}|${inner}`);
      }
    }
  });

  it('reductions over strided / permuted / broadcast inputs', async () => {
    // reduce dim 0 of a [6, 10] tensor: permuted view [10 | 6]
    const x = randF32(60, 3);
    for (const r of OPS) {
      const k = red([10], [6], 1, [{ op: r, body: ld(0, view([10, 6], [1, 10])) }], [{ expr: acc(0, r.startsWith('arg') ? 'int32' : 'float32'), scope: 'outer' }]);
      await check(k, [x], { rtol: 3e-6 }, undefined, r);
    }
    // flipped rows and a broadcast factor
    const y = randF32(40, 4), s = randF32(4, 5);
    const body = op('mul', [ld(0, view([4, 10], [10, -1], 9)), ld(1, view([4, 10], [1, 0]))]);
    await check(red([4], [10], 2, [{ op: 'sum', body }], [{ expr: acc(0), scope: 'outer' }]), [y, s]);
    // masked (padded) rows
    const z = randF32(30, 6);
    const bodyP = ld(0, view([5, 8], [6, 1], -1, [[0, 5], [1, 7]]));
    await check(red([5], [8], 1, [{ op: 'max', body: bodyP }], [{ expr: acc(0), scope: 'outer' }]), [z]);
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
      await check(k, [x], {}, undefined, r);
    }
    const xi = randI32(5 * 37, 2, -3, 3);
    for (const r of ['argmax', 'argmin', 'max', 'min', 'sum'] as const) {
      const k = red([5], [37], 1, [{ op: r, body: ld(0, view([5, 37]), 'int32') }], [{ expr: acc(0, 'int32'), scope: 'outer' }]);
      await check(k, [xi], {}, undefined, `int ${r}`);
    }
  });

  it('NaN propagates through max/min/sum', async () => {
    const x = randF32(4 * 19, 1);
    x[19 + 3] = NaN; x[2 * 19 + 18] = NaN;
    for (const r of ['max', 'min', 'sum', 'prod'] as const) {
      await check(red([4], [19], 1, [{ op: r, body: ld(0, view([4, 19])) }], [{ expr: acc(0), scope: 'outer' }]), [x], { rtol: 1e-5 });
    }
  });

  it('int and bool bodies: sum of a predicate, wrapping int sums', async () => {
    const x = randF32(3 * 50, 7);
    const count = red([3], [50], 1, [{ op: 'sum', body: cast(op('lt', [cst(0), ld(0, view([3, 50]))]), 'int32'), dtype: 'int32' }], [{ expr: acc(0, 'int32'), scope: 'outer' }]);
    await check(count, [x]);
    const big = Int32Array.from({ length: 64 }, () => 2000000000);
    await check(red([2], [32], 1, [{ op: 'sum', body: ld(0, view([2, 32]), 'int32') }], [{ expr: acc(0, 'int32'), scope: 'outer' }]), [big]);
  });

  it('softmax as one kernel: max, sum of exp(x - max), full output exp(x - max) / sum', async () => {
    for (const [rows, n] of [[4, 1024], [3, 37], [5, 3], [2, 1]]) {
      const x = randF32(rows * n, rows + n, -8, 8);
      const xl = ld(0, view([rows, n]));
      const e = op('exp', [op('sub', [xl, acc(0)])]);
      const k = red([rows], [n], 1, [{ op: 'max', body: xl }, { op: 'sum', body: e }],
        [{ expr: op('div', [e, acc(1)]), scope: 'full' }]);
      await check(k, [x], { rtol: 2e-6, atol: 1e-8 }, undefined, `softmax ${rows}x${n}`);
    }
  });

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
    await check(k, [x], { rtol: 2e-6, atol: 1e-30 });
    // The same with a row-invariant body (a value broadcast along the row): its exp is hoisted, unguarded.
    const col = randF32(4, 6, -5, 5);
    col[2] = NaN;
    const bl = ld(0, view([4, 8], [1, 0]));
    const eb = op('exp', [op('sub', [bl, acc(0)])]);
    await check(red([4], [8], 1, [{ op: 'max', body: bl }, { op: 'sum', body: eb }],
      [{ expr: acc(0), scope: 'outer' }, { expr: acc(1), scope: 'outer' }]), [col], { rtol: 2e-6, atol: 1e-30 });
    // logsumexp-like: sum of exp(x) with no max subtraction overflows to Inf exactly as the reference does
    const y = randF32(4 * 40, 4, -120, 95);
    await check(red([4], [40], 1, [{ op: 'sum', body: op('exp', [ld(0, view([4, 40]))]) }], [{ expr: acc(0), scope: 'outer' }]), [y], { rtol: 2e-6, atol: 1e-38 });
  });

  it('layerNorm as one kernel: mean, variance, full output with weight and bias', async () => {
    for (const [rows, n] of [[3, 1024], [4, 33], [2, 2]]) {
      const x = randF32(rows * n, 2, -3, 5), wt = randF32(n, 3), bs = randF32(n, 4);
      const xl = ld(0, view([rows, n]));
      const mean = op('div', [acc(0), cst(n)]);
      const d = op('sub', [xl, mean]);
      const rstd = op('recip', [op('sqrt', [op('add', [op('div', [acc(1), cst(n)]), cst(1e-5)])])]);
      const out = op('add', [op('mul', [op('mul', [d, rstd]), ld(1, view([rows, n], [0, 1]))]), ld(2, view([rows, n], [0, 1]))]);
      const k = red([rows], [n], 3, [{ op: 'sum', body: xl }, { op: 'sum', body: op('mul', [d, d]) }],
        [{ expr: out, scope: 'full' }, { expr: mean, scope: 'outer' }, { expr: rstd, scope: 'outer' }]);
      await check(k, [x, wt, bs], { rtol: 1e-5, atol: 1e-5 }, undefined, `layerNorm ${rows}x${n}`);
    }
  });

  it('full outputs through strided views and multi-dim inner', async () => {
    const x = randF32(2 * 3 * 8, 5);
    const xl = ld(0, view([2, 3, 8]));
    const k = red([2], [3, 8], 1, [{ op: 'sum', body: xl }, { op: 'argmax', body: xl }],
      [{ expr: op('sub', [xl, op('div', [acc(0), cst(24)])]), scope: 'full', view: view([2, 3, 8], [1, 2, 6]) },
        { expr: acc(1, 'int32'), scope: 'outer' }]);
    await check(k, [x], { rtol: 1e-5, atol: 1e-6 }, [{ init: new Float32Array(48) }, {}]);
  });

  it('empty inner dims give the identities; empty outer does nothing', async () => {
    const w = await getWasm();
    for (const r of OPS) {
      const k = red([3], [0], 1, [{ op: r, body: ld(0, view([3, 0])) }], [{ expr: acc(0, r.startsWith('arg') ? 'int32' : 'float32'), scope: 'outer' }]);
      await check(k, [new Float32Array(0)], {}, undefined, r);
    }
    const k = red([0], [5], 1, [{ op: 'sum', body: ld(0, view([0, 5])) }], [{ expr: acc(0), scope: 'outer' }]);
    const [o] = runOn(w, k, [new Float32Array(0)]);
    expect(o.length).toBe(0);
  });

  it('long float sums stay close to the float64 reference (blocked f32x4 + f64 flush)', async () => {
    const n = 1 << 20;
    const x = randF32(n, 9, 0, 1);
    let exact = 0;
    for (let i = 0; i < n; i++) exact += x[i];
    const w = await getWasm();
    const [o] = runOn(w, red([], [n], 1, [{ op: 'sum', body: ld(0, view([n])) }], [{ expr: acc(0), scope: 'outer' }]), [x]);
    const rel = Math.abs(o[0] - exact) / exact;
    console.log(`[wasm reduce] sum of 2^20 uniform floats: relative error ${rel.toExponential(2)} vs float64`);
    expect(rel).toBeLessThan(2e-7);
  });
});
