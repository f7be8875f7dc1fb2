// Composite ops, written with primitives so they trace, fuse and differentiate for free.
import { KilnError, ShapeError, fmtShape } from './core/errors.js';
import { checkChoice, checkNumber, checkShapeArg, describeValue } from './core/validate.js';
import { isGradEnabled, noGrad } from './autograd.js';
import { internalScope, keep as keepScope, tidy as tidyScope } from './tidy.js';
import { normalizeDim, normalizeDims, sizeOf } from './core/shape.js';
import { OPS } from './ops/index.js';
import { activeTracer, apply } from './dispatch.js';
import { Tensor, expectTensor, type Dims, type TensorLike } from './tensor.js';
import { full, rand, randn } from './creation.js';
import { padWithMode, type PadMode } from './padding.js';

export { fromTypedArray, typedOf, onesLike } from './creation.js';

const T = (x: TensorLike, like: Tensor, op: string) => like._scalar(x, op);
const isTensor = (x: unknown): x is Tensor => x instanceof Tensor;

/** tidy() with kiln's Tensor check: see src/tidy.ts. */
export function tidy<R>(fn: () => R): R {
  if (typeof fn !== 'function') throw new KilnError(`tidy: expected a function, got ${describeValue(fn)}`);
  if (fn.constructor?.name === 'AsyncFunction' || fn.constructor?.name === 'AsyncGeneratorFunction') {
    throw new KilnError('tidy: got an async function, but tidy() is synchronous: it frees tensors when the function returns, before an await resumes; call tidy() inside the async function around synchronous work');
  }
  return tidyScope(fn, isTensor);
}

/** Exempts a tensor from every enclosing tidy() (see src/tidy.ts). */
export function keep<T extends Tensor>(t: T): T { return keepScope(expectTensor('keep', 'the argument', t) as T); }

/**
 * Runs a composite's body; when no autograd graph will hold its intermediates (grad off, or no input
 * requires grad), they are freed as it returns instead of waiting for the garbage collector. When
 * autograd records, they are internal: freed once backward has consumed the nodes saving them.
 */
export function scoped(inputs: readonly (Tensor | null | undefined)[], body: () => Tensor): Tensor {
  if (activeTracer()) return body(); // traced values have no storage; compiled code plans its buffers
  const recording = isGradEnabled() && inputs.some((t) => t?.requiresGrad);
  return recording ? internalScope(body) : tidyScope(body, isTensor);
}

/** where(cond, a, b) with scalars allowed for a and b. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  expectTensor('where', 'the condition', cond);
  const base = a instanceof Tensor ? a : b instanceof Tensor ? b : cond;
  return apply(OPS.where, [cond, T(a, base, 'where'), T(b, base, 'where')]);
}

/** 1 / (1 + e^-x) */
export function sigmoid(x: Tensor): Tensor {
  return scoped([x], () => { return x.neg().exp().add(1).reciprocal(); });
}

/** max(x, 0) as one primitive: gradient 0 at 0 (ties send nothing through); NaN stays NaN, -0 gives +0. */
export function relu(x: Tensor): Tensor { return apply(OPS.relu, [x]); }

/** GELU: x·Φ(x) with the exact erf form, or the tanh approximation. */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  checkChoice('gelu', 'approximate', approximate, ['none', 'tanh']);
  return scoped([x], () => {
    if (approximate === 'tanh') {
      // 0.5·x·(1 + tanh(u)) written as x / (1 + e^(-2u)) (the same function: 0.5(1 + tanh u) = σ(2u)):
      // one exp and a division fuse into fewer vector ops than tanh. Saturates correctly: e^(-2u) -> ∞
      // gives -0 for large negative x, -> 0 gives x.
      const u2 = x.add(x.mul(x).mul(x).mul(0.044715)).mul(-2 * Math.sqrt(2 / Math.PI));
      return x.div(u2.exp().add(1));
    }
    return x.mul(0.5).mul(x.mul(Math.SQRT1_2).erf().add(1));
  });
}

/** x·sigmoid(x) */
export function silu(x: Tensor): Tensor {
  return scoped([x], () => { return x.mul(sigmoid(x)); });
}

/**
 * log(1 + x), accurate for tiny x where 1 + x rounds to 1 (Goldberg's form: log(w)·x/(w - 1) with
 * w = 1 + x cancels the rounding of w). Written with primitives, so it fuses and differentiates.
 */
