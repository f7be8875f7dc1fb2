// bench: the harness. For every available backend and every workload: eager and compiled timings
// (median, p90), speed-up, GB/s and GFLOP/s from the compiled kernels' byte and flop counts, the
// fraction of the roofline measured in the same run, first-call compile time, and the cache-hit
// overhead of a tiny compiled function. Returns a report object; run.ts prints and saves it.
import * as os from 'node:os';
import * as kiln from '../src/index.js';
import type { Backend, BackendName, Tensor } from '../src/index.js';
import { observeCall, type CallCost } from './cost.js';
import { collect, timeInterleaved, timeTask, type Budget, type Timing } from './measure.js';
import { measureRoofline, rooflineFraction, type Roofline } from './roofline.js';
import { WORKLOADS, type Scale, type Workload } from './workloads.js';

export const ALL_BACKENDS: readonly BackendName[] = ['cpu', 'wasm', 'webgpu'];

export interface BenchOptions {
  /** Only workloads whose name contains this (comma-separated: any of them). */
  readonly filter?: string;
  /** Backends to try (default all); one that cannot start is reported, not fatal. */
  readonly backends?: readonly BackendName[];
  /** A short smoke run: tiny sizes, a few samples. */
  readonly quick?: boolean;
  /** The full sizes on every backend (cpu and SwiftShader included). */
  readonly full?: boolean;
  /** Called with a one-line status as the run goes. */
  readonly progress?: (line: string) => void;
}

/** A backend as this run found it. */
export interface BackendInfo {
  readonly name: BackendName;
  readonly available: boolean;
  /** Why it could not start. */
  readonly reason?: string;
  /** The device in words (the WebGPU adapter). */
  readonly device?: string;
  /** Sizes used on it. */
  readonly scale?: Scale;
  /** E.g. "correction run, SwiftShader": timings of a software GPU say nothing about speed. */
  readonly label?: string;
}

export interface CompileTiming {
  /** Wall time of the first compiled call (trace, plan, kernel build, run). */
  readonly firstCallMs: number;
  /** What compiling cost: the traced call's time less the time its kernels ran. */
  readonly compileMs: number;
  /** Optimise + fusion planning of new programs. */
  readonly planMs: number;
  /** Backend kernel builds (JS/WASM/WGSL codegen and compile). */
  readonly buildMs: number;
  /** The rest: tracing the JavaScript and guard set-up. */
  readonly traceMs: number;
}

/** One workload on one backend. */
export interface WorkloadResult {
  readonly workload: string;
  readonly what: string;
  readonly backend: BackendName;
  readonly size: string;
  readonly scale: Scale;
  readonly eager: Timing | null;
  readonly compiled: Timing | null;
  /** eager median / compiled median. */
  readonly speedup: number | null;
  /** The workload's floor (its kernels alone, eagerly), timed in the same rounds; null without one. */
  readonly floor: Timing | null;
  /** eager median / floor median: about the most compiling can gain while it runs those kernels. */
  readonly ceiling: number | null;
  /** Kernels, flops and bytes of one compiled call. */
  readonly cost: CallCost | null;
  readonly gbs: number | null;
  readonly gflops: number | null;
  readonly roofline: { readonly fraction: number; readonly bound: string } | null;
  readonly compile: CompileTiming | null;
  /** How the compiled function ran: traces taken and the cache entry's mode (replay / segmented). */
  readonly traces: number | null;
  readonly mode: string | null;
  /** max |eager - compiled| over the outputs of the first call (identical inputs and state). */
  readonly maxAbsDiff: number | null;
  readonly error?: string;
}

/** Calling a tiny compiled function (a cache hit) against calling it eagerly. */
export interface CacheHitResult {
  readonly backend: BackendName;
  readonly what: string;
  readonly eagerUs: number;
  readonly compiledUs: number;
  readonly overheadUs: number;
}

export interface BenchReport {
  readonly kind: 'kiln-bench';
  readonly version: 1;
  readonly date: string;
  readonly quick: boolean;
  readonly machine: { readonly node: string; readonly cpu: string; readonly cores: number; readonly memGiB: number; readonly platform: string };
  readonly backends: readonly BackendInfo[];
  readonly roofline: Roofline;
  readonly results: readonly WorkloadResult[];
  readonly cacheHit: readonly CacheHitResult[];
  readonly workloads: readonly { readonly name: string; readonly what: string }[];
  readonly totalSeconds: number;
}

