// kiln's public entry: wires the backends into the core registry and re-exports the API.
import { currentBackend, initBackend, registerBackend, registerBackendLoader, setBackend } from './core/backend.js';
import { createCpuBackend } from '../backends/cpu/index.js';
import { createWasmBackendSync } from '../backends/wasm/index.js';
import { setIdsFactory } from './ops/linalg.js';
import { arange } from './creation.js';

registerBackend(createCpuBackend());
// wasm is the default backend. It is usable at once: kernels run as JavaScript computing the same bits
// (its JS tier) until binaryen, loaded on first use, compiles them to WebAssembly; `await ready()`.
registerBackend(createWasmBackendSync());
setBackend('wasm');
registerBackendLoader('webgpu', async () => (await import('../backends/webgpu/index.js')).createWebGpuBackend());
// Gradient rules of gathers need class ids arange(k) laid along one axis.
setIdsFactory((k, ndim, axis, like) => arange(k, undefined, 1, { backend: like.backend }).reshape(Array.from({ length: ndim }, (_, i) => (i === axis ? k : 1))));

/** Resolves when the default backend is fully loaded (wasm: binaryen compiles kernels to WebAssembly). */
export async function ready(): Promise<void> {
  await initBackend(currentBackend());
}

export { Tensor } from './tensor.js';
export type { TensorLike, Dims } from './tensor.js';
export type { DType, TypedArray } from './core/dtype.js';
export type { BackendName, Backend } from './core/backend.js';
export { initBackend, setBackend, currentBackend, getBackend, hasBackend } from './core/backend.js';
export { KilnError, ShapeError, DTypeError, AutogradError, OutOfMemoryError } from './core/errors.js';
export { noGrad, isGradEnabled } from './autograd.js';
export { tidy, keep } from './functional.js';
export { memory, releaseMemory, configureMemory } from './memory.js';
export type { MemoryInfo, MemoryOptions } from './memory.js';
export {
  tensor, zeros, ones, full, zerosLike, onesLike, fullLike, arange, linspace, eye, rand, randn, randint, manualSeed,
} from './creation.js';
export type { CreateOptions } from './creation.js';
export * from './ops-api.js';
export * from './cnn-api.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export { OPS, OP_NAMES } from './ops/index.js';
export { compile, explain, resetCompileCache, isCompiling, graphBreak, GraphBreakError, printGraph, printGraphTable, setLogs } from '../compiler/index.js';
export type { CompileOptions, Compiled, CacheInfo, Explanation } from '../compiler/index.js';
