// Kernel modules across runs (backends/wasm/kernel-cache.ts): a stored module is used by the next
// backend and computes what a fresh build computes; a damaged, truncated or foreign entry is ignored
// and rebuilt; anything that changes the bytes changes the key. And the JS-tier-first policy: a small
// kernel's first run is on the JS tier (same bits), its next builds the module; a large one is built
// at once.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createWasmBackend, JS_TIER_WORK_LIMIT } from '../../backends/wasm/index.js';
import { openKernelCache } from '../../backends/wasm/kernel-cache.js';
import { printKernel, type Kernel } from '../../src/core/kernel.js';
import { acc, cst, ew, ld, matmul, op, randF32, red, runSync, view } from '../kernels/helpers.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-kcache-'));
  dirs.push(d);
  return d;
}
afterAll(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

const n = 1000;
const kernels: Kernel[] = [
  ew([n], 1, [op('add', [op('exp', [ld(0, view([n]))]), cst(1)])]),
  red([10], [100], 1, [{ op: 'sum', body: op('tanh', [ld(0, view([10, 100]))]) }], [{ expr: acc(0), scope: 'outer' }]),
  matmul([], 8, 12, 10, view([8, 10]), view([10, 12])),
];
const inputs: Float32Array[][] = [[randF32(n, 1)], [randF32(n, 2)], [randF32(80, 3), randF32(120, 4)]];
/** Bit-identical (NaN and -0 included). */
const same = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  expect(Array.from(a).filter((x, i) => !Object.is(x, b[i])).length).toBe(0);
};

/** The backend's outputs for every test kernel, built or read as its options say. */
async function runAll(opts: Parameters<typeof createWasmBackend>[0]) {
  const w = await createWasmBackend({ jsRunsBeforeBuild: 0, ...opts });
  const outs = kernels.map((k, i) => runSync(w, k, inputs[i])[0]);
  return { w, outs, info: w.diskCacheInfo() };
}

function entries(dir: string): string[] {
  const d = path.join(dir, 'wasm');
  return fs.readdirSync(d).filter((f) => f.endsWith('.kwasm')).map((f) => path.join(d, f));
}

describe('kernel modules cached on disk', () => {
  it('the next backend reads them, and they compute what a fresh build computes', async () => {
    const dir = tempDir();
    const fresh = await runAll({ diskCache: false });
    expect(fresh.info).toBeNull();
    const first = await runAll({ diskCache: dir });
    expect(first.info).toMatchObject({ hits: 0, writes: kernels.length });
    expect(entries(dir)).toHaveLength(kernels.length);
    const second = await runAll({ diskCache: dir });
    expect(second.info).toMatchObject({ hits: kernels.length, writes: 0 });
    expect(second.w.stats().compiled).toBe(kernels.length);
    for (let i = 0; i < kernels.length; i++) { same(first.outs[i], fresh.outs[i]); same(second.outs[i], fresh.outs[i]); }
  });

  it('a damaged, truncated, emptied or foreign entry is ignored and rebuilt', async () => {
    const dir = tempDir();
    const fresh = await runAll({ diskCache: false });
    await runAll({ diskCache: dir });
    const files = entries(dir).sort();
    const damage: ((f: string) => void)[] = [
      (f) => { const b = fs.readFileSync(f); b[b.length - 5] ^= 0x40; fs.writeFileSync(f, b); }, // a flipped bit in the bytes
      (f) => fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 90)), // truncated
      (f) => fs.writeFileSync(f, ''),
    ];
    files.forEach((f, i) => damage[i % damage.length](f));
    const again = await runAll({ diskCache: dir });
    expect(again.info).toMatchObject({ hits: 0, writes: kernels.length });
    for (let i = 0; i < kernels.length; i++) same(again.outs[i], fresh.outs[i]);
    // Rebuilt entries are whole again.
    expect((await runAll({ diskCache: dir })).info).toMatchObject({ hits: kernels.length, writes: 0 });

    // Another kernel's entry under this kernel's name (its header names the other key): ignored.
    const [a, b] = entries(dir);
    fs.copyFileSync(a, b);
    const swapped = await runAll({ diskCache: dir });
    expect(swapped.info).toMatchObject({ hits: kernels.length - 1, writes: 1 });
    for (let i = 0; i < kernels.length; i++) same(swapped.outs[i], fresh.outs[i]);
  });

  it('stored bytes that V8 refuses, or that export something else, are dropped and rebuilt', async () => {
    const dir = tempDir();
    const cache = openKernelCache({ dir })!;
    const w0 = await createWasmBackend({ diskCache: false });
    const key = (k: Kernel) => cache.key(printKernel(k), { fma: w0.fma, optimize: false });
    cache.put(key(kernels[0]), new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 2, 3])); // not a module
    cache.put(key(kernels[1]), new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])); // an empty module: no exports
    const fresh = await runAll({ diskCache: false });
    const run = await runAll({ diskCache: dir });
    expect(run.info).toMatchObject({ hits: 0, writes: kernels.length });
    for (let i = 0; i < kernels.length; i++) same(run.outs[i], fresh.outs[i]);
  });

  it('a change of kernel, build options or code changes the key; KILN_CACHE=0 turns the cache off', async () => {
    const dir = tempDir();
    const cache = openKernelCache({ dir })!;
    const text = printKernel(kernels[0]);
    const keys = new Set([
      cache.key(text, { fma: false, optimize: false }),
      cache.key(text, { fma: true, optimize: false }),
      cache.key(text, { fma: false, optimize: true }),
      cache.key(text, { fma: false, optimize: false, winogradF4: true }),
      cache.key(printKernel(ew([n + 1], 1, [op('add', [op('exp', [ld(0, view([n + 1]))]), cst(1)])])), { fma: false, optimize: false }),
    ]);
    expect(keys.size).toBe(5);
    expect(openKernelCache({ dir })!.key(text, { fma: false, optimize: false })).toBe(cache.key(text, { fma: false, optimize: false }));
    expect(openKernelCache({ env: { KILN_CACHE: '0' } })).toBeNull();
    expect(openKernelCache({ dir, env: { KILN_CACHE: '0' } })).not.toBeNull(); // a folder asked for by code

    // The optimiser changes the bytes: a backend that runs it does not read the other's entries.
    await runAll({ diskCache: dir });
    const optimized = await runAll({ diskCache: dir, optimize: true });
    expect(optimized.info).toMatchObject({ hits: 0, writes: kernels.length });
  });
});

