// Movement ops as index arithmetic on a View: permute, expand, reshape, slice, flip and pad never copy.
// A view with a mask (from pad) cannot back a tensor directly; eager mode materialises it.
import type { View } from './kernel.js';
import { reshapeStrides } from './shape.js';

type Mask = readonly (readonly [number, number])[];

function fullMask(v: View): [number, number][] {
  return v.mask ? v.mask.map(([a, b]) => [a, b]) : v.shape.map((d) => [0, d]);
}

function withMask(v: Omit<View, 'mask'>, mask: Mask | undefined): View {
  // Drop masks that cover everything so unmasked views stay unmasked.
  if (mask) {
    for (let d = 0; d < mask.length; d++) {
      if (mask[d][0] > 0 || mask[d][1] < v.shape[d]) return { shape: v.shape, strides: v.strides, offset: v.offset, mask };
    }
  }
  return { shape: v.shape, strides: v.strides, offset: v.offset };
}

/** Reorders dims: out dim i is input dim order[i]. */
export function permuteView(v: View, order: readonly number[]): View {
  return withMask({
    shape: order.map((d) => v.shape[d]),
    strides: order.map((d) => v.strides[d]),
    offset: v.offset,
  }, v.mask && order.map((d) => v.mask![d]));
}

/** Broadcasts to `shape` (new leading dims and size-1 dims get stride 0). */
export function expandView(v: View, shape: readonly number[]): View {
  const lead = shape.length - v.shape.length;
  const strides = shape.map((d, i) => (i < lead || v.shape[i - lead] !== d ? 0 : v.strides[i - lead]));
  const mask = v.mask && shape.map((d, i): [number, number] => {
    if (i < lead) return [0, d];
    const [lo, hi] = v.mask![i - lead];
    if (v.shape[i - lead] === d) return [lo, hi];
    return lo < hi ? [0, d] : [0, 0];
  });
  return withMask({ shape: [...shape], strides, offset: v.offset }, mask);
}

/** Reinterprets the shape, or null when it needs a copy (non-mergeable strides, or a mask). */
export function reshapeView(v: View, shape: readonly number[]): View | null {
  if (v.mask) return null;
  const strides = reshapeStrides(v.shape, v.strides, shape);
  return strides ? { shape: [...shape], strides, offset: v.offset } : null;
}

/** Takes start..end (exclusive) with a positive step along every dim. */
export function sliceView(v: View, starts: readonly number[], ends: readonly number[], steps: readonly number[]): View {
  const shape = v.shape.map((_, d) => Math.max(0, Math.ceil((ends[d] - starts[d]) / steps[d])));
  let offset = v.offset;
  v.strides.forEach((s, d) => { if (shape[d] > 0) offset += starts[d] * s; });
  const strides = v.strides.map((s, d) => s * steps[d]);
  const mask = v.mask && v.mask.map(([lo, hi], d): [number, number] => {
    const a = Math.max(0, Math.ceil((lo - starts[d]) / steps[d]));
    const b = Math.min(shape[d], Math.max(0, Math.ceil((hi - starts[d]) / steps[d])));
    return a < b ? [a, b] : [0, 0];
  });
  return withMask({ shape, strides, offset }, mask);
}

/** Reverses the listed dims. */
export function flipView(v: View, dims: readonly number[]): View {
  let offset = v.offset;
  const strides = v.strides.map((s, d) => {
    if (!dims.includes(d)) return s;
    if (v.shape[d] > 0) offset += (v.shape[d] - 1) * s;
    return -s;
  });
  const mask = v.mask && v.mask.map(([lo, hi], d): [number, number] => (dims.includes(d) ? [v.shape[d] - hi, v.shape[d] - lo] : [lo, hi]));
  return withMask({ shape: [...v.shape], strides, offset }, mask);
}

/** Zero-pads each dim by [before, after] (non-negative); the padding is masked out. */
export function padView(v: View, pads: readonly (readonly [number, number])[]): View {
  const mask = fullMask(v).map(([lo, hi], d): [number, number] => [lo + pads[d][0], hi + pads[d][0]]);
  const shape = v.shape.map((n, d) => n + pads[d][0] + pads[d][1]);
  let offset = v.offset;
  v.strides.forEach((s, d) => { offset -= pads[d][0] * s; });
  return withMask({ shape, strides: [...v.strides], offset }, mask);
}

/**
 * Sliding windows along `dims` (torch's Tensor.unfold, with dilation): each listed dim d becomes the
 * count of windows, read with stride step·stride[d], and a window dim of size `size` with stride
 * dilation·stride[d] is appended, in the order listed. Null when a listed dim is masked (padding
 * there depends on a window position and a tap together, which a per-dim mask cannot say).
 */
export function unfoldView(v: View, dims: readonly number[], sizes: readonly number[], steps: readonly number[], dilations: readonly number[]): View | null {
  if (v.mask && dims.some((d) => v.mask![d][0] > 0 || v.mask![d][1] < v.shape[d])) return null;
  const shape = [...v.shape];
  const strides = [...v.strides];
  dims.forEach((d, t) => {
    shape[d] = Math.floor((v.shape[d] - dilations[t] * (sizes[t] - 1) - 1) / steps[t]) + 1;
    strides[d] = v.strides[d] * steps[t];
  });
  const mask = v.mask && [...v.mask.map(([lo, hi], d): [number, number] => (dims.includes(d) ? [0, shape[d]] : [lo, hi])), ...sizes.map((s): [number, number] => [0, s])];
  return withMask({
    shape: [...shape, ...sizes],
    strides: [...strides, ...dims.map((d, t) => v.strides[d] * dilations[t])],
    offset: v.offset,
  }, mask);
}
