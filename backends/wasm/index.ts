// wasm backend: kernels (src/core/kernel.ts) compiled to WebAssembly with binaryen, one module per
// distinct kernel (cached by its printed form), all sharing one growable memory that holds the
// tensor buffers. binaryen is loaded lazily (load-binaryen.ts).
import type { Backend, Buffer, KernelStats } from '../../src/core/backend.js';
import type { DType, TypedArray } from '../../src/core/dtype.js';
import type { ElementwiseKernel, Expr, Kernel } from '../../src/core/kernel.js';
import { contiguousView, printKernel } from '../../src/core/kernel.js';
import { KilnError, assertNever } from '../../src/core/errors.js';
import { buildElementwise } from './elementwise.js';
import { buildMatmul } from './matmul.js';
import { buildReduce } from './reduce.js';
import { sharedModuleKey } from './shared.js';
import { INV_PIO2_TABLE_ADDR, invPio2Table } from './mathlib.js';
import { WasmHeap, type HeapStats } from './memory.js';
import type { CompiledModule, Launch, LaunchEnv, Launcher, ModuleStore } from './module.js';
import { INDEX_ERROR_ADDR, KernelModule, instantiate, optimizedText } from './module.js';
import { indexError, opName, runChecked } from '../../src/core/index-check.js';
import type { Binaryen } from './emit.js';
import { compileModule, initV8Flags, relaxedSimdAvailable } from './v8flags.js';
import { relaxedMaddFuses } from './features.js';
import { makeJsMath, type JsMath } from './jsmath.js';
import { compileJsTier, renderJsTier, type JsTierKernel } from './jstier.js';
import { loadBinaryen, withBinaryenTiering } from './load-binaryen.js';
import { openKernelCache, type KernelCache } from './kernel-cache.js';
import { KERNEL_CACHE_ENTRIES, LruMap } from '../../src/core/lru.js';

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
   * Fused multiply-add (relaxed SIMD) inside builtins and matmul. Default: on where the runtime has
   * relaxed SIMD or (Node 20) can enable it for kernel modules (v8flags.ts), unless KILN_WASM_FMA=0;
   * true insists (ready() rejects without it). Off gives the same results on every machine.
   */
  readonly fma?: boolean;
  /**
   * Run binaryen's optimiser on each kernel module before V8 compiles it (module.ts). Default false:
   * V8's optimising compiler makes kernels as fast without it (bench/wasm-optimize.ts), and it
   * would take about four times as long to build each kernel. KILN_WASM_OPTIMIZE=1 turns it on.
   */
  readonly optimize?: boolean;
  /**
   * How many times a small kernel (JS_TIER_WORK_LIMIT) runs on the JS tier before its module is
   * built (default 1, or KILN_WASM_JS_RUNS; 0 builds on first use). A kernel that runs once (set-up,
   * a one-off inspection) then costs no module build, and the first step of a loop does not wait for
   * hundreds of them. Larger kernels, and kernels whose module is in the disk cache, use WebAssembly
   * at once. Both tiers compute the same bits.
   */
  readonly jsRunsBeforeBuild?: number;
  /**
   * The disk cache of kernel modules across runs (kernel-cache.ts; Node only): false turns it off, a
   * string puts it in that folder. Default on, unless KILN_CACHE=0.
   */
  readonly diskCache?: boolean | string;
  /**
   * Let 3×3 stride-1 convolutions use Winograd F(4×4, 3×3) where it does fewer multiply-adds than
   * F(2×2, 3×3) (winograd.ts): 1.78x fewer, at the price of rounding errors several times those of
   * direct summation (README, "Convolutions"). Default false (F(2×2) only, as accurate as direct
   * summation), unless KILN_WASM_WINOGRAD_F4=1.
   */
  readonly winogradF4?: boolean;
}

/** An environment variable (Node), else undefined. */
function envVar(name: string): string | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
}

/** KILN_WASM_FMA=0 or =1 (Node), else undefined. */
function fmaFromEnv(): boolean | undefined {
  const v = envVar('KILN_WASM_FMA');
  return v === '0' ? false : v === '1' ? true : undefined;
}

