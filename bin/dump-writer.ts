// kiln dump: turns what compile() recorded in this process (compiledRegistry, and the programs the
// recorder saw planned and run) into one folder per compiled function and signature: traced and
// optimised graphs (text and table), fusion groups, kernel IR and generated source, guards, breaks
// with their source lines, recompile reasons, explain() as JSON, and graph.html.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BackendName } from '../src/core/backend.js';
import { getBackend, hasBackend } from '../src/core/backend.js';
import { printKernel } from '../src/core/kernel.js';
import type { CompiledState } from '../compiler/compile.js';
import { observePrograms, type Program } from '../compiler/execute.js';
import { explainState } from '../compiler/explain.js';
import { fmtType, nodeText, printGraph, printGraphTable, type Graph } from '../compiler/graph.js';
import { graphHtml, type DrawnGraph } from './graph-html.js';

type Entry = CompiledState['entries'][number];

/** File extension of each backend's generated source. */
export const SOURCE_EXT: Record<BackendName, string> = { cpu: 'js', wasm: 'wat', webgpu: 'wgsl' };

/** Watches planning and runs while the script executes. */
export class DumpRecorder {
  readonly planned: { readonly graph: Graph; readonly program: Program; readonly ms: number; readonly cached: boolean }[] = [];
  /** First run of each program: its time and the kernel builds in it; and how often it ran. */
  readonly runs = new Map<Program, { firstMs: number; firstBuildMs: number; count: number }>();
  private stop: (() => void) | null = null;

  start(): void {
    this.stop = observePrograms({
      planned: (graph, program, info) => { this.planned.push({ graph, program, ...info }); },
      ran: (program, info) => {
        const r = this.runs.get(program);
        if (r) r.count++;
        else this.runs.set(program, { firstMs: info.ms, firstBuildMs: info.buildMs, count: 1 });
      },
    });
  }

  finish(): void { this.stop?.(); this.stop = null; }

  /** Programs planned for `g` (the same object, or the same trace nodes and outputs), in order. */
  programsFor(g: Graph): { program: Program; ms: number }[] {
    const same = (a: Graph) => a === g || (a.nodes === g.nodes && a.outputs.length === g.outputs.length && a.outputs.every((o, i) => o === g.outputs[i]));
    const out: { program: Program; ms: number }[] = [];
    for (const p of this.planned) if (same(p.graph) && !out.some((o) => o.program === p.program)) out.push({ program: p.program, ms: p.cached ? 0 : p.ms });
    return out;
  }
}

/** What one dumped graph holds (index.json). */
export interface DumpedGraph {
  readonly dir: string;
  readonly tracedNodes: number;
  readonly tracedOps: number;
  readonly optimizedNodes: number;
  readonly kernels: number;
  readonly kernelKinds: readonly string[];
  readonly kernelFiles: readonly string[];
  readonly backend: BackendName | null;
  /** Other shapes this graph was re-planned for (dynamic dims). */
  readonly otherPlans: number;
  readonly interpreted: string | null;
}

export interface DumpedSignature {
  readonly dir: string;
  readonly signature: number;
  readonly mode: string;
  readonly why: string;
  readonly guards: readonly string[];
  readonly breaks: readonly { readonly reason: string; readonly loc: string | null; readonly line: string | null }[];
  readonly firstCallMs: number;
  /** Tracing + planning + kernel builds: the first call minus the time its kernels took to run. */
  readonly compileMs: number;
  readonly planMs: number;
  readonly buildMs: number;
  readonly graphs: readonly DumpedGraph[];
}

export interface DumpedFunction {
  readonly name: string;
  readonly dir: string;
  readonly backend: BackendName;
  readonly cache: { readonly traces: number; readonly hits: number; readonly misses: number; readonly fellBackToEager: boolean };
  readonly recompileReasons: readonly string[];
  readonly signatures: readonly DumpedSignature[];
}

export interface DumpIndex {
  readonly kind: 'kiln-dump';
  readonly version: 1;
  readonly script: string;
  readonly date: string;
  readonly scriptMs: number;
  readonly totals: { readonly functions: number; readonly signatures: number; readonly graphs: number; readonly breaks: number; readonly kernels: number; readonly compileMs: number };
  readonly functions: readonly DumpedFunction[];
  /** Compiled functions that were never called (or only ran eagerly). */
  readonly unused: readonly string[];
}

const slug = (s: string) => s.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 40) || 'anonymous';
const pad2 = (n: number) => String(n).padStart(2, '0');

