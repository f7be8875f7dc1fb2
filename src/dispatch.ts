// Every op goes through apply(): infer shape/dtype from the registry, then either run it eagerly
// (one-op kernel on the tensor's backend) or hand it to the active tracer (compile()), then record
// the autograd node. This is the single seam between the eager framework and the compiler.
import type { Backend, BackendName } from './core/backend.js';
import { getBackend } from './core/backend.js';
import type { DType } from './core/dtype.js';
import { KilnError, ShapeError, assertNever, fmtShape } from './core/errors.js';
import type { Kernel, View } from './core/kernel.js';
import { contiguousView } from './core/kernel.js';
import { sizeOf } from './core/shape.js';
import { expandView } from './core/view.js';
import { checkAllocation } from './core/validate.js';
import { Node, isGradEnabled } from './autograd.js';
import { elementwiseExpr, gatherExpr, loadExpr, matmulKernel, reduceKernel } from './lower.js';
import type { GatherAttrs, Meta, OpDef } from './ops/types.js';
import { Tensor } from './tensor.js';
import { allocate } from './memory.js';

/** What compile() plugs in while it traces: ops, in-place writes, reads and random draws route here. */
export interface Tracer {
  /** Records an op on (possibly lazy) inputs and returns its lazy output. */
  record(op: OpDef, inputs: readonly Tensor[], attrs: unknown, meta: Meta): Tensor;
  /** Records an in-place write of `value` into `target` (a tensor or a view of one). */
  assign(target: Tensor, value: Tensor): void;
  /**
   * Makes a lazy tensor concrete (a graph break), or throws in fullgraph mode; for a real tensor,
   * lands the in-place writes the trace still holds for its storage before it is read.
   */
  realize(t: Tensor, reason: string): void;
  /** Records a random draw (drawn now, in program order, and bound to this call's graph). */
  random(kind: RandomKind, shape: readonly number[], dtype: DType, params: readonly number[]): Tensor;
  /** Notes that a tensor's .grad was set during the trace; `prev` is the value it replaced. */
  gradSet(t: Tensor, prev: Tensor | null): void;
  /** `t` is another handle on `of`'s memory (the old value an in-place op keeps for autograd). */
  alias(t: Tensor, of: Tensor): void;
  /** The backend compiled code targets. */
  readonly backendName: BackendName;
}

export type RandomKind = 'rand' | 'randn' | 'randint';

let tracer: Tracer | null = null;

/** The active tracer, if compile() is tracing. */
export function activeTracer(): Tracer | null { return tracer; }

/** Installs (or clears) the tracer; returns the previous one. */
export function setTracer(t: Tracer | null): Tracer | null {
  const prev = tracer;
  tracer = t;
  return prev;
}

/** Runs `fn` with no tracer (work that must happen now, e.g. a read inside a compiled function). */
export function untraced<T>(fn: () => T): T {
  const prev = tracer;
  tracer = null;
  try { return fn(); } finally { tracer = prev; }
}

/** Applies a registry op: the one entry point for every primitive. */
export function apply(op: OpDef, inputs: readonly Tensor[], attrs: unknown = {}): Tensor {
  const meta = op.infer(inputs, attrs as never);
  // Views allocate nothing; any other op's result must fit one buffer (checked before allocating).
  if (op.kind !== 'movement') checkAllocation(op.name, meta.shape, sizeOf(meta.shape), meta.dtype === 'bool' ? 1 : 4);
  const out = tracer ? tracer.record(op, inputs, attrs, meta) : runEager(op, inputs, attrs, meta);
  if (op.vjp && isGradEnabled() && inputs.some((t) => t.requiresGrad)) out._setNode(new Node(op, inputs, attrs, out));
  return out;
}

/** The backend shared by all operands, or a clear error naming the op. */
export function commonBackend(op: string, inputs: readonly Tensor[]): Backend {
  const names = [...new Set(inputs.map((t) => t.backend))];
  if (names.length > 1) {
    throw new KilnError(`${op}: operands live on different backends (${names.join(' and ')}); move them first with t.to('${names[0]}')`);
  }
  return getBackend(names[0]);
}

