// Builds the vitest conformance suite for a set of modes: one test per case and mode; a case on the
// allowlist must pass, a case the model alone shows kiln cannot run is skipped by name with the
// reason, the others run and are reported. A summary per mode prints the counts by suite and the
// unsupported cases grouped by missing op. Absent data makes the whole suite a named skip.
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/index.js';
import { DATA_ROOT, dataAvailable, listCases, modeName, readAllowlist, runCase, staticUnsupported, summarize, type Case, type Mode, type Outcome } from './conformance.js';

export async function conformanceSuite(modes: readonly Mode[], pick: (c: Case) => boolean = () => true): Promise<void> {
  if (!dataAvailable()) {
    console.warn(`[kiln tests] ONNX conformance data not found at ${DATA_ROOT} (apt-get install libonnx-testdata): suite skipped`);
    describe.skip(`onnx conformance: libonnx-testdata not installed at ${DATA_ROOT}`, () => { it('runs every case', () => {}); });
    return;
  }
  const allow = readAllowlist();
  const cases = listCases().filter(pick);
  const reasons = new Map(cases.map((c) => [c.id, staticUnsupported(c)]));
  for (const mode of modes) {
    let ready: string | null = null;
    try { await initBackend(mode.backend); } catch (e) { ready = (e as Error).message.split('\n')[0]; }
    if (ready !== null) {
      console.warn(`[kiln tests] backend ${mode.backend} unavailable: ${ready}`);
      describe.skip(`onnx conformance (${modeName(mode)}): backend ${mode.backend} unavailable: ${ready}`, () => { it('runs every case', () => {}); });
      continue;
    }
    describe(`onnx conformance (${modeName(mode)})`, () => {
      const results = new Map<string, Outcome>();
      for (const c of cases) {
        const why = reasons.get(c.id);
        if (why) {
          results.set(c.id, { status: 'unsupported', reason: why, missing: why.startsWith('ops ') ? why.slice(4).split(', ') : [] });
          it.skip(`${c.id} (unsupported: ${why})`, () => {});
          continue;
        }
        it(c.id, async (ctx) => {
          const r = await runCase(c, mode);
          results.set(c.id, r);
          // A value computed on webgpu that the model needs on the host cannot be read synchronously:
          // reported as skipped, with the reason, rather than passed or failed.
          if (r.status === 'unsupported' && mode.backend === 'webgpu') ctx.skip(`unsupported on webgpu: ${r.reason}`);
          if (allow.has(c.id)) expect(r.status === 'passed' ? 'passed' : `${r.status}: ${'reason' in r ? r.reason : ''}`).toBe('passed');
        });
      }
      afterAll(() => { console.log(`onnx conformance, ${modeName(mode)}:\n${summarize(results, allow)}`); });
    });
  }
}
