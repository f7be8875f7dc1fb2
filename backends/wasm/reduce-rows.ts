// wasm backend: reductions over small windows (pooling, depthwise convolution: a few taps per output)
// walked across rows. The plain reduce template walks each output's taps on their own, with a row's
// set-up and a horizontal combine per output and no SIMD for a 3-wide window; here each SIMD lane is
// one output of the last outer group (the output width), the taps are unrolled (each a constant
// address offset, its loop invariants such as a depthwise weight hoisted out of the row), and every
// tap is one v128 load (contiguous, or two loads and a shuffle for a stride-2 window walk).
// Per output the taps combine in row-major order: float sums and products in float32, max/min by
// pmax/pmin with NaN tracked apart (any NaN makes the result NaN). The JS tier (jstier.ts) follows.
// argmax/argmin keep the first extreme (NaN first of all), which no order changes. Several reductions
// run one after another over the same taps, each seeing the earlier ones' results.
import type { Expr, ReduceKernel, View } from '../../src/core/kernel.js';
import { children } from '../../src/core/kernel.js';
import { reduction } from '../../src/core/reductions.js';
import { sizeOf } from '../../src/core/shape.js';
import type { F, M, Ref } from './emit.js';
import { Lanes } from './emit.js';
import type { LoadExpr, Value } from './expr.js';
import { Lowerer, hoist, toF } from './expr.js';
import type { RowSite } from './loops.js';
import { RowSite as Site, rowLoop, walkRow } from './loops.js';
import type { KernelModule, Launcher } from './module.js';
import { CHUNK_ELEMENTS, chunked } from './module.js';
import type { Group, Stream } from './views.js';
import { StreamSet, elemBytes, groupStrides } from './views.js';

/** Windows of at most this many taps are unrolled across rows. */
export const ROW_WINDOW_MAX_TAPS = 64;

/** What reduceLoopNest found: loads, output views over [outer, inner], merged groups. */
export interface ReduceNest {
  readonly loads: readonly LoadExpr[];
  readonly outViews: readonly View[];
  readonly outerGroups: readonly Group[];
  readonly innerGroups: readonly Group[];
}

/**
 * True when a reduce kernel is walked across rows: float sums/prods/max/min and argmax/argmin, a
 * later one's body possibly reading an earlier one's result (max pooling's value routed through its
 * argmax, for its gradient), no 'full' outputs, no gather, over at most ROW_WINDOW_MAX_TAPS taps
 * whose own innermost run is too short for SIMD along it (under 16), at least two outer groups (the
 * first, whose size a shared module reads at run time, is never the walked one) of which the last
 * has 4 or more outputs, and every access moving at most 2 elements per output along it.
 */
export function walksAcrossRows(k: ReduceKernel, nest: ReduceNest): boolean {
  if (!k.reductions.length || k.outputs.some((o) => o.scope !== 'outer')) return false;
  if (k.reductions.some((red) => red.dtype !== (reduction(red.op).arg ? 'int32' : 'float32') || red.body.dtype !== 'float32')) return false;
  if (nest.loads.some((e) => e.gather)) return false;
  const { outerGroups, innerGroups } = nest;
  const taps = sizeOf(k.inner);
  if (taps < 1 || taps > ROW_WINDOW_MAX_TAPS || !innerGroups.length || innerGroups[innerGroups.length - 1].size >= 16) return false;
  if (outerGroups.length < 2 || outerGroups[outerGroups.length - 1].size < 4) return false;
  const groups = [...outerGroups, ...innerGroups];
  const vg = outerGroups.length - 1;
  return [...nest.loads.map((e) => e.view), ...nest.outViews].every((v) => Math.abs(groupStrides(groups, v.strides)[vg]) <= 2);
}

/** Every point of `sizes`, row-major. */
function points(sizes: readonly number[]): number[][] {
  let out: number[][] = [[]];
  for (const n of sizes) out = out.flatMap((p) => Array.from({ length: n }, (_, i) => [...p, i]));
  return out;
}

