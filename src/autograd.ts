// Define-by-run autograd: every differentiable op leaves a Node; backward() walks them in reverse
// topological order calling the registry's gradient rules, which are themselves tensor ops (so
// backward traces and compiles like any other code).
import type { BackendName } from './core/backend.js';
import { AutogradError, KilnError, fmtShape } from './core/errors.js';
import { describeValue } from './core/validate.js';
import { arange } from './creation.js';
import { shapesEqual } from './core/shape.js';
import type { Meta, OpDef, VjpContext } from './ops/types.js';
import type { Tensor } from './tensor.js';
import { lastTensorSerial } from './tensor.js';
import { closeScope, openScope } from './tidy.js';

let gradEnabled = true;

/** True unless inside noGrad(). */
export function isGradEnabled(): boolean { return gradEnabled; }

const isAsyncFunction = (fn: unknown): boolean => {
  const name = (fn as { constructor?: { name?: string } })?.constructor?.name;
  return name === 'AsyncFunction' || name === 'AsyncGeneratorFunction';
};

function syncOnly(what: string): KilnError {
  return new KilnError(`${what} takes a synchronous function: grad mode is global, so code after an await would run ` +
    `in whatever mode the program is in by then (as in PyTorch); call ${what} around the synchronous part inside the async function`);
}

/** Runs `fn` with gradient recording switched on or off (a synchronous function: see syncOnly). */
export function withGradMode<T>(enabled: boolean, fn: () => T, what = 'withGradMode'): T {
  if (typeof fn !== 'function') throw new KilnError(`${what}: expected a function to run, got ${describeValue(fn)}`);
  if (isAsyncFunction(fn)) throw syncOnly(what);
  const prev = gradEnabled;
  gradEnabled = enabled;
  let out: T;
  try { out = fn(); } finally { gradEnabled = prev; }
  if (out && typeof (out as { then?: unknown }).then === 'function') {
    (out as unknown as Promise<unknown>).then(undefined, () => {}); // the error below replaces its outcome
    throw syncOnly(what);
  }
  return out;
}

/** Runs `fn` without recording gradients (like torch.no_grad); `fn` must be synchronous. */
export function noGrad<T>(fn: () => T): T { return withGradMode(false, fn, 'noGrad'); }

/** The record one op leaves for backward. */
export class Node {
  private inputs: (Tensor | null)[] | null;
  private readonly versions: number[];
  private out: Tensor | null;
  private readonly outVersion: number;
  readonly inputMeta: Meta[];
  /** Where the op ran (tensors a gradient rule creates go there). */
  private readonly backend: BackendName;
  /** Non-leaf tensor whose .grad should be kept (retainGrad). */
  retained: Tensor | null = null;

  constructor(readonly op: OpDef, inputs: readonly Tensor[], readonly attrs: unknown, out: Tensor) {
    this.inputs = [...inputs];
    this.versions = inputs.map((t) => t._version.value);
    this.inputMeta = inputs.map((t) => ({ shape: t.shape, dtype: t.dtype }));
    this.out = out;
    this.outVersion = out._version.value;
    for (const t of inputs) t._saves++;
    out._saves++;
    this.backend = out.backend;
  }

  /** The nodes this one feeds gradients to. */
  parents(): Tensor[] {
    return (this.inputs ?? []).filter((t): t is Tensor => t !== null && t.requiresGrad);
  }

  inputAt(i: number): Tensor | null { return this.inputs ? this.inputs[i] : null; }

  /** The tensors this node keeps for its gradient rule (none once freed). */
  savedTensors(): Tensor[] {
    return [...(this.inputs ?? []), this.out].filter((t): t is Tensor => t !== null);
  }

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
      arange: (n) => arange(n, undefined, 1, { backend: this.backend }),
    };
    return this.op.vjp!(g, ctx);
  }

  /**
   * Drops saved tensors after backward (unless the graph is retained). An internal tensor of a kiln
   * composite that no other node saves is dead now: its storage is freed at once.
   */
  free(): void {
    const saved = [...(this.inputs ?? []), this.out];
    this.inputs = null;
    this.out = null;
    for (const t of saved) {
      if (!t || --t._saves > 0 || !t._internal) continue;
      t._releasedBy = 'backward() (an intermediate of a kiln composite, freed once backward had used it)';
      t.dispose();
    }
  }
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
export function accumulateLeaf(t: Tensor, g: Tensor, createGraph: boolean): void {
  const prev = t.grad;
  // With createGraph the gradient keeps its history (higher-order gradients); else it is a plain value.
  t.grad = prev ? prev.add(g) : createGraph ? g : g.detach();
}

/**
 * Frees what backward computes as soon as it is dead: a tensor created during this backward is freed
 * after the node that made it unless it is pending for a node (in the gradient map), is some tensor's
 * .grad, or is a cached constant. A .grad made earlier in this backward and replaced by accumulation
 * is freed too (the .grad setter hands it back to the innermost scope); tensors from before backward
 * are never freed here. Off under createGraph (the gradients' own graph saves them) and while
 * compile() traces (compiled code plans its own buffers).
 */
