// A Map that keeps at most `capacity` entries, dropping the least recently used: the caches of
// compiled kernels (one per printed kernel or size-erased key) would otherwise grow with every new
// shape a long-running program meets.

/**
 * Compiled kernels each backend keeps by key (wasm modules, JS-tier and cpu functions, WebGPU
 * pipelines): programs hold their own kernels' code by object, so an evicted entry only costs a rebuild
 * when a new program meets that kernel again.
 */
export const KERNEL_CACHE_ENTRIES = 1024;

/** Least-recently-used map: `get` of a present key makes it the most recent. */
export class LruMap<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError(`LruMap capacity must be at least 1, got ${capacity}`);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The value under `key` (now the most recently used), or undefined. */
  get(key: K): V | undefined {
    const v = this.entries.get(key);
    if (v !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, v);
    }
    return v;
  }

  /** Whether `key` is present (its recency unchanged). */
  has(key: K): boolean {
    return this.entries.has(key);
  }

  /** Stores `value` as the most recent entry, evicting the least recent one beyond capacity. */
  set(key: K, value: V): this {
    this.entries.delete(key);
    if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, value);
    return this;
  }

  clear(): void {
    this.entries.clear();
  }
}
