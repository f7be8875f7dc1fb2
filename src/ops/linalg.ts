// Opaque routines: batched matmul and gathers. They lower to templates, not scalar expressions.
import { promoteTypes } from '../core/dtype.js';
import { DTypeError, ShapeError, fmtShape } from '../core/errors.js';
import { broadcastShapes } from '../core/shape.js';
import type { GatherDef, MatmulDef } from './types.js';

export const LINALG = {
  // C = A B:  dA = dC Bᵀ, dB = Aᵀ dC (batch broadcasting undone by the autograd core)
  matmul: {
    kind: 'matmul', name: 'matmul',
    infer: ([a, b]) => {
      if (a.shape.length < 2 || b.shape.length < 2) throw new ShapeError(`matmul: operands must be at least 2-D, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
      const [m, k] = a.shape.slice(-2);
      const [k2, n] = b.shape.slice(-2);
      if (k !== k2) {
        throw new ShapeError(`matmul: inner dimensions differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)} (${k} vs ${k2})`);
      }
      const batch = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
      if (a.dtype === 'bool' || b.dtype === 'bool') throw new DTypeError(`matmul: bool operands are not supported (got ${a.dtype} @ ${b.dtype})`);
      return { shape: [...batch, m, n], dtype: promoteTypes(a.dtype, b.dtype) };
    },
    vjp: (g, c) => [c.needs(0) ? g.matmul(c.input(1).mT()) : null, c.needs(1) ? c.input(0).mT().matmul(g) : null],
    onnx: (e, ins) => e.node('MatMul', ins)[0],
  } satisfies MatmulDef,
  // out[..j..] = x[..index[..j..]..] along `axis`; index has x's rank.
  // dx[..k..] = Σ_j g[..j..]·[index[..j..] = k]  (a one-hot contraction, no scatter primitive needed)
  gather: {
    kind: 'gather', name: 'gather', select: false,
    infer: ([x, idx], a) => {
      checkIndex(a.op ?? 'gather', idx.dtype);
      if (idx.shape.length !== x.shape.length || idx.shape.some((d, i) => i !== a.axis && d > x.shape[i])) {
        throw new ShapeError(`gather: index ${fmtShape(idx.shape)} must have the rank of input ${fmtShape(x.shape)} and no larger size outside dim ${a.axis}`);
      }
      return { shape: [...idx.shape], dtype: x.dtype };
    },
    vjp: (g, c) => {
      const { axis } = c.attrs;
      const xShape = c.inputMeta[0].shape;
      // A 0-d input has one element: every (valid) index picks it.
      if (xShape.length === 0) return [g.sum().reshape([]), null];
      const k = xShape[axis];
      const idx = c.input(1).unsqueeze(axis + 1);
      const classes = c.arange(k).reshape(idx.shape.map((_, i) => (i === axis + 1 ? k : 1)));
      const oneHot = idx.eq(classes).to('float32');
      let dx = g.unsqueeze(axis + 1).mul(oneHot).sum(axis);
      const pads = dx.shape.map((d, i): [number, number] => [0, xShape[i] - d]);
      if (pads.some(([, r]) => r > 0)) dx = dx.pad(pads);
      return [dx, null];
    },
    // A 0-d input has one element: every valid index picks it.
    onnx: (e, ins, a, m) => (m.inputs[0].shape.length === 0 ? e.node('Identity', [ins[0]])[0] : e.node('GatherElements', ins, { axis: { int: a.axis } })[0]),
  } satisfies GatherDef,
  // out = x with dim `axis` replaced by x[index[j]] (index 1-D).
  // dx = onehotᵀ · g along `axis`, a matmul, so embeddings' gradients cost O(len·vocab·dim) flops, not memory.
  indexSelect: {
    kind: 'gather', name: 'indexSelect', select: true,
    infer: ([x, idx], a) => {
      checkIndex(a.op ?? 'indexSelect', idx.dtype);
      if (idx.shape.length !== 1) throw new ShapeError(`indexSelect: index must be 1-D, got ${fmtShape(idx.shape)}`);
      return { shape: x.shape.map((d, i) => (i === a.axis ? idx.shape[0] : d)), dtype: x.dtype };
    },
    vjp: (g, c) => {
      const { axis } = c.attrs;
      const xShape = c.inputMeta[0].shape;
      // A 0-d input has one element: every (valid) index picks it.
      if (xShape.length === 0) return [g.sum().reshape([]), null];
      const idx = c.input(1);
      const oneHot = idx.unsqueeze(1).eq(c.arange(xShape[axis]).reshape([1, xShape[axis]])).to('float32'); // [L, K]
      const gm = g.movedim(axis, -1); // [..., L]
      const dx = gm.matmul(oneHot); // [..., K]
      return [dx.movedim(-1, axis), null];
    },
    onnx: (e, ins, a, m) => (m.inputs[0].shape.length === 0 ? e.node('Identity', [ins[0]])[0] : e.node('Gather', ins, { axis: { int: a.axis } })[0]),
  } satisfies GatherDef,
} as const;

function checkIndex(op: string, dtype: string): void {
  if (dtype !== 'int32') throw new DTypeError(`${op}: index must be int32, got ${dtype}`);
}
