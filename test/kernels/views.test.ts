// Elementwise kernels over every kind of view, on every backend against the cpu reference: broadcast,
// strided, transposed, negative strides, masks (pad), gathers, 0-d and empty shapes, in-place
// strided outputs, several outputs of one shared DAG, SIMD tail lengths, many launch chunks.
import { describe, expect, it } from 'vitest';
import { cast, check, cst, ew, expectClose, forEachKernelBackend, host, ld, op, randBool, randF32, randI32, random, runOn, startBackends, view, type Tol } from './helpers.js';

const BACKENDS = await startBackends('kernels/views.test.ts');

/** The tolerance of the cases whose comparisons had no explicit one. */
const LOOSE: Tol = { rtol: 1e-5, atol: 1e-6 };

forEachKernelBackend(BACKENDS, (be) => {
  describe('elementwise views', () => {
    it('SIMD tail lengths 1..9, 1023, 1025 on the flat path', async () => {
      for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 1023, 1025]) {
        const a = randF32(n, n), b = randF32(n, n + 100);
        const e = op('add', [op('mul', [ld(0, view([n])), cst(1.5)]), op('max', [ld(1, view([n])), cst(0)])]);
        await check(be, ew([n], 2, [e]), [a, b], { label: `n=${n}` });
      }
    });

    it('tail lengths on the row path (strided inner dim)', async () => {
      for (const n of [1, 2, 3, 5, 7, 9, 1023, 1025]) {
        const a = randF32(3 * n * 2, n);
        await check(be, ew([3, n], 1, [op('neg', [ld(0, view([3, n], [2 * n, 2]))])]), [a], { label: `n=${n}` });
      }
    });

    it('broadcast (stride 0) rows, columns and scalars', async () => {
      const a = randF32(12, 1), row = randF32(5, 2), col = randF32(12, 3), s = randF32(1, 4);
      const e = op('add', [op('mul', [ld(0, view([12, 5], [1, 0])), ld(1, view([12, 5], [0, 1]))]),
        op('sub', [ld(2, view([12, 5], [1, 0])), ld(3, view([12, 5], [0, 0]))])]);
      await check(be, ew([12, 5], 4, [e]), [a, row, col, s]);
      // a row broadcast over a contiguous tensor stays on the flat SIMD path only when fully contiguous
      const x = randF32(6 * 33, 5), bias = randF32(33, 6);
      await check(be, ew([6, 33], 2, [op('add', [ld(0, view([6, 33])), ld(1, view([6, 33], [0, 1]))])]), [x, bias]);
      // stride-0 dims on either side of a 3-d kernel, and a scalar broadcast to every element
      await check(be, ew([4, 5, 6], 2, [op('sub', [ld(0, view([4, 5, 6], [0, 6, 1])), ld(1, view([4, 5, 6], [1, 0, 0]))])]),
        [random('float32', 30, 1), random('float32', 4, 2)], { tol: LOOSE });
      await check(be, ew([3, 7], 2, [op('mul', [ld(0, [3, 7]), ld(1, view([3, 7], [0, 0], 0))])]), [random('float32', 21, 3), host('float32', [2.5])], { tol: LOOSE });
    });

    it('transposed and permuted inputs, 3-d and 4-d, and a step slice with an offset', async () => {
      const a = randF32(4 * 5 * 6, 7);
      await check(be, ew([6, 5, 4], 1, [op('exp', [ld(0, view([6, 5, 4], [1, 6, 30]))])]), [a], { tol: { rtol: 4e-7, atol: 0 } });
      const b = randF32(2 * 3 * 4 * 5, 8);
      await check(be, ew([3, 2, 5, 4], 1, [op('tanh', [ld(0, view([3, 2, 5, 4], [20, 60, 1, 5]))])]), [b], { tol: { rtol: 4e-7, atol: 1e-7 } });
      await check(be, ew([5, 4], 2, [op('add', [ld(0, view([5, 4], [1, 5])), ld(1, view([5, 4], [8, 2], 3))])]), [random('float32', 20, 4), random('float32', 45, 5)], { tol: LOOSE });
    });

    it('rank 6 with mixed broadcast and permutation', async () => {
      const shape = [2, 1, 3, 2, 2, 3];
      await check(be, ew(shape, 2, [op('max', [ld(0, shape), ld(1, view(shape, [0, 0, 1, 3, 0, 6]))])]), [random('float32', 72, 21), random('float32', 18, 22)], { tol: LOOSE });
    });

    it('negative strides (flip) contiguous-reversed and strided', async () => {
      const a = randF32(37, 9);
      await check(be, ew([37], 1, [op('mul', [ld(0, view([37], [-1], 36)), cst(2)])]), [a]);
      const b = randF32(8 * 11, 10);
      await check(be, ew([8, 11], 1, [op('sqrt', [op('abs', [ld(0, view([8, 11], [-11, -1], 87))])])]), [b]);
      await check(be, ew([8, 11], 1, [ld(0, view([8, 11], [11, -1], 10))]), [b]);
      const c = randI32(40, 3);
      await check(be, ew([4, 10], 1, [op('add', [ld(0, view([4, 10], [-10, -1], 39), 'int32'), cst(1, 'int32')])]), [c]);
      const d = randBool(40, 4);
      await check(be, ew([4, 10], 1, [op('not', [ld(0, view([4, 10], [10, -1], 9), 'bool')])]), [d]);
      // a flip on each axis, and on the last only, as two outputs of one kernel
      await check(be, ew([3, 4], 1, [op('neg', [ld(0, view([3, 4], [-4, -1], 11))]), ld(0, view([3, 4], [4, -1], 3))]), [random('float32', 12, 6)], { tol: LOOSE });
    });

    it('masked loads (pad) on inner and outer dims read 0 outside, for float, int and bool', async () => {
      // pad a [4, 6] tensor by 2 on every side: iteration [8, 10], offset -(2*6+2)
      const a = randF32(24, 11);
      const v = view([8, 10], [6, 1], -14, [[2, 6], [2, 8]]);
      await check(be, ew([8, 10], 1, [op('add', [ld(0, v), cst(1)])]), [a]);
      // mask on an outer dim only: whole rows of padding (SIMD path with a row mask)
      const v2 = view([7, 16], [16, 1], -32, [[2, 7], [0, 16]]);
      await check(be, ew([7, 16], 1, [op('mul', [ld(0, v2), cst(3)])]), [randF32(5 * 16, 12)]);
      // empty mask: all padding
      await check(be, ew([3, 4], 1, [op('add', [ld(0, view([3, 4], [4, 1], 0, [[5, 9], [0, 4]])), cst(2)])]), [randF32(12, 1)]);
      // int and bool padding
      await check(be, ew([5, 6], 1, [ld(0, view([5, 6], [4, 1], -5, [[1, 4], [1, 5]]), 'int32')]), [randI32(12, 2)]);
      await check(be, ew([5, 6], 1, [ld(0, view([5, 6], [4, 1], -5, [[1, 4], [1, 5]]), 'bool')]), [randBool(12, 2)]);
      // one padded view read as float, int and bool by three outputs
      const p = view([4, 5], [3, 1], -4, [[1, 3], [1, 4]]);
      await check(be, ew([4, 5], 3, [op('add', [ld(0, p), cst(1)]), ld(1, p, 'int32'), ld(2, p, 'bool')]),
        [random('float32', 6, 7), random('int32', 6, 8, -100, 100), random('bool', 6, 9)], { tol: LOOSE });
    });

    it('padded rows long enough for an unmasked interior: borders of 0..5, two masks, stride 2, int and bool', async () => {
      // pad [3, W] by (before, after) along the row: iteration [3, W + before + after]
      for (const [W, before, after] of [[20, 1, 1], [37, 3, 0], [9, 0, 5], [64, 2, 3], [12, 5, 4]]) {
        const L = W + before + after;
        const v = view([3, L], [W, 1], -before, [[0, 3], [before, before + W]]);
        await check(be, ew([3, L], 1, [op('mul', [ld(0, v), cst(2)])]), [randF32(3 * W, W)], { label: `pad ${before},${after} of ${W}` });
        await check(be, ew([3, L], 1, [ld(0, v, 'bool')]), [randBool(3 * W, W)], { label: `bool pad ${before},${after} of ${W}` });
        await check(be, ew([3, L], 1, [ld(0, v, 'int32')]), [randI32(3 * W, W)], { label: `int pad ${before},${after} of ${W}` });
      }
      // two loads padded differently (the interior is where both hold), one masked on the row too
      const a = view([4, 30], [26, 1], -2, [[0, 4], [2, 28]]);
      const b = view([4, 30], [21, 1], -6, [[1, 4], [6, 27]]);
      await check(be, ew([4, 30], 2, [op('add', [ld(0, a), ld(1, b)])]), [randF32(4 * 26, 3), randF32(4 * 21, 4)]);
      // stride 2 along a padded row (every other element of a padded input)
      const c = view([3, 20], [41, 2], -1, [[0, 3], [1, 19]]);
      await check(be, ew([3, 20], 1, [op('neg', [ld(0, c)])]), [randF32(3 * 41, 5)]);
      // pad with a value: where(padded ones, padded x, -inf), as a pad with -inf lowers
      const m = view([2, 3, 18], [48, 16, 1], -1, [[0, 2], [0, 3], [1, 17]]);
      await check(be, ew([2, 3, 18], 2, [op('where', [ld(0, m, 'bool'), ld(1, m), cst(-Infinity)])]), [randBool(96, 6), randF32(96, 7)]);
      // ... and as pad lowers it: the mask a broadcast scalar (true or false), padded rows and columns,
      // and a broadcast float scalar padded the same way
      const sv = view([2, 5, 21], [0, 0, 0], 0, [[0, 2], [1, 4], [2, 19]]);
      const xv = view([2, 5, 21], [51, 17, 1], -19, [[0, 2], [1, 4], [2, 19]]);
      for (const flag of [1, 0]) {
        await check(be, ew([2, 5, 21], 3, [op('where', [ld(0, sv, 'bool'), ld(1, xv), cst(-Infinity)]), op('mul', [ld(2, sv), ld(1, xv)])]),
          [Uint8Array.of(flag), randF32(102, 8), Float32Array.of(1.5)], { label: `pad mask of a broadcast ${flag ? 'true' : 'false'}` });
      }
    });

    it('gather along an outer axis (embedding) and the inner axis (take_along_dim, indexSelect)', async () => {
      // embedding: table [10, 12], indices [7] -> out [7, 12]
      const table = randF32(120, 1);
      const idx = Int32Array.from([3, 0, 9, 9, 1, 5, 2]);
      const e = ld(0, view([7, 12], [12, 1]), 'float32', { axis: 0, index: ld(1, view([7, 12], [1, 0]), 'int32') });
      await check(be, ew([7, 12], 2, [op('mul', [e, cst(2)])]), [table, idx]);
      // gather along the last axis with a per-element index: x [5, 9], idx [5, 6] in 0..8
      const x = randF32(45, 2);
      const gi = Int32Array.from({ length: 30 }, (_, i) => (i * 7) % 9);
      const e2 = ld(0, view([5, 6], [9, 1]), 'float32', { axis: 1, index: ld(1, view([5, 6]), 'int32') });
      await check(be, ew([5, 6], 2, [e2]), [x, gi]);
      // indexSelect along the last axis: the index varies with the inner coordinate only
      const sel = Int32Array.from([8, 0, 4, 4, 2, 1, 7]);
      const e3 = ld(0, view([5, 7], [9, 1]), 'float32', { axis: 1, index: ld(1, view([5, 7], [0, 1]), 'int32') });
      await check(be, ew([5, 7], 2, [op('exp', [e3])]), [x, sel], { tol: { rtol: 4e-7, atol: 0 } });
      // two gathers in one kernel, one with a computed index
      const k = ew([4, 3], 4, [
        ld(0, view([4, 3], [3, 1]), 'float32', { axis: 0, index: ld(1, view([4, 3], [1, 0]), 'int32') }),
        ld(2, view([4, 3], [5, 1]), 'float32', { axis: 1, index: op('add', [ld(3, [4, 3], 'int32'), cst(1, 'int32')]) }),
      ]);
      await check(be, k, [random('float32', 15, 10), host('int32', [4, 0, 2, 2]), random('float32', 20, 11), random('int32', 12, 12, 0, 4)], { tol: LOOSE });
    });

    it('a masked gather tests the gathered coordinate (out-of-range indices read 0)', async () => {
      // x [4, 5] seen padded to 7 rows (rows 0 and 6 are padding); indices select padded rows too
      const x = randF32(20, 3);
      const idx = Int32Array.from([0, 1, 6, 3, 5, 2]);
      const v = view([6, 5], [5, 1], -5, [[1, 5], [0, 5]]);
      const e = ld(0, v, 'float32', { axis: 0, index: ld(1, view([6, 5], [1, 0]), 'int32') });
      await check(be, ew([6, 5], 2, [op('add', [e, cst(1)])]), [x, idx]);
      // along the inner axis, the expectation computed here
      const x2 = random('float32', 12, 13), idx2 = random('int32', 12, 14, 0, 4);
      const k = ew([3, 4], 2, [ld(0, view([3, 4], [4, 1], 0, [[0, 3], [1, 3]]), 'float32', { axis: 1, index: ld(1, [3, 4], 'int32') })]);
      const [got] = await runOn(be, k, [x2, idx2]);
      const want = Float32Array.from({ length: 12 }, (_, p) => {
        const i = Math.floor(p / 4), g = idx2[p];
        return g >= 1 && g < 3 ? x2[i * 4 + g] : 0;
      });
      expectClose(got, want, LOOSE);
    });

    it('0-d and empty shapes', async () => {
      await check(be, ew([], 1, [op('mul', [ld(0, view([])), cst(3)])]), [Float32Array.from([2.5])]);
      await check(be, ew([1, 1, 1], 1, [op('neg', [ld(0, view([1, 1, 1]))])]), [Float32Array.from([2.5])]);
      await check(be, ew([], 2, [op('add', [ld(0, []), ld(1, [])]), op('lt', [ld(0, []), ld(1, [])])]), [host('float32', [1.5]), host('float32', [2])], { tol: LOOSE });
      const [o] = await runOn(be, ew([0, 5], 1, [op('neg', [ld(0, view([0, 5]))])]), [new Float32Array(0)]);
      expect(o.length).toBe(0);
      const r = await check(be, ew([0, 3], 1, [op('exp', [ld(0, [0, 3])])]), [new Float32Array(0)], { tol: LOOSE });
      expect(r.got[0].length).toBe(0);
    });

    it('multiple outputs of mixed dtypes in one kernel, from one shared DAG', async () => {
      const a = randF32(50, 1), b = randF32(50, 2);
      const x = ld(0, view([50])), y = ld(1, view([50]));
      const s = op('add', [x, y]);
      await check(be, ew([50], 2, [s, op('lt', [s, cst(0)]), cast(op('mul', [s, cst(10)]), 'int32'), op('exp', [s])]), [a, b], { tol: { rtol: 4e-7, atol: 0 } });
      const z = ld(0, [6, 7]);
      const t = op('mul', [z, z]); // shared: computed once
      const u = op('add', [t, cst(1)]);
      await check(be, ew([6, 7], 1, [op('sqrt', [u]), op('lt', [t, cst(2)]), cast(op('floor', [u]), 'int32'), op('where', [op('lt', [z, cst(0)]), t, u])]),
        [random('float32', 42, 15)], { tol: LOOSE });
    });

    it('in-place strided output views (write into an existing buffer)', async () => {
      // out[:, ::2] = a * 2 in a [4, 10] buffer, the odd columns untouched
      const k = ew([4, 5], 1, [{ expr: op('mul', [ld(0, view([4, 5])), cst(2)]), dtype: 'float32', view: view([4, 5], [10, 2], 0) }]);
      await check(be, k, [randF32(20, 3)], { outputs: [{ init: randF32(40, 4) }] });
      // transposed in-place store, and a reversed one
      const k2 = ew([6, 7], 1, [{ expr: op('add', [ld(0, view([6, 7])), cst(1)]), dtype: 'float32', view: view([6, 7], [1, 6], 0) }]);
      await check(be, k2, [randF32(42, 5)], { outputs: [{ init: randF32(42, 6) }] });
      const k3 = ew([9], 1, [{ expr: ld(0, view([9])), dtype: 'float32', view: view([9], [-1], 9) }]);
      await check(be, k3, [randF32(9, 7)], { outputs: [{ init: randF32(12, 8) }] });
      // a negative-stride destination: elements 9, 7, 5, 3, 1 of a 10-element buffer
      const k4 = ew([5], 1, [{ expr: ld(0, [5]), dtype: 'float32', view: view([5], [-2], 9) }]);
      await check(be, k4, [random('float32', 5, 17)], { tol: LOOSE, outputs: [{ init: random('float32', 10, 18) }] });
      // bool and int outputs through views
      const k5 = ew([3, 8], 1, [{ expr: op('lt', [ld(0, view([3, 8])), cst(0)]), dtype: 'bool', view: view([3, 8], [1, 3], 0) }]);
      await check(be, k5, [randF32(24, 9)], { outputs: [{ init: randBool(24, 1) }] });
    });

    it('in-place: an output view writes a strided window of a buffer that is also its input', async () => {
      // x[1:3, ::2] += 10 on a [4,6] buffer: the kernel iterates [2,3]; input and output are the same buffer.
      const w = view([2, 3], [6, 2], 6);
      const k = ew([2, 3], 1, [{ expr: op('add', [ld(0, w), cst(10)]), dtype: 'float32', view: w }]);
      await check(be, k, [random('float32', 24, 16)], { tol: LOOSE, outputs: [{ alias: 0 }] });
      // int and bool stores in place
      const w2 = view([3], [2], 1);
      const k2 = ew([3], 2, [
        { expr: op('mul', [ld(0, w2, 'int32'), cst(-3, 'int32')]), dtype: 'int32', view: w2 },
        { expr: op('not', [ld(1, w2, 'bool')]), dtype: 'bool', view: w2 },
      ]);
      await check(be, k2, [random('int32', 6, 19, -50, 50), random('bool', 6, 20)], { outputs: [{ alias: 0 }, { alias: 1 }] });
    });

    it('a kernel reading the buffer it writes (x += y in place) rounds like float32', async () => {
      const n = 77;
      const x = randF32(n, 1), y = randF32(n, 2);
      const k = ew([n], 2, [{ expr: op('add', [ld(0, view([n])), ld(1, view([n]))]), dtype: 'float32', view: view([n]) }]);
      const [got] = await runOn(be, k, [x, y], [{ alias: 0 }]);
      for (let i = 0; i < n; i++) expect(got[i]).toBe(Math.fround(x[i] + y[i]));
    });

    it('large contiguous kernel spanning many launch chunks', async () => {
      const n = (1 << 16) * 3 + 5;
      await check(be, ew([n], 1, [op('max', [op('mul', [ld(0, view([n])), cst(-2)]), cst(0.5)])]), [randF32(n, 1)]);
    });
  });
});
