// torch.utils.data for kiln: datasets (anything with a length and get(i), or a plain array),
// TensorDataset, Subset and randomSplit, and a DataLoader that batches, shuffles with kiln's
// generator (so manualSeed makes an epoch's order repeatable) and collates samples into tensors.
import { getBackend } from '../core/backend.js';
import { KilnError, ShapeError, fmtShape } from '../core/errors.js';
import { describeValue } from '../core/validate.js';
import { fromTypedArray, tensor } from '../creation.js';
import { stack } from '../functional.js';
import { uniform } from '../random.js';
import { Tensor } from '../tensor.js';
import { typedArrayFor } from '../core/dtype.js';

/** A map-style dataset: a length and the sample at an index (torch's __len__ and __getitem__). */
export interface Dataset<T> {
  readonly length: number;
  get(index: number): T;
}

/** What the data utilities accept as a dataset: a Dataset or a plain array of samples. */
export type DatasetLike<T> = Dataset<T> | readonly T[];

function asDataset<T>(op: string, d: DatasetLike<T>): Dataset<T> {
  if (Array.isArray(d)) return { length: d.length, get: (i) => d[i] };
  const ds = d as Dataset<T>;
  if (!ds || typeof ds.get !== 'function' || !Number.isInteger(ds.length) || ds.length < 0) {
    throw new KilnError(`${op}: expected a dataset (an object with length and get(index)) or an array`);
  }
  return ds;
}

/** Samples are the i-th slices (along dim 0) of each tensor, as torch's TensorDataset. */
export class TensorDataset implements Dataset<Tensor[]> {
  readonly tensors: readonly Tensor[];
  constructor(...tensors: Tensor[]) {
    if (tensors.length === 0) throw new KilnError('TensorDataset: expected at least one tensor');
    tensors.forEach((t, i) => {
      if (!(t instanceof Tensor)) throw new KilnError(`TensorDataset: argument ${i} is not a Tensor`);
      if (t.ndim === 0) throw new ShapeError(`TensorDataset: tensor ${i} is 0-d; samples are taken along dim 0`);
      if (t.shape[0] !== tensors[0].shape[0]) {
        throw new ShapeError(`TensorDataset: size mismatch between tensors: tensor ${i} has ${t.shape[0]} samples ${fmtShape(t.shape)}, tensor 0 has ${tensors[0].shape[0]} ${fmtShape(tensors[0].shape)}`);
      }
    });
    this.tensors = tensors;
  }
  get length(): number { return this.tensors[0].shape[0]; }
  get(index: number): Tensor[] {
    const i = checkIndex('TensorDataset', index, this.length);
    return this.tensors.map((t) => t.narrow(0, i, 1).reshape(t.shape.slice(1)));
  }
}

function checkIndex(op: string, index: number, n: number): number {
  if (!Number.isInteger(index) || index < -n || index >= n) throw new KilnError(`${op}: index ${index} is out of range for ${n} samples`);
  return index < 0 ? index + n : index;
}

/** The samples of `dataset` at `indices`, as torch's Subset. */
export class Subset<T> implements Dataset<T> {
  readonly dataset: Dataset<T>;
  readonly indices: readonly number[];
  constructor(dataset: DatasetLike<T>, indices: readonly number[]) {
    this.dataset = asDataset('Subset', dataset);
    if (!Array.isArray(indices)) throw new KilnError(`Subset: indices must be an array of integers, got ${describeValue(indices)}`);
    indices.forEach((i) => checkIndex('Subset', i, this.dataset.length));
    this.indices = [...indices];
  }
  get length(): number { return this.indices.length; }
  get(index: number): T { return this.dataset.get(this.indices[checkIndex('Subset', index, this.indices.length)]); }
}

