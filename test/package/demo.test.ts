// The README's demo (examples/demo.ts), shortened with DEMO_STEPS: it runs, the eager and compiled
// loss curves agree, explain() finds one graph without breaks, and the contrasting break points at the
// demo's own line. Its timings are not checked here (the machine is shared); the README shows a run.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));

describe('npm run demo', () => {
  it('trains eagerly and compiled with agreeing losses and reports explain() and a break at its line', async () => {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/demo.ts'], {
      cwd: repo, env: { ...process.env, DEMO_STEPS: '24' }, maxBuffer: 1 << 24,
    });
    expect(stderr).toMatch(/\[#+\] 24\/24 {2}loss eager \d\.\d{3} {2}compiled \d\.\d{3}/);
    const diff = Number(/losses agree: max \|eager - compiled\| = (\S+) /.exec(stdout)?.[1]);
    expect(diff).toBeLessThan(1e-4);
    expect(stdout).toMatch(/step time \(median of steps 11-24\): eager [\d.]+ ms, compiled [\d.]+ ms -> [\d.]+x faster compiled \(median of the steps' ratios\)/);
    expect(stdout).toMatch(/explain\(step\): 1 graph\(s\), 0 graph break\(s\), mode replay; \d+ ops fused into \d+ kernels \(\d+ elementwise, \d+ reduce, \d+ matmul\)/);
    const line = fs.readFileSync(path.join(repo, 'examples/demo.ts'), 'utf8').split('\n').findIndex((l) => l.includes('loss.item() as number) > 100')) + 1;
    expect(stdout).toContain(`breaks: item() at examples/demo.ts:${line} -> 2 graphs`);
    expect(stdout).toMatch(/\nnext:\n {2}DEMO_STEPS=20 npx kiln dump examples\/demo\.ts/);
    expect(stdout).toMatch(/later calls replayed the cached program \(1 trace, 23 cache hits\)/);
  });
});
