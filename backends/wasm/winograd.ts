// wasm backend: 3×3, stride-1 convolutions by Winograd's minimal filtering F(2×2, 3×3). An implicit-GEMM
// conv kernel (matmul.ts: a split B reading the input's windows) whose windows are 3×3, stride 1,
// dilation 1, is computed as 16 small matmuls instead of one: the weights g become U = G g Gᵀ and each
// 4×4 input tile d (2×2 outputs) becomes V = Bᵀ d B, so that the tile's outputs are Aᵀ (U ⊙ V) A summed
// over input channels. Per output that is 16·Cin/4 multiply-adds instead of 9·Cin (2.25x fewer); the
// transforms are additions. Tiles go block by block (a block's V and M stay in L2), and each output
// goes straight into the kernel's epilogue (matmul.ts builds it), as a row of 8 where it can.
// Exactness: the transforms only add, subtract and halve, so finite results differ from the direct
// sum by rounding alone; but an infinity in the input or weights can meet its negation inside a
// transform and give NaN where the direct sum gives ±Inf. So every output is checked before its
// epilogue: at the first that is not finite (or a transform overflowed) the kernel recomputes the
// batch item directly (matmul.ts), overwriting what was written.
import type { MatmulKernel } from '../../src/core/kernel.js';
import type { Module, Ref } from './emit.js';
import type { KernelModule } from './module.js';
import { registerTile } from './tile.js';

/** Below these sizes the transforms cost more than the multiply-adds they save. */
const MIN_CHANNELS = 16;
const MIN_OUTPUTS = 64;
/** Bytes wV may read past the input's last element (under memory.ts's tail slack of 64). */
const READ_PAST_BYTES = 48;
/** Bytes of a block's V and M together (half the L2 of current cores). */
const BLOCK_BYTES = 256 << 10;

/** Geometry of a convolution kernel computed by Winograd F(2×2, 3×3). */
export interface WinogradPlan {
  readonly cin: number;
  readonly cout: number;
  readonly ho: number;
  readonly wo: number;
  /** Tile rows and columns (2×2 outputs each); columns padded to a multiple of 4 (one vector of tiles). */
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
   * Bytes between the 16 planes of U, V and M: 64 more than a plane, so that the 16 vectors of one
   * tile (read or written together) do not all fall in one L1 set, as planes a power of two apart would.
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

/**
 * The plan for a matmul kernel that is a 3×3, stride-1, dilation-1 convolution large enough to gain,
 * else null: B split [Cin, 3, 3] x [Ho, Wo] with the window's row and column moving by one input
 * row and one element, bounds (padding) only of the form lo <= position + tap < hi, A in place.
 */
export function winogradPlan(k: MatmulKernel): WinogradPlan | null {
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
  const th = Math.ceil(ho / 2), tw = Math.ceil(wo / 2), twp = Math.ceil(tw / 4) * 4;
  // wV reads whole vectors: up to cLo elements before a row's data and (in the last group) a few
  // past it, which must stay within the heap's slack after the last buffer (memory.ts).
  const lastRead = 2 * (twp - 4) + 9;
  if (cLo > 64 || 4 * (lastRead - (cHi - 1)) > READ_PAST_BYTES) return null;
  const tiles = th * twp;
  const tb = Math.min(Math.ceil(tiles / 8) * 8, Math.max(8, Math.floor(BLOCK_BYTES / (16 * 4 * (cin + k.m)) / 8) * 8));
  const npb = tb / 8;
  const align = (x: number) => ((x + 15) & ~15) + 32;
  const uPlane = k.m * cin * 4 + 64, vPlane = npb * cin * 32 + 64, mPlane = k.m * tb * 4 + 64;
  return {
    cin, cout: k.m, ho, wo, th, tw, twp, groupsPerRow: twp / 4, groups: tiles / 4, tb, npb, uPlane, vPlane, mPlane,
    chanStride: sC, rowStride: sKh, rLo, rHi, cLo, cHi,
    uBytes: align(16 * uPlane), vBytes: align(16 * vPlane), mBytes: align(16 * mPlane),
  };
}

/**
 * Bᵀ x, one output per row as x[i] ± x[j]: the input transform's rows and columns, in WebAssembly
 * and in winogradJs (each float operation here is part of the results' bits).
 */
const BT: readonly (readonly [number, '+' | '-', number])[] = [[0, '-', 2], [1, '+', 2], [2, '-', 1], [1, '-', 3]];

/** Lane picks of two f32x4 vectors as the byte shuffle of i8x16.shuffle. */
function shuffle(m: Module, a: Ref, b: Ref, lanes: readonly number[]): Ref {
  return m.i8x16.shuffle(a, b, lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]));
}

