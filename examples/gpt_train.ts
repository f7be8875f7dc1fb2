// A character-level GPT trained the way a PyTorch user writes it: modules called as functions,
// scaledDotProductAttention with the causal flag, crossEntropy over the [B, T, V] logits, AdamW with
// two parameter groups and a warm-up then cosine schedule, gradient-norm clipping and a DataLoader.
// The same steps run eagerly and through compile() from the same weights (their losses agree), and
// the compiled run saves a checkpoint mid-run (safetensors) that fresh objects reload and continue
// from, step for step identical to the uninterrupted run.
//   npx tsx examples/gpt_train.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as kiln from '../src/index.js';
import { data, nn, optim, type Tensor } from '../src/index.js';
import { progress } from './progress.js';

const S = optim.lrScheduler;

// The text it learns: the opening of Coriolanus (public domain).
const TEXT = `First Citizen:
Before we proceed any further, hear me speak.

All:
Speak, speak.

First Citizen:
You are all resolved rather to die than to famish?

All:
Resolved. resolved.

First Citizen:
First, you know Caius Marcius is chief enemy to the people.

All:
We know't, we know't.

First Citizen:
Let us kill him, and we'll have corn at our own price.
Is't a verdict?

All:
No more talking on't; let it be done: away, away!

Second Citizen:
One word, good citizens.

First Citizen:
We are accounted poor citizens, the patricians good.
What authority surfeits on would relieve us: if they
would yield us but the superfluity, while it were
wholesome, we might guess they relieved us humanely;
but they think we are too dear: the leanness that
afflicts us, the object of our misery, is as an
inventory to particularise their abundance; our
sufferance is a gain to them. Let us revenge this with
our pikes, ere we become rakes: for the gods know I
speak this in hunger for bread, not in thirst for revenge.
`;

const BLOCK = 32, LAYERS = 2, HEADS = 2, WIDTH = 32, BATCH = 16;

class CausalSelfAttention extends nn.Module {
  qkv = new nn.Linear(WIDTH, 3 * WIDTH);
  proj = new nn.Linear(WIDTH, WIDTH);

  forward(x: Tensor): Tensor {
    const [b, t, c] = x.shape;
    // [b, t, 3c] -> three [b, heads, t, c / heads]
    const [q, k, v] = this.qkv(x).chunk(3, 2).map((u) => u.reshape([b, t, HEADS, c / HEADS]).transpose(1, 2));
    const y = kiln.scaledDotProductAttention(q, k, v, { isCausal: true });
    return this.proj(y.transpose(1, 2).reshape([b, t, c]));
  }
}

class Block extends nn.Module {
  ln1 = new nn.LayerNorm(WIDTH);
  attn = new CausalSelfAttention();
  ln2 = new nn.LayerNorm(WIDTH);
  mlp = new nn.Sequential(new nn.Linear(WIDTH, 4 * WIDTH), new nn.GELU(), new nn.Linear(4 * WIDTH, WIDTH));

  forward(x: Tensor): Tensor {
    x = x.add(this.attn(this.ln1(x)));
    return x.add(this.mlp(this.ln2(x)));
  }
}

export class GPT extends nn.Module {
  tok: nn.Embedding;
  pos = new nn.Embedding(BLOCK, WIDTH);
  blocks = new nn.ModuleList(Array.from({ length: LAYERS }, () => new Block()));
  lnF = new nn.LayerNorm(WIDTH);
  head: nn.Linear;

  constructor(vocab: number) {
    super();
    this.tok = new nn.Embedding(vocab, WIDTH);
    this.head = new nn.Linear(WIDTH, vocab);
    this.apply((m) => { // GPT-2's initialisation
      if (m instanceof nn.Linear) {
        nn.init.normal_(m.weight, 0, 0.02);
        if (m.bias) nn.init.zeros_(m.bias);
      } else if (m instanceof nn.Embedding) nn.init.normal_(m.weight, 0, 0.02);
    });
  }

  /** Logits [B, T, V] for token ids [B, T]. */
  forward(idx: Tensor): Tensor {
    const t = idx.shape[1];
    let x = this.tok(idx).add(this.pos(kiln.arange(t)));
    for (const block of this.blocks) x = block(x);
    return this.head(this.lnF(x));
  }
}

