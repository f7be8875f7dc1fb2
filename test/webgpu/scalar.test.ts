// Every elementwise primitive x dtype, and every cast, on webgpu against the cpu reference, with the
// edge values where WGSL and JS part ways (±0, ±Inf, NaN, int32 overflow, halves for rounding).
import { afterAll, describe, expect, it } from 'vitest';
import type { DType } from '../../src/core/dtype.js';
import type { Kernel } from '../../src/core/kernel.js';
import { SCALAR_OPS, SCALAR_OP_NAMES, type ScalarOp, type ScalarOpDef, scalarTemplate } from '../../src/ops/scalar.js';
import { cast, compareKernel, cst, host, ld, op, rng, startWebGpu, type HostArray, type Tol } from './helpers.js';

const { gpu, reason } = await startWebGpu('scalar.test.ts');
afterAll(() => gpu?.destroy());

const FLOAT_EDGES = [0, -0, 1, -1, 0.5, -0.5, 1.5, 2.5, -2.5, 3, -3, 0.001, 7.25, -7.25, 100, -100, 1e30, -1e30, Infinity, -Infinity, NaN];
const INT_EDGES = [0, 1, -1, 2, -2, 3, -7, 7, 46341, -46341, 123456, -98765, 2147483647, -2147483648];
const BOOL_EDGES = [0, 1];

const edges = (dt: DType): number[] => (dt === 'float32' ? FLOAT_EDGES : dt === 'int32' ? INT_EDGES : BOOL_EDGES);

/** Operand values per op: the transcendental ones stay where WGSL's precision is specified. */
function operands(name: ScalarOp, dt: DType): number[] {
  if (dt !== 'float32') return edges(dt);
  const r = rng(7);
  const rand = (lo: number, hi: number, n: number) => Array.from({ length: n }, () => lo + (hi - lo) * r());
  switch (name) {
    case 'sin': case 'cos':
      return [0, -0, 1, -1, Math.PI, -Math.PI, 3, -3, 1e-5, 100, -1000.5, 8000, Infinity, -Infinity, NaN, ...rand(-10, 10, 40)];
    case 'exp':
      return [0, -0, 1, -1, 10, -10, 80, -80, 100, -110, Infinity, -Infinity, NaN, ...rand(-20, 20, 40)];
    case 'tanh': case 'erf':
      return [...FLOAT_EDGES, 1e-5, -1e-5, 0.1, 0.24, 0.26, 0.49, 0.51, 44, -44, 90, ...rand(-5, 5, 60)];
    default:
      return [...FLOAT_EDGES, ...rand(-50, 50, 30), ...rand(-1, 1, 10)];
  }
}

/** Tolerance per op: float32 math against the reference's float64 (transcendentals have a few ulp). */
function tolFor(name: ScalarOp): Tol {
  switch (name) {
    case 'sin': case 'cos': return { rtol: 1e-5, atol: 2e-6 };
    case 'exp': case 'log': case 'tanh': case 'erf': return { rtol: 2e-6 * 8, atol: 1e-6 };
    case 'pow': return { rtol: 5e-5, atol: 1e-30 };
    default: return { rtol: 1e-6, atol: 0 };
  }
}

/** All combinations of operand lists (a cross product, truncated to keep kernels small). */
function cross(lists: readonly number[][]): number[][] {
  let rows: number[][] = [[]];
  for (const l of lists) rows = rows.flatMap((r) => l.map((v) => [...r, v]));
  return rows;
}

/** The cases of an op: result dtype and operand dtypes (predicates take every operand dtype). */
function casesOf(name: ScalarOp): { out: DType; args: DType[] }[] {
  const def: ScalarOpDef = SCALAR_OPS[name];
  const dts: DType[] = ['float32', 'int32', 'bool'];
  if (def.predicate) return dts.map((d) => ({ out: 'bool' as DType, args: Array(def.arity).fill(d) }));
  return dts.filter((d) => {
    try { scalarTemplate(name, d); return true; } catch { return false; }
  }).map((d) => ({ out: d, args: name === 'where' ? ['bool', d, d] : Array(def.arity).fill(d) }));
}

describe.skipIf(!gpu)(`webgpu scalar ops ${gpu ? `on ${gpu.adapterDescription}` : `(skipped: ${reason})`}`, () => {
  for (const name of SCALAR_OP_NAMES) {
    for (const c of casesOf(name)) {
      it(`${name}: (${c.args.join(', ')}) -> ${c.out}`, async () => {
        const lists = c.args.map((d, i) => (c.args.length > 1 && d === 'float32' && name !== 'where' ? edges(d).concat(i === 0 ? [13.5, -4.25] : [0.75, -2]) : operands(name, d)));
        const rows = cross(lists);
        const n = rows.length;
        const inputs: HostArray[] = c.args.map((d, i) => host(d, rows.map((r) => r[i])));
        const k: Kernel = {
          kind: 'elementwise', shape: [n], nInputs: inputs.length,
          outputs: [{ expr: op(name, c.args.map((d, i) => ld(i, [n], d)), c.out), dtype: c.out }],
        };
        await compareKernel(gpu!, k, inputs, { tol: tolFor(name), label: name });
      });
    }
  }

  it('ops on constants (constants travel in the uniform buffer, NaN and Inf included)', async () => {
    const n = 5;
    const x = ld(0, [n]);
    const k: Kernel = {
      kind: 'elementwise', shape: [n], nInputs: 1,
      outputs: [
        { expr: op('add', [op('mul', [x, cst(0.1)]), cst(-0)]), dtype: 'float32' },
        { expr: op('max', [x, cst(NaN)]), dtype: 'float32' },
        { expr: op('min', [x, cst(Infinity)]), dtype: 'float32' },
        { expr: op('add', [cst(2147483647, 'int32'), cast(x, 'int32')]), dtype: 'int32' },
        { expr: op('and', [cst(1, 'bool'), op('lt', [x, cst(0)])]), dtype: 'bool' },
      ],
    };
    await compareKernel(gpu!, k, [host('float32', [-2, -0.5, 0, 1.5, 3])], { tol: { rtol: 1e-6 } });
  });
});

describe.skipIf(!gpu)('webgpu casts', () => {
  const values: Record<DType, number[]> = {
    float32: [...FLOAT_EDGES, 2.7, -2.7, 0.9999, -0.9999, 2147483520, -2147483648, 2147483648, 3e9, -3e9, 4294967296, 1e20, -1e20, 65504.5],
    int32: INT_EDGES,
    bool: BOOL_EDGES,
  };
  for (const from of ['float32', 'int32', 'bool'] as DType[]) {
    for (const to of ['float32', 'int32', 'bool'] as DType[]) {
      it(`cast ${from} -> ${to}`, async () => {
        const data = values[from];
        const k: Kernel = {
          kind: 'elementwise', shape: [data.length], nInputs: 1,
          outputs: [{ expr: cast(ld(0, [data.length], from), to), dtype: to }],
        };
        await compareKernel(gpu!, k, [host(from, data)]);
      });
    }
  }

  it('an output whose dtype differs from its expression converts as a typed-array store does', async () => {
    const data = [1.5, -2.5, 0, NaN, 3e9, 300];
    const k: Kernel = {
      kind: 'elementwise', shape: [data.length], nInputs: 1,
      outputs: [{ expr: ld(0, [data.length]), dtype: 'int32' }, { expr: ld(0, [data.length]), dtype: 'bool' }],
    };
    const r = await compareKernel(gpu!, k, [host('float32', data)]);
    expect(Array.from(r.gpu[0])).toEqual([1, -2, 0, 0, -1294967296, 300]);
  });
});
