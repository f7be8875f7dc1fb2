// Randomised kernels, webgpu against the cpu reference: random views (broadcast, slice with step,
// flip, pad, permuted storage, gather) under random expression DAGs with shared nodes and several
// outputs, plus random reductions. Values are small integers and halves and the ops are exact on
// them, so any difference is a codegen bug, not rounding. KILN_FUZZ_SEED / KILN_FUZZ_RUNS override.
import { afterAll, describe, expect, it } from 'vitest';
import type { DType, TypedArray } from '../../src/core/dtype.js';
import type { Expr, Kernel, ReduceKernel, ReduceOp, View } from '../../src/core/kernel.js';
import { printKernel } from '../../src/core/kernel.js';
import { sizeOf } from '../../src/core/shape.js';
import type { ScalarOp } from '../../src/ops/scalar.js';
import { SERIAL_ROW_MAX } from '../../backends/webgpu/codegen.js';
import { acc, cast, check, cst, host, op, rng, startWebGpu } from '../kernels/helpers.js';

const { gpu, reason } = await startWebGpu('fuzz.test.ts');
afterAll(() => gpu?.destroy());

const SEED = Number(process.env.KILN_FUZZ_SEED ?? 20240601);
const RUNS = Number(process.env.KILN_FUZZ_RUNS ?? 40);

type Rand = () => number;
const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

/** A random view of iteration shape `shape` over a fresh buffer; returns the view and the buffer size. */
function randomView(r: Rand, shape: readonly number[], allowPad: boolean): { view: View; size: number } {
  const n = shape.length;
  const modes = shape.map(() => pick(r, allowPad ? ['full', 'full', 'bcast', 'slice', 'flip', 'pad'] as const : ['full', 'full', 'bcast', 'slice', 'flip'] as const));
  const base: number[] = [], step: number[] = [], start: number[] = [], lo: number[] = [];
  shape.forEach((d, i) => {
    const m = modes[i];
    step.push(m === 'slice' ? int(r, 1, 2) : 1);
    start.push(m === 'slice' ? int(r, 0, 2) : 0);
    if (m === 'bcast') { base.push(1); lo.push(0); } else if (m === 'slice') { base.push(start[i] + step[i] * (d - 1) + 1 + int(r, 0, 1)); lo.push(0); } else if (m === 'pad') {
      const l = int(r, 0, Math.max(0, d - 1));
      lo.push(l);
      base.push(int(r, 1, Math.max(1, d - l)));
    } else { base.push(d); lo.push(0); }
  });
  // Storage order: a random permutation of the base dims, contiguous in that order, after some slack.
  const order = Array.from({ length: n }, (_, i) => i).sort(() => r() - 0.5);
  const S = new Array<number>(n).fill(0);
  let s = 1;
  for (let j = n - 1; j >= 0; j--) { S[order[j]] = s; s *= base[order[j]]; }
  let offset = int(r, 0, 3);
  const strides = shape.map((d, i) => {
    switch (modes[i]) {
      case 'bcast': return 0;
      case 'slice': offset += start[i] * S[i]; return S[i] * step[i];
      case 'flip': offset += (d - 1) * S[i]; return -S[i];
      case 'pad': offset -= lo[i] * S[i]; return S[i];
      default: return S[i];
    }
  });
  const size = int(r, 0, 3) + sizeOf(base) + 3;
  const padded = modes.includes('pad');
  const mask = padded ? shape.map((d, i) => (modes[i] === 'pad' ? [lo[i], lo[i] + base[i]] as const : [0, d] as const)) : undefined;
  // A padded view's offset may be negative; the addresses it reads inside the mask are in range.
  return { view: { shape: [...shape], strides, offset, ...(mask ? { mask } : {}) }, size: size + Math.max(0, -offset) };
}

function data(r: Rand, dtype: DType, n: number): TypedArray {
  return host(dtype, Array.from({ length: n }, () => (dtype === 'bool' ? int(r, 0, 1) : dtype === 'int32' ? int(r, -20, 20) : int(r, -12, 12) / 2)));
}

/** Random exact expressions over the kernel's inputs. */
class ExprGen {
  private readonly made: Expr[] = [];

