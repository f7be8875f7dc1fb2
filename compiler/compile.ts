// compile(): guard -> trace -> optimise -> plan -> run, cached by the call's signature. A call whose
// trace had no graph break and whose source has no side effects replays its program without running
// the JavaScript; otherwise the body runs each time with every segment's plan cached.
import type { BackendName } from '../src/core/backend.js';
import { currentBackend } from '../src/core/backend.js';
import { KilnError, fmtShape } from '../src/core/errors.js';
import { shapesEqual } from '../src/core/shape.js';
import { isGradEnabled } from '../src/autograd.js';
import { activeTracer, assignEager, setTracer } from '../src/dispatch.js';
import { Tensor } from '../src/tensor.js';
import { OPS } from '../src/ops/index.js';
import type { Graph, InputSource } from './graph.js';
import { printGraph } from './graph.js';
import { prepare, replayLeaves, runProgram, type Program } from './execute.js';
import { log } from './logs.js';
import { findSideEffects, type SideEffect } from './source.js';
import { Trace, sourceTensor, lazyHandle, type BreakRecord } from './trace.js';
import { checkArgBackends, checkCompileOptions } from './options.js';

export interface CompileOptions {
  backend?: BackendName;
  /** Throw GraphBreakError instead of splitting the function at a break. */
  fullgraph?: boolean;
  /** 'auto' (default): a dim seen with a second size becomes dynamic; true: all dims dynamic; false: none. */
  dynamic?: boolean | 'auto';
  /** Signatures kept before the function falls back to eager (default 8). */
  cacheLimit?: number;
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

type Leaf = { path: string; tensor?: Tensor; value?: unknown };
interface Signature { readonly struct: string; readonly shapes: readonly (readonly number[])[] }

/** An opaque id per object, so guards can compare `this` (bound modules) by identity. */
const objectIds = new WeakMap<object, number>();
let nextObjectId = 0;
const idOfObject = (o: object) => { let i = objectIds.get(o); if (i === undefined) { i = ++nextObjectId; objectIds.set(o, i); } return i; };

/** Flattens arguments into tensors (by path) and the rest of the structure as text. */
function flatten(args: readonly unknown[], self: unknown): { leaves: Leaf[]; sig: Signature } {
  const leaves: Leaf[] = [];
  const parts: string[] = [`grad=${isGradEnabled()}`, self && typeof self === 'object' ? `this=#${idOfObject(self)}` : ''];
  const shapes: number[][] = [];
  const seen = new Set<unknown>();
  const walk = (v: unknown, path: string): void => {
    if (v instanceof Tensor) {
      leaves.push({ path, tensor: v });
      parts.push(`${path}:T(${v.dtype},${v.backend},${v.requiresGrad},${v.ndim})`);
      shapes.push([...v.shape]);
    } else if (Array.isArray(v)) {
      if (seen.has(v)) throw new KilnError(`compile: argument ${path} contains a cycle`);
      seen.add(v);
      parts.push(`${path}:[${v.length}]`);
      v.forEach((x, i) => walk(x, `${path}.${i}`));
    } else if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      if (seen.has(v)) throw new KilnError(`compile: argument ${path} contains a cycle`);
      seen.add(v);
      const keys = Object.keys(v);
      parts.push(`${path}:{${keys.join(',')}}`);
      keys.forEach((k) => walk((v as Record<string, unknown>)[k], `${path}.${k}`));
    } else if (v && (typeof v === 'object' || typeof v === 'function')) {
      parts.push(`${path}:obj#${idOfObject(v)}`);
    } else {
      parts.push(`${path}:${typeof v}=${String(v)}`);
    }
  };
  args.forEach((a, i) => walk(a, String(i)));
  return { leaves, sig: { struct: parts.join('|'), shapes } };
}

function argAt(args: readonly unknown[], path: string): Tensor {
  let v: unknown = args;
  for (const k of path.split('.')) v = (v as Record<string, unknown>)[k];
  if (!(v instanceof Tensor)) throw new KilnError(`compile: expected a tensor at argument ${path}`);
  return v;
}

/** Where a return value's tensors go: the template keeps structure, tensors become output slots. */
type Template = { readonly out: number } | { readonly arr: readonly Template[] } | { readonly obj: Readonly<Record<string, Template>> } | { readonly value: unknown };

function toTemplate(v: unknown, slot: (t: Tensor) => number): Template {
  if (v instanceof Tensor) return { out: slot(v) };
  if (Array.isArray(v)) return { arr: v.map((x) => toTemplate(x, slot)) };
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return { obj: Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toTemplate(x, slot)])) };
  }
  return { value: v };
}

