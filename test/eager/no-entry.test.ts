// The framework works without its public entry (src/index.ts): gradient rules take what they need
// from their context, so importing src/ modules directly still differentiates gathers.
import { expect, it } from 'vitest';
import { registerBackend, setBackend } from '../../src/core/backend.js';
import { createCpuBackend } from '../../backends/cpu/index.js';
import { tensor } from '../../src/creation.js';

it('gather and indexSelect gradients without src/index.ts', () => {
  registerBackend(createCpuBackend());
  setBackend('cpu');
  const x = tensor([[1, 2, 3], [4, 5, 6]], { requiresGrad: true });
  const idx = tensor([[0, 2, 2], [1, 1, 0]], { dtype: 'int32' });
  const w = tensor([[1, 10, 100], [1000, 10000, 100000]]);
  x.gather(1, idx).mul(w).sum().backward();
  // d/dx[i][j] = Σ_k w[i][k] [idx[i][k] = j]
  expect(Array.from(x.grad!.data())).toEqual([1, 0, 110, 100000, 11000, 0]);
  const y = tensor([[1, 2], [3, 4], [5, 6]], { requiresGrad: true });
  y.indexSelect(0, tensor([2, 0, 2], { dtype: 'int32' })).mul(tensor([[1, 2], [3, 4], [5, 6]])).sum().backward();
  expect(Array.from(y.grad!.data())).toEqual([3, 4, 0, 0, 6, 8]);
});
