// Creating tensors: from JS data, constants, ranges and random draws. Inside compile() random draws
// become graph nodes (fresh numbers on every replay); other constants are folded into the graph.
import type { Backend, BackendName } from './core/backend.js';
import { currentBackend, getBackend, hasBackend } from './core/backend.js';
import type { DType, TypedArray } from './core/dtype.js';
import { checkDType, inferDType, typedArrayFor } from './core/dtype.js';
import { KilnError, ShapeError, fmtShape } from './core/errors.js';
import { contiguousView } from './core/kernel.js';
import { sizeOf } from './core/shape.js';
import {
  INT32_MAX, INT32_MIN, checkAllocation, checkBool, checkInt, checkNumber, checkOptions, checkScalar, checkShapeArg, describeValue,
} from './core/validate.js';
import { activeTracer, type RandomKind } from './dispatch.js';
import { fillInt, fillNormal, fillUniform } from './random.js';
import { Tensor, expectTensor } from './tensor.js';
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

const OPTION_KEYS = ['dtype', 'requiresGrad', 'backend'] as const;
const BACKEND_NAMES: readonly BackendName[] = ['cpu', 'wasm', 'webgpu'];

/** Creation options checked: known keys, a known dtype, a boolean requiresGrad, a known backend. */
function options(op: string, opts: unknown, extra: readonly string[] = []): { dtype?: DType; requiresGrad?: boolean; backend?: BackendName } {
  const o = checkOptions<CreateOptions>(op, opts, [...OPTION_KEYS, ...extra]);
  const dtype = o.dtype === undefined ? undefined : checkDType(op, o.dtype);
  const requiresGrad = o.requiresGrad === undefined ? undefined : checkBool(op, 'requiresGrad', o.requiresGrad);
  if (o.backend !== undefined && !BACKEND_NAMES.includes(o.backend)) {
    throw new KilnError(`${op}: unknown backend ${describeValue(o.backend)}, expected ${BACKEND_NAMES.map((b) => `'${b}'`).join(', ')}`);
  }
  return { dtype, requiresGrad, backend: o.backend };
}

function targetBackend(opts?: { backend?: BackendName }): BackendName {
  return opts?.backend ?? activeTracer()?.backendName ?? currentBackend();
}

/** The backend a creation op allocates on, or a KilnError naming the op when it is not initialised. */
function backendFor(op: string, name: BackendName): Backend {
  if (!hasBackend(name)) {
    try { getBackend(name); } catch (e) { throw new KilnError(`${op}: ${(e as Error).message}`); }
  }
  return getBackend(name);
}

const bytesOf = (dtype: DType) => (dtype === 'bool' ? 1 : 4);

/** Checks a shape argument and that a buffer of it fits, before anything of that size is allocated. */
function checkedShape(op: string, shape: unknown, dtype: DType): number[] {
  const s = checkShapeArg(op, shape);
  checkAllocation(op, s, sizeOf(s), bytesOf(dtype));
  return s;
}

/** Converts one JS value to what `dtype` stores; int32 refuses what it cannot hold (as torch does). */
function storedValue(op: string, dtype: DType, v: number): number {
  if (dtype === 'bool') return v !== 0 ? 1 : 0;
  if (dtype === 'float32') return v;
  if (!Number.isFinite(v)) throw new KilnError(`${op}: ${v} cannot be stored in an int32 tensor`);
  const t = Math.trunc(v);
  if (t < INT32_MIN || t > INT32_MAX) {
    throw new KilnError(`${op}: ${v} is outside the int32 range [${INT32_MIN}, ${INT32_MAX}]; use { dtype: 'float32' } for larger values`);
  }
  return t;
}

/** Typed array of a dtype from JS values (int32 checked against its range). */
export function typedOf(dtype: DType, values: ArrayLike<number | boolean>, op = 'tensor'): TypedArray {
  const out = typedArrayFor(dtype, values.length);
  for (let i = 0; i < values.length; i++) out[i] = storedValue(op, dtype, Number(values[i]));
  return out;
}

/** Allocates a tensor holding `data` (already of `dtype`'s array type or convertible). */
export function fromTypedArray(data: ArrayLike<number>, shape: readonly number[], dtype: DType, backend: BackendName, requiresGrad = false, op = 'tensor'): Tensor {
  const b = backendFor(op, backend);
  const size = sizeOf(shape);
  checkAllocation(op, shape, size, bytesOf(dtype));
  if (data.length !== size) throw new ShapeError(`${op}: ${data.length} values do not fill shape ${fmtShape(shape)} (${size} elements)`);
  const buf = allocate(b, op, dtype, size);
  if (size > 0) b.write(buf, data instanceof typedArrayFor(dtype, 0).constructor ? (data as TypedArray) : typedOf(dtype, data, op));
  const t = Tensor._wrap(b, buf, contiguousView(shape), dtype, op);
  if (requiresGrad) t.requiresGrad_(true);
  return t;
}