/** Builds a kernel walksAcrossRows accepted into `km` (export `run`, rows of the outer groups before the last). */
export function buildReduceAcrossRows(km: KernelModule, k: ReduceKernel, nest: ReduceNest): Launcher<ReduceKernel> {
  const { loads, outViews, outerGroups, innerGroups } = nest;
  const reds = k.reductions;
  const nIn = k.nInputs;
  const nOut = k.outputs.length;
  const START = nIn + nOut + 1; // same parameters as buildReduce: pointers, scratch, start, end
  const groups = [...outerGroups, ...innerGroups];
  const ss = new StreamSet(groups);
  for (const e of loads) ss.addLoad(e, e.input);
  const outStreams = outViews.map((v, i) => ss.stream(nIn + i, elemBytes(k.outputs[i].dtype), v));
  const vg = outerGroups.length - 1;
  const Lo = groups[vg].size;
  const rowGroups = outerGroups.slice(0, -1);
  const firstInner = outerGroups.length;
  const taps = points(innerGroups.map((g) => g.size));
  const tapBytes = (t: number) => (s: Stream) => taps[t].reduce((a, x, i) => a + x * s.strides[firstInner + i] * s.esize, 0);

  const fn = km.fn(nIn + nOut + 3);
  const m = km.m;
  const b = km.b;
  const c1 = new Lanes(fn, 1);
  const c4 = new Lanes(fn, 4);
  const paramOf = (input: number) => input;
  const loadVaries = (e: LoadExpr) => {
    const p = ss.loads.get(e)!;
    return p.stream.strides[vg] !== 0 || p.masks.some((x) => x.g === vg);
  };
  // What varies along the walk: moving loads, and reduction results (in the outputs and later bodies).
  const variant = new Map<Expr, boolean>();
  const visit = (e: Expr): boolean => {
    const hit = variant.get(e);
    if (hit !== undefined) return hit;
    const kids = children(e).map(visit);
    const v = e.kind === 'acc' || (e.kind === 'load' && loadVaries(e)) || kids.some((x) => x);
    variant.set(e, v);
    return v;
  };
  [...reds.map((r) => r.body), ...k.outputs.map((o) => o.expr)].forEach(visit);
  const varies = (e: Expr) => variant.get(e) ?? true;
  const rowPtr = new Map<Stream, number>();
  for (const s of ss.streams) rowPtr.set(s, fn.local(b.i32));
  const noAcc = (): Value => { throw new Error('wasm: acc in a window body'); };

  rowLoop(fn, rowGroups, ss.streams, rowPtr, fn.get(START), () => fn.get(START + 1), (coords) => {
    /** Coordinates at tap t (-1: the outputs, every inner coordinate 0), given the walked one. */
    const coordAt = (t: number, vcoord: () => Ref) => (g: number): Ref =>
      (g === vg ? vcoord() : g < vg ? fn.get(coords[g]) : m.i32.const(t < 0 ? 0 : taps[t][g - firstInner]));
    const site = (t: number, ptr: (s: Stream) => number, vcoord: () => Ref, laneOffset = 0): RowSite =>
      new Site(fn, ss, ptr, vg, coordAt(t, vcoord), paramOf, varies, laneOffset, t < 0 ? () => 0 : tapBytes(t));
    const rowP = (s: Stream) => rowPtr.get(s)!;
    const zero = () => m.i32.const(0);
    // Loop invariants of every tap (a depthwise weight) and of the outputs (a bias), once per row.
    const tapPre = reds.map((red) => taps.map((_, t) => hoist([red.body], variant, new Lowerer(c1, km, site(t, rowP, zero), noAcc), c4)));
    const outPre = hoist(k.outputs.map((o) => o.expr), variant, new Lowerer(c1, km, site(-1, rowP, zero), noAcc), c4);

    /** The window at one width: for each reduction in turn, every tap combined in order; then the outputs stored. */
    const emitWindow = (c: Lanes, at: RowSite) => {
      const results: Value[] = [];
      const accOf = (i: number): Value => {
        if (i >= results.length) throw new Error(`wasm: reduction result ${i} read before it is computed`);
        return results[i];
      };
      reds.forEach((red, j) => results.push(emitReduction(c, at, j, accOf)));
      const outSite = new Site(fn, ss, at.ptr, vg, coordAt(-1, () => at.coord(vg)), paramOf, varies, at.laneOffset);
      const L = new Lowerer(c, km, outSite, accOf, c.w === 1 ? outPre.scalar : outPre.vector);
      const vals = k.outputs.map((o) => L.lower(o.expr));
      k.outputs.forEach((o, i) => outSite.store(c, outStreams[i], vals[i], o.dtype));
    };
    /** Reduction j over the window's taps in order; earlier results through `accOf`. */
    const emitReduction = (c: Lanes, at: RowSite, j: number, accOf: (i: number) => Value): Value => {
      const red = reds[j];
      const sem = reduction(red.op);
      const isMax = sem.combine === 'max';
      const acc = c.fconst(sem.identity.float32);
      const best = sem.arg ? c.iconst(0) : null; // argmax/argmin: the tap of the extreme so far
      let nan: M | null = null;
      taps.forEach((_, t) => {
        const tapSite = new Site(fn, ss, at.ptr, vg, coordAt(t, () => at.coord(vg)), paramOf, varies, at.laneOffset, tapBytes(t));
        const pre = c.w === 1 ? tapPre[j][t].scalar : tapPre[j][t].vector;
        const v = toF(c, new Lowerer(c, km, tapSite, accOf, pre).lower(red.body));
        if (best) {
          // The first extreme wins (strictly better only), and the first NaN beats every number.
          const upd = c.mask((isMax ? v.gt(acc) : v.lt(acc)).or(v.ne(v).and(acc.eq(acc))).r);
          fn.set(best.idx, c.sel(upd, t, best).r);
          fn.set(acc.idx, c.sel(upd, v, acc).r);
          return;
        }
        let next: F;
        switch (sem.combine) {
          case 'add': next = acc.add(v); break;
          case 'mul': next = acc.mul(v); break;
          case 'max': case 'min': {
            next = isMax ? acc.pmax(v) : acc.pmin(v);
            const isNaN = v.ne(v);
            nan = nan ? nan.or(isNaN) : isNaN;
            break;
          }
        }
        fn.set(acc.idx, next.r);
      });
      return best ? { dt: 'int32', v: best } : { dt: 'float32', v: nan ? c.sel(nan, NaN, acc) : acc };
    };
    // One vector at a time: the taps already give each vector nine or so independent loads, and
    // interleaving several windows spills their hoisted tap invariants and accumulators (measured:
    // unroll 1 beats 2 and 4 by 10-40% on 3×3 windows).
    walkRow(fn, {
      length: Lo, streams: ss.streams, vg, unroll: 1,
      simd: (at) => emitWindow(c4, at),
      scalar: (at) => emitWindow(c1, at),
    }, rowP, (ptrOf, vcoord) => site(-1, ptrOf, vcoord));
  });
  fn.finish('run');
  const per = Math.max(1, Math.floor(CHUNK_ELEMENTS / (Lo * taps.length)));
  return (kk) => {
    const rows = sizeOf(kk.outer) / Lo;
    return (ex, ptrs) => {
      const args = [...ptrs, 0, 0, 0];
      chunked(rows, per, (s, e) => { args[START] = s; args[START + 1] = e; ex.run(...args); });
    };
  };
}
