// A compiled function with graph breaks (a concrete value for a data-dependent branch, and a
// console.log) called with two shapes and dynamic shapes off, so it also recompiles. For
// `npx kiln dump examples/dump_breaks.ts` (test/tools/dump.test.ts checks the break lines).
import * as kiln from '../src/index.js';

function normalizeIfLarge(x: kiln.Tensor): kiln.Tensor {
  const h = x.mul(2).add(1);
  const total = h.abs().sum().item() as number;
  console.log(`  total = ${total.toFixed(2)}`);
  const y = total > 10 ? h.div(total) : h.relu();
  return y.exp().sum(-1);
}

kiln.manualSeed(0);
const f = kiln.compile(normalizeIfLarge, { dynamic: false });
for (const shape of [[4, 8], [4, 8], [2, 3]]) {
  const x = kiln.randn(shape);
  const diff = f(x).sub(normalizeIfLarge(x)).abs().max().item() as number;
  console.log(`shape [${shape}]: max |compiled - eager| = ${diff.toExponential(1)}`);
}
