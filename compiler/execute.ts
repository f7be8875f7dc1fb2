// Runs a planned graph: binds leaf tensors, launches each kernel, frees temps after their last
// reader, and wraps the outputs as tensors. Plans are cached by graph structure and leaf layouts.
import type { Backend, Buffer } from '../src/core/backend.js';
import { getBackend } from '../src/core/backend.js';
import type { View } from '../src/core/kernel.js';
import { drawRandom } from '../src/creation.js';
import { Tensor } from '../src/tensor.js';
import { allocate } from '../src/memory.js';
import type { Graph, GraphNode, InputSource } from './graph.js';
import { printGraph } from './graph.js';
import { optimize } from './passes.js';
import { planGraph, type Plan } from './schedule.js';
import { log } from './logs.js';
import { interpretGraph } from './interpret.js';

/** A graph ready to run: optimised graph, plan, and the backend it targets. */
export interface Program {
  readonly graph: Graph;
  readonly optimized: Graph;
  readonly plan: Plan;
  readonly backend: Backend;
  /** Why the backend cannot run one of the planned kernels (the graph then runs op by op). */
  readonly unsupported: string | null;
}

function viewKey(v: View): string {
  return `${v.shape.join(',')}/${v.strides.join(',')}+${v.offset}`;
}

const plans = new Map<string, Program>();
const PLAN_CACHE_LIMIT = 512;

/** Watches programs being planned and run (kiln dump and the bench harness; no cost when none). */
export interface ProgramObserver {
  /** `graph` got `program`: optimised and planned, or found in the plan cache, in `ms`. */
  planned?(graph: Graph, program: Program, info: { readonly ms: number; readonly cached: boolean }): void;
  /** `program` ran in `ms`, of which `buildMs` built kernels it had not built before. */
  ran?(program: Program, info: { readonly ms: number; readonly buildMs: number }): void;
}
const observers = new Set<ProgramObserver>();

/** Adds an observer of planning and running; returns the function that removes it. */
export function observePrograms(o: ProgramObserver): () => void {
  observers.add(o);
  return () => { observers.delete(o); };
}

/** Leaf tensors of a graph (inputs, non-scalar constants, random draws) resolved for this run. */
function leafTensors(opt: Graph, plan: Plan, resolve: (s: InputSource) => Tensor, backend: Backend): Tensor[] {
  const byId = new Map(opt.nodes.map((n) => [n.id, n]));
  return plan.leaves.map((id) => {
    const n = byId.get(id)! as GraphNode;
    switch (n.kind) {
      case 'input': return resolve(n.source);
      case 'const': return n.value!;
      case 'random': return drawRandom(n.random, n.shape, n.dtype, n.params, backend.name);
      default: throw new Error(`node %${id} is not a leaf`);
    }
  });
}

/** Optimises and plans a graph for these leaves' layouts (cached), without running it. */
export function prepare(graph: Graph, resolve: (s: InputSource) => Tensor, backendName: Backend['name']): { program: Program; leaves: Tensor[] } {
  const t0 = observers.size ? performance.now() : 0;
  const opt = optimize(graph);
  const backend = getBackend(backendName);
  // The key is the optimised graph's text (ops, attrs, shapes) plus the layout of each leaf.
  const probePlanLeaves = opt.nodes.filter((n) => n.kind !== 'op' && !(n.kind === 'const' && n.scalar !== undefined && n.shape.length === 0));
  const resolved = new Map<number, Tensor>();
  for (const n of probePlanLeaves) {
    if (n.kind === 'input') resolved.set(n.id, resolve(n.source));
    else if (n.kind === 'const') resolved.set(n.id, n.value!);
  }
  const views = new Map<number, View>([...resolved].map(([id, t]) => [id, t._view]));
  const key = `${backendName}\n${printGraph(opt)}\n${[...views].map(([id, v]) => `${id}:${viewKey(v)}`).join(';')}`;
  // A hit shares the plan (it depends on structure and layouts only) but keeps this graph's own
  // nodes: their input sources (which argument, which captured tensor) are what replays resolve.
  const hit = plans.get(key);
  let program = hit && { ...hit, graph, optimized: opt };
  const cached = program !== undefined;
  if (!program) {
    const plan = planGraph(opt, views);
    const reasons = plan.steps.map((st) => backend.unsupported?.(st.kernel) ?? null).filter((r): r is string => r !== null);
    program = { graph, optimized: opt, plan, backend, unsupported: reasons[0] ?? null };
    if (plans.size >= PLAN_CACHE_LIMIT) plans.clear();
    plans.set(key, program);
    log('kernels', () => `[kiln] planned ${graph.name}: ${opt.nodes.filter((n) => n.kind === 'op').length} ops -> ${plan.steps.length} kernels`);
    log('fusion', () => plan.steps.map((st, i) => `[kiln] ${graph.name} kernel ${i + 1} (${st.kernel.kind}): fuses %${st.nodes.join(' %')}`).join('\n'));
  }
  if (observers.size) { const info = { ms: performance.now() - t0, cached }; for (const o of observers) o.planned?.(graph, program, info); }
  const leaves = program.plan.leaves.map((id) => {
    const n = opt.nodes.find((m) => m.id === id)!;
    return n.kind === 'random' ? drawRandom(n.random, n.shape, n.dtype, n.params, backend.name) : resolved.get(id)!;
  });
  return { program, leaves };
}

