// The compile pipeline as one list of named passes (PASSES): graph passes (dead-code elimination,
// common-subexpression elimination, constant folding), the scheduler that lowers the graph to a plan
// of kernels, and plan passes (row fusion, freeing temps). Shape propagation here is both the
// verifier tests run after every pass and the re-typing of a graph for dynamic dims.
import { KilnError, assertNever } from '../src/core/errors.js';
import type { View } from '../src/core/kernel.js';
import { outputShape } from '../src/core/kernel.js';
import { shapesEqual, sizeOf } from '../src/core/shape.js';
import { shortDType } from '../src/core/dtype.js';
import { OPS, type OpDef } from '../src/ops/index.js';
import { evalScalar } from '../src/ops/scalar.js';
import { castExpr } from '../src/lower.js';
import type { Graph, GraphNode } from './graph.js';
import { opCount } from './graph.js';
import { log } from './logs.js';
import { fuseRowSteps } from './rows.js';
import { freeTemps, schedule, type Plan } from './schedule.js';

type Pass = (g: Graph) => Graph;

/** Renumbers nodes 0..n-1 in order, rewriting references. */
function renumber(g: Graph, keep: readonly GraphNode[]): Graph {
  const map = new Map<number, number>();
  const nodes = keep.map((n, i) => {
    map.set(n.id, i);
    return n.kind === 'op' ? { ...n, id: i, inputs: n.inputs.map((x) => map.get(x)!) } : { ...n, id: i };
  });
  return { name: g.name, nodes, outputs: g.outputs.map((o) => map.get(o)!) };
}

/** Drops nodes no output depends on. */
export const deadCodeElimination: Pass = (g) => {
  const live = new Set<number>(g.outputs);
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (live.has(n.id) && n.kind === 'op') n.inputs.forEach((x) => live.add(x));
  }
  return renumber(g, g.nodes.filter((n) => live.has(n.id) && byId.has(n.id)));
};

/** Merges nodes computing the same thing from the same inputs (random draws are never merged). */
export const commonSubexpressionElimination: Pass = (g) => {
  const seen = new Map<string, number>();
  const alias = new Map<number, number>();
  const keep: GraphNode[] = [];
  for (const n0 of g.nodes) {
    const n = n0.kind === 'op' ? { ...n0, inputs: n0.inputs.map((x) => alias.get(x) ?? x) } : n0;
    let key: string | null = null;
    if (n.kind === 'op') key = `op:${n.op}:${n.inputs.join(',')}:${JSON.stringify(n.attrs)}`;
    else if (n.kind === 'const' && n.scalar !== undefined) key = `const:${n.dtype}:${n.shape.join(',')}:${Object.is(n.scalar, -0) ? '-0' : n.scalar}`;
    const hit = key === null ? undefined : seen.get(key);
    if (hit !== undefined) { alias.set(n.id, hit); continue; }
    if (key !== null) seen.set(key, n.id);
    keep.push(n);
  }
  return renumber({ ...g, outputs: g.outputs.map((o) => alias.get(o) ?? o) }, keep);
};

/** Evaluates elementwise ops whose operands are all 0-d scalar constants. */
export const constantFolding: Pass = (g) => {
  const byId = new Map<number, GraphNode>();
  const nodes = g.nodes.map((n): GraphNode => {
    byId.set(n.id, n);
    if (n.kind !== 'op' || n.shape.length !== 0) return n;
    const def = OPS[n.op];
    if (def.kind !== 'elementwise') return n;
    const args = n.inputs.map((x) => byId.get(x)!);
    if (!args.every((a) => a.kind === 'const' && a.scalar !== undefined)) return n;
    const types = def.operandDTypes(args, n.attrs);
    const vals = args.map((a, i) => {
      const e = castExpr({ kind: 'const', value: (a as Extract<GraphNode, { kind: 'const' }>).scalar!, dtype: a.dtype }, types[i]);
      return e.kind === 'const' ? e.value : NaN;
    });
    let value: number;
    if (def.scalar === 'copy') value = vals[0];
    else if (def.scalar === 'cast') {
      const e = castExpr({ kind: 'const', value: vals[0], dtype: types[0] }, n.dtype);
      value = e.kind === 'const' ? e.value : NaN;
    } else value = evalScalar(def.scalar, n.dtype, vals);
    if (n.dtype === 'float32') value = Math.fround(value);
    const folded: GraphNode = { kind: 'const', id: n.id, shape: [], dtype: n.dtype, scalar: value, loc: n.loc };
    byId.set(n.id, folded);
    return folded;
  });
  return { ...g, nodes };
};

