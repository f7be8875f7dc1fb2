// Hand-written binaryen reference kernels the wasm backend's generated code is measured against:
// a SIMD `y = a*x + b` stream (memory roofline), a SIMD GELU with a polynomial tanh written as a
// person would (algebra folded, constants hoisted: the compute roofline for GELU), and SIMD mul+add
// loops whose best rate is the peak GFLOP/s of one core.
import type binaryenNS from 'binaryen';
import { compileModule } from '../backends/wasm/v8flags.js';
import type { RelaxedApi } from '../backends/wasm/emit.js';
import { loadBinaryen } from '../backends/wasm/load-binaryen.js';

type Binaryen = typeof binaryenNS;
type Module = binaryenNS.Module;
type Ref = binaryenNS.ExpressionRef;

/** The reference kernels, instantiated against a given memory. Element counts n: multiples of 16. */
export interface References {
  /** y[i] = 2.5 * x[i] + 1 over n float32 (byte pointers), 4 x f32x4 per iteration. */
  readonly axpb: (x: number, y: number, n: number) => void;
  /** y = 0.5 x (1 + tanh(0.7978845608 (x + 0.044715 x^3))) over n float32, one f32x4 per iteration. */
  readonly gelu: (x: number, y: number, n: number) => void;
  /** The same GELU with two / four f32x4 interleaved per iteration (the best of the three is the roof). */
  readonly gelu2: (x: number, y: number, n: number) => void;
  readonly gelu4: (x: number, y: number, n: number) => void;
  /** Peak loops: each runs `iters` iterations of `flopsPerIter` flops (mul and add counted as 1 each). */
  readonly peak: readonly { readonly name: string; readonly flopsPerIter: number; readonly run: (iters: number, scratch: number) => void }[];
}

function f32x4(x: number): number[] {
  return Array.from(new Uint8Array(new Float32Array([x, x, x, x]).buffer));
}
function i32x4(x: number): number[] {
  return Array.from(new Uint8Array(new Int32Array([x, x, x, x]).buffer));
}

function newModule(b: Binaryen, relaxed = false): Module {
  const m = new b.Module();
  m.setFeatures(b.Features.SIMD128 | b.Features.NontrappingFPToInt | b.Features.SignExt | b.Features.BulkMemory | (relaxed ? b.Features.RelaxedSIMD : 0));
  m.setMemory(1, 65536, null, [], false, false, 'mem');
  m.addMemoryImport('mem', 'env', 'memory');
  return m;
}

/** y = a*x + b: the memory-bound stream every elementwise kernel is compared with. */
function buildAxpb(b: Binaryen, m: Module): void {
  const { i32, v128 } = b;
  const g = (i: number, t = i32) => m.local.get(i, t);
  // params x, y, n; locals: i(3), a(4), c(5), end(6)
  const body: Ref[] = [];
  for (let u = 0; u < 4; u++) {
    body.push(m.v128.store(16 * u, 16, m.i32.add(g(1), g(3)),
      m.f32x4.add(m.f32x4.mul(m.v128.load(16 * u, 16, m.i32.add(g(0), g(3))), g(4, v128)), g(5, v128))));
  }
  body.push(m.local.set(3, m.i32.add(g(3), m.i32.const(64))), m.br('L', m.i32.lt_u(g(3), g(6))));
  m.addFunction('axpb', b.createType([i32, i32, i32]), b.none, [i32, v128, v128, i32], m.block(null, [
    m.local.set(4, m.v128.const(f32x4(2.5))), m.local.set(5, m.v128.const(f32x4(1))),
    m.local.set(3, m.i32.const(0)), m.local.set(6, m.i32.shl(g(2), m.i32.const(2))),
    m.if(m.i32.gt_u(g(6), m.i32.const(0)), m.loop('L', m.block(null, body))),
  ]));
  m.addFunctionExport('axpb', 'axpb');
}

/**
 * GELU, tanh form, as a hand-written kernel: u = x (c1 + c2 x^2); tanh(u) by Cephes (odd polynomial
 * below 0.625, 1 - 2/(e^(2|u|) + 1) above with |u| clamped to 9.5 so e^ needs one 2^n scale, added
 * to the exponent bits; e^r by a degree-4 minimax polynomial); y = h + h tanh(u) with h = x/2. `U` vectors per iteration, interleaved
 * statement by statement (the CPU overlaps their dependency chains); the benchmark takes the best U.
 */
