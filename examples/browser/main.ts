// The browser demo: one small MLP block run eagerly and compiled on every backend this browser
// offers (webgpu, wasm, cpu as the reference), with results, timings, the compiled IR (explain())
// and the generated kernel source. Build and serve with `npx tsx examples/browser/build.ts --serve`.
//
// For tests and scripts the page reports in the DOM: <pre id="result-json"> holds a JSON summary and
// document.body.dataset.done becomes 'true' when finished, or 'error' (with dataset.error) on failure.
import * as kiln from '../../src/index.js';
import { registerBackendLoader } from '../../src/core/backend.js';
import type { Backend, BackendName } from '../../src/core/backend.js';
import { printKernel } from '../../src/core/kernel.js';
import { wasmFallback } from './wasm-fallback.js';

const CONFIG = { seed: 0, batch: 64, dIn: 128, dHidden: 256, dOut: 10, warmup: 2, reps: 10 } as const;
/** The order the page reports backends in; cpu runs first because it is the reference. */
const BACKENDS: readonly BackendName[] = ['webgpu', 'wasm', 'cpu'];

interface KernelSource {
  /** Graph nodes fused into the kernel. */
  readonly nodes: readonly number[];
  /** The kernel IR as kiln prints it. */
  readonly kernel: string;
  /** Generated WGSL / WAT / JS, or null when the backend has no source(). */
  readonly source: string | null;
}

interface BackendReport {
  name: BackendName;
  status: 'ok' | 'unavailable' | 'error';
  reason?: string;
  /** How the backend was obtained (initBackend, or the page's direct import of backends/wasm). */
  via?: string;
  device?: string;
  sample?: number[];
  rowSum?: number;
  maxAbsDiff?: number;
  maxAbsDiffVsCpu?: number | null;
  eagerFirstMs?: number;
  eagerMs?: number;
  compiledFirstMs?: number;
  compiledMs?: number;
  speedup?: number;
  kernels?: number;
  sourceLanguage?: string;
  sources?: KernelSource[];
  cache?: kiln.CacheInfo;
}

interface Summary {
  done: boolean;
  userAgent: string;
  model: string;
  config: typeof CONFIG;
  backends: Record<string, Omit<BackendReport, 'sources'> & { sourceChars?: (number | null)[] }>;
  explain?: { backend: BackendName; graphCount: number; mode: string; ops: number[]; kernels: number; fusionGroups: number[][][]; breaks: number; locations: string[] };
  totalMs?: number;
  error?: string;
}

// ---------------------------------------------------------------------------------------------
// DOM helpers

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html has no #${id}`);
  return el as T;
};

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

const fmtMs = (v?: number) => (v === undefined ? '–' : v < 10 ? v.toFixed(2) : v.toFixed(1));
const fmtDiff = (v?: number | null) => (v === undefined || v === null ? '–' : v.toExponential(2));

function setStatus(text: string, cls = ''): void {
  const el = $('status');
  el.textContent = text;
  el.className = cls;
}

// ---------------------------------------------------------------------------------------------
// Backends

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];

/** initBackend(name); for wasm, falls back to backends/wasm/index.ts while src/index.ts does not register it. */
async function startBackend(name: BackendName): Promise<{ backend: Backend; via: string }> {
  try {
    return { backend: await kiln.initBackend(name), via: `initBackend('${name}')` };
  } catch (e) {
    if (name !== 'wasm' || !/unknown backend/.test(firstLine(e))) throw e;
    if (!wasmFallback.load) throw new Error(`src/index.ts does not register 'wasm' and ${wasmFallback.note}`);
    registerBackendLoader('wasm', wasmFallback.load);
    return { backend: await kiln.initBackend('wasm'), via: 'backends/wasm/index.ts (not yet registered by src/index.ts)' };
  }
}

