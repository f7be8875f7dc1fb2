// Every scalar primitive x dtype, and every cast, on every backend against the cpu reference: edge
// values (±0, ±Inf, NaN, int32 overflow, halves for rounding, subnormals) on a flat kernel with a
// SIMD tail and on a strided one, and the cross product of edge values for binary ops.
import { describe, expect, it } from 'vitest';
import type { DType, TypedArray } from '../../src/core/dtype.js';
import type { Kernel } from '../../src/core/kernel.js';
import { SCALAR_OP_NAMES, SCALAR_OPS, scalarTemplate, type ScalarOp, type ScalarOpDef } from '../../src/ops/scalar.js';
import { cast, check, cst, dtypeOf, ew, forEachKernelBackend, host, ld, op, randBool, randF32, randI32, rng, startBackends, view, itWhereDefined, type Tol, type UndefinedOn } from './helpers.js';

const BACKENDS = await startBackends('kernels/scalar.test.ts');

// ---- edge values on the flat and strided paths --------------------------------------------------

const FLOAT_EDGES = [0, -0, 1, -1, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 3, -3, 1e-3, -7.25, 100, -100, 1e30, -1e30, 1e-40,
  -1e-40, Infinity, -Infinity, NaN, 3.4e38, -3.4e38, 88.5, -87.5, 0.3, 123.456, 7, -8, 1e-7, 16777217, 0.625, 0.75, 9.5];
const INT_EDGES = [0, 1, -1, 2, -2, 3, 7, -7, 100, -100, 2147483647, -2147483648, 65536, -65536, 46341, 12345, -999];

function floats(n: number, seed: number): Float32Array {
  const r = randF32(n, seed, -10, 10);
  FLOAT_EDGES.forEach((v, i) => { r[(i * 7 + seed) % n] = v; });
  return r;
}
function ints(n: number, seed: number): Int32Array {
  const r = randI32(n, seed, -50, 50);
  INT_EDGES.forEach((v, i) => { r[(i * 5 + seed) % n] = v; });
  return r;
}
function data(dt: DType, n: number, seed: number): TypedArray {
  return dt === 'float32' ? floats(n, seed) : dt === 'int32' ? ints(n, seed) : randBool(n, seed);
}

/** Dtypes the edge-value cases of an op take (the result's; a predicate's operands'). */
function edgeTypes(name: ScalarOp): DType[] {
  const def = SCALAR_OPS[name] as { i?: unknown; predicate?: boolean };
  if (def.predicate) return ['float32', 'int32', 'bool'];
  if (!def.i) return ['float32'];
  if (name === 'neg' || name === 'add' || name === 'sub' || name === 'mul' || name === 'mod' || name === 'abs' || name === 'sign') return ['float32', 'int32'];
  return ['float32', 'int32', 'bool'];
}

/** Tolerances of the edge-value cases (tight: the builtins' ulp bounds). */
const EDGE_TOL: Partial<Record<ScalarOp, Tol>> = {
  exp: { rtol: 4e-7, atol: 0 },
  log: { rtol: 4e-7, atol: 1e-7 },
  sin: { rtol: 2e-7, atol: 1e-7 },
  cos: { rtol: 2e-7, atol: 1e-7 },
  tanh: { rtol: 4e-7, atol: 1e-7 },
  erf: { rtol: 1e-6, atol: 1e-7 },
  pow: { rtol: 4e-7, atol: 0 },
  mod: { rtol: 0, atol: 0 },
  recip: { rtol: 0, atol: 0 },
  sqrt: { rtol: 0, atol: 0 },
  div: { rtol: 0, atol: 0 },
};

const N = 61; // 15 vectors + a tail of 1 on the flat path

