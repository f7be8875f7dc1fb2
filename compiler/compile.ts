// compile(): every call runs the function's JavaScript under a tracer that checks each op against
// the cached graphs (op, attributes, which node each input is, shape, dtype) while it binds every
// leaf to the tensor this call used; a call that matches a cached graph runs its cached fused
// program. So module state, optimizer hyper-parameters, re-bound captured tensors, shape branches,
// sizes used as values and side effects are this call's by construction. A JS number that changed
// at the same place becomes a runtime scalar input of the same program (no retrace). The JavaScript
// is skipped on a hit only where nothing but tensor ops can happen: with `pure: true`, or when the
// function is closed (it reads only its arguments; see source.ts analyzeClosure). A trace with a
// graph break runs segment by segment.
import type { BackendName } from '../src/core/backend.js';
import { currentBackend } from '../src/core/backend.js';
import { KilnError, assertNever, fmtShape } from '../src/core/errors.js';
import { shapesEqual } from '../src/core/shape.js';
import { isGradEnabled } from '../src/autograd.js';
import { drawRandom } from '../src/creation.js';
import { activeTracer, setTracer, untraced } from '../src/dispatch.js';
import { keep } from '../src/tidy.js';
import { Tensor } from '../src/tensor.js';
import type { View } from '../src/core/kernel.js';
import type { Storage } from '../src/storage.js';
import { coversStorage, exchangeAll, Settlement } from './commit.js';
import type { Graph, GraphNode, InputSource } from './graph.js';
import { printGraph } from './graph.js';
import { bindLeaves, prepare, runProgram, type LeafOf, type Program } from './execute.js';
import { log } from './logs.js';
import { analyzeClosure, findSideEffects, type Closure, type SideEffect } from './source.js';
import { aliasPattern, differingDims, flatten, guardFailure, sameButSizes, strictKey, viewKey, type Leaf, type Signature } from './signature.js';
import { SIZE_ATTR_OPS, Trace, lazyHandle, type BreakRecord, type Candidate } from './trace.js';
import { checkArgBackends, checkCompileOptions } from './options.js';

export interface CompileOptions {
  backend?: BackendName;
  /** Throw GraphBreakError instead of splitting the function at a break. */
  fullgraph?: boolean;
  /** 'auto' (default): a dim seen with a second size becomes dynamic; true: all dims dynamic; false: none. */
  dynamic?: boolean | 'auto';
  /** Signatures kept before the function falls back to eager (default 8). */
  cacheLimit?: number;
  /**
   * The caller asserts the function is pure: given tensors of the same shapes, layouts and dtypes and
   * equal other arguments, it runs the same tensor ops and nothing else (no side effects, no JS state
   * that changes between calls; captured tensors may change in place but are not re-bound). A cache
   * hit then skips its JavaScript. Without it kiln skips the JavaScript only for functions it can
   * prove closed (they read nothing but their arguments).
   */
  pure?: boolean;
}

/** Cache statistics of a compiled function. */
export interface CacheInfo {
  traces: number;
  hits: number;
  misses: number;
  entries: number;
  recompileReasons: string[];
  /** True once past cacheLimit: calls run eagerly. */
  fellBackToEager: boolean;
}

/** Where a returned value's tensors go in a JS-skipping replay. */
type Template =
  | { readonly out: number }
  | { readonly arg: string }
  | { readonly tensor: Tensor }
  | { readonly arr: readonly Template[] }
  | { readonly obj: Readonly<Record<string, Template>> }
  | { readonly value: unknown };

/** How a JS-skipping replay binds and applies what the first call did. */
interface SkipPlan {
  readonly graph: Graph;
  readonly template: Template;
  /** In-place results: the input node (arg or captured) whose storage takes output `slot`. */
  readonly commits: readonly { readonly node: number; readonly slot: number }[];
  /** .grad writes: tensor and output slot (null: set to null). */
  readonly grads: readonly [Tensor, number | null][];
  /** Constants the program owns (copies made when it was traced; tidy() leaves them alone). */
  readonly owned: ReadonlyMap<number, Tensor>;
  /** Layout of each captured input when traced (pure: true). */
  readonly captured: readonly [number, string][];
  /** Every leaf of `graph` and how a hit binds it, in node order (random draws happen in this order). */
  readonly leaves: readonly SkipLeaf[];
  /** Bindings of the running hit (reused: a hit runs no JavaScript, so none can start inside it). */
  readonly scratch: Tensor[];
  /** Which arguments shared storage when traced (the template resolves returned arguments by it). */
  readonly aliases: string;
  readonly leafOf: LeafOf;
}

type SkipLeaf =
  | { readonly id: number; readonly kind: 'arg'; readonly path: readonly string[] }
  | { readonly id: number; readonly kind: 'input'; readonly source: InputSource }
  | { readonly id: number; readonly kind: 'owned'; readonly tensor: Tensor }
  | { readonly id: number; readonly kind: 'random'; readonly node: Extract<GraphNode, { kind: 'random' }> };

