// bench: the workloads, each a function run eagerly and compiled. Sizes come in three scales: full
// (the sizes), reduced (the cpu backend and SwiftShader: the same shapes, smaller) and quick
// (a CI smoke run of a few milliseconds each).
import * as kiln from '../src/index.js';
import type { BackendName, Tensor } from '../src/index.js';

/** Which sizes to run: the issue's, reduced for slow backends, or tiny for a smoke run. */
export type Scale = 'full' | 'reduced' | 'quick';

/** Which roofline a workload is judged against (see roofline.ts). */
export type RoofKind = 'stream' | 'gelu' | 'compute';

/** A workload set up on one backend: fresh inputs and state, ready to call. */
export interface Instance {
  /** The sizes in words, e.g. "[4096,1024] f32". */
  readonly size: string;
  /** The function under test (compiled as a whole for the compiled run). */
  readonly fn: (...args: any[]) => unknown;
  readonly args: readonly unknown[];
  /**
   * The kernels every version of `fn` runs, run eagerly by themselves (a conv block: its convolutions,
   * the same kernel eager and compiled code run). eager / floor is about the most compiling can gain
   * while it runs those kernels: it can pass it only by the floor's own host work.
   */
  readonly floor?: () => unknown;
}

export interface Workload {
  readonly name: string;
  /** One line on what it computes. */
  readonly what: string;
  readonly roof: RoofKind;
  /** Builds inputs and state on `backend` at `scale` (call under a fixed seed for identical copies). */
  setup(backend: BackendName, scale: Scale): Instance;
}

const pick = <T>(scale: Scale, full: T, reduced: T, quick: T): T => (scale === 'full' ? full : scale === 'reduced' ? reduced : quick);
const fmtN = (n: number) => (n >= 1 << 20 && n % (1 << 20) === 0 ? `${n >> 20}M` : n >= 1024 && n % 1024 === 0 ? `${n >> 10}K` : String(n));

/** GELU, tanh form, on a flat vector of n float32. */
function geluWorkload(name: string, full: number, reduced: number, quick: number): Workload {
  return {
    name, what: 'x.gelu("tanh") elementwise', roof: 'gelu',
    setup(backend, scale) {
      const n = pick(scale, full, reduced, quick);
      const x = kiln.randn([n], { backend });
      return { size: `${fmtN(n)} f32`, fn: (v: Tensor) => v.gelu('tanh'), args: [x] };
    },
  };
}

/** Eight elementwise ops, no transcendentals, over two inputs: one pass of 2 reads + 1 write fused. */
export function chain8(x: Tensor, y: Tensor): Tensor {
  return x.mul(1.5).add(0.5).mul(y).sub(0.25).abs().add(y).mul(0.5).maximum(0);
}

/** MLP layer widths: the 784-512-512-10, or a toy one for --quick. */
const mlpDims = (scale: Scale) => (scale === 'quick' ? [64, 32, 32, 10] : [784, 512, 512, 10]);

/** An MLP with ReLU (weights as plain tensors so forward and training share the code). */
function mlpParams(backend: BackendName, dims: readonly number[], requiresGrad: boolean): Tensor[] {
  const ps: Tensor[] = [];
  for (let i = 0; i < 3; i++) {
    const w = kiln.randn([dims[i], dims[i + 1]], { backend }).mul(Math.sqrt(2 / dims[i]));
    const b = kiln.zeros([dims[i + 1]], { backend });
    ps.push(requiresGrad ? w.detach().requiresGrad_() : w, requiresGrad ? b.requiresGrad_() : b);
  }
  return ps;
}

function mlpForward(x: Tensor, ps: readonly Tensor[]): Tensor {
  const h1 = x.matmul(ps[0]).add(ps[1]).relu();
  const h2 = h1.matmul(ps[2]).add(ps[3]).relu();
  return h2.matmul(ps[4]).add(ps[5]);
}

