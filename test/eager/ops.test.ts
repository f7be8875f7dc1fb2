// The generic op suite: every backend x every op-info row x every sample. Eager result ≈ float64
// reference (shape, dtype, values; NaN where NaN), and for differentiable rows the autograd gradient
// of Σ out·cotangent ≈ central finite differences of the reference. All reads are async so the same
// code runs on webgpu.
import { describe, expect, it } from 'vitest';
import * as kiln from '../../src/index.js';
import type { BackendName, Tensor } from '../../src/index.js';
import { OP_NAMES, type OpName } from '../../src/ops/index.js';
import { forEachBackend } from './backends.js';
import { asList, cotangents, finiteDifferences, gradInputs, mismatches, toKiln } from './harness.js';
import { OPINFO, knownOn, viewKiln, viewRef, type OpRow, type Sample } from './opinfo.js';
import * as R from './reference.js';
import { CNN_NO_0D } from './opinfo-cnn.js';
import { PARITY_NO_0D } from './opinfo-parity.js';

async function checkValue(row: OpRow, sample: Sample, backend: BackendName): Promise<void> {
  const xs = sample.inputs.map((s) => viewKiln(toKiln(s.base, backend), s.view));
  const want = asList(row.ref(sample.inputs.map((s) => viewRef(s.base, s.view)), sample.args));
  const got = asList(row.op(xs, sample.args));
  expect(got.length, 'number of outputs').toBe(want.length);
  for (let j = 0; j < want.length; j++) {
    const what = `output ${j}`;
    expect(got[j].shape, `${what} shape`).toEqual(want[j].shape);
    expect(got[j].dtype, `${what} dtype`).toBe(want[j].dtype);
    expect(got[j].backend, `${what} backend`).toBe(backend);
    const data = await got[j].dataAsync();
    expect(mismatches(data, want[j], sample.atol ?? row.atol, sample.rtol ?? row.rtol), `${what} values`).toEqual([]);
  }
}

async function checkGrad(row: OpRow, sample: Sample, backend: BackendName): Promise<void> {
  const which = gradInputs(sample);
  const leaves = sample.inputs.map((s, i) => toKiln(s.base, backend, which.includes(i)));
  const xs = leaves.map((t, i) => viewKiln(t, sample.inputs[i].view));
  const outs = asList(row.op(xs, sample.args));
  const wantOuts = asList(row.ref(sample.inputs.map((s) => viewRef(s.base, s.view)), sample.args));
  const cots = cotangents(wantOuts, R.hashString(`${row.name}|${sample.desc}`));
  let loss: Tensor | null = null;
  outs.forEach((o, j) => {
    const c = cots[j];
    if (!c || !o.requiresGrad) return;
    expect(o.shape, `output ${j} shape`).toEqual(c.shape);
    const term = o.mul(toKiln(c, backend)).sum();
    loss = loss ? loss.add(term) : term;
  });
  if (loss) (loss as Tensor).backward();
  for (const i of which) {
    const fd = finiteDifferences(row, sample, cots, i);
    const g = leaves[i].grad;
    const what = `gradient of input ${i}`;
    if (!g) {
      // No gradient reached this input: only right when the function does not depend on it.
      expect(mismatches(new Float64Array(fd.data.length), fd, row.gradAtol, row.gradRtol), `${what} is null but finite differences are not 0`).toEqual([]);
      continue;
    }
    expect(g.shape, `${what} shape`).toEqual(sample.inputs[i].base.shape);
    expect(g.dtype, `${what} dtype`).toBe('float32');
    expect(mismatches(await g.dataAsync(), fd, row.gradAtol, row.gradRtol), `${what} vs finite differences`).toEqual([]);
  }
}

