// Reduce kernels on webgpu against the cpu reference: every reduce op and dtype, in both strategies
// (a thread per short row, a workgroup tree per long row), NaN and tie rules, empty and 0-d shapes,
// and multi-reduction rows as softmax and layerNorm lower to them.
import { afterAll, describe, expect, it } from 'vitest';
import type { DType } from '../../src/core/dtype.js';
import type { Expr, Kernel, ReduceKernel, ReduceOp } from '../../src/core/kernel.js';
import { sizeOf } from '../../src/core/shape.js';
import { SERIAL_ROW_MAX } from '../../backends/webgpu/codegen.js';
import { acc, cast, compareKernel, cst, host, ld, op, random, rng, startWebGpu, view, type HostArray } from './helpers.js';

const { gpu, reason } = await startWebGpu('reduce.test.ts');
afterAll(() => gpu?.destroy());

/** A single reduction of `body` over `inner`, one 'outer' output. */
function reduce1(outer: number[], inner: number[], rop: ReduceOp, body: Expr, dtype: DType, nInputs = 1): ReduceKernel {
  const rdt: DType = rop === 'argmax' || rop === 'argmin' ? 'int32' : dtype;
  return {
    kind: 'reduce', outer, inner, nInputs,
    reductions: [{ op: rop, body, dtype: rdt }],
    outputs: [{ expr: acc(0, rdt), dtype: rdt, scope: 'outer' }],
  };
}

const OPS: ReduceOp[] = ['sum', 'prod', 'max', 'min', 'argmax', 'argmin'];

/** Data for a reduction: prod stays near 1 (float) or ±1/2 (int) so products neither overflow nor vanish. */
function dataFor(rop: ReduceOp, dt: DType, n: number, seed: number): HostArray {
  if (rop === 'prod') {
    const r = rng(seed);
    if (dt === 'float32') return host(dt, Array.from({ length: n }, () => 0.9 + 0.2 * r()));
    if (dt === 'int32') return host(dt, Array.from({ length: n }, (_, i) => (i % 29 === 0 ? 2 : r() < 0.5 ? -1 : 1)));
  }
  // Small integers make ties common, which checks the first-occurrence rule of argmax/argmin.
  if (rop === 'argmax' || rop === 'argmin') return dt === 'bool' ? random('bool', n, seed) : host(dt, random('int32', n, seed, -4, 4).data);
  return random(dt, n, seed, -3, 3);
}

