import * as k from '../../src/index.js';
import { generate } from './generate.js';
import { runProgram } from './runner.js';
await k.ready();
const b = k.getBackend('wasm') as unknown as { stats: () => { compiled: number; cacheHits: number; compileMs: number } };
const t0 = performance.now();
let gen = 0, run = 0;
for (let i = 0; i < 30; i++) {
  const g0 = performance.now();
  const p = generate(1, i, { small: true });
  gen += performance.now() - g0;
  const r0 = performance.now();
  await runProgram(p, { backend: 'wasm', crossCheck: false });
  run += performance.now() - r0;
}
console.log({ total: performance.now() - t0, gen, run, stats: b.stats() });
