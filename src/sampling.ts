// Random sampling from kiln's generator (manualSeed makes it repeatable). Draws go through rand(), so
// inside compile() they are graph nodes and every replay draws fresh numbers.
import type { BackendName } from './core/backend.js';
import type { DType } from './core/dtype.js';
import { checkDType } from './core/dtype.js';
import { DTypeError, KilnError, ShapeError, fmtShape } from './core/errors.js';
import { full, rand } from './creation.js';
import { cumsum } from './scan.js';
import { argsort, topk } from './sorting.js';
import { readable } from './tensor-ops.js';
import { expectTensor, type Tensor } from './tensor.js';

export interface MultinomialOptions {
  /** Draw with replacement (default false: each category at most once per row). */
  replacement?: boolean;
}

function checkWeights(probs: Tensor, numSamples: number, replacement: boolean): void {
  const rows = probs.ndim === 1 ? 1 : probs.shape[0];
  const n = probs.shape[probs.ndim - 1];
  const data = probs.data();
  for (let r = 0; r < rows; r++) {
    let sum = 0, positive = 0;
    for (let i = 0; i < n; i++) {
      const w = data[r * n + i];
      if (!(w >= 0) || w === Infinity) throw new KilnError(`multinomial: weights must be finite and non-negative, got ${w} in row ${r}`);
      sum += w;
      if (w > 0) positive++;
    }
    if (!(sum > 0)) throw new KilnError(`multinomial: the weights of row ${r} sum to 0`);
    if (!replacement && positive < numSamples) {
      throw new KilnError(`multinomial: cannot draw ${numSamples} samples without replacement from row ${r}, which has ${positive} non-zero weight(s)`);
    }
  }
}

/**
 * Draws `numSamples` category indices per row of non-negative weights [n] or [rows, n] (int32).
 * With replacement: inverse CDF of one uniform draw per sample. Without: the Gumbel top-k trick (the
 * k largest of log w − log(−log u)), which draws categories one after another without putting any back.
 */
export function multinomial(probs: Tensor, numSamples: number, o: MultinomialOptions = {}): Tensor {
  expectTensor('multinomial', 'the weights', probs);
  const { replacement = false } = o;
  if (probs.ndim !== 1 && probs.ndim !== 2) throw new ShapeError(`multinomial: weights must be 1-D or 2-D, got ${fmtShape(probs.shape)}`);
  if (probs.dtype !== 'float32') throw new DTypeError(`multinomial: weights must be float32, got ${probs.dtype}`);
  const n = probs.shape[probs.ndim - 1];
  if (!Number.isInteger(numSamples) || numSamples < 1) throw new KilnError(`multinomial: numSamples must be a positive integer, got ${numSamples}`);
  if (n === 0) throw new ShapeError(`multinomial: no categories to draw from (${fmtShape(probs.shape)})`);
  if (!replacement && numSamples > n) throw new KilnError(`multinomial: cannot draw ${numSamples} samples without replacement from ${n} categories`);
  if (readable(probs)) checkWeights(probs, numSamples, replacement);
  const lead = probs.shape.slice(0, -1);
  if (replacement) {
    const cdf = cumsum(probs, -1); // [..., n]
    const total = cdf.narrow(-1, n - 1, 1); // [..., 1]
    const u = rand([...lead, numSamples, 1], { backend: probs.backend }).mul(total.unsqueeze(-1)); // [..., s, 1]
    // The sample is the number of categories whose cumulative weight is <= u (zero weights never win).
    const count = cdf.unsqueeze(-2).le(u).to('int32').sum(-1);
    return count.minimum(n - 1);
  }
  const u = rand(probs.shape, { backend: probs.backend });
  const gumbel = u.log().neg().log().neg();
  return topk(probs.log().add(gumbel), numSamples, { dim: -1 }).indices;
}

export interface RandpermOptions {
  /** int32 (default) or float32. */
  dtype?: DType;
  backend?: BackendName;
}

/** A random permutation of 0..n-1: the order that sorts n uniform draws. */
export function randperm(n: number, o: RandpermOptions = {}): Tensor {
  if (!Number.isInteger(n) || n < 0) throw new KilnError(`randperm: n must be a non-negative integer, got ${n}`);
  const dtype = o.dtype === undefined ? 'int32' : checkDType('randperm', o.dtype);
  const perm = argsort(rand([n], { backend: o.backend }));
  return dtype === 'int32' ? perm : perm.to(dtype);
}

export interface EmptyOptions {
  dtype?: DType;
  backend?: BackendName;
  requiresGrad?: boolean;
}

/** The options with defaults filled in; options that are not an object go to full() as they are, to be refused there. */
function withDType(o: EmptyOptions | null | undefined, dtype: DType, backend?: BackendName): EmptyOptions {
  if (o === undefined || o === null) return { dtype, backend };
  return typeof o === 'object' ? { ...o, dtype: o.dtype ?? dtype, backend: o.backend ?? backend } : o;
}

/** A tensor of `shape` whose values are to be written (kiln fills it with zeros). */
export function empty(shape: readonly number[], o: EmptyOptions = {}): Tensor {
  return full(shape, 0, withDType(o, 'float32'), 'empty');
}

/** empty() with the shape, dtype and backend of `t`. */
export function emptyLike(t: Tensor, o: EmptyOptions = {}): Tensor {
  expectTensor('emptyLike', 'the input', t);
  return full(t.shape, 0, withDType(o, t.dtype, t.backend), 'emptyLike');
}
