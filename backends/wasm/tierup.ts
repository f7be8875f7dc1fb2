// wasm backend: V8 tiering quirk (Node only). New WebAssembly code first runs in V8's baseline
// compiler (Liftoff, ~3-4x slower on SIMD loops); hot functions are recompiled by TurboFan on a
// background queue and used from their next call (no on-stack replacement). binaryen itself is a
// large wasm module that keeps that queue busy for seconds while kernels are generated, so a
// kernel's own tier-up can wait behind hundreds of binaryen functions: on Node 20 a matmul stayed
// in Liftoff (~60% of its speed) after 2.5 s of warm-up.
// NOTE: V8 reads --liftoff and --wasm-lazy-compilation when a module is compiled, so kernel modules
// are compiled with both off (every function straight to TurboFan, synchronously: a few ms a kernel)
// and the defaults are restored at once; binaryen and any other wasm keep V8's default tiering.
// Measured on a 512^3 matmul: first calls ~2-3x steady state while binaryen's own background
// recompiles still compete for the CPU, instead of ~5-8x in Liftoff. (A process started with
// --no-liftoff gets Liftoff back after the first kernel compile.) Opt out with `eagerTierUp: false`;
// in browsers this is a no-op.
import type { default as NodeV8 } from 'node:v8';

let v8: typeof NodeV8 | null = null;

/** Loads node:v8 when running on Node and `enabled` (lazily: the core bundles for browsers). */
export async function initTierUp(enabled: boolean): Promise<void> {
  if (!enabled || v8) return;
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (!proc?.versions?.node) return;
  try {
    v8 = (await import('node:v8')).default;
  } catch {
    v8 = null;
  }
}

/** Compiles module bytes, with TurboFan from the start when eager tier-up is on. */
export function compileModule(bytes: Uint8Array<ArrayBuffer>): WebAssembly.Module {
  if (!v8) return new WebAssembly.Module(bytes);
  try {
    v8.setFlagsFromString('--no-liftoff --no-wasm-lazy-compilation');
  } catch {
    v8 = null; // flags frozen in this host: keep V8's default tiering
    return new WebAssembly.Module(bytes);
  }
  try {
    return new WebAssembly.Module(bytes);
  } finally {
    v8.setFlagsFromString('--liftoff --wasm-lazy-compilation');
  }
}
