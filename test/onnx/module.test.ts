// OnnxModule as an nn.Module: API, parameters and stateDict, backward and fine-tuning, compile() and
// explain(), shape arithmetic on the host (no graph breaks), and export round trips checked by
// onnxruntime-web: the examples' models (MLP, attention block, CNN) and a conformance model re-exported.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as kiln from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import { SmallCnn } from '../../examples/cnn_train.js';
import { compareOrt, runOrt } from './ort.js';
import { FLOAT, INT64, model, node, tensorProto, value } from './build.js';
import { DATA_ROOT } from './conformance.js';

kiln.setBackend('cpu');
kiln.manualSeed(7);

const maxDiff = (a: Tensor, b: Tensor) => Math.max(0, ...Array.from(a.data()).map((v, i) => Math.abs(v - b.data()[i])));

/** Runs an exported model in onnxruntime and checks it against kiln's outputs. */
async function expectOrtMatches(bytes: Uint8Array, feeds: Record<string, Tensor>, want: Tensor[], rtol = 1e-4, atol = 1e-5): Promise<void> {
  const outs = await runOrt(bytes, feeds);
  want.forEach((w, i) => expect(compareOrt(w, outs[i], rtol, atol)).toBeNull());
}

/** An MLP 6-16-3, exported and loaded back. */
async function mlpRoundTrip() {
  const mlp = new kiln.nn.Sequential(new kiln.nn.Linear(6, 16), new kiln.nn.GELU(), new kiln.nn.Linear(16, 3));
  const x = kiln.randn([5, 6]);
  const bytes = kiln.onnx.export(mlp, [x], { inputNames: ['features'], outputNames: ['logits'], dynamicAxes: { features: { 0: 'batch' } } });
  return { mlp, x, bytes, model: await kiln.onnx.load(bytes) };
}

/** A model whose Reshape target comes from Shape -> Gather -> Unsqueeze -> Concat (as torch exports flatten). */
function shapeChainModel(): Uint8Array {
  return model({
    nodes: [
      node('Shape', ['x'], ['s']),
      node('Gather', ['s', 'zero'], ['n'], { axis: 0 }),
      node('Unsqueeze', ['n', 'axes0'], ['n1']),
      node('Concat', ['n1', 'minus1'], ['target'], { axis: 0 }),
      node('Reshape', ['x', 'target'], ['flat']),
      node('MatMul', ['flat', 'w'], ['y']),
    ],
    inputs: [value('x', FLOAT, ['N', 2, 3])],
    outputs: [value('y', FLOAT, ['N', 4])],
    initializers: [
      tensorProto('zero', INT64, [], [0]), tensorProto('axes0', INT64, [1], [0]), tensorProto('minus1', INT64, [1], [-1]),
      tensorProto('w', FLOAT, [6, 4], Array.from({ length: 24 }, (_, i) => (i % 7) / 7 - 0.4)),
    ],
  });
}

describe('OnnxModule', () => {
  it('describes the model and runs forward() and run()', async () => {
    const { x, mlp, model: m } = await mlpRoundTrip();
    expect(m).toBeInstanceOf(kiln.nn.Module);
    expect(m.inputNames).toEqual(['features']);
    expect(m.outputNames).toEqual(['logits']);
    expect(m.opset).toBe(18);
    expect(m.producer).toBe('kiln 0.1.0');
    expect(m.inputs[0].shape).toEqual(['batch', 6]);
    const y = m.forward(x) as Tensor;
    expect(maxDiff(y, mlp.forward(x) as Tensor)).toBeLessThan(1e-6);
    const named = m.run({ features: x });
    expect(Object.keys(named)).toEqual(['logits']);
    expect(maxDiff(named.logits, y)).toBe(0);
    // The batch dim is dynamic: another batch size runs.
    expect((m.forward(kiln.randn([9, 6])) as Tensor).shape).toEqual([9, 3]);
  });

  it('has its initializers as named, trainable parameters, in stateDict() and loadStateDict()', async () => {
    const { mlp, model: m } = await mlpRoundTrip();
    const names = m.namedParameters().map(([k]) => k);
    expect(names).toEqual(mlp.namedParameters().map(([k]) => k));
    expect(m.parameters().every((p) => p.requiresGrad)).toBe(true);
    const state = m.stateDict();
    expect(Object.keys(state)).toEqual(names);
    const zeroed = Object.fromEntries(Object.entries(state).map(([k, t]) => [k, kiln.zerosLike(t)]));
    m.loadStateDict(zeroed);
    expect(Array.from(m.parameters()[0].data()).every((v) => v === 0)).toBe(true);
    const frozen = await kiln.onnx.load(kiln.onnx.export(mlp, [kiln.randn([2, 6])]), { trainable: false });
    expect(frozen.parameters()).toEqual([]);
    expect(frozen.namedTensors().length).toBe(names.length);
  });

  it('differentiates: backward() through the imported graph gives the source model\'s gradients', async () => {
    const { mlp, x, model: m } = await mlpRoundTrip();
    const target = kiln.tensor(new Int32Array([0, 1, 2, 1, 0]));
    kiln.nn.crossEntropy(mlp.forward(x) as Tensor, target).backward();
    kiln.nn.crossEntropy(m.forward(x) as Tensor, target).backward();
    const mine = m.namedParameters(), theirs = new Map(mlp.namedParameters());
    for (const [k, p] of mine) expect(maxDiff(p.grad!, theirs.get(k)!.grad!)).toBeLessThan(1e-5);
  });

  it('fine-tunes with compile() and Adam (the loss falls)', async () => {
    const { model: m } = await mlpRoundTrip();
    const x = kiln.randn([32, 6]);
    const y = x.slice([null, [0, 3]]).mul(2);
    const opt = new kiln.optim.Adam(m.parameters(), { lr: 0.02 });
    const step = kiln.compile(() => {
      opt.zeroGrad();
      const loss = kiln.nn.mseLoss(m.forward(x) as Tensor, y);
      loss.backward();
      opt.step();
      return loss;
    });
    const first = step().item() as number;
    let last = first;
    for (let i = 0; i < 60; i++) last = step().item() as number;
    expect(last).toBeLessThan(first / 10);
    expect(step.cacheInfo().traces).toBe(1);
  });

  it('compiles: compile(model), model.compile() and explain() see one graph and no break (shapes stay on the host)', async () => {
    const m = await kiln.onnx.load(shapeChainModel());
    const x = kiln.randn([5, 2, 3]);
    const eager = m.forward(x) as Tensor;
    expect(eager.shape).toEqual([5, 4]);
    const ex = kiln.explain((t: Tensor) => m.forward(t), x);
    expect(ex.breaks).toEqual([]);
    expect(ex.graphCount).toBe(1);
    // Shape, Gather, Unsqueeze and Concat ran on the host: the graph holds only the reshape and the matmul.
    expect(ex.graphs[0].traced).not.toMatch(/gather|cat|pad/);
    const compiled = kiln.compile(m, { fullgraph: true });
    expect(maxDiff(compiled.forward(x) as Tensor, eager)).toBeLessThan(1e-6);
    const again = (await kiln.onnx.load(shapeChainModel())).compile();
    expect(maxDiff(again.forward(x) as Tensor, eager)).toBeLessThan(1e-6);
    expect((again.forward(kiln.randn([7, 2, 3])) as Tensor).shape).toEqual([7, 4]);
  });
});

