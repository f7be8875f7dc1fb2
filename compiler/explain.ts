// explain(fn, ...args): what compile() does with a function, as data and as a printable report.
import { KilnError } from '../src/core/errors.js';
import { describeValue } from '../src/core/validate.js';
import { printKernel } from '../src/core/kernel.js';
import { printGraph, opCount } from './graph.js';
import { compileFunction, type CompileOptions, type CompiledState } from './compile.js';
import { optimize } from './passes.js';
import { planGraph } from './schedule.js';
import type { Graph } from './graph.js';

export interface ExplainGraph {
  readonly traced: string;
  readonly optimized: string;
  readonly ops: number;
  readonly kernels: readonly string[];
  /** Node ids of the optimised graph fused into each kernel. */
  readonly fusionGroups: readonly (readonly number[])[];
}

export interface Explanation {
  readonly graphCount: number;
  readonly graphs: readonly ExplainGraph[];
  readonly breaks: readonly { reason: string; loc?: string }[];
  readonly mode: string;
  readonly why: string;
  readonly guards: string;
  readonly recompileReasons: readonly string[];
  readonly sideEffects: readonly { what: string; line: number }[] | null;
  /** The report as text. */
  toString(): string;
}

function describe(g: Graph): ExplainGraph {
  const opt = optimize(g);
  const plan = planGraph(opt, new Map());
  return {
    traced: printGraph(g), optimized: printGraph(opt), ops: opCount(opt),
    kernels: plan.steps.map((s) => printKernel(s.kernel)), fusionGroups: plan.steps.map((s) => s.nodes),
  };
}

/**
 * Compiles `fn` afresh, calls it once on `args`, and reports graphs, breaks, fusion and guards.
 * An already compiled function is called as it is (its options and cache stay its own) and its
 * entry for `args` is reported.
 */
export function explain(fn: (...args: any[]) => unknown, ...args: unknown[]): Explanation;
export function explain(fn: (...args: any[]) => unknown, opts: CompileOptions & { args: unknown[] }): Explanation;
export function explain(fn: (...args: any[]) => unknown, ...rest: unknown[]): Explanation {
  if (typeof fn !== 'function') throw new KilnError(`explain: expected a function to compile and call, got ${describeValue(fn)}`);
  const viaOpts = rest.length === 1 && rest[0] && typeof rest[0] === 'object' && Array.isArray((rest[0] as { args?: unknown }).args);
  const opts = viaOpts ? (rest[0] as CompileOptions & { args: unknown[] }) : {};
  const args = viaOpts ? (rest[0] as { args: unknown[] }).args : rest;
  const given = (fn as { _state?: CompiledState })._state;
  if (given && Object.keys(opts).some((k) => k !== 'args')) {
    throw new KilnError('explain: this function is already compiled, so its options are fixed; pass the plain function to explain() with options');
  }
  const compiled = given ? (fn as (...a: unknown[]) => unknown) : compileFunction(fn, opts);
  const state = given ?? (compiled as ReturnType<typeof compileFunction>)._state;
  compiled(...args);
  return explainState(state, state.lastEntry);
}

/**
 * The report for one cache entry (default: the latest) of a compiled function, without calling it;
 * null reports an eager run (past cacheLimit).
 */
export function explainState(st: CompiledState, e: CompiledState['entries'][number] | null | undefined = st.entries[st.entries.length - 1]): Explanation {
  const graphs = (e?.mode === 'replay' && e.graph ? [e.graph] : e?.graphs ?? []).map(describe);
  const report: Omit<Explanation, 'toString'> = {
    graphCount: graphs.length, graphs, breaks: e?.breaks ?? [], mode: e?.mode ?? 'eager', why: e?.why ?? (st.info.fellBackToEager ? `past cacheLimit (${st.options.cacheLimit}): runs eagerly` : ''),
    guards: e ? e.sig.struct.split('|').filter(Boolean).join('\n') + `\nshapes: ${e.sig.shapes.map((s) => `[${s.join(',')}]`).join(' ')}` : '',
    recompileReasons: st.info.recompileReasons, sideEffects: st.sideEffects,
  };
  return { ...report, toString: () => formatReport(st.name, report) };
}

function formatReport(name: string, r: Omit<Explanation, 'toString'>): string {
  const lines = [`explain(${name}): ${r.graphCount} graph(s), ${r.breaks.length} break(s), mode ${r.mode} (${r.why})`];
  r.breaks.forEach((b, i) => lines.push(`  break ${i + 1}: ${b.reason}${b.loc ? ` at ${b.loc}` : ''}`));
  if (r.sideEffects?.length) lines.push(`  side effects: ${r.sideEffects.map((s) => `${s.what} (line ${s.line})`).join(', ')}`);
  r.graphs.forEach((g, i) => {
    lines.push('', `graph ${i + 1}: ${g.ops} ops -> ${g.kernels.length} kernel(s)`, g.optimized, '');
    g.kernels.forEach((k, j) => lines.push(`kernel ${j + 1} (nodes ${g.fusionGroups[j].map((n) => `%${n}`).join(' ')}):`, k));
  });
  lines.push('', 'guards:', r.guards);
  if (r.recompileReasons.length) lines.push('recompiles:', ...r.recompileReasons.map((x) => `  ${x}`));
  return lines.join('\n');
}
