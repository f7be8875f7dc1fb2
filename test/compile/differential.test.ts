// Differential fuzzing: seeded random programs (test/fuzz/generate.ts) run eagerly and through
// compile() on every backend — the tracing call, a replay, another size, another layout — with
// outputs, gradients, arguments and captured tensors after the call, logs and counters compared
// (test/fuzz/compare.ts gives the tolerance rule), and eager on wasm and webgpu also checked against
// eager on the cpu reference. A failure prints each mismatching program and the first one shrunk to a
// minimal test. `npm run fuzz -- --programs N` runs as many as asked. KILN_FUZZ_SEED and
// KILN_FUZZ_SCALE (a factor on the program counts) override the defaults.
import { describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import type { BackendName } from '../../src/index.js';
import { BACKENDS } from '../eager/backends.js';
import { describeFinding, fuzzBackend, parseFuzzArgs } from '../fuzz/cli.js';
import { emitRepro } from '../fuzz/emit.js';
import { shrink } from '../fuzz/shrink.js';

const SEED = Number(process.env.KILN_FUZZ_SEED ?? 20260601);
const SCALE = Number(process.env.KILN_FUZZ_SCALE ?? 1);
const PROGRAMS: Record<BackendName, number> = { cpu: 200, wasm: 120, webgpu: 12 };

await k.ready();

for (const b of BACKENDS) {
  if (!b.available) {
    console.warn(`[differential.test.ts] backend ${b.name} unavailable: ${b.reason}`);
    describe.skip(`differential fuzz: backend ${b.name} unavailable: ${b.reason}`, () => { it('runs the programs', () => {}); });
    continue;
  }
  const n = Math.max(1, Math.round(PROGRAMS[b.name] * SCALE));
  describe(`differential fuzz on ${b.name}`, () => {
    it(`${n} seeded programs (seed ${SEED}): compiled matches eager`, async () => {
      const args = { ...parseFuzzArgs([]), programs: n, seed: SEED, small: true, backends: [b.name] };
      const r = await fuzzBackend(b.name, args, () => {});
      const lines = r.failures.map((f) => describeFinding(f.backend, f.program, f.findings[0], args));
      if (r.failures.length) {
        const f = r.failures[0];
        const s = await shrink(f.program, f.findings[0], { backend: b.name, crossCheck: true }, 10_000);
        console.log(`${r.failures.length} of ${r.programs} programs mismatch on ${b.name}; the first, shrunk:\n${emitRepro(s.program, b.name, describeFinding(b.name, f.program, s.finding, args), b.name === 'webgpu')}`);
      }
      expect(r.genErrors).toEqual([]);
      expect(lines).toEqual([]);
    }, 600_000);
  });
}
