// The graph IR: plain SSA nodes in topological order, printable as code and as a table.
import type { DType } from '../src/core/dtype.js';
import { shortDType } from '../src/core/dtype.js';
import { KilnError, assertNever } from '../src/core/errors.js';
import { describeValue } from '../src/core/validate.js';
import type { RandomKind } from '../src/dispatch.js';
import type { OpName } from '../src/ops/index.js';
import type { Tensor } from '../src/tensor.js';

/**
 * What a graph input stood for when it was traced. A call binds every leaf to the tensor its own
 * JavaScript used (see Trace.bindings); the source describes it (printing, explain()) and lets a
 * replay that skips the JavaScript find it again.
 */
export type InputSource =
  | { readonly kind: 'arg'; readonly path: string }
  /** A tensor captured by reference (closure weights, optimizer state). */
  | { readonly kind: 'captured'; readonly tensor: Tensor }
  /** The current .grad of a captured tensor. */
  | { readonly kind: 'grad'; readonly of: Tensor }
  /** A value made concrete earlier in this call (after a graph break). */
  | { readonly kind: 'realized'; readonly tensor: Tensor }
  /** The whole storage of a tensor, flat (written through one of its views). */
  | { readonly kind: 'storage' }
  /** A JavaScript number that changed between calls at this place: a runtime 0-d input. */
  | { readonly kind: 'scalar'; readonly was: number };

/**
 * `bind` on a leaf (input, tensor constant, random draw) is its id in the traced graph: the index of
 * the tensor a call bound to it. Passes renumber nodes but keep `bind`.
 */
export type GraphNode =
  | { readonly kind: 'input'; readonly id: number; readonly shape: readonly number[]; readonly dtype: DType; readonly source: InputSource; readonly bind?: number; readonly loc?: string }
  | { readonly kind: 'const'; readonly id: number; readonly shape: readonly number[]; readonly dtype: DType; readonly value?: Tensor; readonly scalar?: number; readonly bind?: number; readonly loc?: string }
  | { readonly kind: 'random'; readonly id: number; readonly shape: readonly number[]; readonly dtype: DType; readonly random: RandomKind; readonly params: readonly number[]; readonly bind?: number; readonly loc?: string }
  | { readonly kind: 'op'; readonly id: number; readonly shape: readonly number[]; readonly dtype: DType; readonly op: OpName; readonly inputs: readonly number[]; readonly attrs: unknown; readonly loc?: string };

/** A traced program: nodes in topological order and the ids it returns. */
export interface Graph {
  readonly name: string;
  readonly nodes: readonly GraphNode[];
  readonly outputs: readonly number[];
}

export const fmtType = (n: { shape: readonly number[]; dtype: DType }) => `${shortDType(n.dtype)}[${n.shape.join(',')}]`;

function fmtAttrs(attrs: unknown): string {
  if (!attrs || typeof attrs !== 'object' || Object.keys(attrs).length === 0) return '';
  return ' ' + Object.entries(attrs as Record<string, unknown>).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ');
}

/** What a node computes, without its result name: `mul %2, %3 dims=[1]`. */
export function nodeText(n: GraphNode): string {
  switch (n.kind) {
    case 'input': return `input ${sourceText(n.source)}`;
    case 'const': return n.scalar !== undefined ? `const ${n.scalar}` : `const tensor`;
    case 'random': return `${n.random}(${n.params.join(', ')})`;
    case 'op': return `${n.op} ${n.inputs.map((i) => `%${i}`).join(', ')}${fmtAttrs(n.attrs)}`;
  }
}

/** How an input's source prints: `arg 0.x`, `captured`, `scalar (was 0.1)`. */
export function sourceText(s: InputSource): string {
  switch (s.kind) {
    case 'arg': return `arg ${s.path}`;
    case 'scalar': return `scalar (was ${s.was})`;
    case 'captured': case 'grad': case 'realized': case 'storage': return s.kind;
    default: return assertNever(s, 'input source');
  }
}

/** The graph argument of the public printers, checked (they take what compile() traced, e.g. a `graph` log's). */
function checkGraph(op: string, g: unknown): asserts g is Graph {
  const ok = g !== null && typeof g === 'object' && Array.isArray((g as Graph).nodes) && Array.isArray((g as Graph).outputs);
  if (!ok) throw new KilnError(`${op}: expected a traced graph (with nodes and outputs), got ${describeValue(g)}`);
}

/** Prints a graph as readable code, one node a line with its type and source line. */
export function printGraph(g: Graph): string {
  checkGraph('printGraph', g);
  const inputs = g.nodes.filter((n) => n.kind === 'input');
  const src = (n: Extract<GraphNode, { kind: 'input' }>) => sourceText(n.source);
  const head = `graph ${g.name}(${inputs.map((n) => `%${n.id}: ${fmtType(n)} ${src(n as Extract<GraphNode, { kind: 'input' }>)}`).join(', ')}) {`;
  const lines = g.nodes.filter((n) => n.kind !== 'input').map((n) => {
    const text = `  %${n.id}: ${fmtType(n)} = ${nodeText(n)}`;
    return n.loc ? `${text.padEnd(56)} # ${n.loc}` : text;
  });
  return [head, ...lines, `  return ${g.outputs.map((o) => `%${o}`).join(', ')}`, '}'].join('\n');
}

/** Prints a graph as a table: id, opcode, target, args, type, source. */
export function printGraphTable(g: Graph): string {
  checkGraph('printGraphTable', g);
  const rows = g.nodes.map((n) => [
    `%${n.id}`, n.kind, n.kind === 'op' ? n.op : n.kind === 'random' ? n.random : n.kind === 'input' ? n.source.kind : 'const',
    n.kind === 'op' ? n.inputs.map((i) => `%${i}`).join(',') : '', fmtType(n), n.loc ?? '',
  ]);
  const header = ['node', 'opcode', 'target', 'args', 'type', 'source'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** Number of op nodes (what "ops per graph" counts). */
export function opCount(g: Graph): number {
  return g.nodes.filter((n) => n.kind === 'op').length;
}