/** KILN_WASM_JS_RUNS=N (Node), else undefined. */
function jsRunsFromEnv(): number | undefined {
  const v = envVar('KILN_WASM_JS_RUNS');
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

/**
 * Work units (elements, or multiply-adds) up to which a kernel's first runs stay on the JS tier:
 * about as long as building its module takes (a few ms); a larger kernel is built at once.
 */
export const JS_TIER_WORK_LIMIT = 1 << 16;

/** A kernel's work units: output elements (times reductions), or multiply-adds of a matmul. */
function kernelWork(kernel: Kernel): number {
  const prod = (dims: readonly number[]) => dims.reduce((a, d) => a * d, 1);
  switch (kernel.kind) {
    case 'elementwise': return prod(kernel.shape) * kernel.outputs.length;
    case 'reduce': return prod(kernel.outer) * prod(kernel.inner) * Math.max(1, kernel.reductions.length);
    case 'matmul': return prod(kernel.batch) * kernel.m * kernel.n * kernel.k;
    default: return assertNever(kernel, 'kernel');
  }
}

/** Which tier runs kernels: JavaScript (jstier.ts) or WebAssembly. */
export type WasmTier = 'js' | 'wasm';

/** KILN_WASM_WINOGRAD_F4=1 (Node). */
function winogradF4FromEnv(): boolean {
  return envVar('KILN_WASM_WINOGRAD_F4') === '1';
}

/** KILN_WASM_OPTIMIZE=1 (Node). */
function optimizeFromEnv(): boolean {
  return envVar('KILN_WASM_OPTIMIZE') === '1';
}

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
  /** Whether kernels use relaxed-SIMD fused multiply-add (decided at the first kernel or `ready()`). */
  readonly fma: boolean;
  /** Whether 3×3 convolutions may use Winograd F(4×4, 3×3) (the winogradF4 option). */
  readonly winogradF4: boolean;
  /** The tier the next kernel runs on: 'js' until binaryen has loaded (or when it cannot), then 'wasm'. */
  readonly tier: WasmTier;
  /**
   * Pins kernels to one tier (null: the default, 'wasm' once binaryen has loaded), e.g. to compare
   * them; both compute the same bits. 'wasm' needs `ready()` first.
   */
  forceTier(tier: WasmTier | null): void;
  /** The JS-tier source of a kernel (what runs before binaryen has loaded). */
  jsSource(kernel: Kernel): string;
  /** The disk cache of kernel modules: its folder, and modules read from it or written to it in this backend; null when off. */
  diskCacheInfo(): { readonly dir: string; readonly hits: number; readonly writes: number } | null;
}

/** A kernel ready to run: its module and its launch. */
interface Entry {
  readonly compiled: CompiledModule;
  readonly launch: Launch;
}

/** A built module: how to launch it for each kernel it serves (one, or several sizes: shared.ts). */
interface ModuleEntry {
  readonly compiled: CompiledModule;
  readonly launcher: Launcher<Kernel>;
  /** The binary of a fresh build (kept only under KILN_WASM_CHECK_SHARED=1, to compare reuses with). */
  readonly binary?: Uint8Array;
}

/** KILN_WASM_CHECK_SHARED=1 (Node): every reuse of a shared module for another size is checked against a fresh build. */
function checkSharedFromEnv(): boolean {
  return envVar('KILN_WASM_CHECK_SHARED') === '1';
}

function bytesPer(dtype: DType): number {
  return dtype === 'bool' ? 1 : 4;
}

/**
 * Builds, instantiates and runs one small kernel with a freshly loaded binaryen, and checks it against
 * the JS tier: null when binaryen works here, else why not (a host may load the package but refuse to
 * compile its modules, or a bundler may break it).
 */
function selfTest(b: Binaryen, fma: boolean, math: JsMath): string | null {
  try {
    const x: Expr = { kind: 'load', input: 0, view: contiguousView([5]), dtype: 'float32' };
    const kernel: ElementwiseKernel = { kind: 'elementwise', shape: [5], nInputs: 1, outputs: [{ expr: { kind: 'op', op: 'exp', args: [x], dtype: 'float32' }, dtype: 'float32' }] };
    const km = new KernelModule(b, fma);
    const launch = buildElementwise(km, kernel)(kernel);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
    const compiled = instantiate(km, memory);
    const xs = [0, 1, -2.5, 10.25, -87.5];
    new Float32Array(memory.buffer, 1024, 5).set(xs);
    launch(compiled.exports, [1024, 2048], { scratch: () => 4096, inputs: [{ dtype: 'float32', size: 5 }] });
    const got = Array.from(new Float32Array(memory.buffer, 2048, 5));
    const want = xs.map((v) => math.exp(Math.fround(v)));
    if (got.some((g, i) => !Object.is(g, want[i]))) return `its exp(${xs.join(', ')}) = ${got.join(', ')} differs from the JS tier's ${want.join(', ')}`;
    return null;
  } catch (e) {
    return (e instanceof Error ? e.message : String(e)).split('\n')[0];
  }
}

