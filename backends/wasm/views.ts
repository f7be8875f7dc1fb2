// wasm backend: view analysis shared by the kernel templates. Dims that every access walks the same
// way are merged (so a contiguous tensor becomes one flat loop), size-1 dims dropped, masks trimmed
// to the iteration range, and each distinct (buffer, offset, strides) becomes one pointer "stream"
// that the loops bump incrementally instead of recomputing addresses with div/mod.
import type { DType } from '../../src/core/dtype.js';
import type { Expr, View } from '../../src/core/kernel.js';
import { exprNodes } from '../../src/core/kernel.js';
import type { IndexSite } from '../../src/core/index-check.js';
import type { LoadExpr } from './expr.js';

/** Bytes per element as stored in linear memory (bool as one byte). */
export function elemBytes(dt: DType): 1 | 4 {
  return dt === 'bool' ? 1 : 4;
}

/** A run of original dims merged into one loop dim. */
export interface Group {
  readonly size: number;
  readonly dims: readonly number[];
}

/** Every load under `roots` (unique by identity, gather indices included). */
export function collectLoads(roots: readonly Expr[]): LoadExpr[] {
  return exprNodes(roots).filter((e): e is LoadExpr => e.kind === 'load');
}

/** A mask trimmed to the iteration range: null = always inside, 'empty' = never inside. */
function trimMask(v: View, d: number): [number, number] | null | 'empty' {
  const m = v.mask?.[d];
  if (!m) return null;
  const lo = Math.max(0, m[0]);
  const hi = Math.min(v.shape[d], m[1]);
  if (lo >= hi) return 'empty';
  if (lo === 0 && hi === v.shape[d]) return null;
  return [lo, hi];
}

/** True when the view reads nothing but padding (some mask is empty). */
export function viewIsEmpty(v: View): boolean {
  return v.shape.some((_, d) => trimMask(v, d) === 'empty');
}

/**
 * Merges dims. `segments` are the sizes of ranges that must stay apart (reduce: outer, inner);
 * `strideSets` are the element strides of every access; `pinned` dims (masked, gathered) stay alone.
 * Returns the groups of each segment.
 */
export function collapseDims(shape: readonly number[], segments: readonly number[], strideSets: readonly (readonly number[])[],
  pinned: ReadonlySet<number>): Group[][] {
  const out: Group[][] = [];
  let d0 = 0;
  for (const len of segments) {
    const groups: { size: number; dims: number[] }[] = [];
    for (let d = d0; d < d0 + len; d++) {
      if (shape[d] === 1 && !pinned.has(d)) continue;
      const last = groups[groups.length - 1];
      const prevDim = last ? last.dims[last.dims.length - 1] : -1;
      const mergeable = last && !pinned.has(d) && !pinned.has(prevDim) &&
        strideSets.every((s) => s[prevDim] === s[d] * shape[d]);
      if (mergeable) { last.size *= shape[d]; last.dims.push(d); }
      else groups.push({ size: shape[d], dims: [d] });
    }
    out.push(groups);
    d0 += len;
  }
  return out;
}

/** The stride of each group (its innermost dim's stride), for one access. */
export function groupStrides(groups: readonly Group[], strides: readonly number[]): number[] {
  // A group with no dims is the single point of a 0-d space: any stride walks it.
  return groups.map((g) => (g.dims.length ? strides[g.dims[g.dims.length - 1]] : 1));
}

/** One pointer walked through the loop nest: a buffer param, element offset and per-group strides. */
export interface Stream {
  readonly id: number;
  readonly param: number;
  readonly esize: 1 | 4;
  readonly offset: number;
  /** Element strides per group (a gathered group has stride 0 here; the index supplies it). */
  readonly strides: readonly number[];
}

/** How one load reads: its stream, masks per group, and gather. */
export interface LoadPlan {
  readonly stream: Stream;
  /** Reads only padding: the value is 0. */
  readonly zero: boolean;
  readonly masks: readonly { readonly g: number; readonly lo: number; readonly hi: number }[];
  readonly gather?: { readonly g: number; readonly stride: number; readonly index: Expr; readonly site: IndexSite };
}

/** Streams and load plans for a loop nest over `groups` (all groups of all segments, in order). */
export class StreamSet {
  readonly streams: Stream[] = [];
  readonly loads = new Map<LoadExpr, LoadPlan>();
  private readonly byKey = new Map<string, Stream>();

  constructor(readonly groups: readonly Group[]) {}

  /** The stream for an access of buffer `param` through `view` (gathered group `gg` not walked). */
  stream(param: number, esize: 1 | 4, view: View, gg = -1): Stream {
    const strides = groupStrides(this.groups, view.strides).map((s, g) => (g === gg ? 0 : s));
    const key = `${param}|${esize}|${view.offset}|${strides.join(',')}`;
    let s = this.byKey.get(key);
    if (!s) {
      s = { id: this.streams.length, param, esize, offset: view.offset, strides };
      this.streams.push(s);
      this.byKey.set(key, s);
    }
    return s;
  }

  /** Plans a load of input buffer `param`. */
  addLoad(e: LoadExpr, param: number): LoadPlan {
    const hit = this.loads.get(e);
    if (hit) return hit;
    const v = e.view;
    const groupOf = (d: number) => this.groups.findIndex((g) => g.dims.includes(d));
    const gg = e.gather ? groupOf(e.gather.axis) : -1;
    const masks: { g: number; lo: number; hi: number }[] = [];
    let zero = false;
    v.shape.forEach((_, d) => {
      const t = trimMask(v, d);
      if (t === 'empty') zero = true;
      else if (t) masks.push({ g: groupOf(d), lo: t[0], hi: t[1] });
    });
    const plan: LoadPlan = {
      stream: this.stream(param, elemBytes(e.dtype), v, gg),
      zero,
      masks,
      // A 0-d source has no stride on the gathered axis: its one element is read whatever the index.
      gather: e.gather ? { g: gg, stride: v.strides[e.gather.axis] ?? 0, index: e.gather.index, site: { op: e.gather.op, axis: e.gather.axis, size: e.gather.size } } : undefined,
    };
    this.loads.set(e, plan);
    return plan;
  }
}

/** Dims that must not merge: those with a real mask in some load, and gather axes. */
export function pinnedDims(loads: readonly LoadExpr[]): Set<number> {
  const out = new Set<number>();
  for (const e of loads) {
    e.view.shape.forEach((_, d) => {
      const t = trimMask(e.view, d);
      if (t && t !== 'empty') out.add(d);
    });
    if (e.gather) out.add(e.gather.axis);
  }
  return out;
}