const GENERAL_WORKLOADS: readonly Workload[] = [
  geluWorkload('gelu-1M', 1 << 20, 1 << 20, 1 << 12),
  geluWorkload('gelu-16M', 1 << 24, 1 << 22, 1 << 14),
  {
    name: 'chain8-16M', what: '8 elementwise ops (mul add mul sub abs add mul max) over x, y', roof: 'stream',
    setup(backend, scale) {
      const n = pick(scale, 1 << 24, 1 << 22, 1 << 14);
      return { size: `${fmtN(n)} f32`, fn: chain8, args: [kiln.randn([n], { backend }), kiln.randn([n], { backend })] };
    },
  },
  {
    name: 'softmax', what: 'softmax over the last dim', roof: 'stream',
    setup(backend, scale) {
      const [r, c] = pick(scale, [4096, 1024], [1024, 1024], [16, 64]);
      return { size: `[${r},${c}] f32`, fn: (x: Tensor) => x.softmax(-1), args: [kiln.randn([r, c], { backend })] };
    },
  },
  // Attention-score softmax, plain and causally masked (-inf above the diagonal): the masked rows'
  // exp(-inf) must cost what any other exp costs.
  ...(['softmax-scores', 'softmax-scores-causal'] as const).map((name): Workload => ({
    name, what: name.endsWith('causal') ? 'x.maskedFill(causal, -inf).softmax(-1) on attention scores' : 'softmax(-1) on attention scores', roof: 'stream',
    setup(backend, scale) {
      const [h, t] = pick(scale, [32, 128], [8, 128], [2, 8]);
      const x = kiln.randn([h, t, t], { backend });
      if (!name.endsWith('causal')) return { size: `[${h},${t},${t}] f32`, fn: (v: Tensor) => v.softmax(-1), args: [x] };
      const ids = kiln.arange(t, undefined, 1, { backend });
      const above = ids.reshape([1, t]).gt(ids.reshape([t, 1]));
      return { size: `[${h},${t},${t}] f32`, fn: (v: Tensor, m: Tensor) => v.maskedFill(m, -Infinity).softmax(-1), args: [x, above] };
    },
  })),
  {
    name: 'layerNorm', what: 'layerNorm over the last dim with weight and bias', roof: 'stream',
    setup(backend, scale) {
      const [r, c] = pick(scale, [4096, 1024], [1024, 1024], [16, 64]);
      const w = kiln.randn([c], { backend }), b = kiln.randn([c], { backend });
      return { size: `[${r},${c}] f32`, fn: (x: Tensor) => kiln.layerNorm(x, [c], w, b), args: [kiln.randn([r, c], { backend })] };
    },
  },
  {
    name: 'matmul', what: 'a @ b, square', roof: 'compute',
    setup(backend, scale) {
      const n = pick(scale, 1024, 512, 32);
      return { size: `${n}^3 f32`, fn: (a: Tensor, b: Tensor) => a.matmul(b), args: [kiln.randn([n, n], { backend }), kiln.randn([n, n], { backend })] };
    },
  },
  {
    name: 'mlp-forward', what: 'MLP 784-512-512-10 (ReLU) forward', roof: 'compute',
    setup(backend, scale) {
      const batch = pick(scale, 256, 64, 4), dims = mlpDims(scale);
      const ps = mlpParams(backend, dims, false);
      return { size: `${dims.join('-')}, batch ${batch}`, fn: (x: Tensor) => mlpForward(x, ps), args: [kiln.randn([batch, dims[0]], { backend })] };
    },
  },
  {
    name: 'mlp-train-step', what: 'MLP 784-512-512-10: forward, crossEntropy, backward, Adam, compiled whole', roof: 'compute',
    setup(backend, scale) {
      const batch = pick(scale, 256, 64, 4), dims = mlpDims(scale);
      const ps = mlpParams(backend, dims, true);
      const opt = new kiln.optim.Adam(ps, { lr: 1e-3 });
      const x = kiln.randn([batch, dims[0]], { backend });
      const y = kiln.randint(0, 10, [batch], { backend });
      const step = (xb: Tensor, yb: Tensor) => {
        opt.zeroGrad();
        const loss = kiln.nn.crossEntropy(mlpForward(xb, ps), yb);
        loss.backward();
        opt.step();
        return loss.detach();
      };
      return { size: `${dims.join('-')}, batch ${batch}`, fn: step, args: [x, y] };
    },
  },
  {
    name: 'attention', what: 'pre-norm self-attention block: layerNorm, QKV, softmax(QK^T/8)V, out-proj, residual', roof: 'compute',
    setup(backend, scale) {
      const [b, t, h, d] = pick(scale, [8, 128, 4, 64], [2, 128, 4, 64], [1, 8, 2, 8]);
      const e = h * d;
      const p = (r: number, c: number) => kiln.randn([r, c], { backend }).mul(1 / Math.sqrt(r));
      const wq = p(e, e), wk = p(e, e), wv = p(e, e), wo = p(e, e);
      const g = kiln.ones([e], { backend }), beta = kiln.zeros([e], { backend });
      const heads = (z: Tensor) => z.reshape([b, t, h, d]).permute([0, 2, 1, 3]);
      const block = (x: Tensor) => {
        const n = kiln.layerNorm(x, [e], g, beta);
        const q = heads(n.matmul(wq)), k = heads(n.matmul(wk)), v = heads(n.matmul(wv));
        const att = q.matmul(k.transpose(2, 3)).mul(1 / Math.sqrt(d)).softmax(-1);
        const o = att.matmul(v).permute([0, 2, 1, 3]).reshape([b, t, e]);
        return x.add(o.matmul(wo));
      };
      return { size: `batch ${b}, ${t} tokens, ${h}x${d} heads`, fn: block, args: [kiln.randn([b, t, e], { backend })] };
    },
  },
];

