// Tracing: while a compiled function runs, every op yields a lazy tensor recorded as a graph node.
// A read of a concrete value (item(), data(), printing) is a graph break: the graph needed for that
// value is compiled and run, and tracing goes on. At the end the outputs, in-place updates of
// captured tensors and .grad writes are computed together.
import type { BackendName } from '../src/core/backend.js';
import type { DType } from '../src/core/dtype.js';
import { KilnError } from '../src/core/errors.js';
import { sizeOf } from '../src/core/shape.js';
import type { RandomKind, Tracer } from '../src/dispatch.js';
import { setTracer } from '../src/dispatch.js';
import type { OpName } from '../src/ops/index.js';
import type { Meta, OpDef } from '../src/ops/types.js';
import { Tensor, lastTensorSerial } from '../src/tensor.js';
import type { Graph, GraphNode, InputSource } from './graph.js';
import { callerLocation } from './source.js';

/** Thrown in fullgraph mode where the function needs a concrete value. */
export class GraphBreakError extends KilnError {
  override name = 'GraphBreakError';
  constructor(readonly reason: string, readonly loc: string | undefined) {
    super(`graph break in fullgraph mode: ${reason}${loc ? ` at ${loc}` : ''}`);
  }
}

/** A graph break that happened (and ran eagerly). */
export interface BreakRecord { readonly reason: string; readonly loc?: string }

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** What a lazy tensor points at. */
interface LazyHandle { readonly trace: Trace; readonly id: number }

/** Runs a graph, resolving its input nodes' sources to tensors (provided by the compile layer). */
export type GraphRunner = (g: Graph, resolve: (s: InputSource) => Tensor, onBreak: (reason: string) => void) => Tensor[];


/** A full view of its storage can stand for the storage (so in-place aliases resolve to one value). */
function keyOf(t: Tensor): object {
  const v = t._view;
  const full = t._storage && v.offset === 0 && t.isContiguous() && sizeOf(v.shape) === t._storage.buffer.size;
  return full ? t._storage! : t;
}

export class Trace implements Tracer {
  readonly nodes: GraphNode[] = [];
  readonly breaks: BreakRecord[] = [];
  /** Real tensor (or its storage) -> the node holding its current value in this trace. */
  private readonly valueOf = new Map<object, number>();
  /** Captured tensors written in place: key -> [tensor, final value node]. */
  readonly mutations = new Map<object, [Tensor, number]>();
  /** Tensors whose .grad was assigned during the trace. */
  readonly gradSets = new Set<Tensor>();
  private readonly capturedTensors: Tensor[] = [];
  private readonly realized = new WeakSet<Tensor>();
  private readonly startSerial: number;
  /** True once anything ran eagerly in the middle (the call cannot be replayed as one graph). */
  broke = false;
  /** Set when the compiled call has returned: later realizations are not breaks. */
  done = false;
  /** Every graph run during this call, with what ran it (for explain()). */
  readonly executions: { graph: Graph; outputs: readonly number[] }[] = [];

  constructor(
    readonly backendName: BackendName,
    readonly fullgraph: boolean,
    private readonly argPaths: Map<Tensor, string>,
    private readonly run: GraphRunner,
    readonly name: string,
  ) {
    // Tensors made from here on (and not arguments) are constants of this trace.
    this.startSerial = lastTensorSerial();
  }

  private push(node: DistributiveOmit<GraphNode, 'id'>): number {
    const id = this.nodes.length;
    this.nodes.push({ ...node, id } as GraphNode);
    return id;
  }

  private lazy(id: number, shape: readonly number[], dtype: DType): Tensor {
    return Tensor._lazyTensor(this.backendName, shape, dtype, { trace: this, id } satisfies LazyHandle);
  }

  /** The node id standing for tensor `t`, lifting real tensors into inputs or constants. */
  idOf(t: Tensor): number {
    const h = t._lazy as LazyHandle | null;
    if (h) {
      if (h.trace === this) return h.id;
      h.trace.realize(t, 'a value from an earlier trace was used');
    }
    const key = keyOf(t);
    const known = this.valueOf.get(key);
    if (known !== undefined) return known;
    const meta = { shape: t.shape, dtype: t.dtype };
    let id: number;
    const argPath = this.argPaths.get(t);
    if (argPath !== undefined) id = this.push({ kind: 'input', ...meta, source: { kind: 'arg', path: argPath } });
    else if (t._constant !== undefined) id = this.push({ kind: 'const', ...meta, value: t, scalar: t._constant });
    else if (this.realized.has(t)) id = this.push({ kind: 'input', ...meta, source: { kind: 'realized', tensor: t } });
    else if (t._serial > this.startSerial) id = this.push({ kind: 'const', ...meta, value: t });
    else {
      const owner = this.capturedTensors.find((c) => c.grad === t);
      const source: InputSource = owner ? { kind: 'grad', of: owner } : { kind: 'captured', tensor: t };
      if (!owner) this.capturedTensors.push(t);
      id = this.push({ kind: 'input', ...meta, source });
    }
    this.valueOf.set(key, id);
    return id;
  }

