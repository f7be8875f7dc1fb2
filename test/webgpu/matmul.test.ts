// Matmul kernels on webgpu against the cpu reference: tile edges, transposed and batch-broadcast
// operands, padded operands, fused epilogues (bias, activation, residual, cast), in-place stores.
import { afterAll, describe, it } from 'vitest';
import type { DType } from '../../src/core/dtype.js';
import type { Expr, MatmulKernel, View } from '../../src/core/kernel.js';
import { contiguousView } from '../../src/core/kernel.js';
import { sizeOf } from '../../src/core/shape.js';
import { acc, cast, compareKernel, cpu, cst, expectClose, host, ld, op, random, runOn, startWebGpu, view, type OutSpec, type Tol } from './helpers.js';

const { gpu, reason } = await startWebGpu('matmul.test.ts');
afterAll(() => gpu?.destroy());

const TOL: Tol = { rtol: 1e-4, atol: 1e-4 };

interface MM {
  batch?: number[];
  m: number; n: number; k: number;
  a?: View; b?: View;
  epilogue?: Expr;
  dtype?: DType;
  outView?: View;
  nInputs?: number;
}

function matmul(p: MM): MatmulKernel {
  const batch = p.batch ?? [];
  return {
    kind: 'matmul', batch, m: p.m, n: p.n, k: p.k, nInputs: p.nInputs ?? 2,
    a: { input: 0, view: p.a ?? contiguousView([...batch, p.m, p.k]) },
    b: { input: 1, view: p.b ?? contiguousView([...batch, p.k, p.n]) },
    outputs: [{ expr: p.epilogue ?? acc(0), dtype: p.dtype ?? 'float32', ...(p.outView ? { view: p.outView } : {}) }],
  };
}

/** Elements a view reaches (max address + 1). */
function extent(v: View): number {
  let hi = v.offset;
  v.shape.forEach((d, i) => { if (d > 0 && v.strides[i] > 0) hi += (d - 1) * v.strides[i]; });
  return hi + 1;
}

async function check(p: MM, extra: { n: number; seed: number }[] = [], outputs?: OutSpec[]): Promise<void> {
  const k = matmul(p);
  const inputs = [random('float32', extent(k.a.view), 1, -1, 1), random('float32', extent(k.b.view), 2, -1, 1),
    ...extra.map((e) => random('float32', e.n, e.seed, -1, 1))];
  await compareKernel(gpu!, k, inputs, { tol: TOL, outputs });
}

describe.skipIf(!gpu)(`webgpu matmul ${gpu ? '' : `(skipped: ${reason})`}`, () => {
  for (const [m, n, k] of [[5, 7, 3], [64, 64, 16], [70, 130, 33], [1, 200, 50], [129, 1, 17], [256, 256, 256]]) {
    it(`plain ${m}x${k} @ ${k}x${n}`, async () => { await check({ m, n, k }); });
  }

  it('k = 0: the dot product is 0 and the epilogue still runs', async () => {
    await check({ m: 3, n: 4, k: 0, epilogue: op('add', [acc(0), cst(1.5)]) });
  });

  it('transposed a (stored [k, m]) and transposed b (stored [n, k])', async () => {
    const m = 37, n = 45, k = 29;
    await check({ m, n, k, a: view([m, k], [1, m]) });
    await check({ m, n, k, b: view([k, n], [1, k]) });
    await check({ m, n, k, a: view([m, k], [1, m]), b: view([k, n], [1, k]) });
  });

  it('batched, with b broadcast over the leading batch dim and a offset', async () => {
    const batch = [2, 3], m = 20, n = 18, k = 9;
    await check({ batch, m, n, k, a: view([...batch, m, k], [3 * m * k, m * k, k, 1], 5), b: view([...batch, k, n], [0, k * n, n, 1]) });
  });

  it('batch broadcast of a (a weight shared by every batch) with a transposed b', async () => {
    const batch = [4], m = 10, n = 12, k = 70;
    await check({ batch, m, n, k, a: view([...batch, m, k], [0, k, 1]), b: view([...batch, k, n], [k * n, 1, k]) });
  });

  it('a padded operand (mask on k) equals the product with explicit zeros', async () => {
    // NOTE: the cpu reference ignores masks on matmul operands, so it multiplies the zero-padded copy.
    const m = 6, n = 5, k = 10; // a is [6, 8] padded by 1 on each side of k
    const a = random('float32', m * 8, 8, -1, 1), b = random('float32', k * n, 9, -1, 1);
    const padded = Array.from({ length: m * k }, (_, i) => { const c = i % k; return c === 0 || c === k - 1 ? 0 : a.data[Math.floor(i / k) * 8 + c - 1]; });
    const [got] = await runOn(gpu!, matmul({ m, n, k, a: view([m, k], [8, 1], -1, [[0, m], [1, 9]]) }), [a, b], []);
    const [want] = await runOn(cpu, matmul({ m, n, k }), [host('float32', padded), b], []);
    expectClose(got, want, TOL);
  });

  it('epilogues: bias + relu, gelu (erf), residual add, cast to int32', async () => {
    const batch = [2], m = 33, n = 65, k = 20;
    const bias = ld(2, view([...batch, m, n], [0, 0, 1]));
    const relu = op('max', [op('add', [acc(0), bias]), cst(0)]);
    await check({ batch, m, n, k, epilogue: relu, nInputs: 3 }, [{ n, seed: 3 }]);
    const x = acc(0);
    const gelu = op('mul', [op('mul', [x, cst(0.5)]), op('add', [cst(1), op('erf', [op('mul', [x, cst(Math.SQRT1_2)])])])]);
    await check({ batch, m, n, k, epilogue: gelu });
    const residual = op('add', [acc(0), ld(2, [...batch, m, n])]);
    await check({ batch, m, n, k, epilogue: residual, nInputs: 3 }, [{ n: 2 * m * n, seed: 4 }]);
    await check({ batch, m, n, k, epilogue: cast(op('mul', [acc(0), cst(100)]), 'int32'), dtype: 'int32' });
  });

  it('in-place: the product written into a column window of an existing buffer', async () => {
    const m = 9, n = 4, k = 6, width = 10; // out[:, 3:7] of a [9, 10] buffer
    await check({ m, n, k, outView: view([m, n], [width, 1], 3) }, [], [{ init: random('float32', m * width, 5) }]);
  });

  it('more tiles than one grid dimension holds: batches spread over a 3-D grid', async () => {
    const small = (await startWebGpu('matmul.test.ts (grid)', { maxWorkgroupsPerDimension: 8 })).gpu!;
    try {
      const batch = [150], m = 70, n = 3, k = 5; // 150 x 2 tiles = 300 workgroups -> 8 x 8 x 5
      const kk = matmul({ batch, m, n, k });
      await compareKernel(small, kk, [random('float32', sizeOf([...batch, m, k]), 6), random('float32', sizeOf([...batch, k, n]), 7)], { tol: TOL });
    } finally {
      small.destroy();
    }
  });
});
