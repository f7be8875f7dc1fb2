// Scheduling: a graph becomes a plan of kernel launches. How each op becomes kernel IR is
// src/lower.ts's; this module decides what to materialise and which buffers hold what. Elementwise
// chains (with broadcasts and views folded into load index arithmetic) grow as one expression until
// something needs a buffer: a graph output, a shared expensive value, an op with a kernel of its own,
// or a layout that index arithmetic cannot express (the lowering asks for its operand materialised).
// A matmul takes the elementwise ops applied to its result as an epilogue (relu(x @ W + b) is one
// kernel), also across a reshape of its result (a convolution's [N, C, H·W] to [N, C, H, W]), and reads
// a reshaped window view as its B operand in place (implicit GEMM: no im2col copy). The plan passes
// after this one (compiler/passes.ts) merge row-wise steps and free temps.
import type { DType } from '../src/core/dtype.js';
import type { Expr, Kernel, MatmulKernel, View } from '../src/core/kernel.js';
import { contiguousView, isContiguousView, localizeInputs, mapExpr } from '../src/core/kernel.js';
import { assertNever } from '../src/core/errors.js';
import { shapesEqual, sizeOf } from '../src/core/shape.js';
import { reshapeView } from '../src/core/view.js';
import { loadExpr, lowerOp } from '../src/lower.js';
import { permuteWindowed, splitOperand, windowsOf, type Windowed } from '../src/core/implicit-gemm.js';
import { OPS } from '../src/ops/index.js';
import type { Graph, GraphNode } from './graph.js';

type Buf = { readonly kind: 'buf'; readonly buf: number; readonly view: View; readonly dtype: DType };
/**
 * A value during scheduling: a buffer seen through a view, or an expression not yet materialised
 * (`ops` counts its computation; `mm` is the matmul whose result it extends, an epilogue).
 */
type Val =
  | Buf
  /**
   * `space`: the shape the expression is indexed over when it differs from `shape` by a reshape (a
   * matmul epilogue carried across a reshape of its result: both flatten to the same row-major order).
   */
  | { readonly kind: 'expr'; readonly expr: Expr; readonly shape: readonly number[]; readonly dtype: DType; readonly ops: number; readonly mm?: MatmulKernel; readonly nodes: readonly number[]; readonly space?: readonly number[] }
  /**
   * Movements of buffer `source` that a view cannot express (windows of a padded input, an im2col
   * reshape), not copied yet: `w` says what they read (compiler/implicit-gemm.ts). A matmul reads it
   * as its B operand in place; any other reader gets the movements replayed the plain way (`realize`).
   */
  | { readonly kind: 'deferred'; readonly id: number; readonly source: Buf; readonly chain: readonly number[]; readonly w: Windowed; readonly dtype: DType };

/** Loads standing for a spaced operand while an op is lowered (buffers are numbered from 0). */
const PLACEHOLDER = -1;