function buildGelu(b: Binaryen, m: Module, U = 1, name = 'gelu'): void {
  const { i32, v128 } = b;
  const vars: number[] = [];
  const P = 3;
  const L = () => { vars.push(v128); return P + vars.length - 1; };
  const iL = () => { vars.push(i32); return P + vars.length - 1; };
  const g = (i: number) => m.local.get(i, v128);
  const gi = (i: number) => m.local.get(i, i32);
  const K = (x: number) => m.v128.const(f32x4(x));
  const f = m.f32x4;
  const set = (l: number, r: Ref) => m.local.set(l, r);
  const i = iL(), end = iL();
  const lanes = Array.from({ length: U }, (_, u) => {
    const x = L(), uu = L(), au = L(), t = L(), e = L(), z = L(), p = L(), h = L(), n = L(), r = L();
    const steps: (() => Ref)[] = [];
    steps.push(() => set(x, m.v128.load(16 * u, 16, m.i32.add(gi(0), gi(i)))));
    steps.push(() => set(uu, f.mul(g(x), f.add(K(0.7978845608), f.mul(K(0.7978845608 * 0.044715), f.mul(g(x), g(x)))))));
    steps.push(() => set(au, f.abs(g(uu))));
    // e^(2|u|), |u| <= 9.5: n = round(v log2 e), r = v - n ln2 (Cody-Waite), Cephes polynomial, scale 2^n.
    // n = round(v log2 e) by adding 1.5*2^23 (the sum's low bits hold n), no convert instructions.
    steps.push(() => set(t, f.mul(f.pmin(g(au), K(9.5)), K(2))));
    steps.push(() => set(h, f.add(f.mul(g(t), K(1.44269504088896341)), K(12582912))));
    steps.push(() => set(n, f.sub(g(h), K(12582912))));
    steps.push(() => set(r, f.sub(f.sub(g(t), f.mul(g(n), K(0.693359375))), f.mul(g(n), K(-2.12194440e-4)))));
    // e^r = 1 + r + r^2 P(r), P of degree 4 (the minimax fit the backend's exp uses).
    steps.push(() => {
      let poly = K(0.0013814583654);
      for (const c of [0.0083687240258, 0.041668388993, 0.16666521132, 0.4999999404]) poly = f.add(f.mul(poly, g(r)), K(c));
      return set(e, f.add(f.add(f.mul(poly, f.mul(g(r), g(r))), g(r)), K(1)));
    });
    steps.push(() => set(e, m.i32x4.add(g(e), m.i32x4.shl(g(h), m.i32.const(23)))));
    steps.push(() => set(t, f.add(K(1), f.neg(f.div(K(2), f.add(g(e), K(1)))))));
    // small |u|: u + u^3 P(u^2)
    steps.push(() => set(z, f.mul(g(au), g(au))));
    steps.push(() => {
      let ps = K(-5.70498872745e-3);
      for (const c of [2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1]) ps = f.add(f.mul(ps, g(z)), K(c));
      return set(p, f.add(f.mul(f.mul(ps, g(z)), g(au)), g(au)));
    });
    steps.push(() => set(t, m.v128.bitselect(g(p), g(t), f.lt(g(au), K(0.625)))));
    steps.push(() => set(t, m.v128.bitselect(g(uu), g(t), m.v128.const(i32x4(0x80000000 | 0))))); // copysign(t, u)
    steps.push(() => set(h, f.mul(g(x), K(0.5))));
    steps.push(() => m.v128.store(16 * u, 16, m.i32.add(gi(1), gi(i)), f.add(g(h), f.mul(g(h), g(t)))));
    return steps;
  });
  const body: Ref[] = [];
  for (let sIdx = 0; sIdx < lanes[0].length; sIdx++) for (let u = 0; u < U; u++) body.push(lanes[u][sIdx]());
  body.push(set(i, m.i32.add(gi(i), m.i32.const(16 * U))), m.br('L', m.i32.lt_u(gi(i), gi(end))));
  m.addFunction(name, b.createType([i32, i32, i32]), b.none, vars, m.block(null, [
    set(i, m.i32.const(0)), set(end, m.i32.shl(gi(2), m.i32.const(2))),
    m.if(m.i32.gt_u(gi(end), m.i32.const(0)), m.loop('L', m.block(null, body))),
  ]));
  m.addFunctionExport(name, name);
}

