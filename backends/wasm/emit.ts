// wasm backend: the function builder every kernel template writes through, and a tiny value DSL
// (F / I / M lanes) that emits the same arithmetic as scalar f32/i32 or as f32x4/i32x4 SIMD.
// Every intermediate value lives in its own local (SSA style); binaryen's optimizer folds
// single-use locals back into expression trees, so templates can be written plainly.
import type binaryen from 'binaryen';

export type Binaryen = typeof binaryen;
export type Module = binaryen.Module;
export type Ref = binaryen.ExpressionRef;
export type WType = binaryen.Type;

/** Lanes per value: 1 = scalar f32/i32, 4 = v128 (f32x4 / i32x4). */
export type Width = 1 | 4;

/** Builds one function: locals, a stack of statement lists, unique labels. */
export class Fn {
  private readonly vars: WType[] = [];
  private readonly stack: Ref[][] = [[]];
  private labels = 0;

  /**
   * `fma`: the module enables relaxed SIMD, so F.madd fuses (see features.ts); templates call madd
   * only where either rounding is correct.
   */
  constructor(readonly b: Binaryen, readonly m: Module, readonly params: readonly WType[], readonly fma = false) {}

  /** A fresh local of type `t`. */
  local(t: WType): number {
    this.vars.push(t);
    return this.params.length + this.vars.length - 1;
  }

  typeOf(idx: number): WType {
    return idx < this.params.length ? this.params[idx] : this.vars[idx - this.params.length];
  }

  get(idx: number): Ref {
    return this.m.local.get(idx, this.typeOf(idx));
  }

  set(idx: number, v: Ref): void {
    this.emit(this.m.local.set(idx, v));
  }

  /** Stores `v` in a fresh local and returns its index. */
  let(t: WType, v: Ref): number {
    const l = this.local(t);
    this.set(l, v);
    return l;
  }

  emit(...stmts: Ref[]): void {
    this.stack[this.stack.length - 1].push(...stmts);
  }

  /** Runs `body`, capturing what it emits as a block. */
  block(body: () => void): Ref {
    this.stack.push([]);
    body();
    const stmts = this.stack.pop()!;
    return stmts.length === 1 ? stmts[0] : this.m.block(null, stmts);
  }

  /**
   * Runs `body(u)` for u = 0..n-1 and emits their statements round-robin, so n independent copies
   * (unrolled SIMD vectors) sit side by side and the CPU overlaps their dependency chains.
   */
  interleave(n: number, body: (u: number) => void): void {
    const lists: Ref[][] = [];
    for (let u = 0; u < n; u++) {
      this.stack.push([]);
      body(u);
      lists.push(this.stack.pop()!);
    }
    const longest = Math.max(0, ...lists.map((l) => l.length));
    for (let i = 0; i < longest; i++) for (const l of lists) if (i < l.length) this.emit(l[i]);
  }

  label(prefix: string): string {
    return `${prefix}${this.labels++}`;
  }

  /** `if (cond) then else otherwise`. */
  if(cond: Ref, then: () => void, otherwise?: () => void): void {
    const t = this.block(then);
    this.emit(otherwise ? this.m.if(cond, t, this.block(otherwise)) : this.m.if(cond, t));
  }

  /**
   * `for (i = start; i < end; i += step) body` over i32 counters (signed compare).
   * `nonEmpty` skips the entry guard when the caller knows the range is non-empty.
   */
  forRange(i: number, start: Ref, end: () => Ref, step: number, body: () => void, nonEmpty = false): void {
    const m = this.m;
    const L = this.label('L');
    this.set(i, start);
    const loop = m.loop(L, this.block(() => {
      body();
      this.set(i, m.i32.add(this.get(i), m.i32.const(step)));
      this.emit(m.br(L, m.i32.lt_s(this.get(i), end())));
    }));
    this.emit(nonEmpty ? loop : m.if(m.i32.lt_s(this.get(i), end()), loop));
  }

  /** A loop running `body` exactly `count` times (count known at compile time, may be 0). */
  repeat(count: number, body: (counter: number) => void): void {
    if (count <= 0) return;
    if (count === 1) { body(-1); return; }
    const c = this.local(this.b.i32);
    this.forRange(c, this.m.i32.const(0), () => this.m.i32.const(count), 1, () => body(c), true);
  }

