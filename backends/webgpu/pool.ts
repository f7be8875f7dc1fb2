// webgpu backend, memory: GPUBuffers pooled by size class so a training loop that frees and
// allocates the same shapes each step reuses buffers instead of creating new ones.

/** The size class a request of `bytes` is served from: powers of two up to 64 KiB, then eighths of one. */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.ceil(Math.log2(bytes));
  if (p <= 65536) return p;
  const step = p / 8;
  return Math.ceil(bytes / step) * step;
}

/** Free buffers by size class, bounded by `limitBytes`; past the bound, released buffers are destroyed. */
export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private pooled = 0;

  constructor(
    private readonly create: (bytes: number) => GPUBuffer,
    private readonly limitBytes: number,
    private readonly maxBytes: number,
  ) {}

  /** A buffer of at least `bytes`; `reused` says it held data before (the caller must clear it). */
  acquire(bytes: number): { buffer: GPUBuffer; bytes: number; reused: boolean } {
    let cls = sizeClass(bytes);
    if (cls > this.maxBytes) cls = Math.ceil(bytes / 4) * 4; // the last class would exceed the device limit
    const list = this.free.get(cls);
    const buffer = list?.pop();
    if (buffer) {
      this.pooled -= cls;
      return { buffer, bytes: cls, reused: true };
    }
    return { buffer: this.create(cls), bytes: cls, reused: false };
  }

  /** Returns a buffer; gives back the buffers to destroy (none unless the pool is over its bound). */
  release(buffer: GPUBuffer, bytes: number): GPUBuffer[] {
    if (this.pooled + bytes > this.limitBytes) return [buffer];
    let list = this.free.get(bytes);
    if (!list) this.free.set(bytes, (list = []));
    list.push(buffer);
    this.pooled += bytes;
    return [];
  }

  /** Empties the pool, giving back every pooled buffer (to destroy). */
  drain(): GPUBuffer[] {
    const all = [...this.free.values()].flat();
    this.free.clear();
    this.pooled = 0;
    return all;
  }

  /** Bytes held in the pool (not handed out). */
  get pooledBytes(): number {
    return this.pooled;
  }
}
