// Control flow, unrolled on the host: If picks a branch by its (host) condition; Loop and Scan run
// their body graph once per iteration. With conditions and trip counts known on the host the whole
// model traces into one graph; a condition computed from tensor values is read (a graph break).
import type { GraphProto } from 'onnx-buf';
import * as F from '../../functional.js';
import { Tensor } from '../../tensor.js';
import { ElemType, HostTensor } from '../host.js';
import { hostConcat, hostReshape } from '../host-ops.js';
import { register, type OpContext, type Value } from '../registry.js';
import { normAxis } from './util.js';

/** Iterations past this are taken as a runaway loop (an error, never a hang). */
const MAX_ITERATIONS = 1_000_000;

const truthy = (ctx: OpContext, v: Value, what: string): boolean => {
  const h = v instanceof HostTensor ? v : HostTensor.fromTensor(v);
  return h.item(what) !== 0;
};

register('If', {
  since: 1, hostInputs: [0], noFold: true,
  run: (ctx) => ctx.runGraph(ctx.attrs.graph(ctx.host(0).item('If condition') ? 'then_branch' : 'else_branch'), new Map()),
});

/** Stacks per-iteration values along a new axis (host values stay on the host). */
function stackValues(ctx: OpContext, vs: readonly Value[], axis: number, body: GraphProto, k: number): Value {
  if (vs.length === 0) {
    // No iteration ran: an empty stack with the element shape the body declares (when static).
    const t = body.output[k]?.type?.value;
    const dims = t?.case === 'tensorType' && t.value.shape ? t.value.shape.dim.map((d) => (d.value.case === 'dimValue' ? Number(d.value.value) : 0)) : [];
    const type = t?.case === 'tensorType' ? t.value.elemType : ElemType.FLOAT;
    return new HostTensor(type, [0, ...dims], []);
  }
  if (vs.every((v) => v instanceof HostTensor) && axis === 0) {
    const hs = vs as HostTensor[];
    return hostConcat(hs.map((h) => hostReshape(h, [1, ...h.shape])), 0);
  }
  return F.stack(vs.map((v) => (v instanceof Tensor ? v : v.toTensor(ctx.backend))), axis);
}

register('Loop', {
  since: 1, hostInputs: [0, 1], noFold: true,
  run: (ctx) => {
    const body = ctx.attrs.graph('body');
    const trips = ctx.has(0) ? ctx.host(0).item('Loop trip count') : Infinity;
    let cond = ctx.has(1) ? ctx.host(1).item('Loop condition') !== 0 : true;
    let carried: Value[] = Array.from({ length: ctx.inputCount - 2 }, (_, i) => ctx.value(i + 2));
    const scans: Value[][] = Array.from({ length: body.output.length - 1 - carried.length }, () => []);
    for (let i = 0; i < trips && cond; i++) {
      if (i >= MAX_ITERATIONS) ctx.fail(`ran ${MAX_ITERATIONS} iterations without its condition turning false`);
      const bind = new Map<string, Value>();
      if (body.input[0]?.name) bind.set(body.input[0].name, HostTensor.scalar(ElemType.INT64, i));
      if (body.input[1]?.name) bind.set(body.input[1].name, HostTensor.scalar(ElemType.BOOL, cond ? 1 : 0));
      carried.forEach((v, k) => bind.set(body.input[k + 2].name, v));
      const outs = ctx.runGraph(body, bind);
      cond = truthy(ctx, outs[0], 'Loop body condition');
      carried = outs.slice(1, 1 + carried.length);
      outs.slice(1 + carried.length).forEach((v, k) => scans[k].push(v));
    }
    return [...carried, ...scans.map((vs, k) => stackValues(ctx, vs, 0, body, 1 + carried.length + k))];
  },
});

/** Runs a Scan body over the scan inputs (each sliced along its axis) with the given state. */
function runScan(ctx: OpContext, body: GraphProto, initial: readonly Value[], xs: readonly Tensor[], inAxes: readonly number[], inDirs: readonly number[], outAxes: readonly number[], outDirs: readonly number[]): Value[] {
  const n = initial.length, m = xs.length, k = body.output.length - n;
  const axes = xs.map((x, j) => normAxis('Scan', inAxes[j] ?? 0, x.ndim));
  const steps = m ? xs[0].shape[axes[0]] : 0;
  let state: Value[] = [...initial];
  const outs: Value[][] = Array.from({ length: k }, () => []);
  for (let t = 0; t < steps; t++) {
    const bind = new Map<string, Value>();
    state.forEach((v, i) => bind.set(body.input[i].name, v));
    xs.forEach((x, j) => bind.set(body.input[n + j].name, x.narrow(axes[j], inDirs[j] ? steps - 1 - t : t, 1).squeeze(axes[j])));
    const r = ctx.runGraph(body, bind);
    state = r.slice(0, n);
    r.slice(n).forEach((v, j) => outs[j].push(v));
  }
  return [...state, ...outs.map((vs, j) => {
    const ordered = outDirs[j] ? [...vs].reverse() : vs;
    const first = ordered[0];
    const axis = first ? normAxis('Scan', outAxes[j] ?? 0, first.shape.length + 1) : 0;
    return stackValues(ctx, ordered, axis, body, n + j);
  })];
}

register('Scan', {
  // Scan-8: an optional sequence_lens first; every input has a batch dim 0 and scans along dim 1.
  // The body runs per batch element as in Scan-9 and the results are stacked over the batch.
  since: 8, noFold: true,
  run: (ctx) => {
    const body = ctx.attrs.graph('body');
    const m = ctx.attrs.int('num_scan_inputs');
    const n = ctx.inputCount - 1 - m;
    const dirs = ctx.attrs.ints('directions', Array.from({ length: m }, () => 0));
    const all = Array.from({ length: n + m }, (_, i) => ctx.tensor(1 + i));
    const batch = all[0]?.shape[0] ?? 0;
    if (all.some((x) => x.ndim === 0 || x.shape[0] !== batch)) ctx.fail(`every input needs the same batch dim 0, got ${all.map((x) => `[${x.shape.join(',')}]`).join(' ')}`);
    const steps = m ? all[n].shape[1] : 0;
    if (ctx.has(0) && ctx.host(0).values().some((l) => l !== steps)) ctx.unsupported(`sequence_lens shorter than the scanned length ${steps}`);
    const perBatch: Value[][] = [];
    for (let b = 0; b < batch; b++) {
      const pick = (x: Tensor) => x.narrow(0, b, 1).squeeze(0);
      perBatch.push(runScan(ctx, body, all.slice(0, n).map(pick), all.slice(n).map(pick), Array.from({ length: m }, () => 0), dirs, [], []));
    }
    return body.output.map((_, j) => stackValues(ctx, perBatch.map((r) => r[j]), 0, body, j));
  },
}, {
  since: 9, noFold: true,
  run: (ctx) => {
    const body = ctx.attrs.graph('body');
    const m = ctx.attrs.int('num_scan_inputs');
    const n = ctx.inputCount - m;
    const k = body.output.length - n;
    const xs = Array.from({ length: m }, (_, j) => ctx.tensor(n + j));
    return runScan(ctx, body, Array.from({ length: n }, (_, i) => ctx.value(i)),
      xs, ctx.attrs.ints('scan_input_axes', Array.from({ length: m }, () => 0)), ctx.attrs.ints('scan_input_directions', Array.from({ length: m }, () => 0)),
      ctx.attrs.ints('scan_output_axes', Array.from({ length: k }, () => 0)), ctx.attrs.ints('scan_output_directions', Array.from({ length: k }, () => 0)));
  },
});