export class GradientOwnership {
  private readonly scope = openScope();
  private readonly startSerial = lastTensorSerial();
  private readonly pending = new Set<Tensor>();
  /** Tensors handed on: .grad values, and older tensors that came through the scope. */
  private readonly handed = new Set<Tensor>();
  /** How many gradient-map entries hold each tensor. */
  private readonly held = new Map<Tensor, number>();

  hold(t: Tensor): void { this.held.set(t, (this.held.get(t) ?? 0) + 1); }
  unhold(t: Tensor): void {
    const n = (this.held.get(t) ?? 0) - 1;
    if (n > 0) this.held.set(t, n); else this.held.delete(t);
  }

  /** Adopts a tensor created just before backward (the implicit root gradient). */
  adopt(t: Tensor): void { this.pending.add(t); }

  /** Tensors handed to user code (hooks, autograd.grad's results): never freed by this backward. */
  private readonly userHeld = new Set<Tensor>();
  hand(t: Tensor): void { this.userHeld.add(t); }

  /** Called after each node: frees the dead among the tensors created so far. */
  sweep(): void {
    for (const t of this.scope.created) (t._serial > this.startSerial ? this.pending : this.handed).add(t);
    this.scope.created.length = 0;
    for (const t of this.pending) {
      if (this.held.has(t) || this.userHeld.has(t) || t._constant !== undefined) continue;
      this.pending.delete(t);
      if (t._isGradOf) { this.handed.add(t); continue; }
      this.handed.delete(t);
      t.dispose();
    }
  }

  /** Ends: what survives goes to the enclosing scope (so an enclosing tidy() still sees it). */
  close(): void {
    this.sweep();
    for (const t of this.pending) this.handed.add(t);
    closeScope(this.scope, this.handed);
  }
}

/** Nodes reachable from the roots in post-order (inputs before the ops that use them). */
export function topoOrder(roots: readonly Tensor[]): Node[] {
  const order: Node[] = [];
  const seen = new Set<Node>();
  // Iterative DFS (deep graphs, e.g. long loops, would overflow recursion).
  const stack: [Node, boolean][] = roots.flatMap((r) => (r._node ? [[r._node, false] as [Node, boolean]] : []));
  while (stack.length) {
    const [n, done] = stack.pop()!;
    if (done) { order.push(n); continue; }
    if (seen.has(n)) continue;
    seen.add(n);
    stack.push([n, true]);
    for (const p of n.parents()) if (p._node && !seen.has(p._node)) stack.push([p._node, false]);
  }
  return order;
}

/** Where a sweep's gradients go: null leaves accumulate into .grad; otherwise they are collected. */
export interface GradientSink {
  /** Inputs whose gradient is collected (leaves by tensor, computed tensors by their node); null: accumulate into .grad. */
  readonly leaves: ReadonlySet<Tensor> | null;
  readonly nodes: ReadonlyMap<Node, readonly Tensor[]>;
}

export const ACCUMULATE: GradientSink = { leaves: null, nodes: new Map() };

export interface SweepOptions {
  readonly createGraph: boolean;
  readonly retainGraph: boolean;
  /** Free gradient intermediates as they die (off while compile() traces: compiled code plans its buffers). */
  readonly ownTemporaries: boolean;
}

/**
 * The one reverse sweep, for Tensor.backward, autograd.backward and autograd.grad. `roots` pairs each
 * output with its cotangent and whether kiln made it (an implicit 1, freed when dead). With the
 * ACCUMULATE sink, gradients reach the leaves' .grad (a hooked leaf's contributions are summed first so
 * its hooks see the whole gradient once); otherwise they are collected for the sink's inputs and only
 * the part of the graph that leads to them is visited. Gradient intermediates are freed as they die
 * (GradientOwnership) unless createGraph; what user code receives (collected gradients, what hooks
 * see) is handed over, never freed.
 */
