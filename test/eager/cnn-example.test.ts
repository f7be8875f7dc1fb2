// examples/cnn_train.ts, reduced: the drawn digits are seeded and balanced, a compiled run reaches
// ≥ 95% held-out accuracy, and compiled training steps match eager ones step for step.
import { describe, expect, it } from 'vitest';
import { drawDigits, trainCnn, SIDE } from '../../examples/cnn_train.js';
import { ready } from '../../src/index.js';

await ready();

describe('examples/cnn_train.ts', () => {
  it('draws seeded, balanced 28×28 digit images', () => {
    const a = drawDigits(40, 5), b = drawDigits(40, 5);
    expect(a.pixels).toEqual(b.pixels);
    expect(a.pixels.length).toBe(40 * SIDE * SIDE);
    expect(Array.from(a.labels.slice(0, 12))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    // Ink covers a fair part of each image, and an 8 has more than a 1.
    const ink = (i: number) => a.pixels.subarray(i * SIDE * SIDE, (i + 1) * SIDE * SIDE).reduce((s, v) => s + (v > 0.5 ? 1 : 0), 0);
    expect(ink(8)).toBeGreaterThan(ink(1));
    expect(ink(1)).toBeGreaterThan(20);
  });

  it('compiled training steps match eager ones', { timeout: 600_000 }, () => {
    const train = drawDigits(96, 3), test = drawDigits(20, 4);
    const opts = { train, test, epochs: 1, batchSize: 32 };
    const eager = trainCnn({ ...opts, compiled: false });
    const compiled = trainCnn({ ...opts, compiled: true });
    expect(compiled.losses).toHaveLength(3);
    compiled.losses.forEach((l, i) => expect(Math.abs(l - eager.losses[i]), `step ${i}: ${l} vs ${eager.losses[i]}`).toBeLessThan(1e-4 * (1 + Math.abs(l))));
    const e = eager.model.stateDict(), c = compiled.model.stateDict();
    for (const [name, t] of Object.entries(e)) {
      const [a, b] = [Array.from(t.data()), Array.from(c[name].data())];
      const worst = Math.max(0, ...a.map((v, i) => Math.abs(v - b[i]) / (1e-3 + Math.abs(v))));
      expect(worst, name).toBeLessThan(1e-3);
    }
  });

  it('a reduced compiled run reaches ≥ 95% held-out accuracy with a falling loss', { timeout: 600_000 }, () => {
    const r = trainCnn({ train: drawDigits(2000, 1), test: drawDigits(500, 2), compiled: true, epochs: 3, batchSize: 32 });
    expect(r.epochs[2].accuracy).toBeGreaterThanOrEqual(0.95);
    expect(r.epochs[2].loss).toBeLessThan(r.epochs[0].loss / 3);
  });
});
