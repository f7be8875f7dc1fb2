// wasm backend: loop frames shared by the elementwise and reduce templates: the outer "odometer" over
// rows (one div/mod at entry, pointer bumps after), the vectorised walk along a row (SIMD body,
// unrolled, then a scalar tail of compile-time length), and the load/store site that turns a
// stream pointer into v128 loads (contiguous, reversed, broadcast) or lane-by-lane accesses.
import type { DType } from '../../src/core/dtype.js';
import type { Expr } from '../../src/core/kernel.js';
import type { Fn, I, Lanes, Ref } from './emit.js';
import type { IndexSite } from '../../src/core/index-check.js';
import { opCode } from '../../src/core/index-check.js';
import { INDEX_ERROR_ADDR } from './module.js';
import type { LoadExpr, LoadSite, Lowerer, Value } from './expr.js';
import { castTo, constValue, toI } from './expr.js';
import type { Group, LoadPlan, Stream, StreamSet } from './views.js';

/** Loads a scalar element of `dt` at `addr` (+ constant byte offset). */
export function loadScalar(fn: Fn, dt: DType, addr: Ref, offset = 0): Ref {
  const m = fn.m;
  if (dt === 'float32') return m.f32.load(offset, 4, addr);
  if (dt === 'int32') return m.i32.load(offset, 4, addr);
  return m.i32.load8_u(offset, 1, addr);
}

/** Loads four consecutive elements of `dt` as a v128 (bool bytes widen to i32 lanes). */
export function loadVector(fn: Fn, dt: DType, addr: Ref, offset = 0): Ref {
  const m = fn.m;
  if (dt !== 'bool') return m.v128.load(offset, 4, addr);
  return m.i32x4.extend_low_i16x8_u(m.i16x8.extend_low_i8x16_u(m.v128.load32_zero(offset, 1, addr)));
}

/** Stores a value as `dt` (casting first when the expression's dtype differs). */
export function storeValue(c: Lanes, addr: Ref, x: Value, dt: DType, offset = 0): Ref {
  const m = c.m;
  const v = castTo(c, x, dt);
  const r = v.dt === 'float32' ? v.v.r : toI(c, v).r;
  if (c.w === 1 || dt !== 'bool') {
    if (c.w === 1 && dt === 'float32') return m.f32.store(offset, 4, addr, r);
    if (c.w === 1 && dt === 'int32') return m.i32.store(offset, 4, addr, r);
    if (c.w === 1) return m.i32.store8(offset, 1, addr, r);
    return m.v128.store(offset, 4, addr, r);
  }
  const x4 = c.fn.let(c.b.v128, r);
  const t = c.fn.let(c.b.v128, m.i16x8.narrow_i32x4_u(c.fn.get(x4), c.fn.get(x4)));
  const bytes = m.i8x16.narrow_i16x8_u(c.fn.get(t), c.fn.get(t));
  return m.v128.store32_lane(offset, 1, 0, addr, bytes);
}

/** Stores lane `l` of a width-4 value as a scalar element. */
function storeLane(c: Lanes, addr: Ref, x: Value, dt: DType, l: number, offset = 0): Ref {
  const m = c.m;
  const v = castTo(c, x, dt);
  if (v.dt === 'float32') return m.f32.store(offset, 4, addr, c.laneF(v.v, l));
  const i = toI(c, v);
  return dt === 'int32' ? m.i32.store(offset, 4, addr, c.laneI(i, l)) : m.i32.store8(offset, 1, addr, c.laneI(i, l));
}

/** An address as an expression plus a constant offset (>= 0, for the access's offset immediate). */
export interface Addr {
  readonly ref: Ref;
  readonly off: number;
}

/** `ptr + k` as an Addr: non-negative k becomes the offset immediate. */
export function split(fn: Fn, ptr: Ref, k: number): Addr {
  return k >= 0 ? { ref: ptr, off: k } : { ref: addConst(fn, ptr, k), off: 0 };
}

