// wasm backend: the transforms of Winograd's minimal filtering F(r×r, 3×3) as straight-line programs
// of float32 operations, one table per tile size, that the WebAssembly stages (winograd.ts) and the JS
// tier (winogradJs) both run, so that the two give the same bits by construction: each step's
// operation and operand order is part of the results.
// F(2×2, 3×3) takes 4×4 input tiles and only adds, subtracts and halves. F(4×4, 3×3) takes 6×6 tiles
// and does 36 products per 16 outputs instead of 64 (the points 0, ±1, ±2 and ∞; Lavin & Gray 2016),
// at the cost of constants (1/6, 1/24) that float32 rounds, so its results carry a little more
// rounding error than F(2×2)'s (measured in test/kernels/winograd.test.ts against float64).

/** A step: slot a ± slot b, or slot a times a float32 constant. Slots: the inputs, then each step's result. */
export type Step = readonly ['+' | '-', number, number] | readonly ['*', number, number];

/** A linear map of `inputs` values to the values in slots `outputs`, computed by `steps` in order. */
export interface Transform {
  readonly inputs: number;
  readonly steps: readonly Step[];
  readonly outputs: readonly number[];
}

/** Writes a transform with named operations; constants are rounded to float32 here, once. */
function program(inputs: number, body: (x: readonly number[], op: {
  add(a: number, b: number): number; sub(a: number, b: number): number; mul(a: number, c: number): number;
}) => number[]): Transform {
  const steps: Step[] = [];
  const push = (s: Step) => { steps.push(s); return inputs + steps.length - 1; };
  const x = Array.from({ length: inputs }, (_, i) => i);
  const outputs = body(x, {
    add: (a, b) => push(['+', a, b]),
    sub: (a, b) => push(['-', a, b]),
    mul: (a, c) => push(['*', a, Math.fround(c)]),
  });
  return { inputs, steps, outputs };
}

/** The arithmetic a transform runs on: float32 numbers (JS) or emitted vectors (wasm). */
export interface TransformOps<T> {
  add(a: T, b: T): T;
  sub(a: T, b: T): T;
  mul(a: T, c: number): T;
}

/** Step `s` on the values of its operand slots (`slot(i)`). */
function runStep<T>([op, a, b]: Step, slot: (i: number) => T, ops: TransformOps<T>): T {
  return op === '*' ? ops.mul(slot(a), b) : op === '+' ? ops.add(slot(a), slot(b)) : ops.sub(slot(a), slot(b));
}

/**
 * Runs `t` lazily on inputs read on demand: `output(k)` computes the steps output k needs (each step
 * once), so a caller can take an output as soon as its inputs exist (`lastInput`).
 */
export class LazyTransform<T> {
  private readonly slots: (T | undefined)[];

  constructor(private readonly t: Transform, private readonly input: (i: number) => T, private readonly ops: TransformOps<T>) {
    this.slots = new Array(t.inputs + t.steps.length);
  }

  output(k: number): T {
    return this.slot(this.t.outputs[k]);
  }

  private slot(s: number): T {
    const have = this.slots[s];
    if (have !== undefined) return have;
    const v = s < this.t.inputs ? this.input(s) : runStep(this.t.steps[s - this.t.inputs], (i) => this.slot(i), this.ops);
    this.slots[s] = v;
    return v;
  }
}

/** All outputs of `t` on `x`, in order (every step once, in order: each feeds some output). */
export function applyTransform<T>(t: Transform, x: readonly T[], ops: TransformOps<T>): T[] {
  const slots = x.slice(0, t.inputs);
  const at = (i: number) => slots[i];
  for (const step of t.steps) slots.push(runStep(step, at, ops));
  return t.outputs.map((s) => slots[s]);
}

/** The highest input each output of `t` reads. */
export function lastInputs(t: Transform): number[] {
  const last: number[] = Array.from({ length: t.inputs }, (_, i) => i);
  for (const [op, a, b] of t.steps) last.push(op === '*' ? last[a] : Math.max(last[a], last[b]));
  return t.outputs.map((s) => last[s]);
}

/** One tile size: r×r outputs from α×α inputs, α = r + 2. */
export interface WinogradVariant {
  readonly r: 2 | 4;
  readonly alpha: 4 | 6;
  /** G (3 -> α): the weights' transform, over rows then columns. */
  readonly G: Transform;
  /** Bᵀ (α -> α): the input tile's transform, over each row's columns then over rows. */
  readonly BT: Transform;
  /** Aᵀ (α -> r): the products' transform back to outputs, over rows then columns. */
  readonly AT: Transform;
}

export const F2: WinogradVariant = {
  r: 2, alpha: 4,
  G: program(3, ([g0, g1, g2], o) => {
    const s = o.add(g0, g2);
    return [g0, o.mul(o.add(s, g1), 0.5), o.mul(o.sub(s, g1), 0.5), g2];
  }),
  BT: program(4, ([x0, x1, x2, x3], o) => [o.sub(x0, x2), o.add(x1, x2), o.sub(x2, x1), o.sub(x1, x3)]),
  AT: program(4, ([x0, x1, x2, x3], o) => [o.add(o.add(x0, x1), x2), o.sub(o.sub(x1, x2), x3)]),
};

export const F4: WinogradVariant = {
  r: 4, alpha: 6,
  // G = [1/4, 0, 0; -1/6, -1/6, -1/6; -1/6, 1/6, -1/6; 1/24, 1/12, 1/6; 1/24, -1/12, 1/6; 0, 0, 1]
  G: program(3, ([g0, g1, g2], o) => {
    const s = o.add(g0, g2);
    const t = o.add(o.mul(g0, 1 / 24), o.mul(g2, 1 / 6)), h = o.mul(g1, 1 / 12);
    return [o.mul(g0, 0.25), o.mul(o.add(s, g1), -1 / 6), o.mul(o.sub(s, g1), -1 / 6), o.add(t, h), o.sub(t, h), g2];
  }),
  // Bᵀ = [4, 0, -5, 0, 1, 0; 0, -4, -4, 1, 1, 0; 0, 4, -4, -1, 1, 0; 0, -2, -1, 2, 1, 0; 0, 2, -1, -2, 1, 0; 0, 4, 0, -5, 0, 1]
  BT: program(6, ([x0, x1, x2, x3, x4, x5], o) => {
    const a = o.sub(x4, o.mul(x2, 4)), b = o.sub(x3, o.mul(x1, 4));
    const c = o.sub(x4, x2), d = o.mul(o.sub(x3, x1), 2);
    return [o.add(o.mul(o.sub(x0, x2), 4), c), o.add(a, b), o.sub(a, b), o.add(c, d), o.sub(c, d), o.add(o.mul(o.sub(x1, x3), 4), o.sub(x5, x3))];
  }),
  // Aᵀ = [1, 1, 1, 1, 1, 0; 0, 1, -1, 2, -2, 0; 0, 1, 1, 4, 4, 0; 0, 1, -1, 8, -8, 1]
  AT: program(6, ([m0, m1, m2, m3, m4, m5], o) => {
    const p = o.add(m1, m2), q = o.sub(m1, m2), s = o.add(m3, m4), d = o.sub(m3, m4);
    return [o.add(o.add(m0, p), s), o.add(q, o.mul(d, 2)), o.add(p, o.mul(s, 4)), o.add(o.add(q, o.mul(d, 8)), m5)];
  }),
};
