// Elementwise kernels over every kind of view: broadcast, strided, negative strides, masks (pad),
// gathers, 0-d and empty shapes, in-place strided outputs, multiple outputs, SIMD tail lengths.
import { describe, expect, it } from 'vitest';
import { cast, check, cst, ew, getWasm, ld, op, randBool, randF32, randI32, view } from './helpers.js';

describe('elementwise views (wasm vs cpu)', () => {
  it('SIMD tail lengths 1..9, 1023, 1025 on the flat path', async () => {
    for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 1023, 1025]) {
      const a = randF32(n, n), b = randF32(n, n + 100);
      const e = op('add', [op('mul', [ld(0, view([n])), cst(1.5)]), op('max', [ld(1, view([n])), cst(0)])]);
      await check(ew([n], 2, [e]), [a, b], {}, undefined, `n=${n}`);
    }
  });

  it('tail lengths on the row path (strided inner dim)', async () => {
    for (const n of [1, 2, 3, 5, 7, 9, 1023, 1025]) {
      const a = randF32(3 * n * 2, n);
      await check(ew([3, n], 1, [op('neg', [ld(0, view([3, n], [2 * n, 2]))])]), [a], {}, undefined, `n=${n}`);
    }
  });

  it('broadcast (stride 0) rows, columns and scalars', async () => {
    const a = randF32(12, 1), row = randF32(5, 2), col = randF32(12, 3), s = randF32(1, 4);
    const e = op('add', [op('mul', [ld(0, view([12, 5], [1, 0])), ld(1, view([12, 5], [0, 1]))]),
      op('sub', [ld(2, view([12, 5], [1, 0])), ld(3, view([12, 5], [0, 0]))])]);
    await check(ew([12, 5], 4, [e]), [a, row, col, s]);
    // a row broadcast over a contiguous tensor stays on the flat SIMD path only when fully contiguous
    const x = randF32(6 * 33, 5), bias = randF32(33, 6);
    await check(ew([6, 33], 2, [op('add', [ld(0, view([6, 33])), ld(1, view([6, 33], [0, 1]))])]), [x, bias]);
  });

  it('transposed and permuted inputs, 3-d and 4-d', async () => {
    const a = randF32(4 * 5 * 6, 7);
    await check(ew([6, 5, 4], 1, [op('exp', [ld(0, view([6, 5, 4], [1, 6, 30]))])]), [a], { rtol: 4e-7, atol: 0 });
    const b = randF32(2 * 3 * 4 * 5, 8);
    await check(ew([3, 2, 5, 4], 1, [op('tanh', [ld(0, view([3, 2, 5, 4], [20, 60, 1, 5]))])]), [b], { rtol: 4e-7, atol: 1e-7 });
  });

  it('negative strides (flip) contiguous-reversed and strided', async () => {
    const a = randF32(37, 9);
    await check(ew([37], 1, [op('mul', [ld(0, view([37], [-1], 36)), cst(2)])]), [a]);
    const b = randF32(8 * 11, 10);
    await check(ew([8, 11], 1, [op('sqrt', [op('abs', [ld(0, view([8, 11], [-11, -1], 87))])])]), [b]);
    await check(ew([8, 11], 1, [ld(0, view([8, 11], [11, -1], 10))]), [b]);
    const c = randI32(40, 3);
    await check(ew([4, 10], 1, [op('add', [ld(0, view([4, 10], [-10, -1], 39), 'int32'), cst(1, 'int32')])]), [c]);
    const d = randBool(40, 4);
    await check(ew([4, 10], 1, [op('not', [ld(0, view([4, 10], [10, -1], 9), 'bool')])]), [d]);
  });

  it('masked loads (pad) on inner and outer dims read 0 outside', async () => {
    // pad a [4, 6] tensor by 2 on every side: iteration [8, 10], offset -(2*6+2)
    const a = randF32(24, 11);
    const v = view([8, 10], [6, 1], -14, [[2, 6], [2, 8]]);
    await check(ew([8, 10], 1, [op('add', [ld(0, v), cst(1)])]), [a]);
    // mask on an outer dim only: whole rows of padding (SIMD path with a row mask)
    const v2 = view([7, 16], [16, 1], -32, [[2, 7], [0, 16]]);
    const b = randF32(5 * 16, 12);
    await check(ew([7, 16], 1, [op('mul', [ld(0, v2), cst(3)])]), [b]);
    // empty mask: all padding
    await check(ew([3, 4], 1, [op('add', [ld(0, view([3, 4], [4, 1], 0, [[5, 9], [0, 4]])), cst(2)])]), [randF32(12, 1)]);
    // int and bool padding
    const c = randI32(12, 2);
    await check(ew([5, 6], 1, [ld(0, view([5, 6], [4, 1], -5, [[1, 4], [1, 5]]), 'int32')]), [c]);
    const d = randBool(12, 2);
    await check(ew([5, 6], 1, [ld(0, view([5, 6], [4, 1], -5, [[1, 4], [1, 5]]), 'bool')]), [d]);
  });

  it('gather along an outer axis (embedding) and the inner axis (take_along_dim)', async () => {
    // embedding: table [10, 12], indices [7] -> out [7, 12]
    const table = randF32(120, 1);
    const idx = Int32Array.from([3, 0, 9, 9, 1, 5, 2]);
    const index = ld(1, view([7, 12], [1, 0]), 'int32');
    const e = ld(0, view([7, 12], [12, 1]), 'float32', { axis: 0, index });
    await check(ew([7, 12], 2, [op('mul', [e, cst(2)])]), [table, idx]);
    // gather along the last axis with a per-element index: x [5, 9], idx [5, 6] in 0..8
    const x = randF32(45, 2);
    const gi = Int32Array.from({ length: 30 }, (_, i) => (i * 7) % 9);
    const e2 = ld(0, view([5, 6], [9, 1]), 'float32', { axis: 1, index: ld(1, view([5, 6]), 'int32') });
    await check(ew([5, 6], 2, [e2]), [x, gi]);
    // indexSelect along the last axis: the index varies with the inner coordinate only
    const sel = Int32Array.from([8, 0, 4, 4, 2, 1, 7]);
    const e3 = ld(0, view([5, 7], [9, 1]), 'float32', { axis: 1, index: ld(1, view([5, 7], [0, 1]), 'int32') });
    await check(ew([5, 7], 2, [op('exp', [e3])]), [x, sel], { rtol: 4e-7, atol: 0 });
  });

  it('a masked gather tests the gathered coordinate (out-of-range indices read 0)', async () => {
    // x [4, 5] seen padded to 7 rows (rows 0 and 6 are padding); indices select padded rows too
    const x = randF32(20, 3);
    const idx = Int32Array.from([0, 1, 6, 3, 5, 2]);
    const v = view([6, 5], [5, 1], -5, [[1, 5], [0, 5]]);
    const e = ld(0, v, 'float32', { axis: 0, index: ld(1, view([6, 5], [1, 0]), 'int32') });
    await check(ew([6, 5], 2, [op('add', [e, cst(1)])]), [x, idx]);
  });

  it('0-d and empty shapes', async () => {
    await check(ew([], 1, [op('mul', [ld(0, view([])), cst(3)])]), [Float32Array.from([2.5])]);
    await check(ew([1, 1, 1], 1, [op('neg', [ld(0, view([1, 1, 1]))])]), [Float32Array.from([2.5])]);
    const w = await getWasm();
    const k = ew([0, 5], 1, [op('neg', [ld(0, view([0, 5]))])]);
    const x = w.alloc('float32', 0), o = w.alloc('float32', 0);
    w.run(k, [x], [o]);
    expect(w.read(o).length).toBe(0);
    w.free(x); w.free(o);
  });

  it('multiple outputs of mixed dtypes in one kernel', async () => {
    const a = randF32(50, 1), b = randF32(50, 2);
    const x = ld(0, view([50])), y = ld(1, view([50]));
    const s = op('add', [x, y]);
    await check(ew([50], 2, [s, op('lt', [s, cst(0)]), cast(op('mul', [s, cst(10)]), 'int32'), op('exp', [s])]), [a, b], { rtol: 4e-7, atol: 0 });
  });

  it('in-place strided output views (write into an existing buffer)', async () => {
    // out[:, ::2] = a * 2 in a [4, 10] buffer, the odd columns untouched
    const a = randF32(20, 3);
    const init = randF32(40, 4);
    const k = ew([4, 5], 1, [{ expr: op('mul', [ld(0, view([4, 5])), cst(2)]), dtype: 'float32', view: view([4, 5], [10, 2], 0) }]);
    await check(k, [a], {}, [{ init }]);
    // transposed in-place store, and a reversed one
    const k2 = ew([6, 7], 1, [{ expr: op('add', [ld(0, view([6, 7])), cst(1)]), dtype: 'float32', view: view([6, 7], [1, 6], 0) }]);
    await check(k2, [randF32(42, 5)], {}, [{ init: randF32(42, 6) }]);
    const k3 = ew([9], 1, [{ expr: ld(0, view([9])), dtype: 'float32', view: view([9], [-1], 9) }]);
    await check(k3, [randF32(9, 7)], {}, [{ init: randF32(12, 8) }]);
    // bool and int outputs through views
    const k4 = ew([3, 8], 1, [{ expr: op('lt', [ld(0, view([3, 8])), cst(0)]), dtype: 'bool', view: view([3, 8], [1, 3], 0) }]);
    await check(k4, [randF32(24, 9)], {}, [{ init: randBool(24, 1) }]);
  });

  it('a kernel reading the buffer it writes (x += y in place)', async () => {
    const w = await getWasm();
    const n = 77;
    const x = randF32(n, 1), y = randF32(n, 2);
    const k = ew([n], 2, [{ expr: op('add', [ld(0, view([n])), ld(1, view([n]))]), dtype: 'float32', view: view([n]) }]);
    const bx = w.alloc('float32', n), by = w.alloc('float32', n);
    w.write(bx, x); w.write(by, y);
    w.run(k, [bx, by], [bx]);
    const got = w.read(bx);
    for (let i = 0; i < n; i++) expect(got[i]).toBe(Math.fround(x[i] + y[i]));
    w.free(bx); w.free(by);
  });

  it('large contiguous kernel spanning many launch chunks', async () => {
    const n = (1 << 16) * 3 + 5;
    const a = randF32(n, 1);
    await check(ew([n], 1, [op('max', [op('mul', [ld(0, view([n])), cst(-2)]), cst(0.5)])]), [a]);
  });
});
