// Resampling: interpolate (nearest: gathers; linear and bilinear: products with per-dim interpolation
// matrices, so they differentiate as matmuls) and pixelShuffle/pixelUnshuffle (reshape and permute).
import { KilnError, ShapeError, fmtShape } from '../core/errors.js';
import { describeValue } from '../core/validate.js';
import { tensor } from '../creation.js';
import { expectTensor, type Tensor } from '../tensor.js';

export type InterpolateMode = 'nearest' | 'linear' | 'bilinear';

export interface InterpolateOptions {
  /** Output size of the spatial dims (a number for all of them). */
  size?: number | readonly number[];
  /** Or a factor per spatial dim: the output is floor(input · factor). */
  scaleFactor?: number | readonly number[];
  mode?: InterpolateMode;
  /** linear/bilinear: map the corner pixels' centres onto each other (default false). */
  alignCorners?: boolean;
}

const SPATIAL: Record<InterpolateMode, readonly number[]> = { nearest: [1, 2], linear: [1], bilinear: [2] };

/** Source coordinate of each output index along one dim, as PyTorch computes it (in float32). */
function sourceCoords(mode: InterpolateMode, n: number, m: number, factor: number | undefined, alignCorners: boolean): number[] {
  const scale = Math.fround(factor !== undefined ? 1 / factor : n / m);
  return Array.from({ length: m }, (_, i) => {
    if (mode === 'nearest') return Math.min(Math.floor(Math.fround(i * scale)), n - 1);
    if (alignCorners) return m > 1 ? (i * (n - 1)) / (m - 1) : 0;
    return Math.max((i + 0.5) * scale - 0.5, 0);
  });
}

/** Interpolation matrix [m, n]: row i mixes the two input elements around source coordinate i. */
function linearMatrix(coords: readonly number[], n: number, backend: Tensor['backend']): Tensor {
  const m = coords.length;
  const data = new Float32Array(m * n);
  coords.forEach((src, i) => {
    const i0 = Math.min(Math.floor(src), n - 1);
    const i1 = Math.min(i0 + 1, n - 1);
    const frac = src - i0;
    data[i * n + i0] += 1 - frac;
    data[i * n + i1] += frac;
  });
  return tensor(data, { shape: [m, n], backend });
}

/** torch.nn.functional.interpolate for [N, C, L] (nearest, linear) and [N, C, H, W] (nearest, bilinear). */
export function interpolate(input: Tensor, options: InterpolateOptions): Tensor {
  const op = 'interpolate';
  expectTensor(op, 'the input', input);
  if (options === null || typeof options !== 'object') throw new KilnError(`${op}: options must be an object such as { size: [8, 8] } or { scaleFactor: 2, mode: 'bilinear' }, got ${describeValue(options)}`);
  const { size, scaleFactor, mode = 'nearest' } = options;
  if (!(mode in SPATIAL)) throw new KilnError(`${op}: unknown mode '${mode}' (expected 'nearest', 'linear' or 'bilinear')`);
  const nd = input.ndim - 2;
  if (!SPATIAL[mode].includes(nd)) {
    const want = SPATIAL[mode].map((d) => `${d + 2}-D`).join(' or ');
    throw new ShapeError(`${op}: mode '${mode}' expects a ${want} input [N, C, ...spatial], got ${fmtShape(input.shape)}`);
  }
  if (mode === 'nearest' && options.alignCorners !== undefined) throw new KilnError(`${op}: alignCorners only applies to the linear modes, not 'nearest'`);
  if ((size === undefined) === (scaleFactor === undefined)) throw new KilnError(`${op}: give exactly one of size and scaleFactor`);
  const inS = input.shape.slice(2);
  const list = (v: number | readonly number[], what: string) => {
    const l = typeof v === 'number' ? inS.map(() => v) : [...v];
    if (l.length !== nd || l.some((x) => !(x > 0) || !Number.isFinite(x))) throw new ShapeError(`${op}: ${what} must be a positive number or ${nd} of them, got ${JSON.stringify(v)}`);
    return l;
  };
  const factors = scaleFactor !== undefined ? list(scaleFactor, 'scaleFactor') : undefined;
  const outS = size !== undefined ? list(size, 'size') : inS.map((n, t) => Math.floor(n * factors![t]));
  if (outS.some((s) => !Number.isInteger(s) || s < 1)) throw new ShapeError(`${op}: output size ${JSON.stringify(outS)} must be positive integers (input ${fmtShape(input.shape)})`);
  if (inS.some((n) => n === 0)) throw new ShapeError(`${op}: input ${fmtShape(input.shape)} has an empty spatial dim`);
  let y = input;
  // The last spatial dim first; each dim is independent of the others.
  for (let t = nd - 1; t >= 0; t--) {
    const axis = 2 + t;
    const coords = sourceCoords(mode, inS[t], outS[t], factors?.[t], options.alignCorners ?? false);
    if (mode === 'nearest') {
      y = y.indexSelect(axis, tensor(Int32Array.from(coords), { dtype: 'int32', backend: input.backend }));
    } else {
      const mat = linearMatrix(coords, inS[t], input.backend);
      y = axis === y.ndim - 1 ? y.matmul(mat.mT()) : mat.matmul(y);
    }
  }
  return y;
}

function checkShuffle(op: string, x: Tensor, factor: number): void {
  expectTensor(op, 'the input', x);
  if (!Number.isInteger(factor) || factor < 1) throw new KilnError(`${op}: the factor must be a positive integer, got ${factor}`);
  if (x.ndim < 3) throw new ShapeError(`${op}: expected an input [..., C, H, W], got ${fmtShape(x.shape)}`);
}

/** [..., C·r², H, W] -> [..., C, H·r, W·r]: channel blocks become r×r pixel blocks. */
export function pixelShuffle(input: Tensor, upscaleFactor: number): Tensor {
  const op = 'pixelShuffle';
  checkShuffle(op, input, upscaleFactor);
  const r = upscaleFactor;
  const lead = input.shape.slice(0, -3);
  const [c, h, w] = input.shape.slice(-3);
  if (c % (r * r) !== 0) throw new ShapeError(`${op}: ${c} channels of ${fmtShape(input.shape)} are not divisible by the factor squared ${r * r}`);
  const n = lead.length;
  return input.reshape([...lead, c / (r * r), r, r, h, w])
    .permute([...lead.keys(), n, n + 3, n + 1, n + 4, n + 2])
    .reshape([...lead, c / (r * r), h * r, w * r]);
}

/** The inverse of pixelShuffle: [..., C, H·r, W·r] -> [..., C·r², H, W]. */
export function pixelUnshuffle(input: Tensor, downscaleFactor: number): Tensor {
  const op = 'pixelUnshuffle';
  checkShuffle(op, input, downscaleFactor);
  const r = downscaleFactor;
  const lead = input.shape.slice(0, -3);
  const [c, h, w] = input.shape.slice(-3);
  if (h % r !== 0 || w % r !== 0) throw new ShapeError(`${op}: spatial size ${h}×${w} of ${fmtShape(input.shape)} is not divisible by the factor ${r}`);
  const n = lead.length;
  return input.reshape([...lead, c, h / r, r, w / r, r])
    .permute([...lead.keys(), n, n + 2, n + 4, n + 1, n + 3])
    .reshape([...lead, c * r * r, h / r, w / r]);
}