// ---- convolutional networks -------------------------------------------------------------------

/** A conv weight [outC, inC/groups, k, k] with kaiming-like scale, and a bias [outC]. */
function convParams(backend: BackendName, outC: number, inCg: number, k: number): [Tensor, Tensor] {
  const w = kiln.randn([outC, inCg, k, k], { backend }).mul(Math.sqrt(2 / (inCg * k * k)));
  return [w, kiln.randn([outC], { backend }).mul(0.1)];
}

/** Eval-mode batch norm statistics and affine parameters for `c` channels. */
function bnParams(backend: BackendName, c: number): { mean: Tensor; var: Tensor; weight: Tensor; bias: Tensor } {
  return {
    mean: kiln.randn([c], { backend }).mul(0.1), var: kiln.rand([c], { backend }).add(0.5),
    weight: kiln.rand([c], { backend }).add(0.5), bias: kiln.randn([c], { backend }).mul(0.1),
  };
}

const bnEval = (x: Tensor, p: ReturnType<typeof bnParams>) => kiln.batchNorm(x, p.mean, p.var, { weight: p.weight, bias: p.bias });


/** The model of examples/cnn_train.ts (conv-bn-relu-pool twice, then linear), rebuilt here so the bench does not import examples. */
class SmallCnn extends kiln.nn.Module {
  conv1 = new kiln.nn.Conv2d(1, 8, 3, { padding: 1, bias: false });
  bn1 = new kiln.nn.BatchNorm2d(8);
  conv2 = new kiln.nn.Conv2d(8, 16, 3, { padding: 1, bias: false });
  bn2 = new kiln.nn.BatchNorm2d(16);
  pool = new kiln.nn.MaxPool2d(2);
  flatten = new kiln.nn.Flatten();
  fc = new kiln.nn.Linear(16 * 7 * 7, 10);
  forward(x: Tensor): Tensor {
    const h1 = this.pool.forward(this.bn1.forward(this.conv1.forward(x)).relu()) as Tensor;
    const h2 = this.pool.forward(this.bn2.forward(this.conv2.forward(h1)).relu()) as Tensor;
    return this.fc.forward(this.flatten.forward(h2));
  }
}

