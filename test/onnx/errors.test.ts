// Bad input to the ONNX importer and exporter: each is a KilnError naming the file, node, tensor or
// input at fault and what was expected; never a TypeError from inside kiln.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, StringStringEntryProtoSchema, TensorProtoSchema, TensorProto_DataLocation } from 'onnx-buf';
import { describe, expect, it } from 'vitest';
import * as kiln from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import { DOUBLE, FLOAT, INT64, UINT8, model, node, tensorProto, value } from './build.js';
import { decodeModel } from '../../src/onnx/proto.js';

kiln.setBackend('cpu');

/** x + b with b an initializer of the given type. */
function addModel(elemType: number, values: number[], extra: Partial<Parameters<typeof model>[0]> = {}): Uint8Array {
  return model({
    nodes: [node('Cast', ['b'], ['bf'], { to: FLOAT }), node('Add', ['x', 'bf'], ['y'])],
    inputs: [value('x', FLOAT, [values.length])], outputs: [value('y', FLOAT, [values.length])],
    initializers: [tensorProto('b', elemType, [values.length], values)], ...extra,
  });
}

const loadError = async (bytes: Uint8Array | string, opts?: kiln.onnx.LoadOptions) => {
  try { await kiln.onnx.load(bytes, opts); } catch (e) { return e as Error; }
  throw new Error('expected load to fail');
};

describe('onnx.load: bad files', () => {
  const good = addModel(FLOAT, [1, 2, 3]);

  it('a truncated model', async () => {
    const e = await loadError(good.slice(0, Math.floor(good.length * 0.6)));
    expect(e).toBeInstanceOf(kiln.KilnError);
    expect(e.message).toMatch(/not a valid ONNX model|not an ONNX model/);
  });

  it('a file that is not ONNX (text, random bytes, empty)', async () => {
    for (const bytes of [new TextEncoder().encode('{"model": "not onnx"}'), Uint8Array.from({ length: 200 }, (_, i) => (i * 97 + 13) % 256), new Uint8Array(0)]) {
      const e = await loadError(bytes);
      expect(e).toBeInstanceOf(kiln.KilnError);
      expect(e.message).toMatch(/ONNX model/);
    }
  });

  it('a missing path names it', async () => {
    const e = await loadError('/nonexistent/model.onnx');
    expect(e.message).toMatch(/cannot read '\/nonexistent\/model.onnx'/);
  });

  it('an unknown opset domain, and every unsupported op at once, by name and count', async () => {
    const bytes = model({
      nodes: [node('FancyOp', ['x'], ['a'], {}, 'com.example'), node('GridSample', ['x', 'x'], ['b']), node('GridSample', ['x', 'x'], ['c']), node('Det', ['x'], ['y'])],
      inputs: [value('x', FLOAT, [2, 2])], outputs: [value('y', FLOAT, [])], extraOpsets: { 'com.example': 1 },
    });
    const e = await loadError(bytes);
    expect(e.message).toMatch(/unknown opset domain 'com.example'/);
    expect(e.message).toMatch(/GridSample \(2 nodes\), Det \(1 node\)/);
  });

  it('a float64 initializer is converted when float32 holds it exactly, else named in an error', async () => {
    const ok = await kiln.onnx.load(addModel(DOUBLE, [0.5, 2, -3]));
    expect(Array.from((ok.forward(kiln.zeros([3])) as Tensor).data())).toEqual([0.5, 2, -3]);
    const e = await loadError(addModel(DOUBLE, [0.1, 2, 3]));
    expect(e).toBeInstanceOf(kiln.DTypeError);
    expect(e.message).toMatch(/initializer 'b'.*0\.1.*float32/);
  });

  it('a uint8 initializer converts losslessly; an int64 beyond int32 used as a tensor is named', async () => {
    const ok = await kiln.onnx.load(addModel(UINT8, [0, 200, 255]));
    expect(Array.from((ok.forward(kiln.zeros([3])) as Tensor).data())).toEqual([0, 200, 255]);
    const wide = await kiln.onnx.load(addModel(INT64, [1, 2 ** 40, 3]));
    expect(() => wide.forward(kiln.zeros([3]))).toThrow(/'b'.*1099511627776.*int32/);
  });

  it('an element type kiln lacks (string) is named', async () => {
    const bytes = model({
      nodes: [node('Identity', ['s'], ['y'])], inputs: [], outputs: [value('y', 8, [1])],
      initializers: [create(TensorProtoSchema, { name: 's', dataType: 8, dims: [1n], stringData: [new TextEncoder().encode('hi')] })],
    });
    const e = await loadError(bytes);
    expect(e).toBeInstanceOf(kiln.DTypeError);
    expect(e.message).toMatch(/initializer 's' has element type string/);
  });

  it('external data: missing file, missing option, and the data found beside the model', async () => {
    const ext = create(TensorProtoSchema, {
      name: 'b', dataType: FLOAT, dims: [3n], dataLocation: TensorProto_DataLocation.EXTERNAL,
      externalData: [create(StringStringEntryProtoSchema, { key: 'location', value: 'weights.bin' })],
    });
    const proto = decodeModel(addModel(FLOAT, [0, 0, 0]));
    proto.graph!.initializer = [ext];
    const bytes = toBinary(ModelProtoSchema, proto);
    const dir = mkdtempSync(join(tmpdir(), 'kiln-onnx-'));
    writeFileSync(join(dir, 'model.onnx'), bytes);
    const missingFile = await loadError(join(dir, 'model.onnx'));
    expect(missingFile.message).toMatch(/tensor 'b' keeps its data in 'weights.bin'.*cannot be read/);
    const missingOption = await loadError(bytes);
    expect(missingOption.message).toMatch(/'weights.bin'.*externalData/);
    const data = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
    writeFileSync(join(dir, 'weights.bin'), data);
    const fromPath = await kiln.onnx.load(join(dir, 'model.onnx'));
    expect(Array.from((fromPath.forward(kiln.zeros([3])) as Tensor).data())).toEqual([1, 2, 3]);
    const fromBytes = await kiln.onnx.load(bytes, { externalData: { 'weights.bin': data } });
    expect(Array.from((fromBytes.forward(kiln.zeros([3])) as Tensor).data())).toEqual([1, 2, 3]);
  });
});

