// examples/checkpoint_train.ts: a compiled DataLoader/AdamW/SequentialLR/clipGradNorm_ loop whose
// checkpoint, reloaded into fresh objects, continues bit for bit as the original run.
import { expect, it } from 'vitest';
import { trainWithCheckpoint } from '../../examples/checkpoint_train.js';

it('the resumed run repeats the original losses exactly; one trace; the loss falls', async () => {
  const r = await trainWithCheckpoint({ epochs: 4, saveAt: 2 });
  expect(r.losses.length).toBe(32);
  expect(r.resumedLosses).toEqual(r.losses.slice(16));
  expect(r.traces).toBe(1);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  expect(mean(r.losses.slice(-8))).toBeLessThan(mean(r.losses.slice(0, 8)));
});
