// The ONNX round trip: train a small network on one synthetic task and export it to an ONNX file;
// load that file back as a kiln module and check it against onnxruntime-web; fine-tune it in kiln
// on a second task with compile() and Adam until that task's loss falls by 10x or more; export it
// again and show onnxruntime-web running the new file gives kiln's outputs.
//   npx tsx examples/onnx_finetune.ts [--out DIR]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-web';
import * as kiln from '../src/index.js';
import type { Tensor } from '../src/index.js';

ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'error';

/** A fixed random teacher network: the target of a synthetic regression task. */
function teacher(seed: number): (x: Tensor) => Tensor {
  kiln.manualSeed(seed);
  const p = kiln.randn([8, 16]).mul(0.6), q = kiln.randn([16, 4]).mul(0.5);
  return (x) => x.matmul(p).tanh().matmul(q);
}

/** The student: 8 → 32 → 32 → 4 with GELU. */
function student(): kiln.nn.Sequential {
  return new kiln.nn.Sequential(new kiln.nn.Linear(8, 32), new kiln.nn.GELU(), new kiln.nn.Linear(32, 32), new kiln.nn.GELU(), new kiln.nn.Linear(32, 4));
}

/** Trains `params` (compiled step, Adam) on x -> target(x); returns the loss per step. */
function train(forward: (x: Tensor) => Tensor, params: Tensor[], x: Tensor, y: Tensor, steps: number, lr: number): number[] {
  const opt = new kiln.optim.Adam(params, { lr });
  const step = kiln.compile(() => {
    opt.zeroGrad();
    const loss = kiln.nn.mseLoss(forward(x), y);
    loss.backward();
    opt.step();
    return loss;
  });
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) losses.push(step().item() as number);
  return losses;
}

/** Largest |kiln − onnxruntime| over the outputs of a model file on one input. */
async function againstOnnxRuntime(file: Uint8Array, inputName: string, x: Tensor, kilnOut: Tensor): Promise<number> {
  const session = await ort.InferenceSession.create(file);
  const result = await session.run({ [inputName]: new ort.Tensor('float32', x.data() as Float32Array, [...x.shape]) });
  await session.release();
  const theirs = result[session.outputNames[0]].data as Float32Array;
  const mine = kilnOut.data();
  return Math.max(...Array.from(mine, (v, i) => Math.abs(v - theirs[i])));
}

export interface FinetuneResult {
  readonly pretrainLoss: readonly number[];
  /** Task-B loss of the imported model before and after fine-tuning. */
  readonly before: number;
  readonly after: number;
  readonly importedVsOrt: number;
  readonly exportedVsOrt: number;
  readonly files: readonly string[];
}

export async function runFinetune(opts: { pretrainSteps?: number; finetuneSteps?: number; out?: string; log?: (s: string) => void } = {}): Promise<FinetuneResult> {
  const { pretrainSteps = 300, finetuneSteps = 300, out, log = () => {} } = opts;
  await kiln.ready();
  const taskA = teacher(1), taskB = teacher(2);
  kiln.manualSeed(0);
  const x = kiln.randn([256, 8]);
  const probe = kiln.randn([16, 8]);

  // 1. Train on task A in kiln and export the trained network.
  const net = student();
  const pretrainLoss = train((t) => net.forward(t) as Tensor, net.parameters(), x, taskA(x), pretrainSteps, 0.01);
  log(`task A: loss ${pretrainLoss[0].toFixed(4)} -> ${pretrainLoss[pretrainLoss.length - 1].toFixed(4)} in ${pretrainSteps} steps`);
  const fileA = kiln.onnx.export(net, [probe], { inputNames: ['features'], outputNames: ['prediction'], dynamicAxes: { features: { 0: 'batch' } } });

  // 2. Load the file as a kiln module and check it against onnxruntime-web.
  const model = await kiln.onnx.load(fileA);
  const importedVsOrt = await againstOnnxRuntime(fileA, 'features', probe, model.forward(probe) as Tensor);
  log(`imported ${model.namedParameters().length} parameters; max |kiln - onnxruntime| = ${importedVsOrt.toExponential(2)}`);

  // 3. Fine-tune the imported model on task B (compiled training step, Adam).
  const yB = taskB(x);
  const lossB = () => kiln.noGrad(() => kiln.nn.mseLoss(model.forward(x) as Tensor, yB).item() as number);
  const before = lossB();
  train((t) => model.forward(t) as Tensor, model.parameters(), x, yB, finetuneSteps, 0.005);
  const after = lossB();
  log(`task B: loss ${before.toFixed(4)} -> ${after.toFixed(5)} (${(before / after).toFixed(1)}x lower) in ${finetuneSteps} steps`);

  // 4. Export the fine-tuned module and run the new file in onnxruntime-web.
  const fileB = kiln.onnx.export(model, [probe]);
  const exportedVsOrt = await againstOnnxRuntime(fileB, 'features', probe, model.forward(probe) as Tensor);
  log(`re-exported; max |kiln - onnxruntime| = ${exportedVsOrt.toExponential(2)}`);

  const files: string[] = [];
  if (out) {
    mkdirSync(out, { recursive: true });
    for (const [name, bytes] of [['task_a.onnx', fileA], ['task_b_finetuned.onnx', fileB]] as const) {
      writeFileSync(join(out, name), bytes);
      files.push(join(out, name));
    }
    log(`wrote ${files.join(', ')}`);
  }
  return { pretrainLoss, before, after, importedVsOrt, exportedVsOrt, files };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf('--out');
  const r = await runFinetune({ log: console.log, out: i >= 0 ? process.argv[i + 1] : undefined });
  const ok = r.before / r.after >= 10 && r.importedVsOrt < 1e-4 && r.exportedVsOrt < 1e-4;
  console.log(ok ? 'round trip OK' : 'round trip FAILED');
  if (!ok) process.exitCode = 1;
}