/**
 * Peak loops. `chains`: C independent chains a = a*y + z (mul then add, values stay put with y = 1,
 * z = 0 loaded at run time so nothing folds). `split`: P mul chains and P add chains interleaved.
 * `l1dot`: 4x2 register tile acc += splat(a) * b over a 2 KB L1-resident buffer (the op mix of a
 * matmul inner loop). The best of these is the peak the matmul is compared with. With `fma` the
 * chains and l1dot use relaxed-SIMD fused multiply-add instead (names end in _fma; split has none).
 */
function buildPeaks(b: Binaryen, m: Module, fma = false): { name: string; flopsPerIter: number }[] {
  const { i32, v128 } = b;
  const out: { name: string; flopsPerIter: number }[] = [];
  const api = b as unknown as RelaxedApi;
  /** x*y + z: fused with `fma`, else a mul then an add. */
  const mac = (x: Ref, y: Ref, z: Ref): Ref => (fma
    ? api._BinaryenSIMDTernary(m.ptr, api._BinaryenRelaxedMaddVecF32x4(), x, y, z)
    : m.f32x4.add(z, m.f32x4.mul(x, y)));
  const suffix = fma ? '_fma' : '';
  const g = (i: number) => m.local.get(i, v128);
  const gi = (i: number) => m.local.get(i, i32);
  // params: iters(0), scratch(1). scratch holds y = 1.0 x4 at 0, z = 0 x4 at 16, seeds from 32.
  const chain = (C: number) => {
    const Y = 2, Z = 3, A0 = 4;
    const init: Ref[] = [m.local.set(Y, m.v128.load(0, 16, gi(1))), m.local.set(Z, m.v128.load(16, 16, gi(1)))];
    for (let j = 0; j < C; j++) init.push(m.local.set(A0 + j, m.v128.load(32 + 16 * (j % 8), 16, gi(1))));
    const body: Ref[] = [];
    for (let j = 0; j < C; j++) body.push(m.local.set(A0 + j, mac(g(A0 + j), g(Y), g(Z))));
    body.push(m.local.set(0, m.i32.sub(gi(0), m.i32.const(1))), m.br('L', gi(0)));
    let s = g(A0);
    for (let j = 1; j < C; j++) s = m.f32x4.add(s, g(A0 + j));
    const name = `chains${C}${suffix}`;
    m.addFunction(name, b.createType([i32, i32]), b.none, new Array(2 + C).fill(v128),
      m.block(null, [...init, m.loop('L', m.block(null, body)), m.v128.store(1024, 16, gi(1), s)]));
    m.addFunctionExport(name, name);
    out.push({ name, flopsPerIter: 8 * C });
  };
  const split = (P: number) => {
    const Y = 2, Z = 3, M0 = 4, A0 = 4 + P;
    const init: Ref[] = [m.local.set(Y, m.v128.load(0, 16, gi(1))), m.local.set(Z, m.v128.load(16, 16, gi(1)))];
    for (let j = 0; j < 2 * P; j++) init.push(m.local.set(M0 + j, m.v128.load(32 + 16 * (j % 8), 16, gi(1))));
    const body: Ref[] = [];
    for (let j = 0; j < P; j++) {
      body.push(m.local.set(M0 + j, m.f32x4.mul(g(M0 + j), g(Y))));
      body.push(m.local.set(A0 + j, m.f32x4.add(g(A0 + j), g(Z))));
    }
    body.push(m.local.set(0, m.i32.sub(gi(0), m.i32.const(1))), m.br('L', gi(0)));
    let s = g(M0);
    for (let j = 1; j < 2 * P; j++) s = m.f32x4.add(s, g(M0 + j));
    const name = `split${P}`;
    m.addFunction(name, b.createType([i32, i32]), b.none, new Array(2 + 2 * P).fill(v128),
      m.block(null, [...init, m.loop('L', m.block(null, body)), m.v128.store(1024, 16, gi(1), s)]));
    m.addFunctionExport(name, name);
    out.push({ name, flopsPerIter: 8 * P });
  };
  const l1dot = () => {
    // locals: acc 8 (2..9), p (10), end(11), b0 b1 (12,13), a (14)
    const ACC = 2, PTR = 10, END = 11, B0 = 12, B1 = 13, A = 14;
    const init: Ref[] = [];
    for (let j = 0; j < 8; j++) init.push(m.local.set(ACC + j, m.v128.const(f32x4(0))));
    const inner: Ref[] = [
      m.local.set(B0, m.v128.load(0, 16, gi(PTR))), m.local.set(B1, m.v128.load(16, 16, gi(PTR))),
    ];
    for (let r = 0; r < 4; r++) {
      inner.push(m.local.set(A, m.v128.load32_splat(32 + 4 * r, 4, gi(PTR))));
      inner.push(m.local.set(ACC + 2 * r, mac(g(A), g(B0), g(ACC + 2 * r))));
      inner.push(m.local.set(ACC + 2 * r + 1, mac(g(A), g(B1), g(ACC + 2 * r + 1))));
    }
    inner.push(m.local.set(PTR, m.i32.add(gi(PTR), m.i32.const(48))), m.br('I', m.i32.ne(gi(PTR), gi(END))));
    const outer = [
      m.local.set(PTR, m.i32.add(gi(1), m.i32.const(2048))), m.local.set(END, m.i32.add(gi(1), m.i32.const(2048 + 48 * 32))),
      m.loop('I', m.block(null, inner)),
      m.local.set(0, m.i32.sub(gi(0), m.i32.const(1))), m.br('L', gi(0)),
    ];
    let s = g(ACC);
    for (let j = 1; j < 8; j++) s = m.f32x4.add(s, g(ACC + j));
    const name = `l1dot${suffix}`;
    m.addFunction(name, b.createType([i32, i32]), b.none, [...new Array(8).fill(v128), i32, i32, v128, v128, v128],
      m.block(null, [...init, m.loop('L', m.block(null, outer)), m.v128.store(1024, 16, gi(1), s)]));
    m.addFunctionExport(name, name);
    out.push({ name, flopsPerIter: 32 * 64 });
  };
  for (const C of [8, 10, 12, 13]) chain(C);
  if (!fma) for (const P of [5, 6]) split(P);
  l1dot();
  return out;
}

