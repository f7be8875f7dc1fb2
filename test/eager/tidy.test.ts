// tidy(): deterministic release for eager loops (finalizers only run when the event loop turns).
import { expect, it } from 'vitest';
import * as k from '../../src/index.js';

it('disposes what fn created except its result, .grad writes and keep()', () => {
  const x = k.randn([100], { backend: 'cpu' });
  const b = k.getBackend('cpu');
  x.mul(2).add(1).mul(3); // scalar constants are cached once per value: create them before measuring
  const before = b.allocatedBytes();
  let kept: k.Tensor | null = null;
  const out = k.tidy(() => {
    const h = x.mul(2).add(1).exp(); // intermediates
    kept = k.keep(h.mul(3));
    return { y: h.sum(), list: [h.neg()] };
  });
  // Survivors: y (4 bytes), list[0] (400 bytes), kept (400 bytes).
  expect(b.allocatedBytes() - before).toBe(804);
  expect(out.y.item()).toBeCloseTo(x.mul(2).add(1).exp().sum().item() as number, 3);
  expect(kept!.size).toBe(100);
  expect(() => k.tidy(() => { const t = x.add(1); return () => t.data(); })()).toThrow(/disposed/);
});

it('keeps gradients written by backward inside it, frees the rest', () => {
  const W = k.randn([8, 8], { requiresGrad: true, backend: 'cpu' });
  const b = k.getBackend('cpu');
  k.tidy(() => { W.matmul(W).tanh().sum().backward(); });
  W.grad = null;
  const base = b.allocatedBytes();
  for (let i = 0; i < 5; i++) {
    k.tidy(() => { W.grad = null; W.matmul(W).tanh().sum().backward(); });
  }
  expect(W.grad!.shape).toEqual([8, 8]);
  // One live gradient (256 bytes) and nothing else left over from five iterations.
  expect(b.allocatedBytes() - base).toBe(256);
});

it('a synchronous eager loop in tidy() keeps wasm memory flat', async () => {
  await k.initBackend('wasm');
  const w = k.getBackend('wasm');
  const x = k.randn([1 << 16], { backend: 'wasm' });
  k.tidy(() => { x.mul(2).gelu('tanh').softmax(-1).sum(); });
  const start = w.allocatedBytes();
  for (let i = 0; i < 300; i++) k.tidy(() => { x.mul(2).gelu('tanh').softmax(-1).sum(); });
  expect(w.allocatedBytes()).toBe(start);
});
