// wasm backend: 3×3, stride-1 convolutions by Winograd's minimal filtering F(r×r, 3×3), r = 2 or 4
// (winograd-transforms.ts). An implicit-GEMM conv kernel (matmul.ts: a split B reading the input's
// windows) whose windows are 3×3, stride 1, dilation 1, is computed as α² small matmuls instead of one
// (α = r + 2): the weights g become U = G g Gᵀ and each α×α input tile d (r×r outputs) becomes
// V = Bᵀ d B, so that the tile's outputs are Aᵀ (U ⊙ V) A summed over input channels. Per output that
// is α²·Cin/r² multiply-adds instead of 9·Cin (F(2×2): 2.25x fewer; F(4×4): 4x fewer); the transforms
// are additions and a few products by constants. Tiles go block by block (a block's V and M stay in
// L2), and each output goes straight into the kernel's epilogue (matmul.ts builds it), as a row of 8
// where it can.
// Exactness: finite results differ from the direct sum by rounding alone; but an infinity in the input
// or weights can meet its negation inside a transform and give NaN where the direct sum gives ±Inf.
// So every output is checked before its epilogue: at the first that is not finite (or a transform
// overflowed) the kernel recomputes the batch item directly (matmul.ts), overwriting what was written.
import type { MatmulKernel } from '../../src/core/kernel.js';
import type { Fn, Module, Ref } from './emit.js';
import type { KernelModule } from './module.js';
import { registerTile } from './tile.js';
import { applyTransform, F2, F4, LazyTransform, lastInputs, type TransformOps, type WinogradVariant } from './winograd-transforms.js';

/** Below these sizes the transforms cost more than the multiply-adds they save. */
const MIN_CHANNELS = 16;
const MIN_OUTPUTS = 64;
/** Bytes wV may read past the input's last element (under memory.ts's tail slack of 64). */
const READ_PAST_BYTES = 48;
/** Bytes of a block's V and M together (half the L2 of current cores). */
const BLOCK_BYTES = 256 << 10;

/** Geometry of a convolution kernel computed by Winograd F(r×r, 3×3). */
export interface WinogradPlan {
  /** Outputs per tile side (2 or 4), and the input tile's side α = r + 2. */
  readonly r: 2 | 4;
  readonly alpha: 4 | 6;
  readonly cin: number;
  readonly cout: number;
  readonly ho: number;
  readonly wo: number;
  /** Tile rows and columns (r×r outputs each); columns padded to a multiple of 4 (one vector of tiles). */
  readonly th: number;
  readonly tw: number;
  readonly twp: number;
  /** Groups of 4 tiles (one vector each): per tile row, and in all. */
  readonly groupsPerRow: number;
  readonly groups: number;
  /**
   * Tiles per block (a multiple of 8): the stages run block by block so that a block's tiles V and
   * products M stay in L2; its panels of 8 tiles are the matmul's B panels.
   */
  readonly tb: number;
  readonly npb: number;
  /**
   * Bytes between the α² planes of U, V and M: 64 more than a plane, so that the vectors of one tile
   * (read or written together) do not all fall in one L1 set, as planes a power of two apart would.
   */
  readonly uPlane: number;
  readonly vPlane: number;
  readonly mPlane: number;
  /** Input element offsets: per channel, per padded row (a padded column is 1). */
  readonly chanStride: number;
  readonly rowStride: number;
  /** Padded rows [rLo, rHi) and columns [cLo, cHi) that hold data (others read 0). */
  readonly rLo: number;
  readonly rHi: number;
  readonly cLo: number;
  readonly cHi: number;
  /** Scratch bytes: transformed weights U, a block's tiles V and products M (32 bytes of slack each). */
  readonly uBytes: number;
  readonly vBytes: number;
  readonly mBytes: number;
}

const VARIANTS: Record<2 | 4, WinogradVariant> = { 2: F2, 4: F4 };

/**
 * Input columns each row of a group of 4 tiles loads as vectors (offsets from the group's first
 * column): F(2×2)'s tiles start 2 columns apart and span 4, F(4×4)'s start 4 apart and span 6.
 */