/** Keeps the nodes a segment's outputs depend on (a segment shares its trace's node list). */
function pruneToOutputs(g: Graph): Graph {
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const live = new Set<number>();
  const stack = [...g.outputs];
  while (stack.length) {
    const id = stack.pop()!;
    if (live.has(id)) continue;
    live.add(id);
    const n = byId.get(id);
    if (n?.kind === 'op') stack.push(...n.inputs);
  }
  return { ...g, nodes: g.nodes.filter((n) => live.has(n.id)) };
}

/**
 * A replayed entry's graph shares its trace's node list, which gets `realized` inputs appended when
 * the call's outputs are filled in; they feed nothing and are dropped here.
 */
function dropUnreadRealized(g: Graph): Graph {
  const read = new Set<number>(g.outputs);
  for (const n of g.nodes) if (n.kind === 'op') n.inputs.forEach((i) => read.add(i));
  return { ...g, nodes: g.nodes.filter((n) => !(n.kind === 'input' && n.source.kind === 'realized' && !read.has(n.id))) };
}

/** Finds the text of `file:line` (the last two path parts, as compile() records them). */
export function sourceLine(loc: string | undefined, roots: readonly string[]): string | null {
  const m = loc?.match(/^(.*):(\d+)$/);
  if (!m) return null;
  for (const root of roots) {
    for (let dir = root, i = 0; i < 6; i++, dir = path.dirname(dir)) {
      const file = path.resolve(dir, m[1]);
      if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').split('\n')[Number(m[2]) - 1]?.trim() ?? null;
      if (path.dirname(dir) === dir) break;
    }
  }
  return null;
}

function guardLines(st: CompiledState, e: Entry): string[] {
  return explainState(st, e).guards.split('\n');
}

interface WriteOptions {
  readonly out: string;
  readonly script: string;
  readonly scriptMs: number;
  /** Backends whose generated source to write for every kernel, besides the one it ran on. */
  readonly extraSources: readonly BackendName[];
}

