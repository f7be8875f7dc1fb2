// wasm backend: the elementwise template. A kernel whose accesses all collapse to one contiguous run
// becomes a flat SIMD stream over [start, end) (unrolled f32x4/i32x4, scalar tail); anything else
// (strides, broadcasts, masks, gathers) walks rows: an odometer over the outer dims and a
// vectorised walk along the innermost one, with loop invariants hoisted out of it.
import type { ElementwiseKernel, Expr } from '../../src/core/kernel.js';
import { children, contiguousView } from '../../src/core/kernel.js';
import { sizeOf } from '../../src/core/shape.js';
import type { Ref } from './emit.js';
import { Lanes } from './emit.js';
import type { Value } from './expr.js';
import { Lowerer, hoist, variantNodes } from './expr.js';
import type { RowSite } from './loops.js';
import { RowSite as Site, addConst, rowLoop, walkRow } from './loops.js';
import type { KernelModule, Launcher } from './module.js';
import { CHUNK_ELEMENTS, chunked } from './module.js';
import type { Stream } from './views.js';
import { StreamSet, collapseDims, collectLoads, elemBytes, pinnedDims } from './views.js';

const EXPENSIVE = new Set(['exp', 'log', 'sin', 'cos', 'tanh', 'erf', 'pow', 'mod', 'div', 'sqrt']);

/** True when an expression has no transcendental or division: memory bound, not latency bound. */
export function isCheap(roots: readonly Expr[]): boolean {
  return exprCost(roots) <= 12;
}

/** A rough op count of expressions (shared nodes once; transcendentals count 20). */
export function exprCost(roots: readonly Expr[]): number {
  let cost = 0;
  const seen = new Set<Expr>();
  const visit = (e: Expr): void => {
    if (seen.has(e)) return;
    seen.add(e);
    if (e.kind === 'op') cost += EXPENSIVE.has(e.op) ? 20 : 1;
    else if (e.kind === 'load' && e.gather) cost += 4;
    children(e).forEach(visit);
  };
  roots.forEach(visit);
  return cost;
}

const noAcc = (): Value => { throw new Error('wasm: acc in an elementwise kernel'); };

/**
 * The loop nest of an elementwise kernel: dims merged into groups, one stream per distinct access,
 * and whether every access moves in step (`flat`: one SIMD stream over [start, end)).
 */
function elementwiseNest(k: ElementwiseKernel) {
  const roots = k.outputs.map((o) => o.expr);
  const loads = collectLoads(roots);
  const outViews = k.outputs.map((o) => o.view ?? contiguousView(k.shape));
  const pinned = pinnedDims(loads);
  const [collapsed] = collapseDims(k.shape, [k.shape.length], [...loads.map((l) => l.view.strides), ...outViews.map((v) => v.strides)], pinned);
  const groups = collapsed.length ? collapsed : [{ size: 1, dims: [] }];
  const ss = new StreamSet(groups);
  for (const e of loads) ss.addLoad(e, e.input);
  const outStreams = outViews.map((v, i) => ss.stream(k.nInputs + i, elemBytes(k.outputs[i].dtype), v));
  const flat = groups.length === 1 && pinned.size === 0 && ss.streams.every((s) => s.strides[0] === 0 || s.strides[0] === 1);
  return { roots, groups, ss, outStreams, flat };
}

/**
 * True when the module of `k` does not depend on the size of its first group (the one holding dim 0),
 * so that kernels differing only in shape[0] can share it (shared.ts): a flat stream (the bounds are
 * parameters) or rows (the odometer never reads the first group's size; the walked group is another).
 */
export function elementwiseSizeGeneric(k: ElementwiseKernel): boolean {
  if (sizeOf(k.shape) === 0) return true;
  const { groups, flat } = elementwiseNest(k);
  return flat || groups.length >= 2;
}