function fromTemplate(t: Template, outs: readonly Tensor[]): unknown {
  if ('out' in t) return outs[t.out];
  if ('arr' in t) return t.arr.map((x) => fromTemplate(x, outs));
  if ('obj' in t) return Object.fromEntries(Object.entries(t.obj).map(([k, x]) => [k, fromTemplate(x, outs)]));
  return t.value;
}

/** One cached signature. `replay` entries skip the JavaScript; `segmented` ones re-run it. */
interface Entry {
  readonly sig: Signature;
  readonly mode: 'replay' | 'segmented';
  /** Dims (tensor index -> dims) that may change size without a retrace. */
  readonly dynamicDims: ReadonlyMap<number, ReadonlySet<number>>;
  readonly graph?: Graph;
  readonly template?: Template;
  readonly mutations?: readonly [Tensor, number][];
  readonly grads?: readonly [Tensor, number | null][];
  /** Programs for this graph per concrete shapes (dynamic dims re-plan, never re-trace). */
  readonly programs: Map<string, Program>;
  readonly breaks: readonly BreakRecord[];
  readonly graphs: readonly Graph[];
  readonly why: string;
  /** Wall time of the call that traced this entry: tracing, planning, kernel builds and the run (kiln dump). */
  readonly firstCallMs: number;
}

