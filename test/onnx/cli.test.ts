// `kiln onnx info` and `kiln onnx run` on a model exported here (no test data needed).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as kiln from '../../src/index.js';
import type { Tensor } from '../../src/index.js';

kiln.setBackend('cpu');
kiln.manualSeed(3);
const dir = mkdtempSync(join(tmpdir(), 'kiln-onnx-cli-'));
const mlp = new kiln.nn.Sequential(new kiln.nn.Linear(4, 8), new kiln.nn.ReLU(), new kiln.nn.Linear(8, 2));
const file = join(dir, 'mlp.onnx');
writeFileSync(file, kiln.onnx.export(mlp, [kiln.randn([3, 4])], { inputNames: ['x'], outputNames: ['y'] }));
const cli = (...args: string[]) => execFileSync(process.execPath, ['bin/kiln.mjs', 'onnx', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('kiln onnx', () => {
  it('info prints opset, producer, inputs and outputs, parameter count, op histogram and support', () => {
    const out = cli('info', file);
    expect(out).toMatch(/producer: +kiln 0\.1\.0/);
    expect(out).toMatch(/opsets: ai\.onnx 18/);
    expect(out).toMatch(/x: float \[3, 4\]/);
    expect(out).toMatch(/y: float \[3, 2\]/);
    expect(out).toMatch(/parameters: 58 values in 4 initializer\(s\)/);
    expect(out).toMatch(/MatMul +2/);
    expect(out).toMatch(/kiln supports every op of this model/);
    const json = JSON.parse(cli('info', file, '--json'));
    expect(json.unsupported).toEqual([]);
  }, 60_000);

  it('run reads inputs from TensorProto files and writes the outputs', () => {
    const x = kiln.randn([3, 4]);
    writeFileSync(join(dir, 'x.pb'), kiln.onnx.writeTensor(x, { name: 'x' }));
    const out = cli('run', file, '--input', `x=${join(dir, 'x.pb')}`, '--backend', 'cpu', '--out', join(dir, 'out'));
    expect(out).toMatch(/output y: float32 \[3, 2\]/);
    const y = kiln.onnx.readTensor(readFileSync(join(dir, 'out', 'y.pb')));
    const want = mlp.forward(x) as Tensor;
    expect(Math.max(...Array.from(y.data()).map((v, i) => Math.abs(v - want.data()[i])))).toBeLessThan(1e-6);
  }, 60_000);

  it('bad arguments are named', () => {
    expect(() => cli('run', file, '--input', 'nope=x.pb', '--backend', 'cpu')).toThrow(/no input 'nope'/);
    expect(() => cli('info', join(dir, 'missing.onnx'))).toThrow(/cannot read/);
  }, 120_000);
});