describe('the cache stays bounded', () => {
  it('past its limit it removes the least recently used entries', () => {
    const dir = tempDir();
    const cache = openKernelCache({ dir, maxEntries: 8 })!;
    const bytes = (i: number) => new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, i]);
    const keys = Array.from({ length: 30 }, (_, i) => cache.key(`kernel ${i}`, { fma: false, optimize: false }));
    const old = new Date(Date.now() - 3_600_000);
    for (let i = 0; i < keys.length; i++) {
      expect(cache.put(keys[i], bytes(i))).toBe(true);
      fs.utimesSync(path.join(dir, 'wasm', `${keys[i]}.kwasm`), old, old); // all written long ago...
      if (i === 0) expect(cache.get(keys[0])).toEqual(bytes(0)); // ...but the first is read again now
      else if (cache.has(keys[0])) cache.get(keys[0]);
    }
    expect(entries(dir).length).toBeLessThanOrEqual(8);
    expect(cache.get(keys[0])).toEqual(bytes(0));
    expect(cache.get(keys[keys.length - 1])).toEqual(bytes(keys.length - 1));
  });
});

describe('a cache folder of another user', () => {
  // Making a folder another user's needs root (chown); elsewhere this is reported as skipped.
  it.skipIf(process.getuid?.() !== 0)('is neither read nor written (its entries could have been planted)', async () => {
    const dir = tempDir();
    await runAll({ diskCache: dir });
    const sub = path.join(dir, 'wasm');
    fs.chownSync(sub, 65534, 65534);
    const run = await runAll({ diskCache: dir });
    expect(run.info).toMatchObject({ hits: 0, writes: 0 });
    const cache = openKernelCache({ dir })!;
    expect(cache.get(cache.key(printKernel(kernels[0]), { fma: run.w.fma, optimize: false }))).toBeNull();
    const before = fs.readdirSync(sub).length;
    expect(cache.put('0'.repeat(64), new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))).toBe(false);
    expect(fs.readdirSync(sub).length).toBe(before);
  });
});

describe('small kernels run on the JS tier first', () => {
  it('a small kernel is built on its second run, a large one at once; the bits are the same', async () => {
    const w = await createWasmBackend({ diskCache: false, jsRunsBeforeBuild: 1 });
    const small = kernels[0];
    const first = runSync(w, small, inputs[0]);
    expect(w.stats().compiled).toBe(0);
    const second = runSync(w, ew([n], 1, [op('add', [op('exp', [ld(0, view([n]))]), cst(1)])]), inputs[0]); // an equal kernel, new object
    expect(w.stats().compiled).toBe(1);
    same(first[0], second[0]);

    const big = 1 << 17;
    expect(big).toBeGreaterThan(JS_TIER_WORK_LIMIT);
    runSync(w, ew([big], 1, [op('exp', [ld(0, view([big]))])]), [randF32(big, 5)]);
    expect(w.stats().compiled).toBe(2);
  });

  it('a kernel already in the disk cache is used at once', async () => {
    const dir = tempDir();
    await runAll({ diskCache: dir });
    const w = await createWasmBackend({ diskCache: dir, jsRunsBeforeBuild: 1 });
    runSync(w, kernels[0], inputs[0]);
    expect(w.stats().compiled).toBe(1);
    expect(w.diskCacheInfo()).toMatchObject({ hits: 1 });
  });
});