  /** The function's body (all statements emitted at the top level). */
  body(): Ref {
    if (this.stack.length !== 1) throw new Error('wasm emit: unbalanced statement stack');
    return this.m.block(null, this.stack[0]);
  }

  /** Adds the function to the module (and exports it under the same name when `exported`). */
  finish(name: string, result: WType = this.b.none, exported = true): void {
    this.m.addFunction(name, this.b.createType([...this.params]), result, this.vars, this.body());
    if (exported) this.m.addFunctionExport(name, name);
  }
}

/** Bytes of a v128 constant with four equal f32 lanes. */
function f32x4Bytes(x: number): number[] {
  const f = new Float32Array([x, x, x, x]);
  return Array.from(new Uint8Array(f.buffer));
}
function i32x4Bytes(x: number): number[] {
  const f = new Int32Array([x, x, x, x]);
  return Array.from(new Uint8Array(f.buffer));
}

/** A value in a local: float lanes (F), int lanes (I) or a lane mask (M). */
abstract class Val {
  constructor(readonly c: Lanes, readonly idx: number) {}
  /** A fresh `local.get` of this value (refs may be used once only). */
  get r(): Ref {
    return this.c.fn.get(this.idx);
  }
}

type FArg = F | number;
type IArg = I | number;

/** Float lanes (f32 or f32x4). */
export class F extends Val {
  readonly kind = 'f';
  add(o: FArg): F { return this.c.fbin('add', this, o); }
  sub(o: FArg): F { return this.c.fbin('sub', this, o); }
  mul(o: FArg): F { return this.c.fbin('mul', this, o); }
  div(o: FArg): F { return this.c.fbin('div', this, o); }
  /** this * o + c: one fused relaxed-SIMD instruction where the module allows it, else mul then add. */
  madd(o: FArg, c: FArg): F { return this.c.madd(this, o, c, false); }
  /** c - this * o, fused like madd. */
  nmadd(o: FArg, c: FArg): F { return this.c.madd(this, o, c, true); }
  /** NaN-propagating min/max (IEEE minimum/maximum as JS Math.min/max). */
  min(o: FArg): F { return this.c.fbin('min', this, o); }
  max(o: FArg): F { return this.c.fbin('max', this, o); }
  /** `o < this ? o : this`: one instruction; NaN in `this` passes through, NaN in `o` does not. */
  pmin(o: FArg): F { return this.c.pminmax('pmin', this, o); }
  /** `this < o ? o : this`: one instruction; NaN in `this` passes through, NaN in `o` does not. */
  pmax(o: FArg): F { return this.c.pminmax('pmax', this, o); }
  abs(): F { return this.c.fun('abs', this); }
  neg(): F { return this.c.fun('neg', this); }
  sqrt(): F { return this.c.fun('sqrt', this); }
  floor(): F { return this.c.fun('floor', this); }
  ceil(): F { return this.c.fun('ceil', this); }
  trunc(): F { return this.c.fun('trunc', this); }
  /** Round half to even. */
  nearest(): F { return this.c.fun('nearest', this); }
  /** |this| with the sign of `o`. */
  copysign(o: F): F { return this.c.copysign(this, o); }
  lt(o: FArg): M { return this.c.fcmp('lt', this, o); }
  le(o: FArg): M { return this.c.fcmp('le', this, o); }
  gt(o: FArg): M { return this.c.fcmp('gt', this, o); }
  ge(o: FArg): M { return this.c.fcmp('ge', this, o); }
  eq(o: FArg): M { return this.c.fcmp('eq', this, o); }
  ne(o: FArg): M { return this.c.fcmp('ne', this, o); }
  /** The IEEE bits as int lanes. */
  bits(): I { return this.c.bitsOf(this); }
  /** Truncates toward zero, saturating; NaN -> 0. */
  truncSat(): I { return this.c.truncSat(this); }
}

