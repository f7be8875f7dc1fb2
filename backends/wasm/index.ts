// wasm backend: kernels (src/core/kernel.ts) compiled to WebAssembly with binaryen, one module per
// distinct kernel (cached by its printed form), all sharing one growable memory that holds the
// tensor buffers. binaryen is loaded lazily inside the factory (ESM with top-level await).
import type { Backend, Buffer, KernelStats } from '../../src/core/backend.js';
import type { DType, TypedArray } from '../../src/core/dtype.js';
import type { Kernel } from '../../src/core/kernel.js';
import { printKernel } from '../../src/core/kernel.js';
import { KilnError } from '../../src/core/errors.js';
import { buildElementwise } from './elementwise.js';
import { buildMatmul } from './matmul.js';
import { buildReduce } from './reduce.js';
import { INV_PIO2_TABLE_ADDR, invPio2Table } from './mathlib.js';
import { WasmHeap, type HeapStats } from './memory.js';
import type { CompiledModule, Launch, LaunchEnv } from './module.js';
import { KernelModule, instantiate, optimizedText } from './module.js';
import type { Binaryen } from './emit.js';
import { initV8Flags, relaxedSimdAvailable } from './v8flags.js';

/** A tensor buffer in the wasm heap. */
export interface WasmBuffer extends Buffer {
  readonly backend: 'wasm';
  /** Byte address in linear memory (16-byte aligned); releaseMemory() may move the buffer. */
  ptr: number;
  /** Bytes of payload (size x element bytes). */
  readonly bytes: number;
  freed: boolean;
}

/** Options of the wasm backend. */
export interface WasmBackendOptions {
  /** Keep each kernel's WAT text for `wat()` (costs memory; for dumps and debugging). */
  readonly keepWat?: boolean;
  /**
   * Compile kernel modules straight to V8's optimising tier (Node only; default true; process-wide
   * once any backend has asked for it). See v8flags.ts.
   */
  readonly eagerTierUp?: boolean;
  /**
   * The baseline tier: compiles a kernel to JS over typed arrays. While binaryen loads (it is large,
   * so it is fetched on first use), kernels run through it on views of the same memory; without it
   * they wait for `ready()`. The wiring passes the cpu backend's renderer; wasm imports no backend.
   */
  readonly baseline?: (kernel: Kernel) => BaselineKernel;
  /**
   * Fused multiply-add (relaxed SIMD) inside builtins and matmul. Default: on where the runtime has
   * relaxed SIMD or (Node 20) can enable it for kernel modules (v8flags.ts), unless KILN_WASM_FMA=0;
   * true insists (ready() rejects without it). Off gives the same results on every machine.
   */
  readonly fma?: boolean;
}

/** KILN_WASM_FMA=0 or =1 (Node), else undefined. */
function fmaFromEnv(): boolean | undefined {
  const v = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.KILN_WASM_FMA;
  return v === '0' ? false : v === '1' ? true : undefined;
}

/** A kernel as a JS function over typed arrays (`ins[i]`, `outs[i]` are views of the wasm memory). */
export type BaselineKernel = (ins: readonly ArrayLike<number>[], outs: readonly { [i: number]: number }[]) => void;

/** The wasm backend plus introspection the tests and benchmarks use. */
export interface WasmBackend extends Backend {
  readonly name: 'wasm';
  /** The shared memory every kernel imports. */
  readonly memory: WebAssembly.Memory;
  /** The WAT of a compiled kernel (only with `keepWat`), compiling it if needed. */
  wat(kernel: Kernel): string;
  /** The optimised WAT of a kernel's module (built afresh, not cached). */
  source(kernel: Kernel): string;
  /** Compiles a kernel without running it (warm-up). */
  prepare(kernel: Kernel): void;
  /** Allocator statistics. */
  heapStats(): HeapStats;
  /** Loads binaryen (once); resolves when kernels compile to WebAssembly. */
  ready(): Promise<void>;
  /** Whether kernels use relaxed-SIMD fused multiply-add (settled by `ready()`; false before). */
  readonly fma: boolean;
}

interface Entry {
  readonly compiled: CompiledModule;
  readonly launch: Launch;
}

/** Kernel modules kept by their printed kernel (compiled programs also hold theirs by kernel object). */
const KERNEL_CACHE_LIMIT = 1024;

function bytesPer(dtype: DType): number {
  return dtype === 'bool' ? 1 : 4;
}

