// bench/onnx.ts runs (a smoke run of one workload): kiln and onnxruntime agree and both are timed.
import { describe, expect, it } from 'vitest';
import { formatOnnxBench, runOnnxBench } from '../../bench/onnx.js';

describe('npm run bench:onnx', () => {
  it('times the re-imported attention block against onnxruntime-web (quick)', async () => {
    const rows = await runOnnxBench({ quick: true, filter: 'attention' });
    expect(rows).toHaveLength(1);
    const [r] = rows;
    expect(r.maxAbsDiff).toBeLessThan(1e-4);
    expect(r.kilnMs).toBeGreaterThan(0);
    expect(r.ortMs).toBeGreaterThan(0);
    expect(formatOnnxBench(rows)).toMatch(/attention block \| [\d.]+ \| [\d.]+ \| [\d.]+x/);
  }, 300_000);
});