/** Int lanes (i32 or i32x4). */
export class I extends Val {
  readonly kind = 'i';
  add(o: IArg): I { return this.c.ibin('add', this, o); }
  sub(o: IArg): I { return this.c.ibin('sub', this, o); }
  mul(o: IArg): I { return this.c.ibin('mul', this, o); }
  and(o: IArg): I { return this.c.ibin('and', this, o); }
  or(o: IArg): I { return this.c.ibin('or', this, o); }
  xor(o: IArg): I { return this.c.ibin('xor', this, o); }
  min(o: IArg): I { return this.c.ibin('min', this, o); }
  max(o: IArg): I { return this.c.ibin('max', this, o); }
  neg(): I { return this.c.ineg(this); }
  abs(): I { return this.c.iabs(this); }
  shl(k: number): I { return this.c.ishift('shl', this, k); }
  shrS(k: number): I { return this.c.ishift('shr_s', this, k); }
  shrU(k: number): I { return this.c.ishift('shr_u', this, k); }
  eq(o: IArg): M { return this.c.icmp('eq', this, o); }
  ne(o: IArg): M { return this.c.icmp('ne', this, o); }
  lt(o: IArg): M { return this.c.icmp('lt_s', this, o); }
  le(o: IArg): M { return this.c.icmp('le_s', this, o); }
  gt(o: IArg): M { return this.c.icmp('gt_s', this, o); }
  ge(o: IArg): M { return this.c.icmp('ge_s', this, o); }
  /** Reinterprets the bits as float lanes. */
  asFloat(): F { return this.c.floatOfBits(this); }
  /** Converts to float (signed). */
  toFloat(): F { return this.c.convert(this); }
  /** Nonzero lanes as a mask. */
  nonzero(): M { return this.c.nonzero(this); }
}

/** A lane mask: scalar i32 0/1, or v128 lanes of all ones / zero. */
export class M extends Val {
  readonly kind = 'm';
  and(o: M): M { return this.c.mbin('and', this, o); }
  or(o: M): M { return this.c.mbin('or', this, o); }
  /** this & !o */
  andNot(o: M): M { return this.c.mbin('andnot', this, o); }
  not(): M { return this.c.mnot(this); }
  /** Lanes as int 0/1. */
  to01(): I { return this.c.maskTo01(this); }
}

type FBin = 'add' | 'sub' | 'mul' | 'div' | 'min' | 'max';
type FUn = 'abs' | 'neg' | 'sqrt' | 'floor' | 'ceil' | 'trunc' | 'nearest';
type Cmp = 'lt' | 'le' | 'gt' | 'ge' | 'eq' | 'ne';
type IBin = 'add' | 'sub' | 'mul' | 'and' | 'or' | 'xor' | 'min' | 'max';
type ICmp = 'eq' | 'ne' | 'lt_s' | 'le_s' | 'gt_s' | 'ge_s';

/** binaryen's C API for relaxed SIMD ternaries (its JS wrapper has no methods for them). */
export interface RelaxedApi {
  _BinaryenSIMDTernary(module: number, op: number, a: Ref, b: Ref, c: Ref): Ref;
  _BinaryenRelaxedMaddVecF32x4(): number;
  _BinaryenRelaxedNmaddVecF32x4(): number;
}

/** Emits lane arithmetic of one width into a function. */
export class Lanes {
  readonly m: Module;
  readonly b: Binaryen;
  constructor(readonly fn: Fn, readonly w: Width) {
    this.m = fn.m;
    this.b = fn.b;
  }

  private get ft(): WType { return this.w === 1 ? this.b.f32 : this.b.v128; }
  private get it(): WType { return this.w === 1 ? this.b.i32 : this.b.v128; }

  // ---- construction -------------------------------------------------------------------------

  /** Wraps an expression producing float lanes in a fresh local. */
  f(r: Ref): F { return new F(this, this.fn.let(this.ft, r)); }
  i(r: Ref): I { return new I(this, this.fn.let(this.it, r)); }
  mask(r: Ref): M { return new M(this, this.fn.let(this.it, r)); }
  /** Views an existing local as a value (no copy). */
  fAt(idx: number): F { return new F(this, idx); }
  iAt(idx: number): I { return new I(this, idx); }

  fconstRef(x: number): Ref {
    return this.w === 1 ? this.m.f32.const(x) : this.m.v128.const(f32x4Bytes(x));
  }
  iconstRef(x: number): Ref {
    return this.w === 1 ? this.m.i32.const(x | 0) : this.m.v128.const(i32x4Bytes(x | 0));
  }
  fconst(x: number): F { return this.f(this.fconstRef(x)); }
  iconst(x: number): I { return this.i(this.iconstRef(x)); }

  /** Broadcasts a scalar f32 / i32 expression to this width. */
  splatF(r: Ref): F { return this.f(this.w === 1 ? r : this.m.f32x4.splat(r)); }
  splatI(r: Ref): I { return this.i(this.w === 1 ? r : this.m.i32x4.splat(r)); }