/** Shape propagation as the verifier: throws where a node's recorded type differs from its inputs'. */
export const propagateShapes: Pass = (g) => {
  const typed = new Map<number, GraphNode>();
  for (const n of g.nodes) {
    if (n.kind === 'op') {
      const def: OpDef = OPS[n.op];
      const meta = def.infer(n.inputs.map((x) => typed.get(x)!), n.attrs as never);
      if (meta.dtype !== n.dtype || !shapesEqual(meta.shape, n.shape)) {
        throw new KilnError(`verify: node %${n.id} (${n.op}${n.loc ? ` at ${n.loc}` : ''}) is typed ${shortDType(n.dtype)}[${n.shape}] but its inputs give ${shortDType(meta.dtype)}[${meta.shape}]`);
      }
    }
    typed.set(n.id, n);
  }
  return g;
};

/**
 * The graph verifier: node ids unique, every op reading earlier nodes and naming a registry op,
 * outputs existing, and every type what shape propagation derives. Throws naming the pass.
 */
export function verifyGraph(g: Graph, after: string): void {
  const fail = (what: string): never => { throw new KilnError(`verify: after pass '${after}' in graph ${g.name}: ${what}`); };
  const seen = new Set<number>();
  for (const n of g.nodes) {
    if (seen.has(n.id)) fail(`node id %${n.id} is used twice`);
    if (n.kind === 'op') {
      if (!(n.op in OPS)) fail(`node %${n.id} names no registry op (${n.op})`);
      const bad = n.inputs.find((x) => !seen.has(x));
      if (bad !== undefined) fail(`node %${n.id} (${n.op}) reads %${bad}, which is not an earlier node`);
    }
    seen.add(n.id);
  }
  const lost = g.outputs.find((o) => !seen.has(o));
  if (lost !== undefined) fail(`output %${lost} is not a node`);
  try { propagateShapes(g); } catch (e) { fail((e as Error).message); }
}

/**
 * The plan verifier: every step reads leaves or temps written earlier and not yet freed, its kernel
 * takes as many inputs as it is given, and each output buffer holds what the kernel writes.
 */
export function verifyPlan(p: Plan, after: string): void {
  const fail = (what: string): never => { throw new KilnError(`verify: after pass '${after}': ${what}`); };
  const live = new Set<number>(p.leaves.map((_, i) => i));
  const freed = new Set<number>();
  p.steps.forEach((s, i) => {
    const bad = s.inputs.find((b) => !live.has(b));
    if (bad !== undefined) fail(`step ${i + 1} reads buffer ${bad}${freed.has(bad) ? ', already freed' : ', never written before it'}`);
    if (s.kernel.nInputs !== s.inputs.length) fail(`step ${i + 1}: its ${s.kernel.kind} kernel takes ${s.kernel.nInputs} inputs, the step binds ${s.inputs.length}`);
    if (s.kernel.outputs.length !== s.outputs.length) fail(`step ${i + 1}: its kernel has ${s.kernel.outputs.length} outputs, the step binds ${s.outputs.length}`);
    s.outputs.forEach((o, j) => {
      const ko = s.kernel.outputs[j];
      const size = sizeOf(outputShape(s.kernel, j));
      if (o.dtype !== ko.dtype || (!ko.view && o.size !== size)) fail(`step ${i + 1} output ${j}: the kernel writes ${shortDType(ko.dtype)}[${size}], the buffer holds ${shortDType(o.dtype)}[${o.size}]`);
      live.add(o.buf);
    });
    for (const b of s.freeAfter) { live.delete(b); freed.add(b); }
  });
  const lost = p.outputs.find((o) => !live.has(o.buf));
  if (lost) fail(`plan output buffer ${lost.buf} is not written (or was freed)`);
}