/**
 * Adds the Winograd stages to `km` (ξ = one of the 16 points of a transformed 4×4 tile; a block's
 * tiles are numbered from 0; addresses in bytes):
 * wU(aBase, U) (internal): U[ξ][co][ci] = (G g Gᵀ)[ξ] of the weights, element (co, k) at
 * aBase + 4·(co·am + k·ak), k = ci·9 + kh·3 + kw;
 * wV(xBase, V, g0, g1) (internal): V[ξ][panel][ci][8 tiles] = (Bᵀ d B)[ξ] of the tile groups g0..g1-1,
 * padded input element (ci, r, c) at xBase + 4·(ci·chanStride + r·rowStride + c);
 * wMM(U, V, M, panels): M[ξ][co][tile] = Σ_ci U[ξ][co][ci]·V[ξ][ci][tile], ci in order, multiply-adds;
 * wY(M, g0, g1) -> i32: the outputs (Aᵀ M A) of each tile, output (co, oh·Wo + ow) passed to the
 * kernel's epilogue (`epilogue.row8(co, n, lanes 0-3, lanes 4-7)` for 8 consecutive outputs,
 * `epilogue.one(co, n, lane 0, _)`); returns 1, at once, when an output is not finite.
 * Each formula's operation order is fixed here and mirrored by winogradJs below.
 */