  private fref(x: FArg): Ref { return typeof x === 'number' ? this.fconstRef(x) : x.r; }
  private iref(x: IArg): Ref { return typeof x === 'number' ? this.iconstRef(x) : x.r; }

  // ---- float ---------------------------------------------------------------------------------

  fbin(op: FBin, a: F, b: FArg): F {
    const ns = this.w === 1 ? this.m.f32 : this.m.f32x4;
    return this.f(ns[op](a.r, this.fref(b)));
  }

  /**
   * a*b + c (or c - a*b): relaxed_madd/nmadd when the function allows FMA; the scalar form goes
   * through lane 0 of the vector instruction so SIMD lanes and scalar tails round alike.
   */
  madd(a: F, b: FArg, c: FArg, negate: boolean): F {
    if (!this.fn.fma) {
      const p = this.fbin('mul', a, b);
      return negate ? this.fbin('sub', typeof c === 'number' ? this.fconst(c) : c, p) : this.fbin('add', p, c);
    }
    const api = this.b as unknown as RelaxedApi;
    const op = negate ? api._BinaryenRelaxedNmaddVecF32x4() : api._BinaryenRelaxedMaddVecF32x4();
    const v4 = (x: FArg) => (this.w === 4 ? this.fref(x) : this.m.f32x4.splat(this.fref(x)));
    const r = api._BinaryenSIMDTernary(this.m.ptr, op, v4(a), v4(b), v4(c));
    return this.f(this.w === 4 ? r : this.m.f32x4.extract_lane(r, 0));
  }

  pminmax(op: 'pmin' | 'pmax', a: F, b: FArg): F {
    if (this.w === 4) return this.f(this.m.f32x4[op](a.r, this.fref(b)));
    const y = typeof b === 'number' ? this.fconst(b) : b;
    const take = op === 'pmin' ? this.m.f32.lt(y.r, a.r) : this.m.f32.lt(a.r, y.r);
    return this.f(this.m.select(take, y.r, a.r));
  }

  fun(op: FUn, a: F): F {
    const ns = this.w === 1 ? this.m.f32 : this.m.f32x4;
    return this.f(ns[op](a.r));
  }

  copysign(a: F, s: F): F {
    if (this.w === 1) return this.f(this.m.f32.copysign(a.r, s.r));
    return this.f(this.m.v128.bitselect(s.r, a.r, this.iconstRef(0x80000000 | 0)));
  }

  fcmp(op: Cmp, a: F, b: FArg): M {
    const ns = this.w === 1 ? this.m.f32 : this.m.f32x4;
    return this.mask(ns[op](a.r, this.fref(b)));
  }

  bitsOf(a: F): I { return this.i(this.w === 1 ? this.m.i32.reinterpret(a.r) : a.r); }
  floatOfBits(a: I): F { return this.f(this.w === 1 ? this.m.f32.reinterpret(a.r) : a.r); }
  convert(a: I): F { return this.f(this.w === 1 ? this.m.f32.convert_s.i32(a.r) : this.m.f32x4.convert_i32x4_s(a.r)); }
  truncSat(a: F): I { return this.i(this.w === 1 ? this.m.i32.trunc_s_sat.f32(a.r) : this.m.i32x4.trunc_sat_f32x4_s(a.r)); }

  // ---- int -----------------------------------------------------------------------------------

  ibin(op: IBin, a: I, b: IArg): I {
    const m = this.m;
    const br = this.iref(b);
    if (this.w === 1) {
      if (op === 'min' || op === 'max') {
        const y = this.i(br);
        return this.i(m.select(op === 'min' ? m.i32.lt_s(a.r, y.r) : m.i32.gt_s(a.r, y.r), a.r, y.r));
      }
      return this.i(m.i32[op](a.r, br));
    }
    switch (op) {
      case 'add': case 'sub': case 'mul': return this.i(m.i32x4[op](a.r, br));
      case 'min': return this.i(m.i32x4.min_s(a.r, br));
      case 'max': return this.i(m.i32x4.max_s(a.r, br));
      case 'and': case 'or': case 'xor': return this.i(m.v128[op](a.r, br));
    }
  }