/** One cached graph (replay) or argument signature (segmented). */
interface Entry {
  readonly sig: Signature;
  readonly mode: 'replay' | 'segmented';
  /** Dims (tensor index -> dims) that may change size: the graph is checked with sizes left out. */
  readonly dynamicDims: Map<number, Set<number>>;
  /** The traced graph calls are checked against (replay), or the last one run (segmented). */
  readonly graph?: Graph;
  /** Leaf node ids of `graph` (their layouts key its programs). */
  readonly leafIds: readonly number[];
  /** The last call's leaf views and their text in program keys (views are immutable: same objects, same text). */
  layouts: { readonly views: View[]; readonly text: string } | null;
  /**
   * Every program of this entry, in one map (the place to bound them): `L|` + leaf layouts, outputs
   * and runtime scalars for calls that run the JavaScript; `S|` + the strict key (signature.ts) for
   * hits that skip it.
   */
  readonly programs: Map<string, Program>;
  /** Scalar constants of `graph` that changed between calls: runtime 0-d inputs. */
  readonly lifted: Set<number>;
  breaks: readonly BreakRecord[];
  readonly graphs: readonly Graph[];
  readonly why: string;
  /** Why a hit runs the JavaScript ('' where it skips it). */
  jsRuns: string;
  /** Set where a hit may skip the JavaScript. */
  skip: SkipPlan | null;
  /** Wall time of the call that traced this entry: tracing, planning, kernel builds and the run (kiln dump). */
  firstCallMs: number;
}

/** What explain() and kiln dump read about a compiled function. */
export interface CompiledState {
  readonly name: string;
  readonly options: Required<Omit<CompileOptions, 'backend'>> & { backend: BackendName };
  readonly entries: readonly Entry[];
  readonly info: CacheInfo;
  readonly sideEffects: readonly SideEffect[] | null;
  readonly closure: Closure;
  /** The trace in progress (null between calls: a finished trace would pin its call's arguments). */
  readonly lastTrace: Trace | null;
  /** The cache entry the latest call used (null when it ran eagerly). */
  readonly lastEntry: Entry | null;
  /** How the latest call ran: 'trace', 'verified' (JS checked against the graph), 'skipped' (JS not run), 'eager'. */
  readonly lastRun: 'trace' | 'verified' | 'skipped' | 'segmented' | 'eager' | null;
}

/** A compiled function: same call signature, plus cache introspection. */
export type Compiled<F extends (...args: any[]) => any> = F & {
  cacheInfo(): CacheInfo;
  /** @internal */ readonly _state: CompiledState;
};

let epoch = 0;
/** Forgets every compiled function's cached traces and plans. */
export function resetCompileCache(): void { epoch++; }

/** True while a compiled function is being traced. */
export function isCompiling(): boolean { return activeTracer() !== null; }

/** Ends the current graph here (a GraphBreakError under fullgraph). */
export function graphBreak(): void {
  const tr = activeTracer();
  if (tr instanceof Trace) tr.breakHere('graphBreak()');
}

/**
 * The compiled functions of this process that are still reachable (kiln dump reads them). It holds
 * them weakly, so a compiled function nobody references is collected with its programs, kernels and
 * captured tensors; retainAll() (kiln dump) keeps every one from then on.
 */
class CompiledRegistry implements Iterable<CompiledState> {
  private refs: WeakRef<CompiledState>[] = [];
  private strong: CompiledState[] | null = null;
  add(s: CompiledState): void {
    this.strong?.push(s);
    if (this.refs.length >= 64 && (this.refs.length & (this.refs.length - 1)) === 0) this.refs = this.refs.filter((r) => r.deref());
    this.refs.push(new WeakRef(s));
  }
  /** Keeps every compiled function made from now on alive (a dump lists the ones a script dropped). */
  retainAll(): void { this.strong ??= []; }
  *[Symbol.iterator](): Iterator<CompiledState> {
    for (const r of this.refs) { const s = r.deref(); if (s) yield s; }
  }
}
export const compiledRegistry = new CompiledRegistry();

/** Programs kept per cache entry (layouts, sizes of dynamic dims), least recently used evicted. */
const PROGRAMS_PER_ENTRY = 8;

/** The entry's program for `key`, marked most recently used. */
function cachedProgram(e: { readonly programs: Map<string, Program> }, key: string): Program | undefined {
  const p = e.programs.get(key);
  if (p) { e.programs.delete(key); e.programs.set(key, p); }
  return p;
}

/** Keeps `p` under `key`, evicting the least recently used program past the bound. */
function keepProgram(e: { readonly programs: Map<string, Program> }, key: string, p: Program): void {
  if (!e.programs.has(key) && e.programs.size >= PROGRAMS_PER_ENTRY) e.programs.delete(e.programs.keys().next().value!);
  e.programs.set(key, p);
}

const sameList = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const isPlain = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;
const isThenable = (v: unknown): v is PromiseLike<unknown> => !!v && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
const isAsyncFunction = (fn: unknown) => ['AsyncFunction', 'AsyncGeneratorFunction'].includes((fn as { constructor?: { name?: string } }).constructor?.name ?? '');

