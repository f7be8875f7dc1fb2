// How a compiled call's results reach the caller all at once: each output is handed to exactly one
// user (a copy is made where it would share memory with an input or another output), and in-place
// results are committed by exchanging buffers with the written storages. Everything that can fail
// (copies, allocations) happens before the first exchange, so a failure changes nothing.
import { isContiguousView } from '../src/core/kernel.js';
import { sizeOf } from '../src/core/shape.js';
import { untraced } from '../src/dispatch.js';
import { noGrad } from '../src/autograd.js';
import type { Storage } from '../src/storage.js';
import type { Tensor } from '../src/tensor.js';

/** True when `t` covers its whole storage contiguously from offset 0. */
export function coversStorage(t: Tensor): boolean {
  const v = t._view;
  return t._storage !== null && v.offset === 0 && !v.mask && isContiguousView(v) && sizeOf(v.shape) === t._storage.buffer.size;
}

/** Hands out a run's outputs so that every user owns its storage. */
export class Settlement {
  private readonly perStorage = new Map<Storage, number>();
  private readonly handed = new Set<Tensor>();
  private readonly copies: Tensor[] = [];

  constructor(private readonly outs: readonly Tensor[], private readonly leafStorages: ReadonlySet<Storage>) {
    for (const o of new Set(outs)) if (o._storage) this.perStorage.set(o._storage, (this.perStorage.get(o._storage) ?? 0) + 1);
  }

  /** outs[slot] when nothing else sees its storage, else a contiguous copy (may fail: stage first). */
  own(slot: number): Tensor {
    const o = this.outs[slot];
    const s = o._storage;
    if (s && !this.leafStorages.has(s) && this.perStorage.get(s) === 1 && !this.handed.has(o) && coversStorage(o)) {
      this.handed.add(o);
      return o;
    }
    const c = untraced(() => noGrad(() => o.detach().clone()));
    this.copies.push(c);
    return c;
  }

  /** After a failure: frees every output and copy. */
  abort(): void {
    for (const t of [...new Set(this.outs), ...this.copies]) t.dispose();
  }

  /** After success: drops the carriers' own references (users hold theirs), except `keep`. */
  release(keep: ReadonlySet<Tensor>): void {
    for (const t of [...new Set(this.outs), ...this.copies]) if (!keep.has(t)) t.dispose();
  }
}

/** Commits new contents (each `from` covers its storage, same size and dtype): infallible. */
export function exchangeAll(staged: readonly { readonly storage: Storage; readonly from: Tensor }[]): void {
  for (const { storage, from } of staged) storage.exchange(from._storage!);
}