/** Runs a prepared program on its leaf tensors and returns the graph's outputs. */
export function runProgram(p: Program, leaves: readonly Tensor[]): Tensor[] {
  if (observers.size) return observedRun(p, leaves);
  return runPlan(p, leaves);
}

function observedRun(p: Program, leaves: readonly Tensor[]): Tensor[] {
  const build0 = p.backend.stats().compileMs, t0 = performance.now();
  const outs = runPlan(p, leaves);
  const info = { ms: performance.now() - t0, buildMs: p.backend.stats().compileMs - build0 };
  for (const o of observers) o.ran?.(p, info);
  return outs;
}

function runPlan(p: Program, leaves: readonly Tensor[]): Tensor[] {
  const { plan, backend } = p;
  if (p.unsupported) {
    // A kernel the backend cannot compile: a graph break; run this graph op by op (one-op kernels).
    log('breaks', () => `[kiln] graph break: ${p.unsupported}; running ${p.graph.name} op by op`);
    const byNode = new Map(plan.leaves.map((id, i) => [id, leaves[i]] as const));
    return interpretGraph(p.optimized, (id) => byNode.get(id), backend.name);
  }
  const bufs: (Buffer | null)[] = leaves.map((t) => t._buffer());
  const label = `compiled ${p.graph.name}`;
  try {
    for (const s of plan.steps) {
      // Safe points for reclamation: the leaves stay reachable (read below), temporaries are not tracked.
      const outs = s.outputs.map((o) => { const b = allocate(backend, label, o.dtype, o.size, false); bufs[o.buf] = b; return b; }); // written whole
      backend.run(s.kernel, s.inputs.map((b) => bufs[b]!), outs);
      for (const f of s.freeAfter) { backend.free(bufs[f]!); bufs[f] = null; }
    }
  } catch (e) {
    // A failed call (out of memory, a kernel error) frees what it allocated.
    for (let i = leaves.length; i < bufs.length; i++) if (bufs[i]) backend.free(bufs[i]!);
    throw e;
  }
  const owned = new Map<number, Tensor>();
  return plan.outputs.map((o) => {
    if (o.buf < leaves.length) return leaves[o.buf]._viewAs(o.view);
    let base = owned.get(o.buf);
    if (!base) {
      base = Tensor._wrap(backend, bufs[o.buf]!, o.view, o.dtype, label);
      owned.set(o.buf, base);
      return base;
    }
    return base._viewAs(o.view);
  });
}

/** Resolves leaves for a cached program on a replay (fresh random draws). */
export function replayLeaves(p: Program, resolve: (s: InputSource) => Tensor): Tensor[] {
  return leafTensors(p.optimized, p.plan, resolve, p.backend);
}

/** Drops every cached plan (resetCompileCache). */
export function clearPlans(): void { plans.clear(); }