const CNN_WORKLOADS: readonly Workload[] = [
  {
    name: 'conv3x3', what: 'conv2d 3×3, stride 1, padding 1, with bias (a ResNet stage)', roof: 'compute',
    setup(backend, scale) {
      const [c, s] = pick(scale, [64, 56], [64, 28], [8, 8]);
      const [w, b] = convParams(backend, c, c, 3);
      return { size: `[1,${c},${s},${s}] ${c}→${c}`, fn: (x: Tensor) => kiln.conv2d(x, w, b, { padding: 1 }), args: [kiln.randn([1, c, s, s], { backend })] };
    },
  },
  {
    name: 'conv-depthwise', what: 'depthwise conv2d 3×3, padding 1, groups = channels (a MobileNet block)', roof: 'stream',
    setup(backend, scale) {
      const [c, s] = pick(scale, [128, 56], [128, 28], [8, 8]);
      const [w, b] = convParams(backend, c, 1, 3);
      return { size: `[1,${c},${s},${s}]`, fn: (x: Tensor) => kiln.conv2d(x, w, b, { padding: 1, groups: c }), args: [kiln.randn([1, c, s, s], { backend })] };
    },
  },
  {
    name: 'conv-bn-relu', what: 'relu(batchNorm(conv2d 3×3 + bias)), batch norm in eval mode', roof: 'compute',
    setup(backend, scale) {
      const [c, s] = pick(scale, [64, 56], [64, 28], [8, 8]);
      const [w, b] = convParams(backend, c, c, 3);
      const bn = bnParams(backend, c);
      const x = kiln.randn([1, c, s, s], { backend });
      return {
        size: `[1,${c},${s},${s}] ${c}→${c}`, fn: (v: Tensor) => bnEval(kiln.conv2d(v, w, b, { padding: 1 }), bn).relu(), args: [x],
        floor: () => kiln.conv2d(x, w, b, { padding: 1 }),
      };
    },
  },
  {
    name: 'resnet-block', what: 'ResNet basic block: relu(bn(conv3×3(relu(bn(conv3×3(x))))) + x), eval batch norm', roof: 'compute',
    setup(backend, scale) {
      const [c, s] = pick(scale, [64, 56], [64, 28], [8, 8]);
      const [w1] = convParams(backend, c, c, 3), [w2] = convParams(backend, c, c, 3);
      const bn1 = bnParams(backend, c), bn2 = bnParams(backend, c);
      const block = (x: Tensor) => {
        const h = bnEval(kiln.conv2d(x, w1, null, { padding: 1 }), bn1).relu();
        return bnEval(kiln.conv2d(h, w2, null, { padding: 1 }), bn2).add(x).relu();
      };
      const x = kiln.randn([1, c, s, s], { backend });
      return {
        size: `[1,${c},${s},${s}] ${c}→${c}`, fn: block, args: [x],
        floor: () => [kiln.conv2d(x, w1, null, { padding: 1 }), kiln.conv2d(x, w2, null, { padding: 1 })],
      };
    },
  },
  {
    name: 'maxPool2d', what: 'maxPool2d 3×3, stride 2, padding 1 (the ResNet stem pool)', roof: 'stream',
    setup(backend, scale) {
      const [c, s] = pick(scale, [64, 112], [64, 56], [8, 8]);
      return { size: `[1,${c},${s},${s}]`, fn: (x: Tensor) => kiln.maxPool2d(x, 3, { stride: 2, padding: 1 }), args: [kiln.randn([1, c, s, s], { backend })] };
    },
  },
  {
    name: 'adaptiveAvgPool2d', what: 'adaptiveAvgPool2d to 1×1 (a classifier head)', roof: 'stream',
    setup(backend, scale) {
      const [n, c, s] = pick(scale, [32, 512, 7], [8, 512, 7], [2, 8, 4]);
      return { size: `[${n},${c},${s},${s}]`, fn: (x: Tensor) => kiln.adaptiveAvgPool2d(x, 1), args: [kiln.randn([n, c, s, s], { backend })] };
    },
  },
  {
    name: 'cnn-train-step', what: 'examples/cnn_train.ts model (conv-bn-relu-pool ×2, linear) at batch 64: forward, crossEntropy, backward, Adam', roof: 'compute',
    setup(backend, scale) {
      const batch = pick(scale, 64, 16, 2);
      const model = new SmallCnn().to(backend);
      const opt = new kiln.optim.Adam(model.parameters(), { lr: 5e-3 });
      const x = kiln.randn([batch, 1, 28, 28], { backend });
      const y = kiln.randint(0, 10, [batch], { backend });
      const step = (xb: Tensor, yb: Tensor) => {
        opt.zeroGrad();
        const loss = kiln.nn.crossEntropy(model.forward(xb), yb);
        loss.backward();
        opt.step();
        return loss.detach();
      };
      return { size: `28×28, batch ${batch}`, fn: step, args: [x, y] };
    },
  },
];

export const WORKLOADS: readonly Workload[] = [...GENERAL_WORKLOADS, ...CNN_WORKLOADS];
