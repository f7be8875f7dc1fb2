// A small CNN (conv-bn-relu-pool twice, then a linear layer) trained with Adam on 28×28 images of the
// ten digits, drawn in code as seven-segment strokes with random scale, slant, rotation, position,
// stroke width and pixel noise. Trains eagerly, then compiled from the same seed, printing a progress
// bar, each epoch's loss and held-out accuracy, and the compiled run's speed-up.
//   npx tsx examples/cnn_train.ts [epochs, default 2]
import { pathToFileURL } from 'node:url';
import { compile, currentBackend, manualSeed, nn, noGrad, optim, ready, tensor, tidy, type BackendName, type Tensor } from '../src/index.js';

export const SIDE = 28;

/** Segments a..g of a seven-segment digit, in a box 1 wide and 2 tall: [x0, y0, x1, y1]. */
const SEGMENTS: Record<string, readonly [number, number, number, number]> = {
  a: [0, 0, 1, 0], b: [1, 0, 1, 1], c: [1, 1, 1, 2], d: [0, 2, 1, 2], e: [0, 1, 0, 2], f: [0, 0, 0, 1], g: [0, 1, 1, 1],
};
const DIGITS = ['abcdef', 'bc', 'abged', 'abgcd', 'fgbc', 'afgcd', 'afgedc', 'abc', 'abcdefg', 'abcdfg'];

/** A small seeded generator (mulberry32), so the data set does not depend on kiln's global seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** Distance from (px, py) to the segment (x0, y0)-(x1, y1). */
function segmentDistance(px: number, py: number, x0: number, y0: number, x1: number, y1: number): number {
  const dx = x1 - x0, dy = y1 - y0;
  const t = Math.max(0, Math.min(1, ((px - x0) * dx + (py - y0) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - x0 - t * dx, py - y0 - t * dy);
}

export interface Images {
  /** [n, 1, 28, 28] pixel values, roughly in [0, 1] plus noise. */
  readonly pixels: Float32Array;
  readonly labels: Int32Array;
  readonly count: number;
}

/** `count` digit images (labels cycle through 0..9), drawn from `seed`. */
export function drawDigits(count: number, seed: number): Images {
  const r = rng(seed);
  const pixels = new Float32Array(count * SIDE * SIDE);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const digit = i % 10;
    labels[i] = digit;
    const h = 7 + 3 * r(); // half height of the digit, in pixels
    const w = h * (0.5 + 0.3 * r());
    const slant = 0.25 * (r() - 0.5), angle = 0.3 * (r() - 0.5);
    const cx = SIDE / 2 + 3 * (r() - 0.5) * 2, cy = SIDE / 2 + 3 * (r() - 0.5) * 2;
    const width = 1 + 1.2 * r();
    const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
    // Segment end points in pixel coordinates: unit box -> centred, slanted, scaled, rotated, moved.
    const place = (x: number, y: number): [number, number] => {
      const u = (x - 0.5) * w + slant * (1 - y) * h, v = (y - 1) * h;
      return [cx + cos * u - sin * v, cy + sin * u + cos * v];
    };
    const segs = [...DIGITS[digit]].map((s) => { const [x0, y0, x1, y1] = SEGMENTS[s]; return [...place(x0, y0), ...place(x1, y1)]; });
    const base = i * SIDE * SIDE;
    for (let py = 0; py < SIDE; py++) {
      for (let px = 0; px < SIDE; px++) {
        let d = Infinity;
        for (const [x0, y0, x1, y1] of segs) d = Math.min(d, segmentDistance(px + 0.5, py + 0.5, x0, y0, x1, y1));
        const ink = Math.max(0, Math.min(1, width - d + 0.5));
        pixels[base + py * SIDE + px] = ink + 0.2 * gaussian(r);
      }
    }
  }
  return { pixels, labels, count };
}

/** conv(1→8) bn relu pool, conv(8→16) bn relu pool, linear(16·7·7 → 10). No conv bias: batch norm's shift replaces it. */
export class SmallCnn extends nn.Module {
  conv1 = new nn.Conv2d(1, 8, 3, { padding: 1, bias: false });
  bn1 = new nn.BatchNorm2d(8);
  conv2 = new nn.Conv2d(8, 16, 3, { padding: 1, bias: false });
  bn2 = new nn.BatchNorm2d(16);
  pool = new nn.MaxPool2d(2);
  flatten = new nn.Flatten();
  fc = new nn.Linear(16 * 7 * 7, 10);
  forward(x: Tensor): Tensor {
    const h1 = this.pool.forward(this.bn1.forward(this.conv1.forward(x)).relu()) as Tensor;
    const h2 = this.pool.forward(this.bn2.forward(this.conv2.forward(h1)).relu()) as Tensor;
    return this.fc.forward(this.flatten.forward(h2));
  }
}

export interface EpochStats { readonly loss: number; readonly accuracy: number; readonly ms: number }

export interface TrainOptions {
  train: Images;
  test: Images;
  compiled: boolean;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
  /** Per-epoch lines. */
  log?: (line: string) => void;
  /** Called after every step with (step, steps per epoch, epoch). */
  progress?: (step: number, steps: number, epoch: number) => void;
}

export interface TrainResult {
  readonly epochs: readonly EpochStats[];
  /** The loss of every step, in order. */
  readonly losses: readonly number[];
  readonly model: SmallCnn;
  /** Training time (evaluation excluded), ms. */
  readonly trainMs: number;
  /** The first step's time (a compiled run traces and compiles in it), ms. */
  readonly firstStepMs: number;
}

function batchOf(images: Images, order: ArrayLike<number>, start: number, size: number, backend: BackendName): [Tensor, Tensor] {
  const px = new Float32Array(size * SIDE * SIDE);
  const lb = new Int32Array(size);
  for (let j = 0; j < size; j++) {
    const i = order[start + j];
    px.set(images.pixels.subarray(i * SIDE * SIDE, (i + 1) * SIDE * SIDE), j * SIDE * SIDE);
    lb[j] = images.labels[i];
  }
  return [tensor(px, { shape: [size, 1, SIDE, SIDE], backend }), tensor(lb, { dtype: 'int32', backend })];
}

/** Held-out accuracy of the model in eval mode. */
export function evaluate(model: SmallCnn, images: Images, backend: BackendName, predict: (x: Tensor) => Tensor): number {
  model.eval();
  const order = Array.from({ length: images.count }, (_, i) => i);
  let correct = 0;
  const size = 250;
  for (let s = 0; s < images.count; s += size) {
    const n = Math.min(size, images.count - s);
    const [x, y] = batchOf(images, order, s, n, backend);
    correct += tidy(() => noGrad(() => predict(x).argmax(1).eq(y).sum().item() as number));
    x.dispose();
    y.dispose();
  }
  model.train();
  return correct / images.count;
}

/** Trains a fresh SmallCnn from `seed` (eagerly or compiled), evaluating on `test` after each epoch. */
export function trainCnn(o: TrainOptions): TrainResult {
  const { train, test, compiled, epochs = 2, batchSize = 64, lr = 5e-3, seed = 0, log = () => {}, progress } = o;
  const backend = currentBackend(); // the model's parameters are created there
  manualSeed(seed);
  const model = new SmallCnn();
  const opt = new optim.Adam(model.parameters(), { lr });
  const step = (x: Tensor, y: Tensor): Tensor => {
    opt.zeroGrad();
    const loss = nn.crossEntropy(model.forward(x), y);
    loss.backward();
    opt.step();
    return loss;
  };
  const forward = (x: Tensor) => model.forward(x);
  const trainStep = compiled ? compile(step, { backend }) : step;
  const predict = compiled ? compile(forward, { backend }) : forward;
  const shuffle = rng(seed + 1);
  const steps = Math.floor(train.count / batchSize);
  const stats: EpochStats[] = [];
  const losses: number[] = [];
  let trainMs = 0;
  let firstStepMs = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = Array.from({ length: train.count }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) { const j = Math.floor(shuffle() * (i + 1)); [order[i], order[j]] = [order[j], order[i]]; }
    const t0 = performance.now();
    let sum = 0;
    for (let s = 0; s < steps; s++) {
      const [x, y] = batchOf(train, order, s * batchSize, batchSize, backend);
      // Eager steps run in tidy() so their intermediates are freed at once; a compiled step frees its own.
      const out = compiled ? trainStep(x, y) : tidy(() => trainStep(x, y));
      const loss = out.item() as number;
      [x, y, out].forEach((t) => t.dispose());
      if (epoch === 0 && s === 0) firstStepMs = performance.now() - t0;
      losses.push(loss);
      sum += loss;
      progress?.(s + 1, steps, epoch);
    }
    const ms = performance.now() - t0;
    trainMs += ms;
    const accuracy = evaluate(model, test, backend, predict);
    stats.push({ loss: sum / steps, accuracy, ms });
    log(`epoch ${epoch + 1}/${epochs}  loss ${(sum / steps).toFixed(4)}  held-out accuracy ${(100 * accuracy).toFixed(1)}%  (${(ms / 1000).toFixed(1)} s)`);
  }
  return { epochs: stats, losses, model, trainMs, firstStepMs };
}

