// wasm backend: the reduce template. Per row of `outer`: each reduction in order walks the inner dims
// (SIMD along the innermost, several independent accumulators, float sums flushed in blocks into
// float64 so long rows keep the accuracy of the float64 cpu reference), then 'outer' outputs are
// stored and 'full' outputs walk the row again. Softmax/layerNorm rows are 4 KB and stay in L1.
import type { Expr, ReduceKernel, ReduceOp, View } from '../../src/core/kernel.js';
import { assertNever } from '../../src/core/errors.js';
import { reduceIdentity, reduction } from '../../src/core/reductions.js';
import { children, contiguousView, exprNodes, printExpr, someExpr } from '../../src/core/kernel.js';
import { contiguousStrides } from '../../src/core/shape.js';
import { sizeOf } from '../../src/core/shape.js';
import type { F, I, M, Ref } from './emit.js';
import { Lanes } from './emit.js';
import { exprCost, isCheap } from './elementwise.js';
import type { LoadExpr, Value } from './expr.js';
import { Lowerer, hoist, splatValue, toF, toI, variantNodes } from './expr.js';
import { EXP_OPTIMISTIC_BITS } from './mathlib.js';
import type { RowSite } from './loops.js';
import { buildReduceAcrossRows, walksAcrossRows } from './reduce-rows.js';
import { RowSite as Site, nestLoops, rowLoop, walkRow } from './loops.js';
import type { KernelModule, Launcher } from './module.js';
import { CHUNK_ELEMENTS, chunked } from './module.js';
import type { Group, Stream } from './views.js';
import { StreamSet, collapseDims, collectLoads, elemBytes, pinnedDims } from './views.js';

/** Iterations of the blocked-sum main loop between float64 flushes. */
export const FLUSH_ITERS = 64;
/** f32x4 accumulators of a float sum/prod/max/min pass (vectors per main-loop iteration). */
export const FLOAT_ACCS = 4;

/**
 * The loop nest of a reduce kernel: its loads, output views over the whole [outer, inner] space
 * ('outer' outputs do not move along inner dims), and the outer and inner dims merged into groups.
 * The last inner group is the vectorised walk, so it fixes the order of float accumulation (the JS
 * tier, jstier.ts, follows the same order), except for small windows walked across rows
 * (`acrossRows`, reduce-rows.ts).
 */
export function reduceLoopNest(k: ReduceKernel): { shape: number[]; loads: LoadExpr[]; outViews: View[]; outerGroups: Group[]; innerGroups: Group[]; acrossRows: boolean } {
  const shape = [...k.outer, ...k.inner];
  const loads = collectLoads([...k.reductions.map((r) => r.body), ...k.outputs.map((o) => o.expr)]);
  const outViews = k.outputs.map((o): View => {
    if (o.scope === 'full') return o.view ?? contiguousView(shape);
    const v = o.view ?? contiguousView(k.outer);
    return { shape, strides: [...v.strides, ...k.inner.map(() => 0)], offset: v.offset };
  });
  const [outerGroups, innerGroups] = collapseDims(shape, [k.outer.length, k.inner.length],
    [...loads.map((l) => l.view.strides), ...outViews.map((v) => v.strides)], pinnedDims(loads));
  return { shape, loads, outViews, outerGroups, innerGroups, acrossRows: walksAcrossRows(k, { loads, outViews, outerGroups, innerGroups }) };
}

/**
 * Builds the reduce kernel into `km` (export `run`, rows [start, end)) and returns its launcher.
 * `sizeGeneric`: the module must not depend on outer[0] (shared.ts), which only the row loop's bounds
 * (parameters) and the launch read otherwise.
 */
