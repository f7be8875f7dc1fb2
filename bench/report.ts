// bench: the report as a terminal table and as Markdown (the JSON is the report object itself).
import type { BenchReport, WorkloadResult } from './harness.js';

const f = (x: number | null | undefined, digits = 2): string => {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  const a = Math.abs(x);
  if (a !== 0 && a < 10 ** -digits) return x.toExponential(1);
  return a >= 1000 ? x.toFixed(0) : x.toFixed(digits);
};
const ms = (x: number | null | undefined) => f(x, x !== null && x !== undefined && Math.abs(x) < 1 ? 3 : 1);
const pct = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : `${(100 * x).toFixed(x < 0.01 ? 2 : 1)}%`);

const HEADER = ['backend', 'workload', 'size', 'eager med', 'eager p90', 'comp med', 'comp p90', 'speed-up', 'ceiling', 'kernels', 'GB/s', 'GFLOP/s', 'roofline', 'first call', 'compile', 'trace/plan/build', 'max|Δ|'];

/** The backend column: a software GPU is marked, its timings being a correctness run. */
function backendCell(rep: BenchReport, r: { backend: string }): string {
  return rep.backends.find((b) => b.name === r.backend)?.label ? `${r.backend} (SwiftShader)` : r.backend;
}

function row(rep: BenchReport, r: WorkloadResult): string[] {
  if (r.error) return [backendCell(rep, r), r.workload, r.size, 'ERROR', ...HEADER.slice(4).map(() => '')];
  const c = r.compile;
  return [
    backendCell(rep, r), r.workload, `${r.size}${r.scale === 'full' ? '' : ` (${r.scale})`}`,
    ms(r.eager?.medianMs), ms(r.eager?.p90Ms), ms(r.compiled?.medianMs), ms(r.compiled?.p90Ms),
    r.speedup ? `${f(r.speedup)}x` : '-', r.ceiling ? `${f(r.ceiling)}x` : '-', String(r.cost?.kernels ?? '-'), f(r.gbs), f(r.gflops),
    r.roofline ? `${pct(r.roofline.fraction)} ${r.roofline.bound}` : '-',
    ms(c?.firstCallMs), ms(c?.compileMs), c ? `${ms(c.traceMs)}/${ms(c.planMs)}/${ms(c.buildMs)}` : '-',
    r.maxAbsDiff === null ? '-' : r.maxAbsDiff === 0 ? '0' : r.maxAbsDiff.toExponential(1),
  ];
}

function table(header: readonly string[], rows: readonly string[][], numericFrom: number): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => r.map((c, i) => (i >= numericFrom ? (c ?? '').padStart(widths[i]) : (c ?? '').padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function mdTable(header: readonly string[], rows: readonly string[][]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [`| ${header.map(esc).join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

function preamble(r: BenchReport): string[] {
  const lines: string[] = [];
  const m = r.machine;
  lines.push(`kiln bench ${r.quick ? '(--quick smoke run) ' : ''}${r.date}  node ${m.node}, ${m.cpu} x${m.cores}, ${m.memGiB} GiB, ${m.platform}`);
  for (const b of r.backends) {
    if (!b.available) lines.push(`  ${b.name}: not available (${b.reason})`);
    else {
      const sizes = b.scale === 'full' ? 'full sizes' : b.scale === 'reduced' ? 'REDUCED sizes (see size column; --full for the issue sizes)' : 'quick sizes';
      lines.push(`  ${b.name}: ${b.device ? `${b.device}, ` : ''}${sizes}${b.label ? ` — ${b.label.toUpperCase()}: timings show correctness, not speed` : ''}`);
    }
  }
  const rf = r.roofline;
  lines.push(`roofline (measured now): bandwidth ${f(rf.bandwidthGBs)} GB/s (${rf.bandwidthSource}); copy ${f(rf.copyGBs)} GB/s; ` +
    `peak ${rf.peakGflops === null ? 'n/a' : `${f(rf.peakGflops)} GFLOP/s (wasm SIMD mul+add)`}; ` +
    (rf.fmaPeakGflops ? `FMA peak ${f(rf.fmaPeakGflops)} GFLOP/s (relaxed SIMD, the compute roof of FMA kernels); ` : '') +
    `hand GELU ${rf.geluElemsPerSec === null ? 'n/a' : `${f(rf.geluElemsPerSec / 1e6)} Melem/s`}`);
  for (const n of rf.notes) lines.push(`  note: ${n}`);
  return lines;
}

const LEGEND = 'times in ms (median and p90); speed-up = eager/compiled; ceiling = eager/floor, where a workload names a floor (the kernels every version runs, ' +
  'timed alone, eagerly, in the same rounds): about the most compiling can gain while it runs those kernels (it can pass it only by the floor\'s own host work); GB/s and GFLOP/s from the compiled kernels\' byte and flop counts; ' +
  'roofline = fraction of min(peak, intensity x bandwidth), or of the hand GELU; first call = wall time of the first compiled call (synced); compile = that call less the time its kernels ran, split into trace/plan/build; ' +
  'max|Δ| = largest |eager - compiled| of the first call.';

function errors(r: BenchReport): string[] {
  return r.results.filter((x) => x.error).map((x) => `  ERROR ${x.backend}/${x.workload}: ${x.error}`);
}

function cacheRows(r: BenchReport): string[][] {
  return r.cacheHit.map((c) => [backendCell(r, c), c.what, f(c.eagerUs), f(c.compiledUs), f(c.overheadUs)]);
}
const CACHE_HEADER = ['backend', 'tiny function', 'eager µs', 'compiled µs', 'overhead µs'];

/** The report as plain text for the terminal. */
export function formatTable(r: BenchReport): string {
  const out = preamble(r);
  out.push('', table(HEADER, r.results.map((x) => row(r, x)), 3), ...errors(r), '', LEGEND, '');
  out.push('cache-hit overhead (guard check + replay of a tiny compiled function vs the eager call; host side):');
  out.push(table(CACHE_HEADER, cacheRows(r), 2));
  out.push('', `total ${r.totalSeconds.toFixed(1)} s`);
  return out.join('\n');
}

/** The report as Markdown. */
export function formatMarkdown(r: BenchReport): string {
  const out = ['# kiln bench', '', '```', ...preamble(r), '```', '', mdTable(HEADER, r.results.map((x) => row(r, x))), '', ...errors(r).map((e) => `- ${e.trim()}`), '', LEGEND, ''];
  out.push('## Cache-hit overhead', '', mdTable(CACHE_HEADER, cacheRows(r)), '');
  out.push('## Workloads', '', ...r.workloads.map((w) => `- **${w.name}**: ${w.what}`), '', `Total ${r.totalSeconds.toFixed(1)} s.`, '');
  return out.join('\n');
}