/** Tensors reachable from a returned value through arrays, plain objects, Maps and Sets. */
function tensorsIn(v: unknown, out: Tensor[] = [], seen = new Set<unknown>()): Tensor[] {
  if (v instanceof Tensor) { out.push(v); return out; }
  if (!v || typeof v !== 'object' || seen.has(v)) return out;
  seen.add(v);
  if (Array.isArray(v)) v.forEach((x) => tensorsIn(x, out, seen));
  else if (v instanceof Map) v.forEach((x, k) => { tensorsIn(k, out, seen); tensorsIn(x, out, seen); });
  else if (v instanceof Set) v.forEach((x) => tensorsIn(x, out, seen));
  else if (isPlain(v)) Object.values(v).forEach((x) => tensorsIn(x, out, seen));
  return out;
}

/** Lazy tensors the autograd graph of `roots` keeps for backward (it continues after the call). */
function savedForBackward(roots: readonly Tensor[], trace: Trace): Tensor[] {
  const out: Tensor[] = [];
  const seen = new Set<object>();
  const stack = roots.filter((t) => t._node).map((t) => t._node!);
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const t of n.savedTensors()) {
      if (lazyHandle(t)?.trace === trace) out.push(t);
      if (t._node && !seen.has(t._node)) stack.push(t._node);
    }
  }
  return out;
}

/** The recorded graph with the listed scalar constants turned into runtime 0-d inputs. */
function liftScalars(g: Graph, lifted: ReadonlySet<number>): Graph {
  if (!lifted.size) return g;
  return {
    ...g, nodes: g.nodes.map((n): GraphNode => (lifted.has(n.id) && n.kind === 'const'
      ? { kind: 'input', id: n.id, shape: n.shape, dtype: n.dtype, source: { kind: 'scalar', was: n.scalar! }, bind: n.bind, loc: n.loc } : n)),
  };
}

/** `|`-joined layouts of the entry's leaves in this call (the program key's part that follows them). */
function leafLayouts(e: Entry, trace: Trace): string {
  const views = e.leafIds.map((id) => trace.bindings[id]!._view);
  const last = e.layouts;
  if (last && last.views.length === views.length && last.views.every((v, i) => v === views[i])) return last.text;
  let text = '';
  for (const v of views) text += `|${viewKey(v)}`;
  e.layouts = { views, text };
  return text;
}

