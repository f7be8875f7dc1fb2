// Every scalar primitive x dtype on the wasm backend against the cpu reference, on the flat SIMD path
// (with a scalar tail) and on the strided row path (lane-by-lane loads), with edge values.
import { describe, it } from 'vitest';
import type { DType, TypedArray } from '../../src/core/dtype.js';
import type { ScalarOp } from '../../src/ops/scalar.js';
import { SCALAR_OP_NAMES, SCALAR_OPS } from '../../src/ops/scalar.js';
import { cast, check, ew, ld, op, randBool, randF32, randI32, view, type Tol } from './helpers.js';

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

/** Dtypes an op accepts for its result (float-only ops have no int/bool form). */
function resultTypes(name: ScalarOp): DType[] {
  const def = SCALAR_OPS[name] as { i?: unknown; predicate?: boolean };
  if (def.predicate) return ['float32', 'int32', 'bool']; // operand types; the result is bool
  if (!def.i) return ['float32'];
  if (name === 'neg' || name === 'add' || name === 'sub' || name === 'mul' || name === 'mod' || name === 'abs' || name === 'sign') return ['float32', 'int32'];
  return ['float32', 'int32', 'bool'];
}

const TOL: Partial<Record<ScalarOp, Tol>> = {
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

describe('scalar ops x dtypes (wasm vs cpu)', () => {
  for (const name of SCALAR_OP_NAMES) {
    const def = SCALAR_OPS[name] as { arity: number; predicate?: boolean };
    for (const dt of resultTypes(name)) {
      it(`${name} ${dt}`, async () => {
        const ins = Array.from({ length: def.arity }, (_, i) => {
          // where's condition is any dtype; its branches follow the result dtype
          const t = name === 'where' && i === 0 ? (dt === 'float32' ? 'float32' : 'bool') : dt;
          return data(t, N, 11 + 3 * i);
        });
        if (name === 'mod' && dt === 'int32') (ins[1] as Int32Array)[3] = 0;
        const loads = ins.map((a, i) => ld(i, view([N]), a instanceof Float32Array ? 'float32' : a instanceof Int32Array ? 'int32' : 'bool'));
        const resDt: DType = def.predicate ? 'bool' : dt;
        const e = op(name, loads, resDt);
        await check(ew([N], ins.length, [e]), ins, TOL[name], undefined, `${name}/${dt} flat`);
        // Row path: shape [5, 12] reading every other element (stride 2) of a [5, 24] input.
        const M = 5 * 24;
        const ins2 = ins.map((a, i) => data(a instanceof Float32Array ? 'float32' : a instanceof Int32Array ? 'int32' : 'bool', M, 40 + i));
        const loads2 = ins2.map((a, i) => ld(i, view([5, 12], [24, 2]), a instanceof Float32Array ? 'float32' : a instanceof Int32Array ? 'int32' : 'bool'));
        await check(ew([5, 12], ins2.length, [op(name, loads2, resDt)]), ins2, TOL[name], undefined, `${name}/${dt} strided`);
      });
    }
  }

  it('pow with constant exponents (strength-reduced) keeps the edge cases', async () => {
    const x = floats(N, 5);
    for (const k of [0, 1, 2, 3, 4, -1, 0.5, -0.5, 1.5, -2]) {
      const e = op('pow', [ld(0, view([N])), { kind: 'const', value: k, dtype: 'float32' }]);
      await check(ew([N], 1, [e]), [x], { rtol: 4e-7, atol: 0 }, undefined, `pow k=${k}`);
    }
  });

  it('pow special cases (C/torch semantics: 1 ** y = 1, (-1) ** ±Inf = 1)', async () => {
    const as = [0, -0, 1, -1, 2, -2, 0.5, -0.5, Infinity, -Infinity, NaN, -8, 1e-40, 3];
    const bs = [0, -0, 1, -1, 2, 3, -3, 0.5, -0.5, Infinity, -Infinity, NaN, 1 / 3, 100, -100];
    const a = new Float32Array(as.length * bs.length), b = new Float32Array(a.length);
    as.forEach((x, i) => bs.forEach((y, j) => { a[i * bs.length + j] = x; b[i * bs.length + j] = y; }));
    const n = a.length;
    await check(ew([n], 2, [op('pow', [ld(0, view([n])), ld(1, view([n]))])]), [a, b], { rtol: 4e-7, atol: 0 });
  });

  it('mod (torch.remainder) is exact for huge quotients and signed zeros', async () => {
    const as = [5.5, -5.5, 1e30, -1e30, 3.4e38, 1e-40, 7, -7, 0, -0, 1, Infinity, NaN, 16777217, 123456.789];
    const bs = [3, -3, 1e-30, -0.1, 7e-3, 1e-41, Infinity, -Infinity, 0, NaN, 2.5, -2.5, 1e20];
    const a = new Float32Array(as.length * bs.length), b = new Float32Array(a.length);
    as.forEach((x, i) => bs.forEach((y, j) => { a[i * bs.length + j] = x; b[i * bs.length + j] = y; }));
    const n = a.length;
    await check(ew([n], 2, [op('mod', [ld(0, view([n])), ld(1, view([n]))])]), [a, b], { rtol: 0, atol: 0 });
  });

  it('casts between every dtype pair', async () => {
    const dts: DType[] = ['float32', 'int32', 'bool'];
    const f = floats(N, 3);
    [3e9, -3e9, 2147483648, -2147483649, 1e20, -1e20, 4294967296 + 512, 2.7, -2.7, -0.5].forEach((v, i) => { f[40 + i] = v; });
    for (const from of dts) {
      for (const to of dts) {
        if (from === to) continue;
        const x = from === 'float32' ? f : data(from, N, 9);
        await check(ew([N], 1, [cast(ld(0, view([N]), from), to)]), [x], { rtol: 0, atol: 0 }, undefined, `${from}->${to}`);
      }
    }
  });

  it('bool outputs from float and int predicates, stored as 0/1 bytes', async () => {
    const a = floats(N, 1), b = floats(N, 2);
    const e = op('and', [op('lt', [ld(0, view([N])), ld(1, view([N]))]), op('not', [op('eq', [ld(0, view([N])), ld(0, view([N]))])])]);
    await check(ew([N], 2, [e, op('or', [ld(0, view([N])), ld(1, view([N]))])]), [a, b]);
  });
});
