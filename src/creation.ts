// Creating tensors: from JS data, constants, ranges and random draws. Inside compile() random draws
// become graph nodes (fresh numbers on every replay); other constants are folded into the graph.
import type { BackendName } from './core/backend.js';
import { currentBackend, getBackend } from './core/backend.js';
import type { DType, TypedArray } from './core/dtype.js';
import { checkDType, inferDType, typedArrayFor } from './core/dtype.js';
import { KilnError, ShapeError, fmtShape } from './core/errors.js';
import { contiguousView } from './core/kernel.js';
import { sizeOf } from './core/shape.js';
import { activeTracer, type RandomKind } from './dispatch.js';
import { fillInt, fillNormal, fillUniform } from './random.js';
import { Tensor } from './tensor.js';
import { allocate } from './memory.js';

export { manualSeed } from './random.js';

/** Options accepted by creation functions. */
export interface CreateOptions {
  dtype?: DType;
  requiresGrad?: boolean;
  /** Backend to allocate on (default: the current backend, or the compile target while tracing). */
  backend?: BackendName;
}

type Nested = number | boolean | readonly Nested[];

function targetBackend(opts?: CreateOptions): BackendName {
  return opts?.backend ?? activeTracer()?.backendName ?? currentBackend();
}

/** Typed array of a dtype from JS values. */
export function typedOf(dtype: DType, values: ArrayLike<number | boolean>): TypedArray {
  const out = typedArrayFor(dtype, values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Number(values[i]);
    out[i] = dtype === 'bool' ? (v !== 0 ? 1 : 0) : dtype === 'int32' ? (Number.isNaN(v) ? 0 : Math.trunc(v)) : v;
  }
  return out;
}

/** Allocates a tensor holding `data` (already of `dtype`'s array type or convertible). */
export function fromTypedArray(data: ArrayLike<number>, shape: readonly number[], dtype: DType, backend: BackendName, requiresGrad = false, op = 'tensor'): Tensor {
  const b = getBackend(backend);
  const size = sizeOf(shape);
  if (data.length !== size) throw new ShapeError(`tensor: ${data.length} values do not fill shape ${fmtShape(shape)} (${size} elements)`);
  const buf = allocate(b, op, dtype, size);
  if (size > 0) b.write(buf, data instanceof typedArrayFor(dtype, 0).constructor ? (data as TypedArray) : typedOf(dtype, data));
  const t = Tensor._wrap(b, buf, contiguousView(shape), dtype, op);
  if (requiresGrad) t.requiresGrad_(true);
  return t;
}

function flattenNested(data: Nested, op: string): { values: (number | boolean)[]; shape: number[] } {
  const shape: number[] = [];
  let probe: Nested = data;
  while (Array.isArray(probe)) { shape.push(probe.length); probe = probe[0] as Nested; }
  const values: (number | boolean)[] = [];
  const walk = (x: Nested, depth: number, path: number[]): void => {
    if (depth === shape.length) {
      if (Array.isArray(x) || (typeof x !== 'number' && typeof x !== 'boolean')) {
        throw new ShapeError(`${op}: ragged nested array at index [${path.join(',')}]: expected a number, got ${Array.isArray(x) ? 'an array' : typeof x}`);
      }
      values.push(x as number | boolean);
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[depth]) {
      throw new ShapeError(`${op}: ragged nested array at index [${path.join(',')}]: expected ${shape[depth]} entries, got ${Array.isArray(x) ? x.length : 'a scalar'}`);
    }
    (x as readonly Nested[]).forEach((v, i) => walk(v, depth + 1, [...path, i]));
  };
  walk(data, 0, []);
  return { values, shape };
}

/** A tensor from nested arrays, a number/boolean, or a typed array (1-D unless `shape` is given). */
export function tensor(data: Nested | TypedArray, opts: CreateOptions & { shape?: readonly number[] } = {}): Tensor {
  let values: ArrayLike<number | boolean>;
  let shape: number[];
  if (ArrayBuffer.isView(data)) {
    values = data as TypedArray;
    shape = opts.shape ? [...opts.shape] : [data.length];
  } else {
    ({ values, shape } = flattenNested(data, 'tensor'));
    if (opts.shape) shape = [...opts.shape];
  }
  const fromArray = data instanceof Float32Array ? 'float32' : data instanceof Int32Array ? 'int32' : data instanceof Uint8Array ? 'bool' : undefined;
  const dtype = opts.dtype ? checkDType('tensor', opts.dtype) : fromArray ?? inferDType(values);
  return fromTypedArray(typedOf(dtype, values), shape, dtype, targetBackend(opts), opts.requiresGrad);
}

