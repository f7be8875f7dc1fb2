// Generated WebAssembly as binaryen's text (WAT), beside the WGSL snapshots of the same corpus
// (test/kernels/corpus.ts), so a change in wasm code generation is a reviewable diff. The module text
// is what the backend instantiates (binaryen's optimiser off, its default), with FMA off so every
// machine generates the same code.
import { describe, expect, it } from 'vitest';
import { createWasmBackend } from '../../backends/wasm/index.js';
import { CORPUS, linear } from '../kernels/corpus.js';

const wasm = await createWasmBackend({ fma: false, keepWat: true });

describe('generated WAT', () => {
  for (const [name, k] of Object.entries(CORPUS)) {
    it(`snapshot: ${name}`, () => {
      expect(wasm.wat(k)).toMatchSnapshot();
    });
  }

  // A kernel compile() planned for dynamic dims: one module serves every m (backends/wasm/shared.ts).
  it('snapshot: linear + bias + relu, m at run time', () => {
    expect(wasm.wat({ ...linear([], 30, 8, 16), dynamicOuter: true })).toMatchSnapshot();
  });

  it('holds no addresses or counters: a fresh backend building the corpus in reverse order gives the same text', async () => {
    const other = await createWasmBackend({ fma: false, keepWat: true });
    other.wat(CORPUS['elementwise contiguous']); // something built first, so counters would have moved
    for (const [name, k] of Object.entries(CORPUS).reverse()) expect(other.wat(k), name).toBe(wasm.wat(k));
  });
});