/** The address as one expression. */
export function joined(fn: Fn, a: Addr): Ref {
  return addConst(fn, a.ref, a.off);
}

/** `ptr + k` (no add when k is 0). */
export function addConst(fn: Fn, ptr: Ref, k: number): Ref {
  return k === 0 ? ptr : fn.m.i32.add(ptr, fn.m.i32.const(k | 0));
}

const NO_GROUPS: ReadonlySet<number> = new Set();

/**
 * Loads and stores at the current position of a loop nest. `ptr(s)` is the local holding stream s's
 * address at coordinate 0 of the vectorised group (`vg`, -1 when none) plus whatever the outer loops
 * moved; `laneOffset` shifts along vg (unrolled copies, tail elements).
 */
export class RowSite implements LoadSite {
  constructor(
    readonly fn: Fn,
    readonly streams: StreamSet,
    readonly ptr: (s: Stream) => number,
    readonly vg: number,
    /** i32 coordinate of group g at the current position (for vg: the coordinate at laneOffset 0). */
    readonly coord: (g: number) => Ref,
    readonly paramOf: (input: number) => number,
    readonly varies: (e: Expr) => boolean,
    readonly laneOffset = 0,
    /** Constant bytes added to stream s's address (a fixed point of unrolled inner dims). */
    readonly extra: (s: Stream) => number = () => 0,
    /** Groups whose masks hold wherever this site is used (the interior of a padded row): not tested. */
    readonly inside: ReadonlySet<number> = NO_GROUPS,
  ) {}

  /** Copy of this site shifted by `k` elements along the vectorised group. */
  shifted(k: number): RowSite {
    return new RowSite(this.fn, this.streams, this.ptr, this.vg, this.coord, this.paramOf, this.varies, this.laneOffset + k, this.extra, this.inside);
  }

  /** The masks of a load this site tests. */
  private masksOf(p: LoadPlan): LoadPlan['masks'] {
    return this.inside.size ? p.masks.filter((k) => !this.inside.has(k.g)) : p.masks;
  }

  private planOf(e: LoadExpr): LoadPlan {
    const p = this.streams.loads.get(e);
    if (!p) throw new Error('wasm: load without a plan');
    return p;
  }

  /** i32 coordinate of group g for lane t. */
  private laneCoord(g: number, t: number): Ref {
    const k = g === this.vg ? this.laneOffset + t : 0;
    return addConst(this.fn, this.coord(g), k);
  }

  /**
   * Scalar in-range test of the load's masks for lane t, or null when unmasked. On the gathered axis
   * the mask tests the gathered index (as the cpu reference does), given by `idxLane`.
   */
  private inRange(p: LoadPlan, t: number, idxLane: (t: number) => Ref | null): Ref | null {
    const m = this.fn.m;
    let ok: Ref | null = null;
    for (const { g, lo, hi } of this.masksOf(p)) {
      const gi = p.gather && g === p.gather.g ? idxLane(t) : null;
      const cl = this.fn.let(this.fn.b.i32, gi ?? this.laneCoord(g, t));
      const test = m.i32.and(m.i32.ge_s(this.fn.get(cl), m.i32.const(lo)), m.i32.lt_s(this.fn.get(cl), m.i32.const(hi)));
      ok = ok === null ? test : m.i32.and(ok, test);
    }
    return ok;
  }

  /**
   * Address of lane t (scalar element), with the gather index term when given, as base + constant
   * (non-negative constants go in the access's offset immediate: no add instruction).
   */
  private laneAddr(p: LoadPlan, t: number, idx: Ref | null): Addr {
    const s = p.stream;
    const sv = this.vg >= 0 ? s.strides[this.vg] : 0;
    let a = split(this.fn, this.fn.get(this.ptr(s)), (this.laneOffset + t) * sv * s.esize + this.extra(s));
    if (p.gather && idx !== null) a = { ref: this.fn.m.i32.add(a.ref, this.fn.m.i32.mul(idx, this.fn.m.i32.const(p.gather.stride * s.esize))), off: a.off };
    return a;
  }

