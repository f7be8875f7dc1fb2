// A 2-64-64-2 MLP (ReLU, then GELU) trained with Adam on a two-class spiral generated with a fixed
// seed, full batch, printing the loss as it goes. Reaches ≥ 95% training accuracy in a few seconds
// on the cpu backend.
//   npx tsx examples/mlp_train.ts
import { pathToFileURL } from 'node:url';
import { manualSeed, nn, noGrad, optim, randn, tensor, type Tensor } from '../src/index.js';

/** Two interleaved spiral arms of 1.5 turns each, `perClass` points per class, with Gaussian angle noise. */
export function spiral(perClass: number, noise = 0.2): { x: Tensor; y: Tensor } {
  const coords: number[] = [];
  const labels: number[] = [];
  const jitter = randn([2 * perClass]).mul(noise).data();
  for (let c = 0; c < 2; c++) {
    for (let i = 0; i < perClass; i++) {
      const r = (i + 1) / perClass;
      const theta = c * Math.PI + 3 * Math.PI * r + jitter[c * perClass + i];
      coords.push(r * Math.sin(theta), r * Math.cos(theta));
      labels.push(c);
    }
  }
  return { x: tensor(coords, { shape: [2 * perClass, 2] }), y: tensor(labels, { dtype: 'int32' }) };
}

export interface TrainResult { losses: number[]; accuracy: number; steps: number; ms: number }

/** Trains from seed `seed`; stops early once training accuracy reaches `target` (checked every `every` steps). */
export function trainMlp(opts: { steps?: number; perClass?: number; lr?: number; seed?: number; target?: number; every?: number; log?: (s: string) => void } = {}): TrainResult {
  const { steps = 250, perClass = 100, lr = 0.01, seed = 0, target = 1.01, every = 25, log = () => {} } = opts;
  manualSeed(seed);
  const { x, y } = spiral(perClass);
  const model = new nn.Sequential(new nn.Linear(2, 64), new nn.ReLU(), new nn.Linear(64, 64), new nn.GELU(), new nn.Linear(64, 2));
  const opt = new optim.Adam(model.parameters(), { lr });
  const accuracy = (): number => noGrad(() => {
    const pred = model.forward(x).argmax(1);
    return (pred.eq(y).sum().item() as number) / y.size;
  });
  const t0 = performance.now();
  const losses: number[] = [];
  let step = 0;
  for (; step < steps; step++) {
    opt.zeroGrad();
    const loss = nn.crossEntropy(model.forward(x), y);
    loss.backward();
    opt.step();
    losses.push(loss.item() as number);
    if ((step + 1) % every === 0) {
      const acc = accuracy();
      log(`step ${String(step + 1).padStart(4)}  loss ${losses[step].toFixed(4)}  accuracy ${(100 * acc).toFixed(1)}%`);
      if (acc >= target) { step++; break; }
    }
  }
  const acc = accuracy();
  return { losses, accuracy: acc, steps: step, ms: performance.now() - t0 };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = trainMlp({ log: console.log });
  console.log(`final training accuracy ${(100 * r.accuracy).toFixed(1)}% after ${r.steps} steps in ${(r.ms / 1000).toFixed(1)} s`);
}