/** Creates the wasm backend and waits for binaryen. */
export async function createWasmBackend(options: WasmBackendOptions = {}): Promise<WasmBackend> {
  const backend = createWasmBackendSync(options);
  await backend.ready();
  return backend;
}

/**
 * Creates the wasm backend at once (memory and allocator); binaryen loads on the first kernel or on
 * `ready()`. Until it has loaded, kernels run on the JS tier (jstier.ts), which computes the same bits.
 */
export function createWasmBackendSync(options: WasmBackendOptions = {}): WasmBackend {
  let binaryen: Binaryen | null = null;
  let loading: Promise<void> | null = null;
  /** Set when binaryen loaded but cannot build modules here: kernels stay on the JS tier. */
  let broken: string | null = null;
  let forced: WasmTier | null = null;
  const wantFma = options.fma ?? fmaFromEnv();
  const optimize = options.optimize ?? optimizeFromEnv();
  const winogradF4 = options.winogradF4 ?? winogradF4FromEnv();
  // Decided once, before any kernel runs on either tier, so both compute the same bits.
  let numerics: { fma: boolean; math: JsMath } | null = null;
  const decide = () => {
    if (!numerics) {
      const fma = wantFma !== false && relaxedSimdAvailable();
      numerics = { fma, math: makeJsMath(fma && relaxedMaddFuses((bytes) => compileModule(bytes, true))) };
    }
    return numerics;
  };
  const ready = (): Promise<void> => (loading ??= (async () => {
    const { fma, math } = decide();
    await initV8Flags({ tierUp: options.eagerTierUp !== false });
    if (wantFma === true && !fma) {
      throw new KilnError('wasm: fma: true needs WebAssembly relaxed SIMD, which this runtime lacks and cannot enable (Chrome >= 114, Node >= 20.16)');
    }
    const b = await loadBinaryen();
    broken = withBinaryenTiering(() => selfTest(b, fma, math));
    if (broken) {
      console.warn(`[kiln] wasm: binaryen loaded but cannot build kernels here (${broken}); kernels keep running on the JS tier, which computes the same results more slowly`);
      return;
    }
    binaryen = b;
  })());
  const heap = new WasmHeap();
  new Uint32Array(heap.memory.buffer, INV_PIO2_TABLE_ADDR, 24).set(invPio2Table());
  // Kernel modules by module key: the printed kernel, or for kernels that share a module across sizes
  // the printed kernel without that size.
  const cache = new LruMap<string, ModuleEntry>(KERNEL_CACHE_ENTRIES);
  const jsRunsBeforeBuild = Math.max(0, Math.floor(options.jsRunsBeforeBuild ?? jsRunsFromEnv() ?? 1));
  /** JS-tier runs of each kernel (by its JS-tier function, one per printed kernel). */
  let jsRuns = new WeakMap<JsTierKernel, number>();
  let disk: KernelCache | null | undefined = options.diskCache === false ? null : undefined;
  const diskCounts = { hits: 0, writes: 0 };
  const diskCache = (): KernelCache | null => (disk === undefined
    ? (disk = openKernelCache(typeof options.diskCache === 'string' ? { dir: options.diskCache } : {}))
    : disk);
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

  /** Emits a kernel's module; `sizeGeneric`: one that serves every outer size (shared.ts). */
  const build = (kernel: Kernel, sizeGeneric: boolean): { km: KernelModule; launcher: Launcher<Kernel> } => {
    if (!binaryen) throw new KilnError(broken ? `wasm: binaryen cannot build kernels here (${broken})` : "wasm: binaryen has not loaded yet; `await initBackend('wasm')` (or kiln.ready()) first");
    const km = new KernelModule(binaryen, decide().fma, winogradF4);
    try {
      // The module key says which kind a launcher serves, so each template gets kernels of its own kind.
      switch (kernel.kind) {
        case 'elementwise': { const l = buildElementwise(km, kernel); return { km, launcher: (k) => l(k as typeof kernel) }; }
        case 'reduce': { const l = buildReduce(km, kernel, sizeGeneric); return { km, launcher: (k) => l(k as typeof kernel) }; }
        case 'matmul': { const l = buildMatmul(km, kernel, sizeGeneric); return { km, launcher: (k) => l(k as typeof kernel) }; }
        default: return assertNever(kernel, 'kernel');
      }
    } catch (err) {
      km.m.dispose();
      throw err;
    }
  };

  /** The disk cache's view of one kernel's module, for instantiate(). */
  const storeFor = (key: string): ModuleStore | null => {
    const dc = diskCache();
    if (!dc) return null;
    const diskKey = dc.key(key, { fma: decide().fma, optimize, winogradF4 });
    return {
      get: () => { const bytes = dc.get(diskKey); if (bytes) diskCounts.hits++; return bytes; },
      put: (bytes) => { if (dc.put(diskKey, bytes)) diskCounts.writes++; },
      drop: () => { diskCounts.hits--; dc.drop(diskKey); },
    };
  };

  /** The binary a fresh build of `kernel` emits (before any optimisation), for KILN_WASM_CHECK_SHARED. */
  const freshBinary = (kernel: Kernel, sizeGeneric: boolean): Uint8Array => withBinaryenTiering(() => {
    const { km } = build(kernel, sizeGeneric);
    try {
      if (!km.m.validate()) throw new Error('wasm backend: generated module failed validation');
      return km.m.emitBinary();
    } finally {
      km.m.dispose();
    }
  });

  /** Builds and instantiates the module of `kernel` under its module key (the disk cache's key too). */
  const compile = (kernel: Kernel, key: string, sizeGeneric: boolean): ModuleEntry => {
    const t0 = performance.now();
    // Checking shared modules compares fresh builds: no module from the disk then.
    const check = sizeGeneric && checkSharedFromEnv();
    const { compiled, launcher } = withBinaryenTiering(() => {
      const { km, launcher } = build(kernel, sizeGeneric);
      return { compiled: instantiate(km, heap.memory, options.keepWat === true, optimize, check ? null : storeFor(key)), launcher };
    });
    stats.compileMs += performance.now() - t0;
    stats.compiled++;
    const entry: ModuleEntry = check ? { compiled, launcher, binary: freshBinary(kernel, true) } : { compiled, launcher };
    // Least recently used first out: a module stays alive as long as a program holding its kernel does.
    cache.set(key, entry);
    return entry;
  };

  /** Under KILN_WASM_CHECK_SHARED=1: a shared module serves `kernel` only if a fresh build would be the same bytes. */
  const checkShared = (kernel: Kernel, mod: ModuleEntry): void => {
    if (!mod.binary) return;
    const fresh = freshBinary(kernel, true);
    if (fresh.length !== mod.binary.length || fresh.some((x, i) => x !== mod.binary![i])) {
      throw new Error(`wasm backend: a module shared across sizes differs from a fresh build for\n${printKernel(kernel)}`);
    }
  };

  const jsCache = new LruMap<string, JsTierKernel>(KERNEL_CACHE_ENTRIES);
  let jsByObject = new WeakMap<Kernel, JsTierKernel>();
  const jsKernel = (kernel: Kernel, printed?: string): JsTierKernel => {
    let fn = jsByObject.get(kernel);
    if (!fn) {
      const key = printed ?? printKernel(kernel);
      fn = jsCache.get(key);
      if (!fn) jsCache.set(key, (fn = compileJsTier(kernel, decide().math, winogradF4)));
      jsByObject.set(kernel, fn);
    }
    return fn;
  };
  const tier = (): WasmTier => forced ?? (binaryen ? 'wasm' : 'js');
  // Compiled programs replay the same kernel objects: those skip printing the key.
  let byObject = new WeakMap<Kernel, Entry>();
  /**
   * A kernel's module, built if need be; or, with `orJsTier`, its printed form while it should still
   * run on the JS tier (fewer than jsRunsBeforeBuild runs there, and not in the disk cache).
   */
  function entryFor(kernel: Kernel): Entry;
  function entryFor(kernel: Kernel, orJsTier: true): Entry | string;
  function entryFor(kernel: Kernel, orJsTier = false): Entry | string {
    let entry = byObject.get(kernel);
    if (entry) { stats.cacheHits++; return entry; }
    const shared = sharedModuleKey(kernel);
    const key = shared ?? printKernel(kernel);
    let mod = cache.get(key);
    if (mod) {
      stats.cacheHits++;
      if (shared) checkShared(kernel, mod);
    } else {
      if (orJsTier && kernelWork(kernel) <= JS_TIER_WORK_LIMIT && !onDisk(key)) {
        // The JS tier keeps a function per printed kernel (per size, where the module is shared).
        const printed = shared === null ? key : printKernel(kernel);
        if (jsRunsOf(printed) < jsRunsBeforeBuild) return printed;
      }
      mod = compile(kernel, key, shared !== null);
    }
    entry = { compiled: mod.compiled, launch: mod.launcher(kernel) };
    byObject.set(kernel, entry);
    return entry;
  }
  const onDisk = (key: string): boolean => {
    const dc = diskCache();
    return dc !== null && dc.has(dc.key(key, { fma: decide().fma, optimize, winogradF4 }));
  };
  const jsRunsOf = (key: string): number => {
    const fn = jsCache.get(key);
    return fn ? jsRuns.get(fn) ?? 0 : 0;
  };

  const backend: WasmBackend = {
    name: 'wasm',
    syncReads: true,
    get memory() { return heap.memory; },
    get fma() { return decide().fma; },
    winogradF4,
    get tier() { return tier(); },
    forceTier(t: WasmTier | null): void {
      if (t === 'wasm' && !binaryen) throw new KilnError("wasm: forceTier('wasm') needs binaryen: `await initBackend('wasm')` first");
      forced = t;
    },
    jsSource: (kernel: Kernel) => renderJsTier(kernel, winogradF4),
    diskCacheInfo: () => { const dc = diskCache(); return dc && { dir: dc.dir, ...diskCounts }; },
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
      const entry = tier() === 'js' ? null : entryFor(kernel, true);
      if (entry === null || typeof entry === 'string') {
        // Until binaryen has loaded (fetched in the background on first use), wherever it cannot
        // build modules, and for a kernel's first runs: JS computing the same bits on views of the
        // same memory.
        if (!binaryen && !forced) ready().catch(() => { /* stays on the JS tier; ready() reports the error when awaited */ });
        const ins = inputs.map((b) => view(live(b))), outs = outputs.map((b) => view(live(b)));
        const fn = jsKernel(kernel, entry ?? undefined);
        jsRuns.set(fn, (jsRuns.get(fn) ?? 0) + 1);
        runChecked((err) => fn(ins, outs, err));
        return;
      }
      const ptrs = [...inputs.map((b) => live(b).ptr), ...outputs.map((b) => live(b).ptr)];
      env.inputs = inputs.map((b) => ({ dtype: b.dtype, size: b.size }));
      entry.launch(entry.compiled.exports, ptrs, env);
      // A kernel that met an index out of range recorded it (loops.ts checkedIndex): raise it here.
      const rec = heap.views().i32;
      const at = INDEX_ERROR_ADDR / 4;
      if (rec[at] !== 0) {
        const [index, code, axis, size] = [rec[at + 1], rec[at + 2], rec[at + 3], rec[at + 4]];
        rec.fill(0, at, at + 5);
        throw indexError({ op: opName(code), axis, size }, index);
      }
    },
    unsupported(kernel: Kernel): string | null {
      switch (kernel.kind) {
        case 'elementwise': case 'reduce': case 'matmul': return null;
        default: return assertNever(kernel, 'kernel');
      }
    },
    source(kernel: Kernel): string {
      return withBinaryenTiering(() => optimizedText(build(kernel, sharedModuleKey(kernel) !== null).km));
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
      return { heapBytes: h.memoryBytes, peakHeapBytes: h.peakMemoryBytes, heapTopBytes: h.top, heapFreeBytes: h.freeListed, kernels: cache.size, jsKernels: jsCache.size };
    },
    releaseMemory() {
      // Kernel instances are bound to the memory they were instantiated with: drop them all.
      cache.clear();
      byObject = new WeakMap();
      jsCache.clear();
      jsByObject = new WeakMap();
      jsRuns = new WeakMap();
      if (scratchPtr) { heap.release(scratchPtr); scratchPtr = 0; scratchBytes = 0; }
      const moved = new Map<number, WasmBuffer>();
      heap.compact((from, to) => { const b = buffers.get(from)!; b.ptr = to; moved.set(to, b); buffers.delete(from); });
      for (const [ptr, b] of moved) buffers.set(ptr, b);
    },
    ready,
  };
  return backend;
}
