// kiln's public entry: wires the backends into the core registry and re-exports the API.
/// <reference lib="esnext.disposable" preserve="true" />
import { currentBackend, initBackend, registerBackend, registerBackendLoader, setBackend } from './core/backend.js';
import { createCpuBackend } from '../backends/cpu/index.js';
import { createWasmBackendSync } from '../backends/wasm/index.js';
import { preloadSourceMaps } from '../compiler/location.js';

// Two copies of kiln in one process (its sources and dist/, two installs, or one file loaded twice, as
// when tsx's require hook compiles the ES module to CommonJS beside its import) share nothing: tensors,
// backends and compiled functions of one are foreign to the other. Say so instead of failing obscurely.
const INSTANCE = Symbol.for('kiln.instance');
const first = (globalThis as { [INSTANCE]?: string })[INSTANCE];
if (first !== undefined) {
  console.warn(`kiln: a second copy of kiln was loaded (${import.meta.url}${first === import.meta.url ? ', again' : `; the first was ${first}`}); ` +
    'they share no tensors, backends or compiled functions. Load kiln one way only (all import, or all require outside tsx).');
}
(globalThis as { [INSTANCE]?: string })[INSTANCE] ??= import.meta.url;

registerBackend(createCpuBackend());
// wasm is the default backend. It is usable at once: kernels run as JavaScript computing the same bits
// (its JS tier) until binaryen, loaded on first use, compiles them to WebAssembly; `await ready()`.
registerBackend(createWasmBackendSync());
setBackend('wasm');
registerBackendLoader('webgpu', async () => (await import('../backends/webgpu/index.js')).createWebGpuBackend());

/**
 * Resolves when the default backend is fully loaded (wasm: binaryen compiles kernels to WebAssembly)
 * and, in a browser, the source maps of the calling scripts are loaded (so that graph-break and op
 * locations point at the sources rather than into a bundle).
 */
export async function ready(): Promise<void> {
  await Promise.all([initBackend(currentBackend()), preloadSourceMaps()]);
}

export { Tensor } from './tensor.js';
export type { TensorLike, Dims } from './tensor.js';
export type { DType, TypedArray } from './core/dtype.js';
export type { BackendName, Backend } from './core/backend.js';
export { initBackend, setBackend, currentBackend, getBackend, hasBackend } from './core/backend.js';
export { KilnError, ShapeError, DTypeError, AutogradError, OutOfMemoryError } from './core/errors.js';
export { noGrad, isGradEnabled } from './autograd.js';
export type { GradHook } from './autograd.js';
export { enableGrad, inferenceMode, isInferenceModeEnabled } from './grad.js';
export * as autograd from './autograd-api.js';
export { tidy, keep } from './functional.js';
export { memory, releaseMemory, configureMemory } from './memory.js';
export type { MemoryInfo, MemoryOptions } from './memory.js';
export {
  tensor, zeros, ones, full, zerosLike, onesLike, fullLike, arange, linspace, eye, rand, randn, randint, manualSeed,
} from './creation.js';
export type { CreateOptions } from './creation.js';
export * from './ops-api.js';
export * from './cnn-api.js';
export * from './parity-api.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export { save, load, saveBlob } from './io/save.js';
export * as data from './data/index.js';
export type { Saveable, LoadOptions, BlobLike } from './io/save.js';
export * as onnx from './onnx/index.js';
export { OPS, OP_NAMES } from './ops/index.js';
export { compile, explain, resetCompileCache, isCompiling, graphBreak, GraphBreakError, printGraph, printGraphTable, setLogs } from '../compiler/index.js';
export type { CompileOptions, Compiled, CacheInfo, Explanation } from '../compiler/index.js';
