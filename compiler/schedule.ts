// Fusion and scheduling: a graph becomes a list of kernels. Elementwise chains (with broadcasts and
// views folded into load index arithmetic) grow as one expression until something needs a buffer:
// a graph output, a reduction or matmul operand, a shared expensive value, a layout that index
// arithmetic cannot express. Reductions take their input expression as a prologue; a matmul takes
// the elementwise ops applied to its result as an epilogue (relu(x @ W + b) is one kernel).
import type { DType } from '../src/core/dtype.js';
import type { Expr, Kernel, View } from '../src/core/kernel.js';
import { contiguousView, someExpr } from '../src/core/kernel.js';
import { reduction } from '../src/core/reductions.js';
import { shapesEqual, sizeOf } from '../src/core/shape.js';
import { expandView, permuteView, reshapeView } from '../src/core/view.js';
import { castExpr, elementwiseExpr, loadExpr, matmulKernel, reduceSplit } from '../src/lower.js';
import { OPS } from '../src/ops/index.js';
import type { ElementwiseDef, GatherAttrs, MovementDef } from '../src/ops/types.js';
import type { Graph, GraphNode } from './graph.js';
import { fuseRows } from './rows.js';

/** A value during planning: a buffer seen through a view, or an expression not yet materialised. */
type Val =
  | { readonly kind: 'buf'; readonly buf: number; readonly view: View; readonly dtype: DType }
  | { readonly kind: 'expr'; readonly expr: Expr; readonly shape: readonly number[]; readonly dtype: DType; readonly ops: number; readonly mm?: PendingMatmul; readonly nodes: readonly number[] };

interface PendingMatmul { readonly a: Extract<Val, { kind: 'buf' }>; readonly b: Extract<Val, { kind: 'buf' }>; readonly shape: readonly number[] }

/** One kernel launch: buffers are numbered leaves first (graph inputs, constants, random draws), then temps. */
export interface Step {
  readonly kernel: Kernel;
  readonly inputs: readonly number[];
  /** Buffer receiving each kernel output, with its dtype and element count. */
  readonly outputs: readonly { readonly buf: number; readonly dtype: DType; readonly size: number }[];
  /** Graph nodes computed by this kernel (its fusion group). */
  readonly nodes: readonly number[];
  /** Temps no later step reads (freed after this one). */
  freeAfter: number[];
}

export interface Plan {
  /** Graph node id of each leaf buffer, in buffer order. */
  readonly leaves: readonly number[];
  readonly steps: readonly Step[];
  readonly outputs: readonly { readonly buf: number; readonly view: View; readonly dtype: DType }[];
}

/** Expressions bigger than this are materialised rather than recomputed by each consumer. */
const SHARE_LIMIT = 3;
/** Expressions are cut into separate kernels beyond this many ops. */
const KERNEL_OP_LIMIT = 96;

export function mapLoads(e: Expr, f: (l: Extract<Expr, { kind: 'load' }>) => Expr, memo = new Map<Expr, Expr>()): Expr {
  const hit = memo.get(e);
  if (hit) return hit;
  let out: Expr;
  switch (e.kind) {
    case 'load': out = f(e); break;
    case 'op': out = { ...e, args: e.args.map((a) => mapLoads(a, f, memo)) }; break;
    case 'cast': out = { ...e, x: mapLoads(e.x, f, memo) }; break;
    default: out = e;
  }
  memo.set(e, out);
  return out;
}

function hasGather(e: Expr): boolean {
  return someExpr(e, (x) => x.kind === 'load' && x.gather !== undefined);
}

