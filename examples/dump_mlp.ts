// An MLP training step (forward, cross-entropy, backward, Adam) compiled as one function, and the
// model's forward compiled on its own: matmuls take their bias and ReLU as epilogues. For
// `npx kiln dump examples/dump_mlp.ts` (test/tools/dump.test.ts counts its kernels).
import * as kiln from '../src/index.js';

kiln.manualSeed(0);
const model = new kiln.nn.Sequential(new kiln.nn.Linear(16, 32), new kiln.nn.ReLU(), new kiln.nn.Linear(32, 4));
const opt = new kiln.optim.Adam(model.parameters(), { lr: 1e-2 });

const trainStep = kiln.compile(function trainStep(x: kiln.Tensor, y: kiln.Tensor) {
  opt.zeroGrad();
  const loss = kiln.nn.crossEntropy(model.forward(x), y);
  loss.backward();
  opt.step();
  return loss.detach();
});
const predict = kiln.compile(function predict(x: kiln.Tensor) {
  return model.forward(x).softmax(-1);
});

const x = kiln.randn([64, 16]);
const y = kiln.randint(0, 4, [64]);
for (let i = 0; i < 20; i++) {
  const loss = trainStep(x, y);
  if (i % 5 === 4) console.log(`step ${i + 1}: loss ${(loss.item() as number).toFixed(4)}`);
}
const acc = kiln.noGrad(() => predict(x)).argmax(1).eq(y).sum().item() as number;
console.log(`training accuracy ${acc}/64`);