  load(e: LoadExpr, L: Lowerer): Value {
    const c = L.c;
    const fn = this.fn;
    const m = fn.m;
    const p = this.planOf(e);
    // Every gathered index is checked, even where the load reads only padding.
    const idx = p.gather ? checkedIndex(c, toI(c, L.lower(p.gather.index)), p.gather.site) : null;
    if (p.zero) return constValue(c, 0, e.dtype);
    const safe = () => fn.get(this.paramOf(e.input));
    const wrap = (r: Ref): Value => (e.dtype === 'float32' ? { dt: 'float32', v: c.f(r) } : e.dtype === 'int32' ? { dt: 'int32', v: c.i(r) } : { dt: 'bool', v: c.i(r) });
    const idxLane = (t: number): Ref | null => (idx ? c.laneI(idx, t) : null);
    /** Lane t's element as a scalar (gather index `idxT`): 0 where a tested mask is off, read from the safe address. */
    const scalarAt = (t: number, idxT: Ref | null): Ref => {
      const a = this.laneAddr(p, t, idxT);
      const ok = this.inRange(p, t, idxLane);
      if (ok === null) return loadScalar(fn, e.dtype, a.ref, a.off);
      const okl = fn.let(fn.b.i32, ok);
      const raw = loadScalar(fn, e.dtype, m.select(fn.get(okl), joined(fn, a), safe()));
      return m.select(fn.get(okl), raw, e.dtype === 'float32' ? m.f32.const(0) : m.i32.const(0));
    };
    if (c.w === 1) return wrap(scalarAt(0, idx ? idx.r : null));
    // SIMD: contiguous / reversed v128 access when only lane-invariant parts are masked or gathered.
    const sv = this.vg >= 0 ? p.stream.strides[this.vg] : 0;
    const laneFree = !this.masksOf(p).some((k) => k.g === this.vg) && (!p.gather || (p.gather.g !== this.vg && !this.varies(p.gather.index)));
    if (laneFree && (sv === 1 || sv === -1)) {
      const idx0 = idx ? c.laneI(idx, 0) : null;
      const a = this.laneAddr(p, sv === 1 ? 0 : 3, idx0);
      const ok = this.inRange(p, 0, idxLane);
      if (ok === null) {
        const v = loadVector(fn, e.dtype, a.ref, a.off);
        return wrap(sv === 1 ? v : reverseLanes(fn, v));
      }
      const okl = fn.let(fn.b.i32, ok);
      const addr = m.select(fn.get(okl), joined(fn, a), safe());
      let v = loadVector(fn, e.dtype, addr);
      if (sv === -1) v = reverseLanes(fn, v);
      return wrap(m.v128.and(v, m.i32x4.splat(m.i32.sub(m.i32.const(0), fn.get(okl)))));
    }
    // The same element in every lane (a broadcast along the walk, such as pad's mask of a scalar in
    // the interior of a padded row): one scalar load, splat.
    if (laneFree && sv === 0) {
      const r = scalarAt(0, idxLane(0));
      return e.dtype === 'float32' ? { dt: 'float32', v: c.f(m.f32x4.splat(r)) } : wrap(m.i32x4.splat(r));
    }
    // Every other element (a stride-2 window walk): two overlapping vectors and a shuffle, reading
    // nothing outside the four lanes' span (unmasked only: a masked-off read goes to the buffer's start).
    if (laneFree && (sv === 2 || sv === -2) && e.dtype !== 'bool' && !this.masksOf(p).length) {
      const a = this.laneAddr(p, sv === 2 ? 0 : 3, idx ? c.laneI(idx, 0) : null);
      const base = fn.let(fn.b.i32, joined(fn, a));
      // Elements 0..3 and 3..6 from the lowest address: lanes 0, 2, 4, 6 upward, or reversed.
      const pick = sv === 2 ? [0, 8, 20, 28] : [28, 20, 8, 0];
      return wrap(m.i8x16.shuffle(m.v128.load(0, 4, fn.get(base)), m.v128.load(12, 4, fn.get(base)), pick.flatMap((b0) => [b0, b0 + 1, b0 + 2, b0 + 3])));
    }
    // Lane by lane: strided, inner-masked or inner-gathered.
    const lanes: Ref[] = [];
    for (let t = 0; t < 4; t++) lanes.push(scalarAt(t, idxLane(t)));
    return e.dtype === 'float32' ? { dt: 'float32', v: c.fromLanesF(lanes) } : wrap(c.fromLanesI(lanes).r);
  }