export function buildReduce(km: KernelModule, k: ReduceKernel, sizeGeneric = false): Launcher<ReduceKernel> {
  if (sizeOf(k.outer) === 0) return () => () => {};
  const nO = k.outer.length;
  const innerSize = sizeOf(k.inner);
  const bodies = k.reductions.map((r) => r.body);
  const outRoots = k.outputs.map((o) => o.expr);
  const nest = reduceLoopNest(k);
  if (nest.acrossRows) return buildReduceAcrossRows(km, k, nest);
  const { shape, loads, outViews, outerGroups, innerGroups } = nest;
  const nIn = k.nInputs;
  const nOut = k.outputs.length;
  const SCRATCH = nIn + nOut;
  const START = SCRATCH + 1;
  const groups = [...outerGroups, ...innerGroups];
  const ss = new StreamSet(groups);
  for (const e of loads) ss.addLoad(e, e.input);
  const outStreams = outViews.map((v, i) => ss.stream(nIn + i, elemBytes(k.outputs[i].dtype), v));
  const innerG = new Set(innerGroups.map((_, i) => outerGroups.length + i));
  const variant = variantNodes([...bodies, ...outRoots], (e) => {
    const p = ss.loads.get(e)!;
    return p.stream.strides.some((st, g) => innerG.has(g) && st !== 0) || p.masks.some((x) => innerG.has(x.g)) ||
      (p.gather !== undefined && innerG.has(p.gather.g));
  });
  const caches = rowCaches(k, variant, shape, innerSize, ss, SCRATCH);
  const nanBlind = nanBlindPasses(k, variant);
  const nOG = outerGroups.length;
  const vg = innerGroups.length ? groups.length - 1 : -1;
  const L = vg >= 0 ? groups[vg].size : 1;
  const mid = innerGroups.slice(0, -1).map((g, i) => ({ size: g.size, g: nOG + i }));
  // Flat index within `inner` of a mid group's coordinate step.
  const weight = (g: number) => groups.slice(g + 1).reduce((p, x) => p * x.size, 1);

  const fn = km.fn(nIn + nOut + 3);
  const m = km.m;
  const b = km.b;
  const c1 = new Lanes(fn, 1);
  const c4 = new Lanes(fn, 4);
  const paramOf = (input: number) => input;
  const varies = (e: Expr) => variant.get(e) ?? true;
  const rowPtr = new Map<Stream, number>();
  for (const s of ss.streams) rowPtr.set(s, fn.local(b.i32));
  const accLocals = k.reductions.map((r) => fn.local(r.dtype === 'float32' ? b.f32 : b.i32));
  const accScalar = (i: number): Value => {
    const dt = k.reductions[i].dtype;
    return dt === 'float32' ? { dt, v: c1.fAt(accLocals[i]) } : dt === 'int32' ? { dt, v: c1.iAt(accLocals[i]) } : { dt, v: c1.iAt(accLocals[i]) };
  };
  const accVector = (i: number): Value => splatValue(c4, accScalar(i));

  // The first pass streams its row from memory; a later, compute-heavy pass touches the next row so
  // that it arrives in cache meanwhile (single inner dim, contiguous rows only).
  const pfPass = k.reductions.length >= 2 ? 1 : k.outputs.some((o) => o.scope === 'full') ? k.reductions.length : -1;
  const lastOuter = nOG - 1;
  const pfStreams = pfPass < 1 || lastOuter < 0 || mid.length > 0 || L < 64 ? [] : [...new Set(
    collectLoads([k.reductions[0].body]).map((e) => ss.loads.get(e)!).filter((p) => !p.zero && !p.gather && !p.masks.length)
      .map((p) => p.stream).filter((st) => st.strides[vg] === 1 && st.strides[lastOuter] !== 0))];

  rowLoop(fn, outerGroups, ss.streams, rowPtr, fn.get(START), () => fn.get(START + 1), (coords, row) => {
    let pfNow: number[] | undefined;
    let guardNow: { lo1: number; hi1: number; lo4: number; hi4: number } | undefined;
    const pfLocals = () => {
      const nextRow = m.i32.lt_s(m.i32.add(fn.get(row), m.i32.const(1)), fn.get(START + 1));
      // With one outer group its coordinate is the row, and the row bound (<= rows) already implies it.
      const ok = fn.let(b.i32, sizeGeneric && lastOuter === 0 ? nextRow : m.i32.and(nextRow,
        m.i32.lt_s(m.i32.add(fn.get(coords[lastOuter]), m.i32.const(1)), m.i32.const(outerGroups[lastOuter].size))));
      return pfStreams.map((st) => fn.let(b.i32, m.select(fn.get(ok),
        m.i32.add(fn.get(rowPtr.get(st)!), m.i32.const(st.strides[lastOuter] * st.esize)), fn.get(rowPtr.get(st)!))));
    };
    const zeroCoord = (g: number): Ref => (g < nOG ? fn.get(coords[g]) : m.i32.const(0));
    const rowSite = new Site(fn, ss, (s) => rowPtr.get(s)!, vg, zeroCoord, paramOf, varies);
    const rowL = new Lowerer(c1, km, rowSite, accScalar);

    /** Walks the inner dims: mid groups as plain loops, the last one vectorised. */
    const walkInner = (roots: readonly Expr[], unroll: number,
      simd: (L4: Lowerer, site: RowSite, u: number, flat: () => I) => void,
      scalar: (L1: Lowerer, site: RowSite, flat: () => I) => void,
      flush?: { iters: number; flush: () => void }, afterRow?: () => void) => {
      const h = hoist(roots, variant, rowL, L >= 4 ? c4 : null);
      const g = guardNow;
      const g1 = g ? (n: I) => { fn.set(g.lo1, c1.iAt(g.lo1).min(n).r); fn.set(g.hi1, c1.iAt(g.hi1).max(n).r); } : undefined;
      const g4 = g ? (n: I) => { fn.set(g.lo4, m.i32x4.min_s(fn.get(g.lo4), n.r)); fn.set(g.hi4, m.i32x4.max_s(fn.get(g.hi4), n.r)); } : undefined;
      if (vg < 0) { // inner is a single point
        scalar(new Lowerer(c1, km, rowSite, accScalar, h.scalar, g1), rowSite, () => c1.iconst(0));
        afterRow?.();
        return;
      }
      nestLoops(fn, mid, ss.streams, (s) => rowPtr.get(s)!, (ptrOf, midCoord) => {
        const coordOf = (vcoord: () => Ref) => (g: number): Ref => (g === vg ? vcoord() : midCoord(g) ?? zeroCoord(g));
        const base = () => {
          let r: Ref = m.i32.const(0);
          for (const { g } of mid) r = m.i32.add(r, m.i32.mul(midCoord(g)!, m.i32.const(weight(g))));
          return r;
        };
        walkRow(fn, {
          length: L, streams: ss.streams, vg, unroll, flushEvery: flush, prefetch: pfNow,
          simd: (site, u) => simd(new Lowerer(c4, km, site, accVector, h.vector, g4), site, u, () => {
            const flatBase = m.i32.add(m.i32.add(base(), site.coord(vg)), m.i32.const(site.laneOffset));
            return c4.splatI(flatBase).add(c4.i(m.v128.const([0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0])));
          }),
          scalar: (site) => scalar(new Lowerer(c1, km, site, accScalar, h.scalar, g1), site, () =>
            c1.i(m.i32.add(m.i32.add(base(), site.coord(vg)), m.i32.const(site.laneOffset)))),
        }, ptrOf, (p, vcoord) => new Site(fn, ss, p, vg, coordOf(vcoord), paramOf, varies));
        afterRow?.();
      });
    };

    const emitPass = (i: number, trackNaN = true) => {
      const red = k.reductions[i];
      // Values the 'full' outputs will need again are kept in a row cache while this pass computes them.
      const keep = caches.filter((x) => x.reduction === i);
      const save = (L: Lowerer, site: RowSite) => keep.forEach((x) => site.store(L.c, x.stream, L.lower(x.bodyNode), 'float32'));
      emitReduction(red.op, red.body, red.body.dtype === 'float32', red.dtype === 'float32', accLocals[i],
        walkInner, c1, c4, keep.length ? save : undefined, trackNaN);
    };
    k.reductions.forEach((red, i) => {
      if (innerSize === 0) {
        fn.set(accLocals[i], reduction(red.op).arg ? m.i32.const(0) : initScalar(c1, red.op, red.dtype === 'float32'));
        return;
      }
      pfNow = i === pfPass && pfStreams.length ? pfLocals() : undefined;
      if (nanBlind.has(i)) {
        emitPass(i, false);
        pfNow = undefined;
        return;
      }
      const emit = () => emitPass(i);
      if (hasExp(red.body)) {
        // Optimistic pass: exp in its cheaper normal-range form, lanes' range checks AND-ed; a row
        // with an argument outside (NaN, overflow, subnormal results) runs the pass again exactly.
        const [bLo, bHi] = EXP_OPTIMISTIC_BITS;
        guardNow = {
          lo1: fn.let(b.i32, m.i32.const(bLo)), hi1: fn.let(b.i32, m.i32.const(bHi)),
          lo4: fn.let(b.v128, c4.iconstRef(bLo)), hi4: fn.let(b.v128, c4.iconstRef(bHi)),
        };
        const g = guardNow;
        emit();
        guardNow = undefined;
        pfNow = undefined;
        const lo = m.i32x4.all_true(m.i32x4.ge_s(fn.get(g.lo4), c4.iconstRef(bLo)));
        const hi = m.i32x4.all_true(m.i32x4.le_s(fn.get(g.hi4), c4.iconstRef(bHi)));
        const inRange = m.i32.and(m.i32.and(lo, hi), m.i32.and(m.i32.ge_s(fn.get(g.lo1), m.i32.const(bLo)), m.i32.le_s(fn.get(g.hi1), m.i32.const(bHi))));
        // A NaN-blind max before this pass (see nanBlindPasses) is redone NaN-aware first.
        fn.if(m.i32.eqz(inRange), () => { if (nanBlind.has(i - 1)) emitPass(i - 1); emit(); });
      } else emit();
      pfNow = undefined;
    });

    // 'outer' outputs once per row, 'full' outputs over the row again.
    k.outputs.forEach((o, i) => {
      if (o.scope === 'outer') rowSite.store(c1, outStreams[i], rowL.lower(o.expr), o.dtype);
    });
    const full = k.outputs.map((o, i) => [o, i] as const).filter(([o]) => o.scope === 'full');
    if (full.length && innerSize > 0) {
      const roots = full.map(([o]) => o.expr);
      const store = (L1: Lowerer, site: RowSite) => {
        for (const x of caches) L1.memo.set(x.outNode, site.load(x.load, L1));
        const vals = roots.map((r) => L1.lower(r));
        full.forEach(([o, i], j) => site.store(L1.c, outStreams[i], vals[j], o.dtype));
      };
      pfNow = pfPass === k.reductions.length && pfStreams.length ? pfLocals() : undefined;
      walkInner(roots, isCheap(roots) ? 2 : 4, (L4, site) => store(L4, site), (L1, site) => store(L1, site));
      pfNow = undefined;
    }
  });
  fn.finish('run');
  const passes = k.reductions.length + (k.outputs.some((o) => o.scope === 'full') ? 1 : 0);
  const per = Math.max(1, Math.floor(CHUNK_ELEMENTS / Math.max(1, innerSize * Math.max(1, passes))));
  const cacheBytes = caches.length * innerSize * 4;
  return (kk) => {
    const rows = sizeOf(kk.outer);
    return (ex, ptrs, env) => {
      const args = [...ptrs, cacheBytes ? env.scratch(cacheBytes) : 0, 0, 0];
      chunked(rows, per, (s, e) => { args[START] = s; args[START + 1] = e; ex.run(...args); });
    };
  };
}