function checkShape(op: string, shape: readonly number[]): number[] {
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new ShapeError(`${op}: invalid shape ${fmtShape(shape)}: sizes must be non-negative integers`);
  return [...shape];
}

/** A tensor filled with `value`. */
export function full(shape: readonly number[], value: number | boolean, opts: CreateOptions = {}): Tensor {
  const dtype = opts.dtype ?? (typeof value === 'boolean' ? 'bool' : Number.isInteger(value) ? 'int32' : 'float32');
  const s = checkShape('full', shape);
  const data = typedArrayFor(dtype, sizeOf(s));
  data.fill(dtype === 'bool' ? (value ? 1 : 0) : Number(value));
  return fromTypedArray(data, s, dtype, targetBackend(opts), opts.requiresGrad);
}

export function zeros(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return full(shape, 0, { dtype: 'float32', ...opts });
}
export function ones(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return full(shape, 1, { dtype: 'float32', ...opts });
}
export function zerosLike(t: Tensor, opts: CreateOptions = {}): Tensor {
  return full(t.shape, 0, { dtype: t.dtype, backend: t.backend, ...opts });
}
export function onesLike(t: Tensor, opts: CreateOptions = {}): Tensor {
  return full(t.shape, 1, { dtype: t.dtype, backend: t.backend, ...opts });
}
export function fullLike(t: Tensor, value: number, opts: CreateOptions = {}): Tensor {
  return full(t.shape, value, { dtype: t.dtype, backend: t.backend, ...opts });
}

/** Values start, start+step, ... below end (`arange(n)` counts 0..n-1). */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (end === undefined) { end = start; start = 0; }
  if (step === 0) throw new KilnError('arange: step must be non-zero');
  const n = Math.max(0, Math.ceil((end - start) / step));
  const isInt = [start, end, step].every(Number.isInteger);
  const dtype = opts.dtype ?? (isInt ? 'int32' : 'float32');
  const data = typedArrayFor(dtype, n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return fromTypedArray(data, [n], dtype, targetBackend(opts), opts.requiresGrad);
}

/** `steps` evenly spaced values from start to end inclusive. */
export function linspace(start: number, end: number, steps: number, opts: CreateOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) throw new KilnError(`linspace: steps must be a non-negative integer, got ${steps}`);
  const data = new Float32Array(steps);
  for (let i = 0; i < steps; i++) data[i] = steps === 1 ? start : start + ((end - start) * i) / (steps - 1);
  return fromTypedArray(data, [steps], opts.dtype ?? 'float32', targetBackend(opts), opts.requiresGrad);
}

/** Identity matrix n x m. */
export function eye(n: number, m = n, opts: CreateOptions = {}): Tensor {
  const dtype = opts.dtype ?? 'float32';
  const data = typedArrayFor(dtype, n * m);
  for (let i = 0; i < Math.min(n, m); i++) data[i * m + i] = 1;
  return fromTypedArray(data, checkShape('eye', [n, m]), dtype, targetBackend(opts), opts.requiresGrad);
}

/** Draws random values now, or records the draw when compile() is tracing. */
export function drawRandom(kind: RandomKind, shape: readonly number[], dtype: DType, params: readonly number[], backend: BackendName): Tensor {
  const n = sizeOf(shape);
  let data: TypedArray;
  if (kind === 'randint') data = fillInt(new Int32Array(n), params[0], params[1]);
  else if (kind === 'randn') data = fillNormal(new Float32Array(n), params[0] ?? 0, params[1] ?? 1);
  else data = fillUniform(new Float32Array(n), params[0] ?? 0, params[1] ?? 1);
  return fromTypedArray(data, shape, dtype, backend, false, kind);
}

function random(kind: RandomKind, shape: readonly number[], dtype: DType, params: number[], opts: CreateOptions): Tensor {
  const s = checkShape(kind, shape);
  const tr = activeTracer();
  // While tracing the draw is a graph node, so every replay draws fresh numbers.
  const t = tr ? tr.random(kind, s, dtype, params) : drawRandom(kind, s, dtype, params, targetBackend(opts));
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}

/** Uniform [0, 1) floats. */
export function rand(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return random('rand', shape, 'float32', [0, 1], opts);
}
/** Standard normal floats. */
export function randn(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return random('randn', shape, 'float32', [0, 1], opts);
}
/** Integers uniform in [low, high). */
export function randint(low: number, high: number, shape: readonly number[], opts: CreateOptions = {}): Tensor {
  if (!(high > low)) throw new KilnError(`randint: high (${high}) must be greater than low (${low})`);
  return random('randint', shape, 'int32', [low, high], opts);
}
