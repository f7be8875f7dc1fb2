// compile as a TC39 method decorator: a Module's forward compiled, its weights captured by reference.
// Run: npx tsx examples/decorator.ts
import * as kiln from '../src/index.js';

class Block extends kiln.nn.Module {
  lin = new kiln.nn.Linear(8, 8);
  norm = new kiln.nn.LayerNorm(8);

  @kiln.compile()
  forward(x: kiln.Tensor): kiln.Tensor {
    return this.norm.forward(x.add(this.lin.forward(x).gelu('tanh')));
  }
}

kiln.manualSeed(0);
const block = new Block();
const x = kiln.randn([4, 8]);
const compiled = block.forward(x);
const eager = block.norm.forward(x.add(block.lin.forward(x).gelu('tanh')));
block.forward(x);
const info = (block.forward as unknown as kiln.Compiled<(x: kiln.Tensor) => kiln.Tensor>).cacheInfo();
console.log(`max |compiled - eager| = ${(compiled.sub(eager).abs().max().item() as number).toExponential(1)}`);
console.log(`traces ${info.traces}, hits ${info.hits}`);