/**
 * Nested arrays to flat values and a shape; cycles, holes, ragged rows and non-numbers are errors.
 * The shape comes from the first elements, so a cycle either repeats along them (caught there) or
 * puts an array where the shape says a number goes (a ragged error).
 */
function flattenNested(data: Nested, op: string): { values: (number | boolean)[]; shape: number[] } {
  const shape: number[] = [];
  const onPath = new Set<unknown>();
  let probe: unknown = data;
  while (Array.isArray(probe)) {
    if (onPath.has(probe)) throw new KilnError(`${op}: the nested array contains itself (a cycle at depth ${shape.length})`);
    onPath.add(probe);
    shape.push(probe.length);
    probe = probe[0];
  }
  const values: (number | boolean)[] = [];
  const where = (path: number[]) => (path.length ? ` at index [${path.join(',')}]` : '');
  const walk = (x: unknown, depth: number, path: number[]): void => {
    if (depth === shape.length) {
      if (typeof x !== 'number' && typeof x !== 'boolean') {
        if (Array.isArray(x)) throw new ShapeError(`${op}: ragged nested array${where(path)}: expected a number, got an array`);
        throw new KilnError(`${op}: data must be numbers or booleans (nested arrays of them, or a typed array), got ${describeValue(x)}${where(path)}`);
      }
      values.push(x);
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[depth]) {
      throw new ShapeError(`${op}: ragged nested array${where(path)}: expected ${shape[depth]} entries, got ${Array.isArray(x) ? x.length : 'a scalar'}`);
    }
    for (let i = 0; i < x.length; i++) {
      if (!(i in x)) throw new ShapeError(`${op}: the array${where(path)} has a hole at index ${i} (an empty slot, as in [1, , 3])`);
      walk(x[i], depth + 1, [...path, i]);
    }
  };
  walk(data, 0, []);
  return { values, shape };
}

/**
 * int64 data (a BigInt64Array, as int64 arrives in JS) as int32, which is what kiln indexes with;
 * a value outside the int32 range is an error naming the op, never a silent wrap.
 */
export function int32OfInt64(op: string, data: BigInt64Array): Int32Array {
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < -2147483648n || v > 2147483647n) {
      throw new KilnError(`${op}: int64 value ${v} at index ${i} is outside the int32 range kiln stores (-2^31 .. 2^31 - 1)`);
    }
    out[i] = Number(v);
  }
  return out;
}

/**
 * A tensor from nested arrays, a number/boolean, or a typed array (1-D unless `shape` is given);
 * a BigInt64Array becomes int32 (range-checked).
 */
export function tensor(data: Nested | TypedArray | BigInt64Array, opts: CreateOptions & { shape?: readonly number[] } = {}): Tensor {
  const o = options('tensor', opts, ['shape']);
  const shapeOpt = (opts as { shape?: unknown } | null)?.shape;
  if (data instanceof BigInt64Array) data = int32OfInt64('tensor', data);
  let values: ArrayLike<number | boolean>;
  let shape: number[];
  if (ArrayBuffer.isView(data)) {
    if (data instanceof DataView) throw new KilnError('tensor: a DataView is not a typed array; pass a Float32Array, Int32Array or Uint8Array');
    values = data as TypedArray;
    shape = shapeOpt !== undefined ? checkShapeArg('tensor', shapeOpt) : [data.length];
  } else {
    ({ values, shape } = flattenNested(data, 'tensor'));
    if (shapeOpt !== undefined) shape = checkShapeArg('tensor', shapeOpt);
  }
  const fromArray = data instanceof Float32Array ? 'float32' : data instanceof Int32Array ? 'int32' : data instanceof Uint8Array ? 'bool' : undefined;
  const dtype = o.dtype ?? fromArray ?? inferDType(values);
  return fromTypedArray(typedOf(dtype, values), shape, dtype, targetBackend(o), o.requiresGrad);
}

/** A tensor filled with `value`. */
export function full(shape: readonly number[], value: number | boolean, opts: CreateOptions = {}, op = 'full'): Tensor {
  const o = options(op, opts);
  const v = checkScalar(op, 'the fill value', value);
  const dtype = o.dtype ?? (typeof v === 'boolean' ? 'bool' : Number.isInteger(v) ? 'int32' : 'float32');
  const s = checkedShape(op, shape, dtype);
  const stored = storedValue(op, dtype, Number(v));
  const data = typedArrayFor(dtype, sizeOf(s));
  if (stored !== 0) data.fill(stored);
  return fromTypedArray(data, s, dtype, targetBackend(o), o.requiresGrad, op);
}

/** Options with `defaults` filled in under the caller's (checked by full()). */
const withDefaults = (opts: CreateOptions | null | undefined, defaults: CreateOptions): CreateOptions =>
  (opts && typeof opts === 'object' ? { ...defaults, ...opts } : opts === undefined || opts === null ? defaults : opts);

