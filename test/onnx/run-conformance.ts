// `npm run onnx:report [-- --mode eager:wasm,compiled:cpu] [--filter S] [--verbose] [--unsupported]`:
// runs every conformance case and prints passed / failed / unsupported per suite, the failures, and
// the cases grouped by missing op. The vitest suite (conformance-*.test.ts) runs the same cases and
// checks the allowlist; `npm run onnx:conformance` runs it over every case in every mode.
import { initBackend } from '../../src/index.js';
import type { BackendName } from '../../src/index.js';
import { SUITES, dataAvailable, listCases, modeName, readAllowlist, runCase, sampleOf, type Mode, type Outcome } from './conformance.js';

const args = process.argv.slice(2);
const opt = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const modes: Mode[] = (opt('--mode') ?? 'eager:cpu').split(',').map((m) => {
  const [kind, backend] = m.split(':');
  return { compiled: kind === 'compiled', backend: backend as BackendName };
});
const filter = opt('--filter');
if (!dataAvailable()) { console.log('onnx conformance: data not installed (apt-get install libonnx-testdata)'); process.exit(0); }
for (const m of modes) await initBackend(m.backend);
const sample = opt('--sample') ? sampleOf(readAllowlist(), Number(opt('--sample'))) : () => true;
const cases = listCases().filter((c) => (!filter || c.id.includes(filter)) && sample(c));
for (const mode of modes) {
  const results = new Map<string, Outcome>();
  const t0 = performance.now();
  for (const c of cases) {
    const r = await runCase(c, mode);
    results.set(c.id, r);
    if (args.includes('--verbose') && r.status !== 'passed') console.log(`${c.id}: ${r.status} ${'reason' in r ? r.reason : ''}`);
  }
  console.log(`\n== ${modeName(mode)}: ${cases.length} cases in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  for (const s of SUITES) {
    const mine = [...results].filter(([id]) => id.startsWith(`${s}/`));
    const count = (st: string) => mine.filter(([, r]) => r.status === st).length;
    console.log(`${s}: ${count('passed')} passed, ${count('failed')} failed, ${count('unsupported')} unsupported (of ${mine.length})`);
  }
  const failed = [...results].filter(([, r]) => r.status === 'failed');
  if (failed.length) console.log(`failed:\n${failed.map(([id, r]) => `  ${id}: ${'reason' in r ? r.reason : ''}`).join('\n')}`);
  const byOp = new Map<string, string[]>();
  for (const [id, r] of results) if (r.status === 'unsupported') for (const k of r.missing.length ? r.missing : [r.reason]) byOp.set(k, [...(byOp.get(k) ?? []), id]);
  if (args.includes('--unsupported')) console.log(`unsupported by op:\n${[...byOp].sort((a, b) => b[1].length - a[1].length).map(([k, ids]) => `  ${k} (${ids.length}): ${ids.map((i) => i.split('/')[1]).join(' ')}`).join('\n')}`);
  if (args.includes('--passed')) console.log(`passed:\n${[...results].filter(([, r]) => r.status === 'passed').map(([id]) => id).join('\n')}`);
}
if (args.includes('--memory')) console.log(`rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB, heap ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB`);
