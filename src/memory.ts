// Memory without ceremony. A tensor's storage is freed when nothing can reach the tensor any more, as
// PyTorch's reference counts do, without tidy() in user code:
//
// - the autograd engine frees the gradients it computes as soon as they are dead and the saved
//   tensors of kiln's own composites once backward has consumed them (autograd.ts);
// - everything else is reclaimed when the garbage collector finds it unreachable. Finalizers only run
//   when the event loop turns, so in Node a synchronous loop gets a synchronous collection instead:
//   V8's gc() (from a vm context created with --expose-gc) and a microtask checkpoint of a second
//   context (which ends the "kept during job" lifetime of WeakRef targets), then every tensor handle's
//   WeakRef is polled. This runs only at points where no raw buffer is held without its tensor: before
//   an allocation by an eager op, a creation function or a compiled program;
// - when the heap would exhaust anyway (browsers have no such hook: an await per step lets finalizers
//   run), a KilnError stops the loop, saying what is live and what to do, long before V8 thrashes.
//
// kiln.memory() reports the accounting; kiln.releaseMemory() gives cached kernels and unused heap back.
import type { Backend, BackendName, Buffer } from './core/backend.js';
import { listBackends } from './core/backend.js';
import type { DType } from './core/dtype.js';
import { KilnError, OutOfMemoryError } from './core/errors.js';
import { describeValue } from './core/validate.js';
import {
  allocatedSinceCollect, createdSinceCollect, markCollected, markTurn, releaseCollected, resetPeak, setTurnHook, setWeakTracking, usage,
} from './storage.js';

/** Settings of the memory policy (kiln.configureMemory). */
export interface MemoryOptions {
  /**
   * Reclaim unreachable tensors synchronously when memory grows (Node; default true). Off, storage of
   * dropped tensors is freed by finalizers when the event loop turns, or by dispose()/tidy().
   */
  collect?: boolean;
  /** Live bytes in host memory (wasm, cpu) past which kiln warns once (default 1 GiB). */
  warnBytes?: number;
  /**
   * Live bytes in host memory (wasm, cpu) past which an allocation throws a KilnError instead of
   * growing memory further (default 2 GiB: the wasm heap ends at 4 GiB, and a synchronous loop that
   * fills it past about 3 GiB leaves V8 thrashing in its collector). Checked after a reclamation
   * where one is possible. WebGPU memory is not counted: the device reports its own out-of-memory.
   */
  limitBytes?: number;
  /**
   * Bytes allocated since the last reclamation, and not freed since, that trigger the next one, at
   * the least (default 32 MiB); the trigger is max(this, the bytes live after the last reclamation).
   */
  collectAfterBytes?: number;
}

const GiB = 2 ** 30, MiB = 2 ** 20;
const config: Required<MemoryOptions> = { collect: true, warnBytes: GiB, limitBytes: 2 * GiB, collectAfterBytes: 32 * MiB };

