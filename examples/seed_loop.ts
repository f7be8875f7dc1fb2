// The seed example: x = 3, a trainable W = 2, five rounds of x = x·W (printing 6, 12, 24, 48, 96),
// then backward: d(3·W⁵)/dW = 15·W⁴ = 240. Plain eager on the default backend.
//   npx tsx examples/seed_loop.ts
import { pathToFileURL } from 'node:url';
import { tensor, type Tensor } from '../src/index.js';

/** Runs the loop; returns every intermediate value and W's gradient. */
export function seedLoop(log: (line: string) => void = () => {}): { values: number[]; grad: number } {
  let x: Tensor = tensor(3);
  const W = tensor(2, { requiresGrad: true });
  const values: number[] = [];
  for (let i = 0; i < 5; i++) {
    x = x.mul(W);
    values.push(x.item() as number);
    log(`x = ${x.toString()}`);
  }
  x.backward();
  const grad = W.grad!.item() as number;
  log(`W.grad = ${W.grad!.toString()}`);
  return { values, grad };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) seedLoop(console.log);
