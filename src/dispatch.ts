// Every op goes through apply(): infer shape/dtype from the registry, then either run it eagerly
// (one-op kernel on the tensor's backend) or hand it to the active tracer (compile()), then record
// the autograd node. This is the single seam between the eager framework and the compiler.
import type { Backend, BackendName } from './core/backend.js';
import { getBackend } from './core/backend.js';
import type { DType } from './core/dtype.js';
import { KilnError, ShapeError, assertNever, fmtShape } from './core/errors.js';
import type { Expr, Kernel } from './core/kernel.js';
import { contiguousView } from './core/kernel.js';
import { sizeOf } from './core/shape.js';
import { expandView } from './core/view.js';
import { checkAllocation } from './core/validate.js';
import { Node, isGradEnabled } from './autograd.js';
import { loadExpr, lowerOp } from './lower.js';
import type { Meta, OpDef } from './ops/types.js';
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
  /** The JavaScript read a tensor's values on the host: they may steer it, so a hit must run it again. */
  readValues(what: string): void;
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

function elementwiseKernel(expr: Expr, out: Meta, nInputs: number): Kernel {
  return { kind: 'elementwise', shape: out.shape, nInputs, outputs: [{ expr, dtype: out.dtype }] };
}

/** A fresh contiguous copy of a tensor. */
function contiguousCopy(backend: Backend, x: Tensor, op: string): Tensor {
  const meta = { shape: x.shape, dtype: x.dtype };
  return runKernel(backend, elementwiseKernel(loadExpr(0, x._view, x.dtype), meta, 1), [x], meta, op);
}

/** Runs one op on real tensors: its lowering (src/lower.ts) as one kernel, or a view for a movement. */
function runEager(op: OpDef, inputs: readonly Tensor[], attrs: unknown, out: Meta): Tensor {
  inputs.forEach((t) => t._ensureReal(`${op.name} ran eagerly`));
  const backend = commonBackend(op.name, inputs);
  if (op.kind === 'movement') {
    // LOWER.movement's answer for a tensor's own load, without building expressions: views cost no kernel.
    const view = op.view(inputs[0]._view, attrs);
    if (view && !view.mask) return inputs[0]._viewAs(view);
  }
  let xs = inputs;
  let copied = false;
  for (;;) {
    const r = lowerOp(op, attrs, xs.map((t, i) => loadExpr(i, t._view, t.dtype)), xs, out);
    switch (r.kind) {
      case 'moved': {
        // A tensor re-indexed is a view of it, unless the view masks (padding): that is copied out.
        const e = r.expr;
        if (e.kind === 'load' && !e.gather && !e.view.mask) return xs[e.input]._viewAs(e.view);
        return runKernel(backend, elementwiseKernel(e, out, xs.length), xs, out, op.name);
      }
      case 'expr': return runKernel(backend, elementwiseKernel(r.expr, out, xs.length), xs, out, op.name);
      case 'kernel': return runKernel(backend, r.kernel, xs, out, op.name);
      case 'materialize':
        // The layout forbids index arithmetic (e.g. reshape of a transposed tensor): copy, then lower
        // again. Contiguous copies always lower, so a second request is a bug in a rule.
        if (copied) throw new Error(`${op.name}: lowering asked to copy operands that are already contiguous`);
        copied = true;
        xs = xs.map((t, i) => (r.operands.includes(i) ? contiguousCopy(backend, t, op.name) : t));
        break;
      default: return assertNever(r, 'lowering');
    }
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