  ineg(a: I): I { return this.i(this.w === 1 ? this.m.i32.sub(this.m.i32.const(0), a.r) : this.m.i32x4.neg(a.r)); }

  iabs(a: I): I {
    if (this.w === 4) return this.i(this.m.i32x4.abs(a.r));
    const n = this.ineg(a);
    return this.i(this.m.select(this.m.i32.lt_s(a.r, this.m.i32.const(0)), n.r, a.r));
  }

  ishift(op: 'shl' | 'shr_s' | 'shr_u', a: I, k: number): I {
    if (this.w === 1) return this.i(this.m.i32[op](a.r, this.m.i32.const(k)));
    return this.i(this.m.i32x4[op](a.r, this.m.i32.const(k)));
  }

  icmp(op: ICmp, a: I, b: IArg): M {
    const ns = this.w === 1 ? this.m.i32 : this.m.i32x4;
    return this.mask(ns[op](a.r, this.iref(b)));
  }

  nonzero(a: I): M {
    return this.mask(this.w === 1 ? this.m.i32.ne(a.r, this.m.i32.const(0)) : this.m.i32x4.ne(a.r, this.iconstRef(0)));
  }

  // ---- masks ---------------------------------------------------------------------------------

  mbin(op: 'and' | 'or' | 'andnot', a: M, b: M): M {
    if (this.w === 4) return this.mask(this.m.v128[op](a.r, b.r));
    if (op === 'andnot') return this.mask(this.m.i32.and(a.r, this.m.i32.xor(b.r, this.m.i32.const(1))));
    return this.mask(this.m.i32[op](a.r, b.r));
  }

  mnot(a: M): M {
    return this.mask(this.w === 1 ? this.m.i32.xor(a.r, this.m.i32.const(1)) : this.m.v128.not(a.r));
  }

  maskTo01(a: M): I { return this.i(this.w === 1 ? a.r : this.m.i32x4.neg(a.r)); }

  /** True when any lane of the mask is set (scalar i32 expression). */
  anyTrue(a: M): Ref { return this.w === 1 ? a.r : this.m.v128.any_true(a.r); }
  /** True when every lane of the mask is set (scalar i32 expression). */
  allTrue(a: M): Ref { return this.w === 1 ? a.r : this.m.i32x4.all_true(a.r); }

  /** `mask ? a : b` lane-wise. */
  sel<T extends F | I>(mask: M, a: T | number, b: T | number): T {
    const isF = (a instanceof F) || (b instanceof F);
    const ar = typeof a === 'number' ? (isF ? this.fconstRef(a) : this.iconstRef(a)) : a.r;
    const br = typeof b === 'number' ? (isF ? this.fconstRef(b) : this.iconstRef(b)) : b.r;
    const r = this.w === 1 ? this.m.select(mask.r, ar, br) : this.m.v128.bitselect(ar, br, mask.r);
    return (isF ? this.f(r) : this.i(r)) as T;
  }

  // ---- lanes ---------------------------------------------------------------------------------

  /** Scalar f32 expression of lane `l` of float lanes (identity at width 1). */
  laneF(a: F, l: number): Ref { return this.w === 1 ? a.r : this.m.f32x4.extract_lane(a.r, l); }
  laneI(a: I | M, l: number): Ref { return this.w === 1 ? a.r : this.m.i32x4.extract_lane(a.r, l); }

  /** Builds float lanes from per-lane scalar f32 expressions. */
  fromLanesF(lanes: Ref[]): F {
    if (this.w === 1) return this.f(lanes[0]);
    let v = this.m.f32x4.splat(lanes[0]);
    for (let l = 1; l < 4; l++) v = this.m.f32x4.replace_lane(v, l, lanes[l]);
    return this.f(v);
  }
  fromLanesI(lanes: Ref[]): I {
    if (this.w === 1) return this.i(lanes[0]);
    let v = this.m.i32x4.splat(lanes[0]);
    for (let l = 1; l < 4; l++) v = this.m.i32x4.replace_lane(v, l, lanes[l]);
    return this.i(v);
  }
}

/** Horner evaluation c[0] + x*(c[1] + x*(c[2] + ...)) (coefficients in ascending order). */
export function horner(x: F, c: readonly number[]): F {
  let acc = x.c.fconst(c[c.length - 1]);
  for (let i = c.length - 2; i >= 0; i--) acc = acc.madd(x, c[i]);
  return acc;
}