  /** `intMul: false` keeps int32 values small (a reduction's sum feeds float math, where the cpu's float64 would differ). */
  constructor(private readonly r: Rand, private readonly leaves: readonly Expr[], private readonly intMul = true) {}

  gen(dtype: DType, depth: number): Expr {
    const r = this.r;
    const reuse = this.made.filter((e) => e.dtype === dtype);
    if (reuse.length && r() < 0.2) return pick(r, reuse);
    const e = depth <= 0 || r() < 0.25 ? this.leaf(dtype) : this.node(dtype, depth - 1);
    this.made.push(e);
    return e;
  }

  private leaf(dtype: DType): Expr {
    const r = this.r;
    // NOTE: constants are non-negative: the cpu reference prints a negative constant bare, so
    // neg(-1.5) renders as `(--1.5)` and fails to parse there (reported to the cpu backend's owner).
    if (r() < 0.2) return cst(dtype === 'bool' ? int(r, 0, 1) : dtype === 'int32' ? int(r, 0, 5) : int(r, 0, 6) / 2, dtype);
    const l = pick(r, this.leaves);
    return l.dtype === dtype ? l : cast(l, dtype);
  }

  private node(dtype: DType, d: number): Expr {
    const r = this.r;
    const g = (t: DType) => this.gen(t, d);
    if (dtype === 'bool') {
      const o = pick(r, ['lt', 'le', 'eq', 'ne', 'not', 'and', 'or'] as const);
      if (o === 'not') return op(o, [g(pick(r, ['bool', 'int32', 'float32'] as DType[]))]);
      if (o === 'and' || o === 'or') return op(o, [g('bool'), g('bool')]);
      const t = pick(r, ['int32', 'float32'] as DType[]);
      return op(o, [g(t), g(t)]);
    }
    const binary: ScalarOp[] = dtype === 'int32' ? ['add', 'sub', ...(this.intMul ? ['mul' as const] : []), 'max', 'min', 'mod'] : ['add', 'sub', 'max', 'min'];
    const unary: ScalarOp[] = dtype === 'int32' ? ['neg', 'abs', 'sign'] : ['neg', 'abs', 'floor', 'ceil', 'round', 'sign'];
    const k = r();
    if (k < 0.45) return op(pick(r, binary), [g(dtype), g(dtype)]);
    if (k < 0.7) return op(pick(r, unary), [g(dtype)]);
    if (k < 0.85) return op('where', [g('bool'), g(dtype), g(dtype)], dtype);
    if (dtype === 'float32') return op('mul', [g(dtype), cst(pick(r, [0.5, 2, 1]))]);
    return cast(g(pick(r, ['bool', 'float32'] as DType[])), 'int32');
  }
}

/** A random elementwise kernel and its inputs. */
function elementwiseCase(seed: number): { kernel: Kernel; inputs: TypedArray[] } {
  const r = rng(seed);
  const shape = Array.from({ length: int(r, 0, 3) }, () => int(r, 1, 4));
  const nIn = int(r, 1, 3);
  const inputs: TypedArray[] = [];
  const leaves: Expr[] = [];
  for (let i = 0; i < nIn; i++) {
    const dtype = pick(r, ['float32', 'float32', 'int32', 'bool'] as DType[]);
    const { view, size } = randomView(r, shape, true);
    inputs.push(data(r, dtype, size));
    leaves.push({ kind: 'load', input: i, view, dtype });
  }
  // Sometimes a gather: coordinate `axis` of an unmasked load comes from an int32 index input.
  if (shape.length && r() < 0.4) {
    const axis = int(r, 0, shape.length - 1);
    const { view, size } = randomView(r, shape, false);
    const idxInput = inputs.length;
    inputs.push(host('int32', Array.from({ length: sizeOf(shape) }, () => int(r, 0, shape[axis] - 1))));
    const index: Expr = { kind: 'load', input: idxInput, view: { shape: [...shape], strides: shapeStrides(shape), offset: 0 }, dtype: 'int32' };
    const dtype = pick(r, ['float32', 'int32'] as DType[]);
    inputs.push(data(r, dtype, size));
    leaves.push({ kind: 'load', input: idxInput + 1, view, dtype, gather: { axis, index, size: shape[axis], op: 'gather' } });
  }
  const gen = new ExprGen(r, leaves);
  const outputs = Array.from({ length: int(r, 1, 3) }, () => {
    const dtype = pick(r, ['float32', 'int32', 'bool'] as DType[]);
    return { expr: gen.gen(dtype, 4), dtype };
  });
  return { kernel: { kind: 'elementwise', shape, nInputs: inputs.length, outputs }, inputs };
}

