// Matmul kernels on every backend against the cpu reference: tile tails in m, n and k, transposed and
// flipped operands, batch broadcast, fused epilogues (bias, relu, residual, gelu, cast), padded
// operands, strided and in-place output views, int and bool operands, larger products.
import { describe, it } from 'vitest';
import type { Backend } from '../../src/core/backend.js';
import type { DType } from '../../src/core/dtype.js';
import type { Expr, View } from '../../src/core/kernel.js';
import { acc, cast, check, contiguousView, cpu, cst, expectClose, forEachKernelBackend, host, ld, matmul, op, randBool, randF32, randI32, random, runOn, startBackends, view, itWhereDefined, type OutSpec, type Tol, type UndefinedOn } from './helpers.js';

const BACKENDS = await startBackends('kernels/matmul.test.ts');

const TOL: Tol = { rtol: 2e-5, atol: 2e-5 };
/** The tolerance of the cases on operands in [-1, 1). */
const TOL_UNIT: Tol = { rtol: 1e-4, atol: 1e-4 };

/** A product described by its parts, its operands contiguous unless given. */
interface MM {
  batch?: number[];
  m: number; n: number; k: number;
  a?: View; b?: View;
  epilogue?: Expr;
  dtype?: DType;
  outView?: View;
  nInputs?: number;
}

const mm = (p: MM) => {
  const batch = p.batch ?? [];
  return matmul(batch, p.m, p.n, p.k, p.a ?? contiguousView([...batch, p.m, p.k]), p.b ?? contiguousView([...batch, p.k, p.n]), p.epilogue, p.nInputs ?? 2, p.outView, p.dtype ?? 'float32');
};

/** Elements a view reaches (max address + 1). */
function extent(v: View): number {
  let hi = v.offset;
  v.shape.forEach((d, i) => { if (d > 0 && v.strides[i] > 0) hi += (d - 1) * v.strides[i]; });
  return hi + 1;
}

/** Checks a product on operands in [-1, 1) sized by their views, with extra inputs for the epilogue. */
async function checkUnit(be: Backend, p: MM, extra: { n: number; seed: number }[] = [], outputs?: OutSpec[]): Promise<void> {
  const k = mm(p);
  const inputs = [random('float32', extent(k.a.view), 1, -1, 1), random('float32', extent(k.b.view), 2, -1, 1),
    ...extra.map((e) => random('float32', e.n, e.seed, -1, 1))];
  await check(be, k, inputs, { tol: TOL_UNIT, outputs });
}

/** The IR never masks matmul operands (lowering materialises padded ones); wasm and webgpu handle masks anyway. */
const UNDEFINED: UndefinedOn = {
  'masked (padded) operands equal the product with explicit zeros': { cpu: 'the reference rejects masked operands' },
};