/** A value a reduction pass computes and a 'full' output reuses, kept in scratch for the row. */
interface RowCache {
  readonly reduction: number;
  /** The node inside the reduction body, and the (structurally equal) node in the outputs. */
  readonly bodyNode: Expr;
  readonly outNode: Expr;
  readonly stream: Stream;
  /** A synthetic load of the cached row through `stream`. */
  readonly load: LoadExpr;
}

/**
 * Finds expensive row-varying subexpressions of the 'full' outputs that some reduction body already
 * computes (softmax's exp(x - max)), and gives each a float32 row of scratch to be stored into by
 * that pass and loaded from by the output pass, instead of being evaluated twice.
 */
function rowCaches(k: ReduceKernel, variant: ReadonlyMap<Expr, boolean>, shape: readonly number[], innerSize: number,
  ss: StreamSet, scratchParam: number): RowCache[] {
  if (innerSize === 0) return [];
  const inBodies = new Map<string, { reduction: number; node: Expr }>();
  k.reductions.forEach((r, i) => exprNodes([r.body]).forEach((e) => {
    const key = printExpr(e);
    if (!inBodies.has(key)) inBodies.set(key, { reduction: i, node: e });
  }));
  const out: RowCache[] = [];
  const taken = new Set<string>();
  const visit = (e: Expr): void => {
    if (!variant.get(e)) return;
    if (e.kind === 'op' && e.dtype === 'float32' && exprCost([e]) >= 8) {
      const key = printExpr(e);
      const hit = inBodies.get(key);
      if (hit) {
        if (!taken.has(key)) {
          taken.add(key);
          const strides = [...k.outer.map(() => 0), ...contiguousStrides(k.inner)];
          const v: View = { shape: [...shape], strides, offset: out.length * innerSize };
          const stream = ss.stream(scratchParam, 4, v);
          const load: LoadExpr = { kind: 'load', input: scratchParam, view: v, dtype: 'float32' };
          ss.addLoad(load, scratchParam);
          out.push({ reduction: hit.reduction, bodyNode: hit.node, outNode: e, stream, load });
        }
        return;
      }
    }
    // Not into gather indices: a cached row is float32 data, an index is not.
    if (e.kind !== 'load') children(e).forEach(visit);
  };
  k.outputs.forEach((o) => { if (o.scope === 'full') visit(o.expr); });
  return out;
}

