// wasm backend: the matmul template. B is packed per batch into K x 8 panels (zero padded past N, any
// strides or masks), A is read in place (4 rows at constant offsets, any k stride) or materialised
// when masked or flipped along m. A 4x8 register tile (8 f32x4 accumulators, broadcast-loaded A)
// runs the full K; the epilogue (bias, activation, residual ... as an expression of acc0) is applied
// to the tile's accumulators and stored through the output view. The epilogue is a function of its
// own, called once per tile with the accumulators: inlined into the tile, its loads and temporaries
// made V8 spill the k-loop's accumulators (a batch-norm epilogue doubled a conv's time). What the
// epilogue reads the same across an output row (a conv's bias, batch-norm scale and shift) is
// computed once per row as scalars and broadcast. Column blocks keep B panels in L2.
// A split B (implicit GEMM: a convolution's window view, rows and columns each decoding into several
// dims) is packed from a table of row offsets and each panel's column offsets; a panel whose 8
// columns are consecutive in memory (a run along an output row) copies two vectors per row. Bounds
// (padding seen through the window) are sums of a row part (in the table) and a column part: a panel
// row inside every bound is copied as vectors, one touching the padding as vectors with lane masks
// (a panel of scattered columns element by element). A 3×3 stride-1 convolution runs by Winograd
// (winograd.ts), its outputs passed to the same epilogue; the direct path stays as its fallback.
import type { Expr, MatmulKernel, View } from '../../src/core/kernel.js';
import { contiguousView } from '../../src/core/kernel.js';
import { sizeOf } from '../../src/core/shape.js';
import type { Fn, Ref } from './emit.js';
import { Lanes } from './emit.js';
import type { Hoisted, Value } from './expr.js';
import { Lowerer, hoist, invariantFrontier, variantNodes } from './expr.js';
import { RowSite, addConst } from './loops.js';
import type { KernelModule, Launcher } from './module.js';
import type { Stream } from './views.js';
import { StreamSet, collectLoads, elemBytes, viewIsEmpty } from './views.js';
import { registerTile } from './tile.js';
import { buildWinogradStages, winogradPlan } from './winograd.js';

/** Rows and columns of the register tile. */
const MR = 4;
const NR = 8;
/** Bytes of packed B kept hot per column block (fits the L2 of current cores). */
const BLOCK_BYTES = 1 << 20;
/** Row blocks per call (calls are cheap; many calls let V8 tier the kernel up early). */
const ROW_BLOCKS_PER_CALL = 16;

/**
 * Builds the matmul kernel (exports packB, packA, mm) and returns its launcher. `sizeGeneric`: the
 * module must not depend on the outer size (shared.ts): batch[0] is only read by the launch anyway;
 * without batch dims the row count M becomes a parameter of packA and mm, and mm picks the register
 * tile of the last, partial row block (1-3 rows) at run time.
 */
