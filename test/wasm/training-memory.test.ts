// A 10,000-step training loop on wasm keeps its memory bounded: compiled steps free their temporaries
// as the plan says, and tensors dropped by the loop (old grads, returned losses) are reclaimed by the
// FinalizationRegistry backstop without any dispose() in user code.
import { expect, it } from 'vitest';
import * as k from '../../src/index.js';

it('10,000 compiled Adam steps keep wasm memory bounded', { timeout: 300_000 }, async () => {
  await k.initBackend('wasm');
  k.manualSeed(0);
  const model = new k.nn.Sequential(new k.nn.Linear(32, 64, {}), new k.nn.ReLU(), new k.nn.Linear(64, 4));
  const params = model.parameters().map((p) => p.to('wasm').requiresGrad_(true));
  const [W1, b1, W2, b2] = params;
  const opt = new k.optim.Adam(params, { lr: 1e-3 });
  const step = k.compile((x: k.Tensor, y: k.Tensor) => {
    opt.zeroGrad();
    const logits = x.matmul(W1.mT()).add(b1).relu().matmul(W2.mT()).add(b2);
    const loss = k.nn.crossEntropy(logits, y);
    loss.backward();
    opt.step();
    return loss;
  }, { backend: 'wasm' });
  const x = k.randn([16, 32], { backend: 'wasm' });
  const y = k.randint(0, 4, [16], { backend: 'wasm' });
  const wasm = k.getBackend('wasm');
  const perStep = params.reduce((s, p) => s + p.size * 4, 0); // what one step's grads would leak
  let first = 0, peak = 0;
  for (let i = 0; i < 10_000; i++) {
    step(x, y);
    if (i === 100) first = wasm.allocatedBytes();
    if (i > 100) peak = Math.max(peak, wasm.allocatedBytes());
    if (i % 1000 === 999) await new Promise((r) => setTimeout(r, 0)); // let finalizers run
  }
  expect(step.cacheInfo().traces).toBe(1);
  // Without reclamation 9,900 steps would add ~9,900 x perStep bytes (about 90 MB); allow 300 steps' worth.
  expect(peak - first).toBeLessThan(300 * perStep);
  expect((step(x, y).item() as number)).toBeLessThan(1.4); // and it learned something
});