export function log1p(x: Tensor): Tensor {
  return scoped([x], () => {
    const w = x.add(1);
    const exact = w.eq(1);
    // The denominator is 1 where w == 1, so the unused branch (and its gradient) stays finite.
    const d = w.sub(1).where(exact.logicalNot(), 1);
    return x.where(exact, w.log().mul(x.div(d)));
  });
}

/** log(1 + e^(βx))/β, linear above `threshold` as in PyTorch; stable for large |x| of either sign. */
export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  checkNumber('softplus', 'beta', beta);
  checkNumber('softplus', 'threshold', threshold);
  return scoped([x], () => {
    const bx = x.mul(beta);
    // log(1+e^z) = max(z,0) + log1p(e^-|z|): no overflow above, and no 1 + tiny rounding to 1 below.
    const soft = bx.maximum(0).add(log1p(bx.abs().neg().exp())).div(beta);
    return x.where(bx.gt(threshold), soft);
  });
}

/** Clamps to [min, max]; the gradient is 1 inside the closed interval. */
export function clamp(x: Tensor, min?: number | null, max?: number | null): Tensor {
  if (min !== undefined && min !== null) checkNumber('clamp', 'min', min, { allowNaN: true });
  if (max !== undefined && max !== null) checkNumber('clamp', 'max', max, { allowNaN: true });
  let out = x;
  // Compare so that NaN takes the `out` branch: NaN propagates, as in torch.clamp.
  if (min !== undefined && min !== null) out = out.where(out.lt(min).logicalNot(), min);
  if (max !== undefined && max !== null) out = out.where(out.gt(max).logicalNot(), max);
  return out;
}

/** argmax/argmin over a dim, or over the flattened tensor. */
export function argReduce(x: Tensor, which: 'argmax' | 'argmin', dim: number | undefined | null, keepdim: boolean): Tensor {
  checkKeepdim(which, keepdim);
  if (dim === undefined || dim === null) {
    if (x.size === 0) throw new ShapeError(`${which}: cannot take ${which} of an empty tensor ${fmtShape(x.shape)}`);
    const r = apply(OPS[which], [x.reshape([-1])], { dims: [0], keepdim: false });
    return keepdim ? r.reshape(x.shape.map(() => 1)) : r;
  }
  return apply(OPS[which], [x], { dims: [normalizeDim(which, dim, x.ndim)], keepdim });
}

/** keepdim must be a boolean (a dim passed in its place is a common slip). */
export function checkKeepdim(op: string, keepdim: unknown): void {
  if (typeof keepdim !== 'boolean') throw new KilnError(`${op}: keepdim must be true or false, got ${describeValue(keepdim)}`);
}

function countOf(x: Tensor, dims: readonly number[]): number {
  return sizeOf(dims.map((d) => x.shape[d]));
}

/** The row max, detached, as a stability shift (none over an empty dim, which has no max). */
function shiftOf(x: Tensor, dims: readonly number[]): Tensor | null {
  // Without a graph: the shift is a constant of the gradient, and nothing keeps the max's node alive.
  return countOf(x, dims) === 0 ? null : noGrad(() => x.amax(dims, true));
}

/** Mean (ints are averaged as floats). */
export function mean(x: Tensor, dim?: Dims, keepdim = false, name = 'mean'): Tensor {
  checkKeepdim(name, keepdim);
  const dims = normalizeDims(name, dim, x.ndim);
  const xf = x.dtype === 'float32' ? x : x.to('float32');
  return xf.sum(dims, keepdim).div(countOf(x, dims));
}

/** Variance with `correction` (1 = Bessel's, unbiased; 0 = population). */
export function variance(x: Tensor, dim?: Dims, keepdim = false, correction = 1, name = 'var'): Tensor {
  checkKeepdim(name, keepdim);
  checkNumber(name, 'correction', correction, { finite: true });
  return scoped([x], () => {
    const dims = normalizeDims(name, dim, x.ndim);
    const xf = x.dtype === 'float32' ? x : x.to('float32');
    const n = countOf(x, dims);
    const centered = xf.sub(mean(xf, dims, true, name));
    return centered.mul(centered).sum(dims, keepdim).div(Math.max(n - correction, 0));
  });
}

/** log Σ exp(x), shifted by the (detached) max for stability; -inf over an empty dim. */
export function logsumexp(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  checkKeepdim('logsumexp', keepdim);
  return scoped([x], () => {
    const dims = normalizeDims('logsumexp', dim, x.ndim);
    const m = shiftOf(x, dims);
    if (!m) return x.exp().sum(dims, keepdim).log();
    const safe = m.where(m.abs().ne(Infinity), 0);
    const out = x.sub(safe).exp().sum(dims, true).log().add(safe);
    return keepdim ? out : out.squeeze(dims);
  });
}