/** One kernel launch: buffers are numbered leaves first (graph inputs, constants, random draws), then temps. */
export interface Step {
  readonly kernel: Kernel;
  readonly inputs: readonly number[];
  /** Buffer receiving each kernel output, with its dtype and element count. */
  readonly outputs: readonly { readonly buf: number; readonly dtype: DType; readonly size: number }[];
  /** Graph nodes computed by this kernel (its fusion group). */
  readonly nodes: readonly number[];
  /** Temps no later step reads (freed after this one). */
  readonly freeAfter: readonly number[];
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

/** Schedules the kernels for a graph given each leaf's view (strides and offset matter for loads). */
export function schedule(g: Graph, leafViews: ReadonlyMap<number, View>): Plan {
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

  /** Emits a kernel (loads naming buffers) whose output 0, a value of `shape`, goes to a fresh temp. */
  const launch = (k: Kernel, shape: readonly number[], nodes: readonly number[]): Buf => {
    const { kernel, inputs } = localizeInputs(k);
    const out = nextBuf++;
    const [o] = kernel.outputs;
    steps.push({ kernel, inputs, outputs: [{ buf: out, dtype: o.dtype, size: sizeOf(shape) }], nodes: [...new Set(nodes)].sort((a, b) => a - b), freeAfter: [] });
    return { kind: 'buf', buf: out, view: contiguousView(shape), dtype: o.dtype };
  };

  /** Movement node `n` applied to buffer `x` as the plain lowering does it: a view, or a copy first. */
  const moveBuf = (n: GraphNode, x: Buf): Buf => {
    if (n.kind !== 'op') throw new Error('schedule: replaying a leaf');
    for (;;) {
      const r = lowerOp(OPS[n.op], n.attrs, [exprOf(x)], [byId.get(n.inputs[0])!], n);
      if (r.kind === 'moved' && r.expr.kind === 'load') return { kind: 'buf', buf: x.buf, view: r.expr.view, dtype: x.dtype };
      if (r.kind !== 'materialize') throw new Error(`schedule: ${n.op} replayed on a buffer lowered to ${r.kind}`);
      x = contiguous(x, n.id);
    }
  };
  /** Copies of padded (masked) sources, made once however many deferred values replay from them. */
  const sourceCopies = new Map<Buf, Buf>();

  /** A deferred value the plain way: its movements replayed on its source (copies where needed), once. */
  const realize = (v: Extract<Val, { kind: 'deferred' }>): Buf => {
    const done = vals.get(v.id);
    if (done?.kind === 'buf') return done;
    let x = v.source;
    if (x.view.mask) {
      const copy = sourceCopies.get(x) ?? contiguous(x, v.chain[0] ?? v.id);
      sourceCopies.set(x, copy);
      x = copy;
    }
    for (const id of v.chain) x = moveBuf(byId.get(id)!, x);
    vals.set(v.id, x);
    return x;
  };

  /** Emits the kernel computing `v` into a fresh temp. */
  const materialize = (v: Val): Buf => {
    if (v.kind === 'buf') return v;
    if (v.kind === 'deferred') return realize(v);
    const output = { expr: v.expr, dtype: v.dtype };
    const kernel: Kernel = v.mm ? { ...v.mm, outputs: [output] } : { kind: 'elementwise', shape: v.shape, nInputs: 0, outputs: [output] };
    return launch(kernel, v.shape, v.nodes);
  };

  /**
   * `v` in a contiguous buffer of its own (what a lowering asks for when index arithmetic cannot read
   * it); a copy is listed under `forNode`, the node that needed it (explain() names a kernel's nodes).
   */
  const contiguous = (v: Val, forNode: number): Buf => {
    if (v.kind !== 'buf') return materialize(v);
    if (isContiguousView(v.view)) throw new Error('schedule: lowering asked to copy a contiguous buffer');
    return materialize({ kind: 'expr', expr: loadExpr(v.buf, v.view, v.dtype), shape: v.view.shape, dtype: v.dtype, ops: 0, nodes: [forNode] });
  };

  const exprOf = (v: Val): Expr => {
    if (v.kind === 'deferred') throw new Error('schedule: a deferred value read as an expression');
    return v.kind === 'expr' ? v.expr : loadExpr(v.buf, v.view, v.dtype);
  };
  const opsOf = (v: Val) => (v.kind === 'expr' ? v.ops : 0);
  const nodesOf = (v: Val) => (v.kind === 'expr' ? v.nodes : []);
  const matmulOf = (v: Val) => (v.kind === 'expr' ? v.mm : undefined);
  const spaceOf = (v: Val) => (v.kind === 'expr' ? v.space : undefined);
  /** True when `n` is a matmul reading node `id` as its B operand. */
  const readsAsB = (n: GraphNode | undefined, id: number) => n?.kind === 'op' && OPS[n.op].kind === 'matmul' && n.inputs[1] === id && n.inputs[0] !== id;

  /**
   * An elementwise op over a matmul epilogue that a reshape carried into `space`: lowered with the
   * spaced operands as placeholder loads over their shapes, then every other load re-viewed over
   * `space` and the placeholders replaced by the epilogue. Null when a view does not re-view (the
   * caller copies the epilogue out first).
   */
  const lowerInSpace = (n: Extract<GraphNode, { kind: 'op' }>, ins: readonly Val[], metas: readonly GraphNode[], space: readonly number[]): Val | null => {
    const args = ins.map((x, i) => (spaceOf(x) ? loadExpr(PLACEHOLDER - i, contiguousView(n.shape), x.dtype) : exprOf(x)));
    if (ins.some((x) => spaceOf(x) && !shapesEqual((x as { shape: readonly number[] }).shape, n.shape))) return null;
    const r = lowerOp(OPS[n.op], n.attrs, args, metas, n);
    if (r.kind !== 'expr') return null;
    let ok = true;
    const expr = mapExpr(r.expr, (e) => {
      if (e.kind !== 'load') return e;
      if (e.input < 0) {
        if (!isContiguousView(e.view) || !shapesEqual(e.view.shape, n.shape) || e.view.offset !== 0) ok = false;
        return exprOf(ins[PLACEHOLDER - e.input]);
      }
      const view = e.gather ? null : reshapeView(e.view, space);
      if (!view) { ok = false; return e; }
      return { ...e, view };
    });
    if (!ok) return null;
    const mm = ins.map(matmulOf).find((m) => m !== undefined);
    return { kind: 'expr', expr, shape: n.shape, dtype: n.dtype, ops: ins.reduce((s, x) => s + opsOf(x), 1), mm, nodes: [...ins.flatMap(nodesOf), n.id], space };
  };

  /**
   * A matmul whose B is deferred: lowered with a placeholder B (so A is handled as usual), then B
   * swapped for the windows read in place. Null when they do not form a split operand.
   */
  const matmulReadingWindows = (n: Extract<GraphNode, { kind: 'op' }>, ins: Val[], metas: readonly GraphNode[]): Val | undefined => {
    const b = ins[1];
    if (b.kind !== 'deferred') return undefined;
    for (;;) {
      const r = lowerOp(OPS[n.op], n.attrs, [exprOf(ins[0]), loadExpr(PLACEHOLDER, contiguousView(metas[1].shape), b.dtype)], metas, n);
      if (r.kind === 'materialize' && !r.operands.includes(1)) { ins[0] = contiguous(ins[0], n.id); continue; }
      if (r.kind !== 'kernel' || r.kernel.kind !== 'matmul') return undefined;
      const operand = splitOperand(b.w, r.kernel.batch);
      if (!operand) return undefined;
      const mm: MatmulKernel = { ...r.kernel, b: { input: b.source.buf, ...operand } };
      return { kind: 'expr', expr: mm.outputs[0].expr, shape: n.shape, dtype: n.dtype, ops: 0, mm, nodes: [...b.chain, n.id] };
    }
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
    const ins = n.inputs.map((x) => vals.get(x)!);
    const metas = n.inputs.map((x) => byId.get(x)!);
    let v: Val | undefined;
    // A deferred value goes on through reshapes and permutes and is read in place as a matmul's B;
    // every other reader gets it realized.
    const keeps = (i: number) => (i === 1 && readsAsB(n, n.inputs[1])) || (i === 0 && (n.op === 'reshape' || n.op === 'permute'));
    ins.forEach((x, i) => { if (x.kind === 'deferred' && !keeps(i)) ins[i] = realize(x); });
    const def = OPS[n.op];
    const x0 = ins[0];
    const defer = (source: Buf, chain: readonly number[], w: Windowed | null): Val | undefined => (w ? { kind: 'deferred', id: n.id, source, chain, w, dtype: n.dtype } : undefined);
    if (n.op === 'reshape' && x0.kind === 'expr' && x0.mm) {
      // A reshape keeps the row-major order: the epilogue goes on over the matmul's own space.
      v = { ...x0, shape: n.shape, space: x0.space ?? x0.shape, nodes: [...x0.nodes, n.id] };
    } else if (x0?.kind === 'deferred') {
      const attrs = n.attrs as { order?: readonly number[] };
      const w = n.op === 'reshape' ? { ...x0.w, shape: n.shape } : permuteWindowed(x0.w, attrs.order!);
      v = defer(x0.source, [...x0.chain, n.id], w);
      if (!v) ins[0] = realize(x0);
    } else if (n.op === 'unfold' && x0.kind === 'buf' && x0.view.mask && def.kind === 'movement' && !def.view(x0.view, n.attrs as never)) {
      // Windows of a padded input: the padding becomes bounds instead of a copy.
      v = defer(x0, [n.id], windowsOf(x0.view, n.attrs as Parameters<typeof windowsOf>[1]));
    } else if (n.op === 'reshape' && x0.kind === 'buf' && !x0.view.mask && !reshapeView(x0.view, n.shape) && (consumers.get(n.id) ?? []).some((c) => readsAsB(byId.get(c), n.id))) {
      v = defer(x0, [n.id], { view: x0.view, bounds: [], shape: n.shape });
    } else if (ins[1]?.kind === 'deferred') {
      v = matmulReadingWindows(n, ins, metas);
      if (!v) ins[1] = realize(ins[1] as Extract<Val, { kind: 'deferred' }>);
    } else if (ins.some(spaceOf)) {
      const mms = new Set(ins.map(matmulOf).filter((m) => m !== undefined));
      const space = ins.map(spaceOf).find((s) => s !== undefined)!;
      if (def.kind === 'elementwise' && mms.size === 1) v = lowerInSpace(n, ins, metas, space) ?? undefined;
      if (v && v.kind === 'expr' && v.ops > KERNEL_OP_LIMIT) v = materialize(v);
      if (!v) ins.forEach((x, i) => { if (spaceOf(x)) ins[i] = materialize(x); });
    }
    while (!v) {
      const r = lowerOp(OPS[n.op], n.attrs, ins.map(exprOf), metas, n);
      switch (r.kind) {
        case 'materialize':
          for (const i of r.operands) ins[i] = contiguous(ins[i], n.id);
          break;
        case 'moved': {
          const x = ins[0];
          if (x.kind === 'buf' && r.expr.kind === 'load') v = { ...x, view: r.expr.view };
          else if (x.kind === 'expr') v = { ...x, expr: r.expr, shape: n.shape, nodes: [...x.nodes, n.id] };
          else throw new Error(`schedule: ${n.op} moved a buffer into an expression`);
          break;
        }
        case 'expr': {
          // One kernel extends one matmul: a second one joining here is materialised first.
          const mms = [...new Set(ins.map(matmulOf).filter((m) => m !== undefined))];
          if (mms.length > 1) {
            ins.forEach((x, i) => { if (matmulOf(x) !== undefined && matmulOf(x) !== mms[0]) ins[i] = materialize(x); });
            break;
          }
          const ops = ins.reduce((s, x) => s + opsOf(x), 1);
          v = { kind: 'expr', expr: r.expr, shape: n.shape, dtype: n.dtype, ops, mm: mms[0], nodes: [...ins.flatMap(nodesOf), n.id] };
          if (ops > KERNEL_OP_LIMIT) v = materialize(v);
          break;
        }
        case 'kernel': {
          const k = r.kernel;
          switch (k.kind) {
            // A matmul stays pending: the elementwise ops applied to its result join it as an epilogue.
            case 'matmul': v = { kind: 'expr', expr: k.outputs[0].expr, shape: n.shape, dtype: n.dtype, ops: 0, mm: k, nodes: [n.id] }; break;
            case 'reduce': case 'elementwise': v = launch(k, n.shape, [...ins.flatMap(nodesOf), n.id]); break;
            default: assertNever(k, 'kernel');
          }
          break;
        }
        default: assertNever(r, 'lowering');
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
  return { leaves, steps, outputs };
}

/** The free pass: each temp is freed after its last reader (leaves and outputs never are). */
export function freeTemps(plan: Plan): Plan {
  const keep = new Set(plan.outputs.map((o) => o.buf));
  const last = new Map<number, number>();
  plan.steps.forEach((s, i) => {
    s.inputs.forEach((b) => last.set(b, i));
    s.outputs.forEach((o) => { if (!last.has(o.buf)) last.set(o.buf, i); });
  });
  const free = plan.steps.map((): number[] => []);
  for (const [buf, i] of last) if (buf >= plan.leaves.length && !keep.has(buf)) free[i].push(buf);
  return { ...plan, steps: plan.steps.map((s, i) => ({ ...s, freeAfter: free[i] })) };
}