/** The edge-value checks of one op and dtype: flat [61], and [5, 12] reading every other element of [5, 24]. */
async function edgeCases(be: Parameters<typeof check>[0], name: ScalarOp, dt: DType, tol: Tol | undefined): Promise<void> {
  const def = SCALAR_OPS[name] as { arity: number; predicate?: boolean };
  const ins = Array.from({ length: def.arity }, (_, i) => {
    // where's condition is any dtype; its branches follow the result dtype
    const t = name === 'where' && i === 0 ? (dt === 'float32' ? 'float32' : 'bool') : dt;
    return data(t, N, 11 + 3 * i);
  });
  if (name === 'mod' && dt === 'int32') (ins[1] as Int32Array)[3] = 0;
  const resDt: DType = def.predicate ? 'bool' : dt;
  const loads = ins.map((a, i) => ld(i, view([N]), dtypeOf(a)));
  await check(be, ew([N], ins.length, [op(name, loads, resDt)]), ins, { tol, label: `${name}/${dt} flat` });
  const M = 5 * 24;
  const ins2 = ins.map((a, i) => data(dtypeOf(a), M, 40 + i));
  const loads2 = ins2.map((a, i) => ld(i, view([5, 12], [24, 2]), dtypeOf(a)));
  await check(be, ew([5, 12], ins2.length, [op(name, loads2, resDt)]), ins2, { tol, label: `${name}/${dt} strided` });
}

// ---- the cross product of edge values -----------------------------------------------------------

const X_FLOAT_EDGES = [0, -0, 1, -1, 0.5, -0.5, 1.5, 2.5, -2.5, 3, -3, 0.001, 7.25, -7.25, 100, -100, 1e30, -1e30, Infinity, -Infinity, NaN];
const X_INT_EDGES = [0, 1, -1, 2, -2, 3, -7, 7, 46341, -46341, 123456, -98765, 2147483647, -2147483648];
const X_BOOL_EDGES = [0, 1];
const xEdges = (dt: DType): number[] => (dt === 'float32' ? X_FLOAT_EDGES : dt === 'int32' ? X_INT_EDGES : X_BOOL_EDGES);

/** Operand values per op: the transcendental ones stay where WGSL's precision is specified. */
function operands(name: ScalarOp, dt: DType): number[] {
  if (dt !== 'float32') return xEdges(dt);
  const r = rng(7);
  const rand = (lo: number, hi: number, n: number) => Array.from({ length: n }, () => lo + (hi - lo) * r());
  switch (name) {
    case 'sin': case 'cos':
      return [0, -0, 1, -1, Math.PI, -Math.PI, 3, -3, 1e-5, 100, -1000.5, 8000, Infinity, -Infinity, NaN, ...rand(-10, 10, 40)];
    case 'exp':
      return [0, -0, 1, -1, 10, -10, 80, -80, 100, -110, Infinity, -Infinity, NaN, ...rand(-20, 20, 40)];
    case 'tanh': case 'erf':
      return [...X_FLOAT_EDGES, 1e-5, -1e-5, 0.1, 0.24, 0.26, 0.49, 0.51, 44, -44, 90, ...rand(-5, 5, 60)];
    default:
      return [...X_FLOAT_EDGES, ...rand(-50, 50, 30), ...rand(-1, 1, 10)];
  }
}

/** Tolerance of the cross-product cases: float32 math against the reference's float64 (transcendentals have a few ulp). */
function crossTol(name: ScalarOp): Tol {
  switch (name) {
    case 'sin': case 'cos': return { rtol: 1e-5, atol: 2e-6 };
    case 'exp': case 'log': case 'tanh': case 'erf': return { rtol: 2e-6 * 8, atol: 1e-6 };
    case 'pow': return { rtol: 5e-5, atol: 1e-30 };
    default: return { rtol: 1e-6, atol: 0 };
  }
}

/** All combinations of operand lists. */
function cross(lists: readonly number[][]): number[][] {
  let rows: number[][] = [[]];
  for (const l of lists) rows = rows.flatMap((r) => l.map((v) => [...r, v]));
  return rows;
}

