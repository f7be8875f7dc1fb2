// examples/gpt_train.ts, reduced to two epochs: eager and compiled training steps agree within the
// example's tolerance, the loss falls, and the compiled run resumed from its mid-run checkpoint in
// fresh objects repeats the uninterrupted run's losses exactly, with one trace of the step.
import { expect, it } from 'vitest';
import { LOSS_RTOL, chars, trainGPT } from '../../examples/gpt_train.js';
import { ready } from '../../src/index.js';

await ready();

it('examples/gpt_train.ts: eager and compiled agree, the loss falls, the resumed run is bit-identical', async () => {
  const r = await trainGPT({ epochs: 2, saveAt: 1 });
  const steps = r.eager.length;
  expect(steps).toBe(30);
  expect(r.compiled.length).toBe(steps);
  for (let i = 0; i < steps; i++) {
    expect(Number.isFinite(r.eager[i])).toBe(true);
    expect(Math.abs(r.eager[i] - r.compiled[i]), `step ${i + 1}`).toBeLessThanOrEqual(LOSS_RTOL * Math.abs(r.eager[i]));
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  // From about ln(vocab) to clearly below it.
  expect(r.eager[0]).toBeGreaterThan(0.9 * Math.log(chars.length));
  expect(mean(r.eager.slice(-5))).toBeLessThan(0.85 * mean(r.eager.slice(0, 5)));
  expect(r.resumed).toEqual(r.compiled.slice(steps / 2));
  expect(r.traces).toBe(1);
  expect(r.sample.length).toBe('First Citizen:\n'.length + 40);
  expect([...r.sample].every((c) => chars.includes(c))).toBe(true);
}, 300_000);