/** Compiles a function (see DESIGN.md "compile()"). */
export function compileFunction<F extends (...args: any[]) => any>(fn: F, opts: CompileOptions = {}): Compiled<F> {
  opts = checkCompileOptions(opts);
  const options = {
    backend: opts.backend ?? currentBackend(), fullgraph: opts.fullgraph ?? false,
    dynamic: opts.dynamic ?? 'auto', cacheLimit: opts.cacheLimit ?? 8, pure: opts.pure ?? false,
  } as CompiledState['options'];
  let entries: Entry[] = [];
  let myEpoch = epoch;
  const info: CacheInfo = { traces: 0, hits: 0, misses: 0, entries: 0, recompileReasons: [], fellBackToEager: false };
  const sideEffects = findSideEffects(fn);
  const closure = analyzeClosure(fn);
  const name = fn.name || 'anonymous';
  const state = {
    name, options, get entries() { return entries; }, info, sideEffects, closure,
    lastTrace: null as Trace | null, lastEntry: null as Entry | null, lastRun: null as CompiledState['lastRun'],
  };
  compiledRegistry.add(state);
  let warned = false;
  /** .grad tensors this function wrote: the next call updates them in place (see completeCall). */
  const ownGrads = new WeakSet<Tensor>();
  const async = isAsyncFunction(fn);
  /** Some entry may skip the JavaScript (checked first on every call). */
  let skipping = false;

  const runner = (g: Graph, leafOf: LeafOf, onBreak: (reason: string) => void): Tensor[] => {
    const { program, leaves } = prepare(g, leafOf, options.backend);
    if (program.unsupported) onBreak(`the ${options.backend} backend cannot compile a kernel: ${program.unsupported}`);
    return runProgram(program, leaves);
  };

  /** A cached program of `e` for this call's layouts, outputs and runtime scalars (planned on a miss). */
  const programFor = (e: Entry, trace: Trace, outputs: readonly number[]): Program => {
    let key = `L|${outputs.join(',')}|${e.lifted.size}${leafLayouts(e, trace)}`;
    // Dynamic sizes: sizes in attributes are this call's (checked loosely), so they key the program.
    if (e.dynamicDims.size) for (const n of trace.nodes) if (n.kind === 'op' && SIZE_ATTR_OPS.has(n.op)) key += `|${JSON.stringify(n.attrs)}`;
    let p = cachedProgram(e, key);
    if (!p) {
      const g = liftScalars(trace.graphFor(outputs), e.lifted);
      p = prepare(g, trace.leaf, options.backend, e.dynamicDims.size > 0).program;
      keepProgram(e, key, p);
    }
    return p;
  };

  const restoreGrads = (trace: Trace) => untraced(() => { for (const [t, prev] of trace.gradPrev) t.grad = prev; });

  /**
   * Everything a finished call left pending (returned lazies, .grad writes, tensors saved for a
   * backward after the call, writes into real tensors) computed by one program and applied at once.
   */
  const completeCall = (trace: Trace, ret: unknown, pick: (outputs: readonly number[]) => Program | null): void => {
    const roots = tensorsIn(ret);
    const returned = new Set(roots);
    const reuse: [Tensor, Tensor][] = [];
    const newGrads: Tensor[] = [];
    const basesOf = new Set(roots.map((r) => trace.baseOf(r)).filter((b) => b !== null));
    for (const [t, prev] of trace.gradPrev) {
      const g = t.grad;
      if (!g || lazyHandle(g)?.trace !== trace) continue;
      // A .grad that views an intermediate (detach(), a transpose's gradient) becomes a contiguous
      // value of its own unless something the caller gets back shares that intermediate: every call
      // then records the same graph, and the value can take over the previous .grad's storage.
      const b = trace.baseOf(g);
      const plain = b === null || !basesOf.has(b);
      if (plain) trace.ownValue(g);
      if (prev && ownGrads.has(prev) && prev !== g && plain && !returned.has(g) && !prev.requiresGrad && !prev._lazy &&
          prev.backend === g.backend && prev.dtype === g.dtype && shapesEqual(prev.shape, g.shape) && coversStorage(prev)) {
        reuse.push([g, prev]);
      } else { roots.push(g); newGrads.push(g); }
    }
    roots.push(...savedForBackward(roots, trace));
    const p = trace.pending(roots, [...trace.written.keys()], reuse);
    let outs: Tensor[];
    try {
      const program = pick(p.outputs);
      if (program?.unsupported) trace.breakHere(`the ${options.backend} backend cannot compile a kernel: ${program.unsupported}`);
      outs = program ? runProgram(program, bindLeaves(program, trace.leaf)) : trace.executeGraph(trace.graphFor(p.outputs));
      trace.apply(p, outs, false);
    } catch (e) {
      restoreGrads(trace);
      trace.close();
      throw e;
    }
    untraced(() => {
      for (const [g, prev] of reuse) {
        const owner = [...trace.gradPrev.keys()].find((t) => t.grad === g)!;
        owner.grad = prev;
        prev._version.value++;
      }
    });
    for (const g of newGrads) ownGrads.add(g);
    trace.close();
  };

  /** After the body threw: what ran before the throw happened, as in eager mode; then rethrow. */
  const settleAfterThrow = (trace: Trace) => {
    try {
      const roots = [...trace.gradPrev.keys()].map((t) => t.grad).filter((g): g is Tensor => !!g);
      const p = trace.pending(roots, [...trace.written.keys()]);
      if (p.outputs.length || p.fills.length) trace.apply(p, trace.executeGraph(trace.graphFor(p.outputs)), false);
    } catch { /* the body's own error is the one to report */ }
    trace.close();
  };

  const newEntry = (e: Omit<Entry, 'programs' | 'lifted' | 'leafIds' | 'layouts'> & { leafIds?: number[] }): Entry | null => {
    if (entries.length >= options.cacheLimit) return null;
    const full: Entry = { ...e, leafIds: e.leafIds ?? [], programs: new Map(), lifted: new Set(), layouts: null };
    entries.push(full);
    info.entries = entries.length;
    return full;
  };

  const fallBack = (why: string): void => {
    info.fellBackToEager = true;
    if (!warned) {
      warned = true;
      console.warn(`[kiln] ${name}: hit cacheLimit (${options.cacheLimit}) signatures; running eagerly from now on. The guard that keeps failing: ${why}`);
    }
  };

  /** Runs the body under a tracer checked against `cands`; completes the call. */
  const traced = function (self: unknown, args: unknown[], leaves: readonly Leaf[], sig: Signature, cands: Candidate<Entry>[], trials: ReadonlyMap<Candidate<Entry>, string>, seg: Entry | null, lastFailure: string): unknown {
    const argPaths = new Map<Tensor, string>();
    for (const l of leaves) if (!argPaths.has(l.tensor)) argPaths.set(l.tensor, l.path);
    const trace = new Trace(options.backend, options.fullgraph, argPaths, runner, name, cands);
    state.lastTrace = trace;
    const t0 = performance.now();
    const prev = setTracer(trace);
    let ret: unknown;
    try {
      ret = fn.apply(self, args);
    } catch (e) {
      setTracer(prev);
      if (!(e instanceof KilnError && e.name === 'GraphBreakError')) settleAfterThrow(trace); else trace.close();
      throw e;
    }
    setTracer(prev);
    if (isThenable(ret)) {
      // After the first await the body runs eagerly: compute everything so far now.
      trace.breakHere('await (the rest of an async function runs eagerly)');
      completeCall(trace, ret, () => null);
      const e = seg ?? newSegmented(sig, trace, t0, lastFailure);
      state.lastEntry = e;
      state.lastRun = 'segmented';
      return ret;
    }
    if (trace.broke) {
      completeCall(trace, ret, () => null);
      state.lastEntry = seg ?? newSegmented(sig, trace, t0, lastFailure);
      if (seg) info.hits++;
      state.lastRun = 'segmented';
      return ret;
    }
    // Which graph this call ran is decided once everything it left pending is recorded too.
    let entry: Entry | null = null;
    let run: CompiledState['lastRun'] = 'trace';
    completeCall(trace, ret, (outputs) => {
      const n = trace.nodes.length;
      const hit = cands.find((c) => c.alive && !c.tolerant && c.nodes.length === n) ?? cands.find((c) => c.alive && c.nodes.length === n);
      if (hit) {
        const e = hit.tag;
        entry = e;
        run = 'verified';
        info.hits++;
        const failed = trials.get(hit);
        if (failed) {
          for (const [i, dims] of differingDims(e.sig, sig)) for (const d of dims) (e.dynamicDims.get(i) ?? e.dynamicDims.set(i, new Set()).get(i)!).add(d);
          info.recompileReasons.push(`${failed} -> dims made dynamic (graph reused)`);
          log('recompiles', () => `[kiln] ${name}: ${failed}; dims made dynamic, graph reused`);
        }
        for (const id of hit.lifts) {
          if (e.lifted.has(id)) continue;
          e.lifted.add(id);
          const node = e.graph!.nodes[id];
          log('recompiles', () => `[kiln] ${name}: the number ${node.kind === 'const' ? node.scalar : '?'} at ${node.loc ?? `%${id}`} changed: it is now a runtime input of the same program (no retrace)`);
        }
        log('guards', () => `[kiln] ${name}: cache hit (replay; the JavaScript ran and matched the graph op by op)`);
        const p = programFor(e, trace, outputs);
        if (e.skip && !e.lifted.size && sameList(e.skip.graph.outputs, outputs) && e.skip.aliases === aliasPattern(leaves) && sameSources(e.graph!.nodes, trace.nodes)) keepProgram(e, `S|${strictKey(leaves, sig, self)}`, p);
        return p;
      }
      const why = cands.length ? cands.map((c) => (trials.has(c) ? `${trials.get(c)}; sizes could not be made dynamic: ` : 'the JavaScript took another path: ') + c.diverged).join('; ') : lastFailure;
      if (entries.length >= options.cacheLimit) { fallBack(why); run = 'eager'; return null; }
      info.traces++;
      info.misses++;
      if (entries.length) { info.recompileReasons.push(why); log('recompiles', () => `[kiln] ${name}: recompiling: ${why}`); }
      const graph = trace.graphFor(outputs);
      log('graph', () => `[kiln] traced ${name}:\n${printGraph(graph)}`);
      const leafIds = graph.nodes.filter((x) => x.kind === 'input' || x.kind === 'random' || (x.kind === 'const' && x.scalar === undefined)).map((x) => x.id);
      const skip = skipPlan(self, trace, ret, graph, sig, leaves);
      const dynamicDims = new Map<number, Set<number>>();
      if (options.dynamic === true) sig.shapes.forEach((sh, i) => dynamicDims.set(i, new Set(sh.map((_, k) => k))));
      entry = newEntry({
        sig, mode: 'replay', dynamicDims, graph, leafIds, breaks: [], graphs: [graph], why: 'whole graph',
        jsRuns: 'why' in skip ? skip.why : '', skip: 'why' in skip ? null : skip, firstCallMs: 0,
      });
      if (entry?.skip) skipping = true;
      const p = programFor(entry!, trace, outputs);
      if (p.unsupported) {
        entry!.breaks = [{ reason: `the ${options.backend} backend cannot compile a kernel: ${p.unsupported}` }];
        entry!.skip = null;
        entry!.jsRuns = 'a kernel runs op by op';
      }
      if (entry!.skip) keepProgram(entry!, `S|${strictKey(leaves, sig, self)}`, p);
      const e = entry!;
      log('guards', () => `[kiln] ${name}: new graph (replay): on a hit the JavaScript ${e.skip ? `is skipped (${options.pure ? 'pure: true' : 'it reads only its arguments'})` : `runs and is checked op by op (${e.jsRuns})`}`);
      return p;
    });
    if (run === 'trace' && entry) (entry as Entry).firstCallMs = performance.now() - t0;
    state.lastEntry = entry;
    state.lastRun = run;
    return ret;
  };

  const newSegmented = (sig: Signature, trace: Trace, t0: number, lastFailure: string): Entry | null => {
    if (entries.length >= options.cacheLimit) { fallBack(lastFailure); return null; }
    info.traces++;
    info.misses++;
    if (entries.length) { info.recompileReasons.push(lastFailure); log('recompiles', () => `[kiln] ${name}: recompiling: ${lastFailure}`); }
    log('breaks', () => [...trace.breaks.map((b) => `[kiln] ${name}: graph break: ${b.reason}${b.loc ? ` at ${b.loc}` : ''}`),
      `[kiln] ${name}: runs segment by segment (${trace.breaks.length} break(s)); the JavaScript runs on every call`].join('\n'));
    const graphs = trace.executions.map((x) => x.graph);
    log('graph', () => graphs.map((g, i) => `[kiln] traced ${name} (segment ${i + 1} of ${graphs.length}):\n${printGraph(g)}`).join('\n'));
    return newEntry({
      sig, mode: 'segmented', dynamicDims: new Map(), graph: graphs[graphs.length - 1], breaks: trace.breaks, graphs,
      why: `graph breaks: ${trace.breaks.map((b) => b.reason).join('; ')}`, jsRuns: 'the function has graph breaks', skip: null,
      firstCallMs: performance.now() - t0,
    });
  };

  /** Whether a hit on this new graph may skip the JavaScript, and how; or why not. */
  const skipPlan = (self: unknown, trace: Trace, ret: unknown, graph: Graph, sig: Signature, leaves: readonly Leaf[]): SkipPlan | { why: string } => {
    const pure = options.pure;
    // Values read on the host may steer the JavaScript (a branch, a size, host-made indices) even
    // in a function that reads nothing but its arguments, and even under pure: true.
    if (trace.valueRead) return { why: `it reads tensor values on the host (${trace.valueRead})` };
    if (!pure && !closure.closed) return { why: `the function ${closure.why}` };
    if (!pure && sig.opaque) return { why: `argument ${sig.opaque} is an object kiln cannot look into` };
    if (!pure && self !== undefined && self !== null) return { why: 'it is called with a `this`' };
    const owned = new Map<number, Tensor>();
    const captured: [number, string][] = [];
    for (const n of graph.nodes) {
      if (n.kind === 'input') {
        const k = n.source.kind;
        if (k === 'arg') continue;
        if (!pure || (k !== 'captured' && k !== 'grad')) return { why: k === 'storage' ? 'it writes through a view of a tensor' : `it reads a ${k} tensor` };
        captured.push([n.id, viewKey(trace.bindings[n.id]!._view)]);
      } else if (n.kind === 'const' && n.scalar === undefined) {
        const b = trace.bindings[n.id]!;
        const shared = graph.nodes.some((m) => m.kind === 'input' && trace.bindings[m.id]?._storage === b._storage);
        if (shared) return { why: 'a tensor it made shares memory with an input' };
        owned.set(n.id, keep(untraced(() => b.detach().clone())));
      }
    }
    const commits: { node: number; slot: number }[] = [];
    for (const [s, b] of trace.written) {
      const origin = graph.nodes.find((n) => n.kind === 'input' && trace.bindings[n.id]?._storage === s && coversStorage(trace.bindings[n.id]!) && (n.source.kind === 'arg' || n.source.kind === 'captured'));
      void b;
      if (!origin) return { why: 'it writes in place into a tensor it does not take as an argument' };
      // The committed value is the output that filled the storage: find its slot by the final node.
      const slot = trace.lastCommitSlot(s);
      if (slot < 0) return { why: 'an in-place write could not be located' };
      commits.push({ node: origin.id, slot });
    }
    const grads: [Tensor, number | null][] = [];
    for (const [t] of trace.gradPrev) {
      if (!pure) return { why: 'it sets .grad' };
      grads.push([t, t.grad ? trace.lastFillSlot(t.grad) : null]);
      if (t.grad && grads[grads.length - 1][1] === -1) return { why: 'a .grad it sets could not be located' };
    }
    let why: string | null = null;
    const template = (v: unknown): Template => {
      if (v instanceof Tensor) {
        const path = trace.argPathOf(v);
        if (path !== undefined) return { arg: path };
        const slot = trace.lastFillSlot(v);
        if (slot >= 0) return { out: slot };
        if (pure && !v._lazy) return { tensor: v };
        why ??= 'it returns a view or a tensor it did not compute';
        return { value: null };
      }
      if (Array.isArray(v)) return { arr: v.map(template) };
      if (isPlain(v)) return { obj: Object.fromEntries(Object.entries(v).map(([k, x]) => [k, template(x)])) };
      if (v !== null && (typeof v === 'object' || typeof v === 'function')) { why ??= 'it returns an object (each call must return its own)'; return { value: null }; }
      return { value: v };
    };
    const t = template(ret);
    if (why) return { why };
    if (tensorsIn(ret).some((x) => x.requiresGrad && x._node)) return { why: 'it returns a tensor that requires grad (the JavaScript builds its autograd graph)' };
    const skipLeaves: SkipLeaf[] = [];
    for (const n of graph.nodes) {
      if (n.kind === 'input') skipLeaves.push(n.source.kind === 'arg' ? { id: n.id, kind: 'arg', path: n.source.path.split('.') } : { id: n.id, kind: 'input', source: n.source });
      else if (n.kind === 'const' && n.scalar === undefined) skipLeaves.push({ id: n.id, kind: 'owned', tensor: owned.get(n.id)! });
      else if (n.kind === 'random') skipLeaves.push({ id: n.id, kind: 'random', node: n });
    }
    const scratch: Tensor[] = [];
    return { graph, template: t, commits, grads, owned, captured, leaves: skipLeaves, scratch, aliases: aliasPattern(leaves), leafOf: (n) => scratch[n.kind === 'op' ? -1 : n.bind ?? n.id] };
  };

  /** A cache hit that skips the JavaScript (see SkipPlan). */
  const skipRun = (e: Entry, program: Program, args: readonly unknown[]): unknown => {
    const sk = e.skip!;
    const bindings = sk.scratch;
    const leafStorages = new Set<Storage>();
    for (const l of sk.leaves) {
      let t: Tensor;
      switch (l.kind) {
        case 'arg': { let v: unknown = args; for (const k of l.path) v = (v as Record<string, unknown>)[k]; t = v as Tensor; break; }
        case 'input': t = resolveSource(l.source, args); break;
        case 'owned': t = l.tensor; break;
        case 'random': t = drawRandom(l.node.random, l.node.shape, l.node.dtype, l.node.params, options.backend); break;
      }
      bindings[l.id] = t;
      if (l.kind !== 'random' && t._storage) leafStorages.add(t._storage);
    }
    let outs: Tensor[];
    try { outs = runProgram(program, bindLeaves(program, sk.leafOf)); } finally { bindings.length = 0; }
    const st = new Settlement(outs, leafStorages);
    const given = new Map<number, Tensor>();
    let staged: { storage: Storage; from: Tensor; target: Tensor }[];
    const gradVals: [Tensor, Tensor | null, Tensor | null][] = [];
    let result: unknown;
    try {
      staged = sk.commits.map((c) => {
        const target = resolveLeaf(sk, c.node, args);
        return { storage: target._storage!, from: st.own(c.slot), target };
      });
      for (const [t, slot] of sk.grads) {
        if (slot === null) { gradVals.push([t, null, null]); continue; }
        const prev = t.grad;
        if (prev && ownGrads.has(prev) && !prev.requiresGrad && coversStorage(prev) && prev.dtype === outs[slot].dtype && shapesEqual(prev.shape, outs[slot].shape)) {
          const from = st.own(slot);
          staged.push({ storage: prev._storage!, from, target: prev });
          gradVals.push([t, prev, null]);
        } else gradVals.push([t, null, st.own(slot)]);
      }
      const rebuild = (tp: Template): unknown => {
        if ('out' in tp) { let g = given.get(tp.out); if (!g) { g = st.own(tp.out); given.set(tp.out, g); } return g; }
        if ('arg' in tp) return argAt(args, tp.arg);
        if ('tensor' in tp) return tp.tensor;
        if ('arr' in tp) return tp.arr.map(rebuild);
        if ('obj' in tp) return Object.fromEntries(Object.entries(tp.obj).map(([k, x]) => [k, rebuild(x)]));
        return tp.value;
      };
      result = rebuild(sk.template);
    } catch (err) {
      st.abort();
      throw err;
    }
    exchangeAll(staged);
    for (const s of staged) s.target._version.value++;
    for (const [t, reused, fresh] of gradVals) {
      if (reused) continue;
      t.grad = fresh;
      if (fresh) ownGrads.add(fresh);
    }
    st.release(new Set([...given.values(), ...gradVals.map((g) => g[2]).filter((x): x is Tensor => !!x)]));
    return result;
  };

  /** Captured inputs of a JS-skipping entry still look as they did when traced. */
  const capturedChanged = (sk: SkipPlan, args: readonly unknown[]): boolean => sk.captured.some(([id, layout]) => {
    const n = sk.graph.nodes[id] as Extract<GraphNode, { kind: 'input' }>;
    const t = n.source.kind === 'grad' ? n.source.of.grad : resolveSource(n.source, args);
    return !t || t.dtype !== n.dtype || viewKey(t._view) !== layout;
  });

  const call = function (this: unknown, ...args: unknown[]): unknown {
    if (epoch !== myEpoch) { entries = []; myEpoch = epoch; skipping = false; }
    state.lastEntry = null;
    state.lastRun = 'eager';
    if (info.fellBackToEager || activeTracer()) return fn.apply(this, args);
    const { leaves, sig } = flatten(args, this);
    checkArgBackends(name, options.backend, leaves);
    // 1. A hit that may skip the JavaScript: everything it assumed is checked first.
    if (skipping) {
      const key = `S|${strictKey(leaves, sig, this)}`;
      for (const e of entries) {
        const p = e.skip && cachedProgram(e, key);
        if (!p || capturedChanged(e.skip!, args)) continue;
        info.hits++;
        state.lastEntry = e;
        state.lastRun = 'skipped';
        log('guards', () => `[kiln] ${name}: cache hit (replay; the JavaScript is skipped: ${options.pure ? 'pure: true' : 'the function reads only its arguments'})`);
        return skipRun(e, p, args);
      }
    }
    // 2. The JavaScript runs, checked against every graph whose guards this call passes.
    const cands: Candidate<Entry>[] = [];
    const trials = new Map<Candidate<Entry>, string>();
    let seg: Entry | null = null;
    let lastFailure = entries.length ? '' : 'first call';
    for (const e of entries) {
      const fail = guardFailure(e.sig, e.dynamicDims, sig);
      const candidate = (tolerant: boolean): Candidate<Entry> => ({ nodes: e.graph!.nodes, tolerant, tag: e, alive: true, diverged: null, lifts: [] });
      if (!fail) {
        if (e.mode === 'replay') cands.push(candidate(e.dynamicDims.size > 0));
        else seg ??= e;
        continue;
      }
      lastFailure = fail;
      if (e.mode === 'replay' && options.dynamic !== false && sameButSizes(e.sig, sig)) { const c = candidate(true); cands.push(c); trials.set(c, fail); }
    }
    if (!cands.length && !seg && entries.length >= options.cacheLimit) { fallBack(lastFailure); return fn.apply(this, args); }
    try {
      if (async) return asyncCall(this, args, leaves, sig, seg, lastFailure);
      return traced(this, args, leaves, sig, cands, trials, seg, lastFailure);
    } finally {
      state.lastTrace = null;
    }
  };

  /**
   * An async function: its synchronous part is traced; at the first await everything it computed
   * is made concrete and its writes committed, and the rest runs eagerly (the tracer cannot follow
   * an await), so later code sees its own in-place writes.
   */
  const asyncCall = (self: unknown, args: unknown[], leaves: readonly Leaf[], sig: Signature, seg: Entry | null, lastFailure: string): unknown => {
    const argPaths = new Map<Tensor, string>();
    for (const l of leaves) if (!argPaths.has(l.tensor)) argPaths.set(l.tensor, l.path);
    const trace = new Trace(options.backend, options.fullgraph, argPaths, runner, name, [], true);
    state.lastTrace = trace;
    const t0 = performance.now();
    const prev = setTracer(trace);
    let ret: unknown;
    try { ret = fn.apply(self, args); } catch (e) { setTracer(prev); settleAfterThrow(trace); throw e; }
    setTracer(prev);
    trace.breakHere('await (an async function runs eagerly after its first await)');
    completeCall(trace, trace.allLazies(), () => null);
    state.lastEntry = seg ?? newSegmented(sig, trace, t0, lastFailure);
    if (seg) info.hits++;
    state.lastRun = 'segmented';
    return ret;
  };

  Object.defineProperty(call, 'name', { value: name });
  return Object.assign(call, { cacheInfo: () => ({ ...info, entries: entries.length, recompileReasons: [...info.recompileReasons] }), _state: state }) as unknown as Compiled<F>;
}

