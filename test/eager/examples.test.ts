// The runnable examples, checked: the seed loop's numbers (in-process and as a script) and the MLP
// reaching ≥ 95% training accuracy on the spiral.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { seedLoop } from '../../examples/seed_loop.js';
import { spiral, trainMlp } from '../../examples/mlp_train.js';
import { manualSeed } from '../../src/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('examples/seed_loop.ts', () => {
  it('x = x·W five times gives 6 12 24 48 96 and W.grad = 15·W⁴ = 240', () => {
    const lines: string[] = [];
    const { values, grad } = seedLoop((l) => lines.push(l));
    expect(values).toEqual([6, 12, 24, 48, 96]);
    expect(grad).toBe(240);
    expect(lines).toEqual([
      'x = tensor(6., grad_fn=<mul>)', 'x = tensor(12., grad_fn=<mul>)', 'x = tensor(24., grad_fn=<mul>)',
      'x = tensor(48., grad_fn=<mul>)', 'x = tensor(96., grad_fn=<mul>)', 'W.grad = tensor(240.)',
    ]);
  });

  it('runs as a script and prints the same lines', { timeout: 60_000 }, () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'examples/seed_loop.ts'], { cwd: root, encoding: 'utf8' });
    expect(out.trim().split('\n')).toEqual([
      'x = tensor(6., grad_fn=<mul>)', 'x = tensor(12., grad_fn=<mul>)', 'x = tensor(24., grad_fn=<mul>)',
      'x = tensor(48., grad_fn=<mul>)', 'x = tensor(96., grad_fn=<mul>)', 'W.grad = tensor(240.)',
    ]);
  });
});

describe('examples/mlp_train.ts', () => {
  it('the spiral is seeded: two balanced classes, points inside the unit disc', () => {
    manualSeed(0);
    const a = spiral(50);
    manualSeed(0);
    const b = spiral(50);
    expect(Array.from(b.x.data())).toEqual(Array.from(a.x.data()));
    expect(a.x.shape).toEqual([100, 2]);
    const labels = Array.from(a.y.data());
    expect(labels.filter((v) => v === 1)).toHaveLength(50);
    const r = a.x.mul(a.x).sum(1).sqrt().max().item() as number;
    expect(r).toBeLessThanOrEqual(1 + 1e-6);
  });

  it('training is deterministic for a seed', () => {
    const a = trainMlp({ steps: 3, every: 1000 });
    const b = trainMlp({ steps: 3, every: 1000 });
    expect(b.losses).toEqual(a.losses);
  });

  it('reaches ≥ 95% training accuracy with a falling loss', () => {
    const r = trainMlp({ target: 0.95, every: 10 });
    expect(r.accuracy).toBeGreaterThanOrEqual(0.95);
    expect(r.losses[r.losses.length - 1]).toBeLessThan(r.losses[0] / 3);
    expect(r.steps).toBeLessThanOrEqual(250);
  });
});
