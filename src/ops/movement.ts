// Movement primitives: views by index arithmetic (src/core/view.ts). Gradients undo the movement.
import { ShapeError, fmtShape } from '../core/errors.js';
import { sizeOf } from '../core/shape.js';
import { expandView, flipView, padView, permuteView, reshapeView, sliceView, unfoldView } from '../core/view.js';
import type { Meta, MovementDef, OnnxRule } from './types.js';

export interface SliceAttrs { readonly starts: readonly number[]; readonly ends: readonly number[]; readonly steps: readonly number[] }
/** Sliding windows along `dims`: window size, step between windows and dilation inside one, per dim. */
export interface UnfoldAttrs {
  readonly dims: readonly number[];
  readonly sizes: readonly number[];
  readonly steps: readonly number[];
  readonly dilations: readonly number[];
}
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
    // allowzero: a 0 in the shape is a size, not "copy the input's dim".
    onnx: (e, [x], a) => e.node('Reshape', [x, e.int64s(a.shape)], a.shape.includes(0) ? { allowzero: { int: 1 } } : {})[0],
    sizeAttrs: true,
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
    onnx: (e, [x], a) => e.node('Transpose', [x], { perm: { ints: a.order } })[0],
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
    sizeAttrs: true,
    // Un-broadcasting (sum back to the input's shape) is done once by the autograd core.
    vjp: (g) => [g],
    onnx: (e, [x], a) => e.node('Expand', [x, e.int64s(a.shape)])[0],
  } satisfies MovementDef<{ shape: readonly number[] }>,
  slice: {
    kind: 'movement', name: 'slice',
    infer: (ins, a: SliceAttrs) => ({
      shape: ins[0].shape.map((_, d) => Math.max(0, Math.ceil((a.ends[d] - a.starts[d]) / a.steps[d]))),
      dtype: ins[0].dtype,
    }),
    view: (v, a) => sliceView(v, a.starts, a.ends, a.steps),
    sizeAttrs: true,
    // Put the slice back in place: dilate by the step, then pad to the input's extent.
    vjp: (g, c) => [unslice(g, c.inputMeta[0].shape, c.attrs)],
    onnx: (e, [x], a) => e.node('Slice', [x, e.int64s(a.starts), e.int64s(a.ends), e.int64s(a.starts.map((_, i) => i)), e.int64s(a.steps)])[0],
  } satisfies MovementDef<SliceAttrs>,
  flip: {
    kind: 'movement', name: 'flip',
    infer: (ins) => ({ shape: [...ins[0].shape], dtype: ins[0].dtype }),
    view: (v, a: { dims: readonly number[] }) => flipView(v, a.dims),
    vjp: (g, c) => [g.flip(c.attrs.dims)],
    // Walk each dim backwards from its last element to past its first (INT64_MIN is "before the start").
    onnx: (e, [x], a) => a.dims.length === 0 ? e.node('Identity', [x])[0]
      : e.node('Slice', [x, e.int64s(a.dims.map(() => -1)), e.int64s(a.dims.map(() => -(2 ** 63))), e.int64s(a.dims), e.int64s(a.dims.map(() => -1))])[0],
  } satisfies MovementDef<{ dims: readonly number[] }>,
  pad: {
    kind: 'movement', name: 'pad',
    sizeAttrs: true,
    infer: (ins, a: { pads: Pads }) => {
      if (a.pads.length !== ins[0].shape.length || a.pads.some(([l, r]) => l < 0 || r < 0 || !Number.isInteger(l) || !Number.isInteger(r))) {
        throw new ShapeError(`pad: expected one non-negative [before, after] pair per dim of ${fmtShape(ins[0].shape)}, got ${JSON.stringify(a.pads)}`);
      }
      return { shape: ins[0].shape.map((d, i) => d + a.pads[i][0] + a.pads[i][1]), dtype: ins[0].dtype };
    },
    view: (v, a) => padView(v, a.pads),
    readsOutside: true,
    // d pad(a) = the un-padded window of the cotangent
    vjp: (g, c) => [g.slice(c.inputMeta[0].shape.map((d, i) => [c.attrs.pads[i][0], c.attrs.pads[i][0] + d] as [number, number]))],
    onnx: (e, [x], a, m) => e.node('Pad', [x, e.int64s([...a.pads.map((p) => p[0]), ...a.pads.map((p) => p[1])]), e.scalar(0, m.inputs[0].dtype)])[0],
  } satisfies MovementDef<{ pads: Pads }>,
  // Sliding windows as a strided view (im2col without a copy): conv, pooling and fold compose over it.
  unfold: {
    kind: 'movement', name: 'unfold',
    infer: (ins, a: UnfoldAttrs) => ({ shape: unfoldShape(ins[0], a), dtype: ins[0].dtype }),
    view: (v, a) => unfoldView(v, a.dims, a.sizes, a.steps, a.dilations),
    // d unfold = fold: each window tap's cotangent goes back to the input element the tap read.
    vjp: (g, c) => [foldWindows(g, c.inputMeta[0].shape, c.attrs)],
    onnx: (e, ins, a, m) => onnxUnfold(e, ins, a, m),
  } satisfies MovementDef<UnfoldAttrs>,
} as const;

const isCount = (v: number, min: number) => Number.isInteger(v) && v >= min;

/**
 * unfold in ONNX: per windowed dim a Gather of the index table [o·step + j·dilation] (windows x taps),
 * which puts a tap dim right after the window dim; a Transpose then moves the tap dims last.
 */
