// The framework's op-info table (test/eager/opinfo.ts) run on the wasm backend: every row x sample,
// eager values against the float64 reference, gradients against finite differences, and compiled
// (fused) forward and forward+backward against the cpu backend's eager results. The kernels here are
// the ones the frontend really emits (fused chains, row-fused softmax, gathers of 0-d sources ...).
// The wasm loader is registered here in case the wiring (src/index.ts) has not done it yet.
import { describe, expect, it } from 'vitest';
import { compile, initBackend, hasBackend, type Tensor } from '../../src/index.js';
import { registerBackendLoader } from '../../src/core/backend.js';
import { asList, cotangents, finiteDifferences, gradInputs, mismatches, toKiln } from '../eager/harness.js';
import { OPINFO, knownOn, viewKiln, viewRef, type OpRow, type Sample } from '../eager/opinfo.js';
import * as R from '../eager/reference.js';

if (!hasBackend('wasm')) registerBackendLoader('wasm', async () => (await import('../../backends/wasm/index.js')).createWasmBackend());
await initBackend('wasm');
const B = 'wasm';

async function checkValue(row: OpRow, sample: Sample): Promise<void> {
  const xs = sample.inputs.map((s) => viewKiln(toKiln(s.base, B), s.view));
  const want = asList(row.ref(sample.inputs.map((s) => viewRef(s.base, s.view)), sample.args));
  const got = asList(row.op(xs, sample.args));
  expect(got.length).toBe(want.length);
  for (let j = 0; j < want.length; j++) {
    expect(got[j].shape, `output ${j} shape`).toEqual(want[j].shape);
    expect(got[j].dtype, `output ${j} dtype`).toBe(want[j].dtype);
    expect(mismatches(got[j].data(), want[j], sample.atol ?? row.atol, sample.rtol ?? row.rtol), `output ${j} values`).toEqual([]);
  }
}

function checkGrad(row: OpRow, sample: Sample): void {
  const which = gradInputs(sample);
  const leaves = sample.inputs.map((s, i) => toKiln(s.base, B, which.includes(i)));
  const xs = leaves.map((t, i) => viewKiln(t, sample.inputs[i].view));
  const outs = asList(row.op(xs, sample.args));
  const wantOuts = asList(row.ref(sample.inputs.map((s) => viewRef(s.base, s.view)), sample.args));
  const cots = cotangents(wantOuts, R.hashString(`${row.name}|${sample.desc}`));
  let loss: Tensor | null = null;
  outs.forEach((o, j) => {
    const c = cots[j];
    if (!c || !o.requiresGrad) return;
    const term = o.mul(toKiln(c, B)).sum();
    loss = loss ? loss.add(term) : term;
  });
  if (loss) (loss as Tensor).backward();
  for (const i of which) {
    const fd = finiteDifferences(row, sample, cots, i);
    const g = leaves[i].grad;
    if (!g) {
      expect(mismatches(new Float64Array(fd.data.length), fd, row.gradAtol, row.gradRtol), `input ${i}: no gradient`).toEqual([]);
      continue;
    }
    expect(mismatches(g.data(), fd, row.gradAtol, row.gradRtol), `gradient of input ${i}`).toEqual([]);
  }
}

/** wasm vs cpu: same shape and dtype, values equal up to float32-vs-float64 rounding. */
function expectNear(got: Tensor, want: Tensor, what: string): void {
  expect(got.shape, `${what} shape`).toEqual(want.shape);
  expect(got.dtype, `${what} dtype`).toBe(want.dtype);
  const [g, w] = [got.data(), want.data()];
  const bad: string[] = [];
  for (let i = 0; i < w.length && bad.length < 8; i++) {
    const same = Object.is(g[i], w[i]) || (Number.isNaN(g[i]) && Number.isNaN(w[i])) || Math.abs(g[i] - w[i]) <= 1e-5 + 1e-4 * Math.abs(w[i]);
    if (!same) bad.push(`[${i}] wasm ${g[i]} vs cpu ${w[i]}`);
  }
  expect(bad, `${what} values`).toEqual([]);
}

function checkCompiled(row: OpRow, sample: Sample): void {
  const xs = sample.inputs.map((s) => viewKiln(toKiln(s.base, B), s.view));
  const xc = sample.inputs.map((s) => viewKiln(toKiln(s.base, 'cpu'), s.view));
  let eager: Tensor[];
  try { eager = asList(row.op(xc, sample.args)); } catch (e) {
    expect(() => compile((...t: Tensor[]) => row.op(t, sample.args), { backend: B })(...xs)).toThrow((e as Error).message);
    return;
  }
  const f = compile((...t: Tensor[]) => row.op(t, sample.args), { backend: B });
  for (const call of ['trace', 'replay']) {
    const got = asList(f(...xs));
    expect(got.length).toBe(eager.length);
    for (let j = 0; j < eager.length; j++) expectNear(got[j], eager[j], `${call} output ${j}`);
  }
}

function checkCompiledGrad(row: OpRow, sample: Sample): void {
  const run = (backend: 'cpu' | 'wasm', compiled: boolean) => {
    const which = gradInputs(sample);
    const leaves = sample.inputs.map((s, i) => toKiln(s.base, backend, which.includes(i)));
    const xs = leaves.map((t, i) => viewKiln(t, sample.inputs[i].view));
    const step = (...t: Tensor[]) => {
      const outs = asList(row.op(t, sample.args));
      let loss: Tensor | null = null;
      outs.forEach((o, j) => { if (o.requiresGrad) { const term = o.mul(j + 1).sum(); loss = loss ? loss.add(term) : term; } });
      if (loss) (loss as Tensor).backward();
    };
    if (compiled) compile(step, { backend })(...xs); else step(...xs);
    return which.map((i) => leaves[i].grad);
  };
  const [want, got] = [run('cpu', false), run(B, true)];
  for (let i = 0; i < want.length; i++) {
    if (!want[i]) { expect(got[i]).toBeNull(); continue; }
    expectNear(got[i]!, want[i]!, `gradient ${i}`);
  }
}

describe('op-info rows on wasm', () => {
  for (const row of OPINFO) {
    describe(row.name, () => {
      for (const sample of row.samples) {
        const bug = knownOn(sample.knownBug, B);
        (bug ? it.fails : it)(bug ? `${sample.desc} [known bug: ${bug}]` : sample.desc, () => checkValue(row, sample));
        const gradBug = knownOn(sample.knownGradBug, B) ?? knownOn(row.knownGradBug, B);
        if ((sample.grad ?? row.grad) && gradInputs(sample).length > 0) {
          (gradBug ? it.fails : it)(`${sample.desc} (gradient)`, () => checkGrad(row, sample));
        }
        if (!bug) it(`${sample.desc} (compiled)`, () => checkCompiled(row, sample));
        if (!bug && !gradBug && (sample.grad ?? row.grad) && gradInputs(sample).length > 0) {
          it(`${sample.desc} (compiled forward+backward)`, () => checkCompiledGrad(row, sample));
        }
      }
    });
  }
});