function shapeStrides(shape: readonly number[]): number[] {
  const s: number[] = [];
  let acc1 = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc1; acc1 *= shape[i]; }
  return s;
}

/** A random reduce kernel: one or two reductions, a per-row output and sometimes a full-scope one. */
function reduceCase(seed: number): { kernel: Kernel; inputs: TypedArray[] } {
  const r = rng(seed);
  const rank = int(r, 1, 3);
  const shape = Array.from({ length: rank }, () => int(r, 1, pick(r, [4, 4, 40])));
  const split = int(r, 0, rank - 1);
  const outer = shape.slice(0, split), inner = shape.slice(split);
  const inputs: TypedArray[] = [];
  const leaves: Expr[] = [];
  for (let i = 0; i < int(r, 1, 2); i++) {
    const dtype = pick(r, ['float32', 'int32'] as DType[]);
    const { view, size } = randomView(r, shape, true);
    inputs.push(data(r, dtype, size));
    leaves.push({ kind: 'load', input: i, view, dtype });
  }
  const gen = new ExprGen(r, leaves, false);
  const ops: ReduceOp[] = ['sum', 'max', 'min', 'argmax', 'argmin'];
  const op0 = pick(r, ops);
  const dt0 = pick(r, ['float32', 'int32'] as DType[]);
  const body0 = gen.gen(dt0, 2);
  const rdt0: DType = op0 === 'argmax' || op0 === 'argmin' ? 'int32' : dt0;
  const reductions = [{ op: op0, body: body0, dtype: rdt0 }];
  const outputs: ReduceKernel['outputs'][number][] = [{ expr: acc(0, rdt0), dtype: rdt0, scope: 'outer' }];
  if (r() < 0.5) {
    // a second reduction that uses the first, as softmax and layerNorm do
    const body1 = op('sub', [cast(body0, 'float32'), cast(acc(0, rdt0), 'float32')]);
    reductions.push({ op: pick(r, ['sum', 'max', 'min'] as ReduceOp[]), body: body1, dtype: 'float32' });
    outputs.push({ expr: op('add', [acc(1, 'float32'), cst(1)]), dtype: 'float32', scope: 'outer' });
  }
  if (r() < 0.5) outputs.push({ expr: op('sub', [cast(body0, 'float32'), cast(acc(0, rdt0), 'float32')]), dtype: 'float32', scope: 'full' });
  return { kernel: { kind: 'reduce', outer, inner, nInputs: inputs.length, reductions, outputs }, inputs };
}

describe.skipIf(!gpu)(`webgpu fuzz (seed ${SEED}, ${RUNS} runs each) ${gpu ? '' : `(skipped: ${reason})`}`, () => {
  for (const [name, make] of [['elementwise', elementwiseCase], ['reduce', reduceCase]] as const) {
    it(`random ${name} kernels agree with the cpu reference`, async () => {
      let treeRows = 0;
      for (let i = 0; i < RUNS; i++) {
        const seed = SEED + i;
        const { kernel, inputs } = make(seed);
        if (kernel.kind === 'reduce' && sizeOf(kernel.inner) > SERIAL_ROW_MAX) treeRows++;
        try {
          await check(gpu!, kernel, inputs, { tol: { rtol: 0, atol: 0 } });
        } catch (e) {
          throw new Error(`fuzz ${name} seed ${seed} (KILN_FUZZ_SEED=${seed} KILN_FUZZ_RUNS=1):\n${printKernel(kernel)}\n${(e as Error).message}`);
        }
      }
      // the generator must reach both reduction strategies
      if (name === 'reduce' && RUNS >= 20) expect(treeRows).toBeGreaterThan(0);
    });
  }
});
