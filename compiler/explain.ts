// explain(fn, ...args): what compile() does with a function, as data and as a printable report.
import { KilnError } from '../src/core/errors.js';
import { describeValue } from '../src/core/validate.js';
import { printKernel } from '../src/core/kernel.js';
import { fmtType, printGraph, opCount } from './graph.js';
import { compileFunction, type CompileOptions, type CompiledState } from './compile.js';
import { optimize, planGraph } from './passes.js';
import type { Graph } from './graph.js';

export interface ExplainGraph {
  readonly traced: string;
  readonly optimized: string;
  readonly ops: number;
  readonly kernels: readonly string[];
  /** Node ids of the optimised graph fused into each kernel. */
  readonly fusionGroups: readonly (readonly number[])[];
  /** What each pass of the pipeline (PASSES) did, in order: `name: effect`. */
  readonly passes: readonly string[];
}

export interface Explanation {
  readonly graphCount: number;
  readonly graphs: readonly ExplainGraph[];
  readonly breaks: readonly { reason: string; loc?: string }[];
  /** 'replay' (one cached program per call), 'segmented' (graph breaks), or 'eager'. */
  readonly mode: string;
  readonly why: string;
  /**
   * How a cache hit treats the JavaScript: 'verified' (it runs, each op checked against the graph),
   * 'skipped' (it does not run: pure: true, or the function reads only its arguments), 'runs'
   * (segmented), 'eager'; and why.
   */
  readonly javascript: { readonly onHit: 'verified' | 'skipped' | 'runs' | 'eager'; readonly why: string };
  /** How the call explain() made ran: 'trace', 'verified', 'skipped', 'segmented' or 'eager'. */
  readonly lastRun: string;
  readonly guards: string;
  readonly recompileReasons: readonly string[];
  readonly sideEffects: readonly { what: string; line: number }[] | null;
  /** The report as text. */
  toString(): string;
}