/** The cross-product cases of an op, keyed like the edge cases: result dtype (a predicate's operand dtype). */
function crossCases(name: ScalarOp): Map<DType, { out: DType; args: DType[] }> {
  const def: ScalarOpDef = SCALAR_OPS[name];
  const dts: DType[] = ['float32', 'int32', 'bool'];
  if (def.predicate) return new Map(dts.map((d) => [d, { out: 'bool', args: Array(def.arity).fill(d) }]));
  return new Map(dts.filter((d) => {
    try { scalarTemplate(name, d); return true; } catch { return false; }
  }).map((d) => [d, { out: d, args: name === 'where' ? ['bool', d, d] : Array(def.arity).fill(d) }]));
}

async function crossCase(be: Parameters<typeof check>[0], name: ScalarOp, c: { out: DType; args: DType[] }): Promise<void> {
  const lists = c.args.map((d, i) => (c.args.length > 1 && d === 'float32' && name !== 'where' ? xEdges(d).concat(i === 0 ? [13.5, -4.25] : [0.75, -2]) : operands(name, d)));
  const rows = cross(lists);
  const n = rows.length;
  const inputs = c.args.map((d, i) => host(d, rows.map((r) => r[i])));
  const k = ew([n], inputs.length, [op(name, c.args.map((d, i) => ld(i, [n], d)), c.out)]);
  await check(be, k, inputs, { tol: crossTol(name), label: `${name} cross product` });
}

/** Kernels kiln's ops never emit (torch rejects bool subtraction; a bool output is always an explicit cast). */
const UNDEFINED: UndefinedOn = {
  'sub bool': { wasm: 'bool - bool gives 0 where cpu and webgpu wrap 0 - 1 to the byte 255' },
  'an output whose dtype differs from its expression converts as a typed-array store does': { wasm: 'a float stored to a bool output is stored as x != 0; cpu and webgpu store the low byte' },
};

