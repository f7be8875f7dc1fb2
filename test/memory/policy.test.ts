// What frees memory without tidy(), and what must never be freed: backward frees the gradients it
// computes and the internals of kiln's composites (deterministically, in every host); synchronous
// reclamation frees what is unreachable and nothing a user still holds; a synchronous loop that
// would exhaust memory stops with a KilnError that says what to do; kiln.memory() reports by op.
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as k from '../../src/index.js';

let saved: Required<k.MemoryOptions>;
beforeAll(async () => {
  await k.ready();
  saved = k.configureMemory();
});
afterEach(() => { k.configureMemory(saved); vi.restoreAllMocks(); });

const live = () => k.memory().numBytes;
const bytesOf = (ts: readonly k.Tensor[]) => ts.reduce((s, t) => s + t.size * 4, 0);

describe('backward frees what it computes', () => {
  it('a kiln-layer MLP: after backward only the loss, the model output and the gradients stay', () => {
    k.configureMemory({ collect: false }); // no reclamation: only what kiln frees itself
    k.manualSeed(3);
    const model = new k.nn.Sequential(new k.nn.Linear(32, 64), new k.nn.GELU('tanh'), new k.nn.LayerNorm(64), new k.nn.Linear(64, 8));
    const x = k.randn([16, 32]), y = k.randint(0, 8, [16]);
    const params = model.parameters();
    const step = () => { const loss = k.nn.crossEntropy(model.forward(x), y); loss.backward(); return loss; };
    step(); // warm the scalar-constant cache
    params.forEach((p) => { p.grad = null; });
    const before = live();
    const loss = step();
    // The loss (4 bytes) and the .grads; the logits [16,8] only until the garbage collector sees them,
    // since Sequential returns them to crossEntropy, outside any composite.
    const left = live() - before;
    expect(left).toBeLessThanOrEqual(4 + bytesOf(params) + 16 * 8 * 4 + 64);
    expect(left).toBeGreaterThanOrEqual(4 + bytesOf(params));
    expect(Number.isFinite(loss.item() as number)).toBe(true);
  });

  it('gradients match with and without the engine freeing (retainGraph keeps everything)', () => {
    k.manualSeed(4);
    const W = k.randn([8, 8], { requiresGrad: true }), b = k.randn([8], { requiresGrad: true });
    const x = k.randn([4, 8]);
    const f = () => k.layerNorm(x.matmul(W).add(b).softmax(-1).mul(3), [8]).gelu().sum();
    f().backward();
    const g1 = W.grad!.toArray(), gb1 = b.grad!.toArray();
    W.grad = null; b.grad = null;
    const out = f();
    out.backward(undefined, { retainGraph: true });
    expect(W.grad!.toArray()).toEqual(g1);
    expect(b.grad!.toArray()).toEqual(gb1);
    out.backward(); // the retained graph is still whole
    expect((W.grad!.toArray() as number[][])[0][0]).toBeCloseTo(2 * (g1 as number[][])[0][0], 5);
  });

  it('tensors the user holds are never freed by backward', () => {
    k.configureMemory({ collect: false });
    const W = k.randn([6, 6], { requiresGrad: true });
    const x = k.randn([3, 6]);
    const h = x.matmul(W).relu();         // a user-level activation, saved by the graph
    const s = h.softmax(-1);              // a composite's result
    const hv = h.toArray(), sv = s.toArray();
    s.mul(s).sum().backward();
    expect(h.toArray()).toEqual(hv);
    expect(s.toArray()).toEqual(sv);
    expect(W.grad!.shape).toEqual([6, 6]);
  });
});

describe.skipIf(!k.memory().reclamation.synchronous)('synchronous reclamation (Node)', () => {
  it('frees what is unreachable during a synchronous loop and keeps what the user holds', () => {
    k.configureMemory({ collectAfterBytes: 1 << 20 });
    const x = k.randn([256, 256]);
    const kept: { t: k.Tensor; v: number }[] = [];
    const start = k.memory().reclamation.collections;
    for (let i = 0; i < 200; i++) {
      const y = x.mul(i).exp().sum(); // 256 KiB of garbage per iteration
      if (i % 20 === 0) kept.push({ t: y, v: y.item() as number });
    }
    expect(k.memory().reclamation.collections).toBeGreaterThan(start);
    expect(live()).toBeLessThan(16 << 20);
    for (const { t, v } of kept) expect(t.item()).toBe(v);
  });

  it('a loop that frees what it makes (dispose, tidy, pooling with padding) triggers no collection; the same loop leaving garbage does', () => {
    k.configureMemory({ collectAfterBytes: 1 << 20 });
    const x = k.randn([1, 8, 64, 64]); // 128 KiB
    const step = () => k.maxPool2d(x, 3, { stride: 2, padding: 1 });
    step().dispose(); // kiln's cached scalar constants (true, -inf) are made once
    const start = k.memory().reclamation.collections;
    const tensors = k.memory().numTensors;
    for (let i = 0; i < 100; i++) step().dispose();
    for (let i = 0; i < 100; i++) k.tidy(() => { k.maxPool2d(x.mul(2), 3, { stride: 2, padding: 1 }); });
    expect(k.memory().reclamation.collections).toBe(start);
    expect(k.memory().numTensors).toBe(tensors); // pooling's padded input freed as it returns
    for (let i = 0; i < 100; i++) k.maxPool2d(x.mul(2), 3, { stride: 2, padding: 1 });
    expect(k.memory().reclamation.collections).toBeGreaterThan(start);
  });

  it('tensors disposed as they go still trigger a collection by their count (their handles hold JavaScript heap until one)', () => {
    const x = k.randn([2]);
    const start = k.memory().reclamation.collections;
    for (let i = 0; i < 60_000; i++) x.add(1).dispose();
    expect(k.memory().reclamation.collections).toBeGreaterThan(start);
  });
});