export function zeros(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return full(shape, 0, withDefaults(opts, { dtype: 'float32' }), 'zeros');
}
export function ones(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return full(shape, 1, withDefaults(opts, { dtype: 'float32' }), 'ones');
}
export function zerosLike(t: Tensor, opts: CreateOptions = {}): Tensor {
  return full(expectTensor('zerosLike', 'input', t).shape, 0, withDefaults(opts, { dtype: t.dtype, backend: t.backend }), 'zerosLike');
}
export function onesLike(t: Tensor, opts: CreateOptions = {}): Tensor {
  return full(expectTensor('onesLike', 'input', t).shape, 1, withDefaults(opts, { dtype: t.dtype, backend: t.backend }), 'onesLike');
}
export function fullLike(t: Tensor, value: number, opts: CreateOptions = {}): Tensor {
  return full(expectTensor('fullLike', 'input', t).shape, value, withDefaults(opts, { dtype: t.dtype, backend: t.backend }), 'fullLike');
}

/** Values start, start+step, ... below end (`arange(n)` counts 0..n-1). */
export function arange(start: number, end?: number | null, step = 1, opts: CreateOptions = {}): Tensor {
  const o = options('arange', opts);
  if (end === undefined || end === null) { end = start; start = 0; }
  checkNumber('arange', 'start', start, { finite: true });
  checkNumber('arange', 'end', end, { finite: true });
  checkNumber('arange', 'step', step, { finite: true });
  if (step === 0) throw new KilnError('arange: step must be non-zero');
  const n = Math.max(0, Math.ceil((end - start) / step));
  const isInt = [start, end, step].every(Number.isInteger);
  const dtype = o.dtype ?? (isInt ? 'int32' : 'float32');
  checkAllocation('arange', [n], n, bytesOf(dtype));
  const last = start + (n - 1) * step;
  if (dtype === 'int32' && n > 0 && (Math.min(start, last) < INT32_MIN || Math.max(start, last) > INT32_MAX)) {
    throw new KilnError(`arange: values from ${start} to ${last} do not fit int32; pass { dtype: 'float32' }`);
  }
  const data = typedArrayFor(dtype, n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return fromTypedArray(data, [n], dtype, targetBackend(o), o.requiresGrad, 'arange');
}

/** `steps` evenly spaced values from start to end inclusive. */
export function linspace(start: number, end: number, steps: number, opts: CreateOptions = {}): Tensor {
  const o = options('linspace', opts);
  checkNumber('linspace', 'start', start);
  checkNumber('linspace', 'end', end);
  checkInt('linspace', 'steps', steps, 0);
  checkAllocation('linspace', [steps], steps, 4);
  const data = new Float32Array(steps);
  for (let i = 0; i < steps; i++) data[i] = steps === 1 ? start : start + ((end - start) * i) / (steps - 1);
  return fromTypedArray(data, [steps], o.dtype ?? 'float32', targetBackend(o), o.requiresGrad, 'linspace');
}

/** Identity matrix n x m. */
export function eye(n: number, m: number | null = n, opts: CreateOptions = {}): Tensor {
  const o = options('eye', opts);
  const cols = m ?? n;
  checkInt('eye', 'n', n, 0);
  checkInt('eye', 'm', cols, 0);
  const dtype = o.dtype ?? 'float32';
  const shape = checkedShape('eye', [n, cols], dtype);
  const data = typedArrayFor(dtype, n * cols);
  for (let i = 0; i < Math.min(n, cols); i++) data[i * cols + i] = 1;
  return fromTypedArray(data, shape, dtype, targetBackend(o), o.requiresGrad, 'eye');
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
  const o = options(kind, opts);
  if (o.dtype !== undefined && o.dtype !== dtype) throw new KilnError(`${kind}: draws ${dtype} values, got { dtype: '${o.dtype}' }${kind === 'randint' ? '' : '; use randint for integers'}`);
  const s = checkedShape(kind, shape, dtype);
  const tr = activeTracer();
  // While tracing the draw is a graph node, so every replay draws fresh numbers.
  const t = tr ? tr.random(kind, s, dtype, params) : drawRandom(kind, s, dtype, params, targetBackend(o));
  if (o.requiresGrad) t.requiresGrad_(true);
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
  checkInt('randint', 'low', low);
  checkInt('randint', 'high', high);
  if (!(high > low)) throw new KilnError(`randint: high (${high}) must be greater than low (${low})`);
  if (low < INT32_MIN || high - 1 > INT32_MAX) throw new KilnError(`randint: [${low}, ${high}) does not fit int32 (values ${INT32_MIN}..${INT32_MAX})`);
  return random('randint', shape, 'int32', [low, high], opts);
}