/**
 * Float max/min passes that may skip their NaN tracking (two instructions per vector): those whose
 * next pass evaluates exp(B - acc) with B the same expression as their body (softmax's
 * exp(x - max x)), evaluated per element (not hoisted out of the row). A NaN in B then reaches that
 * exp, whose optimistic range check fails and redoes both passes exactly, so the NaN-blind result
 * is only kept for rows without NaN.
 */
function nanBlindPasses(k: ReduceKernel, variant: ReadonlyMap<Expr, boolean>): Set<number> {
  const out = new Set<number>();
  k.reductions.forEach((r, i) => {
    const next = k.reductions[i + 1];
    if (reduction(r.op).nan !== 'propagate' || r.body.dtype !== 'float32' || !next) return;
    const body = printExpr(r.body);
    for (const e of exprNodes([next.body])) {
      if (e.kind !== 'op' || e.op !== 'exp' || !variant.get(e)) continue;
      const a = e.args[0];
      if (a.kind === 'op' && a.op === 'sub' && a.args[1].kind === 'acc' && a.args[1].index === i && printExpr(a.args[0]) === body) out.add(i);
    }
  });
  return out;
}

/** True when an expression evaluates exp (directly, not inside tanh/erf). */
function hasExp(e: Expr): boolean {
  return someExpr(e, (x) => x.kind === 'op' && x.op === 'exp');
}

