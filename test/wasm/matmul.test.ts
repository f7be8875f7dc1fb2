// Matmul kernels on wasm vs the cpu reference: tile tails in m, n and k, transposed operands, batch
// broadcast, fused epilogues (bias, relu, residual, gelu), masked operands, strided output views.
import { describe, it } from 'vitest';
import type { View } from '../../src/core/kernel.js';
import { acc, cast, check, cpu, cst, expectClose, getWasm, ld, matmul, op, randBool, randF32, randI32, runOn, view } from './helpers.js';

const TOL = { rtol: 2e-5, atol: 2e-5 };

describe('matmul (wasm vs cpu)', () => {
  it('tile tails: every m % 4, n % 8 and small k', async () => {
    for (const [M, N, K] of [[1, 1, 1], [3, 5, 7], [4, 8, 16], [5, 9, 3], [7, 15, 33], [8, 16, 1], [13, 23, 17], [2, 31, 64], [33, 7, 5]]) {
      const a = randF32(M * K, M + K), b = randF32(K * N, N + K);
      await check(matmul([], M, N, K, view([M, K]), view([K, N])), [a, b], TOL, undefined, `${M}x${N}x${K}`);
    }
  });

  it('k = 0 gives the epilogue of zero', async () => {
    await check(matmul([], 3, 5, 0, view([3, 0]), view([0, 5]), op('add', [acc(0), cst(1)])), [new Float32Array(0), new Float32Array(0)]);
  });

  it('transposed A, transposed B, both, and negative strides', async () => {
    const M = 11, N = 13, K = 9;
    const a = randF32(M * K, 1), b = randF32(K * N, 2);
    const aT: View = view([M, K], [1, M]); // a stored [K, M]
    const bT: View = view([K, N], [1, K]); // b stored [N, K]
    await check(matmul([], M, N, K, aT, view([K, N])), [a, b], TOL, undefined, 'aT');
    await check(matmul([], M, N, K, view([M, K]), bT), [a, b], TOL, undefined, 'bT');
    await check(matmul([], M, N, K, aT, bT), [a, b], TOL, undefined, 'aT bT');
    await check(matmul([], M, N, K, view([M, K], [-K, 1], (M - 1) * K), view([K, N], [N, -1], N - 1)), [a, b], TOL, undefined, 'flipped');
  });

  it('batched with batch broadcast on either side', async () => {
    const B = 3, M = 6, N = 10, K = 5;
    const a = randF32(B * M * K, 1), b = randF32(B * K * N, 2);
    await check(matmul([B], M, N, K, view([B, M, K]), view([B, K, N])), [a, b], TOL, undefined, 'batched');
    await check(matmul([B], M, N, K, view([B, M, K]), view([B, K, N], [0, N, 1])), [a, b], TOL, undefined, 'shared B');
    await check(matmul([B], M, N, K, view([B, M, K], [0, K, 1]), view([B, K, N])), [a, b], TOL, undefined, 'shared A');
    await check(matmul([2, B], M, N, K, view([2, B, M, K], [0, M * K, K, 1]), view([2, B, K, N], [B * K * N, 0, N, 1], 0)),
      [a, randF32(2 * K * N * B, 3)], TOL, undefined, '2-d batch');
  });

  it('fused epilogues: bias + relu, residual, gelu(tanh), scale', async () => {
    const M = 9, N = 20, K = 12;
    const a = randF32(M * K, 4), b = randF32(K * N, 5), bias = randF32(N, 6), res = randF32(M * N, 7);
    const biasL = ld(2, view([M, N], [0, 1]));
    await check(matmul([], M, N, K, view([M, K]), view([K, N]), op('max', [op('add', [acc(0), biasL]), cst(0)]), 3),
      [a, b, bias], TOL, undefined, 'bias relu');
    await check(matmul([], M, N, K, view([M, K]), view([K, N]), op('add', [op('mul', [acc(0), cst(0.5)]), ld(2, view([M, N]))]), 3),
      [a, b, res], TOL, undefined, 'residual');
    const x = op('add', [acc(0), biasL]);
    const inner = op('mul', [cst(0.7978845608), op('add', [x, op('mul', [cst(0.044715), op('mul', [x, op('mul', [x, x])])])])]);
    const gelu = op('mul', [op('mul', [cst(0.5), x]), op('add', [cst(1), op('tanh', [inner])])]);
    await check(matmul([], M, N, K, view([M, K]), view([K, N]), gelu, 3), [a, b, bias], TOL, undefined, 'gelu');
    // a column bias (varies along m) and a transposed residual
    await check(matmul([], M, N, K, view([M, K]), view([K, N]), op('sub', [acc(0), ld(2, view([M, N], [1, 0]))]), 3),
      [a, b, randF32(M, 8)], TOL, undefined, 'row bias');
    await check(matmul([], M, N, K, view([M, K]), view([K, N]), op('add', [acc(0), ld(2, view([M, N], [1, M]))]), 3),
      [a, b, randF32(M * N, 9)], TOL, undefined, 'transposed residual');
  });

  it('masked (padded) operands and a strided output view', async () => {
    const M = 6, N = 10, K = 8;
    // A: a [6, 6] tensor padded by 1 on each side of k; B: [8, 7] padded on n
    const a = randF32(36, 1), b = randF32(8 * 7, 2);
    const av = view([M, K], [6, 1], -1, [[0, M], [1, 7]]);
    const bv = view([K, N], [7, 1], 0, [[0, K], [0, 7]]);
    // The cpu reference wants materialised operands (the IR never masks them); wasm handles masks too.
    const ap = new Float32Array(M * K), bp = new Float32Array(K * N);
    for (let i = 0; i < M; i++) for (let k = 1; k < 7; k++) ap[i * K + k] = a[i * 6 + k - 1];
    for (let k = 0; k < K; k++) for (let j = 0; j < 7; j++) bp[k * N + j] = b[k * 7 + j];
    const want = runOn(cpu, matmul([], M, N, K, view([M, K]), view([K, N])), [ap, bp]);
    const got = runOn(await getWasm(), matmul([], M, N, K, av, bv), [a, b]);
    expectClose(got[0], want[0], TOL, 'padded');
    // output written transposed into an existing [N, M] buffer
    const a2 = randF32(M * K, 3), b2 = randF32(K * N, 4);
    await check(matmul([], M, N, K, view([M, K]), view([K, N]), undefined, 2, view([M, N], [1, M])), [a2, b2], TOL, [{ init: randF32(M * N, 5) }], 'out view');
  });

  it('int32 and bool operands (converted to float32 first) with an int32 output', async () => {
    const M = 5, N = 9, K = 7;
    const a = randI32(M * K, 1, -4, 5), b = randI32(K * N, 2, -4, 5);
    const k = { ...matmul([], M, N, K, view([M, K]), view([K, N])), outputs: [{ expr: acc(0), dtype: 'int32' as const }] as const };
    await check(k, [a, b], { rtol: 0, atol: 0 });
    await check(k, [randBool(M * K, 3), b], { rtol: 0, atol: 0 });
    // the same int buffer as both operands, and an epilogue reading an operand's buffer
    const sq = randI32(36, 4, -3, 3);
    const k2 = { ...matmul([], 6, 6, 6, view([6, 6]), view([6, 6], [1, 6]), op('add', [acc(0), cast(ld(0, view([6, 6]), 'int32'), 'float32')])), outputs: [{ expr: op('add', [acc(0), cast(ld(0, view([6, 6]), 'int32'), 'float32')]), dtype: 'int32' as const }] as const };
    await check({ ...k2, b: { input: 0, view: view([6, 6], [1, 6]) } }, [sq, sq], { rtol: 0, atol: 0 });
  });

  it('a larger square product (multiple column blocks and row-block calls)', async () => {
    const M = 130, N = 300, K = 70;
    await check(matmul([], M, N, K, view([M, K]), view([K, N])), [randF32(M * K, 1), randF32(K * N, 2)], { rtol: 5e-5, atol: 5e-5 });
  });
});