forEachBackend((backend) => {
  for (const row of OPINFO) {
    describe(row.name, () => {
      for (const sample of row.samples) {
        // A sample marked with a known kiln bug is expected to fail (it.fails), so a fix shows up as a failure to update.
        const bug = knownOn(sample.knownBug, backend);
        (bug ? it.fails : it)(bug ? `${sample.desc} [known bug: ${bug}]` : sample.desc, () => checkValue(row, sample, backend));
        const wantsGrad = (sample.grad ?? row.grad) && gradInputs(sample).length > 0;
        const gradBug = knownOn(sample.knownGradBug, backend) ?? knownOn(row.knownGradBug, backend);
        if (wantsGrad) {
          (gradBug ? it.fails : it)(`${sample.desc} (gradient)${gradBug ? ` [known bug: ${gradBug}]` : ''}`, () => checkGrad(row, sample, backend));
        }
      }
    });
  }
});

/**
 * Registry primitives whose public names differ from the registry's: `cast` is torch's `Tensor.to`
 * (torch has no function form of it). Every other primitive is a row, a function and a method of its own name.
 */
const PUBLIC_FORMS: Partial<Record<OpName, { row: string; method: string; fn: string | null }>> = {
  cast: { row: 'to', method: 'to', fn: null },
};

describe('op-info table', () => {
  it('covers every registry primitive with a row, a function form and a method form', () => {
    const rows = new Set(OPINFO.map((r) => r.name));
    const api = kiln as unknown as Record<string, unknown>;
    const methods = kiln.Tensor.prototype as unknown as Record<string, unknown>;
    const missing: string[] = [];
    for (const op of OP_NAMES) {
      const forms = PUBLIC_FORMS[op] ?? { row: op, method: op, fn: op };
      if (!rows.has(forms.row)) missing.push(`${op}: no op-info row '${forms.row}'`);
      if (typeof methods[forms.method] !== 'function') missing.push(`${op}: no method Tensor.${forms.method}`);
      if (forms.fn !== null && typeof api[forms.fn] !== 'function') missing.push(`${op}: no function kiln.${forms.fn}`);
    }
    expect(missing).toEqual([]);
  });

  it('has a row for every op the brief lists', () => {
    const names = new Set(OPINFO.map((r) => r.name));
    const listed = `add sub mul div pow neg abs exp log sqrt rsqrt sin cos tanh sigmoid relu gelu gelu(tanh) silu softplus maximum minimum
      clamp where eq ne lt le gt ge logicalAnd logicalOr logicalNot floor ceil round sign remainder reciprocal erf sum mean amax amin max min argmax
      argmin prod var std logsumexp matmul softmax logSoftmax layerNorm reshape flatten squeeze unsqueeze transpose permute expand slice
      narrow flip contiguous cat stack split pad gather indexSelect embedding to mseLoss crossEntropy binaryCrossEntropy
      maskedFill tril triu oneHot cumsum cumprod sort argsort topk einsum repeat chunk roll diag diagonal outer lerp addmm isnan isinf
      isfinite isclose nanToNum vectorNorm scaledDotProductAttention rmsNorm nllLoss binaryCrossEntropyWithLogits l1Loss smoothL1Loss
      huberLoss klDiv cosineEmbeddingLoss`.split(/\s+/);
    expect(listed.filter((n) => !names.has(n))).toEqual([]);
  });

  it('covers 0-d, empty and non-contiguous samples in every row', () => {
    // Ops that reject 0-d inputs in PyTorch too.
    const no0d = new Set(['matmul', 'layerNorm', 'narrow', 'cat', 'split', 'pad', ...CNN_NO_0D, ...PARITY_NO_0D]);
    const missing: string[] = [];
    for (const r of OPINFO) {
      const kinds = r.samples.flatMap((s) => s.inputs.map((i) => ({ shape: viewRef(i.base, i.view).shape, view: i.view })));
      if (!kinds.some((x) => x.view !== undefined)) missing.push(`${r.name}: no non-contiguous input`);
      if (!kinds.some((x) => x.shape.includes(0))) missing.push(`${r.name}: no empty input`);
      if (!no0d.has(r.name) && !kinds.some((x) => x.shape.length === 0)) missing.push(`${r.name}: no 0-d input`);
    }
    expect(missing).toEqual([]);
  });
});
