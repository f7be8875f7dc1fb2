// A function with a data-dependent branch and a console.log: compile() runs it segment by segment,
// so it behaves exactly as the eager function does. Run: npx tsx examples/graph_breaks.ts
import * as kiln from '../src/index.js';

function step(x: kiln.Tensor): kiln.Tensor {
  const h = x.mul(2).add(1);
  const total = h.sum().item() as number; // a concrete value: graph break
  console.log(`  total = ${total.toFixed(3)}`);
  return total > 0 ? h.relu() : h.neg().exp();
}

kiln.manualSeed(0);
const compiled = kiln.compile(step);
for (const sign of [1, -1]) {
  const x = kiln.randn([3, 4]).abs().mul(sign);
  console.log(`sign ${sign}: eager`);
  const e = step(x);
  console.log(`sign ${sign}: compiled`);
  const c = compiled(x);
  const diff = e.sub(c).abs().max().item() as number;
  console.log(`  max |eager - compiled| = ${diff.toExponential(1)} (fused kernels round once, eager after every op)`);
}
console.log('\n' + kiln.explain(step, kiln.randn([3, 4])).toString());
