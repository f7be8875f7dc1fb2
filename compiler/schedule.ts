// Scheduling: a graph becomes a plan of kernel launches. How each op becomes kernel IR is
// src/lower.ts's; this module decides what to materialise and which buffers hold what. Elementwise
// chains (with broadcasts and views folded into load index arithmetic) grow as one expression until
// something needs a buffer: a graph output, a shared expensive value, an op with a kernel of its own,
// or a layout that index arithmetic cannot express (the lowering asks for its operand materialised).
// A matmul takes the elementwise ops applied to its result as an epilogue (relu(x @ W + b) is one
// kernel); the plan passes after this one (compiler/passes.ts) merge row-wise steps and free temps.
import type { DType } from '../src/core/dtype.js';
import type { Expr, Kernel, MatmulKernel, View } from '../src/core/kernel.js';
import { contiguousView, isContiguousView, localizeInputs } from '../src/core/kernel.js';
import { assertNever } from '../src/core/errors.js';
import { sizeOf } from '../src/core/shape.js';
import { loadExpr, lowerOp } from '../src/lower.js';
import { OPS } from '../src/ops/index.js';
import type { Graph, GraphNode } from './graph.js';

type Buf = { readonly kind: 'buf'; readonly buf: number; readonly view: View; readonly dtype: DType };
/**
 * A value during scheduling: a buffer seen through a view, or an expression not yet materialised
 * (`ops` counts its computation; `mm` is the matmul whose result it extends, an epilogue).
 */
type Val =
  | Buf
  | { readonly kind: 'expr'; readonly expr: Expr; readonly shape: readonly number[]; readonly dtype: DType; readonly ops: number; readonly mm?: MatmulKernel; readonly nodes: readonly number[] };

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

  /** Emits the kernel computing `v` into a fresh temp. */
  const materialize = (v: Val): Buf => {
    if (v.kind === 'buf') return v;
    const output = { expr: v.expr, dtype: v.dtype };
    const kernel: Kernel = v.mm ? { ...v.mm, outputs: [output] } : { kind: 'elementwise', shape: v.shape, nInputs: 0, outputs: [output] };
    return launch(kernel, v.shape, v.nodes);
  };

  /** `v` in a contiguous buffer of its own (what a lowering asks for when index arithmetic cannot read it). */
  const contiguous = (v: Val): Buf => {
    if (v.kind === 'expr') return materialize(v);
    if (isContiguousView(v.view)) throw new Error('schedule: lowering asked to copy a contiguous buffer');
    return materialize({ kind: 'expr', expr: loadExpr(v.buf, v.view, v.dtype), shape: v.view.shape, dtype: v.dtype, ops: 0, nodes: [] });
  };

  const exprOf = (v: Val): Expr => (v.kind === 'buf' ? loadExpr(v.buf, v.view, v.dtype) : v.expr);
  const opsOf = (v: Val) => (v.kind === 'buf' ? 0 : v.ops);
  const nodesOf = (v: Val) => (v.kind === 'buf' ? [] : v.nodes);
  const matmulOf = (v: Val) => (v.kind === 'buf' ? undefined : v.mm);

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
    while (!v) {
      const r = lowerOp(OPS[n.op], n.attrs, ins.map(exprOf), metas, n);
      switch (r.kind) {
        case 'materialize':
          for (const i of r.operands) ins[i] = contiguous(ins[i]);
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