const LOADS: Record<2 | 4, readonly number[]> = { 2: [0, 4, 2, 6], 4: [0, 4, 8, 12, 16] };

/**
 * The plan for a matmul kernel that is a 3×3, stride-1, dilation-1 convolution large enough to gain,
 * else null: B split [Cin, 3, 3] x [Ho, Wo] with the window's row and column moving by one input
 * row and one element, bounds (padding) only of the form lo <= position + tap < hi, A in place.
 * F(2×2), or with `allowF4` (the wasm backend's winogradF4 option) whichever of F(2×2) and F(4×4)
 * does fewer multiply-adds over its padded tiles, F(2×2) on a tie.
 */
export function winogradPlan(k: MatmulKernel, allowF4 = false): WinogradPlan | null {
  const nb = k.batch.length;
  const b = k.b;
  // A convolution's kernel has batch dims (images, groups); without them M would be read at run time
  // in a size-generic module, which the stages do not do.
  if (!b.split || b.split[0] !== 3 || b.split[1] !== 2 || nb === 0) return null;
  const av = k.a.view;
  if (av.mask || av.strides[nb] < 0) return null;
  const [cin, kh, kw, ho, wo] = b.view.shape.slice(nb);
  const [sC, sKh, sKw, sOh, sOw] = b.view.strides.slice(nb);
  if (kh !== 3 || kw !== 3 || sKw !== 1 || sOw !== 1 || sKh !== sOh) return null;
  if (cin < MIN_CHANNELS || k.m < MIN_CHANNELS || ho * wo < MIN_OUTPUTS || ho < 2 || wo < 4) return null;
  const row = [nb + 3, nb + 1], col = [nb + 4, nb + 2];
  let rLo = 0, rHi = ho + 2, cLo = 0, cHi = wo + 2;
  for (const bd of b.bounds ?? []) {
    const dims = bd.terms.map(([d, c]) => (c === 1 ? d : -1)).sort((x, y) => x - y);
    if (dims.length !== 2) return null;
    const is = (pair: number[]) => dims[0] === Math.min(...pair) && dims[1] === Math.max(...pair);
    if (is(row)) { rLo = Math.max(rLo, bd.lo); rHi = Math.min(rHi, bd.hi); } else if (is(col)) { cLo = Math.max(cLo, bd.lo); cHi = Math.min(cHi, bd.hi); } else return null;
  }
  // wV reads whole vectors: up to cLo elements before a row's data and (in the last group) a few
  // past it, which must stay within the heap's slack after the last buffer (memory.ts).
  if (cLo > 64) return null;
  const plans = (allowF4 ? [4, 2] as const : [2] as const).map((r) => {
    const alpha = VARIANTS[r].alpha;
    const th = Math.ceil(ho / r), tw = Math.ceil(wo / r), twp = Math.ceil(tw / 4) * 4;
    const lastRead = 4 * r * (twp / 4 - 1) + LOADS[r][LOADS[r].length - 1] + 3;
    if (4 * (lastRead - (cHi - 1)) > READ_PAST_BYTES) return null;
    return { r, alpha, th, tw, twp, cost: alpha * alpha * th * twp };
  }).filter((x) => x !== null);
  if (!plans.length) return null;
  const { r, alpha, th, tw, twp } = plans.reduce((x, y) => (y.cost <= x.cost ? y : x));
  const points = alpha * alpha;
  const tiles = th * twp;
  const tb = Math.min(Math.ceil(tiles / 8) * 8, Math.max(8, Math.floor(BLOCK_BYTES / (points * 4 * (cin + k.m)) / 8) * 8));
  const npb = tb / 8;
  const align = (x: number) => ((x + 15) & ~15) + 32;
  const uPlane = k.m * cin * 4 + 64, vPlane = npb * cin * 32 + 64, mPlane = k.m * tb * 4 + 64;
  return {
    r, alpha, cin, cout: k.m, ho, wo, th, tw, twp, groupsPerRow: twp / 4, groups: tiles / 4, tb, npb, uPlane, vPlane, mPlane,
    chanStride: sC, rowStride: sKh, rLo, rHi, cLo, cHi,
    uBytes: align(points * uPlane), vBytes: align(points * vPlane), mBytes: align(points * mPlane),
  };
}