export function buildMatmul(km: KernelModule, k: MatmulKernel, sizeGeneric = false): Launcher<MatmulKernel> {
  const { m: M, n: N, k: K } = k;
  const nb = k.batch.length;
  if (sizeOf(k.batch) === 0 || M === 0 || N === 0) return () => () => {};
  const dynM = sizeGeneric && nb === 0;
  const b = km.b;
  const m = km.m;
  const i32 = b.i32;
  const nIn = k.nInputs;
  const OUT = nIn; // output pointer param
  const av = k.a.view;
  const bv = k.b.view;
  const am = av.strides[nb], ak = av.strides[nb + 1];
  const needA = !!av.mask || am < 0;
  const nP = Math.ceil(N / NR);
  const nFullP = Math.floor(N / NR);
  const tailCols = N % NR;
  const nRB = Math.ceil(M / MR);
  const nFullRB = Math.floor(M / MR);
  const tailRows = M % MR;
  const panelBytes = K * NR * 4;
  const batchStrides = (v: View) => v.strides.slice(0, nb);
  const split = k.b.split;
  if (split && bv.mask) throw new Error('wasm matmul: a split B operand must not be masked');
  const bounds = k.b.bounds ?? [];
  if (bounds.length && !split) throw new Error('wasm matmul: bounds need a split B operand');
  /** Ints per row of the k table: the element offset, then each bound's row part. */
  const ROW = 1 + bounds.length;

  /** Element offset Σ coord_d·stride_d of `flat` decoded row-major over `dims`. */
  const decodeOffset = (flat: () => Ref, dims: readonly number[], strides: readonly number[]): Ref => {
    let off: Ref = m.i32.const(0);
    let inner = 1;
    for (let d = dims.length - 1; d >= 0; d--) {
      if (strides[d] !== 0 && dims[d] > 1) {
        const q = inner === 1 ? flat() : m.i32.div_u(flat(), m.i32.const(inner));
        const c = d === 0 ? q : m.i32.rem_u(q, m.i32.const(dims[d]));
        off = m.i32.add(off, m.i32.mul(c, m.i32.const(strides[d])));
      }
      inner *= dims[d];
    }
    return off;
  };

  /** Σ coord·coef over a bound's terms on view dims first..first+count-1, `flat` decoded row-major over them. */
  const boundPart = (bd: { readonly terms: readonly (readonly [number, number])[] }, flat: () => Ref, first: number, count: number): Ref => {
    let sum: Ref = m.i32.const(0);
    for (const [d, coef] of bd.terms) {
      if (d < first || d >= first + count) continue;
      let inner = 1;
      for (let e = first + count - 1; e > d; e--) inner *= bv.shape[e];
      const q = inner === 1 ? flat() : m.i32.div_u(flat(), m.i32.const(inner));
      const c = d === first ? q : m.i32.rem_u(q, m.i32.const(bv.shape[d]));
      sum = m.i32.add(sum, m.i32.mul(c, m.i32.const(coef)));
    }
    return sum;
  };

  // ---- ktab(dst): per row k of a split B, its element offset and bound parts (once per launch) ---
  if (split) {
    const fn = km.fn(1);
    const kk = fn.local(i32);
    const kDims = bv.shape.slice(nb, nb + split[0]), kStrides = bv.strides.slice(nb, nb + split[0]);
    if (K > 0) {
      fn.forRange(kk, m.i32.const(0), () => m.i32.const(K), 1, () => {
        const at = fn.let(i32, m.i32.add(fn.get(0), m.i32.mul(fn.get(kk), m.i32.const(4 * ROW))));
        fn.emit(m.i32.store(0, 4, fn.get(at), decodeOffset(() => fn.get(kk), kDims, kStrides)));
        bounds.forEach((bd, j) => fn.emit(m.i32.store(4 * (1 + j), 4, fn.get(at), boundPart(bd, () => fn.get(kk), nb, split[0]))));
      }, true);
    }
    fn.finish('ktab');
  }

  /** Emits batch coordinates of the batch index in local `bi` into locals. */
  const batchCoords = (fn: Fn, bi: number): number[] => {
    const coords: number[] = [];
    let stride = 1;
    const out = new Array<number>(nb);
    for (let d = nb - 1; d >= 0; d--) {
      const q = stride === 1 ? fn.get(bi) : m.i32.div_u(fn.get(bi), m.i32.const(stride));
      out[d] = fn.let(i32, d === 0 ? q : m.i32.rem_u(q, m.i32.const(k.batch[d])));
      stride *= k.batch[d];
    }
    coords.push(...out);
    return coords;
  };
  /** Byte address of element (batch coords, rest 0) of a view over buffer param `p`. */
  const batchBase = (fn: Fn, p: Ref, v: View, strides: readonly number[], coords: number[], esize: number): Ref => {
    let a = addConst(fn, p, v.offset * esize);
    for (let d = 0; d < nb; d++) {
      if (strides[d] !== 0) a = m.i32.add(a, m.i32.mul(fn.get(coords[d]), m.i32.const(strides[d] * esize)));
    }
    return a;
  };

  /**
   * panel(base, dst, ktab, p, safe) of a split B: packs panel p at dst. `run`: only a panel whose 8
   * columns are consecutive in memory (returns 0, packing nothing, for any other); else column by
   * column. `base`: the batch's element 0 (view offset applied); `safe`: a readable address.
   */
  const buildPanelPacker = (runOnly: boolean): string => {
    const name = runOnly ? 'packRun' : 'packScattered';
    const fn = km.fn(5);
    const base = 0, dst = fn.local(i32), src = fn.local(i32), kk = fn.local(i32);
    fn.set(dst, fn.get(1));
    const nDims = bv.shape.slice(nb + split![0]), nStrides = bv.strides.slice(nb + split![0]);
    const nFirst = nb + split![0], nCount = split![1];
    const row = fn.local(i32);
    const kPart = bounds.map(() => fn.local(i32));
    const minI = (a: Ref, b: Ref, lt: boolean) => m.select(lt ? m.i32.lt_s(a, b) : m.i32.gt_s(a, b), a, b);
    const p = () => fn.get(3);
    const valid: number[] = [], offs: number[] = [];
    const nPart = bounds.map((): number[] => []);
    for (let c = 0; c < NR; c++) {
      const col = fn.let(i32, m.i32.add(m.i32.mul(p(), m.i32.const(NR)), m.i32.const(c)));
      valid.push(fn.let(i32, m.i32.lt_s(fn.get(col), m.i32.const(N))));
      offs.push(fn.let(i32, m.select(fn.get(valid[c]), decodeOffset(() => fn.get(col), nDims, nStrides), m.i32.const(0))));
      bounds.forEach((bd, j) => nPart[j].push(fn.let(i32, boundPart(bd, () => fn.get(col), nFirst, nCount))));
    }
    /** Byte address of row kk's element offset plus `off` elements. */
    const rowAddr = (off: Ref): Ref => m.i32.add(fn.get(base), m.i32.shl(m.i32.add(fn.get(row), off), m.i32.const(2)));
    const rows = (body: () => void) => {
      if (K === 0) return;
      fn.forRange(kk, m.i32.const(0), () => m.i32.const(K), 1, () => {
        const at = fn.let(i32, m.i32.add(fn.get(2), m.i32.mul(fn.get(kk), m.i32.const(4 * ROW))));
        fn.set(row, m.i32.load(0, 4, fn.get(at)));
        kPart.forEach((l, j) => fn.set(l, m.i32.load(4 * (1 + j), 4, fn.get(at))));
        body();
        fn.set(dst, m.i32.add(fn.get(dst), m.i32.const(NR * 4)));
      }, true);
    };
    /**
     * Emits, once per panel, what decides that row kk lies inside every bound for all of the panel's
     * columns; returns that test (null without bounds) for use inside the row loop.
     */
    const wholeRowTest = (): Ref | null => {
      // Each bound's column part over the panel: its least and greatest.
      const lo = nPart.map((ps) => fn.let(i32, ps.slice(1).reduce((a, q) => minI(a, fn.get(q), true), fn.get(ps[0]))));
      const hi = nPart.map((ps) => fn.let(i32, ps.slice(1).reduce((a, q) => minI(a, fn.get(q), false), fn.get(ps[0]))));
      // A row is wholly inside bound j when its row part lies in [bd.lo - lo, bd.hi - hi): one
      // unsigned compare against the interval's width (0 when empty: never whole).
      const start = bounds.map((bd, j) => fn.let(i32, m.i32.sub(m.i32.const(bd.lo), fn.get(lo[j]))));
      const width = bounds.map((bd, j) => {
        const w = fn.let(i32, m.i32.sub(m.i32.sub(m.i32.const(bd.hi), fn.get(hi[j])), fn.get(start[j])));
        return fn.let(i32, m.select(m.i32.gt_s(fn.get(w), m.i32.const(0)), fn.get(w), m.i32.const(0)));
      });
      return bounds.reduce<Ref | null>((acc, _bd, j) => {
        const t = m.i32.lt_u(m.i32.sub(fn.get(kPart[j]), fn.get(start[j])), fn.get(width[j]));
        return acc ? m.i32.and(acc, t) : t;
      }, null);
    };
    if (!runOnly) {
      /** True when every bound holds at row kk for column c. */
      const inside = (c: number): Ref | null => bounds.reduce<Ref | null>((acc, bd, j) => {
        const t = m.i32.and(m.i32.ge_s(m.i32.add(fn.get(kPart[j]), fn.get(nPart[j][c])), m.i32.const(bd.lo)), m.i32.lt_s(m.i32.add(fn.get(kPart[j]), fn.get(nPart[j][c])), m.i32.const(bd.hi)));
        return acc ? m.i32.and(acc, t) : t;
      }, null);
      const checked = () => {
        for (let c = 0; c < NR; c++) {
          const inb = inside(c);
          const ok = fn.let(i32, inb ? m.i32.and(fn.get(valid[c]), inb) : fn.get(valid[c]));
          // Outside a bound the address may lie outside the buffer: read the safe address instead.
          const v = m.f32.load(0, 4, bounds.length ? m.select(fn.get(ok), rowAddr(fn.get(offs[c])), fn.get(4)) : rowAddr(fn.get(offs[c])));
          fn.emit(m.f32.store(4 * c, 4, fn.get(dst), m.select(fn.get(ok), v, m.f32.const(0))));
        }
      };
      // A row inside every bound, all 8 columns real (not the tail panel), copies without tests (a
      // convolution's weight gradient reads its input's windows this way: most rows are interior).
      const whole = wholeRowTest();
      const allValid = fn.let(i32, fn.get(valid[NR - 1]));
      const unchecked = () => {
        for (let c = 0; c < NR; c++) fn.emit(m.f32.store(4 * c, 4, fn.get(dst), m.f32.load(0, 4, rowAddr(fn.get(offs[c])))));
      };
      rows(() => fn.if(whole ? m.i32.and(whole, fn.get(allValid)) : fn.get(allValid), unchecked, checked));
      fn.finish(name, b.none, false);
      return name;
    }
    let consecutive: Ref = fn.get(valid[NR - 1]);
    for (let c = 1; c < NR; c++) consecutive = m.i32.and(consecutive, m.i32.eq(fn.get(offs[c]), m.i32.add(fn.get(offs[0]), m.i32.const(c))));
    fn.if(m.i32.eqz(consecutive), () => fn.emit(m.return(m.i32.const(0))));
    const whole = wholeRowTest();
    const vectors = () => {
      fn.set(src, rowAddr(fn.get(offs[0])));
      fn.emit(m.v128.store(0, 4, fn.get(dst), m.v128.load(0, 4, fn.get(src))));
      fn.emit(m.v128.store(16, 4, fn.get(dst), m.v128.load(16, 4, fn.get(src))));
    };
    // Each bound's column parts as two i32x4 (lanes 0-3, 4-7), for the lane masks of a border row.
    const nVec = nPart.map((ps) => [0, 4].map((c0) => {
      let v = m.i32x4.splat(fn.get(ps[c0]));
      for (let l = 1; l < 4; l++) v = m.i32x4.replace_lane(v, l, fn.get(ps[c0 + l]));
      return fn.let(b.v128, v);
    }));
    // A row touching the padding: the 8 consecutive elements as two vectors, lanes outside a bound
    // zeroed. A row with a lane inside reads at most 7 elements (28 bytes) past a buffer's edge,
    // which the heap keeps readable (memory.ts: reserved bottom, tail slack); a row wholly outside
    // reads the safe address instead.
    const masked = () => {
      const laneMask = (half: number): Ref => bounds.reduce<Ref | null>((acc, bd, j) => {
        const t = fn.let(b.v128, m.i32x4.add(m.i32x4.splat(fn.get(kPart[j])), fn.get(nVec[j][half])));
        const ok = m.v128.and(m.i32x4.ge_s(fn.get(t), m.i32x4.splat(m.i32.const(bd.lo))), m.i32x4.lt_s(fn.get(t), m.i32x4.splat(m.i32.const(bd.hi))));
        return acc ? m.v128.and(acc, ok) : ok;
      }, null)!;
      const mask0 = fn.let(b.v128, laneMask(0)), mask1 = fn.let(b.v128, laneMask(1));
      fn.set(src, m.select(m.v128.any_true(m.v128.or(fn.get(mask0), fn.get(mask1))), rowAddr(fn.get(offs[0])), fn.get(4)));
      fn.emit(m.v128.store(0, 4, fn.get(dst), m.v128.and(m.v128.load(0, 4, fn.get(src)), fn.get(mask0))));
      fn.emit(m.v128.store(16, 4, fn.get(dst), m.v128.and(m.v128.load(16, 4, fn.get(src)), fn.get(mask1))));
    };
    rows(() => { if (whole) fn.if(whole, vectors, masked); else vectors(); });
    fn.emit(m.return(m.i32.const(1)));
    fn.finish(name, i32, false);
    return name;
  };

  // ---- packB(bBase, pack, batch[, ktab]): panel p, row k at pack + p*K*32 + k*32 ---------------
  {
    const fn = km.fn(split ? 4 : 3);
    const coords = batchCoords(fn, 2);
    const base = fn.let(i32, batchBase(fn, fn.get(0), bv, bv.strides, coords, 4));
    const bk = bv.strides[nb], bn = bv.strides[nb + 1];
    const maskK = bv.mask?.[nb], maskN = bv.mask?.[nb + 1];
    const batchOk = (): Ref | null => {
      let ok: Ref | null = null;
      for (let d = 0; d < nb; d++) {
        const mk = bv.mask?.[d];
        if (!mk || (mk[0] <= 0 && mk[1] >= k.batch[d])) continue;
        const t = m.i32.and(m.i32.ge_s(fn.get(coords[d]), m.i32.const(mk[0])), m.i32.lt_s(fn.get(coords[d]), m.i32.const(mk[1])));
        ok = ok ? m.i32.and(ok, t) : t;
      }
      return ok;
    };
    const bOk = batchOk();
    const simple = !bv.mask && bn === 1 && !viewIsEmpty(bv);
    const kk = fn.local(i32);
    const src = fn.local(i32);
    const dst = fn.local(i32);
    if (viewIsEmpty(bv)) {
      fn.emit(m.memory.fill(fn.get(1), m.i32.const(0), m.i32.const(nP * panelBytes), 'mem'));
    } else if (split) {
      // Each panel in a function of its own (a small loop V8 keeps in registers): the run of
      // consecutive columns if it is one, else column by column.
      const run = buildPanelPacker(true), scattered = buildPanelPacker(false);
      fn.repeat(nP, (pc) => {
        const args = () => [fn.get(base), m.i32.add(fn.get(1), m.i32.mul(pc < 0 ? m.i32.const(0) : fn.get(pc), m.i32.const(panelBytes))),
          fn.get(3), pc < 0 ? m.i32.const(0) : fn.get(pc), fn.get(0)];
        fn.if(m.i32.eqz(m.call(run, args(), i32)), () => fn.emit(m.call(scattered, args(), b.none)));
      });
    } else if (simple) {
      // Row-major B: two v128 copies per (k, panel); the tail panel copies its columns and zero-fills.
      fn.repeat(nP, (pc) => {
        const p = () => (pc < 0 ? m.i32.const(0) : fn.get(pc));
        fn.set(dst, m.i32.add(fn.get(1), m.i32.mul(p(), m.i32.const(panelBytes))));
        fn.set(src, m.i32.add(fn.get(base), m.i32.mul(p(), m.i32.const(NR * 4))));
        const full = () => fn.repeat(K, () => {
          fn.emit(m.v128.store(0, 4, fn.get(dst), m.v128.load(0, 4, fn.get(src))));
          fn.emit(m.v128.store(16, 4, fn.get(dst), m.v128.load(16, 4, fn.get(src))));
          fn.set(dst, m.i32.add(fn.get(dst), m.i32.const(NR * 4)));
          fn.set(src, addConst(fn, fn.get(src), bk * 4));
        });
        const tail = () => fn.repeat(K, () => {
          for (let c = 0; c < NR; c++) {
            fn.emit(m.f32.store(4 * c, 4, fn.get(dst), c < tailCols ? m.f32.load(4 * c, 4, fn.get(src)) : m.f32.const(0)));
          }
          fn.set(dst, m.i32.add(fn.get(dst), m.i32.const(NR * 4)));
          fn.set(src, addConst(fn, fn.get(src), bk * 4));
        });
        if (tailCols === 0) full();
        else if (nFullP === 0) tail();
        else if (pc < 0) full();
        else fn.if(m.i32.lt_s(p(), m.i32.const(nFullP)), full, tail);
      });
    } else {
      // General: column by column (contiguous along k for transposed B), masks checked per element.
      fn.repeat(nP, (pc) => {
        const p = () => (pc < 0 ? m.i32.const(0) : fn.get(pc));
        for (let c = 0; c < NR; c++) {
          const col = fn.let(i32, m.i32.add(m.i32.mul(p(), m.i32.const(NR)), m.i32.const(c)));
          fn.set(dst, m.i32.add(m.i32.add(fn.get(1), m.i32.mul(p(), m.i32.const(panelBytes))), m.i32.const(4 * c)));
          fn.set(src, m.i32.add(fn.get(base), m.i32.mul(fn.get(col), m.i32.const(bn * 4))));
          fn.set(kk, m.i32.const(0));
          if (K > 0) {
            const L = fn.label('pk');
            fn.emit(m.loop(L, fn.block(() => {
              let ok: Ref = m.i32.lt_s(fn.get(col), m.i32.const(N));
              if (maskN) ok = m.i32.and(ok, m.i32.and(m.i32.ge_s(fn.get(col), m.i32.const(maskN[0])), m.i32.lt_s(fn.get(col), m.i32.const(maskN[1]))));
              if (maskK) ok = m.i32.and(ok, m.i32.and(m.i32.ge_s(fn.get(kk), m.i32.const(maskK[0])), m.i32.lt_s(fn.get(kk), m.i32.const(maskK[1]))));
              if (bOk) ok = m.i32.and(ok, batchOk()!);
              const okl = fn.let(i32, ok);
              const v = m.f32.load(0, 4, m.select(fn.get(okl), fn.get(src), fn.get(0)));
              fn.emit(m.f32.store(0, 4, fn.get(dst), m.select(fn.get(okl), v, m.f32.const(0))));
              fn.set(dst, m.i32.add(fn.get(dst), m.i32.const(NR * 4)));
              fn.set(src, addConst(fn, fn.get(src), bk * 4));
              fn.set(kk, m.i32.add(fn.get(kk), m.i32.const(1)));
              fn.emit(m.br(L, m.i32.lt_s(fn.get(kk), m.i32.const(K))));
            })));
          }
        }
      });
    }
    fn.finish('packB');
  }

  // ---- packA(aBase, dst, batch): A[b] as a contiguous [M, K] (masked or m-flipped A only) -------
  if (needA) {
    const fn = km.fn(dynM ? 4 : 3); // (aBase, dst, batch[, M])
    const coords = batchCoords(fn, 2);
    const base = fn.let(i32, batchBase(fn, fn.get(0), av, av.strides, coords, 4));
    const row = fn.local(i32), col = fn.local(i32), dst = fn.let(i32, fn.get(1));
    if ((dynM || M > 0) && K > 0) {
      fn.forRange(row, m.i32.const(0), () => (dynM ? fn.get(3) : m.i32.const(M)), 1, () => {
        fn.forRange(col, m.i32.const(0), () => m.i32.const(K), 1, () => {
          let ok: Ref = m.i32.const(1);
          const chk = (d: number, local: number) => {
            const mk = av.mask?.[d];
            if (mk) ok = m.i32.and(ok, m.i32.and(m.i32.ge_s(fn.get(local), m.i32.const(mk[0])), m.i32.lt_s(fn.get(local), m.i32.const(mk[1]))));
          };
          for (let d = 0; d < nb; d++) chk(d, coords[d]);
          chk(nb, row);
          chk(nb + 1, col);
          const okl = fn.let(i32, ok);
          const addr = m.i32.add(fn.get(base), m.i32.add(m.i32.mul(fn.get(row), m.i32.const(am * 4)), m.i32.mul(fn.get(col), m.i32.const(ak * 4))));
          const v = m.f32.load(0, 4, m.select(fn.get(okl), addr, fn.get(0)));
          fn.emit(m.f32.store(0, 4, fn.get(dst), m.select(fn.get(okl), v, m.f32.const(0))));
          fn.set(dst, m.i32.add(fn.get(dst), m.i32.const(4)));
        }, true);
      }, !dynM);
    }
    fn.finish('packA');
  }

  // ---- toF32(src, dst, n, isBool): int32 / bool operands converted to float32 (same element indexing)
  {
    const fn = km.fn(4);
    const i = fn.local(i32);
    fn.if(fn.get(3), () => {
      fn.forRange(i, m.i32.const(0), () => fn.get(2), 1, () => {
        fn.emit(m.f32.store(0, 4, m.i32.add(fn.get(1), m.i32.shl(fn.get(i), m.i32.const(2))),
          m.f32.convert_s.i32(m.i32.load8_u(0, 1, m.i32.add(fn.get(0), fn.get(i))))));
      });
    }, () => {
      fn.forRange(i, m.i32.const(0), () => fn.get(2), 1, () => {
        const off = () => m.i32.shl(fn.get(i), m.i32.const(2));
        fn.emit(m.f32.store(0, 4, m.i32.add(fn.get(1), off()), m.f32.convert_s.i32(m.i32.load(0, 4, m.i32.add(fn.get(0), off())))));
      });
    });
    fn.finish('toF32');
  }

  // ---- epilogue streams over [...batch, M, N]: each dim its own group, N vectorised --------------
  const epShape = [...k.batch, M, N];
  const groups = epShape.map((size, d) => ({ size, dims: [d] }));
  const ss = new StreamSet(groups);
  const [epi] = k.outputs;
  const loads = collectLoads([epi.expr]);
  for (const e of loads) ss.addLoad(e, e.input);
  const outView = epi.view ?? contiguousView(epShape);
  const outStream = ss.stream(OUT, elemBytes(epi.dtype), outView);
  const VG = nb + 1;
  const variant = variantNodes([epi.expr], () => true);
  const varies = (e: Expr) => variant.get(e) ?? true;
  // Which nodes of the epilogue differ between the columns of an output row: the accumulator, loads
  // that move, are masked or gather along n, and what reads them.
  const variesAlongRow = variantNodes([epi.expr], (e) => e.view.strides[nb + 1] !== 0 || !!e.gather ||
    (!!e.view.mask && (e.view.mask[nb + 1][0] > 0 || e.view.mask[nb + 1][1] < N)));
  const markAcc = (e: Expr): boolean => {
    const kids = e.kind === 'op' ? e.args.map(markAcc) : e.kind === 'cast' ? [markAcc(e.x)] : [];
    const v = e.kind === 'acc' || kids.some((x) => x) || variesAlongRow.get(e) === true;
    variesAlongRow.set(e, v);
    return v;
  };
  markAcc(epi.expr);
  const perRow = invariantFrontier([epi.expr], variesAlongRow).length > 0;
  // Per-call state the tiles read: stream bases at the batch, batch coordinates, A base.
  const streamGlobal = (s: Stream) => `sb${s.id}`;
  for (const s of ss.streams) m.addGlobal(streamGlobal(s), i32, true, m.i32.const(0));
  for (let d = 0; d < nb; d++) m.addGlobal(`bc${d}`, i32, true, m.i32.const(0));

  // ---- tile(pa, pb, row, col): R x 8 register tile over the full K, then the epilogue ----------
  const aOffsetStride = needA ? K : am;
  const aKStride = needA ? 1 : ak;
  const tileName = (R: number, C: number) => `tile${R}x${C}`;
  const buildTile = (R: number, C: number) => {
    const fn = km.fn(4);
    const acc = registerTile(fn, R, aOffsetStride * 4, aKStride * 4, K > 0 ? panelBytes : 0);
    if (epiReads) fn.emit(m.call(epiName(R, C), [fn.get(2), fn.get(3), ...acc.map((a) => fn.get(a.idx))], b.none));
    else emitEpilogue(fn, R, C, 2, 3, acc.map((a) => a.idx));
    fn.finish(tileName(R, C), b.none, false);
  };
  // An epilogue that reads inputs is a function of its own (see the header); one that only converts
  // or stores the accumulators stays in the tile, saving the call.
  const epiReads = loads.length > 0;
  const epiName = (R: number, C: number) => `epi${R}x${C}`;
  const buildEpi = (R: number, C: number) => {
    const fn = km.makeFn([i32, i32, ...Array.from({ length: R * 2 }, () => b.v128)]); // (row, col, acc...)
    emitEpilogue(fn, R, C, 0, 1, Array.from({ length: R * 2 }, (_, j) => 2 + j));
    fn.finish(epiName(R, C), b.none, false);
  };
  /** The epilogue's load sites in `fn` at (local `row`, local `col`): siteAt(r, cv) is (row + r, col + 4·cv). */
  const epilogueSites = (fn: Fn, row: number, col: number) => {
    // A masked load reads a safe address where its lane is outside: address 0 (the reserved bottom of
    // memory), the value of a fresh local.
    let safe = -1;
    const safeAddr = () => (safe < 0 ? (safe = fn.local(i32)) : safe);
    /** The load site at (row + r, col + 4·cv): pointers of every stream there. */
    return (r: number, cv: number): RowSite => {
      const q = new Map<Stream, number>();
      for (const s of ss.streams) {
        let a: Ref = m.global.get(streamGlobal(s), i32);
        const sm = s.strides[nb] * s.esize, sn = s.strides[nb + 1] * s.esize;
        if (sm) a = m.i32.add(a, m.i32.mul(m.i32.add(fn.get(row), m.i32.const(r)), m.i32.const(sm)));
        if (sn) a = m.i32.add(a, m.i32.mul(m.i32.add(fn.get(col), m.i32.const(4 * cv)), m.i32.const(sn)));
        q.set(s, fn.let(i32, a));
      }
      const coord = (g: number): Ref => (g < nb ? m.global.get(`bc${g}`, i32)
        : g === nb ? m.i32.add(fn.get(row), m.i32.const(r)) : m.i32.add(fn.get(col), m.i32.const(4 * cv)));
      return new RowSite(fn, ss, (s) => q.get(s)!, VG, coord, safeAddr, varies);
    };
  };
  /**
   * What does not vary along a row (a bias, batch-norm scale and shift), lowered as scalars (and their
   * splats) at the row's load site (made only when there is such a value).
   */
  const invariantsAt = (fn: Fn, site: () => RowSite): Hoisted => (perRow
    ? hoist([epi.expr], variesAlongRow, new Lowerer(new Lanes(fn, 1), km, site(), () => { throw new Error('wasm matmul: acc varies along a row'); }), new Lanes(fn, 4))
    : { scalar: new Map(), vector: new Map() });
  /** The row invariants of output row `row` (a local of `fn`); `col` is any i32 local (they read no column). */
  const rowInvariants = (fn: Fn, row: number, col: number): Hoisted => invariantsAt(fn, () => epilogueSites(fn, row, col)(0, 0));
  /**
   * The epilogue of an R x C tile at (local `row`, local `col`), accumulators in locals `accs`; a
   * row's invariants are lowered here, once per row, unless the caller lowered them (`invariants`, R = 1).
   */
  const emitEpilogue = (fn: Fn, R: number, C: number, row: number, col: number, accs: readonly number[], invariants?: Hoisted) => {
    const c4 = new Lanes(fn, 4);
    const c1 = new Lanes(fn, 1);
    const acc = accs.map((idx) => c4.fAt(idx));
    const siteAt = epilogueSites(fn, row, col);
    for (let r = 0; r < R; r++) {
      // What does not vary along the row, once per row (or per caller's row: `invariants`).
      const rowValues = invariants ?? invariantsAt(fn, () => siteAt(r, 0));
      for (let cv = 0; cv < 2; cv++) {
        const valid = Math.min(4, C - 4 * cv);
        if (valid <= 0) continue;
        const site = siteAt(r, cv);
        const accIdx = acc[2 * r + cv].idx;
        if (valid === 4) {
          const L4 = new Lowerer(c4, km, site, (): Value => ({ dt: 'float32', v: c4.fAt(accIdx) }), rowValues.vector);
          site.store(c4, outStream, L4.lower(epi.expr), epi.dtype);
        } else {
          for (let t = 0; t < valid; t++) {
            const st = site.shifted(t);
            const L1 = new Lowerer(c1, km, st, (): Value => ({ dt: 'float32', v: c1.f(m.f32x4.extract_lane(fn.get(accIdx), t)) }), rowValues.scalar);
            st.store(c1, outStream, L1.lower(epi.expr), epi.dtype);
          }
        }
      }
    }
  };
  const variants = new Set<string>();
  const tileCall = (fn: Fn, R: number, C: number, pa: Ref, pb: Ref, row: Ref, col: Ref) => {
    const name = tileName(R, C);
    if (!variants.has(name)) { variants.add(name); if (epiReads) buildEpi(R, C); buildTile(R, C); }
    fn.emit(m.call(name, [pa, pb, row, col], b.none));
  };
  /** Sets the per-call state the epilogue reads (batch coordinates, stream bases) for batch param `bp`. */
  const setBatch = (fn: Fn, bp: number): number[] => {
    const coords = batchCoords(fn, bp);
    for (let d = 0; d < nb; d++) fn.emit(m.global.set(`bc${d}`, fn.get(coords[d])));
    for (const s of ss.streams) {
      const full = s.strides.slice(0, nb);
      fn.emit(m.global.set(streamGlobal(s), batchBase(fn, fn.get(s.param), { ...outView, offset: s.offset }, full, coords, s.esize)));
    }
    return coords;
  };

  // ---- mm(...inputs, out, pack, aScratch, a, batch, rb0, rb1[, M]) --------------------------------
  {
    const P_PACK = nIn + 1, P_ASCR = nIn + 2, P_A = nIn + 3, P_BATCH = nIn + 4, P_RB0 = nIn + 5, P_RB1 = nIn + 6, P_M = nIn + 7;
    const fn = km.fn(nIn + (dynM ? 8 : 7));
    const coords = setBatch(fn, P_BATCH);
    const aBase = fn.let(i32, needA ? fn.get(P_ASCR) : batchBase(fn, fn.get(P_A), av, av.strides, coords, 4));
    const panelsPerBlock = Math.max(1, Math.floor(BLOCK_BYTES / Math.max(1, panelBytes)));
    const rb = fn.local(i32), p = fn.local(i32), pa = fn.local(i32);
    const rowBytes = MR * aOffsetStride * 4;
    // Row blocks of MR rows: full ones, then the partial last one (compile-time counts unless dynM).
    const dyn = dynM ? (() => {
      const full = fn.let(i32, m.i32.div_u(fn.get(P_M), m.i32.const(MR)));
      const tail = fn.let(i32, m.i32.rem_u(fn.get(P_M), m.i32.const(MR)));
      return { full, tail, count: fn.let(i32, m.i32.add(fn.get(full), m.i32.ne(fn.get(tail), m.i32.const(0)))) };
    })() : null;
    const fullRBs = (): Ref => (dyn ? fn.get(dyn.full) : m.i32.const(nFullRB));
    for (let p0 = 0; p0 < nP; p0 += panelsPerBlock) {
      const p1 = Math.min(nP, p0 + panelsPerBlock);
      const fullEnd = Math.min(p1, nFullP);
      const hasTail = tailCols > 0 && p1 === nP;
      const panels = (R: number) => {
        if (fullEnd > p0) {
          fn.forRange(p, m.i32.const(p0), () => m.i32.const(fullEnd), 1, () => {
            tileCall(fn, R, NR, fn.get(pa), m.i32.add(fn.get(P_PACK), m.i32.mul(fn.get(p), m.i32.const(panelBytes))),
              m.i32.mul(fn.get(rb), m.i32.const(MR)), m.i32.mul(fn.get(p), m.i32.const(NR)));
          }, true);
        }
        if (hasTail) {
          tileCall(fn, R, tailCols, fn.get(pa), m.i32.add(fn.get(P_PACK), m.i32.const(nFullP * panelBytes)),
            m.i32.mul(fn.get(rb), m.i32.const(MR)), m.i32.const(nFullP * NR));
        }
      };
      if (dyn || nFullRB > 0) {
        const end = () => (m.select(m.i32.lt_s(fn.get(P_RB1), fullRBs()), fn.get(P_RB1), fullRBs()));
        fn.forRange(rb, fn.get(P_RB0), end, 1, () => {
          fn.set(pa, m.i32.add(fn.get(aBase), m.i32.mul(fn.get(rb), m.i32.const(rowBytes))));
          panels(MR);
        });
      }
      if (dyn) {
        fn.if(m.i32.and(m.i32.eq(fn.get(P_RB1), fn.get(dyn.count)), m.i32.ne(fn.get(dyn.tail), m.i32.const(0))), () => {
          fn.set(rb, fn.get(dyn.full));
          fn.set(pa, m.i32.add(fn.get(aBase), m.i32.mul(fn.get(dyn.full), m.i32.const(rowBytes))));
          fn.if(m.i32.eq(fn.get(dyn.tail), m.i32.const(1)), () => panels(1),
            () => fn.if(m.i32.eq(fn.get(dyn.tail), m.i32.const(2)), () => panels(2), () => panels(3)));
        });
      } else if (tailRows > 0) {
        fn.if(m.i32.eq(fn.get(P_RB1), m.i32.const(nRB)), () => {
          fn.set(rb, m.i32.const(nFullRB));
          fn.set(pa, m.i32.add(fn.get(aBase), m.i32.const(nFullRB * rowBytes)));
          panels(tailRows);
        });
      }
    }
    fn.finish('mm');
  }

  // ---- Winograd F(2×2, 3×3) or F(4×4, 3×3) for 3×3 stride-1 convolutions (winograd.ts), the direct path above as its fallback
  const wino = needA ? null : winogradPlan(k, km.winogradF4);
  if (wino) {
    // Winograd's outputs go through the epilogue a row of 8 at a time (emitted in its last stage, with
    // the row's invariants lowered once per output channel) or one by one (wEpi1), with
    // wBatch(...inputs, out, batch) having set the batch's state first.
    {
      const fn = km.makeFn([i32, i32, b.v128, b.v128]); // (row, col, acc lanes 0-3, 4-7)
      emitEpilogue(fn, 1, 1, 0, 1, [2, 3]);
      fn.finish('wEpi1', b.none, false);
    }
    {
      const fn = km.fn(nIn + 2);
      setBatch(fn, nIn + 1);
      fn.finish('wBatch');
    }
    buildWinogradStages(km, wino, am, ak, {
      channel: (fn, co) => rowInvariants(fn, co, co),
      row8: (fn, invariants, co, n, lo, hi) => emitEpilogue(fn, 1, 8, co, n, [lo, hi], invariants),
      one: 'wEpi1',
    });
    // wUb(a, U, batch), wVb(b, V, batch): the stages at the batch's A and B.
    for (const [name, inner, v, extra] of [['wUb', 'wU', av, 0], ['wVb', 'wV', bv, 2]] as const) {
      const fn = km.fn(3 + extra); // (a or b, U or V, batch[, g0, g1])
      const coords = batchCoords(fn, 2);
      fn.emit(m.call(inner, [batchBase(fn, fn.get(0), v, v.strides, coords, 4), fn.get(1), ...(extra ? [fn.get(3), fn.get(4)] : [])], b.none));
      fn.finish(name);
    }
  }

  const packBytes = nP * panelBytes;
  const align = (x: number) => (x + 15) & ~15;
  return (kk) => {
    // What depends on the outer size (batch[0], or M without batch) comes from the kernel launched.
    const rows = kk.m;
    const batchTotal = sizeOf(kk.batch);
    const bVaries = batchStrides(kk.b.view).some((s, d) => s !== 0 && kk.batch[d] > 1);
    const aVaries = batchStrides(kk.a.view).some((s, d) => s !== 0 && kk.batch[d] > 1);
    const nRowBlocks = Math.ceil(rows / MR);
    const aBytes = needA ? rows * K * 4 : 0;
    return (ex, ptrs, env) => {
    // NOTE: the IR types matmul operands as float32, but the frontend also multiplies int32 (and bool)
    // tensors: those operands are converted to float32 copies first (exact below 2^24).
    const conv = [k.a.input, k.b.input].map((inp) => env.inputs[inp]).map((x) => (x && x.dtype !== 'float32' ? x : null));
    const convBytes = conv.map((x) => (x ? align(4 * x.size) : 0));
    const ktabBytes = split ? align(4 * ROW * K) : 0;
    // Winograd's buffers share the space of the direct path's packed B (used only after them).
    const directBytes = align(packBytes) + align(aBytes);
    const winoBytes = wino ? wino.uBytes + wino.vBytes + wino.mBytes : 0;
    // Winograd writes outputs block by block and recomputes them directly if one is not finite, so
    // no input may be the output's buffer (which kiln's plans never do; a caller's kernel might).
    const winoOk = wino !== null && !conv[0] && !conv[1] && !ptrs.slice(0, nIn).includes(ptrs[OUT]);
    const pack = env.scratch(Math.max(directBytes, winoBytes) + ktabBytes + convBytes[0] + convBytes[1] + 16);
    const aScr = pack + align(packBytes);
    const ktab = pack + Math.max(directBytes, winoBytes);
    if (split) ex.ktab(ktab);
    let cursor = ktab + ktabBytes;
    const operand = (j: 0 | 1): number => {
      const inp = j === 0 ? k.a.input : k.b.input;
      const c = conv[j];
      if (!c) return ptrs[inp];
      const dst = cursor;
      cursor += convBytes[j];
      ex.toF32(ptrs[inp], dst, c.size, c.dtype === 'bool' ? 1 : 0);
      return dst;
    };
    const aPtr = operand(0);
    const bPtr = k.b.input === k.a.input && conv[0] ? aPtr : operand(1);
    const args = dynM ? [...ptrs, pack, aScr, aPtr, 0, 0, 0, rows] : [...ptrs, pack, aScr, aPtr, 0, 0, 0];
    let packed = false, transformed = false;
    for (let bi = 0; bi < batchTotal; bi++) {
      if (winoOk) {
        const U = pack, V = U + wino.uBytes, Mw = V + wino.vBytes;
        if (!transformed || aVaries) ex.wUb(aPtr, U, bi);
        transformed = true;
        packed = false;
        ex.wBatch(...ptrs, bi);
        let bad = 0;
        const gb = wino.tb / 4;
        for (let g0 = 0; g0 < wino.groups && !bad; g0 += gb) {
          const g1 = Math.min(wino.groups, g0 + gb);
          ex.wVb(bPtr, V, bi, g0, g1);
          ex.wMM(U, V, Mw, Math.ceil((g1 - g0) / 2));
          bad = (ex.wY as unknown as (...a: number[]) => number)(Mw, g0, g1);
        }
        if (!bad) continue;
        // An output that is not finite: this batch item again, directly (it overwrites U).
        transformed = false;
      }
      if (!packed || bVaries) { ex.packB(bPtr, pack, bi, ktab); packed = true; }
      if (needA) { if (dynM) ex.packA(aPtr, aScr, bi, rows); else ex.packA(aPtr, aScr, bi); }
      args[nIn + 4] = bi;
      for (let r = 0; r < nRowBlocks; r += ROW_BLOCKS_PER_CALL) {
        args[nIn + 5] = r;
        args[nIn + 6] = Math.min(nRowBlocks, r + ROW_BLOCKS_PER_CALL);
        ex.mm(...args);
      }
    }
    };
  };
}
