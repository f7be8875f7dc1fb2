// bench: what one compiled call does, counted from the programs it ran: kernels, flops and bytes
// (kernelCost over every plan step), plus plan and kernel-build times seen on the way.
import { kernelCost } from '../src/core/kernel.js';
import { typedArrayFor, type DType } from '../src/core/dtype.js';
import { observePrograms, type Program } from '../compiler/execute.js';

/** Work of one call: summed over the plan steps of every program it ran. */
export interface CallCost {
  readonly programs: number;
  readonly kernels: number;
  readonly flops: number;
  readonly bytes: number;
  /** Programs that ran op by op because the backend refused one of their kernels (a graph break). */
  readonly interpreted: number;
}

/** Bytes per element as stored (typedArrayFor: bool is a Uint8Array). */
const elemBytes = (d: DType): number => typedArrayFor(d, 0).BYTES_PER_ELEMENT;

/**
 * Flops and bytes of one program: each step reads each of its input buffers once (compulsory
 * traffic: a broadcast bias counts its own size, not the size it is broadcast to) and writes its output.
 */
export function programCost(p: Program): { kernels: number; flops: number; bytes: number; interpreted: boolean } {
  const nodes = new Map(p.optimized.nodes.map((n) => [n.id, n]));
  const bufBytes = new Map<number, number>();
  p.plan.leaves.forEach((id, buf) => {
    const n = nodes.get(id)!;
    bufBytes.set(buf, n.shape.reduce((a, b) => a * b, 1) * elemBytes(n.dtype));
  });
  let flops = 0, bytes = 0;
  for (const s of p.plan.steps) {
    const c = kernelCost(s.kernel, s.inputs.map((b) => bufBytes.get(b) ?? 0));
    for (const o of s.outputs) bufBytes.set(o.buf, o.size * elemBytes(o.dtype));
    flops += c.flops;
    bytes += c.bytes;
  }
  // NOTE: a program with a kernel its backend refused runs op by op (p.unsupported): the figures are
  // those of the plan it could not run, and the call is flagged.
  return { kernels: p.plan.steps.length, flops, bytes, interpreted: !!p.unsupported };
}

/** Timings seen while programs were planned and first run. */
export interface CompileSeen {
  planMs: number;
  buildMs: number;
  /** Time in the runs themselves (kernel builds included). */
  runMs: number;
}

/**
 * Runs `body` with an observer: returns the cost of the programs it ran, and plan/build timings.
 * The body is called once (sync or async).
 */
export async function observeCall(body: () => unknown): Promise<{ cost: CallCost; seen: CompileSeen }> {
  const ran: Program[] = [];
  const seen: CompileSeen = { planMs: 0, buildMs: 0, runMs: 0 };
  const stop = observePrograms({
    planned: (_g, _p, info) => { if (!info.cached) seen.planMs += info.ms; },
    ran: (p, info) => { ran.push(p); seen.buildMs += info.buildMs; seen.runMs += info.ms; },
  });
  try { await body(); } finally { stop(); }
  let kernels = 0, flops = 0, bytes = 0, interpreted = 0;
  for (const p of ran) {
    const c = programCost(p);
    kernels += c.kernels; flops += c.flops; bytes += c.bytes; interpreted += c.interpreted ? 1 : 0;
  }
  return { cost: { programs: ran.length, kernels, flops, bytes, interpreted }, seen };
}
