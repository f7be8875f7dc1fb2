// torch.nn.init: fills a tensor in place (without recording gradients) from kiln's generator, so
// manualSeed makes initialisation repeatable. Each returns the tensor, as torch's do.
import { noGrad } from '../autograd.js';
import { KilnError, ShapeError, fmtShape } from '../core/errors.js';
import { sizeOf } from '../core/shape.js';
import { full, rand, randn, tensor } from '../creation.js';
import { SCALAR_HELPERS } from '../ops/scalar.js';
import { uniform } from '../random.js';
import { describeValue } from '../core/validate.js';
import { Tensor, expectTensor } from '../tensor.js';

export type Nonlinearity =
  | 'linear' | 'identity' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'leakyRelu' | 'selu'
  | 'conv1d' | 'conv2d' | 'conv3d' | 'conv_transpose1d' | 'conv_transpose2d' | 'conv_transpose3d'
  | 'convTranspose1d' | 'convTranspose2d' | 'convTranspose3d';

const LINEAR_LIKE = new Set(['linear', 'identity', 'sigmoid', 'conv1d', 'conv2d', 'conv3d', 'conv_transpose1d', 'conv_transpose2d',
  'conv_transpose3d', 'convTranspose1d', 'convTranspose2d', 'convTranspose3d']);

/** The recommended gain for a nonlinearity (param: leaky ReLU's negative slope, default 0.01). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  if (LINEAR_LIKE.has(nonlinearity)) return 1;
  switch (nonlinearity) {
    case 'tanh': return 5 / 3;
    case 'relu': return Math.SQRT2;
    case 'leaky_relu': case 'leakyRelu': {
      const slope = param ?? 0.01;
      if (typeof slope !== 'number' || !Number.isFinite(slope)) throw new KilnError(`calculateGain: negative slope ${String(param)} is not a valid number`);
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu': return 3 / 4;
    default: throw new KilnError(`calculateGain: unsupported nonlinearity ${JSON.stringify(nonlinearity)}`);
  }
}

function checkTensor(op: string, t: unknown): asserts t is Tensor {
  if (!(t instanceof Tensor)) throw new KilnError(`${op}: expected a tensor to fill, got ${describeValue(t)}`);
  if (t.dtype !== 'float32') throw new KilnError(`${op}: can only fill float32 tensors, got ${t.dtype}`);
}

/** Writes `values` (same shape, any backend) into t without recording gradients. */
function fill(t: Tensor, values: Tensor): Tensor {
  noGrad(() => t.copy_(values.backend === t.backend ? values : values.to(t.backend)));
  return t;
}

/** A number argument, or the named field of an options object. */
function arg<O extends object>(v: number | O | undefined | null, key: keyof O, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'number') return v;
  const x = v[key];
  return x === undefined ? dflt : x as number;
}

/** U(a, b). */
export function uniform_(t: Tensor, a: number | { a?: number; b?: number } = 0, b = 1): Tensor {
  checkTensor('uniform_', t);
  const lo = arg(a, 'a', 0), hi = typeof a === 'object' ? arg(a, 'b', 1) : b;
  if (!(lo <= hi)) throw new KilnError(`uniform_: expected a <= b, got a = ${lo}, b = ${hi}`);
  return fill(t, rand(t.shape, { backend: t.backend }).mul(hi - lo).add(lo));
}

/** N(mean, std²). */
export function normal_(t: Tensor, mean: number | { mean?: number; std?: number } = 0, std = 1): Tensor {
  checkTensor('normal_', t);
  const m = arg(mean, 'mean', 0), s = typeof mean === 'object' ? arg(mean, 'std', 1) : std;
  if (!(s >= 0)) throw new KilnError(`normal_: std must be non-negative, got ${s}`);
  return fill(t, randn(t.shape, { backend: t.backend }).mul(s).add(m));
}

/** Every element `value`. */
export function constant_(t: Tensor, value: number): Tensor {
  checkTensor('constant_', t);
  if (typeof value !== 'number') throw new KilnError(`constant_: value must be a number, got ${typeof value}`);
  return fill(t, full(t.shape, value, { dtype: 'float32', backend: t.backend }));
}

export function zeros_(t: Tensor): Tensor { checkTensor('zeros_', t); return constant_(t, 0); }
export function ones_(t: Tensor): Tensor { checkTensor('ones_', t); return constant_(t, 1); }

/** Fan-in and fan-out of a weight [out, in, ...kernel], as torch computes them. */
export function calculateFans(op: string, t: Tensor): { fanIn: number; fanOut: number } {
  if (typeof op !== 'string') throw new KilnError(`calculateFans: the first argument is the name of the op asking (for messages), got ${describeValue(op)}`);
  expectTensor('calculateFans', 'the tensor', t);
  if (t.ndim < 2) throw new ShapeError(`${op}: fan in and fan out need a tensor of at least 2 dims, got ${fmtShape(t.shape)}`);
  const receptive = sizeOf(t.shape.slice(2));
  return { fanIn: t.shape[1] * receptive, fanOut: t.shape[0] * receptive };
}