/** softmax along `dim`. */
export function softmax(x: Tensor, dim = -1): Tensor {
  return scoped([x], () => {
    const d = normalizeDims('softmax', dim, x.ndim);
    const m = shiftOf(x, d);
    const e = (m ? x.sub(m) : x).exp();
    return e.div(e.sum(d, true));
  });
}

/** log-softmax along `dim`. */
export function logSoftmax(x: Tensor, dim = -1): Tensor {
  return scoped([x], () => {
    const d = normalizeDims('logSoftmax', dim, x.ndim);
    const m = shiftOf(x, d);
    const shifted = m ? x.sub(m) : x;
    return shifted.sub(shifted.exp().sum(d, true).log());
  });
}

/** Layer normalisation over the trailing `normalizedShape` dims, with optional affine weight and bias. */
export function layerNorm(x: Tensor, normalizedShape: readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  expectTensor('layerNorm', 'the input', x);
  checkShapeArg('layerNorm', normalizedShape);
  if (weight !== undefined && weight !== null) expectTensor('layerNorm', 'the weight', weight);
  if (bias !== undefined && bias !== null) expectTensor('layerNorm', 'the bias', bias);
  checkNumber('layerNorm', 'eps', eps, { finite: true });
  return scoped([x, weight, bias], () => {
    const k = normalizedShape.length;
    const tail = x.shape.slice(x.ndim - k);
    if (k > x.ndim || tail.some((d, i) => d !== normalizedShape[i])) {
      throw new ShapeError(`layerNorm: normalizedShape ${fmtShape(normalizedShape)} does not match the trailing dims of input ${fmtShape(x.shape)}`);
    }
    const dims = normalizedShape.map((_, i) => x.ndim - k + i);
    const mu = x.mean(dims, true);
    const c = x.sub(mu);
    const v = c.mul(c).mean(dims, true);
    let y = c.mul(v.add(eps).rsqrt());
    if (weight) y = y.mul(weight);
    if (bias) y = y.add(bias);
    return y;
  });
}

/** torch.matmul: 1-D operands are promoted to matrices and the added dims removed. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  expectTensor('matmul', 'the first operand', a);
  expectTensor('matmul', 'the second operand', b);
  if (a.ndim === 0 || b.ndim === 0) throw new ShapeError(`matmul: both operands need at least 1 dim, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  const a2 = a.ndim === 1 ? a.unsqueeze(0) : a;
  const b2 = b.ndim === 1 ? b.unsqueeze(1) : b;
  let out = apply(OPS.matmul, [a2, b2]);
  if (a.ndim === 1) out = out.squeeze(-2);
  if (b.ndim === 1) out = out.squeeze(-1);
  return out;
}

/** One bound of a slice spec: an integer, or null/undefined for "none" (as Python's None). */
function sliceBound(v: unknown, d: number, which: string): number | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ShapeError(`slice: the ${which} of dim ${d} must be an integer or null, got ${describeValue(v)}`);
  return v;
}

/** Python-style per-dim slicing (see Tensor.slice). */
export function sliceTensor(x: Tensor, specs: readonly (readonly [(number | null)?, (number | null)?, (number | null)?] | null)[]): Tensor {
  if (!Array.isArray(specs)) throw new ShapeError(`slice: expected one [start, end, step] range (or null) per dim, got ${describeValue(specs)}`);
  const starts: number[] = [], ends: number[] = [], steps: number[] = [];
  const flips: number[] = [];
  x.shape.forEach((n, d) => {
    const spec: unknown = specs[d];
    if (spec !== null && spec !== undefined && (!Array.isArray(spec) || spec.length > 3)) {
      throw new ShapeError(`slice: the range for dim ${d} must be [start, end, step] (each an integer or null) or null, got ${describeValue(spec)}`);
    }
    const triple = (spec ?? []) as readonly unknown[];
    const s0 = sliceBound(triple[0], d, 'start'), e0 = sliceBound(triple[1], d, 'end');
    const st = sliceBound(triple[2], d, 'step') ?? 1;
    if (st === 0) throw new ShapeError(`slice: step must be a non-zero integer, got ${st} for dim ${d}`);
    const norm = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + n : v, lo), hi);
    if (st > 0) {
      const s = s0 === undefined ? 0 : norm(s0, 0, n);
      const e = e0 === undefined ? n : norm(e0, 0, n);
      starts.push(s); ends.push(Math.max(s, e)); steps.push(st);
    } else {
      // A backwards walk from s down to e (exclusive) is a forward walk over the flipped dim.
      const s = s0 === undefined ? n - 1 : norm(s0, -1, n - 1);
      const e = e0 === undefined ? -1 : norm(e0, -1, n - 1);
      flips.push(d);
      const fs = n - 1 - s, fe = n - 1 - e;
      starts.push(fs); ends.push(Math.max(fs, fe)); steps.push(-st);
    }
  });
  const base = flips.length ? x.flip(flips) : x;
  if (starts.every((s) => s === 0) && ends.every((e, d) => e === x.shape[d]) && steps.every((s) => s === 1)) return base;
  return apply(OPS.slice, [base], { starts, ends, steps });
}