/** Lane picks of two f32x4 vectors as the byte shuffle of i8x16.shuffle. */
function shuffle(m: Module, a: Ref, b: Ref, lanes: readonly number[]): Ref {
  return m.i8x16.shuffle(a, b, lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]));
}

/** How wY hands its outputs to the kernel's epilogue (matmul.ts); `S`: what an output channel's outputs share. */
export interface WinogradEpilogue<S> {
  /** Emits, at the start of output channel `co`'s loop (`co` a local of `fn`), what its outputs share. */
  readonly channel: (fn: Fn, co: number) => S;
  /** Emits the epilogue of outputs (co, n..n+7) from the f32x4 locals `lo` and `hi` (`n` a local). */
  readonly row8: (fn: Fn, shared: S, co: number, n: number, lo: number, hi: number) => void;
  /** A function (co, n, acc, _) that runs the epilogue of output (co, n) from lane 0 of acc. */
  readonly one: string;
}

/**
 * Adds the Winograd stages to `km` (ξ = one of the α² points of a transformed α×α tile, row-major;
 * a block's tiles are numbered from 0; addresses in bytes):
 * wU(aBase, U) (internal): U[ξ][co][ci] = (G g Gᵀ)[ξ] of the weights, element (co, k) at
 * aBase + 4·(co·am + k·ak), k = ci·9 + kh·3 + kw;
 * wV(xBase, V, g0, g1) (internal): V[ξ][panel][ci][8 tiles] = (Bᵀ d B)[ξ] of the tile groups g0..g1-1,
 * padded input element (ci, r, c) at xBase + 4·(ci·chanStride + r·rowStride + c);
 * wMM(U, V, M, panels): M[ξ][co][tile] = Σ_ci U[ξ][co][ci]·V[ξ][ci][tile], ci in order, multiply-adds;
 * wY(M, g0, g1) -> i32: the outputs (Aᵀ M A) of each tile, output (co, oh·Wo + ow) passed to the
 * kernel's epilogue (emitted in place for 8 consecutive outputs, what an output channel's outputs
 * share once per channel; a call of `epilogue.one` for one); returns 1, at once, when an output is
 * not finite.
 * The transforms' operations are winograd-transforms.ts's programs, which winogradJs runs too.
 */