/** The identity of a reduction, as a scalar expression. */
function initScalar(c: Lanes, op: ReduceOp, float: boolean): Ref {
  const x = reduceIdentity(op, float);
  return float ? c.m.f32.const(x) : c.m.i32.const(x | 0);
}

type WalkInner = (roots: readonly Expr[], unroll: number,
  simd: (L4: Lowerer, site: RowSite, u: number, flat: () => I) => void,
  scalar: (L1: Lowerer, site: RowSite, flat: () => I) => void,
  flush?: { iters: number; flush: () => void }, afterRow?: () => void) => void;

/**
 * An int32 reduction by `combine` (wrapping add/mul, or min/max) from `init`: four SIMD accumulators
 * and a scalar tail, then the accumulators, their lanes and the tail combined into `out`.
 */
function emitIntReduction(init: number, combine: (x: I, y: I) => I, body: Expr, outFloat: boolean, out: number,
  walk: WalkInner, c1: Lanes, c4: Lanes, save?: (L: Lowerer, site: RowSite) => void): void {
  const fn = c1.fn;
  const U = 4;
  const accs = Array.from({ length: U }, () => c4.iconst(init));
  const tail = c1.iconst(init);
  walk([body], U, (L4, site, u) => { fn.set(accs[u].idx, combine(accs[u], toI(c4, L4.lower(body))).r); save?.(L4, site); },
    (L1, site) => { fn.set(tail.idx, combine(tail, toI(c1, L1.lower(body))).r); save?.(L1, site); });
  let s = accs[0];
  for (let u = 1; u < U; u++) s = combine(s, accs[u]);
  let t = tail;
  for (let l = 0; l < 4; l++) t = combine(t, c1.i(c4.laneI(s, l)));
  fn.set(out, outFloat ? t.toFloat().r : t.r);
}