// ---------------------------------------------------------------------------------------------

/** One named pass of the compile pipeline: a graph pass, the scheduler (graph to plan), or a plan pass. */
export type PipelinePass =
  | { readonly name: string; readonly about: string; readonly on: 'graph'; readonly run: (g: Graph) => Graph }
  | { readonly name: string; readonly about: string; readonly on: 'schedule'; readonly run: (g: Graph, leafViews: ReadonlyMap<number, View>) => Plan }
  | { readonly name: string; readonly about: string; readonly on: 'plan'; readonly run: (p: Plan) => Plan };

/** Every pass compile() runs, in order. explain() reports them and KILN_LOGS=passes prints them by name. */
export const PASSES: readonly PipelinePass[] = [
  { name: 'dce', on: 'graph', run: deadCodeElimination, about: 'drops nodes no output depends on' },
  { name: 'cse', on: 'graph', run: commonSubexpressionElimination, about: 'merges nodes computing the same thing from the same inputs' },
  { name: 'fold', on: 'graph', run: constantFolding, about: 'evaluates elementwise ops on scalar constants' },
  { name: 'dce', on: 'graph', run: deadCodeElimination, about: 'drops what folding left unread' },
  { name: 'schedule', on: 'schedule', run: schedule, about: 'lowers ops to kernels, fusing elementwise chains, views and matmul epilogues' },
  { name: 'rows', on: 'plan', run: fuseRowSteps, about: 'merges row-wise steps into the reduction they read (softmax, layerNorm: one kernel)' },
  { name: 'free', on: 'plan', run: freeTemps, about: 'frees each temp after its last reader' },
];

let verifying = false;

/** Runs the verifier after every pass (tests switch it on; it costs a walk of the graph per pass). */
export function setVerifyPasses(on: boolean): void { verifying = on; }

/** What a pass did, one line, for explain() (`into`) and KILN_LOGS=passes. */
function record(into: string[] | undefined, graph: string, pass: PipelinePass, what: () => string): void {
  into?.push(`${pass.name}: ${what()}`);
  log('passes', () => `[kiln] ${graph}: pass ${pass.name}: ${what()}`);
}

/** Runs the graph passes in order; `report` collects a line per pass. */
export function optimize(g: Graph, report?: string[]): Graph {
  let out = g;
  for (const pass of PASSES) {
    if (pass.on !== 'graph') continue;
    const before = out;
    out = pass.run(out);
    if (verifying) verifyGraph(out, pass.name);
    record(report, g.name, pass, () => `${opCount(before)} -> ${opCount(out)} ops`);
  }
  return out;
}

/** Runs the scheduler and the plan passes on an optimised graph; `report` collects a line per pass. */
export function planGraph(g: Graph, leafViews: ReadonlyMap<number, View>, report?: string[]): Plan {
  let plan: Plan | null = null;
  for (const pass of PASSES) {
    switch (pass.on) {
      case 'graph': continue;
      case 'schedule': {
        const p = pass.run(g, leafViews);
        plan = p;
        record(report, g.name, pass, () => `${opCount(g)} ops -> ${p.steps.length} kernel(s)`);
        break;
      }
      case 'plan': {
        if (!plan) throw new Error(`pass ${pass.name} runs on a plan, but no pass before it scheduled one`);
        const before = plan.steps.length;
        const p = pass.run(plan);
        plan = p;
        record(report, g.name, pass, () => `${before} -> ${p.steps.length} kernel(s)`);
        break;
      }
      default: assertNever(pass, 'pass');
    }
    if (verifying) verifyPlan(plan, pass.name);
  }
  if (!plan) throw new Error('the pass list has no scheduler');
  return plan;
}