/** Glorot uniform: U(−a, a), a = gain·√(6 / (fanIn + fanOut)). */
export function xavierUniform_(t: Tensor, gain: number | { gain?: number } = 1): Tensor {
  checkTensor('xavierUniform_', t);
  const { fanIn, fanOut } = calculateFans('xavierUniform_', t);
  const bound = arg(gain, 'gain', 1) * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -bound, bound);
}

/** Glorot normal: N(0, std²), std = gain·√(2 / (fanIn + fanOut)). */
export function xavierNormal_(t: Tensor, gain: number | { gain?: number } = 1): Tensor {
  checkTensor('xavierNormal_', t);
  const { fanIn, fanOut } = calculateFans('xavierNormal_', t);
  return normal_(t, 0, arg(gain, 'gain', 1) * Math.sqrt(2 / (fanIn + fanOut)));
}

export interface KaimingOptions {
  /** Negative slope of the leaky ReLU that follows (used with 'leaky_relu'). Default 0. */
  a?: number;
  /** Preserve the variance of the forward pass ('fanIn', default) or of the backward pass ('fanOut'). */
  mode?: 'fanIn' | 'fanOut' | 'fan_in' | 'fan_out';
  /** Default 'leaky_relu'. */
  nonlinearity?: Nonlinearity;
}

function kaimingStd(op: string, t: Tensor, o: number | KaimingOptions): number {
  const { a = 0, mode = 'fanIn', nonlinearity = 'leaky_relu' } = typeof o === 'number' ? { a: o } : o ?? {};
  if (!['fanIn', 'fanOut', 'fan_in', 'fan_out'].includes(mode)) throw new KilnError(`${op}: mode must be 'fanIn' or 'fanOut', got ${JSON.stringify(mode)}`);
  const { fanIn, fanOut } = calculateFans(op, t);
  const fan = mode === 'fanIn' || mode === 'fan_in' ? fanIn : fanOut;
  if (fan === 0) throw new ShapeError(`${op}: cannot initialise a tensor with a zero fan ${fmtShape(t.shape)}`);
  return calculateGain(nonlinearity, a) / Math.sqrt(fan);
}

/** He uniform: U(−b, b), b = gain·√(3 / fan). */
export function kaimingUniform_(t: Tensor, o: number | KaimingOptions = {}): Tensor {
  checkTensor('kaimingUniform_', t);
  const bound = Math.sqrt(3) * kaimingStd('kaimingUniform_', t, o);
  return uniform_(t, -bound, bound);
}

/** He normal: N(0, std²), std = gain / √fan. */
export function kaimingNormal_(t: Tensor, o: number | KaimingOptions = {}): Tensor {
  checkTensor('kaimingNormal_', t);
  return normal_(t, 0, kaimingStd('kaimingNormal_', t, o));
}

export interface TruncNormalOptions {
  mean?: number;
  std?: number;
  /** Lowest value (absolute, not in stds), default -2. */
  a?: number;
  /** Highest value, default 2. */
  b?: number;
}

/** Φ⁻¹(p) for 0 < p < 1: Acklam's rational approximation (relative error < 1.2e-9). */
function normalQuantile(p: number): number {
  const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5, r = q * q;
  return (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1);
}

/**
 * N(mean, std²) truncated to [a, b] (absolute bounds, as torch): uniform draws mapped through the
 * normal CDF's inverse between Φ((a − mean)/std) and Φ((b − mean)/std), then clamped.
 */
export function truncNormal_(t: Tensor, mean: number | TruncNormalOptions = 0, std = 1, a = -2, b = 2): Tensor {
  checkTensor('truncNormal_', t);
  const o: TruncNormalOptions = typeof mean === 'object' ? mean ?? {} : { mean, std, a, b };
  const { mean: m = 0, std: s = 1, a: lo = -2, b: hi = 2 } = o;
  if (!(s > 0) || !(lo < hi)) throw new KilnError(`truncNormal_: expected std > 0 and a < b, got std ${s}, a ${lo}, b ${hi}`);
  const cdf = (x: number) => 0.5 * (1 + SCALAR_HELPERS.erf(x / Math.SQRT2));
  const [pl, ph] = [cdf((lo - m) / s), cdf((hi - m) / s)];
  const n = t.size;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const p = Math.min(Math.max(pl + (ph - pl) * uniform(), 1e-12), 1 - 1e-12);
    data[i] = Math.min(Math.max(m + s * normalQuantile(p), lo), hi);
  }
  return fill(t, tensor(data, { shape: t.shape, backend: t.backend }));
}

/** torch's name for truncNormal_. */
export const trunc_normal_ = truncNormal_;