// The vocabulary is the text's characters; the data set is every window of BLOCK + 1 characters
// starting at a multiple of STRIDE, split into inputs and next-character targets.
const STRIDE = 4;
export const chars = [...new Set(TEXT)].sort();
const ids = Int32Array.from(TEXT, (c) => chars.indexOf(c));
const decode = (xs: Iterable<number>) => Array.from(xs, (i) => chars[i]).join('');

function windows(): { x: Tensor; y: Tensor } {
  const n = Math.floor((ids.length - BLOCK - 1) / STRIDE) + 1;
  const x = new Int32Array(n * BLOCK), y = new Int32Array(n * BLOCK);
  for (let i = 0; i < n; i++) {
    x.set(ids.subarray(i * STRIDE, i * STRIDE + BLOCK), i * BLOCK);
    y.set(ids.subarray(i * STRIDE + 1, i * STRIDE + BLOCK + 1), i * BLOCK);
  }
  return { x: kiln.tensor(x, { shape: [n, BLOCK] }), y: kiln.tensor(y, { shape: [n, BLOCK] }) };
}

/** Model, optimizer, schedule and training step, built fresh (as a new process would). */
function setup(totalSteps: number, warmup: number, compiled: boolean) {
  kiln.manualSeed(0);
  const model = new GPT(chars.length);
  // Weight decay on matrices (linear weights, embeddings) only; not on biases and norm gains.
  const named = model.namedParameters();
  const opt = new optim.AdamW([
    { params: named.filter(([, p]) => p.ndim >= 2).map(([, p]) => p) },
    { params: named.filter(([, p]) => p.ndim < 2).map(([, p]) => p), weightDecay: 0 },
  ], { lr: 1e-2, betas: [0.9, 0.95], weightDecay: 0.1 });
  const sched = new S.SequentialLR(opt, [
    new S.LinearLR(opt, { startFactor: 0.1, totalIters: warmup }),
    new S.CosineAnnealingLR(opt, totalSteps - warmup, 1e-3),
  ], [warmup]);
  const trainStep = (x: Tensor, y: Tensor): Tensor => {
    opt.zeroGrad();
    const logits = model(x); // [B, T, V]
    // crossEntropy takes the classes in dim 1, as torch: [B, T, V] -> [B, V, T] against targets [B, T].
    const loss = nn.crossEntropy(logits.transpose(1, 2), y);
    loss.backward();
    nn.utils.clipGradNorm_(model.parameters(), 1.0);
    opt.step();
    return loss;
  };
  const compiledStep = kiln.compile(trainStep);
  // Eagerly, tidy() frees each step's temporaries (the compiled step manages its own).
  const step = compiled ? compiledStep : (x: Tensor, y: Tensor) => kiln.tidy(() => trainStep(x, y));
  return { model, opt, sched, step, traces: () => compiledStep.cacheInfo().traces };
}

type Setup = ReturnType<typeof setup>;

/** Greedy continuation of `prompt` by `n` characters. */
export function sample(model: GPT, prompt: string, n: number): string {
  const out = Array.from(prompt, (c) => chars.indexOf(c));
  kiln.noGrad(() => {
    for (let i = 0; i < n; i++) {
      const ctx = out.slice(-BLOCK);
      const next = kiln.tidy(() => model(kiln.tensor(Int32Array.from(ctx), { shape: [1, ctx.length] })).narrow(1, ctx.length - 1, 1).argmax(-1));
      out.push(next.item() as number);
      next.dispose();
    }
  });
  return decode(out);
}

export interface GPTRunResult {
  eager: number[];
  compiled: number[];
  /** The compiled run's losses after reloading its checkpoint into fresh objects. */
  resumed: number[];
  traces: number;
  sample: string;
}

