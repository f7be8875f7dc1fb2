// torch.autograd's functional API: grad(outputs, inputs) returns gradients without touching .grad,
// backward(tensors, ...) runs one sweep from several roots; enableGrad and inferenceMode. Both run
// autograd.ts's one reverse sweep, which Tensor.backward runs too.
import { AutogradError, ShapeError, fmtShape } from './core/errors.js';
import { ACCUMULATE, type GradientSink, type Node, checkImplicitGrad, sweep, withGradMode } from './autograd.js';
import { activeTracer } from './dispatch.js';
import { shapesEqual } from './core/shape.js';
import { onesLike } from './creation.js';
import { Tensor } from './tensor.js';

export interface GradOptions {
  /** The gradients of the outputs (a tensor per output; may be omitted for single-element outputs). */
  gradOutputs?: Tensor | readonly (Tensor | null | undefined)[];
  /** Keep the graph for another backward (default: createGraph). */
  retainGraph?: boolean;
  /** Record the gradient computation itself, for higher-order derivatives. */
  createGraph?: boolean;
  /** Return null for inputs the outputs do not depend on (else that is an error). */
  allowUnused?: boolean;
  /** With allowUnused, return zeros instead of null for unused inputs. */
  materializeGrads?: boolean;
}

const list = (x: Tensor | readonly Tensor[], what: string, op: string): Tensor[] => {
  const l = x instanceof Tensor ? [x] : Array.isArray(x) ? [...x] : null;
  if (!l || l.some((t) => !(t instanceof Tensor))) throw new AutogradError(`${op}: ${what} must be a tensor or a list of tensors`);
  return l;
};

/** Pairs each root with its seed gradient (implicit 1 only for single elements, as backward()). */
function seeds(op: string, roots: Tensor[], given: GradOptions['gradOutputs']): [Tensor, Tensor, boolean][] {
  const gs = given === undefined ? [] : given instanceof Tensor ? [given] : [...given];
  if (gs.length && gs.length !== roots.length) throw new AutogradError(`${op}: got ${gs.length} gradients for ${roots.length} outputs`);
  return roots.map((t, i) => {
    if (!t.requiresGrad) throw new AutogradError(`${op}: output ${i} ${fmtShape(t.shape)} does not require grad and has no grad_fn`);
    const g = gs[i];
    if (g === undefined || g === null) { checkImplicitGrad(t); return [t, onesLike(t), true]; }
    if (!shapesEqual(g.shape, t.shape)) throw new ShapeError(`${op}: gradient ${i} ${fmtShape(g.shape)} does not match output ${fmtShape(t.shape)}`);
    return [t, g, false];
  });
}

/**
 * The gradients of `outputs` with respect to `inputs` (torch.autograd.grad), one per input, without
 * touching any .grad. Inputs may be leaves or intermediate tensors.
 */
export function grad(outputs: Tensor | readonly Tensor[], inputs: Tensor | readonly Tensor[], options: GradOptions = {}): (Tensor | null)[] {
  const opts = options ?? {};
  const outs = list(outputs, 'outputs', 'grad');
  const ins = list(inputs, 'inputs', 'grad');
  if (opts.materializeGrads && !opts.allowUnused) throw new AutogradError('grad: materializeGrads requires allowUnused');
  ins.forEach((t, i) => { if (!t.requiresGrad) throw new AutogradError(`grad: input ${i} ${fmtShape(t.shape)} does not require grad`); });
  const createGraph = opts.createGraph ?? false;
  const nodes = new Map<Node, Tensor[]>();
  for (const t of ins) if (t._node) nodes.set(t._node, [...(nodes.get(t._node) ?? []), t]);
  const sink: GradientSink = { leaves: new Set(ins.filter((t) => !t._node)), nodes };
  const got = sweep(seeds('grad', outs, opts.gradOutputs), sink, { createGraph, retainGraph: opts.retainGraph ?? createGraph, ownTemporaries: activeTracer() === null });
  return ins.map((t, i) => {
    const g = got.get(t);
    if (g) return createGraph ? g : g.detach();
    if (!opts.allowUnused) throw new AutogradError(`grad: input ${i} ${fmtShape(t.shape)} was not used to compute the outputs; pass allowUnused: true to get null for it`);
    return opts.materializeGrads ? withGradMode(false, () => onesLike(t).mul(0)) : null;
  });
}

export interface BackwardOptions {
  /** The gradients of the tensors (one per tensor; may be omitted for single-element tensors). */
  gradTensors?: Tensor | readonly (Tensor | null | undefined)[];
  retainGraph?: boolean;
  createGraph?: boolean;
  /** Accumulate only into these leaves' .grad (default: every leaf). */
  inputs?: Tensor | readonly Tensor[];
}

/** Backpropagates from several tensors in one sweep, accumulating into the leaves' .grad (torch.autograd.backward). */
export function backward(tensors: Tensor | readonly Tensor[], options: BackwardOptions = {}): void {
  const opts = options ?? {};
  const roots = seeds('backward', list(tensors, 'tensors', 'backward'), opts.gradTensors);
  const createGraph = opts.createGraph ?? false;
  const retainGraph = opts.retainGraph ?? createGraph;
  if (opts.inputs === undefined) { sweep(roots, ACCUMULATE, { createGraph, retainGraph, ownTemporaries: activeTracer() === null }); return; }
  const ins = list(opts.inputs, 'inputs', 'backward');
  const got = grad(roots.map(([t]) => t), ins, { gradOutputs: roots.map(([, g]) => g), createGraph, retainGraph, allowUnused: true });
  // (Hooks already ran in the sweep.)
  withGradMode(createGraph, () => ins.forEach((t, i) => { const g = got[i]; if (g) t.grad = t.grad ? t.grad.add(g) : g; }));
}

/** Runs `fn` with gradient recording on, even inside noGrad() (torch.enable_grad). */
export function enableGrad<T>(fn: () => T): T { return withGradMode(true, fn, 'enableGrad'); }

let inference = 0;

/** True inside inferenceMode(). */
export function isInferenceModeEnabled(): boolean { return inference > 0; }

/**
 * Runs `fn` without recording gradients, as torch.inference_mode (kiln keeps no version counters
 * or views for autograd there either way, so it is noGrad with its own flag); inferenceMode(false, fn)
 * runs it with the surrounding mode.
 */
export function inferenceMode<T>(fn: () => T): T;
export function inferenceMode<T>(mode: boolean, fn: () => T): T;
export function inferenceMode<T>(a: boolean | (() => T), b?: () => T): T {
  const [mode, fn] = typeof a === 'function' ? [true, a] : [a, b!];
  if (typeof fn !== 'function') throw new AutogradError('inferenceMode: expected a function to run');
  if (!mode) return fn();
  inference++;
  try { return withGradMode(false, fn); } finally { inference--; }
}
