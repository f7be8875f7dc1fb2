// wasm backend: the one growable WebAssembly.Memory every generated kernel module imports, and the
// allocator that carves tensor buffers out of it. Blocks are rounded to size classes (so a buffer
// freed by one step is reused whole by the next); free blocks coalesce with their free neighbours
// and a free block at the top gives its space back to the bump region, so a heap with nothing live
// is one free region again and serves any allocation that fits. Free blocks are binned by class:
// an allocation takes a block from the smallest bin that fits and splits off the rest.
// NOTE: memory.grow detaches the old ArrayBuffer, so typed-array views are re-created on demand
// (`views()`), never cached across an allocation.
import { OutOfMemoryError } from '../../src/core/errors.js';

const PAGE = 65536;
/** Alignment of every buffer (one v128). */
export const ALIGN = 16;
/**
 * Bytes at the bottom of memory reserved for runtime constant tables (the 2/pi bits used by the
 * sin/cos large-argument reduction live here); address 0 is never handed out, so a null pointer is invalid.
 * Also read (and discarded) by masked vector loads up to 28 bytes before a buffer (matmul.ts's
 * implicit-GEMM packing): keep it at least 32.
 */
export const RESERVED_BYTES = 1024;
/**
 * Slack kept after the last buffer so a v128 access at the tail of a buffer never leaves memory (and
 * a masked load reading up to 28 bytes past a buffer's end, as matmul.ts's packing does): at least 32.
 */
const TAIL_SLACK = 64;
/** The most a wasm32 memory can hold (65536 pages). */
export const MAX_PAGES = 65536;

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

/** The bin of a free block of `bytes` (a multiple of ALIGN): the largest class not above it. */
function binOf(bytes: number): number {
  const c = sizeClass(bytes);
  return c.bytes === bytes ? c.index : c.index - 1;
}

/** Typed views over the whole memory, valid until the next growth. */
export interface HeapViews {
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  readonly f32: Float32Array;
}

/** Allocator statistics. */
export interface HeapStats {
  /** Bytes of live blocks (class-rounded). */
  live: number;
  /** End of the highest block: above it is the bump region. */
  top: number;
  /** Bytes in free blocks below the top. */
  freeListed: number;
  /** Size of the WebAssembly.Memory. */
  memoryBytes: number;
  /** Largest WebAssembly.Memory size this heap reached. */
  peakMemoryBytes: number;
}

/** A class-rounded, coalescing allocator over one growable WebAssembly.Memory. */
export class WasmHeap {
  private mem: WebAssembly.Memory;
  /** Free blocks: start -> bytes, end -> start, and a set of starts per bin. */
  private readonly freeStart = new Map<number, number>();
  private readonly freeEnd = new Map<number, number>();
  private readonly bins: Set<number>[] = [];
  /** Live blocks: pointer -> class bytes. */
  private readonly live = new Map<number, number>();
  private top = RESERVED_BYTES;
  /** Highest address ever handed out: memory above it is still zero. */
  private highWater = RESERVED_BYTES;
  private liveBytes = 0;
  private freeBytes = 0;
  private peakMemory: number;
  private cached: { buffer: ArrayBuffer; views: HeapViews } | null = null;

  constructor(private readonly initialPages = 256, private readonly maximumPages = MAX_PAGES) {
    this.mem = new WebAssembly.Memory({ initial: initialPages, maximum: maximumPages });
    this.peakMemory = this.mem.buffer.byteLength;
  }

  /** The memory kernels import (replaced by compact()). */
  get memory(): WebAssembly.Memory { return this.mem; }

  /** Typed-array views of the current memory (re-created after growth). */
  views(): HeapViews {
    const buffer = this.mem.buffer;
    if (!this.cached || this.cached.buffer !== buffer) {
      this.cached = { buffer, views: { u8: new Uint8Array(buffer), i32: new Int32Array(buffer), f32: new Float32Array(buffer) } };
    }
    return this.cached.views;
  }