/** Trains `epochs` epochs eagerly and compiled; the compiled run saves after `saveAt` and is resumed. */
export async function trainGPT(opts: { epochs?: number; saveAt?: number; log?: (s: string) => void; bar?: boolean } = {}): Promise<GPTRunResult> {
  const { epochs = 4, saveAt = 2, log = () => {}, bar = false } = opts;
  // Until the wasm backend has loaded binaryen its kernels run as JavaScript, and a step compiled
  // then keeps them: wait for it, so that both runs use WebAssembly kernels from the first step.
  await kiln.ready();
  const { x, y } = windows();
  const loader = new data.DataLoader(new data.TensorDataset(x, y), { batchSize: BATCH, shuffle: true, dropLast: true });
  const total = loader.length * epochs;
  const warmup = Math.max(1, Math.round(total / 10));
  const dir = mkdtempSync(join(tmpdir(), 'kiln-gpt-'));
  const path = join(dir, 'gpt.safetensors');

  const runEpochs = async (label: string, s: Setup, from: number, losses: number[], save: boolean) => {
    const t0 = performance.now();
    for (let epoch = from; epoch < epochs; epoch++) {
      kiln.manualSeed(100 + epoch); // the epoch's shuffle depends on the epoch alone, so a resumed run matches
      for (const [xb, yb] of loader) {
        const loss = s.step(xb, yb);
        s.sched.step();
        losses.push(loss.item() as number);
        loss.dispose();
        xb.dispose();
        yb.dispose();
        if (bar) progress(from * loader.length + losses.length, total, `loss ${losses[losses.length - 1].toFixed(3)}  lr ${s.sched.getLastLr()[0].toExponential(2)}`, label);
      }
      if (save && epoch + 1 === saveAt) {
        await kiln.save({ model: s.model.stateDict(), optimizer: s.opt.stateDict(), scheduler: s.sched.stateDict(), epoch: epoch + 1 }, path);
        log(`${label.trim()}: saved a checkpoint after epoch ${epoch + 1} (step ${losses.length})`);
      }
    }
    log(`${label.trim()}: ${losses.length} steps in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  };

  try {
    const params = new GPT(chars.length).parameters().reduce((n, p) => n + p.size, 0);
    log(`GPT: ${LAYERS} layers, ${HEADS} heads, width ${WIDTH}, block ${BLOCK}, vocab ${chars.length} (${params} parameters); ` +
      `${x.shape[0]} windows of ${TEXT.length} characters, batch ${BATCH}: ${loader.length} steps per epoch x ${epochs} epochs (warm-up ${warmup})`);
    const eager: number[] = [];
    await runEpochs('eager   ', setup(total, warmup, false), 0, eager, false);

    const run = setup(total, warmup, true);
    const compiled: number[] = [];
    await runEpochs('compiled', run, 0, compiled, true);

    // A fresh process: build everything again, load the checkpoint, continue.
    const again = setup(total, warmup, true);
    const ckpt = await kiln.load(path);
    again.model.loadStateDict(ckpt.model);
    again.opt.loadStateDict(ckpt.optimizer);
    again.sched.loadStateDict(ckpt.scheduler);
    log(`resumed from epoch ${ckpt.epoch} in fresh objects`);
    const resumed: number[] = [];
    await runEpochs('resumed ', again, ckpt.epoch, resumed, false);
    return { eager, compiled, resumed, traces: run.traces(), sample: sample(again.model, 'First Citizen:\n', 40) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Eager and compiled losses agree when each step's |difference| is within this (relative to the loss). */
export const LOSS_RTOL = 1e-4;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const t0 = performance.now();
  const r = await trainGPT({ epochs: 4, saveAt: 2, log: console.log, bar: true });
  const diffs = r.eager.map((e, i) => Math.abs(e - r.compiled[i]) / Math.abs(e));
  const worst = diffs.indexOf(Math.max(...diffs));
  const every = Math.max(1, Math.floor(r.eager.length / 6));
  const shown = r.eager.map((_, i) => i).filter((i) => i % every === 0 || i === r.eager.length - 1);
  console.log('\nstep     ' + shown.map((i) => String(i + 1).padStart(7)).join(''));
  console.log('eager    ' + shown.map((i) => r.eager[i].toFixed(3).padStart(7)).join(''));
  console.log('compiled ' + shown.map((i) => r.compiled[i].toFixed(3).padStart(7)).join(''));
  console.log(`eager and compiled ${diffs[worst] <= LOSS_RTOL ? 'agree' : 'DISAGREE'}: max relative difference ${diffs[worst].toExponential(1)} (step ${worst + 1}; tolerance ${LOSS_RTOL})`);
  const tail = r.compiled.slice(-r.resumed.length);
  const same = r.resumed.length > 0 && tail.every((v, i) => v === r.resumed[i]);
  console.log(`the resumed run ${same ? 'matches' : 'DIFFERS FROM'} the uninterrupted one bit for bit (${r.resumed.length} steps); ${r.traces} trace(s) of the compiled step`);
  console.log(`sample: ${JSON.stringify(r.sample)}`);
  console.log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
