// bench: the roofline, measured in the same run. The wasm backend's hand-written binaryen reference
// kernels (bench/wasm-reference.ts, owned by the wasm engineer) give the bandwidth roof (a SIMD
// y = a*x + b stream), the compute roof (the best SIMD mul+add loop) and a hand GELU. If they cannot
// be built, the bandwidth roof falls back to the machine's copy bandwidth (TypedArray.set), the
// other roofs are unknown, and the report says so.
import { buildReferences, initPeakScratch } from './wasm-reference.js';

/** The roofs measured in this run. */
export interface Roofline {
  /** GB/s of the reference stream kernel (null without the wasm reference module). */
  readonly streamGBs: number | null;
  /** GB/s of a plain TypedArray.set copy (always measured). */
  readonly copyGBs: number;
  /** The bandwidth roof used: the reference stream when present, else the copy. */
  readonly bandwidthGBs: number;
  readonly bandwidthSource: string;
  /** GFLOP/s of the reference mul+add loop (null without it). */
  readonly peakGflops: number | null;
  /** GFLOP/s of the relaxed-SIMD FMA loop, measured when the wasm kernels use FMA (their compute roof). */
  readonly fmaPeakGflops?: number | null;
  /** Elements per second of the hand GELU (null without it). */
  readonly geluElemsPerSec: number | null;
  readonly notes: readonly string[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median seconds per call of `run` after a warm-up. */
async function timeRun(run: () => unknown, reps: number): Promise<number> {
  await run(); await run();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await run();
    ts.push(performance.now() - t0);
  }
  return median(ts) / 1000;
}

/** Plain copy bandwidth: read n floats and write n floats, counted as 8n bytes. */
async function copyBandwidth(n: number, reps: number): Promise<number> {
  const a = new Float32Array(n).fill(1), b = new Float32Array(n);
  const s = await timeRun(() => b.set(a), reps);
  return (8 * n) / s / 1e9;
}

/** Where the reference kernels' buffers sit in their own memory (scratch for the peak loops first). */
const SCRATCH = 4096, BASE = 65536;

/** Runs `fn` until V8 has tiered it up: many short calls first, then a few full ones. */
async function warm(short: () => unknown, full: () => unknown, quick: boolean): Promise<void> {
  for (let i = 0; i < (quick ? 20 : 200); i++) short();
  for (let i = 0; i < (quick ? 1 : 3); i++) full();
  await new Promise((r) => setTimeout(r, quick ? 5 : 50)); // the optimised code is swapped in between calls
}

/** Times the wasm reference kernels: the y = a*x + b stream, the best hand GELU, the best peak loop. */
async function referenceRoofs(n: number, reps: number, quick: boolean, fma: boolean): Promise<{ streamGBs: number; geluElemsPerSec: number; geluKernel: string; peakGflops: number; peakLoop: string; fmaPeakGflops: number | null; fmaPeakLoop: string }> {
  const pages = Math.ceil((BASE + 8 * n) / 65536) + 1;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const refs = await buildReferences(memory, { fma });
  initPeakScratch(memory, SCRATCH);
  const x = BASE, y = BASE + 4 * n;
  const f = new Float32Array(memory.buffer, x, n);
  for (let i = 0; i < n; i++) f[i] = ((i * 7919) % 6000) / 1000 - 3; // GELU's interesting range, both tanh branches
  const small = Math.min(n, 1 << 14);
  await warm(() => refs.axpb(x, y, small), () => refs.axpb(x, y, n), quick);
  const streamGBs = (8 * n) / (await timeRun(() => refs.axpb(x, y, n), reps)) / 1e9;
  let gelu = { rate: 0, name: '' };
  for (const [name, g] of [['gelu', refs.gelu], ['gelu2', refs.gelu2], ['gelu4', refs.gelu4]] as const) {
    await warm(() => g(x, y, small), () => g(x, y, n), quick);
    const rate = n / (await timeRun(() => g(x, y, n), reps));
    if (rate > gelu.rate) gelu = { rate, name };
  }
  let peak = { gflops: 0, name: '' };
  let fmaPeak = { gflops: 0, name: '' };
  for (const loop of refs.peak) {
    // Calibrate the iteration count to ~10 ms a call (~2 ms in quick runs).
    loop.run(1000, SCRATCH);
    const t0 = performance.now();
    loop.run(20000, SCRATCH);
    const perIter = Math.max((performance.now() - t0) / 20000, 1e-7);
    const iters = Math.max(1000, Math.round((quick ? 2 : 10) / perIter));
    await warm(() => loop.run(1000, SCRATCH), () => loop.run(iters, SCRATCH), quick);
    const gflops = (iters * loop.flopsPerIter) / (await timeRun(() => loop.run(iters, SCRATCH), reps)) / 1e9;
    const isFma = loop.name.endsWith('_fma');
    if (isFma && gflops > fmaPeak.gflops) fmaPeak = { gflops, name: loop.name };
    if (!isFma && gflops > peak.gflops) peak = { gflops, name: loop.name };
  }
  return {
    streamGBs, geluElemsPerSec: gelu.rate, geluKernel: gelu.name, peakGflops: peak.gflops, peakLoop: peak.name,
    fmaPeakGflops: fmaPeak.name ? fmaPeak.gflops : null, fmaPeakLoop: fmaPeak.name,
  };
}

/** Measures the roofs over `n` float32 (64 MiB at 16M: past every cache), `reps` timed calls each. */
export async function measureRoofline(opts: { n: number; reps: number; quick?: boolean; fma?: boolean }): Promise<Roofline> {
  const { n, reps } = opts;
  const notes: string[] = [];
  const copyGBs = await copyBandwidth(n, reps);
  let ref: Awaited<ReturnType<typeof referenceRoofs>> | null = null;
  try {
    ref = await referenceRoofs(n, reps, !!opts.quick, !!opts.fma);
  } catch (e) {
    notes.push(`wasm reference kernels (bench/wasm-reference.ts) failed: ${(e as Error).message.split('\n')[0]}; bandwidth roof = copy, no compute or GELU roof`);
  }
  if (ref) {
    notes.push(`compute roof: best peak loop ${ref.fmaPeakGflops !== null ? `${ref.fmaPeakLoop} (FMA; mul+add: ${ref.peakLoop})` : ref.peakLoop}; ` +
      `GELU roof: ${ref.geluKernel} (wasm SIMD, one thread)`);
  }
  return {
    streamGBs: ref?.streamGBs ?? null, copyGBs, bandwidthGBs: ref?.streamGBs ?? copyGBs,
    bandwidthSource: ref ? 'wasm SIMD y=a*x+b stream' : 'TypedArray.set copy',
    peakGflops: ref?.peakGflops ?? null, fmaPeakGflops: ref?.fmaPeakGflops ?? null, geluElemsPerSec: ref?.geluElemsPerSec ?? null, notes,
  };
}

/**
 * Fraction of the roof a run reached. GELU against the hand GELU when there is one; otherwise the
 * roofline model: attainable = min(peak, intensity x bandwidth) (bandwidth alone without a peak).
 */
export function rooflineFraction(r: Roofline, kind: 'stream' | 'gelu' | 'compute', w: { seconds: number; flops: number; bytes: number; elements?: number }): { fraction: number; bound: string } | null {
  if (!(w.seconds > 0)) return null;
  if (kind === 'gelu' && r.geluElemsPerSec && w.elements) {
    return { fraction: w.elements / w.seconds / r.geluElemsPerSec, bound: 'hand GELU' };
  }
  if (w.bytes <= 0) return null;
  const bwFlops = (w.flops / w.bytes) * r.bandwidthGBs;
  const peak = r.fmaPeakGflops ?? r.peakGflops; // kernels that use FMA are held to the FMA peak
  const attainable = peak !== null ? Math.min(peak, bwFlops) : bwFlops;
  if (w.flops <= 0 || attainable <= 0) return { fraction: w.bytes / w.seconds / 1e9 / r.bandwidthGBs, bound: 'bandwidth' };
  const bound = peak !== null && peak < bwFlops ? 'compute' : 'bandwidth';
  return { fraction: w.flops / w.seconds / 1e9 / attainable, bound };
}