/** Emits one reduction over the row into the scalar local `out`. */
function emitReduction(op: ReduceOp, body: Expr, bodyFloat: boolean, outFloat: boolean, out: number, walk: WalkInner,
  c1: Lanes, c4: Lanes, save?: (L: Lowerer, site: RowSite) => void, trackNaN = true): void {
  const fn = c1.fn;
  const m = c1.m;
  const b = c1.b;
  const sem = reduction(op);
  // Four independent accumulators: enough to hide add latency, and for expensive bodies four
  // interleaved vectors of work (see Fn.interleave).
  switch (sem.combine) {
    case 'add': case 'mul': {
      const mul = sem.combine === 'mul';
      const U = FLOAT_ACCS;
      if (bodyFloat || outFloat) {
        // f32x4 accumulators, flushed into float64 (f64x2 pair) every block and at each row's end.
        const id = sem.identity.float32;
        const accs = Array.from({ length: U }, () => c4.fconst(id));
        const d0 = fn.let(b.v128, m.v128.const(Array.from(new Uint8Array(new Float64Array([id, id]).buffer))));
        const d1 = fn.let(b.v128, fn.get(d0));
        const tail = fn.let(b.f64, m.f64.const(id));
        const f4 = (x: F, y: F) => (mul ? x.mul(y) : x.add(y));
        const flush = () => {
          let s = accs[0];
          for (let u = 1; u < U; u++) s = f4(s, accs[u]);
          const lo = m.f64x2.promote_low_f32x4(s.r);
          const hi = m.f64x2.promote_low_f32x4(m.i8x16.shuffle(s.r, s.r, [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]));
          fn.set(d0, mul ? m.f64x2.mul(fn.get(d0), lo) : m.f64x2.add(fn.get(d0), lo));
          fn.set(d1, mul ? m.f64x2.mul(fn.get(d1), hi) : m.f64x2.add(fn.get(d1), hi));
          for (const a of accs) fn.set(a.idx, c4.fconstRef(id));
        };
        walk([body], U, (L4, site, u) => {
          fn.set(accs[u].idx, f4(accs[u], toF(c4, L4.lower(body))).r);
          save?.(L4, site);
        }, (L1, site) => {
          const v = m.f64.promote(toF(c1, L1.lower(body)).r);
          fn.set(tail, mul ? m.f64.mul(fn.get(tail), v) : m.f64.add(fn.get(tail), v));
          save?.(L1, site);
        }, { iters: FLUSH_ITERS, flush }, flush);
        const d = fn.let(b.v128, mul ? m.f64x2.mul(fn.get(d0), fn.get(d1)) : m.f64x2.add(fn.get(d0), fn.get(d1)));
        const l0 = m.f64x2.extract_lane(fn.get(d), 0);
        const l1 = m.f64x2.extract_lane(fn.get(d), 1);
        const tot = mul ? m.f64.mul(m.f64.mul(l0, l1), fn.get(tail)) : m.f64.add(m.f64.add(l0, l1), fn.get(tail));
        fn.set(out, outFloat ? m.f32.demote(tot) : toI(c1, { dt: 'float32', v: c1.f(m.f32.demote(tot)) }).r);
        return;
      }
      // Integer sum/prod wrap like int32 (the cpu's float64 total wraps the same way when stored).
      emitIntReduction(sem.identity.int32, (x, y) => (mul ? x.mul(y) : x.add(y)), body, outFloat, out, walk, c1, c4, save);
      return;
    }
    case 'max': case 'min': {
      const isMax = sem.combine === 'max';
      if (sem.arg) {
        emitArgReduction(isMax, sem.identity, body, bodyFloat, outFloat, out, walk, c1, c4, save);
        return;
      }
      const U = FLOAT_ACCS;
      if (bodyFloat) {
        // SIMD lanes use the one-instruction pmax/pmin (NaN in the body is dropped) and track NaN in a
        // mask; the scalar tail uses the NaN-propagating form. Any NaN makes the result NaN, as the cpu's
        // `v !== v` test does; ties keep the earlier value, also as the cpu does.
        const init = sem.identity.float32;
        const accs = Array.from({ length: U }, () => c4.fconst(init));
        const nans = Array.from({ length: U }, () => c4.iconst(0));
        const tail = c1.fconst(init);
        const pick = (x: F, y: F) => (isMax ? x.max(y) : x.min(y));
        walk([body], U, (L4, site, u) => {
          const v = toF(c4, L4.lower(body));
          fn.set(accs[u].idx, (isMax ? accs[u].pmax(v) : accs[u].pmin(v)).r);
          if (trackNaN) fn.set(nans[u].idx, c4.m.v128.or(fn.get(nans[u].idx), v.ne(v).r));
          save?.(L4, site);
        }, (L1, site) => { fn.set(tail.idx, pick(tail, toF(c1, L1.lower(body))).r); save?.(L1, site); });
        let s = accs[0];
        let nan: Ref = fn.get(nans[0].idx);
        for (let u = 1; u < U; u++) { s = pick(s, accs[u]); nan = c4.m.v128.or(nan, fn.get(nans[u].idx)); }
        let t = tail;
        for (let l = 0; l < 4; l++) t = pick(t, c1.f(c4.laneF(s, l)));
        const r = c1.f(m.select(c4.m.v128.any_true(nan), m.f32.const(NaN), t.r));
        fn.set(out, outFloat ? r.r : toI(c1, { dt: 'float32', v: r }).r);
        return;
      }
      emitIntReduction(sem.identity.int32, (x, y) => (isMax ? x.max(y) : x.min(y)), body, outFloat, out, walk, c1, c4, save);
      return;
    }
    default: assertNever(sem, 'reduction');
  }
}

