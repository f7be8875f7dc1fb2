// Index checks on every backend, eagerly and compiled: gather, indexSelect, embedding and
// crossEntropy with an index outside its range raise an error naming the op, the index and the valid
// range (webgpu at the next read, as its reads are asynchronous), kernels never read or write outside
// a tensor's storage (a sentinel buffer allocated right after the indexed one keeps its contents and
// never shows up in the output), and valid indices still give the right values.
import { describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import type { Backend, BackendName, Tensor } from '../../src/index.js';
import type { Buffer } from '../../src/core/backend.js';
import type { Expr, Kernel } from '../../src/core/kernel.js';
import { contiguousView } from '../../src/core/kernel.js';
import { createCpuBackend } from '../../backends/cpu/index.js';
import { createWasmBackend, type WasmBackend } from '../../backends/wasm/index.js';
import { BACKENDS, forEachBackend } from '../eager/backends.js';

const vals = async (t: Tensor) => Array.from(await t.dataAsync());

/** Runs `f` and reads what it returns, so webgpu's deferred index errors surface too. */
async function settle(f: () => Tensor | Tensor[]): Promise<void> {
  const out = f();
  for (const t of Array.isArray(out) ? out : [out]) await t.dataAsync();
}

async function expectIndexError(f: () => Tensor | Tensor[], op: string, index: number, size: number): Promise<void> {
  let caught: unknown;
  try { await settle(f); } catch (e) { caught = e; }
  expect(caught, 'expected an index error').toBeInstanceOf(k.ShapeError);
  expect((caught as Error).message).toContain(`${op}: index ${index} is out of range for dim`);
  expect((caught as Error).message).toContain(`of size ${size} (valid indices are 0..${size - 1})`);
}

forEachBackend((backend: BackendName) => {
  const i32 = (v: number[], shape?: number[]) => k.tensor(v, { dtype: 'int32', backend, ...(shape ? { shape } : {}) });
  const W = () => k.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]], { backend });

  describe('out-of-range indices raise, eager and compiled', () => {
    const cases: [string, string, (w: Tensor, i: Tensor) => Tensor, () => Tensor, number, number][] = [
      ['indexSelect past the end', 'indexSelect', (w, i) => w.indexSelect(0, i), () => i32([1, 4]), 4, 4],
      ['indexSelect negative', 'indexSelect', (w, i) => w.indexSelect(1, i).mul(2), () => i32([-1, 0]), -1, 3],
      ['gather', 'gather', (w, i) => w.gather(1, i), () => i32([0, 1, 3, 0], [4, 1]), 3, 3],
      ['embedding', 'embedding', (w, i) => k.embedding(i, w).sum(-1), () => i32([0, 2, 9], [3]), 9, 4],
      ['crossEntropy', 'crossEntropy', (w, i) => k.nn.crossEntropy(w, i), () => i32([0, 1, 3, 2]), 3, 3],
      ['a gather feeding a broadcast', 'gather', (w, i) => w.sub(w.gather(1, i)), () => i32([0, 5, 1, 2], [4, 1]), 5, 3],
    ];
    for (const [what, op, f, idx, bad, size] of cases) {
      it(what, async () => {
        await expectIndexError(() => f(W(), idx()), op, bad, size);
        const g = k.compile(f, { backend });
        await expectIndexError(() => g(W(), idx()), op, bad, size);
        // The next call with valid indices works and the backend is fine.
        const ok = what === 'crossEntropy' ? i32([0, 1, 2, 2]) : what.startsWith('gather') || what.includes('broadcast') ? i32([0, 1, 2, 0], [4, 1]) : i32([0, 2]);
        expect(await vals(g(W(), ok))).toEqual(await vals(f(W(), ok)));
      });
    }
    it('a replayed compiled call checks its indices (not just the traced one)', async () => {
      const g = k.compile((w: Tensor, i: Tensor) => w.indexSelect(0, i).add(1), { backend });
      const good = await vals(g(W(), i32([3, 0])));
      expect(good).toEqual([11, 12, 13, 2, 3, 4]);
      await g(W(), i32([1, 2])).dataAsync();
      await expectIndexError(() => g(W(), i32([2, 7])), 'indexSelect', 7, 4);
      expect(await vals(g(W(), i32([0, 0])))).toEqual([2, 3, 4, 2, 3, 4]);
    });
    it('crossEntropy gradients are unchanged by the check', async () => {
      const logits = k.tensor([[0.5, -1, 2], [1, 1, 0], [-3, 0.25, 0.5]], { backend, requiresGrad: true });
      const loss = k.nn.crossEntropy(logits, i32([2, 0, 1]));
      loss.backward();
      const want = [[0.5, -1, 2], [1, 1, 0], [-3, 0.25, 0.5]].map((row, n) => {
        const m = Math.max(...row);
        const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
        return row.map((v, c) => (Math.exp(v - m) / z - (c === [2, 0, 1][n] ? 1 : 0)) / 3);
      }).flat();
      (await vals(logits.grad!)).forEach((g, i) => expect(g).toBeCloseTo(want[i], 5));
    });
  });
});

