// Representative kernels whose generated code is snapshotted (WGSL in test/webgpu/wgsl.test.ts, WAT
// in test/wasm/wat.test.ts), so a change in code generation shows in review as a diff.
import type { Kernel } from '../../src/core/kernel.js';
import { acc, cast, cst, ld, op, view } from './helpers.js';

export const addScaled = (shape: number[], c: number, bStrides?: number[]): Kernel => ({
  kind: 'elementwise', shape, nInputs: 2,
  outputs: [{ expr: op('add', [op('mul', [ld(0, shape), cst(c)]), ld(1, view(shape, bStrides))]), dtype: 'float32' }],
});

export const softmax = (rows: number, cols: number): Kernel => {
  const x = ld(0, [rows, cols]);
  const e = op('exp', [op('sub', [x, acc(0)])]);
  return {
    kind: 'reduce', outer: [rows], inner: [cols], nInputs: 1,
    reductions: [{ op: 'max', body: x, dtype: 'float32' }, { op: 'sum', body: e, dtype: 'float32' }],
    outputs: [{ expr: op('div', [e, acc(1)]), dtype: 'float32', scope: 'full' }],
  };
};

export const linear = (batch: number[], m: number, n: number, k: number): Kernel => ({
  kind: 'matmul', batch, m, n, k, nInputs: 3,
  a: { input: 0, view: view([...batch, m, k]) },
  b: { input: 1, view: view([...batch, k, n], [...batch.map(() => 0), 1, k]) }, // a weight stored [n, k], shared by batches
  outputs: [{ expr: op('max', [op('add', [acc(0), ld(2, view([...batch, m, n], [...batch.map(() => 0), 0, 1]))]), cst(0)]), dtype: 'float32' }],
});

export const CORPUS: Record<string, Kernel> = {
  'elementwise contiguous': addScaled([4, 5], 2),
  'elementwise broadcast': addScaled([4, 5], 2, [0, 1]),
  'elementwise pad + gather + bool output': {
    kind: 'elementwise', shape: [3, 4], nInputs: 3,
    outputs: [
      { expr: ld(0, view([3, 4], [2, 1], -1, [[0, 3], [1, 3]])), dtype: 'float32' },
      { expr: op('lt', [ld(1, view([3, 4], [4, 1]), 'float32', { axis: 1, index: ld(2, [3, 4], 'int32') }), cst(0)]), dtype: 'bool' },
    ],
  },
  'in-place strided store': {
    kind: 'elementwise', shape: [2, 3], nInputs: 1,
    outputs: [{ expr: op('add', [ld(0, view([2, 3], [6, 2], 6)), cst(1)]), dtype: 'float32', view: view([2, 3], [6, 2], 6) }],
  },
  'softmax (workgroup tree)': softmax(8, 1000),
  'argmax of short rows (thread per row)': {
    kind: 'reduce', outer: [10], inner: [4], nInputs: 1,
    reductions: [{ op: 'argmax', body: ld(0, [10, 4]), dtype: 'int32' }],
    outputs: [{ expr: acc(0, 'int32'), dtype: 'int32', scope: 'outer' }],
  },
  'linear + bias + relu (tiled matmul)': linear([2], 30, 40, 50),
  'cast chain': {
    kind: 'elementwise', shape: [6], nInputs: 1,
    outputs: [{ expr: cast(cast(ld(0, [6]), 'int32'), 'bool'), dtype: 'bool' }],
  },
};
