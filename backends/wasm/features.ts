// wasm backend: optional WebAssembly features the runtime may have. Relaxed SIMD gives a fused
// multiply-add (f32x4.relaxed_madd): on by default in Chrome >= 114 and Node >= 22; on Node 20 it is
// behind --experimental-wasm-relaxed-simd, which v8flags.ts sets for kernel modules. Kernels use it
// where either rounding is correct (polynomials, range reduction, matmul accumulation), never to
// contract a user's separate mul and add.

/** (func (param v128) (result v128) (f32x4.relaxed_madd (local.get 0) (local.get 0) (local.get 0))) */
export const RELAXED_MADD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x06, 0x01, 0x60, 0x01, 0x7b, 0x01, 0x7b, 0x03, 0x02,
  0x01, 0x00, 0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x00, 0x20, 0x00, 0xfd, 0x85, 0x02, 0x0b,
]);

let relaxed: boolean | undefined;

/** True when this runtime compiles relaxed SIMD as it stands (checked once, by validating a tiny module). */
export function hasRelaxedSimd(): boolean {
  if (relaxed === undefined) {
    try { relaxed = WebAssembly.validate(RELAXED_MADD_PROBE); } catch { relaxed = false; }
  }
  return relaxed;
}

/**
 * (func (export "f") (param f32 f32 f32) (result f32)
 *   (f32x4.extract_lane 0 (f32x4.relaxed_madd (f32x4.splat a) (f32x4.splat b) (f32x4.splat c))))
 */
export const RELAXED_MADD_F32 = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x01, 0x60, 0x03, 0x7d, 0x7d, 0x7d, 0x01, 0x7d,
  0x03, 0x02, 0x01, 0x00, 0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, 0x0a, 0x16, 0x01, 0x14, 0x00,
  0x20, 0x00, 0xfd, 0x13, 0x20, 0x01, 0xfd, 0x13, 0x20, 0x02, 0xfd, 0x13, 0xfd, 0x85, 0x02, 0xfd, 0x1f, 0x00, 0x0b,
]);

/**
 * Whether relaxed_madd rounds once (a hardware FMA) in modules compiled by `compile`: relaxed SIMD
 * lets the engine choose. (1 + 2^-12)^2 - (1 + 2^-11) is 2^-24 fused and 0 as a multiply then an add.
 */
export function relaxedMaddFuses(compile: (bytes: Uint8Array<ArrayBuffer>) => WebAssembly.Module): boolean {
  const f = new WebAssembly.Instance(compile(RELAXED_MADD_F32 as Uint8Array<ArrayBuffer>)).exports.f as (a: number, b: number, c: number) => number;
  const a = 1 + 2 ** -12;
  return f(a, a, -(1 + 2 ** -11)) !== 0;
}