describe('the never-hang guard', () => {
  it('a synchronous loop past limitBytes stops with a KilnError that says what is live and what to do', () => {
    k.configureMemory({ collect: false, limitBytes: live() + (32 << 20), warnBytes: Infinity });
    const x = k.randn([1024, 256]); // 1 MiB
    const hold: k.Tensor[] = [];
    let err: unknown;
    try {
      for (let i = 0; i < 100; i++) hold.push(x.add(i));
    } catch (e) { err = e; }
    expect(err).toBeInstanceOf(k.KilnError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^add: [\d.]+ MiB of tensor memory is live in \d+ tensors before allocating 1\.0 MiB; \d+ tensors were created since the event loop last turned, past the limit/);
    expect(msg).toMatch(/kiln\.tidy/);
    expect(msg).toMatch(/await/);
    expect(msg).toMatch(/configureMemory\(\{ limitBytes \}\)/);
    expect(hold.length).toBeGreaterThan(20);
    hold.forEach((t) => t.dispose());
  });

  it('with reclamation on, the guard names what still holds memory instead', () => {
    k.configureMemory({ limitBytes: live() + (8 << 20), warnBytes: Infinity });
    const hold: k.Tensor[] = [];
    const x = k.randn([1024, 256]);
    let err: unknown;
    try { for (let i = 0; i < 100; i++) hold.push(x.add(i)); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(k.KilnError);
    if (k.memory().reclamation.synchronous) expect((err as Error).message).toMatch(/something still holds these/);
    hold.forEach((t) => t.dispose());
  });

  it('warns once past warnBytes', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    k.configureMemory({ warnBytes: live() + (1 << 20) });
    const a = k.zeros([1 << 19]), b = k.zeros([1 << 19]), c = k.zeros([1 << 19]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/zeros: .* of tensor memory is live .*warning at/);
    [a, b, c].forEach((t) => t.dispose());
  });
});

describe('kiln.memory() and configureMemory()', () => {
  it('counts tensors, buffers and bytes by op, and the high-water mark', () => {
    const m0 = k.memory();
    const a = k.ones([100]);
    const b = a.exp();
    const v = b.reshape([10, 10]); // a view: one more tensor, no more buffer
    const m1 = k.memory();
    expect(m1.numTensors - m0.numTensors).toBe(3);
    expect(m1.numBuffers - m0.numBuffers).toBe(2);
    expect(m1.numBytes - m0.numBytes).toBe(800);
    expect(m1.byOp.exp.bytes - (m0.byOp.exp?.bytes ?? 0)).toBe(400);
    expect(m1.peakBytes).toBeGreaterThanOrEqual(m1.numBytes);
    expect(m1.backends.wasm!.heapBytes).toBeGreaterThan(0);
    b.dispose();
    expect(k.memory().numBuffers - m0.numBuffers).toBe(2); // v keeps the storage
    v.dispose();
    expect(k.memory().numBytes - m0.numBytes).toBe(400);
    a.dispose();
  });

  it('rejects bad options by name', () => {
    expect(() => k.configureMemory({ limitBytes: -1 })).toThrow(/configureMemory: limitBytes must be a non-negative number of bytes, got -1/);
    expect(() => k.configureMemory({ bogus: 1 } as never)).toThrow(/unknown option 'bogus'/);
    expect(() => k.configureMemory({ collect: 'yes' } as never)).toThrow(/collect must be a boolean/);
  });

  it('a tensor freed by tidy() names tidy() when used', () => {
    let t: k.Tensor | null = null;
    k.tidy(() => { t = k.ones([3]).add(1); });
    expect(() => t!.data()).toThrow(/disposed by kiln\.tidy\(\).*keep\(t\)/);
  });
});
