// Every op-info row compiled: the compiled function's first call (trace) and second call (replay)
// equal the eager result on every backend; on cpu and wasm, the gradients computed by a compiled
// forward+backward equal eager autograd's. The verifier runs after every compiler pass, so a pass
// that breaks a graph or a plan fails the row that shows it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import { setVerifyPasses } from '../../compiler/passes.js';
import type { BackendName, Tensor } from '../../src/index.js';
import { forEachBackend } from '../eager/backends.js';
import { asList, gradInputs, toKiln } from '../eager/harness.js';
import { OPINFO, viewKiln, type OpRow, type Sample } from '../eager/opinfo.js';

/** Compiled vs eager: same shapes and dtypes, values equal up to float32 fusion differences. */
async function expectSame(got: Tensor, want: Tensor, what: string): Promise<void> {
  expect(got.shape, `${what} shape`).toEqual(want.shape);
  expect(got.dtype, `${what} dtype`).toBe(want.dtype);
  const [g, w] = [await got.dataAsync(), await want.dataAsync()];
  const bad: string[] = [];
  for (let i = 0; i < w.length && bad.length < 8; i++) {
    const same = Object.is(g[i], w[i]) || (Number.isNaN(g[i]) && Number.isNaN(w[i])) || Math.abs(g[i] - w[i]) <= 1e-5 + 2e-5 * Math.abs(w[i]);
    if (!same) bad.push(`[${i}] compiled ${g[i]} vs eager ${w[i]}`);
  }
  expect(bad, `${what} values`).toEqual([]);
}

function inputs(sample: Sample, backend: BackendName, withGrad: boolean): { leaves: Tensor[]; xs: Tensor[] } {
  const which = withGrad ? gradInputs(sample) : [];
  const leaves = sample.inputs.map((s, i) => toKiln(s.base, backend, which.includes(i)));
  return { leaves, xs: leaves.map((t, i) => viewKiln(t, sample.inputs[i].view)) };
}

async function checkCompiled(row: OpRow, sample: Sample, backend: BackendName): Promise<void> {
  const { xs } = inputs(sample, backend, false);
  let eager: Tensor[];
  try { eager = asList(row.op(xs, sample.args)); } catch (e) {
    // Bad input must fail the same way compiled.
    expect(() => k.compile((...t: Tensor[]) => row.op(t, sample.args), { backend })(...xs)).toThrow((e as Error).message);
    return;
  }
  const f = k.compile((...t: Tensor[]) => row.op(t, sample.args), { backend });
  for (const call of ['trace', 'replay']) {
    const got = asList(f(...xs));
    expect(got.length).toBe(eager.length);
    for (let j = 0; j < eager.length; j++) await expectSame(got[j], eager[j], `${call} output ${j}`);
  }
}

async function checkCompiledGrad(row: OpRow, sample: Sample, backend: BackendName): Promise<void> {
  const run = (compiled: boolean) => {
    const { leaves, xs } = inputs(sample, backend, true);
    const step = (...t: Tensor[]) => {
      const outs = asList(row.op(t, sample.args));
      let loss: Tensor | null = null;
      outs.forEach((o, j) => { if (o.requiresGrad) { const term = o.mul(j + 1).sum(); loss = loss ? loss.add(term) : term; } });
      if (loss) (loss as Tensor).backward();
    };
    if (compiled) k.compile(step, { backend })(...xs); else step(...xs);
    return gradInputs(sample).map((i) => leaves[i].grad);
  };
  const [e, c] = [run(false), run(true)];
  for (let i = 0; i < e.length; i++) {
    if (!e[i]) { expect(c[i]).toBeNull(); continue; }
    await expectSame(c[i]!, e[i]!, `gradient ${i}`);
  }
}

beforeAll(() => setVerifyPasses(true));
afterAll(() => setVerifyPasses(false));

forEachBackend((backend) => {
  for (const row of OPINFO) {
    describe(row.name, () => {
      for (const sample of row.samples) {
        it(`${sample.desc} (compiled)`, () => checkCompiled(row, sample, backend));
        // Gradients on the synchronous backends (webgpu's eager gradients are covered by test/eager).
        if (backend !== 'webgpu' && (sample.grad ?? row.grad) && gradInputs(sample).length > 0) {
          it(`${sample.desc} (compiled forward+backward)`, () => checkCompiledGrad(row, sample, backend));
        }
      }
    });
  }
});