describe('onnx export round trips checked by onnxruntime-web', () => {
  it('the MLP, with a dynamic batch', async () => {
    const { mlp, bytes } = await mlpRoundTrip();
    const x = kiln.randn([11, 6]);
    await expectOrtMatches(bytes, { features: x }, [mlp.forward(x) as Tensor]);
  });

  it('the attention block (layerNorm, QKV, softmax(QKᵀ/√d)V, out-projection, residual)', async () => {
    const [b, t, h, d] = [2, 8, 2, 4];
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
    const bytes = kiln.onnx.export(block, [x]);
    await expectOrtMatches(bytes, { input_0: x }, [block(x)]);
    const back = await kiln.onnx.load(bytes);
    expect(maxDiff(back.forward(x) as Tensor, block(x))).toBeLessThan(1e-5);
  });

  it('the CNN of examples/cnn_train.ts in eval mode (conv, batch norm, relu, max pooling, linear)', async () => {
    const cnn = new SmallCnn();
    cnn.eval();
    const x = kiln.randn([3, 1, 28, 28]);
    const bytes = kiln.onnx.export(cnn, [x], { dynamicAxes: { input_0: [0] } });
    await expectOrtMatches(bytes, { input_0: x }, [cnn.forward(x)]);
    const x2 = kiln.randn([5, 1, 28, 28]);
    await expectOrtMatches(bytes, { input_0: x2 }, [cnn.forward(x2)]);
  });

  const conv = `${DATA_ROOT}/pytorch-converted/test_Conv2d_groups/model.onnx`;
  (existsSync(conv) ? it : it.skip)(`a conformance model (pytorch-converted/test_Conv2d_groups) imported and re-exported${existsSync(conv) ? '' : ' (libonnx-testdata not installed)'}`, async () => {
    const m = await kiln.onnx.load(conv);
    const shape = m.inputs[0].shape!.map(Number);
    const x = kiln.randn(shape);
    const bytes = kiln.onnx.export(m, [x]);
    await expectOrtMatches(bytes, { [m.inputNames[0]]: x }, [m.forward(x) as Tensor]);
    // The original file, run by onnxruntime, agrees too.
    await expectOrtMatches(readFileSync(conv), { [m.inputNames[0]]: x }, [m.forward(x) as Tensor]);
  });
});

describe('readTensor / writeTensor', () => {
  it('round-trips float32, int32 (as INT32 or INT64) and bool tensors', () => {
    const f = kiln.randn([2, 3]);
    expect(Array.from(kiln.onnx.readTensor(kiln.onnx.writeTensor(f)).data())).toEqual(Array.from(f.data()));
    const i = kiln.tensor(new Int32Array([1, -2, 2147483647]));
    for (const int64 of [false, true]) {
      const back = kiln.onnx.readTensor(kiln.onnx.writeTensor(i, { int64 }));
      expect(back.dtype).toBe('int32');
      expect(Array.from(back.data())).toEqual([1, -2, 2147483647]);
    }
    const b = kiln.tensor([true, false, true]);
    expect(kiln.onnx.readTensor(kiln.onnx.writeTensor(b)).toArray()).toEqual([true, false, true]);
  });
});
