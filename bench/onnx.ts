// bench: imported ONNX models compiled on wasm against onnxruntime-web running the same file in the
// same process, one thread each. Workloads: the conformance suite's largest CNN-shaped case
// (pytorch-operator/test_operator_conv), the attention block of workloads.ts exported and re-imported,
// and the CNN of examples/cnn_train.ts exported at batch 64. Prints medians and kiln/onnxruntime.
//   npm run bench:onnx [-- --quick] [--filter S] [--out DIR]
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-web';
import * as kiln from '../src/index.js';
import type { Tensor } from '../src/index.js';
import { SmallCnn } from '../examples/cnn_train.js';
import { timeTask, type Budget } from './measure.js';

ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'error';

interface OnnxWorkload {
  readonly name: string;
  readonly what: string;
  /** The model file and one input per graph input, or null with the reason it cannot run here. */
  make(quick: boolean): { bytes: Uint8Array; inputs: Tensor[] } | { skip: string };
}

const DATA = process.env.KILN_ONNX_TESTDATA ?? '/usr/share/libonnx-testdata/data';

/** The attention block of bench/workloads.ts (pre-norm, QKV, softmax(QKᵀ/8)V, out-projection, residual). */
function attentionFile(quick: boolean): { bytes: Uint8Array; inputs: Tensor[] } {
  const [b, t, h, d] = quick ? [1, 16, 2, 8] : [8, 128, 4, 64];
  const e = h * d;
  const p = () => kiln.randn([e, e]).mul(1 / Math.sqrt(e));
  const wq = p(), wk = p(), wv = p(), wo = p();
  const g = kiln.ones([e]), beta = kiln.zeros([e]);
  const heads = (z: Tensor) => z.reshape([b, t, h, d]).permute([0, 2, 1, 3]);
  const block = (x: Tensor) => {
    const n = kiln.layerNorm(x, [e], g, beta);
    const q = heads(n.matmul(wq)), k = heads(n.matmul(wk)), v = heads(n.matmul(wv));
    const att = q.matmul(k.transpose(2, 3)).mul(1 / Math.sqrt(d)).softmax(-1);
    return x.add(att.matmul(v).permute([0, 2, 1, 3]).reshape([b, t, e]).matmul(wo));
  };
  const x = kiln.randn([b, t, e]);
  return { bytes: kiln.onnx.export(block, [x]), inputs: [x] };
}

const WORKLOADS: readonly OnnxWorkload[] = [
  {
    name: 'conformance conv', what: 'pytorch-operator/test_operator_conv: Conv 16→13, 3×3, on [20,16,50,40]',
    make: () => {
      const file = path.join(DATA, 'pytorch-operator/test_operator_conv/model.onnx');
      if (!fs.existsSync(file)) return { skip: `${file} not found (apt-get install libonnx-testdata)` };
      const input = kiln.onnx.readTensor(fs.readFileSync(path.join(path.dirname(file), 'test_data_set_0/input_0.pb')));
      return { bytes: fs.readFileSync(file), inputs: [input] };
    },
  },
  { name: 'attention block', what: 'workloads.ts attention (8 × 128 tokens, 4 heads of 64), exported by kiln', make: attentionFile },
  {
    name: 'cnn (examples)', what: 'examples/cnn_train.ts SmallCnn in eval mode, batch 64 (quick: 4)',
    make: (quick) => {
      const cnn = new SmallCnn();
      cnn.eval();
      const x = kiln.randn([quick ? 4 : 64, 1, 28, 28]);
      return { bytes: kiln.onnx.export(cnn, [x]), inputs: [x] };
    },
  },
];

export interface OnnxBenchRow {
  readonly name: string;
  readonly what: string;
  readonly kilnMs?: number;
  readonly ortMs?: number;
  /** kiln time / onnxruntime time (below 1: kiln is faster). */
  readonly ratio?: number;
  readonly maxAbsDiff?: number;
  readonly kernels?: number;
  readonly skipped?: string;
}

