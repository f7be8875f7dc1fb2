// Runs a planned graph: binds leaf tensors, launches each kernel, frees temps after their last
// reader, and wraps the outputs as tensors. Plans are cached by graph structure and leaf layouts.
// A run that fails part-way frees what it allocated and changes nothing else (all-or-nothing).
import type { Backend, Buffer } from '../src/core/backend.js';
import { getBackend } from '../src/core/backend.js';
import type { View } from '../src/core/kernel.js';
import { KilnError } from '../src/core/errors.js';
import { OPS } from '../src/ops/index.js';
import { Tensor } from '../src/tensor.js';
import { allocate } from '../src/memory.js';
import type { Graph, GraphNode } from './graph.js';
import { printGraph } from './graph.js';
import { optimize, planGraph } from './passes.js';
import type { Plan } from './schedule.js';
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
  /** The optimised graph's leaf nodes by id (what each plan leaf is bound to). */
  readonly leafNodes: ReadonlyMap<number, GraphNode>;
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

/** The tensor bound to a leaf node (input, tensor constant, random draw) in this call. */
export type LeafOf = (n: GraphNode) => Tensor;

/** Leaf tensors of a program, in its buffer order, for this call. */
export function bindLeaves(p: Program, leafOf: LeafOf): Tensor[] {
  const byId = p.leafNodes;
  return p.plan.leaves.map((id) => leafOf(byId.get(id)!));
}

/** The key of a graph's plan: its optimised text plus each leaf's layout (and whether sizes are dynamic). */
function planKey(backendName: string, opt: Graph, views: ReadonlyMap<number, View>, dynamic: boolean): string {
  return `${backendName}${dynamic ? ' dynamic' : ''}\n${printGraph(opt)}\n${[...views].map(([id, v]) => `${id}:${viewKey(v)}`).join(';')}`;
}

/** The plan with every kernel marked `dynamicOuter` (src/core/kernel.ts): its backend may share code across sizes. */
function markDynamic(plan: Plan): Plan {
  return { ...plan, steps: plan.steps.map((st) => ({ ...st, kernel: { ...st.kernel, dynamicOuter: true } })) };
}

/**
 * Optimises and plans a graph for these leaves' layouts (plans are shared through a cache).
 * `dynamic`: the graph has dynamic dims, so its kernels are marked for code shared across sizes.
 */
export function prepare(graph: Graph, leafOf: LeafOf, backendName: Backend['name'], dynamic = false): { program: Program; leaves: Tensor[] } {
  const t0 = observers.size ? performance.now() : 0;
  const opt = optimize(graph);
  const backend = getBackend(backendName);
  const leafNodes = new Map<number, GraphNode>();
  const views = new Map<number, View>();
  for (const n of opt.nodes) {
    if (n.kind === 'op' || (n.kind === 'const' && n.scalar !== undefined && n.shape.length === 0)) continue;
    leafNodes.set(n.id, n);
    views.set(n.id, (n.kind === 'const' && n.value ? n.value : leafOf(n))._view);
  }
  const key = planKey(backendName, opt, views, dynamic);
  // A hit shares the plan (it depends on structure and layouts only) but keeps this graph's own
  // nodes: their bindings are what each call resolves.
  const hit = plans.get(key);
  let program: Program | undefined = hit && { ...hit, graph, optimized: opt, leafNodes };
  const cached = program !== undefined;
  if (!program) {
    const planned = planGraph(opt, views);
    const plan = dynamic ? markDynamic(planned) : planned;
    const reasons = plan.steps.map((st) => backend.unsupported?.(st.kernel) ?? null).filter((r): r is string => r !== null);
    program = { graph, optimized: opt, plan, backend, unsupported: reasons[0] ?? null, leafNodes };
    if (plans.size >= PLAN_CACHE_LIMIT) plans.clear();
    plans.set(key, program);
    log('kernels', () => `[kiln] planned ${graph.name}: ${opt.nodes.filter((n) => n.kind === 'op').length} ops -> ${plan.steps.length} kernels`);
    log('fusion', () => plan.steps.map((st, i) => `[kiln] ${graph.name} kernel ${i + 1} (${st.kernel.kind}): fuses %${st.nodes.join(' %')}`).join('\n'));
  }
  if (observers.size) { const info = { ms: performance.now() - t0, cached }; for (const o of observers) o.planned?.(graph, program, info); }
  return { program, leaves: bindLeaves(program, leafOf) };
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
  let at = 0;
  try {
    for (; at < plan.steps.length; at++) {
      const s = plan.steps[at];
      // Safe points for reclamation: the leaves stay reachable (read below), temporaries are not tracked.
      const outs = s.outputs.map((o) => { const b = allocate(backend, label, o.dtype, o.size, false); bufs[o.buf] = b; return b; }); // written whole
      backend.run(s.kernel, s.inputs.map((b) => bufs[b]!), outs);
      for (const f of s.freeAfter) { backend.free(bufs[f]!); bufs[f] = null; }
    }
  } catch (e) {
    // Nothing was written anywhere but these fresh buffers: free them and say where it failed.
    for (let b = leaves.length; b < bufs.length; b++) if (bufs[b]) { backend.free(bufs[b]!); bufs[b] = null; }
    // The error keeps its class (an OutOfMemoryError stays one); its message says where it happened.
    const k = plan.steps[at]?.kernel.kind ?? 'setup';
    if (e instanceof Error) {
      e.message = `compiled ${p.graph.name}: kernel ${at + 1} of ${plan.steps.length} (${k}) on ${backend.name} failed: ${e.message}; no tensor was changed`;
      throw e;
    }
    throw new KilnError(`compiled ${p.graph.name}: kernel ${at + 1} of ${plan.steps.length} (${k}) on ${backend.name} failed: ${String(e)}; no tensor was changed`);
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

/** Drops every cached plan (resetCompileCache). */
export function clearPlans(): void { plans.clear(); }
