// Training the way a PyTorch user writes it: a DataLoader over a TensorDataset, AdamW with two
// parameter groups (no weight decay on biases), a warm-up then cosine learning-rate schedule,
// gradient-norm clipping, a compiled training step, and a checkpoint saved mid-run (safetensors) and
// reloaded into fresh objects that continue exactly where the original run goes.
//   npx tsx examples/checkpoint_train.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as kiln from '../src/index.js';
import type { Tensor } from '../src/index.js';
import { spiral } from './mlp_train.js';

const { nn, optim, data } = kiln;
const S = optim.lrScheduler;

/** Model, optimizer, schedule and compiled step, built fresh (as a resumed process would). */
function setup(stepsPerEpoch: number, epochs: number) {
  kiln.manualSeed(0);
  const model = new nn.Sequential(new nn.Linear(2, 64), new nn.ReLU(), new nn.Linear(64, 64), new nn.GELU(), new nn.Linear(64, 2));
  const named = model.namedParameters();
  const opt = new optim.AdamW([
    { params: named.filter(([n]) => n.endsWith('weight')).map(([, p]) => p) },
    { params: named.filter(([n]) => n.endsWith('bias')).map(([, p]) => p), weightDecay: 0 },
  ], { lr: 0.03, weightDecay: 0.01 });
  const warmup = stepsPerEpoch;
  const sched = new S.SequentialLR(opt, [
    new S.LinearLR(opt, { startFactor: 0.1, totalIters: warmup }),
    new S.CosineAnnealingLR(opt, stepsPerEpoch * epochs - warmup, 1e-4),
  ], [warmup]);
  const step = kiln.compile((x: Tensor, y: Tensor) => {
    opt.zeroGrad();
    const loss = nn.crossEntropy(model.forward(x), y);
    loss.backward();
    nn.utils.clipGradNorm_(model.parameters(), 1.0);
    opt.step();
    return loss;
  });
  return { model, opt, sched, step };
}

export interface RunResult { losses: number[]; resumedLosses: number[]; accuracy: number; traces: number }

/** Trains `epochs` epochs, saving a checkpoint after `saveAt`; then resumes from it in fresh objects. */
export async function trainWithCheckpoint(opts: { epochs?: number; saveAt?: number; log?: (s: string) => void } = {}): Promise<RunResult> {
  const { epochs = 30, saveAt = 15, log = () => {} } = opts;
  kiln.manualSeed(1);
  const { x, y } = spiral(128);
  const loader = new data.DataLoader(new data.TensorDataset(x, y), { batchSize: 32, shuffle: true, dropLast: true });
  const dir = mkdtempSync(join(tmpdir(), 'kiln-ckpt-'));
  const path = join(dir, 'checkpoint.safetensors');

  const runEpochs = async (s: ReturnType<typeof setup>, from: number, to: number, losses: number[], save: boolean) => {
    for (let epoch = from; epoch < to; epoch++) {
      kiln.manualSeed(100 + epoch); // the epoch's shuffle depends on the epoch alone, so a resumed run matches
      let sum = 0;
      for (const [xb, yb] of loader) {
        const loss = s.step(xb, yb);
        s.sched.step();
        const v = loss.item() as number;
        losses.push(v);
        sum += v;
      }
      log(`epoch ${epoch + 1}/${to}  loss ${(sum / loader.length).toFixed(4)}  lr ${s.sched.getLastLr()[0].toExponential(2)}`);
      if (save && epoch + 1 === saveAt) {
        await kiln.save({ model: s.model.stateDict(), optimizer: s.opt.stateDict(), scheduler: s.sched.stateDict(), epoch: epoch + 1 }, path);
        log(`saved ${path}`);
      }
    }
  };

  try {
    const run = setup(loader.length, epochs);
    const losses: number[] = [];
    await runEpochs(run, 0, epochs, losses, true);
    const accuracy = kiln.noGrad(() => (run.model.forward(x).argmax(1).eq(y).sum().item() as number) / y.size);

    // A fresh process: build everything again, load the checkpoint, continue.
    const resumed = setup(loader.length, epochs);
    const ckpt = await kiln.load(path);
    resumed.model.loadStateDict(ckpt.model);
    resumed.opt.loadStateDict(ckpt.optimizer);
    resumed.sched.loadStateDict(ckpt.scheduler);
    log(`resumed from epoch ${ckpt.epoch}`);
    const resumedLosses: number[] = [];
    await runEpochs(resumed, ckpt.epoch, epochs, resumedLosses, false);
    return { losses, resumedLosses, accuracy, traces: run.step.cacheInfo().traces };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await trainWithCheckpoint({ log: console.log });
  const tail = r.losses.slice(-r.resumedLosses.length);
  const same = tail.every((v, i) => v === r.resumedLosses[i]);
  console.log(`accuracy ${(100 * r.accuracy).toFixed(1)}%; the resumed run ${same ? 'matches' : 'DIFFERS FROM'} the original step for step (${r.resumedLosses.length} steps); ${r.traces} trace(s)`);
}
