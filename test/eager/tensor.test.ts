// Tensor creation, dtype defaults, reads (data, toArray, item, toString) and moves between backends.
import { describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import { arange, eye, full, fullLike, linspace, ones, onesLike, tensor, zeros, zerosLike } from '../../src/index.js';
import { BACKENDS, forEachBackend } from './backends.js';

describe('creation and dtype defaults', () => {
  it('JS numbers default to float32, booleans to bool, typed arrays keep their type', () => {
    expect(tensor([1, 2, 3]).dtype).toBe('float32');
    expect(tensor(3).dtype).toBe('float32');
    expect(tensor([true, false]).dtype).toBe('bool');
    expect(tensor(new Int32Array([1, 2])).dtype).toBe('int32');
    expect(tensor(new Float32Array([1, 2])).dtype).toBe('float32');
    expect(tensor(new Uint8Array([1, 0])).dtype).toBe('bool');
    expect(tensor([1.7, -1.7], { dtype: 'int32' }).data()).toEqual(new Int32Array([1, -1]));
    expect(tensor([]).shape).toEqual([0]);
    expect(tensor([[1, 2], [3, 4]]).shape).toEqual([2, 2]);
    expect(tensor(new Float32Array(6), { shape: [2, 3] }).shape).toEqual([2, 3]);
  });

  it('int64 data (BigInt64Array) becomes int32 indices, range-checked', () => {
    const idx = tensor(new BigInt64Array([2n, 0n, -1n]));
    expect(idx.dtype).toBe('int32');
    expect(idx.data()).toEqual(new Int32Array([2, 0, -1]));
    expect(tensor(new BigInt64Array([1n, 3n]), { shape: [2, 1] }).shape).toEqual([2, 1]);
    const table = tensor([[1, 2], [3, 4], [5, 6]]);
    expect([...table.indexSelect(0, tensor(new BigInt64Array([2n, 0n]))).data()]).toEqual([5, 6, 1, 2]);
    expect(() => tensor(new BigInt64Array([0n, 2n ** 31n]))).toThrow(/tensor: int64 value 2147483648 at index 1 is outside the int32 range/);
    expect(() => tensor(new BigInt64Array([-(2n ** 31n) - 1n]))).toThrow(k.KilnError);
  });

  it('arange: int32 for integer arguments, float32 otherwise', () => {
    expect(arange(4).dtype).toBe('int32');
    expect(Array.from(arange(4).data())).toEqual([0, 1, 2, 3]);
    expect(Array.from(arange(2, 8, 3).data())).toEqual([2, 5]);
    expect(Array.from(arange(3, 0, -1).data())).toEqual([3, 2, 1]);
    expect(arange(0, 1, 0.25).dtype).toBe('float32');
    expect(Array.from(arange(0, 1, 0.25).data())).toEqual([0, 0.25, 0.5, 0.75]);
    expect(arange(5, 5).shape).toEqual([0]);
  });

  it('full, zeros, ones, the *Like forms, linspace, eye', () => {
    expect(full([2], 7).dtype).toBe('int32');
    expect(full([2], 0.5).dtype).toBe('float32');
    expect(full([2], true).dtype).toBe('bool');
    expect(zeros([2, 3]).dtype).toBe('float32');
    expect(Array.from(ones([3], { dtype: 'int32' }).data())).toEqual([1, 1, 1]);
    const i = arange(3);
    expect(zerosLike(i).dtype).toBe('int32');
    expect(Array.from(onesLike(tensor([2.5])).data())).toEqual([1]);
    expect(Array.from(fullLike(i, 9).data())).toEqual([9, 9, 9]);
    expect(Array.from(linspace(0, 1, 5).data())).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(linspace(2, 3, 1).toArray()).toEqual([2]);
    expect(eye(2, 3).toArray()).toEqual([[1, 0, 0], [0, 1, 0]]);
    expect(zeros([2, 0, 3]).size).toBe(0);
    expect(tensor([1, 2], { requiresGrad: true }).requiresGrad).toBe(true);
  });
});

describe('reads', () => {
  it('data() is a row-major typed-array copy, also for views', () => {
    const t = arange(6).reshape([2, 3]);
    const d = t.data();
    expect(d).toBeInstanceOf(Int32Array);
    d[0] = 100;
    expect(t.data()[0]).toBe(0);
    expect(Array.from(t.transpose(0, 1).data())).toEqual([0, 3, 1, 4, 2, 5]);
    expect(tensor([true, false]).data()).toBeInstanceOf(Uint8Array);
    expect(zeros([0, 2]).data()).toHaveLength(0);
  });

  it('toArray() nests by shape (booleans for bool, a bare value for 0-d)', () => {
    expect(arange(6).reshape([3, 2]).toArray()).toEqual([[0, 1], [2, 3], [4, 5]]);
    expect(tensor([true, false]).toArray()).toEqual([true, false]);
    expect(tensor(2.5).toArray()).toBe(2.5);
    expect(zeros([2, 0]).toArray()).toEqual([[], []]);
    expect(ones([1, 1, 2]).toArray()).toEqual([[[1, 1]]]);
  });

  it('item() reads one element; a tensor converts to a number in JS arithmetic', () => {
    expect(tensor([[4.5]]).item()).toBe(4.5);
    expect(tensor(false).item()).toBe(false);
    expect(arange(3).sum().item()).toBe(3);
    expect(+tensor(2) * 3).toBe(6);
    expect(`${tensor([1, 2])}`).toBe('tensor([1., 2.])');
  });

  it('toString prints like PyTorch', () => {
    expect(tensor([[1.5, 2], [3, 4]]).toString()).toBe('tensor([[1.5000, 2.0000],\n        [3.0000, 4.0000]])');
    expect(tensor([1, 2]).toString()).toBe('tensor([1., 2.])');
    expect(arange(3).toString()).toBe('tensor([0, 1, 2], dtype=int32)');
    expect(tensor([true, false]).toString()).toBe('tensor([ True, False])');
    expect(tensor(2.5).toString()).toBe('tensor(2.5000)');
    expect(tensor([NaN, Infinity, -1]).toString()).toBe('tensor([nan, inf, -1.])');
    expect(tensor([1], { requiresGrad: true }).toString()).toBe('tensor([1.], requires_grad=True)');
    expect(tensor([1], { requiresGrad: true }).mul(2).toString()).toBe('tensor([2.], grad_fn=<mul>)');
    expect(tensor([1e-5, 1]).toString()).toBe('tensor([1.0000e-05, 1.0000e+00])');
  });
});

describe('backends', () => {
  it('cpu and wasm are always there, and wasm is the default', () => {
    expect(BACKENDS.find((b) => b.name === 'cpu')!.available).toBe(true);
    expect(k.currentBackend()).toBe('wasm');
    expect(k.hasBackend('cpu')).toBe(true);
    expect(k.hasBackend('wasm')).toBe(true);
    expect(tensor([1]).backend).toBe('wasm');
    expect(tensor([1], { backend: 'cpu' }).backend).toBe('cpu');
  });

  it('reports each backend the suites will skip', () => {
    for (const b of BACKENDS) expect(b.available || b.reason.length > 0, `${b.name} has a reason when unavailable`).toBe(true);
  });
});

forEachBackend((backend) => {
  it('creates on the backend, computes there, reads asynchronously', async () => {
    const t = tensor([[1, 2], [3, 4]], { backend });
    expect(t.backend).toBe(backend);
    const s = t.matmul(t).sum(1);
    expect(s.backend).toBe(backend);
    expect(Array.from(await s.dataAsync())).toEqual([17, 37]);
    expect(await s.toArrayAsync()).toEqual([17, 37]);
    expect(await s.sum().itemAsync()).toBe(54);
  });

  it('moves to cpu and back with toAsync', async () => {
    const t = arange(4, undefined, 1, { backend }).reshape([2, 2]).transpose(0, 1);
    const c = await t.toAsync('cpu');
    expect(c.backend).toBe('cpu');
    expect(c.toArray()).toEqual([[0, 2], [1, 3]]);
    const back = await c.toAsync(backend);
    expect(back.backend).toBe(backend);
    expect(Array.from(await back.dataAsync())).toEqual([0, 2, 1, 3]);
  });

  it('setBackend changes where new tensors go', async () => {
    const prev = k.currentBackend();
    try {
      k.setBackend(backend);
      const t = ones([3]);
      expect(t.backend).toBe(backend);
      expect(Array.from(await t.add(1).dataAsync())).toEqual([2, 2, 2]);
    } finally {
      k.setBackend(prev);
    }
  });

  it('training step with autograd runs on the backend', async () => {
    const w = tensor([0.5, -0.5], { backend, requiresGrad: true });
    const x = tensor([[1, 2], [3, 4]], { backend });
    const loss = x.matmul(w).sub(tensor([1, 1], { backend })).pow(2).mean();
    loss.backward();
    // d/dw mean((xw - 1)²) = 2/N · xᵀ(xw - 1); xw = [-0.5, -0.5]
    const g = Array.from(await w.grad!.dataAsync());
    expect(g[0]).toBeCloseTo(-6, 5);
    expect(g[1]).toBeCloseTo(-9, 5);
  });
});