describe.skipIf(!gpu)(`webgpu reductions ${gpu ? '' : `(skipped: ${reason})`}`, () => {
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
          // sum/prod of bool accumulate as int32 (as torch.sum of a bool tensor)
          const rdt: DType = dt === 'bool' && (rop === 'sum' || rop === 'max' || rop === 'min') ? 'int32' : dt;
          const k = reduce1(outer, inner, rop, dt === 'bool' && rdt === 'int32' ? cast(body, 'int32') : body, rdt);
          await compareKernel(gpu!, k, [dataFor(rop, dt, sizeOf(shape), 31 + shape.length)], { tol: { rtol: 1e-5, atol: 1e-4 } });
        });
      }
    }
  }

  for (const inner of [7, 200]) {
    it(`NaN propagates through max/min and wins argmax/argmin; all -Inf rows (inner ${inner})`, async () => {
      const rows = 5;
      const data = random('float32', rows * inner, 77).data as number[];
      data[1 * inner + 3] = NaN; // row 1: one NaN
      data[2 * inner + 2] = NaN; data[2 * inner + inner - 1] = NaN; // row 2: two NaNs, the first wins
      for (let j = 0; j < inner; j++) data[3 * inner + j] = -Infinity; // row 3: all -Inf -> argmax 0
      data[4 * inner + inner - 1] = Infinity; // row 4: +Inf last
      const x = ld(0, [rows, inner]);
      for (const rop of OPS.filter((o) => o !== 'sum' && o !== 'prod')) {
        await compareKernel(gpu!, reduce1([rows], [inner], rop, x, 'float32'), [host('float32', data)], { label: rop });
      }
    });
  }

  it('ties in a long row: argmax/argmin give the first occurrence across threads', async () => {
    const inner = 1000;
    const data = new Array(inner).fill(1);
    data[700] = 5; data[300] = 5; data[900] = 5; data[10] = -2; data[600] = -2;
    for (const rop of ['argmax', 'argmin'] as ReduceOp[]) {
      const r = await compareKernel(gpu!, reduce1([], [inner], rop, ld(0, [inner]), 'float32'), [host('float32', data)]);
      expect(r.gpu[0][0]).toBe(rop === 'argmax' ? 300 : 10);
    }
  });

  it('empty rows give the identity (sum 0, max -Inf, argmax 0) and empty outers run nothing', async () => {
    for (const rop of OPS) {
      await compareKernel(gpu!, reduce1([3], [0], rop, ld(0, [3, 0]), 'float32'), [host('float32', [])], { label: `${rop} of empty rows` });
      await compareKernel(gpu!, reduce1([0], [5], rop, ld(0, [0, 5]), 'float32'), [host('float32', [])], { label: `${rop} of no rows` });
    }
  });

  it('0-d: a full reduction to a scalar, and a reduction of nothing over a 0-d space', async () => {
    await compareKernel(gpu!, reduce1([], [37], 'sum', ld(0, [37]), 'float32'), [random('float32', 37, 5)], { tol: { atol: 1e-5 } });
    await compareKernel(gpu!, reduce1([], [], 'max', ld(0, []), 'float32'), [host('float32', [4.5])]);
  });

  it('a reduction over a middle axis (permuted view) with a masked (padded) prologue', async () => {
    // x: [4, 6, 5]; reduce axis 1 -> iteration [4, 5 | 6]; pad that axis by 1 on both sides -> 8
    const v = view([4, 5, 8], [30, 1, 5], -5, [[0, 4], [0, 5], [1, 7]]);
    const k = reduce1([4, 5], [8], 'sum', op('mul', [ld(0, v), cst(2)]), 'float32');
    await compareKernel(gpu!, k, [random('float32', 120, 6)], { tol: { atol: 1e-5 } });
  });

  for (const [rows, cols] of [[6, 10], [5, 1000], [3, SERIAL_ROW_MAX + 1]]) {
    it(`softmax as one kernel: max, then sum of exp, then a full-scope normalise (${rows}x${cols})`, async () => {
      const x = ld(0, [rows, cols]);
      const e = op('exp', [op('sub', [x, acc(0)])]);
      const k: Kernel = {
        kind: 'reduce', outer: [rows], inner: [cols], nInputs: 1,
        reductions: [{ op: 'max', body: x, dtype: 'float32' }, { op: 'sum', body: e, dtype: 'float32' }],
        outputs: [
          { expr: op('div', [e, acc(1)]), dtype: 'float32', scope: 'full' },
          { expr: op('add', [acc(0), op('log', [acc(1)])]), dtype: 'float32', scope: 'outer' }, // logsumexp
        ],
      };
      await compareKernel(gpu!, k, [random('float32', rows * cols, 8, -10, 10)], { tol: { rtol: 1e-5, atol: 1e-6 } });
    });
  }

  for (const [rows, cols] of [[4, 16], [3, 768]]) {
    it(`layerNorm as one kernel: mean, variance, normalise with broadcast weight and bias (${rows}x${cols})`, async () => {
      const x = ld(0, [rows, cols]);
      const mean = op('div', [acc(0), cst(cols)]);
      const d = op('sub', [x, mean]);
      const rstd = op('recip', [op('sqrt', [op('add', [op('div', [acc(1), cst(cols)]), cst(1e-5)])])]);
      const w = ld(1, view([rows, cols], [0, 1])), b = ld(2, view([rows, cols], [0, 1]));
      const k: Kernel = {
        kind: 'reduce', outer: [rows], inner: [cols], nInputs: 3,
        reductions: [{ op: 'sum', body: x, dtype: 'float32' }, { op: 'sum', body: op('mul', [d, d]), dtype: 'float32' }],
        outputs: [
          { expr: op('add', [op('mul', [op('mul', [d, rstd]), w]), b]), dtype: 'float32', scope: 'full' },
          { expr: mean, dtype: 'float32', scope: 'outer' },
          { expr: rstd, dtype: 'float32', scope: 'outer' },
        ],
      };
      await compareKernel(gpu!, k, [random('float32', rows * cols, 9, -2, 5), random('float32', cols, 10), random('float32', cols, 11)], { tol: { rtol: 1e-4, atol: 1e-5 } });
    });
  }

  it('a per-row output that loads an outer-shaped input, and an in-place per-row store', async () => {
    const k: Kernel = {
      kind: 'reduce', outer: [3, 4], inner: [50], nInputs: 2,
      reductions: [{ op: 'max', body: ld(0, [3, 4, 50]), dtype: 'float32' }],
      outputs: [{ expr: op('mul', [acc(0), ld(1, [3, 4])]), dtype: 'float32', scope: 'outer', view: view([3, 4], [1, 3], 2) }],
    };
    await compareKernel(gpu!, k, [random('float32', 600, 12), random('float32', 12, 13)], { outputs: [{ init: random('float32', 16, 14) }] });
  });

  it('more rows than one grid dimension holds: rows spread over a 3-D grid', async () => {
    // A workgroup per row past 65535 rows is slow on SwiftShader (barriers), so this lowers the
    // per-dimension limit to 16: 3000 rows -> a 16 x 16 x 12 grid. runtime.test.ts checks the real limit.
    const small = (await startWebGpu('reduce.test.ts (grid)', { maxWorkgroupsPerDimension: 16 })).gpu!;
    try {
      const rows = 3000, inner = SERIAL_ROW_MAX + 1;
      const data = Int32Array.from({ length: rows * inner }, (_, i) => (i * 7919) % 13 - 6);
      await compareKernel(small, reduce1([rows], [inner], 'sum', ld(0, [rows, inner], 'int32'), 'int32'), [host('int32', data)]);
      // and the thread-per-row strategy: 40000 rows of 3 -> 157 workgroups of 256 -> 16 x 10 grid
      const data2 = Int32Array.from({ length: 40000 * 3 }, (_, i) => (i * 31) % 7);
      await compareKernel(small, reduce1([40000], [3], 'argmax', ld(0, [40000, 3], 'int32'), 'int32'), [host('int32', data2)]);
    } finally {
      small.destroy();
    }
  });
});
