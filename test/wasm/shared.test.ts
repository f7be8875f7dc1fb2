// Kernel modules shared across sizes (backends/wasm/shared.ts): a kernel marked `dynamicOuter` is built
// once for every outer size, and what the shared module computes for each size is bit for bit what a
// module built for that size alone computes. Each family below is run over sizes that hit every
// vector and tail case (B mod 4 for matmul row blocks, rows of 1-3 leftover elements).
import { describe, expect, it } from 'vitest';
import type { TypedArray } from '../../src/core/dtype.js';
import type { Kernel } from '../../src/core/kernel.js';
import { createWasmBackend } from '../../backends/wasm/index.js';
import { sharedModuleKey } from '../../backends/wasm/shared.js';
import { acc, cst, ew, ld, matmul, op, randF32, randI32, red, runSync, view } from '../kernels/helpers.js';

const SIZES = [2, 3, 4, 5, 6, 7, 8, 9, 13, 16, 17, 31, 33, 64, 65];

/** A kernel family over outer size B, with its inputs for that size. */
interface Family {
  readonly name: string;
  readonly kernel: (B: number) => Kernel;
  readonly inputs: (B: number) => TypedArray[];
}

const f32 = (n: number, seed: number) => randF32(n, seed, -3, 3);

const FAMILIES: Family[] = [
  {
    name: 'elementwise, one flat stream',
    kernel: (B) => ew([B, 37], 1, [op('add', [op('exp', [ld(0, view([B, 37]))]), cst(1)])]),
    inputs: (B) => [f32(B * 37, B)],
  },
  {
    name: 'elementwise rows: a broadcast bias, a bool output',
    kernel: (B) => ew([B, 13], 2, [op('lt', [ld(0, view([B, 13])), ld(1, view([B, 13], [0, 1]))]), op('mul', [ld(0, view([B, 13])), ld(1, view([B, 13], [0, 1]))])]),
    inputs: (B) => [f32(B * 13, B), f32(13, 99)],
  },
  {
    name: 'elementwise rows: a transposed inner block, three dims',
    kernel: (B) => ew([B, 5, 6], 1, [op('tanh', [ld(0, view([B, 5, 6], [30, 1, 5]))])]),
    inputs: (B) => [f32(B * 30, B)],
  },
  {
    name: 'elementwise: padding along dim 1 (dim 0 mask lets every row through)',
    kernel: (B) => ew([B, 7], 1, [op('add', [ld(0, view([B, 7], [5, 1], -1, [[0, B], [1, 6]])), cst(0.5)])]),
    inputs: (B) => [f32(B * 5, B)],
  },
  {
    name: 'elementwise: a gather along dim 1',
    kernel: (B) => ew([B, 4], 2, [ld(0, view([B, 4], [10, 1]), 'float32', { axis: 1, index: ld(1, view([B, 4]), 'int32'), size: 10 })]),
    inputs: (B) => [f32(B * 10, B), randI32(B * 4, B, 0, 9)],
  },
  {
    name: 'reduce: sum of rows',
    kernel: (B) => red([B], [50], 1, [{ op: 'sum', body: ld(0, view([B, 50])) }], [{ expr: acc(0), scope: 'outer' }]),
    inputs: (B) => [f32(B * 50, B)],
  },
  {
    name: 'reduce: softmax rows (two passes, the next row prefetched)',
    kernel: (B) => {
      const x = ld(0, view([B, 70]));
      return red([B], [70], 1, [
        { op: 'max', body: x },
        { op: 'sum', body: op('exp', [op('sub', [x, acc(0)])]) },
      ], [{ expr: op('div', [op('exp', [op('sub', [x, acc(0)])]), acc(1)]), scope: 'full' }]);
    },
    inputs: (B) => [f32(B * 70, B)],
  },
  {
    name: 'reduce: two outer dims, one of them broadcast',
    kernel: (B) => red([B, 3], [20], 2, [{ op: 'sum', body: op('mul', [ld(0, view([B, 3, 20])), ld(1, view([B, 3, 20], [20, 0, 1]))]) }], [{ expr: acc(0), scope: 'outer' }]),
    inputs: (B) => [f32(B * 60, B), f32(B * 20, B + 1)],
  },
  {
    name: 'reduce: argmax',
    kernel: (B) => red([B], [9], 1, [{ op: 'argmax', body: ld(0, view([B, 9])) }], [{ expr: acc(0, 'int32'), scope: 'outer' }]),
    inputs: (B) => [f32(B * 9, B)],
  },
  {
    name: 'matmul without batch: rows B, bias and relu epilogue',
    kernel: (B) => matmul([], B, 20, 9, view([B, 9]), view([9, 20], [1, 9]), op('relu', [op('add', [acc(0), ld(2, view([B, 20], [0, 1]))])]), 3),
    inputs: (B) => [f32(B * 9, B), f32(180, 7), f32(20, 8)],
  },
  {
    name: 'matmul without batch, A flipped along m (packed per call)',
    kernel: (B) => matmul([], B, 11, 6, view([B, 6], [-6, 1], 6 * 70), view([6, 11])),
    inputs: (B) => [f32(6 * 71, B), f32(66, 7)],
  },
  {
    name: 'matmul with batch B',
    kernel: (B) => matmul([B], 5, 11, 7, view([B, 5, 7]), view([B, 7, 11]), op('add', [acc(0), ld(2, view([B, 5, 11]))]), 3),
    inputs: (B) => [f32(B * 35, B), f32(B * 77, B + 1), f32(B * 55, B + 2)],
  },
];

