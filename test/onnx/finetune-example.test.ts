// examples/onnx_finetune.ts: export, import checked by onnxruntime-web, fine-tuning (loss ≥ 10x
// lower), re-export checked by onnxruntime-web.
import { describe, expect, it } from 'vitest';
import { runFinetune } from '../../examples/onnx_finetune.js';

describe('examples/onnx_finetune.ts', () => {
  it('round-trips through ONNX and fine-tunes the imported model', async () => {
    const r = await runFinetune({ pretrainSteps: 120, finetuneSteps: 150 });
    expect(r.pretrainLoss[r.pretrainLoss.length - 1]).toBeLessThan(r.pretrainLoss[0] / 10);
    expect(r.importedVsOrt).toBeLessThan(1e-4);
    expect(r.before / r.after).toBeGreaterThanOrEqual(10);
    expect(r.exportedVsOrt).toBeLessThan(1e-4);
  }, 300_000);
});
