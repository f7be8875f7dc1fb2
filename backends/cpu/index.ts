// cpu backend: typed arrays in the JS heap and kernels rendered to JS (codegen.ts). The reference
// implementation every other backend is checked against.
import type { Backend, Buffer, KernelStats } from '../../src/core/backend.js';
import type { DType, TypedArray } from '../../src/core/dtype.js';
import { typedArrayFor } from '../../src/core/dtype.js';
import type { Kernel } from '../../src/core/kernel.js';
import { printKernel } from '../../src/core/kernel.js';
import { compileJs, renderJs, type CpuKernelFn } from './codegen.js';
import { runChecked } from '../../src/core/index-check.js';
import { KERNEL_CACHE_ENTRIES, LruMap } from '../../src/core/lru.js';

interface CpuBuffer extends Buffer {
  readonly data: TypedArray;
  freed: boolean;
}

/** Creates the cpu backend. */
export function createCpuBackend(): Backend {
  const cache = new LruMap<string, CpuKernelFn>(KERNEL_CACHE_ENTRIES);
  // Compiled programs replay the same kernel objects: skip printing the key for those.
  let byObject = new WeakMap<Kernel, CpuKernelFn>();
  const stats: KernelStats = { compiled: 0, cacheHits: 0, compileMs: 0 };
  let bytes = 0;

  const live = (b: Buffer): CpuBuffer => {
    const c = b as CpuBuffer;
    if (c.freed) throw new Error('cpu: use of a freed buffer');
    return c;
  };

  return {
    name: 'cpu',
    syncReads: true,
    alloc(dtype: DType, size: number): Buffer {
      const data = typedArrayFor(dtype, size);
      bytes += data.byteLength;
      const b: CpuBuffer = { backend: 'cpu', dtype, size, data, freed: false };
      return b;
    },
    free(b: Buffer): void {
      const c = b as CpuBuffer;
      if (c.freed) return;
      c.freed = true;
      bytes -= c.data.byteLength;
    },
    write(b: Buffer, data: TypedArray, offset = 0): void {
      live(b).data.set(data, offset);
    },
    read(b: Buffer, offset = 0, size = b.size - offset): TypedArray {
      return live(b).data.slice(offset, offset + size);
    },
    async readAsync(b: Buffer, offset?: number, size?: number): Promise<TypedArray> {
      return this.read(b, offset, size);
    },
    run(kernel: Kernel, inputs: readonly Buffer[], outputs: readonly Buffer[]): void {
      let fn = byObject.get(kernel);
      const key = fn ? '' : printKernel(kernel);
      if (!fn) fn = cache.get(key);
      if (fn) stats.cacheHits++;
      else {
        const t0 = performance.now();
        fn = compileJs(kernel);
        stats.compileMs += performance.now() - t0;
        stats.compiled++;
        cache.set(key, fn);
      }
      byObject.set(kernel, fn);
      const ins = inputs.map((b) => live(b).data), outs = outputs.map((b) => live(b).data);
      runChecked((err) => fn!(ins, outs, err));
    },
    source: (kernel: Kernel) => renderJs(kernel),
    stats: () => ({ ...stats }),
    allocatedBytes: () => bytes,
    memoryInfo: () => ({ kernels: cache.size }),
    releaseMemory(): void { cache.clear(); byObject = new WeakMap(); },
  };
}