const dynamic = (k: Kernel): Kernel => ({ ...k, dynamicOuter: true });
const bitsEqual = (a: TypedArray, b: TypedArray) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

describe('wasm modules shared across outer sizes', () => {
  for (const fam of FAMILIES) {
    it(`${fam.name}: one module for ${SIZES.length} sizes, the same bits as a module per size`, async () => {
      const w = await createWasmBackend();
      expect(sharedModuleKey(dynamic(fam.kernel(2)))).not.toBeNull();
      const c0 = w.stats().compiled;
      const shared = SIZES.map((B) => runSync(w, dynamic(fam.kernel(B)), fam.inputs(B)));
      expect(w.stats().compiled - c0).toBe(1);
      const c1 = w.stats().compiled;
      SIZES.forEach((B, i) => {
        const own = runSync(w, fam.kernel(B), fam.inputs(B)); // not marked: built for this size
        own.forEach((o, j) => expect(bitsEqual(shared[i][j], o), `size ${B}, output ${j}`).toBe(true));
      });
      expect(w.stats().compiled - c1).toBe(SIZES.length);
    });
  }

  it('kernels that cannot share a module get one per size', () => {
    const flatStrided = (B: number) => dynamic(ew([B, 4], 1, [op('neg', [ld(0, view([B, 4], [8, 2]))])])); // one group, walked: its length is B*4
    const maskedRows = (B: number) => dynamic(ew([B, 4], 1, [ld(0, view([B, 4], [4, 1], 0, [[1, B - 1], [0, 4]]))]));
    const gatherRows = (B: number) => dynamic(ew([B, 4], 2, [ld(0, view([B, 4]), 'float32', { axis: 0, index: ld(1, view([B, 4]), 'int32'), size: 10 })]));
    const maskedOperand = (B: number) => dynamic(matmul([], B, 3, 4, view([B, 4], [4, 1], 0, [[0, B], [0, 2]]), view([4, 3])));
    const plain = matmul([], 5, 3, 4, view([5, 4]), view([4, 3]));
    const newOperandForm = dynamic({ ...plain, b: { ...plain.b, split: [1, 1] } } as Kernel); // an operand field this module does not know
    expect(sharedModuleKey(dynamic(plain))).not.toBeNull();
    for (const k of [newOperandForm, maskedOperand(5), flatStrided(5), maskedRows(5), gatherRows(5), dynamic(ew([1, 8], 1, [ld(0, view([1, 8]))])), ew([5, 8], 1, [ld(0, view([5, 8]))])]) {
      expect(sharedModuleKey(k), JSON.stringify(k)).toBeNull();
    }
    // A stride that follows the outer size stays in the key: the modules differ.
    const transposed = (B: number) => dynamic(ew([B, 3], 1, [ld(0, view([B, 3], [1, B]))]));
    expect(sharedModuleKey(transposed(5))).not.toEqual(sharedModuleKey(transposed(6)));
    expect(sharedModuleKey(dynamic(ew([5, 8], 1, [ld(0, view([5, 8]))])))).toEqual(sharedModuleKey(dynamic(ew([9, 8], 1, [ld(0, view([9, 8]))]))));
  });

  it('a shared module is byte for byte what a fresh build for each size emits (KILN_WASM_CHECK_SHARED)', async () => {
    const prev = process.env.KILN_WASM_CHECK_SHARED;
    process.env.KILN_WASM_CHECK_SHARED = '1';
    try {
      const w = await createWasmBackend();
      // Every family at a few sizes: each reuse builds the module again for its own size and compares.
      for (const fam of FAMILIES) for (const B of [2, 5, 16, 33]) runSync(w, dynamic(fam.kernel(B)), fam.inputs(B));
      expect(w.stats().compiled).toBe(FAMILIES.length);
    } finally {
      if (prev === undefined) delete process.env.KILN_WASM_CHECK_SHARED;
      else process.env.KILN_WASM_CHECK_SHARED = prev;
    }
  });
});