  /** Stores `x` (as `dt`) through stream `s` at the current position. */
  store(c: Lanes, s: Stream, x: Value, dt: DType): void {
    const fn = this.fn;
    const sv = this.vg >= 0 ? s.strides[this.vg] : 0;
    const at = (t: number) => split(fn, fn.get(this.ptr(s)), (this.laneOffset + t) * sv * s.esize + this.extra(s));
    if (c.w === 1 || sv === 1) { const a = at(0); fn.emit(storeValue(c, a.ref, x, dt, a.off)); return; }
    // Materialise once, then store each lane (strided or reversed output views).
    const v = castTo(c, x, dt);
    for (let t = 0; t < 4; t++) { const a = at(t); fn.emit(storeLane(c, a.ref, v, dt, t, a.off)); }
  }
}

/**
 * A gathered index checked against its site's extent: lanes outside 0..size-1 become 0 (so the load
 * stays inside the tensor) and the first one is recorded at INDEX_ERROR_ADDR for the backend to raise.
 */
function checkedIndex(c: Lanes, idx: I, site: IndexSite): I {
  const fn = c.fn;
  const m = c.m;
  const record = (value: Ref) => {
    const at = () => m.i32.const(INDEX_ERROR_ADDR);
    const v = fn.let(fn.b.i32, value);
    fn.if(m.i32.eqz(m.i32.load(0, 4, at())), () => {
      fn.emit(m.i32.store(0, 4, at(), m.i32.const(1)), m.i32.store(4, 4, at(), fn.get(v)), m.i32.store(8, 4, at(), m.i32.const(opCode(site.op))),
        m.i32.store(12, 4, at(), m.i32.const(site.axis)), m.i32.store(16, 4, at(), m.i32.const(site.size)));
    });
  };
  if (c.w === 1) {
    const ok = fn.let(fn.b.i32, m.i32.lt_u(idx.r, m.i32.const(site.size)));
    fn.if(m.i32.eqz(fn.get(ok)), () => record(idx.r));
    return c.i(m.select(fn.get(ok), idx.r, m.i32.const(0)));
  }
  const ok = c.mask(m.i32x4.lt_u(idx.r, c.iconstRef(site.size)));
  fn.if(m.i32.eqz(m.i32x4.all_true(ok.r)), () => {
    for (let l = 0; l < 4; l++) fn.if(m.i32.eqz(c.laneI(ok, l)), () => record(c.laneI(idx, l)));
  });
  return c.i(m.v128.and(idx.r, ok.r));
}

/** Reverses the four 32-bit lanes of a v128. */
function reverseLanes(fn: Fn, v: Ref): Ref {
  const t = fn.let(fn.b.v128, v);
  return fn.m.i8x16.shuffle(fn.get(t), fn.get(t), [12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3]);
}

