// Graph -> Graph passes, run in the order of PIPELINE: dead-code elimination, common-subexpression
// elimination, constant folding, and shape propagation (which doubles as the verifier in tests and
// as the re-typing step for dynamic shapes).
import { KilnError } from '../src/core/errors.js';
import { shapesEqual } from '../src/core/shape.js';
import { shortDType } from '../src/core/dtype.js';
import { OPS } from '../src/ops/index.js';
import { evalScalar } from '../src/ops/scalar.js';
import { castExpr } from '../src/lower.js';
import type { Graph, GraphNode } from './graph.js';

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

/**
 * Re-derives every op node's shape and dtype from its inputs with the registry's rules. Throws
 * (naming the node) where a node's recorded type disagrees: the verifier run after each pass.
 */
export const propagateShapes: Pass = (g) => {
  const byId = new Map<number, GraphNode>();
  for (const n of g.nodes) {
    if (n.kind === 'op') {
      const ins = n.inputs.map((x) => byId.get(x)!);
      const meta = OPS[n.op].infer(ins, n.attrs as never);
      const same = meta.dtype === n.dtype && shapesEqual(meta.shape, n.shape);
      if (!same) {
        throw new KilnError(`verify: node %${n.id} (${n.op}${n.loc ? ` at ${n.loc}` : ''}) is typed ${shortDType(n.dtype)}[${n.shape}] but its inputs give ${shortDType(meta.dtype)}[${meta.shape}]`);
      }
    }
    byId.set(n.id, n);
  }
  return g;
};

/** The optimisation pipeline, in order. */
export const PIPELINE: readonly [string, Pass][] = [
  ['dce', deadCodeElimination],
  ['cse', commonSubexpressionElimination],
  ['fold', constantFolding],
  ['dce', deadCodeElimination],
];

/** Runs the pipeline; with `verify`, re-types the graph after every pass. */
export function optimize(g: Graph, verify = false): Graph {
  let out = g;
  for (const [, pass] of PIPELINE) {
    out = pass(out);
    if (verify) propagateShapes(out);
  }
  return out;
}