export function buildWinogradStages(km: KernelModule, p: WinogradPlan, am: number, ak: number, epilogue: { readonly row8: string; readonly one: string }): void {
  const m = km.m;
  const b = km.b;
  const i32 = b.i32, v128 = b.v128, f32 = b.f32;
  const { cin, cout, tb, ho, wo, groupsPerRow } = p;
  const i = (x: number) => m.i32.const(x | 0);

  // ---- wU: per (co, ci) 9 weights -> 16, rows then columns: h0 = g0, h1 = ((g0+g2)+g1)/2, h2 = ((g0+g2)-g1)/2, h3 = g2
  {
    const fn = km.fn(2);
    const co = fn.local(i32), ci = fn.local(i32), src = fn.local(i32), dst = fn.local(i32);
    const g = Array.from({ length: 9 }, () => fn.local(f32));
    const t = Array.from({ length: 12 }, () => fn.local(f32));
    const half = () => m.f32.const(0.5);
    const filt = (x0: Ref, x1: () => Ref, x2: Ref, set: (j: number, v: Ref) => void, s02: number) => {
      fn.set(s02, m.f32.add(x0, x2));
      set(1, m.f32.mul(m.f32.add(fn.get(s02), x1()), half()));
      set(2, m.f32.mul(m.f32.sub(fn.get(s02), x1()), half()));
    };
    const s02 = fn.local(f32);
    fn.forRange(co, i(0), () => i(cout), 1, () => {
      fn.forRange(ci, i(0), () => i(cin), 1, () => {
        fn.set(src, m.i32.add(fn.get(0), m.i32.add(m.i32.mul(fn.get(co), i(am * 4)), m.i32.mul(fn.get(ci), i(9 * ak * 4)))));
        for (let j = 0; j < 9; j++) fn.set(g[j], m.f32.load(j * ak * 4, 4, fn.get(src)));
        // Rows (over kh) for each kw: t[r*3 + kw], r = 0..3.
        for (let c = 0; c < 3; c++) {
          const gr = (r: number) => fn.get(g[r * 3 + c]);
          fn.set(t[c], gr(0));
          filt(gr(0), () => gr(1), gr(2), (r, v) => fn.set(t[r * 3 + c], v), s02);
          fn.set(t[9 + c], gr(2));
        }
        // Columns (over kw) for each row r: U[r*4 + c].
        fn.set(dst, m.i32.add(fn.get(1), m.i32.mul(m.i32.add(m.i32.mul(fn.get(co), i(cin)), fn.get(ci)), i(4))));
        const plane = p.uPlane;
        for (let r = 0; r < 4; r++) {
          const tr = (c: number) => fn.get(t[r * 3 + c]);
          const store = (c: number, v: Ref) => fn.emit(m.f32.store((r * 4 + c) * plane, 4, fn.get(dst), v));
          store(0, tr(0));
          filt(tr(0), () => tr(1), tr(2), store, s02);
          store(3, tr(2));
        }
      }, true);
    }, true);
    fn.finish('wU', b.none, false);
  }

  // ---- wV(xBase, V, g0, g1): per group of 4 tiles in [g0, g1), every channel: 4 rows x 4 vectors -> 16 tile vectors
  {
    const fn = km.fn(4);
    const ty = fn.local(i32), gx = fn.local(i32), ci = fn.local(i32), dst = fn.local(i32), t0 = fn.local(i32), g = fn.local(i32);
    const rowAddr = [0, 1, 2, 3].map(() => fn.local(i32));
    const rowOk = [0, 1, 2, 3].map(() => fn.local(i32));
    // Vectors of columns cb + [0..3], [4..7], [2..5], [6..9] (cb = 2·first tile column).
    const OFF = [0, 4, 2, 6];
    const masks = Array.from({ length: 16 }, () => fn.local(v128));
    const planeBytes = p.vPlane;
    /** The transform of one channel: loads(r, L) gives row r's vector L; stores the 16 tile vectors at dst. */
    const transform = (load: (r: number, L: number) => Ref) => {
      /** Output k of Bᵀ x (vectors in locals). */
      const btOut = (k: number, x: readonly number[]): Ref => {
        const [i0, op, i1] = BT[k];
        return op === '+' ? m.f32x4.add(fn.get(x[i0]), fn.get(x[i1])) : m.f32x4.sub(fn.get(x[i0]), fn.get(x[i1]));
      };
      // Row by row: d[q] (lanes j = column cb + 2j + q), then Bᵀ over q: e[r][q']. Bᵀ over the rows
      // stores each output as soon as its rows are in (rows 0-2 give three), so few vectors stay live.
      const e: number[][] = [];
      const store = (r: number, q: number, v: Ref) => fn.emit(m.v128.store((r * 4 + q) * planeBytes, 4, fn.get(dst), v));
      for (let r = 0; r < 4; r++) {
        const L = OFF.map((_, Lx) => fn.let(v128, load(r, Lx)));
        const d = [
          fn.let(v128, shuffle(m, fn.get(L[0]), fn.get(L[1]), [0, 2, 4, 6])),
          fn.let(v128, shuffle(m, fn.get(L[0]), fn.get(L[1]), [1, 3, 5, 7])),
          fn.let(v128, shuffle(m, fn.get(L[2]), fn.get(L[3]), [0, 2, 4, 6])),
          fn.let(v128, shuffle(m, fn.get(L[2]), fn.get(L[3]), [1, 3, 5, 7])),
        ];
        e.push(BT.map((_, k) => fn.let(v128, btOut(k, d))));
        const ready = BT.map((_, k) => k).filter((k) => Math.max(BT[k][0], BT[k][2]) === r);
        for (let q = 0; q < 4; q++) for (const k of ready) store(k, q, btOut(k, e.map((row) => row[q])));
      }
    };
    fn.forRange(g, fn.get(2), () => fn.get(3), 1, () => {
      fn.set(ty, m.i32.div_u(fn.get(g), i(groupsPerRow)));
      fn.set(gx, m.i32.rem_u(fn.get(g), i(groupsPerRow)));
      // The group's first tile within the block, t0: panel t0 >> 3, half (t0 >> 2) & 1 of its 8 columns.
      fn.set(t0, m.i32.shl(m.i32.sub(fn.get(g), fn.get(2)), i(2)));
      const base = () => m.i32.add(fn.get(1), m.i32.add(m.i32.mul(m.i32.shr_u(fn.get(t0), i(3)), i(cin * 32)),
        m.i32.shl(m.i32.and(m.i32.shr_u(fn.get(t0), i(2)), i(1)), i(4))));
      const cb = () => m.i32.shl(fn.get(gx), i(3));
      for (let r = 0; r < 4; r++) {
        const pr = () => m.i32.add(m.i32.shl(fn.get(ty), i(1)), i(r));
        fn.set(rowOk[r], m.i32.and(m.i32.ge_s(pr(), i(p.rLo)), m.i32.lt_s(pr(), i(p.rHi))));
      }
      const interior = m.i32.and(m.i32.and(m.i32.and(fn.get(rowOk[0]), fn.get(rowOk[3])), m.i32.and(fn.get(rowOk[1]), fn.get(rowOk[2]))),
        m.i32.and(m.i32.ge_s(cb(), i(p.cLo)), m.i32.le_s(m.i32.add(cb(), i(10)), i(p.cHi))));
      const channels = (load: (r: number, L: number) => Ref, safe: boolean) => {
        fn.set(dst, base());
        for (let r = 0; r < 4; r++) {
          const real = m.i32.add(fn.get(0), m.i32.shl(m.i32.add(m.i32.mul(m.i32.add(m.i32.shl(fn.get(ty), i(1)), i(r)), i(p.rowStride)), cb()), i(2)));
          // A row outside the data reads the reserved bottom of memory (masked to 0) instead.
          fn.set(rowAddr[r], safe ? m.select(fn.get(rowOk[r]), real, i(0)) : real);
        }
        fn.forRange(ci, i(0), () => i(cin), 1, () => {
          transform(load);
          fn.set(dst, m.i32.add(fn.get(dst), i(32)));
          for (let r = 0; r < 4; r++) fn.set(rowAddr[r], m.i32.add(fn.get(rowAddr[r]), safe ? m.select(fn.get(rowOk[r]), i(p.chanStride * 4), i(0)) : i(p.chanStride * 4)));
        }, true);
      };
      fn.if(interior, () => channels((r, L) => m.v128.load(OFF[L] * 4, 4, fn.get(rowAddr[r])), false), () => {
        // Lanes outside the data: per vector L a column mask, per row all or nothing.
        for (let L = 0; L < 4; L++) {
          let cols = m.i32x4.add(m.i32x4.splat(m.i32.add(cb(), i(OFF[L]))), m.v128.const([0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]));
          const cl = fn.let(v128, cols);
          cols = m.v128.and(m.i32x4.ge_s(fn.get(cl), m.i32x4.splat(i(p.cLo))), m.i32x4.lt_s(fn.get(cl), m.i32x4.splat(i(p.cHi))));
          const cm = fn.let(v128, cols);
          for (let r = 0; r < 4; r++) fn.set(masks[r * 4 + L], m.v128.and(fn.get(cm), m.i32x4.splat(m.i32.sub(i(0), fn.get(rowOk[r])))));
        }
        channels((r, L) => m.v128.and(m.v128.load(OFF[L] * 4, 4, fn.get(rowAddr[r])), fn.get(masks[r * 4 + L])), true);
      });
    });
    fn.finish('wV', b.none, false);
  }

  // ---- wMM: for each ξ, panel and block of 4 output channels: a register tile over Cin ----------
  const tile = (R: number): string => {
    const name = `wt${R}`;
    const fn = km.fn(3); // (pa, pb, pc)
    const acc = registerTile(fn, R, cin * 4, 4, cin * 32);
    for (let r = 0; r < R; r++) {
      for (let cv = 0; cv < 2; cv++) fn.emit(m.v128.store(r * tb * 4 + cv * 16, 16, fn.get(2), acc[2 * r + cv].r));
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
    fn.forRange(xi, i(0), () => i(16), 1, () => {
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

  // ---- wY(M, g0, g1) -> bad: per output channel and group of 4 tiles: Aᵀ M A, two output rows to the epilogue
  {
    const fn = km.fn(3);
    const co = fn.local(i32), ty = fn.local(i32), gx = fn.local(i32), src = fn.local(i32), n0 = fn.local(i32), g = fn.local(i32);
    const planeBytes = p.mPlane;
    const notFinite = (v: number): Ref => { const z = fn.let(v128, m.f32x4.sub(fn.get(v), fn.get(v))); return m.f32x4.ne(fn.get(z), fn.get(z)); };
    const fail = () => fn.emit(m.return(i(1)));
    fn.forRange(co, i(0), () => i(cout), 1, () => {
      fn.forRange(g, fn.get(1), () => fn.get(2), 1, () => {
        fn.set(ty, m.i32.div_u(fn.get(g), i(groupsPerRow)));
        fn.set(gx, m.i32.rem_u(fn.get(g), i(groupsPerRow)));
        fn.set(src, m.i32.add(fn.get(0), m.i32.shl(m.i32.add(m.i32.mul(fn.get(co), i(tb)), m.i32.shl(m.i32.sub(fn.get(g), fn.get(1)), i(2))), i(2))));
        const mv = Array.from({ length: 16 }, (_, x) => fn.let(v128, m.v128.load(x * planeBytes, 16, fn.get(src))));
        // Aᵀ x: (x0 + x1) + x2, (x1 - x2) - x3.
        const at = (x: readonly number[]): [Ref, Ref] => [
          m.f32x4.add(m.f32x4.add(fn.get(x[0]), fn.get(x[1])), fn.get(x[2])),
          m.f32x4.sub(m.f32x4.sub(fn.get(x[1]), fn.get(x[2])), fn.get(x[3])),
        ];
        // Rows first: s[a][q] for a = 0, 1 over ξ rows; then columns.
        const s = [0, 1, 2, 3].map((q) => at([mv[q], mv[4 + q], mv[8 + q], mv[12 + q]]).map((v) => fn.let(v128, v)));
        const y = [0, 1].map((a) => at([s[0][a], s[1][a], s[2][a], s[3][a]]).map((v) => fn.let(v128, v)));
        const oh0 = () => m.i32.shl(fn.get(ty), i(1));
        const ow0 = () => m.i32.shl(fn.get(gx), i(3));
        fn.set(n0, m.i32.add(m.i32.mul(oh0(), i(wo)), ow0()));
        const whole = m.i32.and(m.i32.lt_s(m.i32.add(oh0(), i(1)), i(ho)), m.i32.le_s(m.i32.add(ow0(), i(8)), i(wo)));
        fn.if(whole, () => {
          const anyBad = [0, 1].flatMap((a) => [0, 1].map((bb) => notFinite(y[a][bb]))).reduce((x, z) => m.v128.or(x, z));
          fn.if(m.v128.any_true(anyBad), fail);
          for (let a = 0; a < 2; a++) {
            fn.emit(m.call(epilogue.row8, [fn.get(co), a ? m.i32.add(fn.get(n0), i(wo)) : fn.get(n0),
              shuffle(m, fn.get(y[a][0]), fn.get(y[a][1]), [0, 4, 1, 5]), shuffle(m, fn.get(y[a][0]), fn.get(y[a][1]), [2, 6, 3, 7])], b.none));
          }
        }, () => {
          // The last tile row or column: the outputs inside [Ho, Wo] one by one.
          for (let a = 0; a < 2; a++) {
            for (let j = 0; j < 4; j++) {
              for (let bb = 0; bb < 2; bb++) {
                const ok = m.i32.and(m.i32.lt_s(m.i32.add(oh0(), i(a)), i(ho)), m.i32.lt_s(m.i32.add(ow0(), i(2 * j + bb)), i(wo)));
                fn.if(ok, () => {
                  const val = fn.let(f32, m.f32x4.extract_lane(fn.get(y[a][bb]), j));
                  const z = fn.let(f32, m.f32.sub(fn.get(val), fn.get(val)));
                  fn.if(m.f32.ne(fn.get(z), fn.get(z)), fail);
                  fn.emit(m.call(epilogue.one, [fn.get(co), m.i32.add(fn.get(n0), i(a * wo + 2 * j + bb)), m.f32x4.splat(fn.get(val)), m.v128.const(new Array(16).fill(0))], b.none));
                });
              }
            }
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
 * batch item, bit for bit as the WebAssembly stages above (float32 rounding at every step, the same
 * operation order, multiply-adds as `madd`), or null where an output is not finite (the kernel then
 * sums directly). `a`, `b`: element arrays; `aBase`, `bBase`: the batch item's offsets in them.
 */
export function winogradJs(p: WinogradPlan, a: Float32Array, aBase: number, am: number, ak: number,
  b: Float32Array, bBase: number, madd: (x: number, y: number, z: number) => number): Float32Array | null {
  const f = Math.fround;
  const { cin, cout, ho, wo, th, tw } = p;
  /** G x (3 -> 4) and Bᵀ x, Aᵀ x (4 -> 4, 4 -> 2), as in the stages. */
  const g4 = (x0: number, x1: number, x2: number): number[] => { const s = f(x0 + x2); return [x0, f(f(s + x1) * 0.5), f(f(s - x1) * 0.5), x2]; };
  const bt = (x: readonly number[]): number[] => BT.map(([i0, op, i1]) => (op === '+' ? f(x[i0] + x[i1]) : f(x[i0] - x[i1])));
  const at = (x: readonly number[]): number[] => [f(f(x[0] + x[1]) + x[2]), f(f(x[1] - x[2]) - x[3])];
  const U = new Float32Array(16 * cout * cin);
  for (let co = 0; co < cout; co++) {
    for (let ci = 0; ci < cin; ci++) {
      const g = (kh: number, kw: number) => a[aBase + co * am + (ci * 9 + kh * 3 + kw) * ak];
      const t = [0, 1, 2].map((c) => g4(g(0, c), g(1, c), g(2, c))); // t[kw][r]
      for (let r = 0; r < 4; r++) g4(t[0][r], t[1][r], t[2][r]).forEach((v, q) => { U[((r * 4 + q) * cout + co) * cin + ci] = v; });
    }
  }
  const inside = (r: number, c: number) => r >= p.rLo && r < p.rHi && c >= p.cLo && c < p.cHi;
  const V = new Float32Array(16 * cin);
  const Y = new Float32Array(cout * ho * wo);
  for (let ty = 0; ty < th; ty++) {
    for (let tx = 0; tx < tw; tx++) {
      for (let ci = 0; ci < cin; ci++) {
        const d = (r: number, q: number) => {
          const pr = 2 * ty + r, pc = 2 * tx + q;
          return inside(pr, pc) ? b[bBase + ci * p.chanStride + pr * p.rowStride + pc] : 0;
        };
        const e = [0, 1, 2, 3].map((r) => bt([d(r, 0), d(r, 1), d(r, 2), d(r, 3)])); // e[r][q']
        for (let q = 0; q < 4; q++) bt([e[0][q], e[1][q], e[2][q], e[3][q]]).forEach((v, r) => { V[(r * 4 + q) * cin + ci] = v; });
      }
      for (let co = 0; co < cout; co++) {
        const mv = new Array<number>(16);
        for (let x = 0; x < 16; x++) {
          let s = 0;
          for (let ci = 0; ci < cin; ci++) s = f(madd(U[(x * cout + co) * cin + ci], V[x * cin + ci], s));
          mv[x] = s;
        }
        const s = [0, 1, 2, 3].map((q) => at([mv[q], mv[4 + q], mv[8 + q], mv[12 + q]])); // s[q][a]
        for (let ra = 0; ra < 2; ra++) {
          const y = at([s[0][ra], s[1][ra], s[2][ra], s[3][ra]]);
          for (let cb = 0; cb < 2; cb++) {
            const oh = 2 * ty + ra, ow = 2 * tx + cb;
            if (oh >= ho || ow >= wo) continue;
            if (!Number.isFinite(y[cb])) return null;
            Y[(co * ho + oh) * wo + ow] = y[cb];
          }
        }
      }
    }
  }
  return Y;
}