describe('OnnxModule: bad inputs', () => {
  it('wrong count, dtype or shape name the input', async () => {
    const m = await kiln.onnx.load(addModel(FLOAT, [1, 2, 3]));
    expect(() => m.forward()).toThrow(/takes 1 input\(s\) \(x\), got 0/);
    expect(() => m.forward(kiln.zeros([3], { dtype: 'int32' }))).toThrow(/input 'x' is declared float.*got a int32 tensor/);
    expect(() => m.forward(kiln.zeros([4]))).toThrow(/input 'x' is declared \[3\], got \[4\]/);
    expect(() => m.run({ y: kiln.zeros([3]) })).toThrow(/missing input\(s\) x; unknown input\(s\) y/);
  });

  it('a shape error inside the graph names the node', async () => {
    const m = await kiln.onnx.load(model({
      nodes: [node('Reshape', ['x', 'shape'], ['y'])], inputs: [value('x', FLOAT, [6])], outputs: [value('y', FLOAT, [4, 2])],
      initializers: [tensorProto('shape', INT64, [2], [4, 2])],
    }));
    expect(() => m.forward(kiln.zeros([6]))).toThrow(/node 0 \(Reshape\): cannot reshape \[6\].*\[4,2\]/);
  });
});

describe('onnx.export: what cannot be exported', () => {
  const x = kiln.randn([3]);
  it('a graph break (a value read in JavaScript)', () => {
    expect(() => kiln.onnx.export((t: Tensor) => (t.sum().item() as number) > 0 ? t : t.neg(), [x])).toThrow(/graph break|concrete value/);
  });
  it('random draws', () => {
    expect(() => kiln.onnx.export((t: Tensor) => kiln.dropout(t, 0.5), [x])).toThrow(/random numbers.*eval\(\)/);
  });
  it('in-place writes to outside tensors (batch norm training)', () => {
    const bn = new kiln.nn.BatchNorm2d(2);
    expect(() => kiln.onnx.export(bn, [kiln.randn([2, 2, 3, 3])])).toThrow(/in place.*eval mode/);
  });
  it('bad options', () => {
    expect(() => kiln.onnx.export((t: Tensor) => t.neg(), [x], { opset: 9 })).toThrow(/opset 9 is not supported/);
    expect(() => kiln.onnx.export((t: Tensor) => t.neg(), [x], { inputNames: ['a', 'b'] })).toThrow(/2 input names for 1 inputs/);
    expect(() => kiln.onnx.export((t: Tensor) => t.neg(), [x], { dynamicAxes: { nope: [0] } })).toThrow(/'nope', which is not an input or output/);
    expect(() => kiln.onnx.export((t: Tensor) => t.mean(0), [kiln.randn([4, 2])], { dynamicAxes: { input_0: [0] } })).toThrow(/dynamicAxes: .*constant that depends on the size/);
    expect(() => kiln.onnx.export((t: Tensor) => t.neg(), [kiln.randn([1, 2])], { dynamicAxes: { input_0: [0] } })).toThrow(/size 1 in the example/);
  });
});

describe('readTensor: bad bytes', () => {
  it('not a TensorProto, or int64 values beyond int32', () => {
    expect(() => kiln.onnx.readTensor(new Uint8Array([1, 2, 3]))).toThrow(kiln.KilnError);
    const wide = toBinary(TensorProtoSchema, tensorProto('big', INT64, [2], [1, 2 ** 33]));
    expect(() => kiln.onnx.readTensor(wide)).toThrow(/'big'.*8589934592.*int32/);
  });
});
