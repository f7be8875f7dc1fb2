// The graph interpreter: runs a graph node by node with eager ops (FX's Interpreter). compile()
// falls back to it where the target backend cannot run a planned kernel; tests use it to check that
// a graph means what the eager code meant.
import { noGrad } from '../src/autograd.js';
import { drawRandom, full } from '../src/creation.js';
import { apply } from '../src/dispatch.js';
import type { BackendName } from '../src/core/backend.js';
import { OPS } from '../src/ops/index.js';
import type { Tensor } from '../src/tensor.js';
import type { Graph } from './graph.js';

/** Evaluates every node eagerly on `backend`; `leaf(id)` supplies already-bound leaves (inputs, draws). */
export function interpretGraph(g: Graph, leaf: (id: number) => Tensor | undefined, backend: BackendName): Tensor[] {
  const vals = new Map<number, Tensor>();
  noGrad(() => {
    for (const n of g.nodes) {
      const bound = n.kind === 'op' ? undefined : leaf(n.id);
      if (bound) { vals.set(n.id, bound); continue; }
      switch (n.kind) {
        case 'input': throw new Error(`interpretGraph: input %${n.id} is not bound`);
        case 'const': vals.set(n.id, n.value ?? full([], n.scalar!, { dtype: n.dtype, backend })); break;
        case 'random': vals.set(n.id, drawRandom(n.random, n.shape, n.dtype, n.params, backend)); break;
        case 'op': vals.set(n.id, apply(OPS[n.op], n.inputs.map((i) => vals.get(i)!), n.attrs)); break;
      }
    }
  });
  return g.outputs.map((o) => vals.get(o)!);
}
