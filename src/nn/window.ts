// Shared arithmetic of windowed ops (conv, pooling, fold): size arguments, output sizes, padding, and
// the unfold primitive over the trailing spatial dims; and the per-channel broadcast of [N, C, ...] ops.
import { DTypeError, ShapeError, fmtShape } from '../core/errors.js';
import { filled } from '../core/shape.js';
import { apply } from '../dispatch.js';
import { OPS } from '../ops/index.js';
import { describeValue } from '../core/validate.js';
import { expectTensor, type Tensor } from '../tensor.js';

/** A size argument: one number for every spatial dim, or one per dim. */
export type Size = number | readonly number[];

/** Expands a size argument to one non-negative (or positive) integer per spatial dim. */
export function perDim(op: string, what: string, v: Size, nd: number, min = 1): number[] {
  if (typeof v !== 'number' && !Array.isArray(v)) throw new ShapeError(`${op}: ${what} must be a positive integer or ${nd} of them, got ${describeValue(v)}`);
  const list = typeof v === 'number' ? new Array<number>(nd).fill(v) : [...v];
  if (list.length !== nd || list.some((x) => !Number.isInteger(x) || x < min)) {
    const kind = min > 0 ? 'positive' : 'non-negative';
    throw new ShapeError(`${op}: ${what} must be a ${kind} integer or ${nd} of them, got ${JSON.stringify(v)}`);
  }
  return list;
}

/** Checks the input is float32 with `nd` spatial dims after [N, C] (or [C] when `unbatched` is allowed). */
export function checkInput(op: string, x: Tensor, nd: number, unbatched: boolean): void {
  expectTensor(op, 'the input', x);
  const spatial = nd === 1 ? ['L'] : nd === 2 ? ['H', 'W'] : ['D', 'H', 'W'].slice(3 - nd);
  const want = `[N, C, ${spatial.join(', ')}]`;
  if (x.ndim !== nd + 2 && !(unbatched && x.ndim === nd + 1)) {
    const alt = unbatched ? ` or ${nd + 1}-D [C, ${spatial.join(', ')}]` : '';
    throw new ShapeError(`${op}: expected a ${nd + 2}-D input ${want}${alt}, got ${fmtShape(x.shape)}`);
  }
  if (x.dtype !== 'float32') throw new DTypeError(`${op}: expected a float32 input, got ${x.dtype} ${fmtShape(x.shape)}`);
}

/** Number of windows along one dim (PyTorch's formula, with ceil mode's rule that a window must start inside). */
export function windowCount(n: number, k: number, s: number, p: number, d: number, ceilMode = false): number {
  const span = n + 2 * p - d * (k - 1) - 1;
  if (!ceilMode) return Math.floor(span / s) + 1;
  let out = Math.ceil(span / s) + 1;
  if ((out - 1) * s >= n + p) out--;
  return out;
}

/** Sliding windows over the last `sizes.length` dims: [..., O1, O2, k1, k2]. */
export function windows(x: Tensor, sizes: readonly number[], steps: readonly number[], dilations: readonly number[]): Tensor {
  const nd = sizes.length;
  const dims = sizes.map((_, t) => x.ndim - nd + t);
  return apply(OPS.unfold, [x], { dims, sizes, steps, dilations });
}

/** [before, after] pairs for every dim of an input whose trailing spatial dims get `pads`. */
export function spatialPads(x: Tensor, pads: readonly (readonly [number, number])[]): [number, number][] {
  const lead = x.ndim - pads.length;
  return x.shape.map((_, i): [number, number] => (i < lead ? [0, 0] : [pads[i - lead][0], pads[i - lead][1]]));
}

/** Prints per-dim sizes as 3×3. */
export const fmtDims = (v: readonly number[]): string => v.join('×');

/** A per-channel vector [C] shaped to broadcast over [N, C, ...] of rank `ndim` (a bias, batch norm's statistics). */
export const perChannel = (t: Tensor, ndim: number): Tensor => t.reshape([t.shape[0], ...filled(ndim - 2, 1)]);
