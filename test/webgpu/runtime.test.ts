// The webgpu runtime: async-only reads, pipeline reuse across shapes, the buffer pool, device limits
// (binding sizes, storage-buffer counts, dispatch grids), batching, and errors that surface instead of hanging.
import { afterAll, describe, expect, it } from 'vitest';
import type { Expr, Kernel } from '../../src/core/kernel.js';
import { acc, check, cst, host, ld, op, random, runOn, startWebGpu, view } from '../kernels/helpers.js';

const { gpu, reason } = await startWebGpu('runtime.test.ts');
afterAll(() => gpu?.destroy());

const add = (shape: number[], bStrides?: number[], c = 1): Kernel => ({
  kind: 'elementwise', shape, nInputs: 2,
  outputs: [{ expr: op('add', [op('mul', [ld(0, shape), cst(c)]), ld(1, view(shape, bStrides))]), dtype: 'float32' }],
});

describe.skipIf(!gpu)(`webgpu runtime ${gpu ? `on ${gpu.adapterDescription}` : `(skipped: ${reason})`}`, () => {
  it('read() throws and names the async form; readAsync honours offset and size; bool round-trips as bytes', async () => {
    const b = gpu!.alloc('float32', 8);
    gpu!.write(b, Float32Array.from([1, 2, 3, 4]), 2);
    expect(() => gpu!.read(b)).toThrow(/readAsync.*dataAsync/);
    expect(Array.from(await gpu!.readAsync(b, 1, 5))).toEqual([0, 1, 2, 3, 4]);
    const f = gpu!.alloc('bool', 5);
    gpu!.write(f, Uint8Array.from([1, 0, 1, 1, 0]));
    const r = await gpu!.readAsync(f);
    expect(r).toBeInstanceOf(Uint8Array);
    expect(Array.from(r)).toEqual([1, 0, 1, 1, 0]);
    gpu!.free(b); gpu!.free(f);
    await gpu!.sync!();
  });

  it('one pipeline serves every shape of a rank and broadcast pattern (numbers live in the uniform buffer)', async () => {
    const run = (k: Kernel, n0: number, n1: number) => runOn(gpu!, k, [random('float32', n0, 1), random('float32', n1, 2)], []);
    await run(add([3, 4]), 12, 12);
    const s0 = gpu!.stats();
    await run(add([17, 9], undefined, 2.5), 153, 153); // new shape, new constant
    await run(add([1, 1000], undefined, -1), 1000, 1000);
    expect(gpu!.stats().compiled).toBe(s0.compiled);
    expect(gpu!.stats().cacheHits).toBeGreaterThanOrEqual(s0.cacheHits + 2);
    await run(add([3, 4], [0, 1]), 12, 4); // broadcast pattern: one new pipeline ...
    await run(add([8, 6], [0, 1]), 48, 6); // ... shared by other shapes with the same pattern
    expect(gpu!.stats().compiled).toBe(s0.compiled + 1);
    await run(add([2, 3, 4]), 24, 24); // contiguous kernels never decode coordinates: any rank shares one
    expect(gpu!.stats().compiled).toBe(s0.compiled + 1);
    await run(add([2, 3, 4], [0, 4, 1]), 24, 12); // a broadcast at another rank: a new pipeline
    expect(gpu!.stats().compiled).toBe(s0.compiled + 2);
  });

  it('reductions and matmuls reuse pipelines across sizes too', async () => {
    const softmaxLike = (rows: number, cols: number): Kernel => ({
      kind: 'reduce', outer: [rows], inner: [cols], nInputs: 1,
      reductions: [{ op: 'max', body: ld(0, [rows, cols]), dtype: 'float32' }],
      outputs: [{ expr: op('sub', [ld(0, [rows, cols]), acc(0)]), dtype: 'float32', scope: 'full' }],
    });
    await check(gpu!, softmaxLike(3, 300), [random('float32', 900, 3)], { tol: { rtol: 1e-5, atol: 1e-6 } });
    const s0 = gpu!.stats().compiled;
    await check(gpu!, softmaxLike(7, 1000), [random('float32', 7000, 4)], { tol: { rtol: 1e-5, atol: 1e-6 } });
    expect(gpu!.stats().compiled).toBe(s0);
    const mm = (m: number, n: number, k: number): Kernel => ({
      kind: 'matmul', batch: [], m, n, k, nInputs: 2,
      a: { input: 0, view: view([m, k]) }, b: { input: 1, view: view([k, n]) }, outputs: [{ expr: acc(0), dtype: 'float32' }],
    });
    await check(gpu!, mm(5, 6, 7), [random('float32', 35, 5), random('float32', 42, 6)], { tol: { rtol: 1e-5, atol: 1e-5 } });
    const s1 = gpu!.stats().compiled;
    await check(gpu!, mm(70, 3, 100), [random('float32', 7000, 7), random('float32', 300, 8)], { tol: { rtol: 1e-4, atol: 1e-4 } });
    expect(gpu!.stats().compiled).toBe(s1);
  });

  it('the pool reuses freed buffers, hands them out zeroed, and keeps a loop bounded', async () => {
    const base = gpu!.allocatedBytes();
    const a = gpu!.alloc('float32', 1000);
    gpu!.write(a, new Float32Array(1000).fill(7));
    gpu!.free(a);
    const b = gpu!.alloc('float32', 1000); // same size class: the same GPUBuffer, cleared
    expect(Array.from(await gpu!.readAsync(b)).every((v) => v === 0)).toBe(true);
    gpu!.free(b);
    const k = add([64, 64]);
    const pool0 = gpu!.pooledBytes();
    let peakPool = 0;
    for (let step = 0; step < 50; step++) {
      const x = gpu!.alloc('float32', 4096), y = gpu!.alloc('float32', 4096), out = gpu!.alloc('float32', 4096);
      gpu!.run(k, [x, y], [out]);
      [x, y, out].forEach((t) => gpu!.free(t));
      peakPool = Math.max(peakPool, gpu!.pooledBytes());
    }
    await gpu!.sync!();
    expect(gpu!.allocatedBytes()).toBe(base);
    expect(peakPool).toBeLessThanOrEqual(pool0 + 3 * 4096 * 4); // at most one step's buffers beyond what was pooled
  });

  it('a buffer past maxStorageBufferBindingSize is refused with the size and the limit', () => {
    const limit = Math.min(gpu!.limits.maxStorageBufferBindingSize, gpu!.limits.maxBufferSize);
    const n = Math.floor(limit / 4) + 1;
    expect(() => gpu!.alloc('float32', n)).toThrow(new RegExp(`${n * 4} bytes.*maxStorageBufferBindingSize \\(${limit} bytes\\)`));
  });

  it('a kernel needing more storage buffers than the device allows is split per output, or refused clearly', async () => {
    const max = gpu!.limits.maxStorageBuffersPerShaderStage;
    const nIn = max - 1; // + 2 outputs = max + 1 bindings: split into two kernels of max bindings each
    const loads = Array.from({ length: nIn }, (_, i) => ld(i, [16]));
    const sum = loads.reduce((s: Expr, l) => op('add', [s, l]));
    const k: Kernel = { kind: 'elementwise', shape: [16], nInputs: nIn, outputs: [{ expr: sum, dtype: 'float32' }, { expr: op('mul', [sum, loads[0]]), dtype: 'float32' }] };
    expect(gpu!.unsupported!(k)).toBeNull();
    await check(gpu!, k, loads.map((_, i) => random('float32', 16, 100 + i)), { tol: { rtol: 1e-5, atol: 1e-5 } });

    const tooMany: Kernel = {
      kind: 'elementwise', shape: [4], nInputs: max,
      outputs: [{ expr: Array.from({ length: max }, (_, i) => ld(i, [4])).reduce((s: Expr, l) => op('add', [s, l])), dtype: 'float32' }],
    };
    expect(gpu!.unsupported!(tooMany)).toMatch(/maxStorageBuffersPerShaderStage/);
    const bufs = Array.from({ length: max }, () => gpu!.alloc('float32', 4));
    const out = gpu!.alloc('float32', 4);
    expect(() => gpu!.run(tooMany, bufs, [out])).toThrow(new RegExp(`needs ${max + 1} storage buffers.*maxStorageBuffersPerShaderStage = ${max}`));
    [...bufs, out].forEach((b) => gpu!.free(b));
  });

  it('an in-place split keeps reads before writes (the aliasing output runs last)', async () => {
    const max = gpu!.limits.maxStorageBuffersPerShaderStage;
    const nIn = max - 1;
    const loads = Array.from({ length: nIn }, (_, i) => ld(i, [8]));
    const sum = loads.reduce((s: Expr, l) => op('add', [s, l]));
    // out0 overwrites input 0 in place; out1 reads input 0 as it was
    const k: Kernel = { kind: 'elementwise', shape: [8], nInputs: nIn, outputs: [{ expr: sum, dtype: 'float32', view: view([8]) }, { expr: op('mul', [loads[0], cst(3)]), dtype: 'float32' }] };
    await check(gpu!, k, loads.map((_, i) => random('float32', 8, 200 + i)), { outputs: [{ alias: 0 }], tol: { rtol: 1e-5, atol: 1e-5 } });
  });

  it('dispatches past 65535 workgroups run on a 2-D grid at the real limit', async () => {
    const rows = Math.ceil((gpu!.limits.maxComputeWorkgroupsPerDimension + 64) * 256 / 256), cols = 256;
    const k: Kernel = {
      kind: 'elementwise', shape: [rows, cols], nInputs: 2,
      outputs: [{ expr: op('add', [ld(0, view([rows, cols], [0, 1])), ld(1, view([rows, cols], [1, 0]))]), dtype: 'float32' }],
    };
    await check(gpu!, k, [random('float32', cols, 9), host('float32', Float32Array.from({ length: rows }, (_, i) => i))], { tol: { rtol: 1e-5, atol: 1e-6 } });
  });

  it('many small dispatches batch into few submits and stay in order', async () => {
    const x = gpu!.alloc('float32', 3);
    const w = view([3]);
    const inc: Kernel = { kind: 'elementwise', shape: [3], nInputs: 1, outputs: [{ expr: op('add', [ld(0, w), cst(1)]), dtype: 'float32', view: w }] };
    for (let i = 0; i < 300; i++) gpu!.run(inc, [x], [x]); // > maxBatch and the uniform arena cycles
    expect(Array.from(await gpu!.readAsync(x))).toEqual([300, 300, 300]);
    gpu!.write(x, Float32Array.from([1, 2, 3]));
    gpu!.run(inc, [x], [x]);
    expect(Array.from(await gpu!.readAsync(x))).toEqual([2, 3, 4]);
    gpu!.free(x);
  });

  it('errors: a malformed kernel throws at run; an uncaptured device error surfaces at sync', async () => {
    const bad: Kernel = { kind: 'elementwise', shape: [2], nInputs: 0, outputs: [{ expr: acc(0), dtype: 'float32' }] };
    const o = gpu!.alloc('float32', 2);
    expect(() => gpu!.run(bad, [], [o])).toThrow(/acc/);
    gpu!.free(o);
    gpu!.device.createBuffer({ size: 4, usage: 0 }); // invalid usage: a validation error nobody captures
    await expect(gpu!.sync!()).rejects.toThrow(/webgpu: uncaptured/);
    await gpu!.sync!(); // reported once, then the backend carries on
  });

  it('a lost device rejects reads and refuses work instead of hanging', async () => {
    const other = (await startWebGpu('runtime.test.ts (lost)')).gpu!;
    const b = other.alloc('float32', 4);
    other.device.destroy();
    await expect(other.readAsync(b)).rejects.toThrow(/webgpu: .*(lost|destroyed)/);
    expect(() => other.alloc('float32', 4)).toThrow(/device lost/);
  });
});