export function buildWinogradStages<S>(km: KernelModule, p: WinogradPlan, am: number, ak: number, epilogue: WinogradEpilogue<S>): void {
  const m = km.m;
  const b = km.b;
  const i32 = b.i32, v128 = b.v128, f32 = b.f32;
  const { r, alpha, cin, cout, tb, ho, wo, groupsPerRow } = p;
  const { G, BT, AT } = VARIANTS[r];
  const points = alpha * alpha;
  const i = (x: number) => m.i32.const(x | 0);
  /** log2 of r (a tile's outputs per side) and of 4r (a group's output columns). */
  const rShift = r === 2 ? 1 : 2, groupShift = rShift + 2;
  const vectorOps = (fn: Fn): TransformOps<number> => ({
    add: (x, y) => fn.let(v128, m.f32x4.add(fn.get(x), fn.get(y))),
    sub: (x, y) => fn.let(v128, m.f32x4.sub(fn.get(x), fn.get(y))),
    mul: (x, c) => fn.let(v128, m.f32x4.mul(fn.get(x), m.f32x4.splat(m.f32.const(c)))),
  });
  /** The 4×4 transpose of four vectors (lane j of result q = lane q of vector j). */
  const transpose = (fn: Fn, x: readonly number[]): number[] => {
    const lo = [[0, 1], [2, 3]].map(([a, c]) => fn.let(v128, shuffle(m, fn.get(x[a]), fn.get(x[c]), [0, 4, 1, 5])));
    const hi = [[0, 1], [2, 3]].map(([a, c]) => fn.let(v128, shuffle(m, fn.get(x[a]), fn.get(x[c]), [2, 6, 3, 7])));
    return [lo, lo, hi, hi].map((h, q) => fn.let(v128, shuffle(m, fn.get(h[0]), fn.get(h[1]), q % 2 ? [2, 3, 6, 7] : [0, 1, 4, 5])));
  };

  // ---- wU: per (co, ci) 9 weights -> α², G over rows (kh) for each kw, then over columns
  {
    const fn = km.fn(2);
    const co = fn.local(i32), ci = fn.local(i32), src = fn.local(i32), dst = fn.local(i32);
    const ops: TransformOps<number> = {
      add: (x, y) => fn.let(f32, m.f32.add(fn.get(x), fn.get(y))),
      sub: (x, y) => fn.let(f32, m.f32.sub(fn.get(x), fn.get(y))),
      mul: (x, c) => fn.let(f32, m.f32.mul(fn.get(x), m.f32.const(c))),
    };
    fn.forRange(co, i(0), () => i(cout), 1, () => {
      fn.forRange(ci, i(0), () => i(cin), 1, () => {
        fn.set(src, m.i32.add(fn.get(0), m.i32.add(m.i32.mul(fn.get(co), i(am * 4)), m.i32.mul(fn.get(ci), i(9 * ak * 4)))));
        const g = Array.from({ length: 9 }, (_, j) => fn.let(f32, m.f32.load(j * ak * 4, 4, fn.get(src))));
        const t = [0, 1, 2].map((c) => applyTransform(G, [g[c], g[3 + c], g[6 + c]], ops)); // t[kw][row]
        fn.set(dst, m.i32.add(fn.get(1), m.i32.mul(m.i32.add(m.i32.mul(fn.get(co), i(cin)), fn.get(ci)), i(4))));
        for (let row = 0; row < alpha; row++) {
          applyTransform(G, [t[0][row], t[1][row], t[2][row]], ops).forEach((u, q) => fn.emit(m.f32.store((row * alpha + q) * p.uPlane, 4, fn.get(dst), fn.get(u))));
        }
      }, true);
    }, true);
    fn.finish('wU', b.none, false);
  }

  // ---- wV(xBase, V, g0, g1): per group of 4 tiles in [g0, g1), every channel: α rows of vectors -> α² tile vectors
  {
    const fn = km.fn(4);
    const ty = fn.local(i32), gx = fn.local(i32), ci = fn.local(i32), dst = fn.local(i32), t0 = fn.local(i32), g = fn.local(i32);
    const rowAddr = Array.from({ length: alpha }, () => fn.local(i32));
    const rowOk = Array.from({ length: alpha }, () => fn.local(i32));
    const OFF = LOADS[r];
    const masks = Array.from({ length: alpha * OFF.length }, () => fn.local(v128));
    const ops = vectorOps(fn);
    /** A row's α vectors d[q] (lane j: padded column cb + r·j + q) from its loads. */
    const columns = (L: readonly number[]): number[] => {
      if (r === 2) {
        return [[0, 1, [0, 2, 4, 6]], [0, 1, [1, 3, 5, 7]], [2, 3, [0, 2, 4, 6]], [2, 3, [1, 3, 5, 7]]].map(([a, c, lanes]) =>
          fn.let(v128, shuffle(m, fn.get(L[a as number]), fn.get(L[c as number]), lanes as number[])));
      }
      const d = transpose(fn, L.slice(0, 4));
      const u = [[1, 2], [3, 4]].map(([a, c]) => fn.let(v128, shuffle(m, fn.get(L[a]), fn.get(L[c]), [0, 4, 1, 5])));
      return [...d, ...[[0, 1, 4, 5], [2, 3, 6, 7]].map((lanes) => fn.let(v128, shuffle(m, fn.get(u[0]), fn.get(u[1]), lanes)))];
    };
    const lastRow = lastInputs(BT);
    /**
     * The transform of one channel: load(row, L) gives a row's vector L; stores the α² tile vectors at
     * dst. Each row's columns first; then Bᵀ over the rows stores each output as soon as its rows are
     * in, so fewer vectors stay live.
     */
    const transform = (load: (row: number, L: number) => Ref) => {
      const e: number[][] = [];
      const overRows = Array.from({ length: alpha }, (_, q) => new LazyTransform(BT, (row) => e[row][q], ops));
      for (let row = 0; row < alpha; row++) {
        const L = OFF.map((_, Lx) => fn.let(v128, load(row, Lx)));
        e.push(applyTransform(BT, columns(L), ops));
        for (let q = 0; q < alpha; q++) {
          for (let k = 0; k < alpha; k++) {
            if (lastRow[k] === row) fn.emit(m.v128.store((k * alpha + q) * p.vPlane, 4, fn.get(dst), fn.get(overRows[q].output(k))));
          }
        }
      }
    };
    fn.forRange(g, fn.get(2), () => fn.get(3), 1, () => {
      fn.set(ty, m.i32.div_u(fn.get(g), i(groupsPerRow)));
      fn.set(gx, m.i32.rem_u(fn.get(g), i(groupsPerRow)));
      // The group's first tile within the block, t0: panel t0 >> 3, half (t0 >> 2) & 1 of its 8 columns.
      fn.set(t0, m.i32.shl(m.i32.sub(fn.get(g), fn.get(2)), i(2)));
      const base = () => m.i32.add(fn.get(1), m.i32.add(m.i32.mul(m.i32.shr_u(fn.get(t0), i(3)), i(cin * 32)),
        m.i32.shl(m.i32.and(m.i32.shr_u(fn.get(t0), i(2)), i(1)), i(4))));
      const cb = () => m.i32.shl(fn.get(gx), i(groupShift));
      const padRow = (row: number) => m.i32.add(m.i32.shl(fn.get(ty), i(rShift)), i(row));
      for (let row = 0; row < alpha; row++) fn.set(rowOk[row], m.i32.and(m.i32.ge_s(padRow(row), i(p.rLo)), m.i32.lt_s(padRow(row), i(p.rHi))));
      const rowsOk = rowOk.slice(1).reduce((x, ok) => m.i32.and(x, fn.get(ok)), fn.get(rowOk[0]));
      const interior = m.i32.and(rowsOk, m.i32.and(m.i32.ge_s(cb(), i(p.cLo)), m.i32.le_s(m.i32.add(cb(), i(4 * r + 2)), i(p.cHi))));
      const channels = (load: (row: number, L: number) => Ref, safe: boolean) => {
        fn.set(dst, base());
        for (let row = 0; row < alpha; row++) {
          const real = m.i32.add(fn.get(0), m.i32.shl(m.i32.add(m.i32.mul(padRow(row), i(p.rowStride)), cb()), i(2)));
          // A row outside the data reads the reserved bottom of memory (masked to 0) instead.
          fn.set(rowAddr[row], safe ? m.select(fn.get(rowOk[row]), real, i(0)) : real);
        }
        fn.forRange(ci, i(0), () => i(cin), 1, () => {
          transform(load);
          fn.set(dst, m.i32.add(fn.get(dst), i(32)));
          for (let row = 0; row < alpha; row++) {
            fn.set(rowAddr[row], m.i32.add(fn.get(rowAddr[row]), safe ? m.select(fn.get(rowOk[row]), i(p.chanStride * 4), i(0)) : i(p.chanStride * 4)));
          }
        }, true);
      };
      fn.if(interior, () => channels((row, L) => m.v128.load(OFF[L] * 4, 4, fn.get(rowAddr[row])), false), () => {
        // Lanes outside the data: per vector L a column mask, per row all or nothing.
        for (let L = 0; L < OFF.length; L++) {
          const cl = fn.let(v128, m.i32x4.add(m.i32x4.splat(m.i32.add(cb(), i(OFF[L]))), m.v128.const([0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0])));
          const cm = fn.let(v128, m.v128.and(m.i32x4.ge_s(fn.get(cl), m.i32x4.splat(i(p.cLo))), m.i32x4.lt_s(fn.get(cl), m.i32x4.splat(i(p.cHi)))));
          for (let row = 0; row < alpha; row++) fn.set(masks[row * OFF.length + L], m.v128.and(fn.get(cm), m.i32x4.splat(m.i32.sub(i(0), fn.get(rowOk[row])))));
        }
        channels((row, L) => m.v128.and(m.v128.load(OFF[L] * 4, 4, fn.get(rowAddr[row])), fn.get(masks[row * OFF.length + L])), true);
      });
    });
    fn.finish('wV', b.none, false);
  }

  // ---- wMM: for each ξ, panel and block of 4 output channels: a register tile over Cin ----------
  const tile = (R: number): string => {
    const name = `wt${R}`;
    const fn = km.fn(3); // (pa, pb, pc)
    const acc = registerTile(fn, R, cin * 4, 4, cin * 32);
    for (let row = 0; row < R; row++) {
      for (let cv = 0; cv < 2; cv++) fn.emit(m.v128.store(row * tb * 4 + cv * 16, 16, fn.get(2), acc[2 * row + cv].r));
    }
    fn.finish(name, b.none, false);
    return name;
  };
  {
    const fn = km.fn(4); // (U, V, M, panels)
    const xi = fn.local(i32), pp = fn.local(i32), rb = fn.local(i32);
    const u = fn.local(i32), v = fn.local(i32), mo = fn.local(i32);
    const fullRB = Math.floor(cout / 4), tailR = cout % 4;
    const t4 = fullRB > 0 ? tile(4) : '', tt = tailR > 0 ? tile(tailR) : '';
    fn.forRange(xi, i(0), () => i(points), 1, () => {
      fn.set(u, m.i32.add(fn.get(0), m.i32.mul(fn.get(xi), i(p.uPlane))));
      fn.set(v, m.i32.add(fn.get(1), m.i32.mul(fn.get(xi), i(p.vPlane))));
      fn.set(mo, m.i32.add(fn.get(2), m.i32.mul(fn.get(xi), i(p.mPlane))));
      fn.forRange(pp, i(0), () => fn.get(3), 1, () => {
        const pb = () => m.i32.add(fn.get(v), m.i32.mul(fn.get(pp), i(cin * 32)));
        const pc = (rowBlock: Ref) => m.i32.add(fn.get(mo), m.i32.shl(m.i32.add(m.i32.mul(rowBlock, i(4 * tb)), m.i32.shl(fn.get(pp), i(3))), i(2)));
        if (fullRB > 0) {
          fn.forRange(rb, i(0), () => i(fullRB), 1, () => {
            fn.emit(m.call(t4, [m.i32.add(fn.get(u), m.i32.mul(fn.get(rb), i(4 * cin * 4))), pb(), pc(fn.get(rb))], b.none));
          }, true);
        }
        if (tailR > 0) fn.emit(m.call(tt, [m.i32.add(fn.get(u), i(fullRB * 4 * cin * 4)), pb(), pc(i(fullRB))], b.none));
      }, true);
    }, true);
    fn.finish('wMM');
  }

  // ---- wY(M, g0, g1) -> bad: per output channel and group of 4 tiles: Aᵀ M A, r output rows to the epilogue
  {
    const fn = km.fn(3);
    const co = fn.local(i32), ty = fn.local(i32), gx = fn.local(i32), src = fn.local(i32), n0 = fn.local(i32), g = fn.local(i32);
    const ops = vectorOps(fn);
    const notFinite = (v: number): Ref => { const z = fn.let(v128, m.f32x4.sub(fn.get(v), fn.get(v))); return m.f32x4.ne(fn.get(z), fn.get(z)); };
    const anyNotFinite = (vs: readonly number[]): Ref => m.v128.any_true(vs.map(notFinite).reduce((x, z) => m.v128.or(x, z)));
    const fail = () => fn.emit(m.return(i(1)));
    fn.forRange(co, i(0), () => i(cout), 1, () => {
      // Once per output channel rather than per 8 outputs: a bias, a batch norm's scale and shift.
      const shared = epilogue.channel(fn, co);
      fn.forRange(g, fn.get(1), () => fn.get(2), 1, () => {
        fn.set(ty, m.i32.div_u(fn.get(g), i(groupsPerRow)));
        fn.set(gx, m.i32.rem_u(fn.get(g), i(groupsPerRow)));
        fn.set(src, m.i32.add(fn.get(0), m.i32.shl(m.i32.add(m.i32.mul(fn.get(co), i(tb)), m.i32.shl(m.i32.sub(fn.get(g), fn.get(1)), i(2))), i(2))));
        const mv = Array.from({ length: points }, (_, x) => fn.let(v128, m.v128.load(x * p.mPlane, 16, fn.get(src))));
        // Aᵀ over the rows of ξ for each column q (s[q][a]), then over the columns (y[a][c]: lane j is
        // output column r·j + c of the group).
        const s = Array.from({ length: alpha }, (_, q) => applyTransform(AT, Array.from({ length: alpha }, (_, x) => mv[x * alpha + q]), ops));
        const y = Array.from({ length: r }, (_, a) => applyTransform(AT, s.map((sq) => sq[a]), ops));
        /** Output row a's 4r consecutive outputs as r vectors of 4. */
        const rowVectors = (a: number): number[] => (r === 2
          ? [[0, 4, 1, 5], [2, 6, 3, 7]].map((lanes) => fn.let(v128, shuffle(m, fn.get(y[a][0]), fn.get(y[a][1]), lanes)))
          : transpose(fn, y[a]));
        const oh0 = () => m.i32.shl(fn.get(ty), i(rShift));
        const ow0 = () => m.i32.shl(fn.get(gx), i(groupShift));
        fn.set(n0, m.i32.add(m.i32.mul(oh0(), i(wo)), ow0()));
        const row8 = (a: number, h: number, vs: readonly number[]) =>
          epilogue.row8(fn, shared, co, fn.let(i32, m.i32.add(fn.get(n0), i(a * wo + 8 * h))), vs[2 * h], vs[2 * h + 1]);
        const whole = m.i32.and(m.i32.lt_s(m.i32.add(oh0(), i(r - 1)), i(ho)), m.i32.le_s(m.i32.add(ow0(), i(4 * r)), i(wo)));
        fn.if(whole, () => {
          fn.if(anyNotFinite(y.flat()), fail);
          for (let a = 0; a < r; a++) {
            const vs = rowVectors(a);
            for (let h = 0; h < r / 2; h++) row8(a, h, vs);
          }
        }, () => {
          // The last tile row or column: rows inside [0, Ho); runs of 8 inside [0, Wo) whole, the rest one by one.
          for (let a = 0; a < r; a++) {
            fn.if(m.i32.lt_s(m.i32.add(oh0(), i(a)), i(ho)), () => {
              const vs = rowVectors(a);
              for (let h = 0; h < r / 2; h++) {
                fn.if(m.i32.le_s(m.i32.add(ow0(), i(8 * h + 8)), i(wo)), () => {
                  fn.if(anyNotFinite([vs[2 * h], vs[2 * h + 1]]), fail);
                  row8(a, h, vs);
                }, () => {
                  for (let c = 0; c < 8; c++) {
                    fn.if(m.i32.lt_s(m.i32.add(ow0(), i(8 * h + c)), i(wo)), () => {
                      const val = fn.let(f32, m.f32x4.extract_lane(fn.get(vs[2 * h + (c >> 2)]), c & 3));
                      const z = fn.let(f32, m.f32.sub(fn.get(val), fn.get(val)));
                      fn.if(m.f32.ne(fn.get(z), fn.get(z)), fail);
                      fn.emit(m.call(epilogue.one, [fn.get(co), m.i32.add(fn.get(n0), i(a * wo + 8 * h + c)), m.f32x4.splat(fn.get(val)), m.v128.const(new Array(16).fill(0))], b.none));
                    });
                  }
                });
              }
            });
          }
        });
      });
    }, true);
    fn.emit(m.return(i(0)));
    fn.finish('wY', i32);
  }
}