// ---- the sentinel: nothing outside the indexed tensor is read or written ---------------------------

const MARK = 7777.5;

/** out[i, j] = x[idx[i, j], j] over x [rows, cols], with x's buffer followed by a sentinel buffer. */
async function sentinelRun(be: Backend, rows: number, cols: number, idx: number[]): Promise<{ error: unknown; out: number[]; sentinel: number[] }> {
  const x = be.alloc('float32', rows * cols);
  const sentinel = be.alloc('float32', 64);
  be.write(x, Float32Array.from({ length: rows * cols }, (_, i) => i));
  be.write(sentinel, new Float32Array(64).fill(MARK));
  const ib = be.alloc('int32', idx.length);
  be.write(ib, Int32Array.from(idx));
  const n = idx.length / cols;
  const index: Expr = { kind: 'load', input: 1, view: contiguousView([n, cols]), dtype: 'int32' };
  const load: Expr = { kind: 'load', input: 0, view: { shape: [n, cols], strides: [cols, 1], offset: 0 }, dtype: 'float32', gather: { axis: 0, index, size: rows, op: 'gather' } };
  const kernel: Kernel = { kind: 'elementwise', shape: [n, cols], nInputs: 2, outputs: [{ expr: load, dtype: 'float32' }] };
  const out = be.alloc('float32', n * cols) as Buffer;
  let error: unknown;
  try {
    be.run(kernel, [x, ib], [out]);
    await be.readAsync(out); // webgpu raises at its next read
  } catch (e) { error = e; }
  const res = { error, out: Array.from(await be.readAsync(out)), sentinel: Array.from(await be.readAsync(sentinel)) };
  for (const b of [x, sentinel, ib, out]) be.free(b);
  return res;
}

describe('no kernel reads or writes outside the indexed tensor (a sentinel follows it in memory)', () => {
  const rows = 5, cols = 7;
  // Indices just past the end, far past it, and negative: each would land in the sentinel (or beyond) unchecked.
  const idx = Array.from({ length: 9 * cols }, (_, i) => [rows, rows + 1, rows + 3, -1, 100000, 2, 0, rows * 2, -7][Math.floor(i / cols)]);
  const check = async (be: Backend, what: string) => {
    const r = await sentinelRun(be, rows, cols, idx);
    expect(r.error, what).toBeInstanceOf(k.ShapeError);
    expect((r.error as Error).message).toContain(`gather: index ${rows} is out of range for dim 0 of size ${rows}`);
    expect(r.sentinel.every((v) => v === MARK), `${what}: sentinel written`).toBe(true);
    expect(r.out.includes(MARK), `${what}: sentinel read`).toBe(false);
    expect(r.out.every((v) => v >= 0 && v < rows * cols), `${what}: read outside x`).toBe(true);
    // Valid rows still read their values.
    expect(r.out.slice(5 * cols, 6 * cols)).toEqual(Array.from({ length: cols }, (_, j) => 2 * cols + j));
  };
  it('cpu', async () => check(createCpuBackend(), 'cpu'));
  it('wasm, both tiers (fresh heap: the sentinel is the next block)', async () => {
    const w: WasmBackend = await createWasmBackend();
    w.forceTier('js');
    await check(w, 'wasm JS tier');
    w.forceTier('wasm');
    await check(w, 'wasm');
    w.forceTier(null);
  });
  const gpu = BACKENDS.find((b) => b.name === 'webgpu')!;
  it.skipIf(!gpu.available)('webgpu', async () => check(k.getBackend('webgpu'), 'webgpu'));
});