/** Creates the wasm backend and waits for binaryen. */
export async function createWasmBackend(options: WasmBackendOptions = {}): Promise<WasmBackend> {
  const backend = createWasmBackendSync(options);
  await backend.ready();
  return backend;
}

/**
 * Creates the wasm backend at once (memory and allocator); binaryen loads on the first kernel or on
 * `ready()`. Until it has loaded, kernels run through `options.baseline`.
 */
export function createWasmBackendSync(options: WasmBackendOptions = {}): WasmBackend {
  let binaryen: Binaryen | null = null;
  let loading: Promise<void> | null = null;
  const wantFma = options.fma ?? fmaFromEnv();
  let fma = false;
  const ready = (): Promise<void> => (loading ??= (async () => {
    await initV8Flags({ tierUp: options.eagerTierUp !== false, relaxed: wantFma !== false });
    fma = wantFma !== false && relaxedSimdAvailable();
    if (wantFma === true && !fma) {
      throw new KilnError('wasm: fma: true needs WebAssembly relaxed SIMD, which this runtime lacks and cannot enable (Chrome >= 114, Node >= 20)');
    }
    binaryen = (await import('binaryen')).default as unknown as Binaryen;
  })());
  const heap = new WasmHeap();
  new Uint32Array(heap.memory.buffer, INV_PIO2_TABLE_ADDR, 24).set(invPio2Table());
  const cache = new Map<string, Entry>();
  /** Live buffers by address (releaseMemory() moves them). */
  const buffers = new Map<number, WasmBuffer>();
  const stats: KernelStats = { compiled: 0, cacheHits: 0, compileMs: 0 };
  let liveBytes = 0;
  let scratchPtr = 0;
  let scratchBytes = 0;
  const env: LaunchEnv & { inputs: { dtype: DType; size: number }[] } = {
    inputs: [],
    scratch(bytes: number): number {
      if (bytes > scratchBytes) {
        if (scratchPtr) heap.release(scratchPtr);
        scratchBytes = Math.max(bytes, scratchBytes * 2);
        scratchPtr = heap.alloc(scratchBytes);
      }
      return scratchPtr;
    },
  };

  const live = (b: Buffer): WasmBuffer => {
    const w = b as WasmBuffer;
    if (w.backend !== 'wasm') throw new KilnError(`wasm: buffer belongs to backend '${b.backend}'`);
    if (w.freed) throw new KilnError('wasm: use of a freed buffer');
    return w;
  };

  const view = (b: WasmBuffer): TypedArray => {
    const buf = heap.memory.buffer;
    switch (b.dtype) {
      case 'float32': return new Float32Array(buf, b.ptr, b.size);
      case 'int32': return new Int32Array(buf, b.ptr, b.size);
      case 'bool': return new Uint8Array(buf, b.ptr, b.size);
    }
  };

  const build = (kernel: Kernel): { km: KernelModule; launch: Launch } => {
    if (!binaryen) throw new KilnError("wasm: binaryen has not loaded yet; `await initBackend('wasm')` (or kiln.ready()) first");
    const km = new KernelModule(binaryen, fma);
    try {
      switch (kernel.kind) {
        case 'elementwise': return { km, launch: buildElementwise(km, kernel) };
        case 'reduce': return { km, launch: buildReduce(km, kernel) };
        case 'matmul': return { km, launch: buildMatmul(km, kernel) };
      }
    } catch (err) {
      km.m.dispose();
      throw err;
    }
  };

  const compile = (kernel: Kernel, key: string): Entry => {
    const t0 = performance.now();
    const { km, launch } = build(kernel);
    const compiled = instantiate(km, heap.memory, options.keepWat === true);
    stats.compileMs += performance.now() - t0;
    stats.compiled++;
    const entry = { compiled, launch };
    // Least recently used first out: a module stays alive as long as a program holding its kernel does.
    if (cache.size >= KERNEL_CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    cache.set(key, entry);
    return entry;
  };

  const baselineCache = new Map<string, BaselineKernel>();
  let baselineByObject = new WeakMap<Kernel, BaselineKernel>();
  // Compiled programs replay the same kernel objects: those skip printing the key.
  let byObject = new WeakMap<Kernel, Entry>();
  const entryFor = (kernel: Kernel): Entry => {
    let entry = byObject.get(kernel);
    if (entry) { stats.cacheHits++; return entry; }
    const key = printKernel(kernel);
    entry = cache.get(key);
    if (entry) { stats.cacheHits++; cache.delete(key); cache.set(key, entry); }
    else entry = compile(kernel, key);
    byObject.set(kernel, entry);
    return entry;
  };

  const backend: WasmBackend = {
    name: 'wasm',
    syncReads: true,
    get memory() { return heap.memory; },
    get fma() { return fma; },
    alloc(dtype: DType, size: number, zeroed = true): Buffer {
      if (!Number.isInteger(size) || size < 0) throw new KilnError(`wasm: cannot allocate ${size} elements`);
      const bytes = size * bytesPer(dtype);
      const ptr = heap.alloc(bytes, zeroed);
      liveBytes += bytes;
      const b: WasmBuffer = { backend: 'wasm', dtype, size, ptr, bytes, freed: false };
      buffers.set(ptr, b);
      return b;
    },
    free(b: Buffer): void {
      const w = b as WasmBuffer;
      if (w.freed) return;
      w.freed = true;
      liveBytes -= w.bytes;
      buffers.delete(w.ptr);
      heap.release(w.ptr);
    },
    write(b: Buffer, data: TypedArray, offset = 0): void {
      const w = live(b);
      if (offset < 0 || offset + data.length > w.size) {
        throw new KilnError(`wasm: write of ${data.length} elements at ${offset} overflows a buffer of ${w.size}`);
      }
      view(w).set(data, offset);
    },
    read(b: Buffer, offset = 0, size = b.size - offset): TypedArray {
      const w = live(b);
      if (offset < 0 || size < 0 || offset + size > w.size) {
        throw new KilnError(`wasm: read of ${size} elements at ${offset} from a buffer of ${w.size}`);
      }
      return view(w).slice(offset, offset + size);
    },
    async readAsync(b: Buffer, offset?: number, size?: number): Promise<TypedArray> {
      return backend.read(b, offset, size);
    },
    run(kernel: Kernel, inputs: readonly Buffer[], outputs: readonly Buffer[]): void {
      if (!binaryen && options.baseline) {
        // Baseline tier while binaryen loads in the background.
        ready().catch(() => { /* stays on the baseline; ready() reports the error when awaited */ });
        let fn = baselineByObject.get(kernel);
        if (!fn) {
          const key = printKernel(kernel);
          fn = baselineCache.get(key) ?? options.baseline(kernel);
          baselineCache.set(key, fn);
          baselineByObject.set(kernel, fn);
        }
        fn(inputs.map((b) => view(live(b))), outputs.map((b) => view(live(b))));
        return;
      }
      const entry = entryFor(kernel);
      const ptrs = [...inputs.map((b) => live(b).ptr), ...outputs.map((b) => live(b).ptr)];
      env.inputs = inputs.map((b) => ({ dtype: b.dtype, size: b.size }));
      entry.launch(entry.compiled.exports, ptrs, env);
    },
    unsupported(kernel: Kernel): string | null {
      switch (kernel.kind) {
        case 'elementwise': case 'reduce': case 'matmul': return null;
      }
    },
    source(kernel: Kernel): string {
      const { km } = build(kernel);
      return optimizedText(km);
    },
    stats: () => ({ ...stats }),
    allocatedBytes: () => liveBytes,
    wat(kernel: Kernel): string {
      return entryFor(kernel).compiled.wat();
    },
    prepare(kernel: Kernel): void {
      entryFor(kernel);
    },
    heapStats: () => heap.stats(),
    memoryInfo() {
      const h = heap.stats();
      return { heapBytes: h.memoryBytes, peakHeapBytes: h.peakMemoryBytes, heapTopBytes: h.top, heapFreeBytes: h.freeListed, kernels: cache.size };
    },
    releaseMemory() {
      // Kernel instances are bound to the memory they were instantiated with: drop them all.
      cache.clear();
      byObject = new WeakMap();
      baselineCache.clear();
      baselineByObject = new WeakMap();
      if (scratchPtr) { heap.release(scratchPtr); scratchPtr = 0; scratchBytes = 0; }
      const moved = new Map<number, WasmBuffer>();
      heap.compact((from, to) => { const b = buffers.get(from)!; b.ptr = to; moved.set(to, b); buffers.delete(from); });
      for (const [ptr, b] of moved) buffers.set(ptr, b);
    },
    ready,
  };
  return backend;
}