/** Plans the kernels for a graph given each leaf's view (strides and offset matter for loads). */
export function planGraph(g: Graph, leafViews: ReadonlyMap<number, View>): Plan {
  const leaves: number[] = [];
  const steps: Step[] = [];
  const vals = new Map<number, Val>();
  const uses = new Map<number, number>();
  const consumers = new Map<number, number[]>();
  for (const n of g.nodes) if (n.kind === 'op') n.inputs.forEach((x) => { uses.set(x, (uses.get(x) ?? 0) + 1); consumers.set(x, [...(consumers.get(x) ?? []), n.id]); });
  g.outputs.forEach((o) => uses.set(o, (uses.get(o) ?? 0) + 2));
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  /**
   * True when every reader of `id` is elementwise and their single-reader chains meet in one node
   * (relu's where(x > 0, x, 0), silu's x·sigmoid(x)): the readers end up in one kernel, so the
   * value can stay an expression there instead of being materialised.
   */
  const meetsLocally = (id: number): boolean => {
    const cs = consumers.get(id) ?? [];
    if (g.outputs.includes(id) || cs.length < 2) return false;
    let common = null as Set<number> | null;
    for (const c0 of cs) {
      const chain = new Set<number>();
      let c: number | undefined = c0;
      for (let step = 0; c !== undefined && step < 8; step++) {
        const node = byId.get(c)!;
        if (node.kind !== 'op' || OPS[node.op].kind !== 'elementwise') break;
        chain.add(c);
        const next: number[] = consumers.get(c) ?? [];
        c = next.length === 1 && !g.outputs.includes(c) ? next[0] : undefined;
      }
      const prev: Set<number> | null = common;
      common = prev ? new Set([...prev].filter((x) => chain.has(x))) : chain;
    }
    return common !== null && common.size > 0;
  };
  let nextBuf = 0;
  const leafBufs = new Map<number, number>();
  // Scalar constants are inlined into expressions; every other non-op node is a leaf buffer.
  const inlined = (n: GraphNode) => n.kind === 'const' && n.scalar !== undefined && n.shape.length === 0;
  for (const n of g.nodes) if (n.kind !== 'op' && !inlined(n)) { leafBufs.set(n.id, nextBuf++); leaves.push(n.id); }

  /** Emits a kernel computing `v` into a fresh temp. */
  const materialize = (v: Val): Extract<Val, { kind: 'buf' }> => {
    if (v.kind === 'buf') return v;
    const bufs: number[] = [];
    const local = (b: number) => { let i = bufs.indexOf(b); if (i < 0) { i = bufs.length; bufs.push(b); } return i; };
    const remap = (e: Expr): Expr => {
      const memo = new Map<Expr, Expr>();
      const go = (x: Expr): Expr => mapLoads(x, (l) => ({ ...l, input: local(l.input), gather: l.gather ? { ...l.gather, index: go(l.gather.index) } : undefined }), memo);
      return go(e);
    };
    let kernel: Kernel;
    if (v.mm) {
      const a = local(v.mm.a.buf), b = local(v.mm.b.buf);
      const expr = remap(v.expr);
      kernel = matmulKernel(v.mm.a.view, v.mm.b.view, v, { a, b, count: bufs.length }, expr);
    } else {
      const expr = remap(v.expr);
      kernel = { kind: 'elementwise', shape: v.shape, nInputs: bufs.length, outputs: [{ expr, dtype: v.dtype }] };
    }
    const out = nextBuf++;
    steps.push({ kernel, inputs: bufs, outputs: [{ buf: out, dtype: v.dtype, size: sizeOf(v.shape) }], nodes: [...new Set(v.nodes)].sort((a, b) => a - b), freeAfter: [] });
    return { kind: 'buf', buf: out, view: contiguousView(v.shape), dtype: v.dtype };
  };

  /** The value as an expression over `shape` (broadcasting leaf views). */
  const asExpr = (v: Val, shape: readonly number[]): Extract<Val, { kind: 'expr' }> => {
    if (v.kind === 'buf') return { kind: 'expr', expr: loadExpr(v.buf, expandView(v.view, shape), v.dtype), shape, dtype: v.dtype, ops: 0, nodes: [] };
    if (shapesEqual(v.shape, shape)) return v;
    // A gathering load's index is laid out over the gather's own shape: re-viewing only the load would
    // pair it with the wrong index rows, so a broadcast gather reads a materialised buffer instead.
    if (hasGather(v.expr)) return asExpr(materialize(v), shape);
    return { ...v, shape, expr: mapLoads(v.expr, (l) => ({ ...l, view: expandView(l.view, shape) })) };
  };

  const plainBuf = (v: Val): Extract<Val, { kind: 'buf' }> => {
    const b = materialize(v);
    return b.view.mask ? materialize(asExpr(b, b.view.shape)) : b;
  };

  for (const n of g.nodes) {
    if (n.kind === 'const' && inlined(n)) {
      vals.set(n.id, { kind: 'expr', expr: { kind: 'const', value: n.scalar!, dtype: n.dtype }, shape: [], dtype: n.dtype, ops: 0, nodes: [] });
      continue;
    }
    if (n.kind !== 'op') {
      const view = leafViews.get(n.id) ?? contiguousView(n.shape);
      vals.set(n.id, { kind: 'buf', buf: leafBufs.get(n.id)!, view, dtype: n.dtype });
      continue;
    }
    const def = OPS[n.op];
    const ins = n.inputs.map((x) => vals.get(x)!);
    const metas = n.inputs.map((x) => g.nodes.find((m) => m.id === x)!) as GraphNode[];
    let v: Val;
    switch (def.kind) {
      case 'elementwise': {
        let mm: PendingMatmul | undefined;
        const args = ins.map((iv) => {
          let x = iv;
          if (x.kind === 'expr' && x.mm && ((mm && mm !== x.mm) || !shapesEqual(x.shape, n.shape))) x = materialize(x);
          const e = asExpr(x, n.shape);
          if (e.mm) mm = e.mm;
          return e;
        });
        const expr = elementwiseExpr(def as ElementwiseDef<any>, n.attrs, args.map((a) => a.expr), metas, n);
        const ops = args.reduce((s, a) => s + a.ops, 1);
        v = { kind: 'expr', expr, shape: n.shape, dtype: n.dtype, ops, mm, nodes: [...args.flatMap((a) => a.nodes), n.id] };
        if (ops > KERNEL_OP_LIMIT) v = materialize(v);
        break;
      }
      case 'movement': {
        v = moveVal(ins[0], def, n.attrs, materialize, asExpr);
        if (v.kind === 'expr') v = { ...v, nodes: [...v.nodes, n.id] };
        break;
      }
      case 'reduce': {
        let x = ins[0];
        if (x.kind === 'expr' && (x.mm || hasGather(x.expr))) x = materialize(x);
        const { order, outer, inner } = reduceSplit(metas[0].shape, (n.attrs as { dims: number[] }).dims);
        const xe = asExpr(x, metas[0].shape);
        const body0 = mapLoads(xe.expr, (l) => ({ ...l, view: permuteView(l.view, order) }));
        const body = reduction(def.reduce).arg ? body0 : castExpr(body0, n.dtype);
        const bufs: number[] = [];
        const local = (b: number) => { let i = bufs.indexOf(b); if (i < 0) { i = bufs.length; bufs.push(b); } return i; };
        const rb = mapLoads(body, (l) => ({ ...l, input: local(l.input) }));
        const kernel: Kernel = {
          kind: 'reduce', outer, inner, nInputs: bufs.length,
          reductions: [{ op: def.reduce, body: rb, dtype: n.dtype }],
          outputs: [{ expr: { kind: 'acc', index: 0, dtype: n.dtype }, dtype: n.dtype, scope: 'outer' }],
        };
        const out = nextBuf++;
        steps.push({ kernel, inputs: bufs, outputs: [{ buf: out, dtype: n.dtype, size: sizeOf(outer) }], nodes: [...new Set([...xe.nodes, n.id])].sort((a, b) => a - b), freeAfter: [] });
        v = { kind: 'buf', buf: out, view: contiguousView(n.shape), dtype: n.dtype };
        break;
      }
      case 'matmul': {
        const a = plainBuf(ins[0]), b = plainBuf(ins[1]);
        v = { kind: 'expr', expr: { kind: 'acc', index: 0, dtype: 'float32' }, shape: n.shape, dtype: n.dtype, ops: 0, mm: { a, b, shape: n.shape }, nodes: [n.id] };
        if (n.dtype !== 'float32') v = { ...v, expr: castExpr(v.expr, n.dtype) };
        break;
      }
      case 'gather': {
        const { axis, op } = n.attrs as GatherAttrs;
        const x = plainBuf(ins[0]);
        let idx = ins[1];
        if (idx.kind === 'expr' && (idx.mm || hasGather(idx.expr))) idx = materialize(idx);
        let ie = asExpr(idx, metas[1].shape);
        if (def.select) {
          // A 1-D index runs along `axis` of the output: lay each of its loads out that way.
          const lay = (view: View) => {
            const r = reshapeView(view, n.shape.map((d, i) => (i === axis ? d : 1)));
            return r && expandView(r, n.shape);
          };
          let ok = true;
          const laid = mapLoads(ie.expr, (l) => { const lv = lay(l.view); if (!lv) ok = false; return lv ? { ...l, view: lv } : l; });
          if (!ok) {
            const b = materialize(ie);
            ie = asExpr({ ...b, view: lay(b.view)! }, n.shape);
          } else ie = { ...ie, expr: laid, shape: n.shape };
        }
        const view: View = { shape: n.shape, strides: n.shape.map((_, d) => x.view.strides[d] ?? 0), offset: x.view.offset };
        const site = { size: metas[0].shape[axis] ?? 1, op: op ?? def.name };
        const expr: Expr = { kind: 'load', input: x.buf, view, dtype: n.dtype, gather: { axis, index: ie.expr, ...site } };
        v = { kind: 'expr', expr, shape: n.shape, dtype: n.dtype, ops: ie.ops + 1, nodes: [...ie.nodes, n.id] };
        break;
      }
    }
    // A value read more than once is computed once unless it is trivially cheap.
    if (v.kind === 'expr' && (uses.get(n.id) ?? 0) > 1 && (v.ops > SHARE_LIMIT || v.mm) && !meetsLocally(n.id)) v = materialize(v);
    vals.set(n.id, v);
  }

  const outputs = g.outputs.map((o) => {
    const b = materialize(vals.get(o)!);
    return { buf: b.buf, view: b.view, dtype: b.dtype };
  });
  const fused = fuseRows(steps, new Set(outputs.map((o) => o.buf)));
  // Free each temp after its last reader (outputs are never freed).
  const keep = new Set(outputs.map((o) => o.buf));
  const last = new Map<number, number>();
  fused.forEach((s, i) => {
    s.inputs.forEach((b) => last.set(b, i));
    s.outputs.forEach((o) => { if (!last.has(o.buf)) last.set(o.buf, i); });
  });
  for (const [buf, i] of last) if (buf >= leaves.length && !keep.has(buf)) fused[i].freeAfter.push(buf);
  return { leaves, steps: fused, outputs };
}

/** A movement op on a value: index arithmetic on every load when possible, else a copy first. */
function moveVal(
  v: Val, def: MovementDef<any>, attrs: unknown,
  materialize: (v: Val) => Extract<Val, { kind: 'buf' }>,
  asExpr: (v: Val, shape: readonly number[]) => Extract<Val, { kind: 'expr' }>,
): Val {
  if (v.kind === 'buf') {
    const view = def.view(v.view, attrs);
    if (view) return { ...v, view };
    const copy = materialize(asExpr(v, v.view.shape));
    return { ...copy, view: def.view(copy.view, attrs)! };
  }
  if (!v.mm && !hasGather(v.expr) && def.name !== 'pad') {
    let ok = true;
    const expr = mapLoads(v.expr, (l) => {
      const nv = def.view(l.view, attrs);
      if (!nv) ok = false;
      return nv ? { ...l, view: nv } : l;
    });
    // An expression of constants alone has no loads to move: it is the same at every index.
    if (ok) return { ...v, expr, shape: def.infer([{ shape: v.shape, dtype: v.dtype }], attrs as never).shape };
  }
  const b = materialize(v);
  return moveVal(b, def, attrs, materialize, asExpr);
}
