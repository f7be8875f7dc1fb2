// Storage: a backend buffer shared by a tensor and its views, freed when the last user lets go
// (dispose(), `using`, tidy(), the autograd engine, or reclamation of tensors that are no longer
// reachable). This module also keeps the accounting kiln.memory() reports: live tensors, buffers and
// bytes, by backend and by the op that created them, and the high-water mark.
import type { Backend, BackendName, Buffer } from './core/backend.js';
import type { DType } from './core/dtype.js';

function bytesPer(dtype: DType): number { return dtype === 'bool' ? 1 : 4; }

/** Live buffers and bytes of one group (a backend, an op). */
export interface Usage { buffers: number; bytes: number }

const usageByOp = new Map<string, Usage>();
const usageByBackend = new Map<BackendName, Usage>();
/** Reclamations so far: a storage made since the last one gives its bytes back to the pressure count when freed. */
let epoch = 0;

const totals = {
  /** Tensor handles holding a storage (views included). */
  tensors: 0,
  buffers: 0,
  bytes: 0,
  peakBytes: 0,
  /** Bytes of every buffer ever created (one step's allocation is a difference of two readings). */
  totalAllocatedBytes: 0,
  /**
   * Bytes of buffers created since the last reclamation and not freed since (the pressure policy
   * reads it): what a collection could reclaim at most. A loop that frees what it makes (dispose,
   * tidy, the frees of kiln's composites and of backward) never needs one.
   */
  allocatedSinceCollect: 0,
  /** Tensor handles created since the event loop last turned (the never-hang guard reports it). */
  createdSinceTurn: 0,
  /** Tensor handles created since the last reclamation (each costs JS heap, whatever its bytes). */
  createdSinceCollect: 0,
};

function add(map: Map<string, Usage>, key: string, bytes: number, n: number): void {
  let u = map.get(key);
  if (!u) map.set(key, (u = { buffers: 0, bytes: 0 }));
  u.buffers += n;
  u.bytes += bytes * n;
  if (u.buffers === 0) map.delete(key);
}

export class Storage {
  private refs = 0;
  private freed = false;
  private readonly epoch = epoch;
  private buf: Buffer;
  readonly bytes: number;
  /**
   * @param op what created the buffer (an op name, `tensor` for data from JS, `compiled NAME` for a
   *   compiled program's outputs), for kiln.memory()'s breakdown.
   */
  constructor(readonly backend: Backend, buffer: Buffer, readonly op = 'unknown') {
    this.buf = buffer;
    this.bytes = buffer.size * bytesPer(buffer.dtype);
    totals.buffers++;
    totals.bytes += this.bytes;
    totals.allocatedSinceCollect += this.bytes;
    totals.totalAllocatedBytes += this.bytes;
    if (totals.bytes > totals.peakBytes) totals.peakBytes = totals.bytes;
    add(usageByOp, op, this.bytes, 1);
    add(usageByBackend as Map<string, Usage>, backend.name, this.bytes, 1);
  }

  get buffer(): Buffer { return this.buf; }
  get isFreed(): boolean { return this.freed; }

  /**
   * Exchanges buffers with another live storage of the same size and dtype: compile() commits a
   * call's in-place results this way (no copy, and no tensor is left half-written if a call fails).
   */
  exchange(other: Storage): void {
    const a = this.buf, b = other.buf;
    if (this.freed || other.freed || a.size !== b.size || a.dtype !== b.dtype || this.backend !== other.backend) {
      throw new Error(`Storage.exchange: buffers differ (${a.dtype}[${a.size}] and ${b.dtype}[${b.size}]) or one is freed`);
    }
    this.buf = b;
    other.buf = a;
  }

  retain(): void { this.refs++; }

  /** Drops one user; frees the buffer when none is left. */
  release(): void {
    if (this.freed) return;
    if (--this.refs <= 0) {
      this.freed = true;
      totals.buffers--;
      totals.bytes -= this.bytes;
      if (this.epoch === epoch) totals.allocatedSinceCollect -= this.bytes;
      add(usageByOp, this.op, this.bytes, -1);
      add(usageByBackend as Map<string, Usage>, this.backend.name, this.bytes, -1);
      this.backend.free(this.buf);
    }
  }
}

/** One tensor handle's hold on a storage: released once, by dispose() or when the handle is collected. */
export interface Hold {
  readonly storage: Storage;
  /** Set while synchronous reclamation is on: lets a collection see that the handle is gone. */
  ref: WeakRef<object> | null;
  released: boolean;
}

function releaseHold(h: Hold): void {
  if (h.released) return;
  h.released = true;
  totals.tensors--;
  if (h.ref) weakHolds.delete(h);
  h.storage.release();
}

/** The backstop: finalizers run when the event loop turns, in every host. */
const registry = new FinalizationRegistry<Hold>(releaseHold);
/** Holds whose handle can be polled after a synchronous collection (see memory.ts). */
const weakHolds = new Set<Hold>();
let weakTracking = false;
let onTurnStart: (() => void) | null = null;

/** Registers `owner` as one user of `storage`; returns the hold to release on explicit dispose. */
export function track(owner: object, storage: Storage): Hold {
  storage.retain();
  const hold: Hold = { storage, ref: null, released: false };
  registry.register(owner, hold, hold);
  if (weakTracking) {
    hold.ref = new WeakRef(owner);
    weakHolds.add(hold);
  }
  totals.tensors++;
  totals.createdSinceCollect++;
  if (totals.createdSinceTurn++ === 0) onTurnStart?.();
  return hold;
}

/** Explicit release (dispose): unregisters the backstop and drops the reference now. */
export function untrack(hold: Hold): void {
  registry.unregister(hold);
  releaseHold(hold);
}

/**
 * Releases the holds whose tensor handle has been garbage-collected (after a synchronous collection
 * cleared WeakRefs). Returns how many were released.
 */
export function releaseCollected(): number {
  let n = 0;
  for (const h of weakHolds) {
    if (h.ref!.deref() === undefined) {
      registry.unregister(h);
      releaseHold(h);
      n++;
    }
  }
  return n;
}

/** Turns per-handle WeakRefs on (synchronous reclamation available) or off. */
export function setWeakTracking(on: boolean): void { weakTracking = on; }

/** Called when the first tensor after an event-loop turn is created (memory.ts schedules the next turn mark). */
export function setTurnHook(f: () => void): void { onTurnStart = f; }

/** Marks an event-loop turn: the count of tensors created since then starts again. */
export function markTurn(): void { totals.createdSinceTurn = 0; }

/** Marks a reclamation: the pressure policy counts allocation from here. */
export function markCollected(): void { epoch++; totals.allocatedSinceCollect = 0; totals.createdSinceCollect = 0; }

/** Resets the high-water mark to the bytes live now. */
export function resetPeak(): void { totals.peakBytes = totals.bytes; }

/** A snapshot of the accounting. */
export function usage(): {
  tensors: number; buffers: number; bytes: number; peakBytes: number; totalAllocatedBytes: number;
  allocatedSinceCollect: number; createdSinceTurn: number; createdSinceCollect: number;
  byOp: Map<string, Usage>; byBackend: Map<BackendName, Usage>;
} {
  return { ...totals, byOp: usageByOp, byBackend: usageByBackend };
}

/** Bytes created since the last reclamation and still held. */
export function allocatedSinceCollect(): number { return totals.allocatedSinceCollect; }
/** Tensor handles created since the last reclamation. */
export function createdSinceCollect(): number { return totals.createdSinceCollect; }