/** Starts a backend and proves one kernel round trip, or says why not. */
async function probe(name: BackendName): Promise<BackendInfo> {
  try {
    const b = await kiln.initBackend(name);
    const got = Array.from(await kiln.tensor([1, 2, 3], { backend: name }).add(1).dataAsync());
    if (got.join() !== '2,3,4') throw new Error(`smoke test [1,2,3] + 1 read back [${got.join(',')}]`);
    const fma = (b as Backend & { fma?: boolean }).fma;
    // wasm says whether its kernels use relaxed-SIMD FMA (their compute roof is then the FMA peak).
    const device = (b as Backend & { adapterDescription?: string }).adapterDescription ??
      (name === 'wasm' ? (fma ? 'SIMD128 with relaxed-SIMD FMA' : 'SIMD128, no FMA') : undefined);
    return { name, available: true, ...(device ? { device } : {}) };
  } catch (e) {
    return { name, available: false, reason: (e as Error).message.split('\n')[0] };
  }
}

const isSoftwareGpu = (info: BackendInfo) => info.name === 'webgpu' && /swiftshader|llvmpipe|lavapipe|software/i.test(info.device ?? '');

function scaleFor(info: BackendInfo, opts: BenchOptions): Scale {
  if (opts.quick) return 'quick';
  if (opts.full) return 'full';
  return info.name === 'cpu' || isSoftwareGpu(info) ? 'reduced' : 'full';
}

/** Tensors in a returned value, in order. */
function tensorsOf(v: unknown, out: Tensor[] = []): Tensor[] {
  if (v instanceof kiln.Tensor) out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => tensorsOf(x, out));
  else if (v && typeof v === 'object') Object.values(v).forEach((x) => tensorsOf(x, out));
  return out;
}

async function maxAbsDiff(a: unknown, b: unknown): Promise<number> {
  const ta = tensorsOf(a), tb = tensorsOf(b);
  if (ta.length !== tb.length) throw new Error(`eager returned ${ta.length} tensors, compiled ${tb.length}`);
  let m = 0;
  for (let i = 0; i < ta.length; i++) {
    const [x, y] = await Promise.all([ta[i].dataAsync(), tb[i].dataAsync()]);
    if (x.length !== y.length) throw new Error(`output ${i}: eager has ${x.length} elements, compiled ${y.length}`);
    for (let j = 0; j < x.length; j++) {
      if (Number.isNaN(x[j]) && Number.isNaN(y[j])) continue;
      const d = Math.abs(x[j] - y[j]);
      m = Number.isNaN(d) ? Infinity : Math.max(m, d);
    }
  }
  return m;
}

const BUDGET: Record<'quick' | 'normal', Budget> = {
  quick: { ms: 25, minIters: 3, maxIters: 30 },
  normal: { ms: 1500, minIters: 5, maxIters: 200 },
};
const TINY_BUDGET: Record<'quick' | 'normal', Budget> = {
  quick: { ms: 25, minIters: 50, maxIters: 5000 },
  normal: { ms: 600, minIters: 500, maxIters: 200000 },
};

/** A call of `fn` that, on backends with queued work (webgpu), waits for it to finish. */
/** Disposes the tensors in a call's result (a tensor, or arrays/objects of them). */
function disposeAll(v: unknown): void {
  if (v instanceof kiln.Tensor) v.dispose();
  else if (Array.isArray(v)) v.forEach(disposeAll);
  else if (v && typeof v === 'object') Object.values(v).forEach(disposeAll);
}

function synced(backend: Backend, fn: () => unknown): () => unknown {
  const sync = backend.sync?.bind(backend);
  if (!sync) return fn;
  return async () => { const r = fn(); await sync(); return r; };
}

async function wallMs(fn: () => unknown): Promise<{ ms: number; value: unknown }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

