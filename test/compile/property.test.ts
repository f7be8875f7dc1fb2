// Property test: random op graphs (elementwise, broadcasts, views, reductions, matmul) compiled
// agree with eager execution of the same program, with the verifier checking every compiler pass.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import { setVerifyPasses } from '../../compiler/passes.js';

beforeAll(() => setVerifyPasses(true));
afterAll(() => setVerifyPasses(false));

type Op =
  | { kind: 'unary'; op: 'exp' | 'tanh' | 'neg' | 'abs' | 'sigmoid' | 'relu' | 'sin' }
  | { kind: 'binary'; op: 'add' | 'sub' | 'mul' | 'maximum'; other: number; scalar: number | null }
  | { kind: 'reduce'; op: 'sum' | 'max' | 'mean'; keepdim: boolean }
  | { kind: 'move'; op: 'transpose' | 'flip' | 'slice' }
  | { kind: 'softmax' }
  | { kind: 'matmul'; other: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('unary' as const), op: fc.constantFrom('exp', 'tanh', 'neg', 'abs', 'sigmoid', 'relu', 'sin') }),
  fc.record({ kind: fc.constant('binary' as const), op: fc.constantFrom('add', 'sub', 'mul', 'maximum'), other: fc.nat(10), scalar: fc.option(fc.double({ min: -2, max: 2, noNaN: true }), { nil: null }) }),
  fc.record({ kind: fc.constant('reduce' as const), op: fc.constantFrom('sum', 'max', 'mean'), keepdim: fc.boolean() }),
  fc.record({ kind: fc.constant('move' as const), op: fc.constantFrom('transpose', 'flip', 'slice') }),
  fc.record({ kind: fc.constant('softmax' as const) }),
  fc.record({ kind: fc.constant('matmul' as const), other: fc.nat(10) }),
);

/** Applies a program to the inputs; values stay bounded so float32 tolerances hold. */
function run(prog: readonly Op[], inputs: readonly k.Tensor[]): k.Tensor[] {
  const vals: k.Tensor[] = [...inputs];
  for (const op of prog) {
    const x = vals[vals.length - 1];
    let y: k.Tensor;
    switch (op.kind) {
      case 'unary': y = op.op === 'exp' ? x.tanh().exp() : op.op === 'sigmoid' ? x.sigmoid() : op.op === 'relu' ? x.relu() : x[op.op](); break;
      case 'binary': {
        const o = op.scalar ?? vals[op.other % vals.length];
        const compatible = typeof o === 'number' || o.ndim <= x.ndim && o.shape.every((d, i) => d === 1 || d === x.shape[x.ndim - o.ndim + i]);
        y = compatible ? x[op.op](o) : x[op.op](1);
        break;
      }
      case 'reduce': y = x.ndim === 0 ? x : op.op === 'max' ? x.amax(-1, op.keepdim) : x[op.op](-1, op.keepdim); break;
      case 'move':
        y = x.ndim < 2 ? x.flip(x.ndim ? [0] : []) : op.op === 'transpose' ? x.transpose(0, 1) : op.op === 'flip' ? x.flip([0]) : x.slice([[0, undefined, 2]]);
        break;
      case 'softmax': y = x.ndim ? x.softmax(-1) : x; break;
      case 'matmul': {
        const o = vals[op.other % vals.length];
        y = x.ndim >= 1 && o.ndim === 2 && x.shape[x.ndim - 1] === o.shape[0] ? x.matmul(o).tanh() : x.mul(0.5);
        break;
      }
    }
    vals.push(y);
  }
  return [vals[vals.length - 1], vals[Math.floor(vals.length / 2)]];
}

describe('random programs: compiled equals eager (cpu)', () => {
  it('holds for 150 random programs', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 10 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 6 }), fc.nat(1000),
        (prog, m, n, seed) => {
          k.manualSeed(seed);
          const inputs = [k.randn([m, n]), k.randn([n]), k.randn([n, n]), k.randn([m, 1])];
          const eager = run(prog, inputs);
          const compiled = k.compile((a: k.Tensor, b: k.Tensor, c: k.Tensor, d: k.Tensor) => run(prog, [a, b, c, d]));
          for (let rep = 0; rep < 2; rep++) {
            const out = compiled(inputs[0], inputs[1], inputs[2], inputs[3]);
            out.forEach((t, i) => {
              expect(t.shape).toEqual(eager[i].shape);
              const a = t.data(), e = eager[i].data();
              e.forEach((v, j) => expect(Math.abs(a[j] - v)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(v))));
            });
          }
        }),
      { numRuns: 150, seed: 42 },
    );
  });
});
