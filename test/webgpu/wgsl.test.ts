// Generated WGSL, without a device: snapshots of a fixed corpus (a codegen change is a reviewable
// diff), and the property the pipeline cache relies on: the text depends on structure, not numbers.
import { describe, expect, it } from 'vitest';
import { SCALAR_OP_NAMES } from '../../src/ops/scalar.js';
import { WGSL_OPS } from '../../backends/webgpu/wgsl-ops.js';
import { kernelWgsl } from '../../backends/webgpu/codegen.js';
import { CORPUS, addScaled, linear, softmax } from '../kernels/corpus.js';

describe('generated WGSL', () => {
  for (const [name, k] of Object.entries(CORPUS)) {
    it(`snapshot: ${name}`, () => {
      expect(kernelWgsl(k)).toMatchSnapshot();
    });
  }

  it('is the same text for every shape and constant of one structure (the pipeline cache key)', () => {
    expect(kernelWgsl(addScaled([3, 4], 2, [0, 1]))).toBe(kernelWgsl(addScaled([17, 9], -0.25, [0, 1])));
    expect(kernelWgsl(softmax(8, 1000))).toBe(kernelWgsl(softmax(3, 2000))); // rows of 257..2048: one workgroup size
    expect(kernelWgsl(linear([2], 30, 40, 50))).toBe(kernelWgsl(linear([7], 1, 300, 9)));
    // ... and differs when the broadcast pattern does
    expect(kernelWgsl(addScaled([3, 4], 2, [0, 1]))).not.toBe(kernelWgsl(addScaled([3, 4], 2, [1, 0])));
  });

  it('has an emitter for every scalar op (the table is typed Record<ScalarOp, ...> as well)', () => {
    expect(Object.keys(WGSL_OPS).sort()).toEqual([...SCALAR_OP_NAMES].sort());
  });
});