/** Options of a vectorised walk along one group of compile-time length. */
export interface RowWalk {
  readonly length: number;
  /** Streams that move along the walked group (their pointers are copied and bumped). */
  readonly streams: readonly Stream[];
  readonly vg: number;
  /** Vectors per loop iteration (independent bodies, e.g. separate accumulators). */
  readonly unroll: number;
  /** Runs `flush` every `iters` iterations of the main loop (blocked summation). */
  readonly flushEvery?: { readonly iters: number; readonly flush: () => void };
  /** Body for SIMD vector u of an iteration (site already shifted by 4u). */
  readonly simd: (site: RowSite, u: number) => void;
  /** Body for one scalar tail element (site shifted to it). */
  readonly scalar: (site: RowSite) => void;
  /**
   * Addresses (locals, bytes) of data the next row will stream in: each main-loop iteration touches
   * the next 16 * unroll bytes with a dropped load, so that memory arrives while this row computes.
   */
  readonly prefetch?: readonly number[];
  /** Coordinate along the group where the walk starts (`length` elements from there; default 0). */
  readonly start?: number;
}

/**
 * Emits the walk along the vectorised group from the pointers `ptr` (not modified): a SIMD loop
 * (`unroll` vectors per iteration), leftover vectors, then up to 3 scalar elements.
 * `makeSite(ptrOf, coord)` builds the site for the walk's pointers and coordinate.
 */
export function walkRow(fn: Fn, w: RowWalk, ptr: (s: Stream) => number,
  makeSite: (ptrOf: (s: Stream) => number, vcoord: () => Ref) => RowSite): void {
  const m = fn.m;
  const i32 = fn.b.i32;
  const nv = Math.floor(w.length / 4);
  const tail = w.length % 4;
  const iters = Math.floor(nv / w.unroll);
  const rem = nv % w.unroll;
  const moving = w.streams.filter((s) => s.strides[w.vg] !== 0);
  const q = new Map<Stream, number>();
  const start = w.start ?? 0;
  for (const s of moving) q.set(s, fn.let(i32, addConst(fn, fn.get(ptr(s)), start * s.strides[w.vg] * s.esize)));
  const j = fn.let(i32, m.i32.const(start));
  const ptrOf = (s: Stream) => q.get(s) ?? ptr(s);
  const site = makeSite(ptrOf, () => fn.get(j));
  const bump = (elems: number) => {
    for (const s of moving) fn.set(q.get(s)!, addConst(fn, fn.get(q.get(s)!), elems * s.strides[w.vg] * s.esize));
    fn.set(j, addConst(fn, fn.get(j), elems));
  };
  const pf = (w.prefetch ?? []).map((p) => fn.let(i32, fn.get(p)));
  const iteration = () => {
    fn.interleave(w.unroll, (u) => w.simd(site.shifted(4 * u), u));
    for (const p of pf) {
      // NOTE: the load's value is dropped, but neither binaryen nor V8 removes a load that may trap.
      fn.emit(m.drop(m.v128.load(0, 16, fn.get(p))));
      fn.set(p, addConst(fn, fn.get(p), 16 * w.unroll));
    }
    bump(4 * w.unroll);
  };
  if (iters > 0) {
    const f = w.flushEvery;
    if (f && iters > f.iters) {
      const blocks = Math.floor(iters / f.iters);
      fn.repeat(blocks, () => {
        fn.repeat(f.iters, iteration);
        f.flush();
      });
      fn.repeat(iters % f.iters, iteration);
    } else fn.repeat(iters, iteration);
  }
  fn.interleave(rem, (u) => w.simd(site.shifted(4 * u), u));
  if (rem) bump(4 * rem);
  for (let t = 0; t < tail; t++) w.scalar(site.shifted(t));
}

/**
 * The outer loop over rows [start, end) of `groups` (row-major): coordinates from `start` by div/mod
 * once, stream pointers set from them, then per row `body()` and an odometer step that bumps
 * pointers and carries. Returns the coordinate locals.
 */