forEachKernelBackend(BACKENDS, (be, backend) => {
  const itDefined = (name: string, fn: () => Promise<void>) => itWhereDefined(backend, UNDEFINED, name, fn);

  describe('scalar ops x dtypes', () => {
    for (const name of SCALAR_OP_NAMES) {
      const edge = edgeTypes(name), xs = crossCases(name);
      for (const dt of (['float32', 'int32', 'bool'] as DType[]).filter((d) => edge.includes(d) || xs.has(d))) {
        itDefined(`${name} ${dt}`, async () => {
          if (edge.includes(dt)) await edgeCases(be, name, dt, EDGE_TOL[name]);
          const c = xs.get(dt);
          if (c) await crossCase(be, name, c);
        });
      }
    }

    it('pow with constant exponents (strength-reduced) keeps the edge cases', async () => {
      const x = floats(N, 5);
      for (const k of [0, 1, 2, 3, 4, -1, 0.5, -0.5, 1.5, -2]) {
        const e = op('pow', [ld(0, view([N])), cst(k)]);
        await check(be, ew([N], 1, [e]), [x], { tol: { rtol: 4e-7, atol: 0 }, label: `pow k=${k}` });
      }
    });

    it('pow special cases (C/torch semantics: 1 ** y = 1, (-1) ** ±Inf = 1)', async () => {
      const as = [0, -0, 1, -1, 2, -2, 0.5, -0.5, Infinity, -Infinity, NaN, -8, 1e-40, 3];
      const bs = [0, -0, 1, -1, 2, 3, -3, 0.5, -0.5, Infinity, -Infinity, NaN, 1 / 3, 100, -100];
      const a = new Float32Array(as.length * bs.length), b = new Float32Array(a.length);
      as.forEach((x, i) => bs.forEach((y, j) => { a[i * bs.length + j] = x; b[i * bs.length + j] = y; }));
      const n = a.length;
      await check(be, ew([n], 2, [op('pow', [ld(0, view([n])), ld(1, view([n]))])]), [a, b], { tol: { rtol: 4e-7, atol: 0 } });
    });

    it('mod (torch.remainder) is exact for huge quotients and signed zeros', async () => {
      const as = [5.5, -5.5, 1e30, -1e30, 3.4e38, 1e-40, 7, -7, 0, -0, 1, Infinity, NaN, 16777217, 123456.789];
      const bs = [3, -3, 1e-30, -0.1, 7e-3, 1e-41, Infinity, -Infinity, 0, NaN, 2.5, -2.5, 1e20];
      const a = new Float32Array(as.length * bs.length), b = new Float32Array(a.length);
      as.forEach((x, i) => bs.forEach((y, j) => { a[i * bs.length + j] = x; b[i * bs.length + j] = y; }));
      const n = a.length;
      await check(be, ew([n], 2, [op('mod', [ld(0, view([n])), ld(1, view([n]))])]), [a, b], { tol: { rtol: 0, atol: 0 } });
    });

    it('bool outputs from float and int predicates, stored as 0/1 bytes', async () => {
      const a = floats(N, 1), b = floats(N, 2);
      const e = op('and', [op('lt', [ld(0, view([N])), ld(1, view([N]))]), op('not', [op('eq', [ld(0, view([N])), ld(0, view([N]))])])]);
      await check(be, ew([N], 2, [e, op('or', [ld(0, view([N])), ld(1, view([N]))])]), [a, b]);
    });

    it('ops on constants (constants travel as parameters, NaN and Inf included)', async () => {
      const n = 5;
      const x = ld(0, [n]);
      const k: Kernel = ew([n], 1, [
        op('add', [op('mul', [x, cst(0.1)]), cst(-0)]),
        op('max', [x, cst(NaN)]),
        op('min', [x, cst(Infinity)]),
        op('add', [cst(2147483647, 'int32'), cast(x, 'int32')]),
        op('and', [cst(1, 'bool'), op('lt', [x, cst(0)])]),
      ]);
      await check(be, k, [host('float32', [-2, -0.5, 0, 1.5, 3])], { tol: { rtol: 1e-6 } });
    });
  });

  describe('casts', () => {
    const CAST_VALUES: Record<DType, number[]> = {
      float32: [...X_FLOAT_EDGES, 2.7, -2.7, 0.9999, -0.9999, 2147483520, -2147483648, 2147483648, 3e9, -3e9, 4294967296, 1e20, -1e20, 65504.5],
      int32: X_INT_EDGES,
      bool: X_BOOL_EDGES,
    };
    const dts: DType[] = ['float32', 'int32', 'bool'];
    for (const from of dts) {
      for (const to of dts) {
        it(`cast ${from} -> ${to}`, async () => {
          const values = CAST_VALUES[from];
          await check(be, ew([values.length], 1, [cast(ld(0, [values.length], from), to)]), [host(from, values)], { tol: { rtol: 0, atol: 0 } });
          if (from === to) return;
          // edge values on the flat path, with out-of-range floats for the int conversions
          const f = floats(N, 3);
          [3e9, -3e9, 2147483648, -2147483649, 1e20, -1e20, 4294967296 + 512, 2.7, -2.7, -0.5].forEach((v, i) => { f[40 + i] = v; });
          const x = from === 'float32' ? f : data(from, N, 9);
          await check(be, ew([N], 1, [cast(ld(0, view([N]), from), to)]), [x], { tol: { rtol: 0, atol: 0 }, label: `${from}->${to}` });
        });
      }
    }

    itDefined('an output whose dtype differs from its expression converts as a typed-array store does', async () => {
      const values = [1.5, -2.5, 0, NaN, 3e9, 300];
      const n = values.length;
      const k = ew([n], 1, [{ expr: ld(0, [n]), dtype: 'int32' }, { expr: ld(0, [n]), dtype: 'bool' }]);
      const r = await check(be, k, [host('float32', values)]);
      expect(Array.from(r.got[0])).toEqual([1, -2, 0, 0, -1294967296, 300]);
    });
  });
});
