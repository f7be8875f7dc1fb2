// The main demo: the same model eagerly and compiled on the default backend, with the timings and
// the fused program compile() produced. Run: npm run demo
import * as kiln from '../src/index.js';

async function main(): Promise<void> {
  // wasm is the default; KILN_BACKEND=cpu|webgpu picks another. ready() waits until kernels compile
  // to WebAssembly (binaryen loads lazily; until then they run as JS).
  const name = process.env.KILN_BACKEND as kiln.BackendName | undefined;
  if (name) {
    await kiln.initBackend(name);
    kiln.setBackend(name);
  }
  await kiln.ready();
  console.log(`backend: ${kiln.currentBackend()}`);
  kiln.manualSeed(0);

  // A two-layer MLP block with a GELU (tanh form) and a softmax head.
  const W1 = kiln.randn([256, 512]).mul(0.05), b1 = kiln.zeros([512]);
  const W2 = kiln.randn([512, 10]).mul(0.05), b2 = kiln.zeros([10]);
  const model = (x: kiln.Tensor) => x.matmul(W1).add(b1).gelu('tanh').matmul(W2).add(b2).softmax(-1);
  const compiled = kiln.compile(model);
  const x = kiln.randn([128, 256]);

  const time = (f: () => kiln.Tensor, reps: number) => {
    f().data();
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) f().data();
    return (performance.now() - t0) / reps;
  };
  const eager = model(x), comp = compiled(x);
  const diff = eager.sub(comp).abs().max().item() as number;
  const te = time(() => model(x), 5), tc = time(() => compiled(x), 5);
  console.log(`eager    ${te.toFixed(2)} ms/call`);
  console.log(`compiled ${tc.toFixed(2)} ms/call  (speed-up ${(te / tc).toFixed(2)}x, max |eager - compiled| = ${diff.toExponential(2)})`);
  console.log(`cache: ${JSON.stringify(compiled.cacheInfo())}`);

  // The seed loop of the README: eager autograd through a data-dependent loop.
  const W = kiln.tensor(2, { requiresGrad: true });
  let h = kiln.tensor(3);
  const seen: number[] = [];
  for (let i = 0; i < 5; i++) { h = h.mul(W); seen.push(h.item() as number); }
  h.backward();
  console.log(`seed loop: ${seen.join(', ')}; W.grad = ${W.grad!.item()}`);

  const report = kiln.explain((v: kiln.Tensor) => v.gelu('tanh'), kiln.randn([4, 8]));
  console.log('\n' + report.toString());
}

main().catch((e) => { console.error(e); process.exit(1); });
