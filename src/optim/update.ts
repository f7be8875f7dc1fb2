// What an optimizer's update works with: the per-parameter context, its temporaries, 0-d scalars read
// and written in place, and the steps torch's optimizers share (maximize, L2 weight decay, the step
// count). Eager updates may branch on JS values; traced ones read every changeable value from tensors.
import { getBackend } from '../core/backend.js';
import { full, typedOf } from '../creation.js';
import { activeTracer, type Tracer } from '../dispatch.js';
import type { Tensor } from '../tensor.js';
import type { OptionValue } from './options.js';

/** What an update step sees for one parameter. */
export interface UpdateContext {
  readonly p: Tensor;
  readonly grad: Tensor;
  /** This parameter's state tensors (update them in place). */
  readonly state: Record<string, Tensor>;
  /** The group's scalars as 0-d tensors on the parameter's backend. */
  readonly s: Readonly<Record<string, Tensor>>;
  /** The group's options as JS values (what the eager path may branch on). */
  readonly v: Readonly<Record<string, OptionValue>>;
  /** True while compile() traces: the update must read every changeable value from `s`. */
  readonly tracing: boolean;
  /**
   * True when eager on a backend with synchronous reads (cpu, wasm): the step count can be read in JS,
   * and per-parameter scalars computed in float64 as torch's eager optimizers do.
   */
  readonly sync: boolean;
  /** A 0-d tensor on the parameter's backend holding `value` (a reused scratch slot; `sync` only). */
  scratch(name: string, value: number): Tensor;
  /** True once this parameter has taken a step (decided by structure, so sound under replay). */
  readonly stepped: boolean;
  /** Temporaries of this update, freed as soon as they are dead. */
  readonly tmp: Scratch;
}

/** Tracks an update's temporaries and frees them (eagerly; a trace's lazy values need no freeing). */
export class Scratch {
  private readonly owned = new Set<Tensor>();
  constructor(private readonly tracing: boolean) {}
  /** Registers a tensor this update made. */
  own(t: Tensor): Tensor { this.owned.add(t); return t; }
  /** Frees the given temporaries (tensors not registered here are left alone). */
  free(...ts: Tensor[]): void {
    for (const t of ts) {
      if (!this.owned.delete(t)) continue;
      if (!this.tracing) t.dispose();
    }
  }
  /** Writes `value` into `target` in place, then frees `value` if it was a temporary. */
  assign(target: Tensor, value: Tensor): void {
    target.copy_(value);
    this.free(value);
  }
  freeAll(): void { this.free(...this.owned); }
}

const brokenTraces = new WeakSet<Tracer>();

/**
 * Called by JavaScript that must run on every call of a compiled function (setting an optimizer
 * option, stepping a scheduler): while tracing, a graph break (once per call) makes the function run
 * segment by segment instead of replaying its trace without the JavaScript. In fullgraph mode this is
 * a GraphBreakError naming `what`.
 */
export function runsEveryCall(what: string): void {
  const tr = activeTracer();
  if (!tr || brokenTraces.has(tr)) return;
  brokenTraces.add(tr);
  const probe = full([], 0, { dtype: 'float32', backend: tr.backendName }).add(0);
  tr.realize(probe, `${what}: it runs in JavaScript on every call, so the function runs segment by segment; call it outside the compiled function for a whole-graph replay`);
}

/**
 * Sets a 0-d tensor's value in place. Eagerly on a synchronous backend it is a plain write (no kernel,
 * no cached constant per value); while tracing, the value comes from a fresh tensor, which is a graph
 * leaf rather than a folded constant, so a segment-by-segment call passes each call's value.
 */
export function setScalar(t: Tensor, v: number): void {
  const b = getBackend(t.backend);
  if (!activeTracer() && b.syncReads) { b.write(t._buffer(), typedOf(t.dtype, [v]), t._view.offset); return; }
  const fresh = full([], v, { dtype: t.dtype, backend: t.backend });
  t.copy_(fresh);
  if (!activeTracer()) fresh.dispose();
}

/** The value of a 0-d tensor read in JS (eager, synchronous backends only). */
export function readScalar(t: Tensor): number {
  return getBackend(t.backend).read(t._buffer(), t._view.offset, 1)[0];
}

/**
 * Adds 1 to this parameter's step count and returns the new count where JS can know it (`sync`:
 * a read and a write of the 0-d tensor, no kernel); null when traced or on webgpu (a tensor op).
 */
export function advanceStep(c: UpdateContext): number | null {
  const step = c.state.step;
  if (!c.sync) { c.tmp.assign(step, c.tmp.own(step.add(c.p._scalar(1)))); return null; }
  const t = readScalar(step) + 1;
  setScalar(step, t);
  return t;
}

/**
 * 1 - β^t from this parameter's step tensor, accurate to a few float32 ulps however it is evaluated
 * (eagerly each op rounds to float32; a fused kernel may keep wider intermediates): for t·ln β near 0,
 * Kahan's expm1 (u - 1)·x / log(u) with u = e^x, in which the rounding of u cancels; elsewhere 1 - u
 * has no cancellation. (1 - e^x directly loses up to 1e-4 relative for β = 0.999, and differently in
 * eager and fused code, which Adam can turn into whole steps where a gradient is near zero.)
 */
export function oneMinusPow(c: UpdateContext, logBeta: Tensor): Tensor {
  const { tmp } = c;
  const x = tmp.own(c.state.step.mul(logBeta));
  const u = tmp.own(x.exp());
  const um1 = tmp.own(u.sub(c.p._scalar(1)));
  const l = tmp.own(u.log());
  const q = tmp.own(x.div(l));
  tmp.free(l);
  const kahan = tmp.own(um1.mul(q));
  tmp.free(q);
  const notOne = tmp.own(u.ne(c.p._scalar(1)));
  const small = tmp.own(kahan.where(notOne, x));
  tmp.free(kahan, notOne);
  const near = tmp.own(x.gt(c.p._scalar(-0.5)));
  const expm1 = tmp.own(small.where(near, um1));
  tmp.free(small, near, um1, x, u);
  const out = tmp.own(expm1.neg());
  tmp.free(expm1);
  return out;
}

/** -grad when maximizing, else grad. */
export function signedGrad(c: UpdateContext): Tensor {
  return c.v.maximize ? c.tmp.own(c.grad.neg()) : c.grad;
}

/**
 * g + weightDecay·p (L2 folded into the gradient). Skipped when weightDecay is 0, as torch does (so a
 * non-finite parameter does not turn the gradient into NaN): by the JS value eagerly, by a select when
 * traced (the value may change between compiled calls).
 */
export function withWeightDecay(c: UpdateContext, g: Tensor): Tensor {
  const { p, s, tmp } = c;
  if (!c.tracing && c.v.weightDecay === 0) return g;
  const pw = tmp.own(p.mul(s.weightDecay));
  const out = tmp.own(g.add(pw));
  tmp.free(pw);
  if (!c.tracing) { tmp.free(g); return out; }
  const on = tmp.own(s.weightDecay.ne(0));
  return tmp.own(out.where(on, g));
}