/** Writes the dump and returns its index (also written as index.json). */
export function writeDump(registry: Iterable<CompiledState>, rec: DumpRecorder, opts: WriteOptions): DumpIndex {
  const out = opts.out;
  const files: [string, string][] = [];
  const put = (rel: string, text: string) => files.push([rel, text.endsWith('\n') ? text : `${text}\n`]);
  const roots = [process.cwd(), path.dirname(opts.script)];
  const functions: DumpedFunction[] = [];
  const unused: string[] = [];
  let fnIndex = 0;
  for (const st of registry) {
    const entries = st.entries;
    if (!entries.length) { unused.push(st.name); continue; }
    const fdir = `${pad2(++fnIndex)}-${slug(st.name)}`;
    const sigs: DumpedSignature[] = [];
    entries.forEach((e, ei) => {
      const sdir = `${fdir}/sig${ei + 1}`;
      const graphsIn = e.mode === 'replay' && e.graph ? [e.graph] : e.graphs;
      const drawn: DrawnGraph[] = [];
      const dumpedGraphs: DumpedGraph[] = [];
      let planMs = 0, buildMs = 0, runMs = 0;
      graphsIn.forEach((g0, gi) => {
        const gdir = `${sdir}/graph${gi + 1}`;
        const traced = e.mode === 'replay' ? dropUnreadRealized(g0) : pruneToOutputs(g0);
        const planned = rec.programsFor(g0);
        const extra = gi === 0 && e.mode === 'replay' ? [...new Set(e.programs.values())].filter((p) => !planned.some((x) => x.program === p)) : [];
        const programs = [...planned.map((p) => p.program), ...extra];
        planMs += planned.reduce((s, p) => s + p.ms, 0);
        for (const p of programs) {
          const r = rec.runs.get(p);
          if (r && p === programs[0]) { buildMs += r.firstBuildMs; runMs += r.firstMs - r.firstBuildMs; }
        }
        put(`${gdir}/traced.txt`, printGraph(traced));
        put(`${gdir}/traced-table.txt`, printGraphTable(traced));
        const p = programs[0];
        const kernelFiles: string[] = [];
        if (p) {
          const opt = p.optimized;
          put(`${gdir}/optimized.txt`, printGraph(opt));
          put(`${gdir}/optimized-table.txt`, printGraphTable(opt));
          const byId = new Map(opt.nodes.map((n) => [n.id, n]));
          const inKernel = new Set(p.plan.steps.flatMap((s) => s.nodes));
          const fusion: string[] = [`${opt.nodes.filter((n) => n.kind === 'op').length} ops -> ${p.plan.steps.length} kernel(s) on ${p.backend.name}`];
          if (p.unsupported) fusion.push(`NOTE: the backend refused a kernel (${p.unsupported}); this graph runs op by op`);
          p.plan.steps.forEach((s, si) => {
            fusion.push('', `kernel ${si + 1} (${s.kernel.kind}, ${s.nodes.length} node(s)):`);
            for (const id of s.nodes) { const n = byId.get(id)!; fusion.push(`  %${id}: ${fmtType(n)} = ${nodeText(n)}`); }
            const k = `${gdir}/kernels/${pad2(si + 1)}-${s.kernel.kind}`;
            put(`${k}.ir.txt`, printKernel(s.kernel));
            kernelFiles.push(`${k}.ir.txt`);
            for (const b of [p.backend.name, ...opts.extraSources.filter((x) => x !== p.backend.name)]) {
              const be = b === p.backend.name ? p.backend : hasBackend(b) ? getBackend(b) : null;
              if (!be?.source) continue;
              let src: string;
              try { src = be.source(s.kernel); } catch (err) { src = `// ${b} could not generate this kernel: ${(err as Error).message}`; }
              put(`${k}.${SOURCE_EXT[b]}`, src);
              kernelFiles.push(`${k}.${SOURCE_EXT[b]}`);
            }
          });
          const views = opt.nodes.filter((n) => n.kind === 'op' && !inKernel.has(n.id));
          if (views.length) fusion.push('', 'in no kernel (views folded into their readers\' index arithmetic, or outputs that are views):', ...views.map((n) => `  %${n.id}: ${fmtType(n)} = ${nodeText(n)}`));
          put(`${gdir}/fusion.txt`, fusion.join('\n'));
          drawn.push({
            title: `graph ${gi + 1}${graphsIn.length > 1 ? ` of ${graphsIn.length}` : ''} (optimised)`, graph: opt,
            groups: p.plan.steps.map((s) => s.nodes), kernels: p.plan.steps.map((s) => ({ kind: s.kernel.kind, text: printKernel(s.kernel) })),
          });
        } else {
          put(`${gdir}/fusion.txt`, 'this graph was never planned (no program recorded)');
        }
        dumpedGraphs.push({
          dir: gdir, tracedNodes: traced.nodes.length, tracedOps: traced.nodes.filter((n) => n.kind === 'op').length,
          optimizedNodes: p?.optimized.nodes.length ?? 0, kernels: p?.plan.steps.length ?? 0,
          kernelKinds: p?.plan.steps.map((s) => s.kernel.kind) ?? [], kernelFiles, backend: p?.backend.name ?? null,
          otherPlans: Math.max(0, programs.length - 1), interpreted: p?.unsupported ?? null,
        });
      });
      const breaks = e.breaks.map((b) => ({ reason: b.reason, loc: b.loc ?? null, line: sourceLine(b.loc, roots) }));
      const guards = guardLines(st, e);
      const compileMs = Math.max(0, e.firstCallMs - runMs);
      const ex = explainState(st, e);
      put(`${sdir}/guards.txt`, guards.join('\n'));
      put(`${sdir}/breaks.txt`, breaks.length ? breaks.map((b, i) => `break ${i + 1}: ${b.reason}${b.loc ? ` at ${b.loc}` : ''}${b.line ? `\n    ${b.line}` : ''}`).join('\n') : 'no graph breaks');
      put(`${sdir}/recompiles.txt`, [
        `signature ${ei + 1} of ${entries.length}; this entry: ${e.mode} (${e.why})`,
        ...(st.info.recompileReasons.length ? ['recompile reasons of this function, in order:', ...st.info.recompileReasons.map((r) => `  ${r}`)] : ['no recompiles']),
      ].join('\n'));
      put(`${sdir}/explain.json`, JSON.stringify({ ...ex, text: ex.toString() }, null, 2));
      put(`${sdir}/explain.txt`, ex.toString());
      const kernels = dumpedGraphs.reduce((s, g) => s + g.kernels, 0);
      const meta = [
        `function ${st.name}, signature ${ei + 1} of ${entries.length}, backend ${st.options.backend}: ${e.mode} (${e.why})`,
        `${graphsIn.length} graph(s), ${kernels} kernel(s), ${breaks.length} break(s); first call ${e.firstCallMs.toFixed(1)} ms, compile ${compileMs.toFixed(1)} ms`,
        ...breaks.map((b, i) => `break ${i + 1}: ${b.reason}${b.loc ? ` at ${b.loc}` : ''}`),
      ].join('\n');
      put(`${sdir}/graph.html`, graphHtml(`kiln dump: ${st.name} (signature ${ei + 1})`, meta, drawn));
      put(`${sdir}/summary.txt`, [meta, '', 'guards:', ...guards.map((g) => `  ${g}`), '',
        ...dumpedGraphs.map((g, i) => `graph ${i + 1}: ${g.tracedOps} traced ops -> ${g.kernels} kernel(s) [${g.kernelKinds.join(', ')}]${g.otherPlans ? `, re-planned for ${g.otherPlans} other shape(s)` : ''}`),
        '', `plan ${planMs.toFixed(1)} ms, kernel builds ${buildMs.toFixed(1)} ms, trace and the rest ${Math.max(0, compileMs - planMs - buildMs).toFixed(1)} ms`].join('\n'));
      sigs.push({ dir: sdir, signature: ei + 1, mode: e.mode, why: e.why, guards, breaks, firstCallMs: e.firstCallMs, compileMs, planMs, buildMs, graphs: dumpedGraphs });
    });
    const info = st.info;
    functions.push({
      name: st.name, dir: fdir, backend: st.options.backend,
      cache: { traces: info.traces, hits: info.hits, misses: info.misses, fellBackToEager: info.fellBackToEager },
      recompileReasons: [...info.recompileReasons], signatures: sigs,
    });
  }
  const all = functions.flatMap((f) => f.signatures);
  const index: DumpIndex = {
    kind: 'kiln-dump', version: 1, script: path.relative(process.cwd(), opts.script) || opts.script, date: new Date().toISOString(), scriptMs: opts.scriptMs,
    totals: {
      functions: functions.length, signatures: all.length, graphs: all.reduce((s, x) => s + x.graphs.length, 0),
      breaks: all.reduce((s, x) => s + x.breaks.length, 0), kernels: all.reduce((s, x) => s + x.graphs.reduce((t, g) => t + g.kernels, 0), 0),
      compileMs: all.reduce((s, x) => s + x.compileMs, 0),
    },
    functions, unused,
  };
  put('summary.txt', formatSummary(index, out));
  put('index.json', JSON.stringify(index, null, 2));
  prepareOut(out);
  for (const [rel, text] of files) {
    const file = path.join(out, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
  return index;
}

/** Throws unless `out` is missing, empty, or an earlier dump (which gets replaced). */
export function checkOut(out: string): string[] {
  if (!fs.existsSync(out)) return [];
  const items = fs.readdirSync(out);
  if (!items.length) return [];
  let ours = false;
  try { ours = JSON.parse(fs.readFileSync(path.join(out, 'index.json'), 'utf8')).kind === 'kiln-dump'; } catch { /* not a dump */ }
  if (!ours) throw new Error(`kiln dump: ${out} is not empty and holds no earlier dump; pick another --out`);
  return items;
}

/** Empties a previous dump in `out`. */
function prepareOut(out: string): void {
  for (const item of checkOut(out)) fs.rmSync(path.join(out, item), { recursive: true, force: true });
}

/** The short summary printed at the end (also summary.txt). */
export function formatSummary(ix: DumpIndex, out: string): string {
  const t = ix.totals;
  const r = path.relative(process.cwd(), out);
  const rel = r === '' ? '.' : r.startsWith('..') ? out : r;
  const lines = [
    `kiln dump ${ix.script}: ${t.functions} compiled function(s), ${t.signatures} signature(s), ${t.graphs} graph(s), ${t.breaks} break(s), ${t.kernels} kernel(s), compile ${t.compileMs.toFixed(1)} ms (script ran ${(ix.scriptMs / 1000).toFixed(2)} s)`,
  ];
  for (const f of ix.functions) {
    for (const s of f.signatures) {
      const ops = s.graphs.reduce((a, g) => a + g.tracedOps, 0);
      const k = s.graphs.reduce((a, g) => a + g.kernels, 0);
      lines.push(`  ${f.name} sig ${s.signature} (${f.backend}, ${s.mode}): ${s.graphs.length} graph(s), ${ops} ops -> ${k} kernel(s), ${s.breaks.length} break(s), compile ${s.compileMs.toFixed(1)} ms  ${rel}/${s.dir}`);
      for (const b of s.breaks) lines.push(`      break: ${b.reason}${b.loc ? ` at ${b.loc}` : ''}`);
    }
    if (f.recompileReasons.length) lines.push(`    recompiles: ${f.recompileReasons.join('; ')}`);
  }
  if (ix.unused.length) lines.push(`  compiled but never called (or only eagerly): ${ix.unused.join(', ')}`);
  lines.push(`open ${rel}/<function>/sig<N>/graph.html for the picture; index.json lists everything`);
  return lines.join('\n');
}