/**
 * Builds the elementwise kernel into `km` (export `run`) and returns how to launch it for `k` or for
 * a kernel differing from it only where elementwiseSizeGeneric allows (shape[0]).
 */
export function buildElementwise(km: KernelModule, k: ElementwiseKernel): Launcher<ElementwiseKernel> {
  if (sizeOf(k.shape) === 0) return () => () => {};
  const { roots, groups, ss, outStreams, flat } = elementwiseNest(k);
  const nIn = k.nInputs;
  const nOut = k.outputs.length;
  const START = nIn + nOut;
  const vg = groups.length - 1;

  const fn = km.fn(nIn + nOut + 2);
  const c1 = new Lanes(fn, 1);
  const c4 = new Lanes(fn, 4);
  const paramOf = (input: number) => input;
  /** Whether a load changes along the walked group (its masks there counted unless they hold: a padded row's interior). */
  const loadVaries = (s: Stream, e: { masks: readonly { g: number }[]; gather?: { g: number } }, masksHold = false) =>
    s.strides[vg] !== 0 || (!masksHold && e.masks.some((x) => x.g === vg)) || e.gather?.g === vg;
  const variant = variantNodes(roots, (e) => { const p = ss.loads.get(e)!; return loadVaries(p.stream, p); });
  const varies = (e: Expr) => variant.get(e) ?? true;
  // Cheap bodies are memory bound: two vectors per iteration. Expensive ones (transcendentals)
  // are latency bound: four interleaved vectors let the CPU overlap their dependency chains.
  const unroll = isCheap(roots) ? 2 : 4;
  const m = km.m;
  const i32 = km.b.i32;

  const emitOutputs = (c: Lanes, site: RowSite, pre: Map<Expr, Value>) => {
    const L = new Lowerer(c, km, site, noAcc, pre);
    const vals = k.outputs.map((o) => L.lower(o.expr));
    k.outputs.forEach((o, i) => site.store(c, outStreams[i], vals[i], o.dtype));
  };

  if (flat) {
    // Streams advance one element per element; broadcast scalars (stride 0) stay put.
    const ptr = new Map<Stream, number>();
    for (const s of ss.streams) {
      const base = addConst(fn, fn.get(s.param), s.offset * s.esize);
      ptr.set(s, fn.let(i32, s.strides[0] ? m.i32.add(base, m.i32.mul(fn.get(START), m.i32.const(s.esize))) : base));
    }
    const i = fn.let(i32, fn.get(START));
    const mk = (k0: number) => new Site(fn, ss, (s) => ptr.get(s)!, vg, () => fn.get(i), paramOf, varies, k0);
    const outer = new Lowerer(c1, km, mk(0), noAcc);
    const { scalar, vector } = hoist(roots, variant, outer, c4);
    const moving = ss.streams.filter((s) => s.strides[0] !== 0);
    const loopWhile = (lanes: number, body: () => void) => {
      const L = fn.label('flat');
      const cond = () => m.i32.le_s(m.i32.add(fn.get(i), m.i32.const(lanes)), fn.get(START + 1));
      const loop = m.loop(L, fn.block(() => {
        body();
        for (const s of moving) fn.set(ptr.get(s)!, addConst(fn, fn.get(ptr.get(s)!), lanes * s.esize));
        fn.set(i, m.i32.add(fn.get(i), m.i32.const(lanes)));
        fn.emit(m.br(L, cond()));
      }));
      fn.emit(m.if(cond(), loop));
    };
    if (unroll > 1) loopWhile(4 * unroll, () => fn.interleave(unroll, (u) => emitOutputs(c4, mk(4 * u), vector)));
    loopWhile(4, () => emitOutputs(c4, mk(0), vector));
    loopWhile(1, () => emitOutputs(c1, mk(0), scalar));
    fn.finish('run');
    return (kk) => {
      const total = sizeOf(kk.shape);
      return (ex, ptrs) => {
        const args = [...ptrs, 0, 0];
        chunked(total, CHUNK_ELEMENTS, (s, e) => { args[START] = s; args[START + 1] = e; ex.run(...args); });
      };
    };
  }

  // Rows: odometer over the outer groups, vectorised walk along the last one.
  const outerGroups = groups.slice(0, -1);
  const L = groups[vg].size;
  const rowSegments = paddedRowSegments(ss, vg, L);
  const rowPtr = new Map<Stream, number>();
  for (const s of ss.streams) rowPtr.set(s, fn.local(i32));
  // Where the walked group's masks hold (the interior of a padded row), a load that does not move
  // along it is invariant too (pad's mask of a broadcast scalar): hoisted out of that stretch.
  const interiorVariant = variantNodes(roots, (e) => { const p = ss.loads.get(e)!; return loadVaries(p.stream, p, true); });
  const segVariant = rowSegments.map((seg) => (seg.inside.has(vg) ? interiorVariant : variant));
  rowLoop(fn, outerGroups, ss.streams, rowPtr, fn.get(START), () => fn.get(START + 1), (coords) => {
    const coordAt = (vcoord: () => Ref) => (g: number): Ref => (g === vg ? vcoord() : fn.get(coords[g]));
    const hoistFor = (vmap: Map<Expr, boolean>, inside?: ReadonlySet<number>) => {
      const vary = (e: Expr) => vmap.get(e) ?? true;
      const rowSite = new Site(fn, ss, (s) => rowPtr.get(s)!, vg, coordAt(() => m.i32.const(0)), paramOf, vary, 0, undefined, inside);
      return hoist(roots, vmap, new Lowerer(c1, km, rowSite, noAcc), L >= 4 ? c4 : null);
    };
    const h = hoistFor(variant);
    rowSegments.forEach((seg, i) => {
      const vmap = segVariant[i];
      const hs = vmap === variant ? h : hoistFor(vmap, seg.inside);
      const vary = (e: Expr) => vmap.get(e) ?? true;
      walkRow(fn, {
        start: seg.start, length: seg.length, streams: ss.streams, vg, unroll,
        simd: (site) => emitOutputs(c4, site, hs.vector),
        scalar: (site) => emitOutputs(c1, site, hs.scalar),
      }, (s) => rowPtr.get(s)!, (ptrOf, vcoord) => new Site(fn, ss, ptrOf, vg, coordAt(vcoord), paramOf, vary, 0, undefined, seg.inside));
    });
  });
  fn.finish('run');
  const per = Math.max(1, Math.floor(CHUNK_ELEMENTS / L));
  return (kk) => {
    const rows = sizeOf(kk.shape) / L;
    return (ex, ptrs) => {
      const args = [...ptrs, 0, 0];
      chunked(rows, per, (s, e) => { args[START] = s; args[START + 1] = e; ex.run(...args); });
    };
  };
}

/** A stretch of a row walk; `inside`: groups whose masks hold all along it. */
interface RowSegment { readonly start: number; readonly length: number; readonly inside: ReadonlySet<number> }

/**
 * A row read through masks along the walked group (a padded input) in three stretches: the border
 * before and after, tested lane by lane, and the interior where every such mask holds, read with
 * plain vector loads. One stretch when there is no such mask or the interior is short.
 */
export function paddedRowSegments(ss: StreamSet, vg: number, L: number): RowSegment[] {
  const masks = [...ss.loads.values()].flatMap((p) => p.masks.filter((x) => x.g === vg));
  const lo = Math.max(0, ...masks.map((x) => x.lo));
  const hi = Math.min(L, ...masks.map((x) => x.hi));
  if (!masks.length || hi - lo < 8) return [{ start: 0, length: L, inside: new Set<number>() }];
  return [
    { start: 0, length: lo, inside: new Set<number>() },
    { start: lo, length: hi - lo, inside: new Set([vg]) },
    { start: hi, length: L - hi, inside: new Set<number>() },
  ].filter((seg) => seg.length > 0);
}