async function runOne(w: OnnxWorkload, quick: boolean, budget: Budget): Promise<OnnxBenchRow> {
  kiln.manualSeed(0);
  const made = w.make(quick);
  if ('skip' in made) return { name: w.name, what: w.what, skipped: made.skip };
  const { bytes, inputs } = made;
  // kiln: the file imported, compiled on wasm (the first call traces and builds kernels).
  const model = await kiln.onnx.load(bytes, { backend: 'wasm', trainable: false });
  const feeds = inputs.map((t) => t.to('wasm'));
  const run = kiln.compile((...xs: Tensor[]) => model.forward(...xs) as Tensor, { backend: 'wasm' });
  const kilnCall = () => run(...feeds).data(); // the result copied out, as onnxruntime's is
  const t0 = performance.now();
  const kilnOut = kilnCall();
  kilnCall();
  const estimate = (performance.now() - t0) / 2;
  const ex = kiln.explain(run, ...feeds);
  // onnxruntime-web: the same bytes, one thread, its wasm backend.
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], logSeverityLevel: 3 });
  const ortFeeds = Object.fromEntries(session.inputNames.map((n, i) => [n, new ort.Tensor('float32', inputs[i].data() as Float32Array, [...inputs[i].shape])]));
  const ortOut = (await session.run(ortFeeds))[session.outputNames[0]].data as Float32Array;
  let maxAbsDiff = 0;
  for (let i = 0; i < kilnOut.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(kilnOut[i] - ortOut[i]));
  const kilnT = await timeTask(`${w.name} kiln`, kilnCall, estimate, budget);
  const ortT = await timeTask(`${w.name} onnxruntime`, () => session.run(ortFeeds), kilnT.medianMs, budget);
  await session.release();
  return {
    name: w.name, what: w.what, kilnMs: kilnT.medianMs, ortMs: ortT.medianMs, ratio: kilnT.medianMs / ortT.medianMs, maxAbsDiff,
    kernels: ex.graphs.reduce((s, g) => s + g.kernels.length, 0),
  };
}

export async function runOnnxBench(opts: { quick?: boolean; filter?: string; log?: (s: string) => void } = {}): Promise<OnnxBenchRow[]> {
  const quick = opts.quick ?? false;
  await kiln.ready();
  kiln.setBackend('wasm');
  const budget: Budget = quick ? { ms: 50, minIters: 3, maxIters: 10 } : { ms: 3000, minIters: 10, maxIters: 500 };
  const rows: OnnxBenchRow[] = [];
  for (const w of WORKLOADS.filter((x) => !opts.filter || x.name.includes(opts.filter!))) {
    opts.log?.(`${w.name} ...`);
    rows.push(await runOne(w, quick, budget));
  }
  return rows;
}

export function formatOnnxBench(rows: readonly OnnxBenchRow[]): string {
  const head = '| workload | kiln compiled wasm ms | onnxruntime-web ms | kiln / onnxruntime | kernels | max abs diff |\n|---|---|---|---|---|---|';
  const body = rows.map((r) => (r.skipped ? `| ${r.name} | skipped: ${r.skipped} | | | | |`
    : `| ${r.name} | ${r.kilnMs!.toFixed(2)} | ${r.ortMs!.toFixed(2)} | ${r.ratio!.toFixed(2)}x | ${r.kernels} | ${r.maxAbsDiff!.toExponential(1)} |`));
  return [head, ...body].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const outIdx = args.indexOf('--out');
  const out = outIdx >= 0 ? args[outIdx + 1] : path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
  const filterIdx = args.indexOf('--filter');
  const rows = await runOnnxBench({ quick: args.includes('--quick'), filter: filterIdx >= 0 ? args[filterIdx + 1] : undefined, log: (s) => process.stderr.write(`${s}\n`) });
  const table = formatOnnxBench(rows);
  console.log(table);
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, `onnx${args.includes('--quick') ? '-quick' : ''}.md`), `${table}\n`);
  fs.writeFileSync(path.join(out, `onnx${args.includes('--quick') ? '-quick' : ''}.json`), `${JSON.stringify(rows, null, 2)}\n`);
}