function argAt(args: readonly unknown[], path: string): Tensor {
  let v: unknown = args;
  for (const k of path.split('.')) v = (v as Record<string, unknown>)[k];
  if (!(v instanceof Tensor)) throw new KilnError(`compile: expected a tensor at argument ${path}`);
  return v;
}

/** The tensor bound to input node `id` of a JS-skipping entry in this call. */
function resolveLeaf(sk: SkipPlan, id: number, args: readonly unknown[]): Tensor {
  const n = sk.graph.nodes[id] as Extract<GraphNode, { kind: 'input' }>;
  return resolveSource(n.source, args);
}

/** The tensor an input source denotes in this call (JS-skipping replays). */
function resolveSource(s: InputSource, args: readonly unknown[]): Tensor {
  switch (s.kind) {
    case 'arg': return argAt(args, s.path);
    case 'captured': return s.tensor;
    case 'grad':
      if (!s.of.grad) throw new KilnError('compiled function: a captured tensor\'s .grad it read is now null');
      return s.of.grad;
    case 'realized': case 'storage': case 'scalar':
      throw new KilnError(`compiled function: a ${s.kind} input cannot be bound without running the JavaScript`);
  }
}

void fmtShape;

/**
 * Whether a call read its leaves from where the entry's graph read them: a run that skips the
 * JavaScript binds the entry's sources, so it may serve this call's key only then (a graph matched
 * op by op may read another argument, e.g. f(a, a) traced and f(a, b) called).
 */
function sameSources(traced: readonly GraphNode[], now: readonly GraphNode[]): boolean {
  if (traced.length !== now.length) return false;
  return traced.every((x, i) => {
    const y = now[i];
    if (x.kind !== 'input' || y.kind !== 'input') return x.kind === y.kind;
    return sameSource(x.source, y.source);
  });
}

function sameSource(a: InputSource, b: InputSource): boolean {
  switch (a.kind) {
    case 'arg': return b.kind === 'arg' && a.path === b.path;
    case 'captured': return b.kind === 'captured' && a.tensor === b.tensor;
    case 'grad': return b.kind === 'grad' && a.of === b.of;
    case 'realized': return b.kind === 'realized' && a.tensor === b.tensor;
    case 'storage': return b.kind === 'storage';
    case 'scalar': return b.kind === 'scalar';
    default: return assertNever(a, 'input source');
  }
}
