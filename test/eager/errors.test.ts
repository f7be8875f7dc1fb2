// Error messages: every bad call throws the right error class, and the message names the op and the
// shapes/dtypes at fault, so a user can fix the call without reading kiln's source.
import { describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import { AutogradError, DTypeError, KilnError, ShapeError, arange, nn, ones, optim, tensor, zeros } from '../../src/index.js';
import { BACKENDS } from './backends.js';

type ErrorClass = new (...args: any[]) => Error;

/** Runs `fn`, expecting an error of class `cls` whose message contains every fragment (strings) or matches (regexps). */
function expectError(fn: () => unknown, cls: ErrorClass, ...parts: (string | RegExp)[]): void {
  let caught: unknown;
  try { fn(); } catch (e) { caught = e; }
  expect(caught, 'expected a throw').toBeInstanceOf(cls);
  const msg = (caught as Error).message;
  for (const p of parts) {
    if (typeof p === 'string') expect(msg).toContain(p);
    else expect(msg).toMatch(p);
  }
}

const i32 = (v: number[] | number[][], shape?: number[]) => tensor(v as number[], { dtype: 'int32', ...(shape && { shape }) });

describe('every error is a KilnError subclass', () => {
  it('ShapeError, DTypeError, AutogradError extend KilnError extends Error', () => {
    for (const C of [ShapeError, DTypeError, AutogradError]) {
      const e = new C('x');
      expect(e).toBeInstanceOf(KilnError);
      expect(e).toBeInstanceOf(Error);
      expect(e.name).toBe(C.name);
    }
  });
});

describe('broadcasting', () => {
  it('add: names the op, both shapes and the failing dim', () => {
    expectError(() => ones([2, 3]).add(ones([4])), ShapeError, 'add: cannot broadcast [2,3] with [4] (dim -1: 3 vs 4)');
  });
  it('mul / function forms / comparisons / where name their op', () => {
    expectError(() => ones([2, 3]).mul(ones([3, 2])), ShapeError, 'mul: cannot broadcast [2,3] with [3,2]');
    expectError(() => k.sub(ones([5]), ones([2, 4])), ShapeError, 'sub: cannot broadcast [5] with [2,4] (dim -1: 5 vs 4)');
    expectError(() => ones([2]).lt(ones([3])), ShapeError, 'lt: cannot broadcast [2] with [3]');
    expectError(() => ones([2]).gt(ones([3])), ShapeError, /lt: cannot broadcast \[3\] with \[2\]|gt: cannot broadcast/);
    expectError(() => k.where(ones([2, 3]).gt(0), ones([4]), 0), ShapeError, 'where: cannot broadcast', '[4]');
  });
  it('in-place ops cannot grow the destination', () => {
    expectError(() => zeros([3]).mul_(ones([2, 3])), ShapeError, 'mul_', '[2,3]', '[3]');
  });
  it('expand: names both shapes and the dim', () => {
    expectError(() => ones([2, 3]).expand([4, 3]), ShapeError, 'expand: cannot expand [2,3] to [4,3] (dim 0: 2 vs 4)');
    expectError(() => ones([2, 3]).expand([3]), ShapeError, 'expand: cannot expand [2,3] to [3]', 'fewer dims');
  });
  it('expand with -1 in a new leading dim is a ShapeError', () => {
    expectError(() => ones([3]).expand([-1, 3]), ShapeError, 'expand', '[-1,3]');
  });
});

describe('dtypes', () => {
  it('crossEntropy with float targets', () => {
    // float32 targets are class probabilities (as torch): they must have the input's shape.
    expectError(() => nn.crossEntropy(ones([2, 3]), tensor([0, 1])), ShapeError, 'crossEntropy: float32 targets are class probabilities and must have the input\'s shape [2,3], got [2] (class indices must be int32)');
  });
  it('gather / indexSelect / embedding with a float index', () => {
    expectError(() => ones([2, 3]).gather(1, zeros([2, 1])), DTypeError, 'gather: index must be int32, got float32');
    expectError(() => ones([2, 3]).indexSelect(0, tensor([true])), DTypeError, 'indexSelect: index must be int32, got bool');
    expectError(() => nn.crossEntropy(ones([2, 3]), tensor([true, false])), DTypeError, 'crossEntropy', 'bool');
    expectError(() => k.embedding(tensor([0.0, 1.0]), ones([3, 2])), DTypeError, 'embedding: index must be int32, got float32');
  });
  it('sub and neg refuse bool tensors', () => {
    expectError(() => tensor([true]).sub(tensor([false])), DTypeError, 'sub: not supported for bool tensors');
    expectError(() => tensor([true]).neg(), DTypeError, 'neg: not supported for bool tensors');
  });
  it('matmul refuses bool operands', () => {
    expectError(() => tensor([[true]]).matmul(tensor([[true]])), DTypeError, 'matmul: bool operands are not supported (got bool @ bool)');
  });
  it('unknown dtype names', () => {
    expectError(() => tensor([1], { dtype: 'float64' as never }), DTypeError, 'tensor: unknown dtype "float64"');
    expectError(() => ones([2]).to('int8' as never), DTypeError, 'to: unknown dtype or backend "int8"');
  });
  it('requiresGrad on an int tensor names the dtype', () => {
    expectError(() => arange(3).requiresGrad_(), AutogradError, 'requiresGrad_', 'int32');
  });
});

describe('reads', () => {
  it('item() on a non-scalar', () => {
    expectError(() => ones([2, 2]).item(), ShapeError, 'item(): only one-element tensors can be read as a number, got shape [2,2]');
    expectError(() => zeros([0]).item(), ShapeError, 'item()', '[0]');
  });
  it('item() on one-element tensors of any rank works', () => {
    expect(ones([1, 1, 1]).item()).toBe(1);
    expect(tensor([true]).item()).toBe(true);
  });
});

describe('backward', () => {
  it('on a non-scalar without a gradient', () => {
    const x = ones([3], { requiresGrad: true });
    expectError(() => x.mul(2).backward(), AutogradError, 'backward: gradient can be created implicitly only for single-element outputs, got shape [3]');
  });
  it('on a tensor that does not require grad', () => {
    expectError(() => ones([1]).mul(2).backward(), AutogradError, 'backward', 'does not require grad', '[1]');
  });
});

describe('matmul', () => {
  it('inner dimension mismatch names both shapes and the sizes', () => {
    expectError(() => ones([2, 3]).matmul(ones([4, 5])), ShapeError, 'matmul: inner dimensions differ: [2,3] @ [4,5] (3 vs 4)');
    expectError(() => ones([3]).matmul(ones([4])), ShapeError, 'matmul: inner dimensions differ', '(3 vs 4)');
  });
  it('0-d operands and batch mismatches', () => {
    expectError(() => k.matmul(tensor(2), ones([2])), ShapeError, 'matmul: both operands need at least 1 dim, got [] and [2]');
    expectError(() => ones([2, 2, 3]).matmul(ones([3, 3, 4])), ShapeError, 'matmul: cannot broadcast [2] with [3]');
  });
});

describe('reshape and views', () => {
  it('size mismatch names both shapes and element counts', () => {
    expectError(() => ones([2, 3]).reshape([4]), ShapeError, 'reshape: cannot reshape [2,3] (6 elements) into [4] (4 elements)');
    expectError(() => ones([2, 3]).reshape([4, -1]), ShapeError, 'reshape: cannot reshape [2,3] (6 elements) into [4,-1]');
    expectError(() => ones([2, 3]).reshape([-1, -1]), ShapeError, 'reshape: only one dimension can be -1 in [-1,-1]');
    expectError(() => ones([2, 3]).view(3, -2), ShapeError, 'reshape: invalid size -2 in [3,-2]');
  });
  it('permute with a wrong order', () => {
    expectError(() => ones([2, 3]).permute([0, 0]), ShapeError, 'permute: [0,0] is not a permutation of the 2 dims of [2,3]');
    expectError(() => ones([2, 3]).permute([0]), ShapeError, 'permute', '[2,3]');
  });
  it('narrow, split, slice and pad check their arguments', () => {
    expectError(() => ones([3, 4]).narrow(1, 2, 3), ShapeError, 'narrow: start 2 + length 3 exceeds dim 1 of size 4 in [3,4]');
    expectError(() => ones([5]).split([2, 2]), ShapeError, 'split: sizes [2,2] sum to 4, but dim 0 of [5] has 5');
    expectError(() => ones([5]).split(0), ShapeError, 'split: chunk size must be a positive integer, got 0');
    expectError(() => ones([5]).slice([[0, 5, 0]]), ShapeError, 'slice: step must be a non-zero integer, got 0 for dim 0');
    expectError(() => ones([5]).slice([null, null]), ShapeError, 'slice: 2 ranges given for a tensor of rank 1 [5]');
    expectError(() => ones([2, 3]).pad([1, 2, 3]), ShapeError, 'pad: flat padding [1,2,3] must have an even length of at most 4');
    expectError(() => ones([2, 3]).pad([[1, 1]]), ShapeError, 'pad: 1 [before, after] pairs given for a tensor of rank 2 [2,3]');
    expectError(() => ones([2]).pad([[-1, 0]]), ShapeError, 'pad: expected one non-negative [before, after] pair per dim of [2]');
  });
  it('flatten with start after end', () => {
    expectError(() => ones([2, 3, 4]).flatten(2, 1), ShapeError, 'flatten: startDim 2 comes after endDim 1');
  });
  it('cat and stack name the tensor at fault and the expected shape', () => {
    expectError(() => k.cat([ones([2, 3]), ones([2, 4])], 0), ShapeError, 'cat: tensor 1 has shape [2,4], expected [-1,3] (all dims but 0 must match)');
    expectError(() => k.stack([ones([2]), ones([3])]), ShapeError, 'stack: tensor 1 has shape [3], expected [2]');
    expectError(() => k.cat([]), KilnError, 'cat: expected a non-empty list of tensors');
  });
  it('gather index larger than the input outside dim', () => {
    expectError(() => ones([2, 3]).gather(1, zeros([3, 1], { dtype: 'int32' })), ShapeError, 'gather: index [3,1] must have the rank of input [2,3]');
  });
  it('indexSelect with a 2-D index', () => {
    expectError(() => ones([3]).indexSelect(0, zeros([1, 1], { dtype: 'int32' })), ShapeError, 'indexSelect: index must be 1-D, got [1,1]');
  });
  it('layerNorm shape mismatch', () => {
    expectError(() => k.layerNorm(ones([2, 3]), [4]), ShapeError, 'layerNorm: normalizedShape [4] does not match the trailing dims of input [2,3]');
  });
});

describe('bad dims', () => {
  it('out-of-range dims name the op, the dim, the rank and the valid range', () => {
    expectError(() => ones([2, 3]).sum(2), ShapeError, 'sum: dim 2 is out of range for a tensor of rank 2 (expected -2..1)');
    expectError(() => ones([2, 3]).transpose(0, 5), ShapeError, 'transpose: dim 5 is out of range for a tensor of rank 2');
    expectError(() => ones([2, 3]).unsqueeze(4), ShapeError, 'unsqueeze: dim 4 is out of range for a tensor of rank 3');
    expectError(() => ones([2, 3]).argmax(2), ShapeError, 'argmax: dim 2 is out of range');
    expectError(() => ones([2, 3]).flip(3), ShapeError, 'flip: dim 3 is out of range');
    expectError(() => k.cat([ones([2])], 1), ShapeError, 'cat: dim 1 is out of range');
    expectError(() => ones([2]).sum(0.5), ShapeError, 'sum: dim must be an integer', '0.5');
  });
  for (const [name, call] of [
    ['mean', () => ones([2, 3]).mean(-3)],
    ['var', () => ones([2, 3]).var(2)],
    ['std', () => ones([2, 3]).std(2)],
    ['logsumexp', () => ones([2, 3]).logsumexp(2)],
    ['softmax', () => ones([2, 3]).softmax(2)],
    ['logSoftmax', () => ones([2, 3]).logSoftmax(2)],
  ] as const) {
    it(`${name} with a bad dim names ${name}`, () => {
      expectError(call, ShapeError, `${name}: dim`, 'out of range for a tensor of rank 2');
    });
  }
  it('composites still throw a ShapeError with the dim and rank for a bad dim', () => {
    for (const call of [() => ones([2, 3]).mean(-3), () => ones([2, 3]).var(2), () => ones([2, 3]).softmax(2), () => ones([2, 3]).logsumexp(2)]) {
      expectError(call, ShapeError, /dim (-3|2) is out of range for a tensor of rank 2/);
    }
  });
  it('a dim named twice', () => {
    expectError(() => ones([2, 3]).sum([0, -2]), ShapeError, 'sum: dim [0,-2] names a dimension twice');
  });
  it('reductions without identity over an empty dim', () => {
    expectError(() => zeros([0, 3]).max(0), ShapeError, 'max: cannot reduce over an empty dimension of [0,3] (dims [0])');
    expectError(() => zeros([2, 0]).min(), ShapeError, 'min: cannot reduce over an empty dimension of [2,0]');
    expectError(() => zeros([0]).argmax(), ShapeError, 'argmax: cannot take argmax of an empty tensor [0]');
  });
});

describe('out-of-range indices', () => {
  it('indexSelect names the bad index, the dim, its size and the input shape', () => {
    expectError(() => ones([3, 2]).indexSelect(0, i32([0, 5])), ShapeError, 'indexSelect: index 5 is out of range for dim 0 of size 3 (valid indices are 0..2)');
    expectError(() => ones([3, 2]).indexSelect(1, i32([-1])), ShapeError, 'indexSelect: index -1 is out of range for dim 1 of size 2');
  });
  it('gather and embedding too', () => {
    expectError(() => ones([2, 3]).gather(1, i32([[3], [0]], [2, 1])), ShapeError, 'gather: index 3 is out of range for dim 1 of size 3 (valid indices are 0..2)');
    expectError(() => k.embedding(i32([4]), ones([4, 2])), ShapeError, 'embedding: index 4 is out of range for dim 0 of size 4');
  });
  it('scatter, scatterAdd, indexAdd and indexPut name the op and the bad index', () => {
    expectError(() => zeros([2, 3]).scatter(1, i32([3], [1, 1]), 1), ShapeError, 'scatter: index 3 is out of range for dim 0 of size 3');
    expectError(() => zeros([2, 3]).scatter(0, i32([-1], [1, 1]), ones([1, 1])), ShapeError, 'scatter: index -1 is out of range');
    expectError(() => zeros([2, 3]).scatterAdd(0, i32([0, 2], [1, 2]), ones([1, 2])), ShapeError, 'scatterAdd: index 2 is out of range');
    expectError(() => zeros([2, 3]).indexAdd(1, i32([0, 3]), ones([2, 2])), ShapeError, 'indexAdd: index 3 is out of range');
    // Negative indices wrap as in torch; past -size they are out of range.
    expectError(() => zeros([2, 3]).indexPut([i32([0]), i32([-4])], 1), ShapeError, 'indexPut: index -1 is out of range');
    expectError(() => zeros([2, 3]).indexPut([i32([2])], ones([3])), ShapeError, 'indexPut: index 2 is out of range for dim 0 of size 2');
  });
  it('scatters check shapes and dtypes', () => {
    expectError(() => zeros([2, 3]).scatter(0, i32([0, 1]), ones([2])), ShapeError, 'scatter: index [2] must have the rank of input [2,3]');
    expectError(() => zeros([2, 3]).scatter(0, i32([0, 1], [1, 2]), ones([1, 1])), ShapeError, 'scatter: src [1,1] must have the rank of index [1,2]');
    expectError(() => zeros([2, 3]).scatterAdd(0, i32([0, 1, 0, 1], [1, 4]), ones([1, 4])), ShapeError, 'scatterAdd: index [1,4] must be no larger than input [2,3] outside dim 0');
    expectError(() => zeros([2, 3]).scatter(0, ones([1, 1]), 1), DTypeError, 'scatter: index must hold int32 indices, got float32');
    expectError(() => zeros([2, 3]).indexAdd(0, i32([0]), ones([1, 2])), ShapeError, 'indexAdd: source [1,2] must be [1,3]');
    expectError(() => zeros([2, 3]).indexPut([i32([0, 1])], ones([3, 3])), ShapeError, 'indexPut: cannot broadcast [3,3]');
    expectError(() => zeros([2, 3]).indexPut([i32([0, 1])], ones([1, 2, 3])), ShapeError, 'indexPut: values [1,2,3] must broadcast to [2,3]');
    expectError(() => zeros([2, 3]).indexPut([i32([0]), i32([0]), i32([0])], 1), ShapeError, 'indexPut: 3 index tensors for input [2,3] of rank 2');
    expectError(() => zeros([2, 3]).indexPut([i32([0, 1]), i32([0, 1, 2])], 1), ShapeError, 'indexPut');
  });
});

describe('losses', () => {
  it('crossEntropy with a target class out of range throws', () => {
    expectError(() => nn.crossEntropy(ones([2, 3]), i32([0, 5])), KilnError, 'crossEntropy', '5');
  });
  it('mseLoss and binaryCrossEntropy need equal shapes', () => {
    expectError(() => nn.mseLoss(ones([2, 3]), ones([3])), ShapeError, 'mseLoss: input [2,3] and target [3] must have the same shape');
    expectError(() => nn.binaryCrossEntropy(ones([2]), ones([2, 1])), ShapeError, 'binaryCrossEntropy: input [2] and target [2,1] must have the same shape');
  });
  it('crossEntropy checks logits and target shapes', () => {
    expectError(() => nn.crossEntropy(ones([4, 3]), i32([0, 1])), ShapeError, 'crossEntropy: expected target [4] for input [4,3] (class dim 1 removed), got [2]');
    expectError(() => nn.crossEntropy(ones([2, 3, 4]), i32([0, 1])), ShapeError, 'crossEntropy', '[2,3,4]');
  });
});

describe('creation and misc', () => {
  it('ragged nested arrays', () => {
    expectError(() => tensor([[1, 2], [3]]), ShapeError, 'tensor: ragged nested array at index [1]: expected 2 entries, got 1');
    expectError(() => tensor([1, 2], { shape: [3] }), ShapeError, 'tensor: 2 values do not fill shape [3] (3 elements)');
  });
  it('bad shapes and ranges', () => {
    expectError(() => zeros([2, -1]), ShapeError, 'zeros: invalid shape [2,-1]');
    expectError(() => arange(0, 5, 0), KilnError, 'arange: step must be non-zero');
    expectError(() => k.randint(3, 3, [2]), KilnError, 'randint: high (3) must be greater than low (3)');
    expectError(() => k.dropout(ones([2]), 1.5), KilnError, 'dropout: probability must be a number in [0, 1], got the number 1.5');
  });
  it('unknown backend', async () => {
    await expect(k.initBackend('tpu' as never)).rejects.toThrow(/initBackend: unknown backend 'tpu'/);
    expect(() => k.setBackend('tpu' as never)).toThrow(KilnError);
  });
  it('optimizers check their parameters and learning rate', () => {
    expectError(() => new optim.SGD([], { lr: 0.1 }), KilnError, 'SGD: got an empty parameter list');
    expectError(() => new optim.SGD([ones([1], { requiresGrad: true })], { lr: -1 }), KilnError, 'SGD: lr must be a finite number >= 0, got -1');
    expectError(() => new optim.Adam([ones([1], { dtype: 'int32' })]), KilnError, 'Adam: parameter 0 of group 0 has dtype int32');
    expectError(() => new optim.Adam([ones([1], { requiresGrad: true }).mul(2)]), KilnError, 'Adam: parameter 0 of group 0 is not a leaf tensor');
  });
});

const webgpu = BACKENDS.find((b) => b.name === 'webgpu')!;
describe('across backends', () => {
  it.skipIf(!webgpu.available)('operands on different backends name both', () => {
    expectError(() => ones([2], { backend: 'cpu' }).add(ones([2], { backend: 'webgpu' })), KilnError, 'add: operands live on different backends (cpu and webgpu)', "t.to('cpu')");
  });
  it.skipIf(!webgpu.available)('sync reads on webgpu name the async form', () => {
    const t = ones([2], { backend: 'webgpu' });
    expectError(() => t.data(), KilnError, 'data(): reads from the webgpu backend are asynchronous; use `await t.dataAsync()`');
    expectError(() => t.toArray(), KilnError, 'await t.toArrayAsync()');
    expectError(() => t.item(), KilnError, /item\(\)|itemAsync|dataAsync/);
  });
});