/** Runs one workload on one backend. */
async function runWorkload(w: Workload, info: BackendInfo, scale: Scale, roof: Roofline, quick: boolean, say: (s: string) => void): Promise<WorkloadResult> {
  const backend = kiln.getBackend(info.name);
  const budget = BUDGET[quick ? 'quick' : 'normal'];
  // Two identical copies (same seed): the eager run and the compiled run each update their own state.
  kiln.manualSeed(1);
  const E = w.setup(info.name, scale);
  kiln.manualSeed(1);
  const C = w.setup(info.name, scale);
  const base = { workload: w.name, what: w.what, backend: info.name, size: E.size, scale };
  // Eager calls run inside tidy() (as an eager user of a JS framework writes a loop): intermediates
  // are freed when the call returns instead of waiting for the garbage collector.
  const eagerCall = synced(backend, () => kiln.tidy(() => E.fn(...E.args)));
  const f = kiln.compile(C.fn, { backend: info.name });
  const compiledCall = synced(backend, () => f(...C.args));
  // Timed repetitions drop their results at once, so memory stays flat over thousands of calls.
  const dropping = (call: () => unknown) => async () => { disposeAll(await call()); };

  say(`${info.name} ${w.name}: eager first call`);
  const e1 = await wallMs(eagerCall);
  collect();
  say(`${info.name} ${w.name}: compiled first call (trace, plan, build)`);
  let first = { ms: 0, value: undefined as unknown };
  const firstObs = await observeCall(async () => { first = await wallMs(compiledCall); });
  const diff = await maxAbsDiff(e1.value, first.value);
  // A second call of each: the steady cost of one compiled call, and estimates for the budget.
  const steady = await observeCall(async () => { await compiledCall(); });
  const e2 = await wallMs(eagerCall);
  const c2 = await wallMs(compiledCall);
  collect();

  // Eager, compiled and the floor in alternating rounds, so load that drifts during the run hits all alike.
  say(`${info.name} ${w.name}: timing eager and compiled${E.floor ? ' (and the floor)' : ''}`);
  const floorCall = E.floor && synced(backend, () => kiln.tidy(() => E.floor!()));
  const f1 = floorCall ? await wallMs(floorCall) : null;
  if (f1) disposeAll(f1.value);
  const [eager, compiled, floor = null] = await timeInterleaved([
    { name: `${w.name} eager`, fn: dropping(eagerCall), estimateMs: e2.ms },
    { name: `${w.name} compiled`, fn: dropping(compiledCall), estimateMs: c2.ms },
    ...(floorCall && f1 ? [{ name: `${w.name} floor`, fn: dropping(floorCall), estimateMs: f1.ms }] : []),
  ], budget, quick ? 1 : 4);
  collect();

  const s = compiled.medianMs / 1000;
  const cost = steady.cost;
  // The traced call's own wall time (recorded by compile()) less the time its kernels ran: what
  // tracing, planning and kernel builds cost, without the queued GPU work or timing noise of a
  // "first call - median" difference.
  const { planMs, buildMs, runMs } = firstObs.seen;
  const tracedMs = f._state.entries[0]?.firstCallMs ?? first.ms;
  const compileMs = Math.max(0, tracedMs - (runMs - buildMs));
  const elements = E.args[0] instanceof kiln.Tensor ? (E.args[0] as Tensor).size : undefined;
  const st = f._state;
  return {
    ...base, eager, compiled, speedup: eager.medianMs / compiled.medianMs, floor, ceiling: floor && eager.medianMs / floor.medianMs, cost,
    gbs: cost.bytes / s / 1e9, gflops: cost.flops / s / 1e9,
    roofline: rooflineFraction(roof, w.roof, { seconds: s, flops: cost.flops, bytes: cost.bytes, elements }),
    compile: { firstCallMs: first.ms, compileMs, planMs, buildMs, traceMs: Math.max(0, compileMs - planMs - buildMs) },
    traces: f.cacheInfo().traces, mode: st.entries[0]?.mode ?? 'eager', maxAbsDiff: diff,
  };
}