forEachKernelBackend(BACKENDS, (be, backend) => {
  describe('matmul', () => {
    it('tile tails: every m % 4, n % 8 and small k', async () => {
      for (const [M, N, K] of [[1, 1, 1], [3, 5, 7], [4, 8, 16], [5, 9, 3], [7, 15, 33], [8, 16, 1], [13, 23, 17], [2, 31, 64], [33, 7, 5]]) {
        const a = randF32(M * K, M + K), b = randF32(K * N, N + K);
        await check(be, matmul([], M, N, K, view([M, K]), view([K, N])), [a, b], { tol: TOL, label: `${M}x${N}x${K}` });
      }
    });

    for (const [m, n, k] of [[5, 7, 3], [64, 64, 16], [70, 130, 33], [1, 200, 50], [129, 1, 17], [256, 256, 256]]) {
      it(`plain ${m}x${k} @ ${k}x${n}`, async () => { await checkUnit(be, { m, n, k }); });
    }

    it('k = 0 gives the epilogue of zero', async () => {
      await check(be, matmul([], 3, 5, 0, view([3, 0]), view([0, 5]), op('add', [acc(0), cst(1)])), [new Float32Array(0), new Float32Array(0)]);
      await checkUnit(be, { m: 3, n: 4, k: 0, epilogue: op('add', [acc(0), cst(1.5)]) });
    });

    it('transposed A, transposed B, both, and negative strides', async () => {
      const M = 11, N = 13, K = 9;
      const a = randF32(M * K, 1), b = randF32(K * N, 2);
      const aT: View = view([M, K], [1, M]); // a stored [K, M]
      const bT: View = view([K, N], [1, K]); // b stored [N, K]
      await check(be, matmul([], M, N, K, aT, view([K, N])), [a, b], { tol: TOL, label: 'aT' });
      await check(be, matmul([], M, N, K, view([M, K]), bT), [a, b], { tol: TOL, label: 'bT' });
      await check(be, matmul([], M, N, K, aT, bT), [a, b], { tol: TOL, label: 'aT bT' });
      await check(be, matmul([], M, N, K, view([M, K], [-K, 1], (M - 1) * K), view([K, N], [N, -1], N - 1)), [a, b], { tol: TOL, label: 'flipped' });
      const m = 37, n = 45, k = 29;
      await checkUnit(be, { m, n, k, a: view([m, k], [1, m]) });
      await checkUnit(be, { m, n, k, b: view([k, n], [1, k]) });
      await checkUnit(be, { m, n, k, a: view([m, k], [1, m]), b: view([k, n], [1, k]) });
    });

    it('batched with batch broadcast on either side', async () => {
      const B = 3, M = 6, N = 10, K = 5;
      const a = randF32(B * M * K, 1), b = randF32(B * K * N, 2);
      await check(be, matmul([B], M, N, K, view([B, M, K]), view([B, K, N])), [a, b], { tol: TOL, label: 'batched' });
      await check(be, matmul([B], M, N, K, view([B, M, K]), view([B, K, N], [0, N, 1])), [a, b], { tol: TOL, label: 'shared B' });
      await check(be, matmul([B], M, N, K, view([B, M, K], [0, K, 1]), view([B, K, N])), [a, b], { tol: TOL, label: 'shared A' });
      await check(be, matmul([2, B], M, N, K, view([2, B, M, K], [0, M * K, K, 1]), view([2, B, K, N], [B * K * N, 0, N, 1], 0)),
        [a, randF32(2 * K * N * B, 3)], { tol: TOL, label: '2-d batch' });
      // b broadcast over the leading batch dim and a offset; a weight shared by every batch with a transposed b
      const batch = [2, 3], m = 20, n = 18, k = 9;
      await checkUnit(be, { batch, m, n, k, a: view([...batch, m, k], [3 * m * k, m * k, k, 1], 5), b: view([...batch, k, n], [0, k * n, n, 1]) });
      await checkUnit(be, { batch: [4], m: 10, n: 12, k: 70, a: view([4, 10, 70], [0, 70, 1]), b: view([4, 70, 12], [70 * 12, 1, 70]) });
    });

    it('fused epilogues: bias + relu, residual, gelu (tanh and erf), scale, cast to int32', async () => {
      const M = 9, N = 20, K = 12;
      const a = randF32(M * K, 4), b = randF32(K * N, 5), bias = randF32(N, 6), res = randF32(M * N, 7);
      const biasL = ld(2, view([M, N], [0, 1]));
      await check(be, matmul([], M, N, K, view([M, K]), view([K, N]), op('max', [op('add', [acc(0), biasL]), cst(0)]), 3), [a, b, bias], { tol: TOL, label: 'bias relu' });
      await check(be, matmul([], M, N, K, view([M, K]), view([K, N]), op('add', [op('mul', [acc(0), cst(0.5)]), ld(2, view([M, N]))]), 3), [a, b, res], { tol: TOL, label: 'residual' });
      const x = op('add', [acc(0), biasL]);
      const inner = op('mul', [cst(0.7978845608), op('add', [x, op('mul', [cst(0.044715), op('mul', [x, op('mul', [x, x])])])])]);
      const gelu = op('mul', [op('mul', [cst(0.5), x]), op('add', [cst(1), op('tanh', [inner])])]);
      await check(be, matmul([], M, N, K, view([M, K]), view([K, N]), gelu, 3), [a, b, bias], { tol: TOL, label: 'gelu' });
      // a column bias (varies along m) and a transposed residual
      await check(be, matmul([], M, N, K, view([M, K]), view([K, N]), op('sub', [acc(0), ld(2, view([M, N], [1, 0]))]), 3), [a, b, randF32(M, 8)], { tol: TOL, label: 'row bias' });
      await check(be, matmul([], M, N, K, view([M, K]), view([K, N]), op('add', [acc(0), ld(2, view([M, N], [1, M]))]), 3), [a, b, randF32(M * N, 9)], { tol: TOL, label: 'transposed residual' });
      // batched, on operands in [-1, 1)
      const batch = [2], m = 33, n = 65, k = 20;
      const relu = op('max', [op('add', [acc(0), ld(2, view([...batch, m, n], [0, 0, 1]))]), cst(0)]);
      await checkUnit(be, { batch, m, n, k, epilogue: relu, nInputs: 3 }, [{ n, seed: 3 }]);
      const gelu2 = op('mul', [op('mul', [acc(0), cst(0.5)]), op('add', [cst(1), op('erf', [op('mul', [acc(0), cst(Math.SQRT1_2)])])])]);
      await checkUnit(be, { batch, m, n, k, epilogue: gelu2 });
      await checkUnit(be, { batch, m, n, k, epilogue: op('add', [acc(0), ld(2, [...batch, m, n])]), nInputs: 3 }, [{ n: 2 * m * n, seed: 4 }]);
      await checkUnit(be, { batch, m, n, k, epilogue: cast(op('mul', [acc(0), cst(100)]), 'int32'), dtype: 'int32' });
    });

    itWhereDefined(backend, UNDEFINED, 'masked (padded) operands equal the product with explicit zeros', async () => {
      // The cpu reference ignores masks on matmul operands (the IR never masks them), so it multiplies zero-padded copies.
      const M = 6, N = 10, K = 8;
      // A: a [6, 6] tensor padded by 1 on each side of k; B: [8, 7] padded on n
      const a = randF32(36, 1), b = randF32(8 * 7, 2);
      const av = view([M, K], [6, 1], -1, [[0, M], [1, 7]]);
      const bv = view([K, N], [7, 1], 0, [[0, K], [0, 7]]);
      const ap = new Float32Array(M * K), bp = new Float32Array(K * N);
      for (let i = 0; i < M; i++) for (let k = 1; k < 7; k++) ap[i * K + k] = a[i * 6 + k - 1];
      for (let k = 0; k < K; k++) for (let j = 0; j < 7; j++) bp[k * N + j] = b[k * 7 + j];
      const [want] = await runOn(cpu, matmul([], M, N, K, view([M, K]), view([K, N])), [ap, bp]);
      const [got] = await runOn(be, matmul([], M, N, K, av, bv), [a, b]);
      expectClose(got, want, TOL, 'padded');
      // a [6, 8] operand padded by 1 on each side of k, on operands in [-1, 1)
      const m = 6, n = 5, k = 10;
      const a2 = random('float32', m * 8, 8, -1, 1), b2 = random('float32', k * n, 9, -1, 1);
      const padded = Array.from({ length: m * k }, (_, i) => { const c = i % k; return c === 0 || c === k - 1 ? 0 : a2[Math.floor(i / k) * 8 + c - 1]; });
      const [got2] = await runOn(be, mm({ m, n, k, a: view([m, k], [8, 1], -1, [[0, m], [1, 9]]) }), [a2, b2]);
      const [want2] = await runOn(cpu, mm({ m, n, k }), [host('float32', padded), b2]);
      expectClose(got2, want2, TOL_UNIT);
    });

    it('an epilogue reading padded views (masked loads) of inputs past the operands', async () => {
      // in2: a [5, 6] tensor seen as [7, 9] (padded by 1 row before and after, 3 columns after); in4: a row [6] padded to n = 9.
      const m = 7, n = 9, k = 5;
      const padRows = view([m, n], [6, 1], -6, [[1, 6], [0, 6]]);
      const padCol = view([m, n], [0, 1], 0, [[0, m], [0, 6]]);
      const epilogue = op('mul', [op('add', [acc(0), ld(2, padRows)]), op('add', [ld(4, padCol), cst(1)])]);
      await checkUnit(be, { m, n, k, epilogue, nInputs: 5 }, [{ n: 30, seed: 5 }, { n: 3, seed: 6 }, { n: 6, seed: 7 }]);
    });

    it('per-row epilogue operands (computed once per row): scale and shift, padded along m, with a column tail', async () => {
      // in2, in3: per-row values [5] seen along m = 7 (zero in the first and last row); x·sqrt(s + 1) + t, then relu.
      const m = 7, n = 11, k = 6;
      const epilogue = (batch: number[]) => {
        const perRow = (input: number) => ld(input, view([...batch, m, n], [...batch.map(() => 0), 1, 0], -1, [...batch.map((b): [number, number] => [0, b]), [1, 6], [0, n]]));
        return op('relu', [op('add', [op('mul', [acc(0), op('sqrt', [op('add', [perRow(2), cst(1)])])]), perRow(3)])]);
      };
      await checkUnit(be, { m, n, k, epilogue: epilogue([]), nInputs: 4 }, [{ n: 5, seed: 8 }, { n: 5, seed: 9 }]);
      await checkUnit(be, { batch: [2], m, n, k, epilogue: epilogue([2]), nInputs: 4 }, [{ n: 5, seed: 8 }, { n: 5, seed: 9 }]);
    });

    it('output views: written transposed into an existing buffer, and into a column window', async () => {
      const M = 6, N = 10, K = 8;
      await check(be, matmul([], M, N, K, view([M, K]), view([K, N]), undefined, 2, view([M, N], [1, M])), [randF32(M * K, 3), randF32(K * N, 4)],
        { tol: TOL, outputs: [{ init: randF32(M * N, 5) }], label: 'out view' });
      const m = 9, n = 4, k = 6, width = 10; // out[:, 3:7] of a [9, 10] buffer
      await checkUnit(be, { m, n, k, outView: view([m, n], [width, 1], 3) }, [], [{ init: random('float32', m * width, 5) }]);
    });

    it('int32 and bool operands (converted to float32 first) with an int32 output', async () => {
      const M = 5, N = 9, K = 7;
      const a = randI32(M * K, 1, -4, 5), b = randI32(K * N, 2, -4, 5);
      const k = matmul([], M, N, K, view([M, K]), view([K, N]), undefined, 2, undefined, 'int32');
      await check(be, k, [a, b], { tol: { rtol: 0, atol: 0 } });
      await check(be, k, [randBool(M * K, 3), b], { tol: { rtol: 0, atol: 0 } });
      // the same int buffer as both operands, and an epilogue reading an operand's buffer
      const sq = randI32(36, 4, -3, 3);
      const k2 = matmul([], 6, 6, 6, view([6, 6]), view([6, 6], [1, 6]), op('add', [acc(0), cast(ld(0, view([6, 6]), 'int32'), 'float32')]), 2, undefined, 'int32');
      await check(be, { ...k2, b: { input: 0, view: view([6, 6], [1, 6]) } }, [sq, sq], { tol: { rtol: 0, atol: 0 } });
    });

    it('a larger product (multiple column blocks and row-block calls)', async () => {
      const M = 130, N = 300, K = 70;
      await check(be, matmul([], M, N, K, view([M, K]), view([K, N])), [randF32(M * K, 1), randF32(K * N, 2)], { tol: { rtol: 5e-5, atol: 5e-5 } });
    });
  });
});
