// Row fusion, a plan pass (see PASSES in passes.ts): a reduction and the later steps that read its result only
// broadcast along its rows (another reduction over the same rows, or a row-wise elementwise step)
// become one reduce kernel with several reductions and 'full' outputs. softmax (max, sum of exp,
// normalise) and layerNorm (mean, variance, normalise) each become a single kernel whose rows are
// read from memory once.
import type { Expr, ReduceKernel, View } from '../src/core/kernel.js';
import { children, kernelExprs, localizeInputs, mapExpr } from '../src/core/kernel.js';
import { contiguousStrides, shapesEqual } from '../src/core/shape.js';
import type { Plan, Step } from './schedule.js';

type Out = ReduceKernel['outputs'][number];

/** A merged row kernel under construction, with every load naming a global buffer id. */
interface Group {
  readonly at: number;
  readonly outer: readonly number[];
  readonly inner: readonly number[];
  reductions: { op: ReduceKernel['reductions'][number]['op']; body: Expr; dtype: ReduceKernel['reductions'][number]['dtype'] }[];
  outputs: { out: Out; buf: number; size: number }[];
  /** Buffer -> index of the reduction whose per-row result it holds. */
  readonly accOf: Map<number, number>;
  nodes: number[];
}


/** True when `v` reads a per-row buffer broadcast over [...outer, ...inner] (inner may be empty: per-row scope). */
function isRowBroadcast(v: View, outer: readonly number[], inner: readonly number[]): boolean {
  if (v.mask || v.offset !== 0 || !shapesEqual(v.shape, [...outer, ...inner])) return false;
  const cs = contiguousStrides(outer);
  return v.strides.every((s, d) => (d < outer.length ? outer[d] === 1 || s === cs[d] : inner[d - outer.length] === 1 || s === 0));
}

/** Loads of a kernel's expressions rewritten to global buffer ids. */
function globalize(e: Expr, inputs: readonly number[]): Expr {
  return mapExpr(e, (x) => (x.kind === 'load' ? { ...x, input: inputs[x.input] } : x));
}

/** Replaces loads of the group's per-row buffers by acc references; null if some load is not row-broadcast. */
function toAccs(e: Expr, g: Group, accShift: number, scope: 'full' | 'outer' = 'full'): Expr | null {
  let ok = true;
  const r = mapExpr(e, (x) => {
    switch (x.kind) {
      case 'load': {
        const acc = g.accOf.get(x.input);
        if (acc === undefined) return x;
        if (x.gather || !isRowBroadcast(x.view, g.outer, scope === 'full' ? g.inner : [])) ok = false;
        return { kind: 'acc', index: acc, dtype: x.dtype };
      }
      case 'acc': return { ...x, index: x.index + accShift };
      default: return x;
    }
  });
  return ok ? r : null;
}

/** True when `e` loads one of `bufs` (gather indices aside). */
function readsAny(e: Expr, bufs: ReadonlyMap<number, number>): boolean {
  const seen = new Set<Expr>();
  const visit = (x: Expr): boolean => {
    if (seen.has(x)) return false;
    seen.add(x);
    return x.kind === 'load' ? bufs.has(x.input) : children(x).some(visit);
  };
  return visit(e);
}

/** The row-fusion pass: merges row-wise steps into earlier reductions (graph outputs stay materialised). */
export function fuseRowSteps(plan: Plan): Plan {
  return { ...plan, steps: fuseRows(plan.steps, new Set(plan.outputs.map((o) => o.buf))) };
}