/**
 * Pads by per-dim [before, after] pairs, or torch's flat list (last dim first), with `value` (default
 * 0), or in a mode: `'reflect'`, `'replicate'`, `'circular'`, or `{ mode, value }`.
 */
export function pad(x: Tensor, pads: readonly (readonly [number, number])[] | readonly number[], options: number | PadMode | { mode?: PadMode; value?: number } = 0): Tensor {
  if (!Array.isArray(pads)) throw new ShapeError(`pad: padding must be [before, after] pairs per dim or torch's flat list, got ${describeValue(pads)}`);
  if (options === null || (typeof options !== 'number' && typeof options !== 'string' && typeof options !== 'object')) {
    throw new KilnError(`pad: expected a fill value, a mode or { mode, value }, got ${describeValue(options)}`);
  }
  const { mode = 'constant', value = 0 } = typeof options === 'number' ? { value: options } : typeof options === 'string' ? { mode: options } : options;
  checkNumber('pad', 'the fill value', value, { allowNaN: true });
  let pairs: [number, number][];
  if (pads.length > 0 && typeof pads[0] === 'number') {
    const flat = pads as readonly number[];
    if (flat.length % 2 !== 0 || flat.length / 2 > x.ndim) throw new ShapeError(`pad: flat padding ${JSON.stringify(flat)} must have an even length of at most ${2 * x.ndim}`);
    pairs = x.shape.map(() => [0, 0]);
    for (let i = 0; i < flat.length / 2; i++) pairs[x.ndim - 1 - i] = [flat[2 * i], flat[2 * i + 1]];
  } else {
    pairs = (pads as readonly (readonly [number, number])[]).map((p, i) => {
      if (!Array.isArray(p) || p.length !== 2) throw new ShapeError(`pad: entry ${i} must be a [before, after] pair, got ${describeValue(p)}`);
      return [p[0], p[1]];
    });
    if (pairs.length !== x.ndim) throw new ShapeError(`pad: ${pairs.length} [before, after] pairs given for a tensor of rank ${x.ndim} ${fmtShape(x.shape)}`);
  }
  if (mode !== 'constant') {
    if (mode !== 'reflect' && mode !== 'replicate' && mode !== 'circular') throw new KilnError(`pad: unknown mode '${mode}' (expected 'constant', 'reflect', 'replicate' or 'circular')`);
    return padWithMode(x, pairs, mode);
  }
  if (value === 0) return apply(OPS.pad, [x], { pads: pairs });
  return scoped([x], () => {
    const out = apply(OPS.pad, [x], { pads: pairs });
    // A broadcast scalar: the mask of the padding reads no memory.
    const inside = apply(OPS.pad, [full([], true, { backend: x.backend }).expand(x.shape)], { pads: pairs });
    return out.where(inside, value);
  });
}

/** A list argument of tensors, each checked. */
function tensorList(op: string, tensors: unknown): readonly Tensor[] {
  if (!Array.isArray(tensors)) throw new KilnError(`${op}: expected an array of tensors, got ${describeValue(tensors)}`);
  if (tensors.length === 0) throw new KilnError(`${op}: expected a non-empty list of tensors`);
  tensors.forEach((t, i) => expectTensor(op, `element ${i} of the list`, t));
  return tensors as readonly Tensor[];
}

/** Concatenates along `dim` (as pads and adds, so it fuses and differentiates like any composite). */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  tensorList('cat', tensors);
  return scoped([...tensors], () => {
    const ref = tensors[0];
    const d = normalizeDim('cat', dim, ref.ndim);
    tensors.forEach((t, i) => {
      if (t.ndim !== ref.ndim || t.shape.some((s, j) => j !== d && s !== ref.shape[j])) {
        throw new ShapeError(`cat: tensor ${i} has shape ${fmtShape(t.shape)}, expected ${fmtShape(ref.shape.map((s, j) => (j === d ? -1 : s)))} (all dims but ${d} must match)`);
      }
    });
    if (tensors.length === 1) return tensors[0];
    const total = tensors.reduce((s, t) => s + t.shape[d], 0);
    let offset = 0;
    let out: Tensor | null = null;
    for (const t of tensors) {
      const pads = t.shape.map((_, j): [number, number] => (j === d ? [offset, total - offset - t.shape[d]] : [0, 0]));
      offset += t.shape[d];
      const p = apply(OPS.pad, [t], { pads });
      out = out ? out.add(p) : p;
    }
    return out!;
  });
}

