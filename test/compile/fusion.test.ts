// Fusion: kernel counts after fusion, and fused kernels agreeing with eager on every backend that starts.
import { describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';

const available: { name: k.BackendName; reason?: string }[] = [];
for (const name of ['cpu', 'wasm', 'webgpu'] as const) {
  try { await k.initBackend(name); available.push({ name }); } catch (e) { available.push({ name, reason: (e as Error).message.split('\n')[0] }); }
}

k.manualSeed(3);
const x = k.randn([8, 33]).mul(3);
const w = k.randn([33]), b = k.randn([33]);
const W = k.randn([33, 5]), bias = k.randn([5]);
const target = k.tensor([0, 1, 2, 3, 4, 0, 1, 2], { dtype: 'int32' });

const CASES: [string, (t: k.Tensor) => k.Tensor, number][] = [
  ['gelu tanh', (t) => t.gelu('tanh'), 1],
  ['8-op chain', (t) => t.mul(1.5).add(2).mul(t).sub(0.5).maximum(0).mul(0.25).add(t).minimum(4), 1],
  ['softmax', (t) => t.softmax(-1), 1],
  ['logSoftmax', (t) => t.logSoftmax(-1), 1],
  ['layerNorm', (t) => k.layerNorm(t, [33], w, b), 1],
  ['relu(x @ W + b)', (t) => t.matmul(W).add(bias).relu(), 1],
  // matmul, logSoftmax, the checked gather of the target log-probabilities, the sum of the losses, and
  // the count of targets not ignored that divides it (the mean is over those, as torch's ignoreIndex -100).
  ['crossEntropy', (t) => k.nn.crossEntropy(t.matmul(W), target), 5],
  ['var over rows', (t) => t.var(-1), 1],
  // Scores, scale and causal mask in the matmul's epilogue, one softmax reduction, the weighted sum.
  ['causal scaledDotProductAttention', (t) => { const q = t.reshape([1, 8, 33]); return k.scaledDotProductAttention(q, q, q, { isCausal: true }); }, 3],
];

describe('kernel counts after fusion', () => {
  for (const [name, f, kernels] of CASES) {
    it(`${name} -> ${kernels} kernel(s)`, () => {
      const e = k.explain(f, x);
      expect(e.graphs[0].kernels.length).toBe(kernels);
    });
  }

  it('every kernel names the nodes it computes, a copy the node that needed it', () => {
    // A stride-2 transposed conv scatters each tap by pads and reshapes: a reshape of a padded value is
    // no view, so the schedule copies it first.
    const wt = k.randn([2, 3, 3, 3]);
    const e = k.explain((t: k.Tensor) => k.convTranspose2d(t, wt, null, { stride: 2 }), k.randn([1, 2, 4, 4]));
    const g = e.graphs[0];
    const reshapes = new Set(g.optimized.split('\n').filter((l) => / = reshape /.test(l)).map((l) => Number(/%(\d+):/.exec(l)![1])));
    const copies = g.kernels.map((src, i) => [src, g.fusionGroups[i]] as const).filter(([src]) => /^elementwise.*\n\s*out0 = in0\[[^\]]*\]\/\([^)]*\)[^ ]* mask\(/.test(src));
    expect(copies.length).toBeGreaterThan(0);
    for (const nodes of g.fusionGroups) expect(nodes.length).toBeGreaterThan(0);
    for (const [, nodes] of copies) expect(nodes.every((n) => reshapes.has(n))).toBe(true);
  });
});

for (const { name, reason } of available) {
  if (reason) {
    console.warn(`[kiln tests] backend ${name} unavailable: ${reason}`);
    describe.skip(`fused kernels on ${name} (backend ${name} unavailable: ${reason})`, () => { it('skipped', () => {}); });
    continue;
  }
  describe(`fused kernels on ${name}: compiled equals eager`, () => {
    for (const [cname, f] of CASES) {
      it(cname, async () => {
        const xb = await x.toAsync(name);
        const move = async (t: k.Tensor) => t.toAsync(name);
        const [wb, bb, Wb, biasb, tb] = await Promise.all([w, b, W, bias, target].map(move));
        // Rebind the captured tensors on this backend by re-creating the closure over moved tensors.
        const g = (t: k.Tensor) => withBackend(f, t, { w: wb, b: bb, W: Wb, bias: biasb, target: tb });
        const eager = await g(xb).dataAsync();
        const compiled = await k.compile(g, { backend: name })(xb).dataAsync();
        expect(compiled.length).toBe(eager.length);
        eager.forEach((v, i) => expect(Math.abs(compiled[i] - v)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(v))));
      });
    }
  });
}

/** Runs a case with its captured tensors swapped for copies on the target backend. */
function withBackend(f: (t: k.Tensor) => k.Tensor, t: k.Tensor, c: { w: k.Tensor; b: k.Tensor; W: k.Tensor; bias: k.Tensor; target: k.Tensor }): k.Tensor {
  if (f === CASES[4][1]) return k.layerNorm(t, [33], c.w, c.b);
  if (f === CASES[5][1]) return t.matmul(c.W).add(c.bias).relu();
  if (f === CASES[6][1]) return k.nn.crossEntropy(t.matmul(c.W), c.target);
  return f(t);
}