/** What explain() and kiln dump read about a compiled function. */
export interface CompiledState {
  readonly name: string;
  readonly options: Required<Omit<CompileOptions, 'backend'>> & { backend: BackendName };
  readonly entries: readonly Entry[];
  readonly info: CacheInfo;
  readonly sideEffects: readonly SideEffect[] | null;
  /** The trace in progress (null between calls: a finished trace would pin its call's arguments). */
  readonly lastTrace: Trace | null;
  /** The cache entry the latest call used (null when it ran eagerly). */
  readonly lastEntry: Entry | null;
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

/** Programs kept per cache entry (one per concrete shape of its dynamic dims), least recently used evicted. */
const PROGRAMS_PER_ENTRY = 8;

function shapesKey(shapes: readonly (readonly number[])[]): string { return shapes.map((s) => s.join('x')).join(';'); }

/** Compiles a function (see DESIGN.md "compile()"). */
export function compileFunction<F extends (...args: any[]) => any>(fn: F, opts: CompileOptions = {}): Compiled<F> {
  opts = checkCompileOptions(opts);
  const options = {
    backend: opts.backend ?? currentBackend(), fullgraph: opts.fullgraph ?? false,
    dynamic: opts.dynamic ?? 'auto', cacheLimit: opts.cacheLimit ?? 8,
  } as CompiledState['options'];
  let entries: Entry[] = [];
  let myEpoch = epoch;
  const info: CacheInfo = { traces: 0, hits: 0, misses: 0, entries: 0, recompileReasons: [], fellBackToEager: false };
  const sideEffects = findSideEffects(fn);
  const name = fn.name || 'anonymous';
  const state = { name, options, get entries() { return entries; }, info, sideEffects, lastTrace: null as Trace | null, lastEntry: null as Entry | null };
  compiledRegistry.add(state);
  let warned = false;
  /** .grad tensors this function wrote: the next call updates them in place (see writeBack). */
  const ownGrads = new WeakSet<Tensor>();

  const runner = (g: Graph, resolve: (s: InputSource) => Tensor, onBreak: (reason: string) => void): Tensor[] => {
    const { program, leaves } = prepare(g, resolve, options.backend);
    if (program.unsupported) onBreak(`the ${options.backend} backend cannot compile a kernel: ${program.unsupported}`);
    return runProgram(program, leaves);
  };

  /** Compares a signature with an entry: null when it matches, else the failing guard. */
  const guardFailure = (e: Entry, sig: Signature): string | null => {
    if (e.sig.struct !== sig.struct) {
      const a = e.sig.struct.split('|'), b = sig.struct.split('|');
      const i = a.findIndex((x, k) => x !== b[k]);
      return `guard failed: ${i >= 0 ? `expected ${a[i]}, got ${b[i] ?? 'nothing'}` : 'argument structure changed'}`;
    }
    for (let i = 0; i < sig.shapes.length; i++) {
      const want = e.sig.shapes[i], got = sig.shapes[i];
      const dyn = e.dynamicDims.get(i);
      const d = want.findIndex((x, k) => x !== got[k] && !dyn?.has(k));
      if (d >= 0) return `guard failed: tensor argument ${i} dim ${d}: expected size ${want[d]}, got ${got[d]} (shape ${fmtShape(want)} vs ${fmtShape(got)})`;
    }
    return null;
  };

  /** Captured tensors must still have the shape and dtype they were traced with. */
  const capturedFailure = (e: Entry): string | null => {
    for (const n of e.graph?.nodes ?? []) {
      if (n.kind !== 'input' || n.source.kind === 'arg' || n.source.kind === 'realized') continue;
      const t = n.source.kind === 'captured' ? n.source.tensor : n.source.of.grad;
      if (!t) return 'guard failed: a captured tensor\'s .grad is now null';
      if (t.dtype !== n.dtype || !shapesEqual(t.shape, n.shape)) {
        return `guard failed: captured tensor ${fmtShape(n.shape)}:${n.dtype} is now ${fmtShape(t.shape)}:${t.dtype}`;
      }
    }
    return null;
  };

  const replay = (e: Entry, args: readonly unknown[], sig: Signature): unknown => {
    const key = shapesKey(sig.shapes);
    let program = e.programs.get(key);
    const resolve = (s: InputSource) => sourceTensor(s, (p) => argAt(args, p));
    if (program) {
      e.programs.delete(key); // most recently used last
    } else {
      // Same graph, new sizes on dynamic dims: re-type and re-plan, no re-trace.
      const graph = retype(e.graph!, resolve);
      const prepared = prepare(graph, resolve, options.backend);
      program = prepared.program;
      if (e.programs.size >= PROGRAMS_PER_ENTRY) e.programs.delete(e.programs.keys().next().value!);
    }
    e.programs.set(key, program);
    const outs = runProgram(program, replayLeaves(program, resolve));
    writeBack(outs, e.template!, e.mutations!, e.grads!, ownGrads);
    return fromTemplate(e.template!, outs);
  };

  /** Runs the body under a fresh trace; returns its result and the trace. */
  const traced = (self: unknown, args: unknown[], leaves: Leaf[]): { result: unknown; trace: Trace; graph?: Graph; template?: Template; mutations?: [Tensor, number][]; grads?: [Tensor, number | null][] } => {
    const argPaths = new Map<Tensor, string>();
    for (const l of leaves) if (l.tensor && !argPaths.has(l.tensor)) argPaths.set(l.tensor, l.path);
    const trace = new Trace(options.backend, options.fullgraph, argPaths, runner, name);
    state.lastTrace = trace;
    const prev = setTracer(trace);
    let ret: unknown;
    try { ret = fn.apply(self, args); } catch (e) { state.lastTrace = null; throw e; } finally { setTracer(prev); }
    if (ret && typeof (ret as Promise<unknown>).then === 'function') {
      // After the first await the body runs outside the tracer: that await is a graph break.
      trace.broke = true;
      return { result: (ret as Promise<unknown>).then((v) => finish(trace, v).result), trace };
    }
    return finish(trace, ret);
  };

  /** Computes the outputs, in-place updates and .grad writes of a trace together. */
  const finish = (trace: Trace, ret: unknown) => {
    const outIds: number[] = [];
    const slotOf = (id: number) => { let i = outIds.indexOf(id); if (i < 0) { i = outIds.length; outIds.push(id); } return i; };
    const prev = setTracer(trace);
    let template: Template, mutations: [Tensor, number][], grads: [Tensor, number | null][];
    try {
      template = toTemplate(ret, (t) => slotOf(trace.idOf(t)));
      mutations = [...trace.mutations.values()].map(([t, id]) => [t, slotOf(id)]);
      grads = [...trace.gradSets].map((t) => [t, t.grad ? slotOf(trace.idOf(t.grad)) : null]);
    } finally { setTracer(prev); }
    const graph = trace.graphFor(outIds);
    const outs = trace.executeGraph(graph);
    trace.done = true;
    if (state.lastTrace === trace) state.lastTrace = null;
    const lazyOut = (t: Tensor, i: number) => { if (lazyHandle(t)?.trace === trace) trace.fill(t, outs[i]); };
    const fillTemplate = (v: unknown, t: Template): void => {
      if ('out' in t && v instanceof Tensor) lazyOut(v, t.out);
      else if ('arr' in t) (v as unknown[]).forEach((x, i) => fillTemplate(x, t.arr[i]));
      else if ('obj' in t) Object.entries(t.obj).forEach(([k, x]) => fillTemplate((v as Record<string, unknown>)[k], x));
    };
    fillTemplate(ret, template);
    for (const [t, i] of mutations) assignEager(t, outs[i]);
    for (const [t, i] of grads) {
      if (i === null) continue;
      if (t.grad && lazyHandle(t.grad)?.trace === trace) lazyOut(t.grad, i);
    }
    log('graph', () => `[kiln] traced ${name}:\n${printGraph(graph)}`);
    return { result: ret, trace, graph, template, mutations, grads };
  };

  const call = function (this: unknown, ...args: unknown[]): unknown {
    if (epoch !== myEpoch) { entries = []; myEpoch = epoch; }
    state.lastEntry = null;
    if (info.fellBackToEager || activeTracer()) return fn.apply(this, args);
    const { leaves, sig } = flatten(args, this);
    checkArgBackends(name, options.backend, leaves);
    let lastFailure = entries.length ? '' : 'first call';
    for (const e of entries) {
      const fail = guardFailure(e, sig) ?? (e.mode === 'replay' ? capturedFailure(e) : null);
      if (fail) { lastFailure = fail; continue; }
      info.hits++;
      state.lastEntry = e;
      log('guards', () => `[kiln] ${name}: cache hit (${e.mode})`);
      if (e.mode === 'replay') return replay(e, args, sig);
      return traced(this, args, leaves).result;
    }
    info.misses++;
    // dynamic: a size change on a structurally identical entry marks those dims dynamic (no retrace).
    if (options.dynamic !== false) {
      const similar = entries.find((e) => e.mode === 'replay' && e.sig.struct === sig.struct && e.sig.shapes.every((s, i) => s.length === sig.shapes[i].length));
      if (similar && capturedFailure(similar) === null) {
        const dyn = new Map<number, Set<number>>();
        sig.shapes.forEach((s, i) => s.forEach((d, k) => { if (d !== similar.sig.shapes[i][k] || similar.dynamicDims.get(i)?.has(k)) { if (!dyn.has(i)) dyn.set(i, new Set()); dyn.get(i)!.add(k); } }));
        const resolve = (s: InputSource) => sourceTensor(s, (p) => argAt(args, p));
        try {
          retype(similar.graph!, resolve);
          const e: Entry = { ...similar, sig: similar.sig, dynamicDims: dyn, why: `${lastFailure}; dims made dynamic` };
          entries[entries.indexOf(similar)] = e;
          state.lastEntry = e;
          info.recompileReasons.push(`${lastFailure} -> dim made dynamic (graph reused)`);
          log('recompiles', () => `[kiln] ${name}: ${lastFailure}; marking dims dynamic`);
          return replay(e, args, sig);
        } catch { /* the graph bakes in this size (a reshape or slice): retrace below */ }
      }
    }
    if (entries.length >= options.cacheLimit) {
      info.fellBackToEager = true;
      if (!warned) {
        warned = true;
        console.warn(`[kiln] ${name}: hit cacheLimit (${options.cacheLimit}) signatures; running eagerly from now on. The guard that keeps failing: ${lastFailure}`);
      }
      return fn.apply(this, args);
    }
    if (entries.length) {
      info.recompileReasons.push(lastFailure);
      log('recompiles', () => `[kiln] ${name}: recompiling: ${lastFailure}`);
    }
    info.traces++;
    const t0 = performance.now();
    const r = traced(this, args, leaves);
    const firstCallMs = performance.now() - t0;
    const returnsGrad = (r.graph?.outputs ?? []).length > 0 && r.template !== undefined && templateNeedsGrad(r.result);
    const pure = sideEffects !== null && sideEffects.length === 0;
    const replayable = r.graph && !r.trace.broke && pure && (!returnsGrad || r.trace.gradSets.size > 0 || !isGradEnabled());
    const why = !pure ? `side effects: ${sideEffects === null ? 'source unavailable' : sideEffects.map((s) => `${s.what} (line ${s.line})`).join(', ')}`
      : r.trace.broke ? `graph breaks: ${r.trace.breaks.map((b) => b.reason).join('; ')}` : returnsGrad && !replayable ? 'outputs need autograd outside the call' : 'whole graph';
    if (r.trace.breaks.length) log('breaks', () => r.trace.breaks.map((b) => `[kiln] ${name}: graph break: ${b.reason}${b.loc ? ` at ${b.loc}` : ''}`).join('\n'));
    const dynamicDims = new Map<number, Set<number>>();
    if (options.dynamic === true) sig.shapes.forEach((s, i) => dynamicDims.set(i, new Set(s.map((_, k) => k))));
    const entry: Entry = {
      sig, mode: replayable ? 'replay' : 'segmented', dynamicDims, graph: r.graph, template: r.template, mutations: r.mutations, grads: r.grads,
      programs: new Map(), breaks: r.trace.breaks, graphs: r.trace.executions.map((x) => x.graph), why, firstCallMs,
    };
    entries.push(entry);
    state.lastEntry = entry;
    info.entries = entries.length;
    return r.result;
  };
  Object.defineProperty(call, 'name', { value: name });
  return Object.assign(call, { cacheInfo: () => ({ ...info, entries: entries.length, recompileReasons: [...info.recompileReasons] }), _state: state }) as unknown as Compiled<F>;
}

function templateNeedsGrad(v: unknown): boolean {
  if (v instanceof Tensor) return v.requiresGrad;
  if (Array.isArray(v)) return v.some(templateNeedsGrad);
  if (v && typeof v === 'object') return Object.values(v).some(templateNeedsGrad);
  return false;
}

/** Output slots the caller can see: returned values. */
function returnedSlots(t: Template, into = new Set<number>()): Set<number> {
  if ('out' in t) into.add(t.out);
  else if ('arr' in t) t.arr.forEach((x) => returnedSlots(x, into));
  else if ('obj' in t) Object.values(t.obj).forEach((x) => returnedSlots(x, into));
  return into;
}

/**
 * Applies a replay's side effects and frees what only carried them, so a long synchronous loop of
 * compiled steps holds its memory steady (finalizers run only when the event loop turns):
 * in-place updates are copied into their tensors and the carrier buffers freed at once; a .grad
 * this function wrote on its previous call is updated in place instead of replaced.
 */
function writeBack(outs: readonly Tensor[], template: Template, mutations: readonly [Tensor, number][], grads: readonly [Tensor, number | null][], ownGrads: WeakSet<Tensor>): void {
  const keep = returnedSlots(template);
  const reuse = new Set<number>();
  for (const [t, i] of grads) {
    if (i === null) { t.grad = null; continue; }
    const prev = t.grad;
    const g = outs[i];
    if (prev && ownGrads.has(prev) && !keep.has(i) && prev.backend === g.backend && prev.dtype === g.dtype &&
        shapesEqual(prev.shape, g.shape) && !prev.requiresGrad) {
      assignEager(prev, g);
      prev._version.value++;
      reuse.add(i);
    } else {
      t.grad = g;
      ownGrads.add(g);
      keep.add(i);
    }
  }
  for (const [t, i] of mutations) assignEager(t, outs[i]);
  // Carriers: outputs used only to write back (mutations, reused grads) are freed now.
  const used = new Set<Tensor>();
  outs.forEach((o, i) => { if (keep.has(i)) used.add(o); });
  for (const [, i] of mutations) if (!keep.has(i) && !used.has(outs[i])) outs[i].dispose();
  for (const i of reuse) if (!used.has(outs[i])) outs[i].dispose();
}

/** Re-types a traced graph for new input shapes (dynamic dims); throws where an op baked in a size. */
export function retype(g: Graph, resolve: (s: InputSource) => Tensor): Graph {
  const shapes = new Map<number, readonly number[]>();
  const nodes = g.nodes.map((n) => {
    if (n.kind === 'input') {
      const t = resolve(n.source);
      shapes.set(n.id, t.shape);
      return { ...n, shape: t.shape };
    }
    if (n.kind !== 'op') { shapes.set(n.id, n.shape); return n; }
    const ins = n.inputs.map((i) => ({ shape: shapes.get(i)!, dtype: g.nodes[i].dtype }));
    const old = n.inputs.map((i) => g.nodes[i].shape);
    let attrs = n.attrs as Record<string, any>;
    if (n.op === 'reshape' || n.op === 'expand') {
      // Sizes copied from a dim that changed follow it; other baked sizes must still fit.
      const src = old[0], now = ins[0].shape;
      const lead = attrs.shape.length - src.length;
      const shape = attrs.shape.map((d: number, i: number) => {
        const j = n.op === 'expand' ? i - lead : i;
        return j >= 0 && j < src.length && src[j] === d && now[j] !== d && (n.op === 'expand' || src.length === attrs.shape.length) ? now[j] : d;
      });
      attrs = { shape };
    } else if (n.op === 'slice') {
      const changed = old[0].map((d, i) => d !== ins[0].shape[i]);
      const full = (i: number) => attrs.starts[i] === 0 && attrs.ends[i] === old[0][i] && attrs.steps[i] === 1;
      if (changed.some((c, i) => c && !full(i))) throw new KilnError('retype: slice bakes in a size that changed');
      attrs = { ...attrs, ends: attrs.ends.map((e: number, i: number) => (changed[i] ? ins[0].shape[i] : e)) };
    }
    const meta = OPS[n.op].infer(ins, attrs as never);
    shapes.set(n.id, meta.shape);
    return { ...n, shape: meta.shape, attrs };
  });
  return { ...g, nodes };
}