/**
 * What the stages compute, in JavaScript (the JS tier, jstier.ts): the outputs [Cout, Ho·Wo] of one
 * batch item, bit for bit as the WebAssembly stages above (the same transform programs with float32
 * rounding at every step, multiply-adds as `madd` in the same order), or null where an output is not
 * finite (the kernel then sums directly). `a`, `b`: element arrays; `aBase`, `bBase`: the batch
 * item's offsets in them.
 */
export function winogradJs(p: WinogradPlan, a: Float32Array, aBase: number, am: number, ak: number,
  b: Float32Array, bBase: number, madd: (x: number, y: number, z: number) => number): Float32Array | null {
  const f = Math.fround;
  const ops: TransformOps<number> = { add: (x, y) => f(x + y), sub: (x, y) => f(x - y), mul: (x, c) => f(x * c) };
  const { r, alpha, cin, cout, ho, wo, th, tw } = p;
  const { G, BT, AT } = VARIANTS[r];
  const points = alpha * alpha;
  const U = new Float32Array(points * cout * cin);
  for (let co = 0; co < cout; co++) {
    for (let ci = 0; ci < cin; ci++) {
      const g = (kh: number, kw: number) => a[aBase + co * am + (ci * 9 + kh * 3 + kw) * ak];
      const t = [0, 1, 2].map((c) => applyTransform(G, [g(0, c), g(1, c), g(2, c)], ops)); // t[kw][row]
      for (let row = 0; row < alpha; row++) {
        applyTransform(G, [t[0][row], t[1][row], t[2][row]], ops).forEach((v, q) => { U[((row * alpha + q) * cout + co) * cin + ci] = v; });
      }
    }
  }
  const inside = (pr: number, pc: number) => pr >= p.rLo && pr < p.rHi && pc >= p.cLo && pc < p.cHi;
  const V = new Float32Array(points * cin);
  const Y = new Float32Array(cout * ho * wo);
  const span = Array.from({ length: alpha }, (_, q) => q);
  for (let ty = 0; ty < th; ty++) {
    for (let tx = 0; tx < tw; tx++) {
      for (let ci = 0; ci < cin; ci++) {
        const d = (row: number, q: number) => {
          const pr = r * ty + row, pc = r * tx + q;
          return inside(pr, pc) ? b[bBase + ci * p.chanStride + pr * p.rowStride + pc] : 0;
        };
        const e = span.map((row) => applyTransform(BT, span.map((q) => d(row, q)), ops)); // e[row][q']
        for (let q = 0; q < alpha; q++) applyTransform(BT, e.map((er) => er[q]), ops).forEach((v, k) => { V[(k * alpha + q) * cin + ci] = v; });
      }
      for (let co = 0; co < cout; co++) {
        const mv = new Array<number>(points);
        for (let x = 0; x < points; x++) {
          let s = 0;
          for (let ci = 0; ci < cin; ci++) s = f(madd(U[(x * cout + co) * cin + ci], V[x * cin + ci], s));
          mv[x] = s;
        }
        const s = span.map((q) => applyTransform(AT, span.map((x) => mv[x * alpha + q]), ops)); // s[q][a]
        for (let ra = 0; ra < r; ra++) {
          const y = applyTransform(AT, s.map((sq) => sq[ra]), ops);
          for (let c = 0; c < r; c++) {
            const oh = r * ty + ra, ow = r * tx + c;
            if (oh >= ho || ow >= wo) continue;
            if (!Number.isFinite(y[c])) return null;
            Y[(co * ho + oh) * wo + ow] = y[c];
          }
        }
      }
    }
  }
  return Y;
}
