// Export checked by another runtime: every op-info row's samples are exported with kiln.onnx.export
// and run by onnxruntime-web, whose outputs must equal kiln's eager ones within float32 tolerance.
import { describe, expect, it } from 'vitest';
import * as kiln from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import { OPINFO, viewKiln, type Sample } from '../eager/opinfo.js';
import { asList, toKiln } from '../eager/harness.js';
import { compareOrt, runOrt } from './ort.js';

kiln.setBackend('cpu');

/**
 * onnxruntime's ReduceMax/ReduceMin and MaxPool skip NaN, where ONNX's reference implementation
 * (numpy) and kiln propagate it: the exported graph is right, the runtime differs. Samples of these
 * rows with NaN inputs are reported as skipped.
 */
const ORT_SKIPS_NAN = new Set(['max', 'min', 'amax', 'amin', 'maxPool1d', 'maxPool2d', 'adaptiveMaxPool2d']);
const hasNaN = (s: Sample) => s.inputs.some((i) => Array.from(i.base.data).some(Number.isNaN));

describe('onnx export: every op-info row runs in onnxruntime-web with kiln\'s results', () => {
  for (const row of OPINFO) {
    const skipped = ORT_SKIPS_NAN.has(row.name) ? row.samples.filter(hasNaN) : [];
    for (const s of skipped) it.skip(`${row.name}: ${s.desc} (onnxruntime skips NaN in max reductions; ONNX and kiln propagate it)`, () => {});
    it(row.name, async () => {
      const problems: string[] = [];
      for (const sample of row.samples.filter((s) => !skipped.includes(s))) {
        const xs = sample.inputs.map((s) => viewKiln(toKiln(s.base, 'cpu'), s.view));
        const f = (...ys: Tensor[]) => row.op(ys, sample.args);
        const want = asList(f(...xs));
        let outs;
        try {
          const bytes = kiln.onnx.export(f, xs);
          outs = await runOrt(bytes, Object.fromEntries(xs.map((x, i) => [`input_${i}`, x])));
        } catch (e) {
          problems.push(`${sample.desc}: ${(e as Error).message.split('\n')[0]}`);
          continue;
        }
        want.forEach((w, i) => {
          const err = compareOrt(w, outs[i], Math.max(row.rtol, 1e-4), Math.max(row.atol, 1e-5));
          if (err) problems.push(`${sample.desc}: output ${i}: ${err}`);
        });
      }
      expect(problems).toEqual([]);
    }, 60_000);
  }
});