/** A one-line progress bar on stderr. */
function bar(label: string): (step: number, steps: number, epoch: number) => void {
  return (step, steps, epoch) => {
    const width = 30;
    const done = Math.round((width * step) / steps);
    process.stderr.write(`\r${label} epoch ${epoch + 1} [${'#'.repeat(done)}${'.'.repeat(width - done)}] ${step}/${steps}`);
    if (step === steps) process.stderr.write('\r' + ' '.repeat(label.length + width + 30) + '\r');
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await ready(); // wasm kernels compile with binaryen from here on (before, they run as plain JS)
  const epochs = Number(process.argv[2] ?? 2);
  const train = drawDigits(6000, 1);
  const test = drawDigits(1000, 2);
  console.log(`${train.count} training and ${test.count} held-out images of 28×28 seven-segment digits, batch 64, Adam`);
  const runs: TrainResult[] = [];
  for (const compiled of [false, true]) {
    const label = compiled ? 'compiled' : 'eager';
    console.log(`-- ${label}`);
    runs.push(trainCnn({ train, test, compiled, epochs, log: console.log, progress: bar(label) }));
  }
  const [eager, comp] = runs;
  const pct = (r: TrainResult) => `${(100 * r.epochs[r.epochs.length - 1].accuracy).toFixed(1)}%`;
  console.log(`held-out accuracy: eager ${pct(eager)}, compiled ${pct(comp)}`);
  // Steady state: every step but the first (which traces and compiles in the compiled run).
  const steady = (r: TrainResult) => r.trainMs - r.firstStepMs;
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log(`training time: eager ${s(eager.trainMs)}, compiled ${s(comp.trainMs)} (of which ${s(comp.firstStepMs)} tracing and compiling the step)`);
  console.log(`compiled speed-up over eager: ${(steady(eager) / steady(comp)).toFixed(2)}x per step, ${(eager.trainMs / comp.trainMs).toFixed(2)}x overall`);
}