export function rowLoop(fn: Fn, groups: readonly Group[], streams: readonly Stream[], rowPtr: Map<Stream, number>,
  start: Ref, end: () => Ref, body: (coords: number[], row: number) => void): void {
  const m = fn.m;
  const i32 = fn.b.i32;
  const coords = groups.map(() => fn.local(i32));
  const r = fn.let(i32, start);
  let stride = 1;
  for (let g = groups.length - 1; g >= 0; g--) {
    const q = stride === 1 ? fn.get(r) : m.i32.div_u(fn.get(r), m.i32.const(stride));
    fn.set(coords[g], g === 0 ? q : m.i32.rem_u(q, m.i32.const(groups[g].size)));
    stride *= groups[g].size;
  }
  for (const s of streams) {
    let a = addConst(fn, fn.get(s.param), s.offset * s.esize);
    groups.forEach((_, g) => {
      const k = s.strides[g] * s.esize;
      if (k !== 0) a = m.i32.add(a, m.i32.mul(fn.get(coords[g]), m.i32.const(k)));
    });
    fn.set(rowPtr.get(s)!, a);
  }
  const L = fn.label('row');
  const loop = m.loop(L, fn.block(() => {
    body(coords, r);
    fn.set(r, m.i32.add(fn.get(r), m.i32.const(1)));
    // Odometer: bump the last coordinate, carry into earlier ones.
    const step = (g: number): void => {
      if (g < 0) return;
      fn.set(coords[g], m.i32.add(fn.get(coords[g]), m.i32.const(1)));
      for (const s of streams) {
        const k = s.strides[g] * s.esize;
        if (k) fn.set(rowPtr.get(s)!, addConst(fn, fn.get(rowPtr.get(s)!), k));
      }
      if (g === 0) return;
      fn.if(m.i32.eq(fn.get(coords[g]), m.i32.const(groups[g].size)), () => {
        fn.set(coords[g], m.i32.const(0));
        for (const s of streams) {
          const k = s.strides[g] * s.esize * groups[g].size;
          if (k) fn.set(rowPtr.get(s)!, addConst(fn, fn.get(rowPtr.get(s)!), -k));
        }
        step(g - 1);
      });
    };
    step(groups.length - 1);
    fn.emit(m.br(L, m.i32.lt_s(fn.get(r), end())));
  }));
  fn.emit(m.if(m.i32.lt_s(fn.get(r), end()), loop));
}

/**
 * Nested full loops over `groups` (compile-time sizes) moving copies of the stream pointers; calls
 * `body(ptrOf, coords)` at each point. Used for the non-vectorised inner dims of reductions.
 */
export function nestLoops(fn: Fn, groups: readonly { size: number; g: number }[], streams: readonly Stream[],
  ptr: (s: Stream) => number, body: (ptrOf: (s: Stream) => number, coord: (g: number) => Ref | null) => void): void {
  const m = fn.m;
  const i32 = fn.b.i32;
  const coordLocals = new Map<number, number>();
  const rec = (level: number, ptrOf: (s: Stream) => number): void => {
    if (level === groups.length) {
      body(ptrOf, (g) => (coordLocals.has(g) ? fn.get(coordLocals.get(g)!) : null));
      return;
    }
    const { size, g } = groups[level];
    const moving = streams.filter((s) => s.strides[g] !== 0);
    const q = new Map<Stream, number>();
    for (const s of moving) q.set(s, fn.let(i32, fn.get(ptrOf(s))));
    const k = fn.let(i32, m.i32.const(0));
    coordLocals.set(g, k);
    const inner = (s: Stream) => q.get(s) ?? ptrOf(s);
    const L = fn.label('nest');
    fn.emit(m.loop(L, fn.block(() => {
      rec(level + 1, inner);
      for (const s of moving) fn.set(q.get(s)!, addConst(fn, fn.get(q.get(s)!), s.strides[g] * s.esize));
      fn.set(k, m.i32.add(fn.get(k), m.i32.const(1)));
      fn.emit(m.br(L, m.i32.lt_s(fn.get(k), m.i32.const(size))));
    })));
  };
  rec(0, ptr);
}