/** Runs `op`'s kernel on real tensors and wraps its (contiguous) output. */
export function runKernel(backend: Backend, kernel: Kernel, inputs: readonly Tensor[], out: Meta, op: string): Tensor {
  // A safe point for reclamation: the inputs are reachable from here until the kernel has run.
  const buf = allocate(backend, op, out.dtype, sizeOf(out.shape), false); // the kernel writes every element
  try {
    backend.run(kernel, inputs.map((t) => t._buffer()), [buf]);
  } catch (e) {
    backend.free(buf); // e.g. an index out of range: the output never becomes a tensor
    throw e;
  }
  return Tensor._wrap(backend, buf, contiguousView(out.shape), out.dtype, op);
}

function elementwiseKernel(expr: import('./core/kernel.js').Expr, out: Meta, nInputs: number): Kernel {
  return { kind: 'elementwise', shape: out.shape, nInputs, outputs: [{ expr, dtype: out.dtype }] };
}

/** Copies a view (possibly masked) into a fresh contiguous tensor. */
function materialize(backend: Backend, x: Tensor, view: View, out: Meta, op: string): Tensor {
  return runKernel(backend, elementwiseKernel(loadExpr(0, view, x.dtype), out, 1), [x], out, op);
}

function runEager(op: OpDef, inputs: readonly Tensor[], attrs: unknown, out: Meta): Tensor {
  inputs.forEach((t) => t._ensureReal(`${op.name} ran eagerly`));
  const backend = commonBackend(op.name, inputs);
  switch (op.kind) {
    case 'movement': {
      const x = inputs[0];
      const v = op.view(x._view, attrs);
      if (v && !v.mask) return x._viewAs(v);
      if (v) return materialize(backend, x, v, out, op.name);
      // The layout forbids a view (e.g. reshape of a transposed tensor): copy, then view the copy.
      const c = materialize(backend, x, x._view, { shape: x.shape, dtype: x.dtype }, op.name);
      return c._viewAs(op.view(c._view, attrs)!);
    }
    case 'elementwise': {
      const loads = inputs.map((t, i) => loadExpr(i, expandView(t._view, out.shape), t.dtype));
      const expr = elementwiseExpr(op, attrs, loads, inputs, out);
      return runKernel(backend, elementwiseKernel(expr, out, inputs.length), inputs, out, op.name);
    }
    case 'reduce': {
      const k = reduceKernel(op, attrs as never, inputs[0]._view, inputs[0], out);
      return runKernel(backend, k, inputs, out, op.name);
    }
    case 'matmul':
      return runKernel(backend, matmulKernel(inputs[0]._view, inputs[1]._view, out), inputs, out, op.name);
    case 'gather': {
      // The kernel checks every index (src/core/index-check.ts) and the backend raises the error.
      const [x, idx] = inputs;
      const expr = gatherExpr(op, attrs as GatherAttrs, x._view, idx._view, 0, 1, x, out);
      return runKernel(backend, elementwiseKernel(expr, out, 2), inputs, out, op.name);
    }
    default: return assertNever(op, 'op kind');
  }
}

/** Writes `value` (broadcast, cast) into `target`'s view in place (eager). */
export function assignEager(target: Tensor, value: Tensor): void {
  target._ensureReal('in-place write');
  value._ensureReal('in-place write');
  const backend = commonBackend('copy_', [target, value]);
  // Reading and writing the same storage in one pass could read already-written elements.
  const src = value._sharesStorage(target) ? value.clone() : value;
  const load = loadExpr(0, expandView(src._view, target.shape), src.dtype);
  const expr = load.dtype === target.dtype ? load : { kind: 'cast' as const, x: load, dtype: target.dtype };
  const kernel: Kernel = { kind: 'elementwise', shape: target.shape, nInputs: 1, outputs: [{ expr, dtype: target.dtype, view: target._view }] };
  backend.run(kernel, [src._buffer()], [target._buffer()]);
  if (src !== value) src.dispose();
}
