// Training loops the memory tests and `npm run soak:memory` run, written as a PyTorch user would:
// no tidy(), no dispose(). A small GPT (token and position embeddings, causal self-attention, an MLP,
// AdamW) and an MLP with Adam, on fixed data, so runs with different memory management can be
// compared loss for loss.
import * as k from '../../src/index.js';

export interface Loop {
  /** One training step; returns the loss (a tensor: read it with item()). */
  step(): k.Tensor;
  readonly params: readonly k.Tensor[];
}

/** A GPT-style model of about 105K parameters: vocab 65, context 32, width 64, 2 blocks of 4 heads. */
export function gptLoop(backend: k.BackendName = 'wasm', opts: { batch?: number } = {}): Loop {
  k.manualSeed(1234);
  const V = 65, T = 32, D = 64, H = 4, L = 2, B = opts.batch ?? 8;
  const p = (shape: number[], scale = 0.02) => k.randn(shape, { backend }).mul(scale).requiresGrad_(true);
  const ones = (n: number) => k.ones([n], { backend }).requiresGrad_(true);
  const zeros = (n: number) => k.zeros([n], { backend }).requiresGrad_(true);
  const wte = p([V, D]), wpe = p([T, D]);
  const blocks = Array.from({ length: L }, () => ({
    ln1w: ones(D), ln1b: zeros(D), wqkv: p([D, 3 * D]), bqkv: zeros(3 * D), wo: p([D, D]), bo: zeros(D),
    ln2w: ones(D), ln2b: zeros(D), w1: p([D, 4 * D]), b1: zeros(4 * D), w2: p([4 * D, D]), b2: zeros(D),
  }));
  const lnfw = ones(D), lnfb = zeros(D), head = p([D, V]);
  const params = [wte, wpe, ...blocks.flatMap((b) => Object.values(b)), lnfw, lnfb, head];
  const opt = new k.optim.AdamW(params, { lr: 3e-3 });
  // Causal mask: 0 on and below the diagonal, -1e9 above.
  const mask = k.tensor(Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? -1e9 : 0)), { backend }).reshape([T, T]);
  const pos = k.arange(T, undefined, 1, { backend });
  const tokens = k.randint(0, V, [B, T + 1], { backend });
  const x = tokens.slice([null, [0, T]]).contiguous(), y = tokens.slice([null, [1, T + 1]]).contiguous().reshape([B * T]);
  const step = (): k.Tensor => {
    opt.zeroGrad();
    let h = wte.indexSelect(0, x.reshape([B * T])).reshape([B, T, D]).add(wpe.indexSelect(0, pos));
    for (const b of blocks) {
      const a = k.layerNorm(h, [D], b.ln1w, b.ln1b);
      const qkv = a.matmul(b.wqkv).add(b.bqkv);
      const [q, kk, v] = qkv.split(D, -1).map((t) => t.reshape([B, T, H, D / H]).permute([0, 2, 1, 3]));
      const att = q.matmul(kk.transpose(-2, -1)).mul(1 / Math.sqrt(D / H)).add(mask).softmax(-1);
      const o = att.matmul(v).permute([0, 2, 1, 3]).reshape([B, T, D]);
      h = h.add(o.matmul(b.wo).add(b.bo));
      const m = k.layerNorm(h, [D], b.ln2w, b.ln2b);
      h = h.add(m.matmul(b.w1).add(b.b1).gelu('tanh').matmul(b.w2).add(b.b2));
    }
    const logits = k.layerNorm(h, [D], lnfw, lnfb).matmul(head).reshape([B * T, V]);
    const loss = k.nn.crossEntropy(logits, y);
    loss.backward();
    opt.step();
    return loss;
  };
  return { step, params };
}

/** An MLP 32-64-64-4 with Adam on a fixed batch of 16 (on the default backend). */
export function mlpLoop(): Loop {
  k.manualSeed(99);
  const model = new k.nn.Sequential(new k.nn.Linear(32, 64), new k.nn.ReLU(), new k.nn.Linear(64, 64), new k.nn.ReLU(), new k.nn.Linear(64, 4));
  const params = model.parameters();
  const opt = new k.optim.Adam(params, { lr: 1e-3 });
  const x = k.randn([16, 32]), y = k.randint(0, 4, [16]);
  const step = (): k.Tensor => {
    opt.zeroGrad();
    const loss = k.nn.crossEntropy(model.forward(x), y);
    loss.backward();
    opt.step();
    return loss;
  };
  return { step, params };
}