function fuseRows(steps: readonly Step[], keep: ReadonlySet<number>): Step[] {
  const out: (Step | null)[] = [...steps];
  const producedAt = new Map<number, number>();
  steps.forEach((s, i) => s.outputs.forEach((o) => producedAt.set(o.buf, i)));
  for (let i = 0; i < out.length; i++) {
    const a = out[i];
    if (!a || a.kernel.kind !== 'reduce') continue;
    const k = a.kernel;
    const g: Group = {
      at: i, outer: k.outer, inner: k.inner,
      reductions: k.reductions.map((r) => ({ ...r, body: globalize(r.body, a.inputs) })),
      outputs: k.outputs.map((o, j) => ({ out: { ...o, expr: globalize(o.expr, a.inputs) }, buf: a.outputs[j].buf, size: a.outputs[j].size })),
      accOf: new Map(), nodes: [...a.nodes],
    };
    k.outputs.forEach((o, j) => { if (o.scope === 'outer' && o.expr.kind === 'acc' && !o.view) g.accOf.set(a.outputs[j].buf, o.expr.index); });
    if (g.accOf.size === 0) continue;
    let merged = false;
    for (let j = i + 1; j < out.length; j++) {
      const b = out[j];
      if (!b) continue;
      const exprs = kernelExprs(b.kernel).map((e) => globalize(e, b.inputs));
      if (!exprs.some((e) => readsAny(e, g.accOf))) continue;
      // Every other input must already exist where the group's kernel runs.
      const early = b.inputs.every((buf) => g.accOf.has(buf) || (producedAt.get(buf) ?? -1) < i);
      if (!early) continue;
      const bk = b.kernel;
      if (bk.kind === 'reduce' && shapesEqual(bk.outer, g.outer) && shapesEqual(bk.inner, g.inner) && !bk.outputs.some((o) => o.view)) {
        // b's own accs move past the group's reductions; loads of the group's results become its accs.
        const shift = g.reductions.length;
        const bodies = bk.reductions.map((_, n) => toAccs(exprs[n], g, shift));
        const outs = bk.outputs.map((_, n) => toAccs(exprs[bk.reductions.length + n], g, shift));
        if (bodies.some((x) => x === null) || outs.some((x) => x === null)) continue;
        g.reductions.push(...bk.reductions.map((r, n) => ({ ...r, body: bodies[n]! })));
        bk.outputs.forEach((o, n) => {
          const expr = outs[n]!;
          g.outputs.push({ out: { ...o, expr }, buf: b.outputs[n].buf, size: b.outputs[n].size });
          if (o.scope === 'outer' && expr.kind === 'acc') g.accOf.set(b.outputs[n].buf, expr.index);
        });
      } else if (bk.kind === 'elementwise' && shapesEqual(bk.shape, [...g.outer, ...g.inner]) && g.inner.length > 0 && !bk.outputs.some((o) => o.view)) {
        const outs = exprs.map((e) => toAccs(e, g, 0));
        if (outs.some((x) => x === null)) continue;
        bk.outputs.forEach((o, n) => g.outputs.push({ out: { expr: outs[n]!, dtype: o.dtype, scope: 'full' }, buf: b.outputs[n].buf, size: b.outputs[n].size }));
      } else if (bk.kind === 'elementwise' && shapesEqual(bk.shape, g.outer) && !bk.outputs.some((o) => o.view)) {
        // An epilogue over the reduced shape (mean's division, a loss's negation) is a per-row output.
        const outs = exprs.map((e) => toAccs(e, g, 0, 'outer'));
        if (outs.some((x) => x === null)) continue;
        bk.outputs.forEach((o, n) => g.outputs.push({ out: { expr: outs[n]!, dtype: o.dtype, scope: 'outer' }, buf: b.outputs[n].buf, size: b.outputs[n].size }));
      } else continue;
      g.nodes.push(...b.nodes);
      b.outputs.forEach((o) => producedAt.set(o.buf, i));
      out[j] = null;
      merged = true;
    }
    if (merged) out[i] = emit(g, out, keep);
  }
  return out.filter((s): s is Step => s !== null);
}

/** Builds the merged step: outputs read by later steps (or graph outputs) stay, the rest become accs only. */
function emit(g: Group, steps: readonly (Step | null)[], keep: ReadonlySet<number>): Step {
  const readLater = new Set<number>();
  steps.forEach((s, idx) => { if (s && idx > g.at) s.inputs.forEach((b) => readLater.add(b)); });
  const outputs = g.outputs.filter((o) => o.out.scope === 'full' || keep.has(o.buf) || readLater.has(o.buf));
  const { kernel, inputs } = localizeInputs({
    kind: 'reduce', outer: g.outer, inner: g.inner, nInputs: 0,
    reductions: g.reductions, outputs: outputs.map((o) => o.out),
  });
  return {
    kernel, inputs,
    outputs: outputs.map((o) => ({ buf: o.buf, dtype: o.out.dtype, size: o.size })),
    nodes: [...new Set(g.nodes)].sort((a, b) => a - b), freeAfter: [],
  };
}
