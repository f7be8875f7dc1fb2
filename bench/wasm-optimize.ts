// What binaryen's optimiser buys for wasm kernels (the backend's `optimize` option, module.ts): the
// kernels that a few eager ops and a compiled block launch are captured, then built on two wasm
// backends of this process, one with the optimiser and one without, and run side by side: each
// round calls every kernel on both backends in turn, so machine noise hits both alike. Prints per
// kernel its build time and median run time on each, and the totals.
//   npx tsx bench/wasm-optimize.ts            (KILN_BENCH_QUICK=1 for a short run)
import type { Buffer } from '../src/core/backend.js';
import type { DType } from '../src/core/dtype.js';
import type { Kernel } from '../src/core/kernel.js';
import { printKernel } from '../src/core/kernel.js';
import { createWasmBackend, type WasmBackend } from '../backends/wasm/index.js';
import * as kiln from '../src/index.js';

const QUICK = process.env.KILN_BENCH_QUICK === '1';
const ROUNDS = QUICK ? 5 : 25;
const WARM_ROUNDS = QUICK ? 2 : 5;

interface Launch { readonly what: string; readonly kernel: Kernel; readonly ins: { dtype: DType; size: number }[]; readonly outs: { dtype: DType; size: number }[] }

/** The distinct kernels the default wasm backend launches while `f` runs. */
function capture(what: string, f: () => void, into: Map<string, Launch>): void {
  const be = kiln.getBackend('wasm');
  const run = be.run.bind(be);
  be.run = (kernel, inputs, outputs) => {
    const key = printKernel(kernel);
    if (!into.has(key)) into.set(key, { what, kernel, ins: inputs.map((b) => ({ dtype: b.dtype, size: b.size })), outs: outputs.map((b) => ({ dtype: b.dtype, size: b.size })) });
    run(kernel, inputs, outputs);
  };
  try { f(); } finally { be.run = run; }
}

function workloads(): Map<string, Launch> {
  kiln.manualSeed(0);
  const rows = kiln.randn([1024, 1024]), w = kiln.randn([1024]), b = kiln.randn([1024]);
  const a = kiln.randn([512, 512]), m = kiln.randn([512, 512]);
  const x = kiln.randn([256, 64]), w1 = kiln.randn([64, 256]).mul(0.1), w2 = kiln.randn([256, 64]).mul(0.1);
  const block = kiln.compile((v: kiln.Tensor) => kiln.layerNorm(v.add(v.matmul(w1).gelu('tanh').matmul(w2)), [64]).softmax(-1));
  const out = new Map<string, Launch>();
  capture('gelu', () => rows.gelu('tanh'), out);
  capture('softmax', () => rows.softmax(-1), out);
  capture('layerNorm', () => kiln.layerNorm(rows, [1024], w, b), out);
  capture('sum(-1)', () => rows.sum(-1), out);
  capture('matmul', () => a.matmul(m), out);
  capture('compiled block', () => block(x), out);
  return out;
}

const median = (xs: number[]) => { const s = [...xs].sort((p, q) => p - q); return s[Math.floor(s.length / 2)]; };

function buffers(be: WasmBackend, specs: { dtype: DType; size: number }[], fill: boolean): Buffer[] {
  return specs.map((s) => {
    const buf = be.alloc(s.dtype, s.size);
    if (fill && s.dtype === 'float32') be.write(buf, Float32Array.from({ length: s.size }, () => Math.random() * 4 - 2));
    return buf;
  });
}

async function main(): Promise<void> {
  await kiln.ready();
  const launches = [...workloads().values()];
  const off = await createWasmBackend({ optimize: false });
  const on = await createWasmBackend({ optimize: true });
  const rows = launches.map((l) => {
    const sides = [off, on].map((be) => {
      const ins = buffers(be, l.ins, true), outs = buffers(be, l.outs, false);
      const s0 = be.stats().compileMs;
      be.prepare(l.kernel);
      return { be, ins, outs, buildMs: be.stats().compileMs - s0, times: [] as number[] };
    });
    return { l, sides };
  });
  for (let r = 0; r < WARM_ROUNDS + ROUNDS; r++) {
    for (const { l, sides } of rows) {
      for (const s of sides) {
        const t0 = performance.now();
        s.be.run(l.kernel, s.ins, s.outs);
        if (r >= WARM_ROUNDS) s.times.push(performance.now() - t0);
      }
    }
  }
  console.log(`binaryen's optimiser off vs on, per kernel: build ms, and median run ms over ${ROUNDS} interleaved rounds\n`);
  console.log('workload        kernel        build off  build on   run off   run on  on/off');
  let buildOff = 0, buildOn = 0, runOff = 0, runOn = 0;
  const byKind = new Map<string, [number, number]>();
  for (const { l, sides: [a, b] } of rows) {
    const [ma, mb] = [median(a.times), median(b.times)];
    buildOff += a.buildMs; buildOn += b.buildMs; runOff += ma; runOn += mb;
    const k = byKind.get(l.kernel.kind) ?? [0, 0];
    byKind.set(l.kernel.kind, [k[0] + ma, k[1] + mb]);
    console.log(`${l.what.padEnd(15)} ${l.kernel.kind.padEnd(12)} ${a.buildMs.toFixed(1).padStart(9)} ${b.buildMs.toFixed(1).padStart(9)} ${ma.toFixed(3).padStart(9)} ${mb.toFixed(3).padStart(8)} ${(mb / ma).toFixed(2).padStart(6)}x`);
  }
  console.log(`\n${rows.length} kernels: build ${buildOff.toFixed(0)} ms off, ${buildOn.toFixed(0)} ms on; run (sum of medians) ${runOff.toFixed(2)} ms off, ${runOn.toFixed(2)} ms on (${(runOn / runOff).toFixed(2)}x)`);
  for (const [kind, [a, b]] of byKind) console.log(`  ${kind}: run ${a.toFixed(2)} ms off, ${b.toFixed(2)} ms on (${(b / a).toFixed(2)}x)`);
}

await main();