/** argmax / argmin: per-lane best value and flat index; first occurrence wins, NaN is the extreme. */
function emitArgReduction(isMax: boolean, identity: { readonly float32: number; readonly int32: number }, body: Expr,
  bodyFloat: boolean, outFloat: boolean, out: number, walk: WalkInner, c1: Lanes, c4: Lanes, save?: (L: Lowerer, site: RowSite) => void): void {
  const fn = c1.fn;
  const U = 2;
  const initV = bodyFloat ? identity.float32 : identity.int32;
  const mk = (c: Lanes) => (bodyFloat ? c.fconst(initV) : c.iconst(initV));
  const bests = Array.from({ length: U }, () => mk(c4));
  const idxs = Array.from({ length: U }, () => c4.iconst(0));
  const bestT = mk(c1);
  const idxT = c1.iconst(0);
  const better = (c: Lanes, v: F | I, best: F | I): M => {
    if (v.kind === 'f' && best.kind === 'f') {
      const strict = isMax ? v.gt(best) : v.lt(best);
      return strict.or(v.ne(v).and(best.eq(best)));
    }
    return isMax ? (v as I).gt(best as I) : (v as I).lt(best as I);
  };
  const value = (c: Lanes, x: Value): F | I => (bodyFloat ? toF(c, x) : toI(c, x));
  walk([body], U, (L4, site, u, flat) => {
    save?.(L4, site);
    const v = value(c4, L4.lower(body));
    const upd = better(c4, v, bests[u]);
    fn.set(bests[u].idx, c4.sel(upd, v, bests[u]).r);
    fn.set(idxs[u].idx, c4.sel(upd, flat(), idxs[u]).r);
  }, (L1, site, flat) => {
    save?.(L1, site);
    const v = value(c1, L1.lower(body));
    const upd = better(c1, v, bestT);
    fn.set(bestT.idx, c1.sel(upd, v, bestT).r);
    fn.set(idxT.idx, c1.sel(upd, flat(), idxT).r);
  });
  // Combine every lane with the scalar tail: NaN first, then the extreme, ties to the lower index.
  for (let u = 0; u < U; u++) {
    for (let l = 0; l < 4; l++) {
      const v = bodyFloat ? c1.f(c4.laneF(bests[u] as F, l)) : c1.i(c4.laneI(bests[u] as I, l));
      const ix = c1.i(c4.laneI(idxs[u], l));
      let upd = better(c1, v, bestT);
      const tie = bodyFloat
        ? (v as F).eq(bestT as F).or((v as F).ne(v as F).and((bestT as F).ne(bestT as F)))
        : (v as I).eq(bestT as I);
      upd = upd.or(tie.and(ix.lt(idxT)));
      fn.set(bestT.idx, c1.sel(upd, v, bestT).r);
      fn.set(idxT.idx, c1.sel(upd, ix, idxT).r);
    }
  }
  fn.set(out, outFloat ? idxT.toFloat().r : idxT.r);
}
