// kiln onnx, the TypeScript side (bin/kiln.mjs runs it through tsx):
//   kiln onnx info MODEL.onnx [--json]
//   kiln onnx run MODEL.onnx [--input NAME=FILE.pb ...] [--out DIR] [--backend NAME] [--compile]
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as kiln from '../src/index.js';
import type { BackendName, Tensor } from '../src/index.js';
import { formatInfo, infoOf } from '../src/onnx/info.js';

export const ONNX_USAGE = `usage:
  kiln onnx info MODEL.onnx [--json]
      opset, producer, inputs and outputs with shapes, parameter count, op histogram, and the
      ops kiln does not support yet
  kiln onnx run MODEL.onnx [--input NAME=FILE.pb ...] [--out DIR] [--backend cpu|wasm|webgpu] [--compile]
      runs the model; inputs come from TensorProto files (as the ONNX test data sets hold them);
      an input not given is filled with seeded random values when its shape is static. Prints
      each output's shape and first values; --out writes them as OUTPUT_NAME.pb`;

function fail(message: string): never {
  console.error(`kiln onnx: ${message}`);
  process.exit(1);
}

function readModel(file: string | undefined): Uint8Array {
  if (!file) fail(`give a model file\n\n${ONNX_USAGE}`);
  try { return fs.readFileSync(file); } catch (e) { return fail(`cannot read ${file}: ${(e as Error).message}`); }
}

function info(args: string[]): void {
  const file = args.find((a) => !a.startsWith('-'));
  const bytes = readModel(file);
  const i = infoOf(bytes, file);
  console.log(args.includes('--json') ? JSON.stringify(i, null, 2) : `${file}\n${formatInfo(i)}`);
}

function preview(t: Tensor): string {
  const d = Array.from(t.data()).slice(0, 8).map((v) => (t.dtype === 'float32' ? Number(v.toPrecision(5)) : v));
  return `[${d.join(', ')}${t.size > 8 ? ', ...' : ''}]`;
}

async function run(args: string[]): Promise<void> {
  const inputs = new Map<string, string>();
  let file: string | undefined, out: string | undefined, backend: BackendName = 'wasm', compiled = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--input') {
      const v = args[++i] ?? '';
      const eq = v.indexOf('=');
      if (eq <= 0) fail(`--input expects NAME=FILE.pb, got '${v}'`);
      inputs.set(v.slice(0, eq), v.slice(eq + 1));
    } else if (a === '--out') out = args[++i];
    else if (a === '--backend') {
      const b = args[++i];
      if (b !== 'cpu' && b !== 'wasm' && b !== 'webgpu') fail(`--backend must be cpu, wasm or webgpu, got '${b}'`);
      backend = b;
    } else if (a === '--compile') compiled = true;
    else if (a.startsWith('-')) fail(`unknown option ${a}\n\n${ONNX_USAGE}`);
    else if (!file) file = a;
    else fail(`unexpected argument '${a}'`);
  }
  readModel(file);
  if (backend === 'webgpu') await kiln.initBackend(backend);
  kiln.setBackend(backend);
  let model: kiln.onnx.OnnxModule;
  try { model = await kiln.onnx.load(file!, { backend, trainable: false }); } catch (e) { return fail((e as Error).message); }
  for (const name of inputs.keys()) if (!model.inputNames.includes(name)) fail(`the model has no input '${name}' (its inputs: ${model.inputNames.join(', ')})`);
  // Checks done: now wait for WebAssembly kernels (binaryen) when running on wasm.
  await kiln.initBackend(backend);
  kiln.manualSeed(0);
  const feeds: Tensor[] = model.inputs.map((info) => {
    const given = inputs.get(info.name);
    if (given) {
      try { return kiln.onnx.readTensor(fs.readFileSync(given), { backend: model.valueInputs.includes(info.name) && backend === 'webgpu' ? 'cpu' : backend }); } catch (e) { return fail(`input '${info.name}' from ${given}: ${(e as Error).message}`); }
    }
    const shape = info.shape;
    if (!shape || shape.some((d) => typeof d !== 'number' || d < 0)) fail(`input '${info.name}' has no static shape ${shape ? `[${shape.join(', ')}]` : ''}; give it with --input ${info.name}=FILE.pb`);
    console.log(`input ${info.name}: random ${info.elemType} [${shape!.join(', ')}] (not given)`);
    const dims = shape as number[];
    return info.elemType === 'float' || info.elemType === 'double' ? kiln.randn(dims, { backend }) : kiln.zeros(dims, { dtype: info.elemType === 'bool' ? 'bool' : 'int32', backend });
  });
  const forward = compiled ? kiln.compile((...xs: Tensor[]) => model.forward(...xs), { backend }) : (...xs: Tensor[]) => model.forward(...xs);
  const t0 = performance.now();
  let result: Tensor | Tensor[];
  try { result = forward(...feeds); } catch (e) { return fail((e as Error).message); }
  const outs = Array.isArray(result) ? result : [result];
  const host = await Promise.all(outs.map((t) => (backend === 'webgpu' ? t.toAsync('cpu') : t)));
  const ms = performance.now() - t0;
  host.forEach((t, i) => console.log(`output ${model.outputNames[i]}: ${t.dtype} [${t.shape.join(', ')}] ${preview(t)}`));
  console.log(`ran in ${ms.toFixed(1)} ms on ${backend}${compiled ? ' (compiled, first call: includes tracing and kernel builds)' : ''}`);
  if (out) {
    fs.mkdirSync(out, { recursive: true });
    host.forEach((t, i) => {
      const name = model.outputNames[i];
      const target = path.join(out!, `${name.replace(/[^\w.-]/g, '_')}.pb`);
      fs.writeFileSync(target, kiln.onnx.writeTensor(t, { name, int64: model.outputs[i].elemType === 'int64' }));
      console.log(`wrote ${target}`);
    });
  }
}

const [sub, ...rest] = process.argv.slice(2);
if (sub === 'info') info(rest);
else if (sub === 'run') await run(rest);
else if (sub === undefined || sub === '--help' || sub === '-h') console.log(ONNX_USAGE);
else fail(`unknown subcommand '${sub}'\n\n${ONNX_USAGE}`);