  /** Allocates `bytes` (16-byte aligned, zeroed unless asked not to) and returns the address. */
  alloc(bytes: number, zeroed = true): number {
    const cls = sizeClass(bytes);
    let ptr = this.takeFree(cls.index, cls.bytes);
    if (ptr !== undefined) {
      if (zeroed) this.views().u8.fill(0, ptr, ptr + cls.bytes);
    } else {
      ptr = this.top;
      this.ensure(ptr + cls.bytes + TAIL_SLACK, bytes);
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

  /** Frees a block: it merges with free neighbours, and returns to the bump region when it is topmost. */
  release(ptr: number): void {
    const bytes = this.live.get(ptr);
    if (bytes === undefined) throw new Error(`wasm heap: free of unknown or already freed pointer ${ptr}`);
    this.live.delete(ptr);
    this.liveBytes -= bytes;
    let start = ptr, size = bytes;
    const before = this.freeEnd.get(start);
    if (before !== undefined) { size += this.removeFree(before); start = before; }
    const after = this.freeStart.get(start + size);
    if (after !== undefined) size += this.removeFree(start + size);
    if (start + size === this.top) this.top = start;
    else this.addFree(start, size);
  }

  /** Bytes held by live blocks (class-rounded). */
  liveBlockBytes(): number {
    return this.liveBytes;
  }

  stats(): HeapStats {
    return { live: this.liveBytes, top: this.top, freeListed: this.freeBytes, memoryBytes: this.mem.buffer.byteLength, peakMemoryBytes: this.peakMemory };
  }

  /**
   * Moves every live block down into a fresh memory just large enough (wasm memory cannot shrink in
   * place), giving the rest back to the host. Returns the new address of each live block (`moved`
   * is called old -> new) and the new memory; kernels must be re-instantiated against it.
   */
  compact(moved: (from: number, to: number) => void): WebAssembly.Memory {
    const blocks = [...this.live].sort((a, b) => a[0] - b[0]);
    const liveTop = RESERVED_BYTES + blocks.reduce((s, [, n]) => s + n, 0);
    const pages = Math.max(1, Math.ceil((liveTop + TAIL_SLACK) / PAGE));
    const next = new WebAssembly.Memory({ initial: pages, maximum: this.maximumPages });
    const from = new Uint8Array(this.mem.buffer), to = new Uint8Array(next.buffer);
    to.set(from.subarray(0, RESERVED_BYTES));
    this.live.clear();
    let at = RESERVED_BYTES;
    for (const [ptr, n] of blocks) {
      to.set(from.subarray(ptr, ptr + n), at);
      this.live.set(at, n);
      if (ptr !== at) moved(ptr, at);
      at += n;
    }
    this.freeStart.clear(); this.freeEnd.clear(); this.bins.length = 0; this.freeBytes = 0;
    this.top = at;
    this.highWater = at;
    this.mem = next;
    this.cached = null;
    this.peakMemory = next.buffer.byteLength;
    return next;
  }

  /** A free block of at least class `index` (`bytes` long), split to size; undefined when none. */
  private takeFree(index: number, bytes: number): number | undefined {
    for (let b = index; b < this.bins.length; b++) {
      const bin = this.bins[b];
      if (!bin || bin.size === 0) continue;
      const start: number = bin.values().next().value!;
      const size = this.removeFree(start);
      if (size > bytes) this.addFree(start + bytes, size - bytes);
      return start;
    }
    return undefined;
  }

  private addFree(start: number, size: number): void {
    this.freeStart.set(start, size);
    this.freeEnd.set(start + size, start);
    const b = binOf(size);
    (this.bins[b] ??= new Set()).add(start);
    this.freeBytes += size;
  }

  private removeFree(start: number): number {
    const size = this.freeStart.get(start)!;
    this.freeStart.delete(start);
    this.freeEnd.delete(start + size);
    this.bins[binOf(size)].delete(start);
    this.freeBytes -= size;
    return size;
  }

  private ensure(end: number, requested: number): void {
    const have = this.mem.buffer.byteLength;
    if (end <= have) return;
    // Grow geometrically so repeated growth stays amortised.
    const need = Math.ceil((end - have) / PAGE);
    const grow = Math.max(need, Math.ceil(have / PAGE / 4));
    const pages = have / PAGE;
    if (pages + need > this.maximumPages) {
      throw new OutOfMemoryError(`wasm: the heap cannot hold ${requested} more bytes: it would need ${pages + need} pages of 64 KiB, past its maximum of ${this.maximumPages} (${this.liveBytes} bytes live, ${this.freeBytes} free in blocks too small)`, requested, this.liveBytes);
    }
    try {
      this.mem.grow(Math.min(grow, this.maximumPages - pages));
    } catch {
      try {
        this.mem.grow(need); // geometric step refused: take just what is needed
      } catch {
        throw new OutOfMemoryError(`wasm: the host refused to grow the heap from ${have} bytes by ${need * PAGE} for ${requested} bytes (${this.liveBytes} bytes live)`, requested, this.liveBytes);
      }
    }
    this.peakMemory = Math.max(this.peakMemory, this.mem.buffer.byteLength);
  }
}

export const _test = { sizeClass, binOf };
