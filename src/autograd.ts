// Define-by-run autograd: every differentiable op leaves a Node; backward() walks them in reverse
// topological order calling the registry's gradient rules, which are themselves tensor ops (so
// backward traces and compiles like any other code).
import { AutogradError, fmtShape } from './core/errors.js';
import { shapesEqual } from './core/shape.js';
import type { Meta, OpDef, VjpContext } from './ops/types.js';
import type { Tensor } from './tensor.js';

let gradEnabled = true;

/** True unless inside noGrad(). */
export function isGradEnabled(): boolean { return gradEnabled; }

/** Runs `fn` without recording gradients (like torch.no_grad). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try { return fn(); } finally { gradEnabled = prev; }
}

/** Runs `fn` with gradient recording switched on or off. */
export function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = enabled;
  try { return fn(); } finally { gradEnabled = prev; }
}

/** The record one op leaves for backward. */
export class Node {
  private inputs: (Tensor | null)[] | null;
  private readonly versions: number[];
  private out: Tensor | null;
  private readonly outVersion: number;
  readonly inputMeta: Meta[];
  /** Non-leaf tensor whose .grad should be kept (retainGrad). */
  retained: Tensor | null = null;

  constructor(readonly op: OpDef, inputs: readonly Tensor[], readonly attrs: unknown, out: Tensor) {
    this.inputs = [...inputs];
    this.versions = inputs.map((t) => t._version.value);
    this.inputMeta = inputs.map((t) => ({ shape: t.shape, dtype: t.dtype }));
    this.out = out;
    this.outVersion = out._version.value;
  }

  /** The nodes this one feeds gradients to. */
  parents(): Tensor[] {
    return (this.inputs ?? []).filter((t): t is Tensor => t !== null && t.requiresGrad);
  }

  inputAt(i: number): Tensor | null { return this.inputs ? this.inputs[i] : null; }

  private checkSaved(t: Tensor | null, version: number, what: string): Tensor {
    if (!t) throw new AutogradError(`backward through ${this.op.name}: the graph was already freed; call backward(undefined, { retainGraph: true }) the first time to backward twice`);
    if (t._version.value !== version) {
      throw new AutogradError(
        `backward through ${this.op.name}: ${what} ${fmtShape(t.shape)} needed for the gradient was modified by an in-place operation ` +
        `(version ${version} when saved, now ${t._version.value}); clone() it before modifying it`);
    }
    return t;
  }

  /** Runs the gradient rule. */
  vjp(g: Tensor): (Tensor | null)[] {
    if (!this.inputs) this.checkSaved(null, 0, '');
    const ctx: VjpContext<any> = {
      attrs: this.attrs,
      inputMeta: this.inputMeta,
      input: (i) => this.checkSaved(this.inputs![i], this.versions[i], `input ${i}`),
      output: () => this.checkSaved(this.out, this.outVersion, 'its output'),
      needs: (i) => this.inputs![i] !== null && this.inputs![i]!.requiresGrad,
    };
    return this.op.vjp!(g, ctx);
  }

  /** Drops saved tensors after backward (unless the graph is retained). */
  free(): void { this.inputs = null; this.out = null; }
}

/** Sums a broadcast gradient back to `shape` (un-broadcasting lives here, once). */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.shape.length - shape.length;
  const dims: number[] = [];
  g.shape.forEach((d, i) => { if (i < lead || (shape[i - lead] === 1 && d !== 1)) dims.push(i); });
  const summed = dims.length ? g.sum(dims, true) : g;
  return summed.reshape(shape);
}

export interface BackwardOptions {
  /** Keep saved tensors so backward can run again through the same graph. */
  retainGraph?: boolean;
  /** Record the backward ops themselves (for higher-order gradients). */
  createGraph?: boolean;
}

/** Accumulates a gradient into a leaf's .grad (the setter lets compile() see the write). */
function accumulateLeaf(t: Tensor, g: Tensor, createGraph: boolean): void {
  const prev = t.grad;
  // With createGraph the gradient keeps its history (higher-order gradients); else it is a plain value.
  t.grad = prev ? prev.add(g) : createGraph ? g : g.detach();
}

/** Reverse-mode sweep from `root` with cotangent `grad`. */
export function runBackward(root: Tensor, grad: Tensor, opts: BackwardOptions = {}): void {
  const order: Node[] = [];
  const seen = new Set<Node>();
  // Iterative DFS post-order (deep graphs, e.g. long loops, would overflow recursion).
  const stack: [Node, boolean][] = root._node ? [[root._node, false]] : [];
  while (stack.length) {
    const [n, done] = stack.pop()!;
    if (done) { order.push(n); continue; }
    if (seen.has(n)) continue;
    seen.add(n);
    stack.push([n, true]);
    for (const p of n.parents()) if (p._node && !seen.has(p._node)) stack.push([p._node, false]);
  }
  const grads = new Map<Node, Tensor>();
  withGradMode(opts.createGraph === true, () => {
    if (!root._node) { accumulateLeaf(root, grad, opts.createGraph === true); return; }
    grads.set(root._node, grad);
    for (let i = order.length - 1; i >= 0; i--) {
      const node = order[i];
      const g = grads.get(node);
      grads.delete(node);
      if (!g) continue;
      if (node.retained) node.retained.grad = node.retained.grad ? node.retained.grad.add(g) : g;
      const ins = node.vjp(g);
      ins.forEach((gi, k) => {
        const t = node.inputAt(k);
        if (!gi || !t || !t.requiresGrad) return;
        const gs = sumToShape(gi, t.shape);
        const gt = gs.dtype === t.dtype ? gs : gs.to(t.dtype);
        if (t._node) {
          const prev = grads.get(t._node);
          grads.set(t._node, prev ? prev.add(gt) : gt);
        } else accumulateLeaf(t, gt, opts.createGraph === true);
      });
      if (!opts.retainGraph && !opts.createGraph) node.free(); // createGraph implies retainGraph, as in torch
    }
  });
}

/** Checks the implicit-gradient rule: only single-element outputs get an implicit 1. */
export function checkImplicitGrad(t: Tensor): void {
  if (!t.requiresGrad) {
    throw new AutogradError(`backward: the tensor ${fmtShape(t.shape)} does not require grad and has no grad_fn; create leaves with requiresGrad: true`);
  }
  if (t.size !== 1) {
    throw new AutogradError(`backward: gradient can be created implicitly only for single-element outputs, got shape ${fmtShape(t.shape)}; pass one: t.backward(onesLike(t))`);
  }
}
