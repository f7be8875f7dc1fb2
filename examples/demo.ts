// The main demo: a small character-level transformer (a GPT) trained eagerly and through compile(),
// from the same initial weights on the same batches, one step of each in turn. It prints both loss
// curves (they agree), the speed-up (median step times), what compile() made of the training step
// (explain(): graphs, breaks, kernels) and what to try next. Run: npm run demo
// Its 60 steps are a time budget: a step (eager and compiled) costs about 0.16 s of CPU, start-up
// (tsx, binaryen, the first step's kernels, the trace and compile) about 8 s.
import * as kiln from '../src/index.js';
import { nn, optim, type Tensor } from '../src/index.js';
import { progress } from './progress.js';

const STEPS = Math.max(2, Number(process.env.DEMO_STEPS ?? 60));
/** Steps left out of the timing: the first calls trace, compile and build kernels. */
const WARMUP = Math.min(10, Math.floor(STEPS / 2));

// The text it learns: the opening of Coriolanus (public domain), repeated by sampling windows.
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
sufferance is a gain to them.
`;

// Model: token + position embeddings, LAYERS pre-norm blocks (causal self-attention, GELU MLP),
// a final LayerNorm and a linear head over the characters.
const CONTEXT = 32, WIDTH = 64, HEADS = 4, LAYERS = 2, BATCH = 8;

class Block extends nn.Module {
  ln1 = new nn.LayerNorm(WIDTH);
  qkv = new nn.Linear(WIDTH, 3 * WIDTH);
  proj = new nn.Linear(WIDTH, WIDTH);
  ln2 = new nn.LayerNorm(WIDTH);
  fc = new nn.Linear(WIDTH, 4 * WIDTH);
  out = new nn.Linear(4 * WIDTH, WIDTH);
  constructor(readonly causalMask: Tensor) { super(); }

  forward(x: Tensor): Tensor {
    const [b, t] = x.shape;
    const hd = WIDTH / HEADS;
    // [b, t, 3, heads, hd] -> [3, b, heads, t, hd]: queries, keys and values per head.
    const qkv = this.qkv.forward(this.ln1.forward(x)).reshape([b, t, 3, HEADS, hd]).permute([2, 0, 3, 1, 4]);
    const [q, k, v] = [0, 1, 2].map((i) => qkv.narrow(0, i, 1).squeeze(0));
    const att = q.matmul(k.mT()).mul(1 / Math.sqrt(hd)).add(this.causalMask).softmax(-1);
    const y = att.matmul(v).permute([0, 2, 1, 3]).reshape([b, t, WIDTH]);
    x = x.add(this.proj.forward(y));
    return x.add(this.out.forward(this.fc.forward(this.ln2.forward(x)).gelu('tanh')));
  }
}

class CharGPT extends nn.Module {
  tok: nn.Embedding;
  pos: Tensor;
  blocks: Block[];
  lnf = new nn.LayerNorm(WIDTH);
  head: nn.Linear;
  constructor(vocab: number) {
    super();
    const row = kiln.arange(CONTEXT).reshape([CONTEXT, 1]), col = kiln.arange(CONTEXT).reshape([1, CONTEXT]);
    const mask = kiln.where(col.gt(row), -Infinity, 0); // a position sees itself and the past
    this.tok = new nn.Embedding(vocab, WIDTH);
    this.pos = kiln.randn([CONTEXT, WIDTH]).mul(0.02).requiresGrad_(true);
    this.blocks = Array.from({ length: LAYERS }, () => new Block(mask));
    this.head = new nn.Linear(WIDTH, vocab);
  }

  logits(idx: Tensor): Tensor {
    let x = this.tok.forward(idx).add(this.pos.narrow(0, 0, idx.shape[1]));
    for (const b of this.blocks) x = b.forward(x);
    return this.head.forward(this.lnf.forward(x));
  }

  forward(idx: Tensor, targets: Tensor): Tensor {
    const logits = this.logits(idx);
    return nn.crossEntropy(logits.reshape([-1, logits.shape[2]]), targets.reshape([-1]));
  }
}

// Data: BATCH windows of CONTEXT characters per step (a fixed pseudo-random sequence), the next
// character as the target.
const chars = [...new Set(TEXT)].sort();
const ids = Int32Array.from(TEXT, (c) => chars.indexOf(c));
function batch(step: number): [Tensor, Tensor] {
  const x = new Int32Array(BATCH * CONTEXT), y = new Int32Array(BATCH * CONTEXT);
  for (let b = 0; b < BATCH; b++) {
    const start = (step * 7919 + b * 104729) % (ids.length - CONTEXT - 1);
    x.set(ids.subarray(start, start + CONTEXT), b * CONTEXT);
    y.set(ids.subarray(start + 1, start + CONTEXT + 1), b * CONTEXT);
  }
  return [kiln.tensor(x, { shape: [BATCH, CONTEXT] }), kiln.tensor(y, { shape: [BATCH, CONTEXT] })];
}

/** A model and its Adam optimizer, created from `seed` (both runs start from the same weights). */
function setup(seed: number): { model: CharGPT; step: (x: Tensor, y: Tensor) => Tensor } {
  kiln.manualSeed(seed);
  const model = new CharGPT(chars.length);
  const opt = new optim.Adam(model.parameters(), { lr: 1e-2 });
  const step = (x: Tensor, y: Tensor): Tensor => {
    opt.zeroGrad();
    const loss = model.forward(x, y);
    loss.backward();
    opt.step();
    return loss;
  };
  return { model, step };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const t0 = performance.now();
  // wasm is the default backend; KILN_BACKEND=cpu|webgpu picks another. ready() resolves once
  // binaryen has loaded (until then kernels run as JavaScript over the same memory).
  const backendName = process.env.KILN_BACKEND as kiln.BackendName | undefined;
  if (backendName) {
    await kiln.initBackend(backendName);
    kiln.setBackend(backendName);
  }
  await kiln.ready();
  const readyMs = performance.now() - t0;

  const eager = setup(0);
  const compiled = setup(0);
  const params = eager.model.parameters().reduce((n, p) => n + p.size, 0);
  console.log(`kiln demo: a character-level transformer (${LAYERS} layers, width ${WIDTH}, ${HEADS} heads, context ${CONTEXT}; ${(params / 1000).toFixed(0)}k parameters)`);
  console.log(`trained for ${STEPS} steps of ${BATCH} x ${CONTEXT} characters (forward, backward, Adam), eagerly and with compile(),`);
  console.log(`from the same weights on the same batches, one step of each in turn; backend ${kiln.currentBackend()} (ready in ${(readyMs / 1000).toFixed(1)} s)\n`);

  // The whole training step (zeroGrad, forward, backward, Adam) compiled: one traced graph.
  const compiledStep = kiln.compile(compiled.step);
  const losses = { eager: [] as number[], compiled: [] as number[] };
  const ms = { eager: [] as number[], compiled: [] as number[] };
  let firstCompiledMs = 0;
  for (let s = 0; s < STEPS; s++) {
    const [x, y] = batch(s);
    let t = performance.now();
    const le = kiln.tidy(() => eager.step(x, y)).item() as number; // tidy frees the step's temporaries
    ms.eager.push(performance.now() - t);
    t = performance.now();
    const lc = compiledStep(x, y).item() as number;
    ms.compiled.push(performance.now() - t);
    if (s === 0) firstCompiledMs = ms.compiled[0];
    losses.eager.push(le);
    losses.compiled.push(lc);
    x.dispose();
    y.dispose();
    progress(s + 1, STEPS, `loss eager ${le.toFixed(3)}  compiled ${lc.toFixed(3)}`);
  }

  const diffs = losses.eager.map((l, i) => Math.abs(l - losses.compiled[i]));
  const worst = diffs.indexOf(Math.max(...diffs));
  const every = Math.max(1, Math.floor(STEPS / 5));
  console.log('\nstep   ' + losses.eager.map((_, i) => i).filter((i) => i % every === 0 || i === STEPS - 1).map((i) => String(i + 1).padStart(7)).join(''));
  for (const k of ['eager', 'compiled'] as const) {
    console.log(`${k.padEnd(9)}` + losses[k].map((l, i) => [l, i] as const).filter(([, i]) => i % every === 0 || i === STEPS - 1).map(([l]) => l.toFixed(3).padStart(7)).join(''));
  }
  console.log(`losses agree: max |eager - compiled| = ${diffs[worst].toExponential(1)} (step ${worst + 1}) over ${STEPS} steps`);

  // The speed-up is the median of each step's eager/compiled ratio: the two halves of a step run
  // back to back, so a change of machine load affects both alike.
  const me = median(ms.eager.slice(WARMUP)), mc = median(ms.compiled.slice(WARMUP));
  const speedup = median(ms.eager.slice(WARMUP).map((e, i) => e / ms.compiled[WARMUP + i]));
  console.log(`\nstep time (median of steps ${WARMUP + 1}-${STEPS}): eager ${me.toFixed(1)} ms, compiled ${mc.toFixed(1)} ms -> ${speedup.toFixed(2)}x faster compiled (median of the steps' ratios)`);
  const cache = compiledStep.cacheInfo();
  console.log(`the first compiled call traced and compiled the step in ${(firstCompiledMs / 1000).toFixed(2)} s; ` +
    `later calls replayed the cached program (${cache.traces} trace, ${cache.hits} cache hits)`);

  // What compile() made of the step: explain() of the compiled step reports its cached program (the
  // call it makes is one more training step, a cache hit).
  const [x, y] = batch(STEPS);
  const report = kiln.explain(compiledStep, x, y);
  const kernels = report.graphs.flatMap((g) => g.kernels);
  const kinds = new Map<string, number>();
  for (const k of kernels) { const kind = /^\w+/.exec(k)?.[0] ?? '?'; kinds.set(kind, (kinds.get(kind) ?? 0) + 1); }
  console.log(`\nexplain(step): ${report.graphCount} graph(s), ${report.breaks.length} graph break(s), mode ${report.mode}; ` +
    `${report.graphs.reduce((n, g) => n + g.ops, 0)} ops fused into ${kernels.length} kernels (${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')})`);
  const widest = report.graphs.flatMap((g) => g.fusionGroups).reduce((a, b) => (b.length > a.length ? b : a), [] as readonly number[]);
  console.log(`  the largest fusion group computes ${widest.length} ops in one kernel`);

  // A graph break, for contrast: reading a value inside the function splits the graph there.
  const logged = (a: Tensor, b: Tensor): Tensor => {
    const loss = eager.model.forward(a, b);
    if ((loss.item() as number) > 100) console.log('diverged'); // item() needs the value now
    return loss;
  };
  const broken = kiln.explain(logged, x, y);
  for (const b of broken.breaks) console.log(`  a function that reads loss.item() breaks: ${b.reason} at ${b.loc} -> ${broken.graphCount} graphs, run segment by segment`);

  console.log(`\nnext:
  DEMO_STEPS=20 npx kiln dump examples/demo.ts   every graph, fusion group and kernel (WAT) of a run, and graph.html
  KILN_LOGS=breaks,recompiles npm run demo       graph breaks and recompiles as they happen
  npx tsx examples/graph_breaks.ts               what breaks a graph, and what compile() does then
  npm run bench                                  eager vs compiled per workload, with rooflines
  README.md                                      compile() semantics, the backends, the browser page`);
  console.log(`\ndone in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

main().catch((e) => { console.error(e); process.exit(1); });
