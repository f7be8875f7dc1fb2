// The interface every backend implements, and the registry the wiring (src/index.ts) fills.
// Backends see kernels (src/core/kernel.ts) and opaque buffers only.
import type { DType, TypedArray } from './dtype.js';
import type { Kernel } from './kernel.js';
import { KilnError } from './errors.js';

export type BackendName = 'cpu' | 'wasm' | 'webgpu';

/** An opaque buffer handle owned by a backend. `size` counts elements of `dtype`. */
export interface Buffer {
  readonly backend: BackendName;
  readonly dtype: DType;
  readonly size: number;
}

/** Per-kernel statistics a backend reports (compile time, cache hits), for explain() and bench. */
export interface KernelStats {
  compiled: number;
  cacheHits: number;
  compileMs: number;
}

export interface Backend {
  readonly name: BackendName;
  /** True when `read` works synchronously (cpu, wasm); webgpu reads are async only. */
  readonly syncReads: boolean;
  /**
   * Allocates `size` elements, zeroed unless `zeroed` is false (a kernel output the kernel overwrites
   * whole: skipping the clear saves a pass over memory).
   */
  alloc(dtype: DType, size: number, zeroed?: boolean): Buffer;
  free(buf: Buffer): void;
  /** Copies `data` into the buffer starting at element `offset`. */
  write(buf: Buffer, data: TypedArray, offset?: number): void;
  /** Reads `size` elements from element `offset`; throws on backends without sync reads. */
  read(buf: Buffer, offset?: number, size?: number): TypedArray;
  readAsync(buf: Buffer, offset?: number, size?: number): Promise<TypedArray>;
  /** Runs a kernel: `inputs[i]` binds `in{i}`; `outputs[i]` receives output i (fresh or, with a view, existing). */
  run(kernel: Kernel, inputs: readonly Buffer[], outputs: readonly Buffer[]): void;
  /** Why this backend cannot run a kernel, or null when it can (a reason becomes a graph break). */
  unsupported?(kernel: Kernel): string | null;
  /** The generated source of a kernel (JS, WAT or WGSL), for dumps and explain(). */
  source?(kernel: Kernel): string;
  /** Kernel cache statistics. */
  stats(): KernelStats;
  /** Bytes currently allocated (to check that long loops stay bounded). */
  allocatedBytes(): number;
  /** The backend's own memory figures for kiln.memory() (heap size, pooled bytes, cached kernels). */
  memoryInfo?(): Record<string, number>;
  /** Empties kernel caches and pools and gives unused memory back (kiln.releaseMemory()). */
  releaseMemory?(): void;
  /** Waits for queued work (webgpu); no-op on synchronous backends. */
  sync?(): Promise<void>;
  /** Resolves when the backend is fully loaded (wasm: binaryen); initBackend awaits it. */
  ready?(): Promise<void>;
}

const backends = new Map<BackendName, Backend>();
const loaders = new Map<BackendName, () => Promise<Backend>>();
let current: BackendName = 'cpu'; // the wiring makes wasm the default

/** The registered backends as a list (read before every allocation by the memory policy). */
let backendList: readonly Backend[] = [];

/** Registers a ready backend (the wiring does this for cpu and, once loaded, wasm/webgpu). */
export function registerBackend(b: Backend): void {
  backends.set(b.name, b);
  backendList = [...backends.values()];
}

/** Registers an async loader for a backend that needs lazy set-up (binaryen, Dawn). */
export function registerBackendLoader(name: BackendName, load: () => Promise<Backend>): void {
  loaders.set(name, load);
}

/** Initialises a backend (loading heavy modules lazily) and returns it. */
export async function initBackend(name: BackendName): Promise<Backend> {
  const ready = backends.get(name);
  if (ready) {
    await ready.ready?.();
    return ready;
  }
  checkName('initBackend', name);
  const load = loaders.get(name)!;
  const b = await load();
  registerBackend(b);
  return b;
}

/** Throws unless `name` is a backend kiln knows, naming the op. */
function checkName(op: string, name: unknown): void {
  if (backends.has(name as BackendName) || loaders.has(name as BackendName)) return;
  const known = [...new Set([...backends.keys(), ...loaders.keys()])].map((b) => `'${b}'`).join(', ');
  throw new KilnError(`${op}: unknown backend ${typeof name === 'string' ? `'${name}'` : String(name)}, expected one of ${known}`);
}

/** The backend object for a name; throws a clear error if it was never initialised. */
export function getBackend(name: BackendName = current): Backend {
  const b = backends.get(name);
  if (!b) checkName('getBackend', name);
  if (!b) {
    const hint = loaders.has(name) ? `call \`await initBackend('${name}')\` first` : `known backends: ${[...backends.keys()].join(', ')}`;
    throw new KilnError(`backend '${name}' is not initialised: ${hint}`);
  }
  return b;
}

/** Selects the default backend for new tensors (it must be initialised). */
export function setBackend(name: BackendName): void {
  checkName('setBackend', name);
  getBackend(name);
  current = name;
}

/** The name of the default backend. */
export function currentBackend(): BackendName {
  return current;
}

/** The initialised backends. */
export function listBackends(): readonly Backend[] {
  return backendList;
}

/** True when a backend has been initialised. */
export function hasBackend(name: BackendName): boolean {
  return backends.has(name);
}