const onnxUnfold: OnnxRule<UnfoldAttrs> = (e, [x], a, m) => {
  const inShape = m.inputs[0].shape;
  const outShape = m.output.shape;
  // Labels of the current dims: input dim i, or a tap dim ['t', window index].
  let labels: (number | string)[] = inShape.map((_, i) => i);
  let y = x;
  const order = a.dims.map((d, t) => [d, t] as const).sort((p, q) => q[0] - p[0]); // last dim first: earlier positions stay put
  for (const [d, t] of order) {
    const count = outShape[d], k = a.sizes[t];
    const idx: number[] = [];
    for (let o = 0; o < count; o++) for (let j = 0; j < k; j++) idx.push(o * a.steps[t] + j * a.dilations[t]);
    y = e.node('Gather', [y, e.int64s(idx, [count, k])], { axis: { int: d } })[0];
    labels = [...labels.slice(0, d + 1), `t${t}`, ...labels.slice(d + 1)];
  }
  const perm = [...inShape.map((_, i) => labels.indexOf(i)), ...a.dims.map((_, t) => labels.indexOf(`t${t}`))];
  return e.node('Transpose', [y], { perm: { ints: perm } })[0];
};

/** The windowed shape: listed dims become window counts, window dims are appended in order. */
function unfoldShape(x: Meta, a: UnfoldAttrs): number[] {
  const n = x.shape.length;
  const ok = a.sizes.length === a.dims.length && a.steps.length === a.dims.length && a.dilations.length === a.dims.length &&
    new Set(a.dims).size === a.dims.length && a.dims.every((d) => isCount(d, 0) && d < n) &&
    a.sizes.every((k) => isCount(k, 1)) && a.steps.every((s) => isCount(s, 1)) && a.dilations.every((d) => isCount(d, 1));
  if (!ok) {
    throw new ShapeError(`unfold: expected distinct dims of ${fmtShape(x.shape)} with positive integer sizes, steps and dilations, got ${JSON.stringify(a)}`);
  }
  const shape = [...x.shape];
  a.dims.forEach((d, t) => {
    const extent = a.dilations[t] * (a.sizes[t] - 1) + 1;
    if (extent > x.shape[d]) {
      throw new ShapeError(`unfold: a window of extent ${extent} (size ${a.sizes[t]}, dilation ${a.dilations[t]}) does not fit dim ${d} of size ${x.shape[d]} in ${fmtShape(x.shape)}`);
    }
    shape[d] = Math.floor((x.shape[d] - extent) / a.steps[t]) + 1;
  });
  return [...shape, ...a.sizes];
}

type T = import('../tensor.js').Tensor;

/**
 * fold, the adjoint of unfold: sums every window tap of `g` (the unfolded shape) back into the input
 * shape. Windows that tile the dims without overlap go back by one permute and reshape; overlapping
 * ones as a sum over the taps of each tap's slice put back in place (a strided slice's adjoint).
 */
export function foldWindows(g: T, inShape: readonly number[], a: UnfoldAttrs): T {
  if (a.dims.every((_, t) => a.dilations[t] === 1 && a.sizes[t] <= a.steps[t])) return untile(g, inShape, a);
  const n = inShape.length;
  let out: T | null = null;
  const taps = a.sizes.reduce((p, k) => p * k, 1);
  for (let tap = 0; tap < taps; tap++) {
    const at: number[] = [];
    let rest = tap;
    for (let t = a.sizes.length - 1; t >= 0; t--) { at[t] = rest % a.sizes[t]; rest = Math.floor(rest / a.sizes[t]); }
    const part = g.slice(g.shape.map((_, i): [number, number] | null => (i >= n ? [at[i - n], at[i - n] + 1] : null))).reshape(g.shape.slice(0, n));
    const starts = inShape.map(() => 0), ends = [...inShape], steps = inShape.map(() => 1);
    a.dims.forEach((d, t) => {
      starts[d] = at[t] * a.dilations[t];
      steps[d] = a.steps[t];
      ends[d] = starts[d] + (g.shape[d] - 1) * a.steps[t] + 1;
    });
    const term = unslice(part, inShape, { starts, ends, steps });
    out = out ? out.add(term) : term;
  }
  return out!;
}

/** fold of windows that do not overlap (dilation 1, size <= step): interleave, space out, trim or pad. */
function untile(g: T, inShape: readonly number[], a: UnfoldAttrs): T {
  const n = inShape.length;
  const order: number[] = [];
  for (let i = 0; i < n; i++) {
    order.push(i);
    const t = a.dims.indexOf(i);
    if (t >= 0) order.push(n + t);
  }
  let x = g.permute(order); // each window dim right after its position dim
  const gaps = order.map((i): [number, number] => (i >= n ? [0, a.steps[i - n] - a.sizes[i - n]] : [0, 0]));
  if (gaps.some(([, r]) => r > 0)) x = x.pad(gaps);
  x = x.reshape(inShape.map((d, i) => { const t = a.dims.indexOf(i); return t >= 0 ? g.shape[i] * a.steps[t] : d; }));
  if (x.shape.some((d, i) => d > inShape[i])) x = x.slice(inShape.map((d): [number, number] => [0, d]));
  const tail = inShape.map((d, i): [number, number] => [0, d - x.shape[i]]);
  return tail.some(([, r]) => r > 0) ? x.pad(tail) : x;
}

/** Scatters a slice's cotangent back to the input's shape with zeros elsewhere (no scatter primitive). */
function unslice(g: T, inShape: readonly number[], a: SliceAttrs) {
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
    if (pads[d][0] > 0 || pads[d][1] > 0) out = out.pad(pads);
  }
  return out;
}
