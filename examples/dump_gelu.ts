// GELU (tanh form) compiled: its eight elementwise ops fuse into one kernel. The input of the README's
// `npx kiln dump examples/dump_gelu.ts` section and of test/tools/dump.test.ts.
// KILN_BACKEND=webgpu (or wasm) runs it there, so the dump holds WGSL (or WAT) instead of JS.
import * as kiln from '../src/index.js';

function gelu(x: kiln.Tensor): kiln.Tensor {
  return x.gelu('tanh');
}

const backend = (process.env.KILN_BACKEND ?? 'cpu') as kiln.BackendName;
await kiln.initBackend(backend);
kiln.setBackend(backend);
kiln.manualSeed(0);
const compiled = kiln.compile(gelu);
const x = kiln.randn([256, 512]);
const y = compiled(x);
compiled(x); // a cache hit: replays the one kernel
const diff = (await y.sub(gelu(x)).abs().max().itemAsync()) as number;
console.log(`gelu on [256,512] (${backend}): max |compiled - eager| = ${diff.toExponential(1)}`);