/**
 * Builds and instantiates the reference kernels against `memory` (binaryen loaded lazily); with
 * `fma` (the wasm backend's kernels use it, so its flags are set up) also the FMA peak loops.
 */
export async function buildReferences(memory: WebAssembly.Memory, opts: { fma?: boolean } = {}): Promise<References> {
  const b = (await loadBinaryen()) as unknown as Binaryen;
  const m = newModule(b);
  buildAxpb(b, m);
  buildGelu(b, m);
  buildGelu(b, m, 2, 'gelu2');
  buildGelu(b, m, 4, 'gelu4');
  const peaks = buildPeaks(b, m);
  if (!m.validate()) throw new Error('reference module failed validation');
  b.setOptimizeLevel(2);
  m.optimize();
  const bytes = m.emitBinary();
  m.dispose();
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), { env: { memory } });
  const ex = { ...inst.exports } as Record<string, (...a: number[]) => void>;
  // FMA peak loops when the wasm backend's kernels use FMA (compiled the way its kernels are).
  if (opts.fma) {
    const mf = newModule(b, true);
    const fmaPeaks = buildPeaks(b, mf, true);
    if (!mf.validate()) throw new Error('FMA reference module failed validation');
    mf.optimize();
    const fbytes = mf.emitBinary();
    mf.dispose();
    const fex = new WebAssembly.Instance(compileModule(fbytes as Uint8Array<ArrayBuffer>, true), { env: { memory } }).exports as typeof ex;
    for (const p of fmaPeaks) ex[p.name] = fex[p.name];
    peaks.push(...fmaPeaks);
  }
  return {
    axpb: ex.axpb,
    gelu: ex.gelu,
    gelu2: ex.gelu2,
    gelu4: ex.gelu4,
    peak: peaks.map((p) => ({ ...p, run: (iters: number, scratch: number) => ex[p.name](iters, scratch) })),
  };
}

/** Prepares the peak loops' scratch (y = 1, z = 0, seeds, an L1 buffer) at `ptr` (>= 4 KB). */
export function initPeakScratch(memory: WebAssembly.Memory, ptr: number): void {
  const f = new Float32Array(memory.buffer, ptr, 1024);
  f.fill(1, 0, 4);
  f.fill(0, 4, 8);
  for (let i = 8; i < 1024; i++) f[i] = 1 + (i % 7) * 1e-3;
}
