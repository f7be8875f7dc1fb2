// wasm backend: the one growable WebAssembly.Memory every generated kernel module imports, and the
// allocator that carves tensor buffers out of it (size classes, free lists, bump growth).
// NOTE: memory.grow detaches the old ArrayBuffer, so typed-array views are re-created on demand
// (`views()`), never cached across an allocation.

const PAGE = 65536;
/** Alignment of every buffer (one v128). */
export const ALIGN = 16;
/**
 * Bytes at the bottom of memory reserved for runtime constant tables (the 2/pi bits used by the
 * sin/cos large-argument reduction live here); address 0 is never handed out, so a null pointer is invalid.
 */
export const RESERVED_BYTES = 1024;
/** Slack kept after the last buffer so a v128 access at the tail of a buffer never leaves memory. */
const TAIL_SLACK = 64;

/** The class a request of `bytes` falls in: 4 classes per power of two, so waste stays under 25%. */
function sizeClass(bytes: number): { index: number; bytes: number } {
  const units = Math.max(1, Math.ceil(bytes / ALIGN));
  if (units <= 8) return { index: units - 1, bytes: units * ALIGN };
  const e = 31 - Math.clz32(units - 1); // units in (2^e, 2^(e+1)]
  const step = 2 ** (e - 2);
  const q = Math.ceil(units / step); // in 5..8
  const classUnits = q * step;
  return { index: 8 + (e - 3) * 4 + (q - 5), bytes: classUnits * ALIGN };
}

/** Typed views over the whole memory, valid until the next growth. */
export interface HeapViews {
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  readonly f32: Float32Array;
}

/** A first-fit-free, class-based allocator over one growable WebAssembly.Memory. */
export class WasmHeap {
  readonly memory: WebAssembly.Memory;
  private readonly free = new Map<number, number[]>();
  /** Live blocks: pointer -> class bytes. */
  private readonly live = new Map<number, number>();
  private top = RESERVED_BYTES;
  /** Highest address ever handed out: memory above it is still zero. */
  private highWater = RESERVED_BYTES;
  private liveBytes = 0;
  private cached: { buffer: ArrayBuffer; views: HeapViews } | null = null;

  constructor(initialPages = 256, maximumPages = 65536) {
    this.memory = new WebAssembly.Memory({ initial: initialPages, maximum: maximumPages });
  }

  /** Typed-array views of the current memory (re-created after growth). */
  views(): HeapViews {
    const buffer = this.memory.buffer;
    if (!this.cached || this.cached.buffer !== buffer) {
      this.cached = { buffer, views: { u8: new Uint8Array(buffer), i32: new Int32Array(buffer), f32: new Float32Array(buffer) } };
    }
    return this.cached.views;
  }

  /** Allocates `bytes` (16-byte aligned, zeroed) and returns the address. */
  alloc(bytes: number, zeroed = true): number {
    const cls = sizeClass(bytes);
    const list = this.free.get(cls.index);
    let ptr = list?.pop();
    if (ptr !== undefined) {
      if (zeroed) this.views().u8.fill(0, ptr, ptr + cls.bytes);
    } else {
      ptr = this.top;
      this.ensure(ptr + cls.bytes + TAIL_SLACK);
      this.top += cls.bytes;
      // Fresh memory above the high-water mark is still zero; below it a block freed at the top
      // may have left data behind.
      if (zeroed && ptr < this.highWater) this.views().u8.fill(0, ptr, Math.min(ptr + cls.bytes, this.highWater));
      this.highWater = Math.max(this.highWater, this.top);
    }
    this.live.set(ptr, cls.bytes);
    this.liveBytes += cls.bytes;
    return ptr;
  }

  /** Returns a block to its free list (or to the bump region when it is the topmost block). */
  release(ptr: number): void {
    const bytes = this.live.get(ptr);
    if (bytes === undefined) throw new Error(`wasm heap: free of unknown or already freed pointer ${ptr}`);
    this.live.delete(ptr);
    this.liveBytes -= bytes;
    if (ptr + bytes === this.top) {
      this.top = ptr;
      return;
    }
    const index = sizeClass(bytes).index;
    let list = this.free.get(index);
    if (!list) this.free.set(index, (list = []));
    list.push(ptr);
  }

  /** Bytes held by live blocks (class-rounded). */
  liveBlockBytes(): number {
    return this.liveBytes;
  }

  /** Statistics: live bytes, bump top, bytes parked in free lists, and the memory size. */
  stats(): { live: number; top: number; freeListed: number; memoryBytes: number } {
    let freeListed = 0;
    for (const [index, list] of this.free) {
      if (list.length) freeListed += list.length * this.classBytes(index);
    }
    return { live: this.liveBytes, top: this.top, freeListed, memoryBytes: this.memory.buffer.byteLength };
  }

  private classBytes(index: number): number {
    if (index < 8) return (index + 1) * ALIGN;
    const e = Math.floor((index - 8) / 4) + 3;
    const q = ((index - 8) % 4) + 5;
    return q * 2 ** (e - 2) * ALIGN;
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    // Grow geometrically so repeated growth stays amortised.
    const need = Math.ceil((end - have) / PAGE);
    const grow = Math.max(need, Math.ceil(have / PAGE / 4));
    try {
      this.memory.grow(grow);
    } catch {
      this.memory.grow(need); // geometric step refused near the maximum: take just what is needed
    }
  }
}

export const _test = { sizeClass };