/** A random permutation of 0..n-1 from kiln's generator (Fisher–Yates). */
export function randpermIndices(n: number): number[] {
  if (!Number.isInteger(n) || n < 0) throw new KilnError(`randpermIndices: n must be a non-negative integer, got ${describeValue(n)}`);
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(uniform() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * Splits a dataset into non-overlapping random subsets of the given lengths, or fractions summing to 1
 * (the remainder goes round-robin to the first subsets), as torch's random_split.
 */
export function randomSplit<T>(dataset: DatasetLike<T>, lengths: readonly number[]): Subset<T>[] {
  const ds = asDataset('randomSplit', dataset);
  const n = ds.length;
  if (!Array.isArray(lengths) || lengths.length === 0) throw new KilnError('randomSplit: lengths must be a non-empty list');
  let sizes = [...lengths];
  const sum = sizes.reduce((a, b) => a + b, 0);
  if (sizes.every((x) => x >= 0 && x <= 1) && Math.abs(sum - 1) < 1e-9 && !(sum === n && sizes.every(Number.isInteger))) {
    sizes = sizes.map((f) => Math.floor(n * f));
    const rest = n - sizes.reduce((a, b) => a + b, 0);
    for (let i = 0; i < rest; i++) sizes[i % sizes.length]++;
  }
  if (sizes.some((x) => !Number.isInteger(x) || x < 0)) throw new KilnError(`randomSplit: lengths must be non-negative integers or fractions summing to 1, got [${lengths.join(', ')}]`);
  if (sizes.reduce((a, b) => a + b, 0) !== n) throw new KilnError(`randomSplit: lengths [${lengths.join(', ')}] sum to ${sizes.reduce((a, b) => a + b, 0)}, the dataset has ${n} samples`);
  const perm = randpermIndices(n);
  let at = 0;
  return sizes.map((s) => { const sub = new Subset(ds, perm.slice(at, at + s)); at += s; return sub; });
}

/** Stacks tensors along a new dim 0 (in JS for synchronous backends: one copy, not a chain of ops). */
function stackSamples(samples: readonly Tensor[]): Tensor {
  const first = samples[0];
  samples.forEach((t, i) => {
    if (t.dtype !== first.dtype || t.backend !== first.backend || t.ndim !== first.ndim || t.shape.some((d, j) => d !== first.shape[j])) {
      throw new ShapeError(`DataLoader: cannot collate sample ${i} ${fmtShape(t.shape)}:${t.dtype} on ${t.backend} with sample 0 ${fmtShape(first.shape)}:${first.dtype} on ${first.backend}; pass a collateFn`);
    }
  });
  if (!getBackend(first.backend).syncReads || samples.some((t) => t.requiresGrad)) return stack(samples);
  const out = typedArrayFor(first.dtype, first.size * samples.length);
  samples.forEach((t, i) => out.set(t.data(), i * first.size));
  return fromTypedArray(out, [samples.length, ...first.shape], first.dtype, first.backend);
}

/**
 * torch's default_collate: tensors stack into a batch, numbers become a tensor (int32 when all are
 * integers, else float32), booleans a bool tensor, arrays and objects collate field by field,
 * anything else is returned as a list.
 */
export function defaultCollate(samples: readonly unknown[]): unknown {
  if (!Array.isArray(samples)) throw new KilnError(`defaultCollate: expected an array of samples, got ${describeValue(samples)}`);
  if (samples.length === 0) return [];
  const first = samples[0];
  if (first instanceof Tensor) return stackSamples(samples as Tensor[]);
  if (typeof first === 'number' && samples.every((s) => typeof s === 'number')) {
    return tensor(samples as number[], { dtype: (samples as number[]).every(Number.isInteger) ? 'int32' : 'float32' });
  }
  if (typeof first === 'boolean' && samples.every((s) => typeof s === 'boolean')) return tensor(samples as boolean[], { dtype: 'bool' });
  if (Array.isArray(first)) {
    samples.forEach((s, i) => {
      if (!Array.isArray(s) || s.length !== first.length) throw new KilnError(`DataLoader: sample ${i} has ${Array.isArray(s) ? s.length : 'no'} fields, sample 0 has ${first.length}`);
    });
    return first.map((_, j) => defaultCollate(samples.map((s) => (s as unknown[])[j])));
  }
  if (first && typeof first === 'object' && Object.getPrototypeOf(first) === Object.prototype) {
    return Object.fromEntries(Object.keys(first).map((k) => [k, defaultCollate(samples.map((s) => (s as Record<string, unknown>)[k]))]));
  }
  return [...samples];
}

export interface DataLoaderOptions<T, B> {
  /** Samples per batch (default 1). */
  batchSize?: number;
  /** Reshuffle the order at the start of every epoch with kiln's generator (see manualSeed). */
  shuffle?: boolean;
  /** Drop the last batch when it is smaller than batchSize. */
  dropLast?: boolean;
  /** Turns a list of samples into a batch (default: defaultCollate). */
  collateFn?: (samples: T[]) => B;
}

/** Iterates a dataset in batches: `for (const [x, y] of loader)`; each iteration is one epoch. */
export class DataLoader<T, B = any> implements Iterable<B> {
  readonly dataset: Dataset<T>;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  private readonly collateFn: ((samples: T[]) => B) | null;

  constructor(dataset: DatasetLike<T>, options: DataLoaderOptions<T, B> = {}) {
    const opts = options ?? {};
    this.dataset = asDataset('DataLoader', dataset);
    const bs = opts.batchSize ?? 1;
    if (!Number.isInteger(bs) || bs < 1) throw new KilnError(`DataLoader: batchSize must be a positive integer, got ${String(opts.batchSize)}`);
    if (opts.collateFn !== undefined && typeof opts.collateFn !== 'function') throw new KilnError('DataLoader: collateFn must be a function');
    this.batchSize = bs;
    this.shuffle = opts.shuffle ?? false;
    this.dropLast = opts.dropLast ?? false;
    this.collateFn = opts.collateFn ?? null;
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  *[Symbol.iterator](): Iterator<B> {
    const n = this.dataset.length;
    const order = this.shuffle ? randpermIndices(n) : Array.from({ length: n }, (_, i) => i);
    for (let b = 0; b < this.length; b++) {
      const idx = order.slice(b * this.batchSize, (b + 1) * this.batchSize);
      yield this.batch(idx);
    }
  }

  private batch(idx: number[]): B {
    if (!this.collateFn) {
      // TensorDataset (or a Subset of one): one gather per tensor instead of per-sample slices.
      let ds: Dataset<unknown> = this.dataset;
      let map = idx;
      if (ds instanceof Subset && ds.dataset instanceof TensorDataset) { const sub = ds; map = idx.map((i) => sub.indices[i]); ds = sub.dataset; }
      if (ds instanceof TensorDataset) {
        return ds.tensors.map((t) => {
          const ix = tensor(Int32Array.from(map), { dtype: 'int32', backend: t.backend });
          const out = t.indexSelect(0, ix);
          ix.dispose();
          return out;
        }) as B;
      }
      return defaultCollate(idx.map((i) => this.dataset.get(i))) as B;
    }
    return this.collateFn(idx.map((i) => this.dataset.get(i)));
  }
}