export function sweep(roots: readonly (readonly [Tensor, Tensor, boolean])[], sink: GradientSink, opts: SweepOptions): Map<Tensor, Tensor> {
  const { createGraph, retainGraph } = opts;
  const owner = opts.ownTemporaries && !createGraph ? new GradientOwnership() : null;
  const collect = sink.leaves !== null;
  const out = new Map<Tensor, Tensor>();
  const add = (t: Tensor, g: Tensor) => {
    const prev = out.get(t);
    const sum = prev ? prev.add(g) : g;
    out.set(t, sum);
    owner?.hand(sum);
  };
  const leafSums = new Map<Tensor, Tensor>();
  const toLeaf = (t: Tensor, g: Tensor) => {
    if (!collect && !(leafHooks.get(t)?.length)) { accumulateLeaf(t, g, createGraph); return; }
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
  const order = topoOrder(roots.map(([t]) => t));
  // Collecting, only nodes from which a requested input is reachable are worth a vjp.
  const leads = new Set<Node>();
  const wanted = (t: Tensor) => (t._node ? sink.nodes.has(t._node) || leads.has(t._node) : sink.leaves!.has(t));
  if (collect) {
    for (const n of order) {
      // A freed node (its inputs dropped) cannot say where it leads: unless its own output is what is
      // asked for, visit it so that its vjp reports the freed graph.
      if (n.inputMeta.length > 0 && n.inputAt(0) === null) { if (!sink.nodes.has(n)) leads.add(n); continue; }
      for (let k = 0; k < n.inputMeta.length; k++) {
        const t = n.inputAt(k);
        if (t && t.requiresGrad && wanted(t)) { leads.add(n); break; }
      }
    }
  }
  try {
    withGradMode(createGraph, () => {
      for (const [t, g, owned] of roots) {
        if (owned) owner?.adopt(g);
        if (t._node) setGrad(t._node, g);
        else if (!collect || sink.leaves!.has(t)) toLeaf(t, g);
      }
      for (let i = order.length - 1; i >= 0; i--) {
        const node = order[i];
        const g0 = grads.get(node);
        grads.delete(node);
        if (!g0) continue;
        owner?.unhold(g0);
        const g = hasNodeHooks(node) ? handToHooks(owner, g0, (x) => runNodeHooks(node, x)) : g0;
        if (collect) for (const t of sink.nodes.get(node) ?? []) add(t, g);
        else if (node.retained) node.retained.grad = node.retained.grad ? node.retained.grad.add(g) : g;
        if (!collect || leads.has(node)) {
          node.vjp(g).forEach((gi, k) => {
            const t = node.inputAt(k);
            if (!gi || !t || !t.requiresGrad || (collect && !wanted(t))) return;
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
 * Tensor.backward: the sweep from `root` with cotangent `grad` into the leaves' .grad. `own.grad`:
 * kiln made `grad` (the implicit ones), so it is freed when dead; `own.temporaries`: free gradient
 * intermediates as they die. createGraph implies retainGraph, as in torch.
 */
export function runBackward(root: Tensor, grad: Tensor, opts: BackwardOptions = {}, own = { grad: false, temporaries: true }): void {
  const createGraph = opts.createGraph === true;
  sweep([[root, grad, own.grad]], ACCUMULATE, { createGraph, retainGraph: opts.retainGraph === true || createGraph, ownTemporaries: own.temporaries });
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

// ----- tensor hooks (Tensor.registerHook) ------------------------------------------------------------

/** A gradient hook: sees the gradient of its tensor and may return a replacement. */
export type GradHook = (grad: Tensor) => Tensor | void | undefined;

/** Hooks of leaves by tensor; of computed tensors by the node that made them. */
const leafHooks = new WeakMap<Tensor, GradHook[]>();
const nodeHooks = new WeakMap<Node, GradHook[]>();

/** Registers `hook` on `t`'s gradient; returns a handle whose remove() unregisters it. */
export function registerHook(t: Tensor, hook: GradHook): { remove(): void } {
  if (typeof hook !== 'function') throw new AutogradError('registerHook: the hook must be a function');
  if (!t.requiresGrad) throw new AutogradError(`registerHook: cannot register a hook on a tensor ${fmtShape(t.shape)} that does not require grad`);
  const map = t._node ? nodeHooks : leafHooks;
  const key = (t._node ?? t) as Tensor & Node;
  const list = map.get(key) ?? [];
  list.push(hook);
  map.set(key, list);
  return { remove: () => { const i = list.indexOf(hook); if (i >= 0) list.splice(i, 1); } };
}

function runHooks(hooks: GradHook[] | undefined, g: Tensor, meta: { shape: readonly number[] }): Tensor {
  if (!hooks) return g;
  for (const h of [...hooks]) {
    const r = h(g);
    if (r === undefined) continue;
    if (!r || typeof (r as Tensor).shape !== 'object' || !shapesEqual((r as Tensor).shape, meta.shape)) {
      throw new AutogradError(`hook: a gradient hook must return nothing or a tensor of shape ${fmtShape(meta.shape)}`);
    }
    g = r as Tensor;
  }
  return g;
}

/** Runs hooks on a gradient; what the hooks see and return belongs to user code, so backward keeps it. */
export function handToHooks(owner: GradientOwnership | null, g: Tensor, run: (g: Tensor) => Tensor): Tensor {
  owner?.hand(g);
  const r = run(g);
  if (r !== g) owner?.hand(r);
  return r;
}

/** True when hooks are registered on the tensor `n` made. */
export function hasNodeHooks(n: Node): boolean { return (nodeHooks.get(n)?.length ?? 0) > 0; }

/** The gradient of a leaf after its hooks. */
export function runLeafHooks(t: Tensor, g: Tensor): Tensor { return runHooks(leafHooks.get(t), g, t); }

/** The gradient flowing into a node (its output's gradient) after the output tensor's hooks. */
export function runNodeHooks(n: Node, g: Tensor): Tensor { return runHooks(nodeHooks.get(n), g, g); }