  record(op: OpDef, inputs: readonly Tensor[], attrs: unknown, meta: Meta): Tensor {
    const ids = inputs.map((t) => this.idOf(t));
    const id = this.push({ kind: 'op', op: op.name as OpName, inputs: ids, attrs, shape: meta.shape, dtype: meta.dtype, loc: callerLocation() });
    return this.lazy(id, meta.shape, meta.dtype);
  }

  random(kind: RandomKind, shape: readonly number[], dtype: DType, params: readonly number[]): Tensor {
    const id = this.push({ kind: 'random', shape, dtype, random: kind, params, loc: callerLocation() });
    return this.lazy(id, shape, dtype);
  }

  assign(target: Tensor, value: Tensor): void {
    const vid = this.idOf(value);
    if (target._lazy) {
      target._lazy = { trace: this, id: vid } satisfies LazyHandle;
      return;
    }
    const key = keyOf(target);
    if (key === target && target._storage) {
      // A partial view of a real tensor: write it eagerly (a graph break).
      this.breakHere('in-place write into a partial view of a tensor from outside the compiled function');
      this.realize(value, 'in-place write');
      this.runEagerly(() => { target._inplace('copy_', () => value); });
      return;
    }
    this.idOf(target); // lift the target first so later reads of the old value resolve
    this.valueOf.set(key, vid);
    this.mutations.set(key, [target, vid]);
  }

  gradSet(t: Tensor): void {
    this.gradSets.add(t);
  }

  /** Records a graph break at the caller's line (throws in fullgraph mode). */
  breakHere(reason: string): void {
    if (this.done) return;
    const loc = callerLocation();
    if (this.fullgraph) throw new GraphBreakError(reason, loc);
    this.broke = true;
    this.breaks.push({ reason, loc });
  }

  /** Runs `fn` eagerly (tracer off), e.g. the JS between two graph segments. */
  runEagerly<T>(fn: () => T): T {
    const prev = setTracer(null);
    try { return fn(); } finally { setTracer(prev); }
  }

  realize(t: Tensor, reason: string): void {
    const h = t._lazy as LazyHandle | null;
    if (!h) return;
    if (h.trace !== this) { h.trace.realize(t, reason); return; }
    this.breakHere(reason);
    const [real] = this.execute([h.id]);
    this.fill(t, real);
  }

  /** Gives a lazy tensor its concrete value and remembers it as an input for later segments. */
  fill(t: Tensor, real: Tensor): void {
    t._fill(real);
    this.realized.add(t);
    this.valueOf.set(keyOf(t), this.push({ kind: 'input', shape: t.shape, dtype: t.dtype, source: { kind: 'realized', tensor: t } }));
  }

  /** The sub-graph computing `outputs` (inputs listed in node order). */
  graphFor(outputs: readonly number[]): Graph {
    // A snapshot: nodes added later (realized values, later segments) are not part of this graph.
    return { name: this.name, nodes: this.nodes.slice(), outputs };
  }

  /** Resolves an input node's source during this call. */
  resolve = (s: InputSource): Tensor => sourceTensor(s, this.argTensorByPath);

  private argTensorByPath = (path: string): Tensor => {
    for (const [t, p] of this.argPaths) if (p === path) return t;
    throw new Error(`no argument at ${path}`);
  };

  /** Compiles and runs the nodes needed for `outputs`. */
  execute(outputs: readonly number[]): Tensor[] {
    return this.executeGraph(this.graphFor(outputs));
  }

  /** Compiles and runs a graph of this trace (recorded for explain() and dumps). */
  executeGraph(g: Graph): Tensor[] {
    this.executions.push({ graph: g, outputs: g.outputs });
    return this.runEagerly(() => this.run(g, this.resolve, (r) => this.breakHere(r)));
  }
}

/** Resolves an input source to the tensor it denotes now. */
export function sourceTensor(s: InputSource, arg: (path: string) => Tensor): Tensor {
  switch (s.kind) {
    case 'arg': return arg(s.path);
    case 'captured': case 'realized': return s.tensor;
    case 'grad': {
      if (!s.of.grad) throw new KilnError('compiled function: a captured tensor\'s .grad it read is now null; the guard on .grad failed');
      return s.of.grad;
    }
  }
}

/** The trace a lazy tensor belongs to (or null for real tensors). */
export function lazyHandle(t: Tensor): { trace: Trace; id: number } | null {
  return t._lazy as LazyHandle | null;
}
