// torch.autograd's functional API: grad(outputs, inputs) returns gradients without touching .grad,
// backward(tensors, ...) runs one sweep from several roots; enableGrad and inferenceMode. One reverse
// sweep serves both: gradients are either collected for the requested inputs (only the part of the
// graph that leads to them is visited) or accumulated into the leaves' .grad.
import { AutogradError, ShapeError, fmtShape } from './core/errors.js';
import { GradientOwnership, Node, accumulateLeaf, topoOrder, checkImplicitGrad, handToHooks, hasNodeHooks as nodeHooks, runLeafHooks, runNodeHooks, sumToShape, withGradMode } from './autograd.js';
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

interface Sink {
  /** Inputs whose gradient is collected (leaves by tensor, computed tensors by their node); null: accumulate into .grad. */
  readonly leaves: Set<Tensor> | null;
  readonly nodes: Map<Node, Tensor[]>;
}

/**
 * One reverse sweep; returns the collected gradients (collect mode). Gradient intermediates are freed
 * as they die (GradientOwnership, as backward() does) unless createGraph or compile() is tracing;
 * what user code receives (collected gradients, what hooks see) is handed over, never freed.
 */
function sweep(roots: [Tensor, Tensor, boolean][], sink: Sink, createGraph: boolean, retainGraph: boolean): Map<Tensor, Tensor> {
  const owner = !createGraph && activeTracer() === null ? new GradientOwnership() : null;
  const out = new Map<Tensor, Tensor>();
  const add = (t: Tensor, g: Tensor) => {
    const prev = out.get(t);
    const sum = prev ? prev.add(g) : g;
    out.set(t, sum);
    owner?.hand(sum);
  };
  // Leaves' contributions are summed before their hooks run (once per sweep, on the whole gradient).
  const leafSums = new Map<Tensor, Tensor>();
  const toLeaf = (t: Tensor, g: Tensor) => {
    const prev = leafSums.get(t);
    if (prev) owner?.unhold(prev);
    const sum = prev ? prev.add(g) : g;
    leafSums.set(t, sum);
    owner?.hold(sum);
  };
  const grads = new Map<Node, Tensor>();
  const setGrad = (n: Node, g: Tensor) => {
    const prev = grads.get(n);
    if (prev) owner?.unhold(prev);
    const sum = prev ? prev.add(g) : g;
    grads.set(n, sum);
    owner?.hold(sum);
  };
  const collect = sink.leaves !== null;
  const order = topoOrder(roots.map(([t]) => t));
  // In collect mode only nodes from which a requested input is reachable are worth a vjp.
  const leads = new Set<Node>();
  if (collect) {
    for (const n of order) {
      // A freed node (its inputs dropped) cannot say where it leads: unless its own output is what is
      // asked for, visit it so that its vjp reports the freed graph.
      if (n.inputMeta.length > 0 && n.inputAt(0) === null) { if (!sink.nodes.has(n)) leads.add(n); continue; }
      for (let k = 0; k < n.inputMeta.length; k++) {
        const t = n.inputAt(k);
        if (!t || !t.requiresGrad) continue;
        if (t._node ? sink.nodes.has(t._node) || leads.has(t._node) : sink.leaves!.has(t)) { leads.add(n); break; }
      }
    }
  }
  try {
    withGradMode(createGraph, () => {
      for (const [t, g, implicit] of roots) {
        if (implicit) owner?.adopt(g);
        if (t._node) setGrad(t._node, g);
        else if (!collect || sink.leaves!.has(t)) toLeaf(t, g);
      }
      for (let i = order.length - 1; i >= 0; i--) {
        const node = order[i];
        const g0 = grads.get(node);
        grads.delete(node);
        if (!g0) continue;
        owner?.unhold(g0);
        const g = nodeHooks(node) ? handToHooks(owner, g0, (x) => runNodeHooks(node, x)) : g0;
        if (collect) for (const t of sink.nodes.get(node) ?? []) add(t, g);
        else if (node.retained) node.retained.grad = node.retained.grad ? node.retained.grad.add(g) : g;
        if (!collect || leads.has(node)) {
          node.vjp(g).forEach((gi, k) => {
            const t = node.inputAt(k);
            if (!gi || !t || !t.requiresGrad) return;
            if (collect && (t._node ? !(sink.nodes.has(t._node) || leads.has(t._node)) : !sink.leaves!.has(t))) return;
            const gs = sumToShape(gi, t.shape);
            const gt = gs.dtype === t.dtype ? gs : gs.to(t.dtype);
            if (t._node) setGrad(t._node, gt);
            else toLeaf(t, gt);
          });
        }
        if (!retainGraph) node.free();
        owner?.sweep();
      }
      for (const [t, g] of leafSums) {
        owner?.unhold(g);
        const hooked = handToHooks(owner, g, (x) => runLeafHooks(t, x));
        if (collect) add(t, hooked);
        else accumulateLeaf(t, hooked, createGraph);
      }
    });
  } finally {
    owner?.close();
  }
  return out;
}

/**
 * The gradients of `outputs` with respect to `inputs` (torch.autograd.grad), one per input, without
 * touching any .grad. Inputs may be leaves or intermediate tensors.
 */
export function grad(outputs: Tensor | readonly Tensor[], inputs: Tensor | readonly Tensor[], opts: GradOptions = {}): (Tensor | null)[] {
  const outs = list(outputs, 'outputs', 'grad');
  const ins = list(inputs, 'inputs', 'grad');
  if (opts.materializeGrads && !opts.allowUnused) throw new AutogradError('grad: materializeGrads requires allowUnused');
  ins.forEach((t, i) => { if (!t.requiresGrad) throw new AutogradError(`grad: input ${i} ${fmtShape(t.shape)} does not require grad`); });
  const createGraph = opts.createGraph ?? false;
  const sink: Sink = { leaves: new Set(ins.filter((t) => !t._node)), nodes: new Map() };
  for (const t of ins) if (t._node) sink.nodes.set(t._node, [...(sink.nodes.get(t._node) ?? []), t]);
  const got = sweep(seeds('grad', outs, opts.gradOutputs), sink, createGraph, opts.retainGraph ?? createGraph);
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
export function backward(tensors: Tensor | readonly Tensor[], opts: BackwardOptions = {}): void {
  const roots = seeds('backward', list(tensors, 'tensors', 'backward'), opts.gradTensors);
  const createGraph = opts.createGraph ?? false;
  const retainGraph = opts.retainGraph ?? createGraph;
  if (opts.inputs === undefined) { sweep(roots, { leaves: null, nodes: new Map() }, createGraph, retainGraph); return; }
  const ins = list(opts.inputs, 'inputs', 'backward');
  const got = grad(roots.map(([t]) => t), ins, { gradOutputs: roots.map(([, g]) => g), createGraph, retainGraph, allowUnused: true });
  // (Hooks already ran in the sweep.)
  withGradMode(createGraph, () => ins.forEach((t, i) => { const g = got[i]; if (g) t.grad = t.grad ? t.grad.add(g) : g; }));
}

/** Runs `fn` with gradient recording on, even inside noGrad() (torch.enable_grad). */
export function enableGrad<T>(fn: () => T): T { return withGradMode(true, fn); }

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