function describe(g: Graph): ExplainGraph {
  const passes: string[] = [];
  const opt = optimize(g, passes);
  const plan = planGraph(opt, new Map(), passes);
  return {
    traced: printGraph(g), optimized: printGraph(opt), ops: opCount(opt),
    kernels: plan.steps.map((s) => printKernel(s.kernel)), fusionGroups: plan.steps.map((s) => s.nodes), passes,
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
  const { args: _args, ...compileOpts } = opts as CompileOptions & { args?: unknown[] };
  const compiled = given ? (fn as (...a: unknown[]) => unknown) : compileFunction(fn, compileOpts);
  const state = given ?? (compiled as ReturnType<typeof compileFunction>)._state;
  try {
    compiled(...args);
  } catch (e) {
    // explain(fn) alone calls fn with no arguments: say so, rather than leave the op's complaint alone.
    if (args.length === 0 && e instanceof KilnError) {
      throw new KilnError(`explain: ${state.name === 'anonymous' ? 'the function' : state.name} was called with no arguments (explain(fn, ...args) calls it once on args) and failed: ${e.message}`, { cause: e });
    }
    throw e;
  }
  return explainState(state, state.lastEntry);
}

/**
 * The report for one cache entry (default: the latest) of a compiled function, without calling it;
 * null reports an eager run (past cacheLimit).
 */
export function explainState(st: CompiledState, e: CompiledState['entries'][number] | null | undefined = st.entries[st.entries.length - 1]): Explanation {
  const graphs = (e?.mode === 'replay' && e.graph ? [e.graph] : e?.graphs ?? []).map(describe);
  const javascript: Explanation['javascript'] = !e ? { onHit: 'eager', why: st.info.fellBackToEager ? 'past cacheLimit' : 'no cache entry' }
    : e.mode === 'segmented' ? { onHit: 'runs', why: e.jsRuns }
    : e.skip ? { onHit: 'skipped', why: st.options.pure ? 'pure: true (the caller asserts the function does nothing but tensor ops)' : 'the function reads nothing but its arguments (checked by parsing it), so a hit cannot differ' }
    : { onHit: 'verified', why: e.jsRuns };
  const report: Omit<Explanation, 'toString'> = {
    graphCount: graphs.length, graphs, breaks: e?.breaks ?? [], mode: e?.mode ?? 'eager', why: e?.why ?? (st.info.fellBackToEager ? `past cacheLimit (${st.options.cacheLimit}): runs eagerly` : ''),
    javascript, lastRun: st.lastRun ?? 'none', guards: e ? guardLines(e, javascript.onHit).join('\n') : '',
    recompileReasons: st.info.recompileReasons, sideEffects: st.sideEffects,
  };
  return { ...report, toString: () => formatReport(st.name, report) };
}

/** Every guard an entry's hits are checked against, one per line. */
export function guardLines(e: CompiledState['entries'][number], onHit: Explanation['javascript']['onHit']): string[] {
  const lines = e.sig.struct.split('|').filter(Boolean);
  lines.push(`shapes: ${e.sig.shapes.map((s) => `[${s.join(',')}]`).join(' ')}`);
  for (const [t, dims] of e.dynamicDims) if (dims.size) lines.push(`dynamic: tensor argument ${t} dims ${[...dims].join(',')} (sizes in reshape/expand/slice/pad follow them)`);
  if (onHit === 'verified') {
    lines.push(`each call's JavaScript: ${e.graph?.nodes.length ?? 0} nodes checked in order (op, attributes, which node each input is, shape, dtype); leaves bound to this call's tensors; programs keyed by every leaf's layout`);
    for (const id of e.lifted) {
      const n = e.graph!.nodes[id];
      lines.push(`runtime scalar %${id}${n.loc ? ` at ${n.loc}` : ''}: a number that changed between calls`);
    }
  } else if (onHit === 'skipped') {
    lines.push('argument values, layouts (strides, offset), aliasing, requiresGrad and `this` (the JavaScript is skipped)');
    for (const n of e.skip?.graph.nodes ?? []) {
      if (n.kind === 'input' && (n.source.kind === 'captured' || n.source.kind === 'grad')) lines.push(`${n.source.kind === 'grad' ? 'captured .grad' : 'captured tensor'} %${n.id}: ${fmtType(n)} (layout)`);
    }
  } else if (onHit === 'runs') lines.push('segments: each planned for its own graph and leaf layouts (the JavaScript runs)');
  return lines;
}

function formatReport(name: string, r: Omit<Explanation, 'toString'>): string {
  const lines = [`explain(${name}): ${r.graphCount} graph(s), ${r.breaks.length} break(s), mode ${r.mode} (${r.why})`];
  lines.push(`  on a cache hit the JavaScript is ${r.javascript.onHit === 'skipped' ? 'skipped' : r.javascript.onHit === 'verified' ? 'run and checked against the graph op by op' : r.javascript.onHit === 'runs' ? 'run, segment by segment' : 'run eagerly'}${r.javascript.why ? `: ${r.javascript.why}` : ''}`);
  r.breaks.forEach((b, i) => lines.push(`  break ${i + 1}: ${b.reason}${b.loc ? ` at ${b.loc}` : ''}`));
  if (r.sideEffects?.length) lines.push(`  side effects: ${r.sideEffects.map((s) => `${s.what} (line ${s.line})`).join(', ')}`);
  r.graphs.forEach((g, i) => {
    lines.push('', `graph ${i + 1}: ${g.ops} ops -> ${g.kernels.length} kernel(s)`, `passes: ${g.passes.join('; ')}`, g.optimized, '');
    g.kernels.forEach((k, j) => lines.push(`kernel ${j + 1} (nodes ${g.fusionGroups[j].map((n) => `%${n}`).join(' ')}):`, k));
  });
  lines.push('', 'guards:', r.guards);
  if (r.recompileReasons.length) lines.push('recompiles:', ...r.recompileReasons.map((x) => `  ${x}`));
  return lines.join('\n');
}
