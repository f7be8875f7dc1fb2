// wasm backend: the register tile shared by the matmul template (matmul.ts) and Winograd's products
// (winograd.ts): R rows of A broadcast-loaded against a packed panel of 8 B columns, 2·R f32x4
// accumulators, one multiply-add each per k step.
import type { F, Fn } from './emit.js';
import { Lanes } from './emit.js';
import { addConst } from './loops.js';

/**
 * Emits into `fn` the k loop of an R x 8 tile: A row r at byte offset r·aRowBytes from param 0 (moving
 * aStepBytes per k step), B's panel from param 1 (32 bytes per k step, `kBytes` in all). Returns the
 * accumulators (row r: 2r for columns 0-3, 2r + 1 for 4-7), zero when kBytes is 0.
 */
export function registerTile(fn: Fn, R: number, aRowBytes: number, aStepBytes: number, kBytes: number): F[] {
  const m = fn.m;
  const i32 = fn.b.i32;
  const c4 = new Lanes(fn, 4);
  const acc = Array.from({ length: R * 2 }, () => c4.fconst(0));
  if (kBytes <= 0) return acc;
  const pa = fn.let(i32, fn.get(0));
  const pb = fn.let(i32, fn.get(1));
  const end = fn.let(i32, m.i32.add(fn.get(1), m.i32.const(kBytes)));
  const L = fn.label('k');
  fn.emit(m.loop(L, fn.block(() => {
    const b0 = c4.f(m.v128.load(0, 16, fn.get(pb)));
    const b1 = c4.f(m.v128.load(16, 16, fn.get(pb)));
    for (let r = 0; r < R; r++) {
      const a = c4.f(m.v128.load32_splat(r * aRowBytes, 4, fn.get(pa)));
      fn.set(acc[2 * r].idx, a.madd(b0, acc[2 * r]).r);
      fn.set(acc[2 * r + 1].idx, a.madd(b1, acc[2 * r + 1]).r);
    }
    fn.set(pa, addConst(fn, fn.get(pa), aStepBytes));
    fn.set(pb, m.i32.add(fn.get(pb), m.i32.const(32)));
    fn.emit(m.br(L, m.i32.ne(fn.get(pb), fn.get(end))));
  })));
  return acc;
}