/** Eager x.add(1) on 4 elements against the same function compiled (a guard check and a replay). */
async function cacheHit(info: BackendInfo, quick: boolean): Promise<CacheHitResult> {
  const x = kiln.tensor([1, 2, 3, 4], { backend: info.name });
  const fn = (v: Tensor) => v.add(1);
  const f = kiln.compile(fn, { backend: info.name });
  f(x); f(x);
  const budget = TINY_BUDGET[quick ? 'quick' : 'normal'];
  // Host-side cost only: on webgpu the work stays queued (the backend submits in batches).
  const estimate = (g: () => unknown) => { const t = performance.now(); for (let i = 0; i < 200; i++) g(); return (performance.now() - t) / 200; };
  const eager = await timeTask('tiny eager', () => fn(x), estimate(() => fn(x)), budget);
  const compiled = await timeTask('tiny compiled', () => f(x), estimate(() => f(x)), budget);
  await kiln.getBackend(info.name).sync?.();
  if (f.cacheInfo().traces !== 1) throw new Error(`tiny compiled function retraced (${f.cacheInfo().traces} traces)`);
  return {
    backend: info.name, what: 'x.add(1), 4 elements',
    eagerUs: eager.medianMs * 1000, compiledUs: compiled.medianMs * 1000, overheadUs: (compiled.medianMs - eager.medianMs) * 1000,
  };
}

/** Runs the benchmark and returns the report (nothing printed except through `progress`). */
export async function runBench(opts: BenchOptions = {}): Promise<BenchReport> {
  const t0 = performance.now();
  const quick = !!opts.quick;
  const say = opts.progress ?? (() => {});
  const wanted = opts.backends?.length ? opts.backends : ALL_BACKENDS;
  const unknown = wanted.filter((b) => !ALL_BACKENDS.includes(b));
  if (unknown.length) throw new Error(`unknown backend(s) ${unknown.join(', ')}; valid: ${ALL_BACKENDS.join(', ')}`);
  const wantedNames = opts.filter?.split(',').map((s) => s.trim()).filter(Boolean) ?? [];
  const workloads = WORKLOADS.filter((w) => !wantedNames.length || wantedNames.some((f) => w.name.includes(f)));
  if (!workloads.length) throw new Error(`--filter ${opts.filter} matches no workload; workloads: ${WORKLOADS.map((w) => w.name).join(', ')}`);

  say('starting backends');
  const backends: BackendInfo[] = [];
  for (const name of wanted) {
    const info = await probe(name);
    backends.push(info.available ? { ...info, scale: scaleFor(info, opts), ...(isSoftwareGpu(info) ? { label: 'correctness run, SwiftShader' } : {}) } : info);
  }
  say('measuring the roofline');
  // The FMA peak is measured when the wasm kernels use FMA: it is then their compute roof.
  const fma = backends.some((b) => b.name === 'wasm' && b.available) && !!(kiln.getBackend('wasm') as Backend & { fma?: boolean }).fma;
  const roofline = await measureRoofline(quick ? { n: 1 << 20, reps: 3, quick, fma } : { n: 1 << 24, reps: 7, fma });

  const prevBackend = kiln.currentBackend();
  const results: WorkloadResult[] = [];
  const hits: CacheHitResult[] = [];
  const avail = backends.filter((b) => b.available);
  const total = avail.length * workloads.length;
  let done = 0;
  try {
    for (const info of avail) {
      kiln.setBackend(info.name);
      say(`${info.name}: cache-hit overhead`);
      try { hits.push(await cacheHit(info, quick)); } catch (e) { say(`${info.name}: cache-hit run failed: ${(e as Error).message}`); }
      for (const w of workloads) {
        const tag = (s: string) => say(`[${done + 1}/${total}] ${s}`);
        try {
          results.push(await runWorkload(w, info, info.scale!, roofline, quick, tag));
        } catch (e) {
          results.push({
            workload: w.name, what: w.what, backend: info.name, size: '', scale: info.scale!, eager: null, compiled: null, speedup: null, floor: null, ceiling: null,
            cost: null, gbs: null, gflops: null, roofline: null, compile: null, traces: null, mode: null, maxAbsDiff: null,
            error: (e as Error).message.split('\n')[0],
          });
        }
        done++;
        collect();
      }
    }
  } finally {
    kiln.setBackend(prevBackend);
  }
  const cpus = os.cpus();
  return {
    kind: 'kiln-bench', version: 1, date: new Date().toISOString(), quick,
    machine: { node: process.version, cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, memGiB: Math.round(os.totalmem() / 2 ** 30), platform: `${process.platform}-${process.arch}` },
    backends, roofline, results, cacheHit: hits, workloads: workloads.map((w) => ({ name: w.name, what: w.what })),
    totalSeconds: (performance.now() - t0) / 1000,
  };
}