/** Stacks equal-shaped tensors along a new dim. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  tensorList('stack', tensors);
  const d = normalizeDim('stack', dim, tensors[0].ndim + 1);
  tensors.forEach((t, i) => {
    if (t.ndim !== tensors[0].ndim || t.shape.some((s, j) => s !== tensors[0].shape[j])) {
      throw new ShapeError(`stack: tensor ${i} has shape ${fmtShape(t.shape)}, expected ${fmtShape(tensors[0].shape)}`);
    }
  });
  return cat(tensors.map((t) => t.unsqueeze(d)), d);
}

/** Splits into chunks of `size`, or of the listed sizes, along `dim` (views). */
export function split(x: Tensor, size: number | readonly number[], dim = 0): Tensor[] {
  const d = normalizeDim('split', dim, x.ndim);
  const n = x.shape[d];
  let sizes: number[];
  if (typeof size !== 'number' && !Array.isArray(size)) throw new ShapeError(`split: size must be a chunk size or a list of sizes, got ${describeValue(size)}`);
  if (typeof size === 'number') {
    if (!Number.isInteger(size) || size <= 0) throw new ShapeError(`split: chunk size must be a positive integer, got ${size}`);
    sizes = n === 0 ? [0] : []; // an empty dim splits into one empty chunk, as in torch
    for (let s = 0; s < n; s += size) sizes.push(Math.min(size, n - s));
  } else {
    sizes = checkShapeArg('split', size);
    const sum = sizes.reduce((a, b) => a + b, 0);
    if (sum !== n) throw new ShapeError(`split: sizes ${fmtShape(sizes)} sum to ${sum}, but dim ${dim} of ${fmtShape(x.shape)} has ${n}`);
  }
  let start = 0;
  return sizes.map((s) => {
    const part = x.narrow(d, start, s);
    start += s;
    return part;
  });
}

/** Embedding lookup: rows of `weight` picked by integer `indices` (any shape). */
export function embedding(indices: Tensor, weight: Tensor): Tensor {
  expectTensor('embedding', 'the indices', indices);
  expectTensor('embedding', 'the weight', weight);
  if (weight.ndim !== 2) throw new ShapeError(`embedding: weight must be 2-D [num, dim], got ${fmtShape(weight.shape)}`);
  const flat = indices.reshape([-1]);
  return apply(OPS.indexSelect, [weight, flat], { axis: 0, op: 'embedding' }).reshape([...indices.shape, weight.shape[1]]);
}

/** Dropout: zeroes with probability p and rescales the rest (identity when not training). */
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new KilnError(`dropout: probability must be a number in [0, 1], got ${describeValue(p)}`);
  if (!training || p === 0) return x;
  if (p === 1) return x.mul(0);
  const keep = rand(x.shape, { backend: x.backend }).ge(p).to('float32');
  return x.mul(keep).div(1 - p);
}

/** Channel dropout: zeroes whole channels of [N, C, ...] (or [C, ...] with `batched` false) with probability p while training. */
export function dropout2d(x: Tensor, p = 0.5, training = true, batched?: boolean): Tensor {
  expectTensor('dropout2d', 'the input', x);
  checkNumber('dropout2d', 'the probability', p);
  if (p < 0 || p > 1) throw new KilnError(`dropout2d: probability must be in [0, 1], got ${p}`);
  const lead = batched ?? x.ndim !== 3 ? 2 : 1;
  if (x.ndim < lead) throw new ShapeError(`dropout2d: expected an input [N, C, H, W] or [C, H, W], got ${fmtShape(x.shape)}`);
  if (!training || p === 0) return x;
  if (p === 1) return x.mul(0);
  const keep = rand([...x.shape.slice(0, lead), ...x.shape.slice(lead).map(() => 1)], { backend: x.backend }).ge(p).to('float32');
  return x.mul(keep).div(1 - p);
}

/** A standard-normal trainable parameter. */
export function randnParam(shape: readonly number[]): Tensor {
  return randn(shape).requiresGrad_(true);
}