/** Formats a byte count for messages: 1.5 GiB, 12.0 MiB, 512 B. */
export function fmtBytes(n: number): string {
  if (n >= GiB) return `${(n / GiB).toFixed(2)} GiB`;
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

// ----- synchronous collection (Node) -----------------------------------------------------------

type NodeProcess = {
  versions?: { node?: string };
  env?: Record<string, string | undefined>;
  getBuiltinModule?: (id: string) => unknown;
};
interface NodeV8 { setFlagsFromString(flags: string): void }
interface NodeVm {
  createContext(o?: object, opts?: { microtaskMode?: 'afterEvaluate' }): object;
  runInContext(code: string, ctx: object): unknown;
  Script: new (code: string) => { runInContext(ctx: object): unknown };
}

const nodeProcess = (globalThis as { process?: NodeProcess }).process;
/** Node with a synchronous way to its builtins (20.16+), and not switched off by KILN_SYNC_GC=0. */
const syncCollectPossible = !!nodeProcess?.versions?.node && typeof nodeProcess.getBuiltinModule === 'function' &&
  nodeProcess.env?.KILN_SYNC_GC !== '0';
let collector: (() => void) | null | undefined; // undefined: not tried yet; null: unavailable

/** gc() plus a checkpoint that lets WeakRefs to collected objects clear, or null where the host has none. */
function makeCollector(): (() => void) | null {
  if (!syncCollectPossible) return null;
  try {
    const v8 = nodeProcess!.getBuiltinModule!('node:v8') as NodeV8;
    const vm = nodeProcess!.getBuiltinModule!('node:vm') as NodeVm;
    let gc = (globalThis as { gc?: () => void }).gc;
    if (typeof gc !== 'function') {
      // The flag only adds gc to contexts created while it is set; it is restored at once.
      v8.setFlagsFromString('--expose-gc');
      try {
        gc = vm.runInContext('typeof gc === "function" ? gc : undefined', vm.createContext({})) as (() => void) | undefined;
      } finally {
        v8.setFlagsFromString('--no-expose-gc');
      }
    }
    if (typeof gc !== 'function') return null;
    // A context with its own microtask queue runs a checkpoint after each evaluation, and a checkpoint
    // clears the set of objects WeakRefs keep alive until the end of the current job.
    const checkpointCtx = vm.createContext({}, { microtaskMode: 'afterEvaluate' });
    const checkpoint = new vm.Script('0');
    const fullGc = gc;
    return () => { checkpoint.runInContext(checkpointCtx); fullGc(); };
  } catch {
    return null;
  }
}

function syncCollector(): (() => void) | null {
  if (collector === undefined) collector = makeCollector();
  return collector;
}

setWeakTracking(syncCollectPossible);

/** Statistics of the reclamation policy. */
const policy = {
  collections: 0,
  collectMs: 0,
  lastCollectMs: 0,
  lastCollectEnd: 0,
  liveAfterCollect: 0,
  released: 0,
  warned: false,
};

/** Reclaims the storage of unreachable tensors now (Node); returns the tensor handles released. */
export function collectGarbage(): number {
  const gc = syncCollector();
  if (!gc) return 0;
  const t0 = performance.now();
  gc();
  const n = releaseCollected();
  const t1 = performance.now();
  policy.collections++;
  policy.lastCollectMs = t1 - t0;
  policy.collectMs += t1 - t0;
  policy.lastCollectEnd = t1;
  policy.released += n;
  policy.liveAfterCollect = hostLive();
  markCollected();
  return n;
}

/** True where collectGarbage() can reclaim synchronously (Node 20.16+ unless switched off). */
export function canCollectSynchronously(): boolean {
  return syncCollector() !== null;
}

// ----- event-loop turns ------------------------------------------------------------------------

let turnScheduled = false;
setTurnHook(() => {
  if (turnScheduled) return;
  turnScheduled = true;
  const t = setTimeout(() => { turnScheduled = false; markTurn(); }, 0) as unknown as { unref?: () => void };
  t.unref?.();
});

// ----- the policy, before every allocation -----------------------------------------------------

/** Bytes allocated in host memory (wasm heap, cpu arrays): tensors and compiled programs' temporaries. */
function hostLive(): number {
  let n = 0;
  for (const b of listBackends()) if (b.name !== 'webgpu') n += b.allocatedBytes();
  return n;
}

function collectThreshold(): number {
  return Math.max(policy.liveAfterCollect, config.collectAfterBytes);
}

/**
 * Tensor handles created since the last reclamation that trigger one whatever their bytes: a WeakRef
 * keeps its target until the job ends or a reclamation's checkpoint, disposed or not, so many tensors
 * whose bytes are freed would otherwise hold JS heap (0.7-1.6 KB each measured for a compiled call's
 * output and what it references: 50,000 hold at most about 80 MB).
 */
const COLLECT_AFTER_TENSORS = 50_000;

/**
 * Called before `op` allocates `bytes`, at a point where every buffer in use belongs to a reachable
 * tensor: reclaims when what was allocated since the last reclamation (bytes still held, or tensor handles)
 * passed the trigger, at most ~10% of the time (a reclamation waits until 10x its own duration has
 * passed) unless 4x the trigger is reached; warns once past warnBytes; throws past limitBytes.
 */
export function beforeAlloc(op: string, bytes: number): void {
  const threshold = collectThreshold();
  // In units of the trigger: bytes or tensors, whichever is further.
  const pressure = Math.max(allocatedSinceCollect() / threshold, createdSinceCollect() / COLLECT_AFTER_TENSORS);
  const live = hostLive() + bytes;
  if (pressure < 1 && live <= config.warnBytes && live <= config.limitBytes) return;
  if (config.collect && pressure >= 1 && syncCollector()) {
    const now = performance.now();
    if (pressure >= 4 || now - policy.lastCollectEnd >= 10 * policy.lastCollectMs) collectGarbage();
  }
  let now = hostLive() + bytes;
  if (now > config.limitBytes && config.collect && syncCollector()) {
    collectGarbage();
    now = hostLive() + bytes;
  }
  if (now > config.limitBytes) throw limitError(op, bytes);
  if (now > config.warnBytes && !policy.warned) {
    policy.warned = true;
    console.warn(`[kiln] ${describeLive(op, bytes)} (warning at ${fmtBytes(config.warnBytes)}, once; kiln.configureMemory({ warnBytes }) sets it). ${advice()}`);
  }
}

function describeLive(op: string, bytes: number): string {
  const u = usage();
  return `${op}: ${fmtBytes(hostLive())} of tensor memory is live in ${u.tensors} tensors before allocating ${fmtBytes(bytes)}; ` +
    `${u.createdSinceTurn} tensors were created since the event loop last turned`;
}

function advice(): string {
  const sync = config.collect && syncCollector();
  return sync
    ? 'Tensors that are unreachable were reclaimed already, so something still holds these (an array of outputs, a .grad, a captured closure): drop or dispose() what you no longer need.'
    : 'Storage of dropped tensors is only reclaimed when the event loop turns: run each step in kiln.tidy(() => ...), compile() the step, or await between steps (await new Promise((r) => setTimeout(r)) lets finalizers run).';
}

function limitError(op: string, bytes: number): KilnError {
  return new KilnError(`${describeLive(op, bytes)}, past the limit of ${fmtBytes(config.limitBytes)}; stopping before memory is exhausted. ${advice()} ` +
    'kiln.memory().byOp shows which ops made them; kiln.configureMemory({ limitBytes }) raises the limit.');
}

/**
 * Allocates for `op` at a safe point: runs the policy first and, when the backend is out of memory,
 * reclaims and tries once more before throwing an OutOfMemoryError that names the op.
 */
export function allocate(backend: Backend, op: string, dtype: DType, size: number, zeroed?: boolean): Buffer {
  const bytes = size * (dtype === 'bool' ? 1 : 4);
  beforeAlloc(op, backend.name === 'webgpu' ? 0 : bytes);
  try {
    return backend.alloc(dtype, size, zeroed);
  } catch (e) {
    if (!(e instanceof OutOfMemoryError)) throw e;
    if (config.collect && collectGarbage() > 0) {
      try { return backend.alloc(dtype, size, zeroed); } catch (e2) { if (!(e2 instanceof OutOfMemoryError)) throw e2; }
    }
    const u = usage();
    throw new OutOfMemoryError(
      `${op}: out of memory allocating ${fmtBytes(bytes)} on ${backend.name} (${e.message}); ${fmtBytes(u.bytes)} live in ${u.tensors} tensors. ${advice()}`,
      bytes, u.bytes);
  }
}

// ----- kiln.memory(), kiln.releaseMemory(), kiln.configureMemory() ---------------------------------

/** What kiln.memory() reports (as tf.memory()). */
export interface MemoryInfo {
  /** Live tensor handles holding storage (views count once each). */
  numTensors: number;
  /** Live buffers (storage shared by views counts once). */
  numBuffers: number;
  /** Bytes of live buffers. */
  numBytes: number;
  /** High-water mark of numBytes (since start or the last releaseMemory()). */
  peakBytes: number;
  /** Bytes of every buffer created so far (a step's allocation is the difference of two readings). */
  totalAllocatedBytes: number;
  /** Live buffers and bytes by the op that created them (`tensor` for data from JS, `compiled NAME`). */
  byOp: Record<string, { buffers: number; bytes: number }>;
  /** Per initialised backend: live buffers and bytes, and the backend's own figures (heap, caches). */
  backends: Partial<Record<BackendName, { buffers: number; bytes: number } & Record<string, number>>>;
  /** The reclamation policy: whether it can run synchronously here, how often it ran, what it cost. */
  reclamation: { synchronous: boolean; collections: number; totalMs: number; tensorsReleased: number };
  /** Tensors created since the event loop last turned. */
  createdSinceTurn: number;
}

export function memory(): MemoryInfo {
  const u = usage();
  const backends: MemoryInfo['backends'] = {};
  for (const b of listBackends()) {
    const mine = u.byBackend.get(b.name) ?? { buffers: 0, bytes: 0 };
    backends[b.name] = { buffers: mine.buffers, bytes: mine.bytes, ...(b.memoryInfo?.() ?? {}) };
  }
  return {
    numTensors: u.tensors, numBuffers: u.buffers, numBytes: u.bytes, peakBytes: u.peakBytes, totalAllocatedBytes: u.totalAllocatedBytes,
    byOp: Object.fromEntries([...u.byOp].sort((a, b) => b[1].bytes - a[1].bytes).map(([k, v]) => [k, { ...v }])),
    backends,
    reclamation: { synchronous: config.collect && syncCollector() !== null, collections: policy.collections, totalMs: policy.collectMs, tensorsReleased: policy.released },
    createdSinceTurn: u.createdSinceTurn,
  };
}

const cacheReleasers = new Set<() => void>();
/** Registers a cache that releaseMemory() empties (the compiler's plans). */
export function onReleaseMemory(f: () => void): void { cacheReleasers.add(f); }

/**
 * Gives memory back: reclaims unreachable tensors (Node), empties the compiler's plan caches and every
 * backend's kernel caches and buffer pools, and shrinks the wasm heap to what is live (a fresh
 * WebAssembly.Memory: wasm memory cannot shrink in place). Resets the high-water mark. Compiled
 * functions rebuild their kernels on their next call.
 */
export function releaseMemory(): MemoryInfo {
  collectGarbage();
  for (const f of cacheReleasers) f();
  for (const b of listBackends()) b.releaseMemory?.();
  resetPeak();
  return memory();
}

/** Sets the memory policy (see MemoryOptions); returns the settings in force. */
export function configureMemory(opts: MemoryOptions = {}): Required<MemoryOptions> {
  if (opts !== undefined && opts !== null && (typeof opts !== 'object' || Array.isArray(opts))) {
    throw new KilnError(`configureMemory: options must be an object such as { limitBytes: 2 ** 30 }, got ${describeValue(opts)}`);
  }
  for (const [k, v] of Object.entries(opts ?? {})) {
    if (v === undefined) continue;
    if (k === 'collect') {
      if (typeof v !== 'boolean') throw new KilnError(`configureMemory: collect must be a boolean, got ${String(v)}`);
    } else if (k === 'warnBytes' || k === 'limitBytes' || k === 'collectAfterBytes') {
      if (typeof v !== 'number' || !(v >= 0)) throw new KilnError(`configureMemory: ${k} must be a non-negative number of bytes, got ${String(v)}`);
    } else {
      throw new KilnError(`configureMemory: unknown option '${k}'; expected collect, warnBytes, limitBytes or collectAfterBytes`);
    }
  }
  Object.assign(config, Object.fromEntries(Object.entries(opts ?? {}).filter(([, v]) => v !== undefined)));
  if (opts?.warnBytes !== undefined) policy.warned = false;
  // WeakRefs keep their targets until a reclamation: only worth it while reclamation is on.
  setWeakTracking(syncCollectPossible && config.collect);
  return { ...config };
}