function deviceOf(b: Backend): string {
  const desc = (b as { adapterDescription?: string }).adapterDescription;
  if (b.name === 'webgpu') return desc && desc !== 'unknown adapter' ? desc : 'navigator.gpu adapter';
  if (b.name === 'wasm') return `WebAssembly (binaryen)${(b as { fma?: boolean }).fma ? ', relaxed-SIMD FMA' : ''}`;
  return 'JavaScript';
}

const LANGUAGE: Record<BackendName, string> = { webgpu: 'WGSL', wasm: 'WAT', cpu: 'JS' };

// ---------------------------------------------------------------------------------------------
// The model

interface Weights { x: kiln.Tensor; W1: kiln.Tensor; b1: kiln.Tensor; W2: kiln.Tensor; b2: kiln.Tensor }

/** Fixed-seed inputs and weights, made once on cpu and copied to each backend. */
function makeWeights(): Weights {
  kiln.manualSeed(CONFIG.seed);
  const { batch, dIn, dHidden, dOut } = CONFIG;
  return {
    x: kiln.randn([batch, dIn], { backend: 'cpu' }),
    W1: kiln.randn([dIn, dHidden], { backend: 'cpu' }).mul(1 / Math.sqrt(dIn)),
    b1: kiln.randn([dHidden], { backend: 'cpu' }).mul(0.1),
    W2: kiln.randn([dHidden, dOut], { backend: 'cpu' }).mul(1 / Math.sqrt(dHidden)),
    b2: kiln.randn([dOut], { backend: 'cpu' }).mul(0.1),
  };
}

const MODEL_SOURCE = `const mlp = (x) => x.matmul(W1).add(b1).gelu('tanh').matmul(W2).add(b2).softmax(-1);
const compiled = kiln.compile(mlp, { backend });   // x: [${CONFIG.batch}, ${CONFIG.dIn}], W1: [${CONFIG.dIn}, ${CONFIG.dHidden}], W2: [${CONFIG.dHidden}, ${CONFIG.dOut}]`;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d; // NaN propagates as the max
  }
  return m;
}

async function timeIt(f: () => kiln.Tensor, reps: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    const out = f();
    await out.dataAsync();
    out.dispose();
  }
  return (performance.now() - t0) / reps;
}

/** Kernels of the compiled function's cached programs, with each backend's generated source. */
function kernelSources(compiled: kiln.Compiled<Model>, backend: Backend): KernelSource[] {
  const out: KernelSource[] = [];
  for (const entry of compiled._state.entries) {
    for (const program of entry.programs.values()) {
      for (const step of program.plan.steps) {
        let source: string | null = null;
        try {
          source = backend.source ? backend.source(step.kernel) : null;
        } catch (e) {
          source = `// source() failed: ${firstLine(e)}`;
        }
        out.push({ nodes: step.nodes, kernel: printKernel(step.kernel), source });
      }
    }
  }
  return out;
}

type Model = (x: kiln.Tensor) => kiln.Tensor;

