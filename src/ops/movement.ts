// Movement primitives: views by index arithmetic (src/core/view.ts). Gradients undo the movement.
import { ShapeError, fmtShape } from '../core/errors.js';
import { sizeOf } from '../core/shape.js';
import { expandView, flipView, padView, permuteView, reshapeView, sliceView } from '../core/view.js';
import type { MovementDef } from './types.js';

export interface SliceAttrs { readonly starts: readonly number[]; readonly ends: readonly number[]; readonly steps: readonly number[] }
type Pads = readonly (readonly [number, number])[];

export const MOVEMENT = {
  reshape: {
    kind: 'movement', name: 'reshape',
    infer: (ins, a: { shape: readonly number[] }) => {
      if (sizeOf(ins[0].shape) !== sizeOf(a.shape)) {
        throw new ShapeError(`reshape: cannot reshape ${fmtShape(ins[0].shape)} (${sizeOf(ins[0].shape)} elements) into ${fmtShape(a.shape)} (${sizeOf(a.shape)} elements)`);
      }
      return { shape: [...a.shape], dtype: ins[0].dtype };
    },
    view: (v, a) => reshapeView(v, a.shape),
    vjp: (g, c) => [g.reshape(c.inputMeta[0].shape)],
  } satisfies MovementDef<{ shape: readonly number[] }>,
  permute: {
    kind: 'movement', name: 'permute',
    infer: (ins, a: { order: readonly number[] }) => {
      const n = ins[0].shape.length;
      const ok = a.order.length === n && new Set(a.order).size === n && a.order.every((d) => d >= 0 && d < n);
      if (!ok) throw new ShapeError(`permute: ${fmtShape(a.order)} is not a permutation of the ${n} dims of ${fmtShape(ins[0].shape)}`);
      return { shape: a.order.map((d) => ins[0].shape[d]), dtype: ins[0].dtype };
    },
    view: (v, a) => permuteView(v, a.order),
    // The inverse permutation puts every dim back.
    vjp: (g, c) => {
      const inv: number[] = [];
      c.attrs.order.forEach((d, i) => { inv[d] = i; });
      return [g.permute(inv)];
    },
  } satisfies MovementDef<{ order: readonly number[] }>,
  expand: {
    kind: 'movement', name: 'expand',
    infer: (ins, a: { shape: readonly number[] }) => {
      const from = ins[0].shape;
      const lead = a.shape.length - from.length;
      const neg = a.shape.findIndex((d) => !Number.isInteger(d) || d < 0);
      if (neg >= 0) throw new ShapeError(`expand: size ${a.shape[neg]} at dim ${neg} of ${fmtShape(a.shape)} is invalid (-1 only keeps an existing dim of ${fmtShape(from)})`);
      const bad = lead < 0 ? 0 : from.findIndex((d, i) => d !== 1 && d !== a.shape[i + lead]);
      if (lead < 0 || bad >= 0) {
        throw new ShapeError(`expand: cannot expand ${fmtShape(from)} to ${fmtShape(a.shape)}${lead >= 0 ? ` (dim ${bad}: ${from[bad]} vs ${a.shape[bad + lead]})` : ' (fewer dims)'}`);
      }
      return { shape: [...a.shape], dtype: ins[0].dtype };
    },
    view: (v, a) => expandView(v, a.shape),
    // Un-broadcasting (sum back to the input's shape) is done once by the autograd core.
    vjp: (g) => [g],
  } satisfies MovementDef<{ shape: readonly number[] }>,
  slice: {
    kind: 'movement', name: 'slice',
    infer: (ins, a: SliceAttrs) => ({
      shape: ins[0].shape.map((_, d) => Math.max(0, Math.ceil((a.ends[d] - a.starts[d]) / a.steps[d]))),
      dtype: ins[0].dtype,
    }),
    view: (v, a) => sliceView(v, a.starts, a.ends, a.steps),
    // Put the slice back in place: dilate by the step, then pad to the input's extent.
    vjp: (g, c) => [unslice(g, c.inputMeta[0].shape, c.attrs)],
  } satisfies MovementDef<SliceAttrs>,
  flip: {
    kind: 'movement', name: 'flip',
    infer: (ins) => ({ shape: [...ins[0].shape], dtype: ins[0].dtype }),
    view: (v, a: { dims: readonly number[] }) => flipView(v, a.dims),
    vjp: (g, c) => [g.flip(c.attrs.dims)],
  } satisfies MovementDef<{ dims: readonly number[] }>,
  pad: {
    kind: 'movement', name: 'pad',
    infer: (ins, a: { pads: Pads }) => {
      if (a.pads.length !== ins[0].shape.length || a.pads.some(([l, r]) => l < 0 || r < 0 || !Number.isInteger(l) || !Number.isInteger(r))) {
        throw new ShapeError(`pad: expected one non-negative [before, after] pair per dim of ${fmtShape(ins[0].shape)}, got ${JSON.stringify(a.pads)}`);
      }
      return { shape: ins[0].shape.map((d, i) => d + a.pads[i][0] + a.pads[i][1]), dtype: ins[0].dtype };
    },
    view: (v, a) => padView(v, a.pads),
    // d pad(a) = the un-padded window of the cotangent
    vjp: (g, c) => [g.slice(c.inputMeta[0].shape.map((d, i) => [c.attrs.pads[i][0], c.attrs.pads[i][0] + d] as [number, number]))],
  } satisfies MovementDef<{ pads: Pads }>,
} as const;

/** Scatters a slice's cotangent back to the input's shape with zeros elsewhere (no scatter primitive). */
function unslice(g: import('../tensor.js').Tensor, inShape: readonly number[], a: SliceAttrs) {
  let out = g;
  for (let d = 0; d < inShape.length; d++) {
    const step = a.steps[d];
    const n = out.shape[d];
    if (step > 1 && n > 0) {
      // [.., n, ..] -> [.., n, 1, ..] -> pad to [.., n, step, ..] -> [.., n*step, ..]: g lands every step-th slot.
      const sh = [...out.shape];
      out = out.unsqueeze(d + 1);
      const pads = out.shape.map((_, i): [number, number] => (i === d + 1 ? [0, step - 1] : [0, 0]));
      out = out.pad(pads);
      sh[d] = n * step;
      out = out.reshape(sh);
    }
    const len = out.shape[d];
    const before = n === 0 ? 0 : a.starts[d];
    const keep = Math.min(len, inShape[d] - before);
    if (keep < len) out = out.slice(out.shape.map((s, i): [number, number] => (i === d ? [0, keep] : [0, s])));
    const pads = out.shape.map((_, i): [number, number] => (i === d ? [before, inShape[d] - before - keep] : [0, 0]));
    out = out.pad(pads);
  }
  return out;
}
