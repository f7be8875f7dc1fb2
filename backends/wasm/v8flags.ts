// wasm backend: V8 flags for kernel modules (Node only; in browsers all of this is a no-op). Each
// is set just for the compile of a kernel module and restored at once, so binaryen and any other
// wasm keep V8's defaults. V8 reads them when a module is validated and compiled.
//
// 1. Eager tier-up. New WebAssembly code first runs in V8's baseline compiler (Liftoff, ~3-4x slower
//    on SIMD loops); hot functions are recompiled by TurboFan on a background queue and used from
//    their next call (no on-stack replacement). binaryen itself is a large wasm module that keeps
//    that queue busy for seconds while kernels are generated, so a kernel's own tier-up can wait
//    behind hundreds of binaryen functions: on Node 20 a matmul stayed in Liftoff (~60% of its
//    speed) after 2.5 s of warm-up. Kernel modules are therefore compiled with --no-liftoff and
//    --no-wasm-lazy-compilation (every function straight to TurboFan, synchronously: a few ms a
//    kernel). Measured on a 512^3 matmul: first calls ~2-3x steady state while binaryen's own
//    background recompiles still compete for the CPU, instead of ~5-8x in Liftoff. (A process
//    started with --no-liftoff gets Liftoff back after the first kernel compile.) Opt out with
//    `eagerTierUp: false`.
// 2. Relaxed SIMD (fused multiply-add, features.ts). Node 20's V8 11.3 implements it but keeps it
//    behind --experimental-wasm-relaxed-simd (V8 11.4, in Chrome 114, shipped it). Where the runtime
//    lacks it, kernel modules that use it are compiled with that flag, and always eagerly by
//    TurboFan (the flags of 1), so no function of theirs is compiled after the flag is restored.
//    Opt out with `fma: false` or KILN_WASM_FMA=0.
import type { default as NodeV8 } from 'node:v8';
import { RELAXED_MADD_PROBE, hasRelaxedSimd } from './features.js';

let v8: typeof NodeV8 | null = null;
let tierUp = false;
let relaxedByFlag = false;

const EAGER = ['--no-liftoff --no-wasm-lazy-compilation', '--liftoff --wasm-lazy-compilation'] as const;
const RELAXED = ['--experimental-wasm-relaxed-simd', '--no-experimental-wasm-relaxed-simd'] as const;

/** Runs `f` with V8 flags `on` set, restoring them with `off`; null when this host refuses flags. */
function withFlags<T>(on: string, off: string, f: () => T): T | null {
  if (!v8) return null;
  try {
    v8.setFlagsFromString(on);
  } catch {
    return null; // flags frozen in this host
  }
  try {
    return f();
  } finally {
    v8.setFlagsFromString(off);
  }
}

/** node:v8 without an await where the host allows it (Node >= 20.16: process.getBuiltinModule). */
function v8Sync(): typeof NodeV8 | null {
  if (v8) return v8;
  const proc = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown } }).process;
  if (!proc?.versions?.node || typeof proc.getBuiltinModule !== 'function') return null;
  try { v8 = proc.getBuiltinModule('node:v8') as typeof NodeV8; } catch { v8 = null; }
  return v8;
}

let relaxedDecided: boolean | undefined;

/**
 * Whether kernel modules can use relaxed SIMD: natively, or (Node) through its flag. Decided once and
 * synchronously, because the JS tier must compute what the kernels will compute before binaryen has
 * loaded; where node:v8 is only reachable by an await (Node < 20.16), the flag is not used.
 */
export function relaxedSimdAvailable(): boolean {
  if (relaxedDecided === undefined) {
    if (hasRelaxedSimd()) relaxedDecided = true;
    else {
      v8Sync();
      relaxedByFlag = withFlags(RELAXED[0], RELAXED[1], () => WebAssembly.validate(RELAXED_MADD_PROBE)) ?? false;
      relaxedDecided = relaxedByFlag;
    }
  }
  return relaxedDecided;
}

/**
 * Loads node:v8 when running on Node and eager tier-up is wanted (lazily: the core bundles for
 * browsers). Relaxed SIMD is decided by relaxedSimdAvailable(), not here.
 */
export async function initV8Flags(want: { tierUp: boolean }): Promise<void> {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (!v8Sync() && proc?.versions?.node && want.tierUp) {
    try {
      v8 = (await import('node:v8')).default;
    } catch {
      v8 = null;
    }
  }
  // Process-wide, as V8's flags are: once a backend asks for eager tier-up, kernel modules get it.
  if (want.tierUp && v8) tierUp = true;
}

/** Compiles kernel module bytes: straight to TurboFan when eager tier-up is on, with relaxed SIMD when it uses it. */
export function compileModule(bytes: Uint8Array<ArrayBuffer>, usesRelaxed: boolean): WebAssembly.Module {
  const relaxed = usesRelaxed && !hasRelaxedSimd();
  if (relaxed && !relaxedByFlag) throw new Error('wasm backend: a kernel module uses relaxed SIMD, which this runtime lacks');
  if (!relaxed && !tierUp) return new WebAssembly.Module(bytes);
  const on = relaxed ? `${EAGER[0]} ${RELAXED[0]}` : EAGER[0];
  const off = relaxed ? `${EAGER[1]} ${RELAXED[1]}` : EAGER[1];
  const mod = withFlags(on, off, () => new WebAssembly.Module(bytes));
  if (mod) return mod;
  if (relaxed) throw new Error('wasm backend: this host no longer accepts V8 flags, so relaxed SIMD is unavailable');
  tierUp = false; // flags frozen in this host: keep V8's default tiering
  return new WebAssembly.Module(bytes);
}