async function runBackend(name: BackendName, w: Weights, reference: Float32Array | null): Promise<{ report: BackendReport; out?: Float32Array; mlp?: Model; x?: kiln.Tensor }> {
  const report: BackendReport = { name, status: 'unavailable' };
  let backend: Backend;
  try {
    const started = await startBackend(name);
    backend = started.backend;
    report.via = started.via;
    report.device = deviceOf(backend);
  } catch (e) {
    report.reason = firstLine(e);
    return { report };
  }
  try {
    const on = (t: kiln.Tensor) => t.to(name);
    const x = on(w.x), W1 = on(w.W1), b1 = on(w.b1), W2 = on(w.W2), b2 = on(w.b2);
    const mlp: Model = (v) => v.matmul(W1).add(b1).gelu('tanh').matmul(W2).add(b2).softmax(-1);
    const compiled = kiln.compile(mlp, { backend: name });

    let t0 = performance.now();
    const eagerOut = mlp(x);
    const eager = (await eagerOut.dataAsync()) as Float32Array;
    report.eagerFirstMs = performance.now() - t0;

    t0 = performance.now();
    const compiledOut = compiled(x);
    const comp = (await compiledOut.dataAsync()) as Float32Array;
    report.compiledFirstMs = performance.now() - t0;

    await timeIt(() => mlp(x), CONFIG.warmup);
    await timeIt(() => compiled(x), CONFIG.warmup);
    report.eagerMs = await timeIt(() => mlp(x), CONFIG.reps);
    report.compiledMs = await timeIt(() => compiled(x), CONFIG.reps);
    report.speedup = report.eagerMs / report.compiledMs;
    report.maxAbsDiff = maxAbsDiff(eager, comp);
    report.maxAbsDiffVsCpu = reference ? maxAbsDiff(comp, reference) : null;
    report.sample = Array.from(comp.slice(0, 5), (v) => Number(v.toFixed(6)));
    report.rowSum = Number(comp.slice(0, CONFIG.dOut).reduce((s, v) => s + v, 0).toFixed(6));
    report.cache = compiled.cacheInfo();
    report.sources = kernelSources(compiled, backend);
    report.kernels = report.sources.length;
    report.sourceLanguage = backend.source ? LANGUAGE[name] : undefined;
    report.status = 'ok';
    return { report, out: comp, mlp, x };
  } catch (e) {
    report.status = 'error';
    report.reason = e instanceof Error ? e.message : String(e);
    console.error(`kiln demo: ${name} failed`, e);
    return { report };
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering

function renderTable(reports: readonly BackendReport[]): void {
  const rows = reports.map((r) => {
    const cls = r.status === 'ok' ? 'ok' : r.status === 'error' ? 'bad' : 'muted';
    if (r.status !== 'ok') {
      return h('tr', { class: cls, 'data-backend': r.name },
        h('th', {}, r.name),
        h('td', { colspan: '8' }, `${r.name}: ${r.status} (${r.reason ?? 'no reason given'})`));
    }
    return h('tr', { class: cls, 'data-backend': r.name },
      h('th', {}, r.name, h('div', { class: 'small' }, r.device ?? ''),
        ...(r.via && !r.via.startsWith('initBackend') ? [h('div', { class: 'small' }, `via ${r.via}`)] : [])),
      h('td', { class: 'num' }, (r.sample ?? []).map((v) => v.toFixed(4)).join('  ')),
      h('td', { class: 'num' }, fmtDiff(r.maxAbsDiff)),
      h('td', { class: 'num' }, fmtDiff(r.maxAbsDiffVsCpu)),
      h('td', { class: 'num' }, fmtMs(r.eagerMs), h('div', { class: 'small' }, `first ${fmtMs(r.eagerFirstMs)}`)),
      h('td', { class: 'num' }, fmtMs(r.compiledMs), h('div', { class: 'small' }, `first ${fmtMs(r.compiledFirstMs)} (trace+compile)`)),
      h('td', { class: 'num' }, r.speedup ? `${r.speedup.toFixed(2)}×` : '–'),
      h('td', { class: 'num' }, String(r.kernels ?? '–')),
    );
  });
  const head = h('tr', {}, ...['backend', 'compiled out[0, :5]', 'max |eager − compiled|', 'max |compiled − cpu|',
    'eager ms/call', 'compiled ms/call', 'speed-up', 'kernels'].map((t) => h('th', {}, t)));
  $('results').replaceChildren(h('thead', {}, head), h('tbody', {}, ...rows));
}

function renderSources(reports: readonly BackendReport[]): void {
  const blocks: HTMLElement[] = [];
  for (const r of reports) {
    if (r.status !== 'ok' || !r.sources) continue;
    const lang = r.sourceLanguage;
    const open = r.name === 'webgpu';
    const kernels = r.sources.map((s, i) => h('details', { open: '' },
      h('summary', {}, `kernel ${i + 1} — nodes ${s.nodes.map((n) => `%${n}`).join(' ')}`),
      h('pre', { class: 'ir' }, s.kernel),
      h('pre', { class: 'src', 'data-lang': lang ?? 'none' }, s.source ?? `(the ${r.name} backend does not implement source())`)));
    const det = h('details', { class: 'backend-src', 'data-backend': r.name, ...(open ? { open: '' } : {}) },
      h('summary', {}, `${r.name}: ${r.kernels} kernel(s), ${lang ? `generated ${lang}` : 'kernel IR only (no source() on this backend)'}`), ...kernels);
    blocks.push(det);
  }
  $('sources').replaceChildren(...blocks);
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = performance.now();
  $('model').textContent = MODEL_SOURCE;
  setStatus('running…');
  // ready() also loads this bundle's source map, so explain() locations name main.ts, not the bundle.
  // A backend that fails to start is reported per backend below.
  await kiln.ready().catch(() => {});

  const summary: Summary = {
    done: false, userAgent: navigator.userAgent, model: 'softmax(gelu_tanh(x @ W1 + b1) @ W2 + b2)', config: CONFIG, backends: {},
  };
  const w = makeWeights();
  const reports = new Map<BackendName, BackendReport>();
  const order: BackendName[] = ['cpu', ...BACKENDS.filter((b) => b !== 'cpu')];
  let reference: Float32Array | null = null;
  const explainOn: { name: BackendName; fn: Model; x: kiln.Tensor }[] = [];
  for (const name of order) {
    setStatus(`running on ${name}…`);
    const { report, out, mlp, x } = await runBackend(name, w, reference);
    if (name === 'cpu' && out) reference = out;
    reports.set(name, report);
    if (mlp && x) explainOn.push({ name, fn: mlp, x });
    renderTable(BACKENDS.map((b) => reports.get(b)).filter((r): r is BackendReport => !!r));
  }
  const ordered = BACKENDS.map((b) => reports.get(b)!);
  renderTable(ordered);
  renderSources(ordered);

  // explain() on the preferred backend that works: the graph IR, fusion groups and kernels.
  const target = explainOn.find((e) => e.name === 'webgpu') ?? explainOn[0];
  if (target) {
    const ex = kiln.explain(target.fn, { backend: target.name, args: [target.x] });
    $('explain-title').textContent = `explain(mlp) on ${target.name}`;
    $('explain').textContent = ex.toString();
    summary.explain = {
      backend: target.name, graphCount: ex.graphCount, mode: ex.mode, ops: ex.graphs.map((g) => g.ops),
      kernels: ex.graphs.reduce((s, g) => s + g.kernels.length, 0),
      fusionGroups: ex.graphs.map((g) => g.fusionGroups.map((f) => [...f])), breaks: ex.breaks.length,
      locations: [...new Set(ex.graphs.flatMap((g) => [...g.traced.matchAll(/# (\S+:\d+)$/gm)].map((m) => m[1])))],
    };
    await kiln.getBackend(target.name).sync?.();
  }

  for (const r of ordered) {
    const { sources, ...rest } = r;
    summary.backends[r.name] = { ...rest, ...(sources ? { sourceChars: sources.map((s) => s.source?.length ?? null) } : {}) };
  }
  summary.totalMs = Math.round(performance.now() - started);
  summary.done = true;
  $('result-json').textContent = JSON.stringify(summary, null, 2);
  const bad = ordered.filter((r) => r.status === 'error').map((r) => r.name);
  setStatus(`done in ${(summary.totalMs / 1000).toFixed(1)} s${bad.length ? ` — failed on ${bad.join(', ')}` : ''}`, bad.length ? 'bad' : 'ok');
  document.body.dataset.done = 'true';
}

function fail(e: unknown): void {
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  console.error('kiln demo failed', e);
  if (document.body.dataset.done === 'true') return;
  setStatus(`error: ${msg}`, 'bad');
  const json = document.getElementById('result-json');
  if (json) json.textContent = JSON.stringify({ done: false, error: msg }, null, 2);
  document.body.dataset.error = msg;
  document.body.dataset.done = 'error';
}

window.addEventListener('error', (ev) => fail(ev.error ?? ev.message));
window.addEventListener('unhandledrejection', (ev) => fail(ev.reason));
main().catch(fail);
