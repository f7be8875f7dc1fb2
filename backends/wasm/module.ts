// wasm backend: one binaryen module per kernel. Every module imports the shared memory (env.memory),
// enables SIMD128 and friends, is validated, optimised, and instantiated synchronously.
import type { DType } from '../../src/core/dtype.js';
import type { Binaryen, Module, WType } from './emit.js';
import { Fn } from './emit.js';
import type { LowerEnv } from './expr.js';
import { Helpers } from './mathlib.js';
import { compileModule } from './v8flags.js';

/**
 * Where kernels record an index out of range (src/core/index-check.ts): five i32 words in the
 * reserved bottom of memory (below the 2/pi table): set flag, the index, the op's code, axis, size.
 */
export const INDEX_ERROR_ADDR = 16;

/** Work units of a kernel handed to each call, so V8 can tier a long kernel up between calls. */
export const CHUNK_ELEMENTS = 1 << 14;

/** A module under construction. */
export class KernelModule implements LowerEnv {
  readonly m: Module;
  readonly helpers: Helpers;
  readonly makeFn: (params: WType[]) => Fn;

  /**
   * `fma`: enable relaxed SIMD so that F.madd fuses (the runtime has it, or v8flags.ts enables it).
   * `winogradF4`: 3×3 convolutions may use Winograd F(4×4, 3×3) (winograd.ts).
   */
  constructor(readonly b: Binaryen, readonly fma = false, readonly winogradF4 = false) {
    const m = new b.Module();
    const F = b.Features;
    m.setFeatures(F.MVP | F.SIMD128 | F.NontrappingFPToInt | F.SignExt | F.BulkMemory | F.BulkMemoryOpt | F.MutableGlobals |
      (fma ? F.RelaxedSIMD : 0));
    // NOTE: setMemory first, then mark it imported; the other order leaves a module-defined memory.
    m.setMemory(1, 65536, null, [], false, false, 'mem');
    m.addMemoryImport('mem', 'env', 'memory');
    this.m = m;
    this.helpers = new Helpers(b, m);
    this.makeFn = (params) => new Fn(b, m, params, fma);
  }

  /** A function with `n` i32 params. */
  fn(n: number): Fn {
    return new Fn(this.b, this.m, new Array<WType>(n).fill(this.b.i32), this.fma);
  }
}

/** The compiled result of a module: its instance and (for inspection) its text. */
export interface CompiledModule {
  readonly exports: Record<string, (...args: number[]) => void>;
  readonly wat: () => string;
}

/** Optimisation level for binaryen's pass pipeline (2: full local/simplify passes, no -O3 extras). */
export const OPT_LEVEL = 2;

/**
 * binaryen's global optimiser settings for kernel modules.
 * NOTE: binaryen inlines a function with a single caller whatever its size, loops included; that
 * would pull the matmul register tile into its driver loop and cost V8 registers, so inlining is
 * skipped (builtins are emitted inline by the templates already; helpers stay calls).
 */
function configure(b: KernelModule['b']): void {
  b.setOptimizeLevel(OPT_LEVEL);
  b.setShrinkLevel(0);
  b.setFastMath(false);
  b.addPassToSkip('inlining');
  b.addPassToSkip('inlining-optimizing');
}

/** Where instantiate() may find a module's bytes from an earlier run, and store them (kernel-cache.ts). */
export interface ModuleStore {
  get(): Uint8Array | null;
  put(bytes: Uint8Array): void;
  /** Forgets stored bytes that proved unusable. */
  drop(): void;
}

/**
 * Validates a module, runs binaryen's optimiser on it when `optimize`, and instantiates it against
 * `memory`; disposes the binaryen module. With a `store`, bytes stored by an earlier run replace the
 * validate/optimise/emit work when V8 compiles them and they export what this module exports;
 * otherwise the module is built here and its bytes stored.
 * NOTE: the backend skips the optimiser by default. It was about three quarters of a kernel's build
 * time (the ~200 kernels of a small GPT's first eager step took seconds), and V8 compiles every
 * kernel module with TurboFan (v8flags.ts), which does the same work: the kernels run as fast
 * without it (bench/wasm-optimize.ts builds and runs the same kernels both ways, side by side).
 * Either way the values are the same: binaryen's passes preserve wasm semantics.
 */
export function instantiate(km: KernelModule, memory: WebAssembly.Memory, keepText = false, optimize = false, store: ModuleStore | null = null): CompiledModule {
  const { b, m } = km;
  let mod: WebAssembly.Module | null = null;
  let text = '';
  try {
    const stored = keepText ? null : store?.get() ?? null;
    if (stored) {
      mod = compileStored(km, stored);
      if (!mod) store!.drop();
    }
    if (!mod) {
      if (!m.validate()) throw new Error(`wasm backend: generated module failed validation\n${m.emitText().slice(0, 4000)}`);
      if (optimize) {
        configure(b);
        m.optimize();
      }
      const bytes = m.emitBinary();
      if (keepText) text = m.emitText();
      mod = compileModule(bytes as Uint8Array<ArrayBuffer>, km.fma);
      store?.put(bytes);
    }
  } finally {
    m.dispose();
  }
  const inst = new WebAssembly.Instance(mod, { env: { memory } });
  return { exports: inst.exports as unknown as CompiledModule['exports'], wat: () => text };
}

/** Stored bytes compiled by V8 (which validates them), or null when V8 refuses them or their exports differ from `km`'s. */
function compileStored(km: KernelModule, bytes: Uint8Array): WebAssembly.Module | null {
  let mod: WebAssembly.Module;
  try {
    mod = compileModule(bytes as Uint8Array<ArrayBuffer>, km.fma);
  } catch {
    return null;
  }
  const want: string[] = [];
  for (let i = 0; i < km.m.getNumExports(); i++) want.push(km.b.getExportInfo(km.m.getExportByIndex(i)).name);
  const got = WebAssembly.Module.exports(mod).map((e) => e.name);
  return want.sort().join('\0') === got.sort().join('\0') ? mod : null;
}

/** What a launch may ask of the backend at run time. */
export interface LaunchEnv {
  /** Address of a scratch area of at least `bytes` (valid until the next launch). */
  scratch(bytes: number): number;
  /** The input buffers' dtypes and sizes (matmul converts non-float operands). */
  readonly inputs: readonly { readonly dtype: DType; readonly size: number }[];
}

/** Runs a compiled kernel: `ptrs` are the byte addresses of the inputs, then the outputs. */
export type Launch = (exports: CompiledModule['exports'], ptrs: readonly number[], env: LaunchEnv) => void;

/**
 * What a kernel template returns: how to launch its module for the kernel it was built from, or for
 * one that shares that module (shared.ts: it differs only in a size the module reads at run time).
 */
export type Launcher<K> = (kernel: K) => Launch;

/** Calls `f(start, end)` over [0, total) in chunks of `per` units. */
export function chunked(total: number, per: number, f: (start: number, end: number) => void): void {
  const step = Math.max(1, per);
  for (let s = 0; s < total; s += step) f(s, Math.min(total, s + step));
}

/** Validates and optimises a module and returns its text (for dumps); disposes the module. */
export function optimizedText(km: KernelModule): string {
  const { b, m } = km;
  try {
    if (!m.validate()) throw new Error('wasm backend: generated module failed validation');
    configure(b);
    m.optimize();
    return m.emitText();
  } finally {
    m.dispose();
  }
}
