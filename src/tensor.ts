// The Tensor: a strided view over a backend storage (or, while compile() traces, a lazy graph value),
// with autograd metadata. Primitive methods call apply(); composites live in functional.ts.
import type { Backend, BackendName, Buffer } from './core/backend.js';
import { getBackend } from './core/backend.js';
import type { DType, TypedArray } from './core/dtype.js';
import { checkDType, scalarPromote, typedArrayFor } from './core/dtype.js';
import { AutogradError, DTypeError, KilnError, ShapeError, fmtShape } from './core/errors.js';
import { checkBool, checkChoice, checkInt, checkScalar, describeValue, outsideInt32 } from './core/validate.js';
import type { View } from './core/kernel.js';
import { contiguousView, isContiguousView } from './core/kernel.js';
import { flatSizes, inferReshape, shapesEqual, normalizeDim, normalizeDims, sizeOf } from './core/shape.js';
import { OPS } from './ops/index.js';
import type { Node, BackwardOptions, GradHook } from './autograd.js';
import { checkImplicitGrad, isGradEnabled, noGrad, registerHook, runBackward } from './autograd.js';
import { activeTracer, apply, assignEager, untraced } from './dispatch.js';
import type { Hold } from './storage.js';
import { Storage, track, untrack } from './storage.js';
import { formatTensor, nest } from './format.js';
import { trackCreated } from './tidy.js';
import * as F from './functional.js';
import * as TO from './tensor-ops.js';
import type { ValuesIndices } from './tensor-ops.js';
import * as SC from './scatter.js';
import { cumprod, cumsum } from './scan.js';
import { argsort, sort, topk, type SortOptions, type TopkOptions } from './sorting.js';

/** A tensor or a JS scalar (numbers and booleans broadcast as 0-d tensors, PyTorch's weak scalars). */
export type TensorLike = Tensor | number | boolean;
/** A dim argument: one dim, several, or all when omitted. */
export type Dims = number | readonly number[];

/** Shared by a tensor and its views: bumped by in-place writes, checked by backward. */
export interface VersionCounter { value: number }

/** max(dim)/min(dim) take one dim (amax/amin take several), as torch's. */
function checkOneDim(op: string, dim: unknown): number {
  if (typeof dim !== 'number') throw new ShapeError(`${op}: dim must be one number (for several dims, values only, use amax/amin), got ${describeValue(dim)}`);
  return dim;
}

/** `v` if it is a Tensor, else a KilnError naming the op and the argument. */
export function expectTensor(op: string, arg: string, v: unknown): Tensor {
  if (v instanceof Tensor) return v;
  const hint = Array.isArray(v) || typeof v === 'number' ? ' (make one with tensor())' : '';
  throw new KilnError(`${op}: ${arg} must be a tensor, got ${describeValue(v)}${hint}`);
}

/** Ops that use a scalar operand as a float or a truth value, not as an int32: any number is fine. */
const NON_INTEGER_USE = new Set(['div', 'pow', 'logicalAnd', 'logicalOr']);

/** Cached 0-d constants per backend and dtype, by value (-0 apart from 0). */
const scalarCache = new Map<string, { pos: Map<number, Tensor>; negZero: Tensor | null }>();
let scalarCount = 0;
let nextSerial = 0;
/** The creation number of the most recently created tensor. */
export function lastTensorSerial(): number { return nextSerial; }

export class Tensor {
  /** @internal */ _storage: Storage | null;
  /** @internal */ _view: View;
  /** @internal */ _version: VersionCounter;
  /** @internal */ _node: Node | null = null;
  /** @internal compile()'s handle while this tensor is a lazy graph value. */ _lazy: unknown = null;
  /** @internal the value when this is a 0-d scalar constant (lets the compiler fold it). */ _constant: number | undefined;
  /** @internal */ _backendName: BackendName;
  /** @internal Creation order: compile() tells constants made during a trace from captured tensors. */
  readonly _serial = ++nextSerial;
  private _token: Hold | null = null;
  private _grad: Tensor | null = null;
  private _requiresGrad = false;
  readonly dtype: DType;

  /** @internal Use the creation functions (tensor, zeros, ...). */
  constructor(backend: BackendName, storage: Storage | null, view: View, dtype: DType, version?: VersionCounter) {
    this._backendName = backend;
    this._storage = storage;
    this._view = view;
    this.dtype = dtype;
    this._version = version ?? { value: 0 };
    if (storage) this._token = track(this, storage);
    trackCreated(this);
  }

  /** @internal Set once this tensor has been some tensor's .grad (tidy() leaves it alive). */
  _isGradOf = false;

  /**
   * @internal Set on tensors made inside a kiln composite that the composite does not return: no
   * user code can reach them, so the autograd engine frees them once the nodes saving them are consumed.
   */
  _internal = false;
  /** @internal How many autograd nodes save this tensor (as an input or as their output). */
  _saves = 0;

  /** @internal Wraps a freshly allocated buffer; `op` names what made it (kiln.memory()'s breakdown). */
  static _wrap(backend: Backend, buf: Buffer, view: View, dtype: DType, op?: string): Tensor {
    return new Tensor(backend.name, new Storage(backend, buf, op), view, dtype);
  }

  /** @internal A lazy tensor (compile() fills it in later). */
  static _lazyTensor(backend: BackendName, shape: readonly number[], dtype: DType, handle: unknown, view?: View): Tensor {
    const t = new Tensor(backend, null, view ?? contiguousView(shape), dtype);
    t._lazy = handle;
    return t;
  }

  // ----- metadata ------------------------------------------------------------------------------

  get shape(): readonly number[] { return this._view.shape; }
  get ndim(): number { return this._view.shape.length; }
  get size(): number { return sizeOf(this._view.shape); }
  /** Name of the backend holding the data. */
  get backend(): BackendName { return this._backendName; }
  get requiresGrad(): boolean { return this._requiresGrad; }
  set requiresGrad(v: boolean) { this.requiresGrad_(checkBool('requiresGrad', 'the flag', v)); }
  /** True for tensors created by the user (not by a differentiable op). */
  get isLeaf(): boolean { return this._node === null; }
  /** Name of the op that made this tensor, for autograd (null for leaves). */
  get gradFn(): string | null { return this._node ? this._node.op.name : null; }
  get grad(): Tensor | null { return this._grad; }
  set grad(g: Tensor | null) {
    if (g !== null && g !== undefined) expectTensor('grad', 'the assigned gradient', g);
    g = g ?? null;
    if (g && !shapesEqual(g.shape, this.shape)) {
      throw new ShapeError(`grad: assigned gradient ${fmtShape(g.shape)} does not match tensor ${fmtShape(this.shape)}`);
    }
    // A gradient replaced (or cleared) inside tidy() is freed when it ends, unless it survives it.
    const prev = this._grad;
    if (prev && prev !== g) { prev._isGradOf = false; trackCreated(prev); }
    this._grad = g;
    if (g) g._isGradOf = true;
    activeTracer()?.gradSet(this, prev);
  }

  /** Sets requiresGrad (float tensors only), returning this. */
  requiresGrad_(flag = true): this {
    checkBool('requiresGrad_', 'the flag', flag);
    if (flag && this.dtype !== 'float32') throw new AutogradError(`requiresGrad_: only float32 tensors can require gradients, got ${this.dtype}`);
    if (!flag && !this.isLeaf) throw new AutogradError('requiresGrad_: cannot turn off gradients of a non-leaf tensor; use detach()');
    this._requiresGrad = flag;
    return this;
  }

  /** @internal */
  _setNode(node: Node): void { this._node = node; this._requiresGrad = true; }

  /** Keeps .grad on a non-leaf tensor after backward. */
  retainGrad(): this {
    if (!this.requiresGrad) throw new AutogradError('retainGrad: the tensor does not require grad');
    if (this._node) this._node.retained = this;
    return this;
  }

  /**
   * Registers a hook called with this tensor's gradient each time it is computed; it may return a
   * replacement (torch's register_hook). Returns a handle: `handle.remove()`.
   */
  registerHook(hook: GradHook): { remove(): void } { return registerHook(this, hook); }

  /** Backpropagates from this tensor (a single element unless `grad` is given). */
  backward(grad?: Tensor, opts?: BackwardOptions): void {
    if (grad !== undefined && grad !== null) expectTensor('backward', 'the gradient', grad);
    grad = grad ?? undefined;
    if (!grad) checkImplicitGrad(this);
    else if (!this.requiresGrad) checkImplicitGrad(this);
    const g = grad ?? F.onesLike(this);
    if (!shapesEqual(g.shape, this.shape)) {
      throw new ShapeError(`backward: gradient ${fmtShape(g.shape)} does not match output ${fmtShape(this.shape)}`);
    }
    runBackward(this, g, opts, { grad: !grad, temporaries: activeTracer() === null });
  }

  /** A tensor sharing data but cut from the autograd graph. */
  detach(): Tensor {
    if (this._lazy || activeTracer()) {
      const t = noGrad(() => apply(OPS.reshape, [this], { shape: this.shape }));
      t._isView = false;
      t._viewOfGrad = false;
      return t;
    }
    // Shares the data (and version counter) but no history: in-place writes to it are plain data writes.
    const t = this._viewAs(this._view);
    t._isView = false;
    t._viewOfGrad = false;
    return t;
  }

  // ----- storage internals ---------------------------------------------------------------------

  /** @internal True for tensors made as views of another tensor's storage (movement ops). */
  _isView = false;
  /** @internal True when the viewed tensor required grad (its history would miss in-place writes). */
  _viewOfGrad = false;

  /** @internal A view over the same storage (and version counter). */
  _viewAs(view: View): Tensor {
    const t = new Tensor(this._backendName, this._storage, view, this.dtype, this._version);
    t._lazy = null;
    t._isView = true;
    t._viewOfGrad = this.requiresGrad || this._viewOfGrad;
    return t;
  }

  /** @internal Makes a lazy tensor concrete (a graph break inside compile()). */
  _ensureReal(reason: string): void {
    if (!this._lazy) {
      if (this._storage?.isFreed) {
        const by = this._releasedBy ?? 'a call to dispose()';
        throw new KilnError(`tensor ${fmtShape(this.shape)} was disposed by ${by} and cannot be used (${reason}); ` +
          'to use it later, keep it with kiln.keep(t) (or return it) inside tidy(), and do not dispose() it');
      }
      // Inside compile() an in-place write into this tensor may still be pending: the tracer lands it.
      activeTracer()?.realize(this, reason);
      return;
    }
    // The trace that made this value computes it, during the compiled call or after it.
    (this._lazy as { trace: { realize(t: Tensor, reason: string): void } }).trace.realize(this, reason);
  }

  /** @internal compile() hands a lazy tensor its concrete storage (a tensor's, or a storage and view). */
  _fill(real: { readonly _backendName: BackendName; readonly _storage: Storage | null; readonly _view: View }): void {
    this._lazy = null;
    this._backendName = real._backendName;
    this._storage = real._storage;
    this._view = real._view;
    if (this._storage) this._token = track(this, this._storage);
  }

  /** @internal */
  _buffer(): Buffer {
    this._ensureReal('kernel input');
    return this._storage!.buffer;
  }

  /** @internal */
  _sharesStorage(o: Tensor): boolean { return this._storage !== null && this._storage === o._storage; }

  /** True when the elements are laid out densely in row-major order. */
  isContiguous(): boolean { return isContiguousView(this._view) && this._view.offset >= 0; }

  /** Frees this tensor's hold on its storage now (views keep it alive until they are disposed too). */
  dispose(): void {
    if (this._token) untrack(this._token);
    this._token = null;
  }

  [Symbol.dispose](): void { this.dispose(); }

  /** @internal What freed this tensor's storage (named by the error on a later use); set by tidy(). */
  _releasedBy: string | undefined;

  // ----- reads ---------------------------------------------------------------------------------

  private _readBackend(what: string): Backend {
    this._ensureReal(`${what}()`);
    activeTracer()?.readValues(`${what}()`);
    const b = getBackend(this._backendName);
    if (!b.syncReads) {
      throw new KilnError(`${what}(): reads from the ${this._backendName} backend are asynchronous; use \`await t.${what}Async()\``);
    }
    return b;
  }

  /** The elements in row-major order as a typed-array copy. */
  data(): TypedArray {
    this._readBackend('data');
    return this._contiguousData((c) => getBackend(c._backendName).read(c._storage!.buffer, c._view.offset, c.size));
  }

  /** Async read (the only read on webgpu). */
  async dataAsync(): Promise<TypedArray> {
    this._ensureReal('dataAsync()');
    activeTracer()?.readValues('dataAsync()');
    if (this.size === 0) return typedArrayFor(this.dtype, 0);
    const b = getBackend(this._backendName);
    const c = this.isContiguous() ? this : untraced(() => noGrad(() => this.contiguous()));
    // c stays reachable until the read resolves (a finalizer must not free a buffer being read).
    const data = await b.readAsync(c._storage!.buffer, c._view.offset, c.size);
    if (c !== this) c.dispose();
    return data;
  }

  private _contiguousData(read: (c: Tensor) => TypedArray): TypedArray {
    if (this.size === 0) return typedArrayFor(this.dtype, 0);
    // A read happens now, even while compile() traces: the copy of a strided view runs eagerly.
    const c = this.isContiguous() ? this : untraced(() => noGrad(() => this.contiguous()));
    const data = read(c);
    if (c !== this) c.dispose();
    return data;
  }

  /** Nested arrays (numbers, or booleans for bool). */
  toArray(): unknown {
    this._readBackend('toArray');
    return nest(this.data(), this.shape, this.dtype);
  }

  async toArrayAsync(): Promise<unknown> {
    return nest(await this.dataAsync(), this.shape, this.dtype);
  }

  /** The single value of a one-element tensor. */
  item(): number | boolean {
    if (this.size !== 1) throw new ShapeError(`item(): only one-element tensors can be read as a number, got shape ${fmtShape(this.shape)}`);
    this._readBackend('item');
    const v = this.data()[0];
    return this.dtype === 'bool' ? v !== 0 : v;
  }

  async itemAsync(): Promise<number | boolean> {
    if (this.size !== 1) throw new ShapeError(`itemAsync(): only one-element tensors can be read as a number, got shape ${fmtShape(this.shape)}`);
    const v = (await this.dataAsync())[0];
    return this.dtype === 'bool' ? v !== 0 : v;
  }

  toString(): string {
    if (this._lazy) this._ensureReal('toString()');
    activeTracer()?.readValues('toString()');
    const b = getBackend(this._backendName);
    if (!b.syncReads) return `Tensor(shape=${fmtShape(this.shape)}, dtype=${this.dtype}, backend=${this._backendName})`;
    const suffix: string[] = [];
    if (this._node) suffix.push(`grad_fn=<${this._node.op.name}>`);
    else if (this.requiresGrad) suffix.push('requires_grad=True');
    return formatTensor(this.data(), this.shape, this.dtype, suffix);
  }

  /** Using a tensor as a JS number or string reads it (a graph break inside compile()). */
  [Symbol.toPrimitive](hint: string): number | string {
    if (hint === 'string') return this.toString();
    const v = this.item();
    return typeof v === 'boolean' ? Number(v) : v;
  }

  // ----- conversions ---------------------------------------------------------------------------

  /** Casts to a dtype, or copies to another backend (sync backends only; else toAsync). */
  to(target: DType | BackendName): Tensor {
    if (target === 'cpu' || target === 'wasm' || target === 'webgpu') {
      if (target === this._backendName) return this;
      if (!getBackend(this._backendName).syncReads) {
        throw new KilnError(`to('${target}'): reads from the ${this._backendName} backend are asynchronous; use \`await t.toAsync('${target}')\``);
      }
      const data = this.data();
      return F.fromTypedArray(data, this.shape, this.dtype, target, this.requiresGrad && this.isLeaf);
    }
    if (target !== 'float32' && target !== 'int32' && target !== 'bool') {
      throw new DTypeError(`to: unknown dtype or backend ${typeof target === 'string' ? JSON.stringify(target) : describeValue(target)}, expected a dtype ('float32', 'int32', 'bool') or a backend ('cpu', 'wasm', 'webgpu')`);
    }
    const dtype = checkDType('to', target);
    if (dtype === this.dtype) return this;
    return apply(OPS.cast, [this], { dtype });
  }

  /** Copies to another backend, reading asynchronously (works from webgpu). */
  async toAsync(backend: BackendName): Promise<Tensor> {
    checkChoice('toAsync', 'the backend', backend, ['cpu', 'wasm', 'webgpu']);
    if (backend === this._backendName) return this;
    return F.fromTypedArray(await this.dataAsync(), this.shape, this.dtype, backend, false);
  }

  /** A copy with its own storage (differentiable). */
  clone(): Tensor { return apply(OPS.contiguous, [this]); }

  /** This tensor if contiguous, else a contiguous copy. */
  contiguous(): Tensor { return this.isContiguous() ? this : apply(OPS.contiguous, [this]); }

  /**
   * @internal Converts a scalar operand of `op` to a 0-d tensor on this tensor's backend (cached).
   * Numbers and booleans only; an integer int32 cannot hold is an error where the op would use it
   * as an int32 (as torch refuses), and a float32 value where the op computes in float or logic.
   */
  _scalar(v: TensorLike, op = 'operand', intUse = !NON_INTEGER_USE.has(op)): Tensor {
    if (v instanceof Tensor) return v;
    checkScalar(op, 'the operand', v);
    let dtype: DType = typeof v === 'boolean' ? 'bool' : scalarPromote(this.dtype, v);
    const value = typeof v === 'boolean' ? Number(v) : v;
    if (dtype === 'int32' && outsideInt32(value)) {
      if (intUse) {
        throw new KilnError(`${op}: the scalar ${value} is outside the int32 range of a ${this.dtype} tensor; convert first with x.to('float32')`);
      }
      dtype = 'float32';
    }
    const kind = `${this._backendName}:${dtype}`;
    let byValue = scalarCache.get(kind);
    if (!byValue) { byValue = { pos: new Map(), negZero: null }; scalarCache.set(kind, byValue); }
    const negZero = value === 0 && Object.is(value, -0);
    let t = negZero ? byValue.negZero : byValue.pos.get(value);
    if (!t || t._storage?.isFreed) {
      if (scalarCount > 512) { scalarCache.clear(); scalarCount = 0; byValue = { pos: new Map(), negZero: null }; scalarCache.set(kind, byValue); }
      t = F.fromTypedArray(F.typedOf(dtype, [value]), [], dtype, this._backendName, false);
      t._constant = value;
      if (negZero) byValue.negZero = t; else byValue.pos.set(value, t);
      scalarCount++;
    }
    return t;
  }

  // ----- elementwise ---------------------------------------------------------------------------

  add(o: TensorLike): Tensor { return apply(OPS.add, [this, this._scalar(o, 'add')]); }
  sub(o: TensorLike): Tensor { return apply(OPS.sub, [this, this._scalar(o, 'sub')]); }
  mul(o: TensorLike): Tensor { return apply(OPS.mul, [this, this._scalar(o, 'mul')]); }
  div(o: TensorLike): Tensor { return apply(OPS.div, [this, this._scalar(o, 'div')]); }
  pow(o: TensorLike): Tensor { return apply(OPS.pow, [this, this._scalar(o, 'pow')]); }
  remainder(o: TensorLike): Tensor { return apply(OPS.remainder, [this, this._scalar(o, 'remainder')]); }
  maximum(o: TensorLike): Tensor { return apply(OPS.maximum, [this, this._scalar(o, 'maximum')]); }
  minimum(o: TensorLike): Tensor { return apply(OPS.minimum, [this, this._scalar(o, 'minimum')]); }
  eq(o: TensorLike): Tensor { return apply(OPS.eq, [this, this._scalar(o, 'eq')]); }
  ne(o: TensorLike): Tensor { return apply(OPS.ne, [this, this._scalar(o, 'ne')]); }
  lt(o: TensorLike): Tensor { return apply(OPS.lt, [this, this._scalar(o, 'lt')]); }
  le(o: TensorLike): Tensor { return apply(OPS.le, [this, this._scalar(o, 'le')]); }
  gt(o: TensorLike): Tensor { return apply(OPS.lt, [this._scalar(o, 'gt'), this]); }
  ge(o: TensorLike): Tensor { return apply(OPS.le, [this._scalar(o, 'ge'), this]); }
  logicalAnd(o: TensorLike): Tensor { return apply(OPS.logicalAnd, [this, this._scalar(o, 'logicalAnd')]); }
  logicalOr(o: TensorLike): Tensor { return apply(OPS.logicalOr, [this, this._scalar(o, 'logicalOr')]); }
  logicalNot(): Tensor { return apply(OPS.logicalNot, [this]); }
  /** where(cond, this, other), as torch's Tensor.where. */
  where(cond: TensorLike, other: TensorLike): Tensor { return apply(OPS.where, [this._scalar(cond, 'where', false), this, this._scalar(other, 'where')]); }
  neg(): Tensor { return apply(OPS.neg, [this]); }
  abs(): Tensor { return apply(OPS.abs, [this]); }
  exp(): Tensor { return apply(OPS.exp, [this]); }
  log(): Tensor { return apply(OPS.log, [this]); }
  sqrt(): Tensor { return apply(OPS.sqrt, [this]); }
  sin(): Tensor { return apply(OPS.sin, [this]); }
  cos(): Tensor { return apply(OPS.cos, [this]); }
  tanh(): Tensor { return apply(OPS.tanh, [this]); }
  erf(): Tensor { return apply(OPS.erf, [this]); }
  floor(): Tensor { return apply(OPS.floor, [this]); }
  ceil(): Tensor { return apply(OPS.ceil, [this]); }
  round(): Tensor { return apply(OPS.round, [this]); }
  sign(): Tensor { return apply(OPS.sign, [this]); }
  reciprocal(): Tensor { return apply(OPS.reciprocal, [this]); }
  rsqrt(): Tensor { return this.sqrt().reciprocal(); }
  sigmoid(): Tensor { return F.sigmoid(this); }
  relu(): Tensor { return apply(OPS.relu, [this]); }
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor { return F.gelu(this, approximate); }
  silu(): Tensor { return F.silu(this); }
  softplus(beta = 1, threshold = 20): Tensor { return F.softplus(this, beta, threshold); }
  /** log(1 + x), accurate near 0. */
  log1p(): Tensor { return F.log1p(this); }
  clamp(min?: number | null, max?: number | null): Tensor { return F.clamp(this, min, max); }

  // ----- reductions ----------------------------------------------------------------------------

  private _reduce(name: 'sum' | 'prod' | 'max' | 'min', dim: Dims | undefined, keepdim: boolean, op: string = name): Tensor {
    F.checkKeepdim(op, keepdim);
    const dims = normalizeDims(op, dim, this.ndim);
    return apply(OPS[name], [this], { dims, keepdim });
  }
  sum(dim?: Dims, keepdim = false): Tensor { return this._reduce('sum', dim, keepdim); }
  prod(dim?: Dims, keepdim = false): Tensor { return this._reduce('prod', dim, keepdim); }
  /** The largest element; with a dim, the largest along it and its index, as torch.max (values only: amax). */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): ValuesIndices;
  max(dim?: number, keepdim = false): Tensor | ValuesIndices {
    if (dim === undefined) return this._reduce('max', undefined, false);
    return TO.extremumAlong(this, 'max', checkOneDim('max', dim), keepdim);
  }
  /** The smallest element; with a dim, the smallest along it and its index, as torch.min (values only: amin). */
  min(): Tensor;
  min(dim: number, keepdim?: boolean): ValuesIndices;
  min(dim?: number, keepdim = false): Tensor | ValuesIndices {
    if (dim === undefined) return this._reduce('min', undefined, false);
    return TO.extremumAlong(this, 'min', checkOneDim('min', dim), keepdim);
  }
  /** Maximum values over `dim` (all dims when omitted); ties share the gradient evenly. */
  amax(dim?: Dims, keepdim = false): Tensor { return this._reduce('max', dim, keepdim, 'amax'); }
  /** Minimum values over `dim` (all dims when omitted); ties share the gradient evenly. */
  amin(dim?: Dims, keepdim = false): Tensor { return this._reduce('min', dim, keepdim, 'amin'); }
  /** Index of the maximum along `dim` (over the flattened tensor when omitted). */
  argmax(dim?: number, keepdim = false): Tensor { return F.argReduce(this, 'argmax', dim, keepdim); }
  argmin(dim?: number, keepdim = false): Tensor { return F.argReduce(this, 'argmin', dim, keepdim); }
  mean(dim?: Dims, keepdim = false): Tensor { return F.mean(this, dim, keepdim); }
  /** Variance with Bessel's correction by default (correction = 1). */
  var(dim?: Dims, keepdim = false, correction = 1): Tensor { return F.variance(this, dim, keepdim, correction); }
  std(dim?: Dims, keepdim = false, correction = 1): Tensor { return F.variance(this, dim, keepdim, correction, 'std').sqrt(); }
  logsumexp(dim?: Dims, keepdim = false): Tensor { return F.logsumexp(this, dim, keepdim); }
  softmax(dim = -1): Tensor { return F.softmax(this, dim); }
  logSoftmax(dim = -1): Tensor { return F.logSoftmax(this, dim); }

  // ----- linear algebra ------------------------------------------------------------------------

  matmul(o: Tensor): Tensor { return F.matmul(this, expectTensor('matmul', 'the second operand', o)); }
  /** Transpose of the last two dims. */
  mT(): Tensor {
    if (this.ndim < 2) throw new ShapeError(`mT: expected at least 2 dims, got ${fmtShape(this.shape)}`);
    return this.transpose(-2, -1);
  }

  // ----- views and movement --------------------------------------------------------------------

  reshape(...shape: (number | readonly number[])[]): Tensor {
    const target = inferReshape('reshape', this.shape, flatSizes(shape));
    return apply(OPS.reshape, [this], { shape: target });
  }
  /** Alias of reshape (kiln copies when a view is impossible, like reshape). */
  view(...shape: (number | readonly number[])[]): Tensor { return this.reshape(...shape); }
  flatten(startDim = 0, endDim = -1): Tensor {
    if (this.ndim === 0) return this.reshape([1]);
    const s = normalizeDim('flatten', startDim, this.ndim);
    const e = normalizeDim('flatten', endDim, this.ndim);
    if (s > e) throw new ShapeError(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
    const sh = this.shape;
    return this.reshape([...sh.slice(0, s), sizeOf(sh.slice(s, e + 1)), ...sh.slice(e + 1)]);
  }
  squeeze(dim?: Dims): Tensor {
    const dims = dim === undefined ? this.shape.map((_, i) => i) : normalizeDims('squeeze', dim, this.ndim);
    return this.reshape(this.shape.filter((d, i) => !(dims.includes(i) && d === 1)));
  }
  unsqueeze(dim: number): Tensor {
    const d = normalizeDim('unsqueeze', dim, this.ndim + 1);
    const sh = [...this.shape];
    sh.splice(d, 0, 1);
    return this.reshape(sh);
  }
  permute(...order: (number | readonly number[])[]): Tensor {
    const o = flatSizes(order).map((d) => normalizeDim('permute', d, this.ndim));
    return apply(OPS.permute, [this], { order: o });
  }
  transpose(dim0: number, dim1: number): Tensor {
    const a = normalizeDim('transpose', dim0, this.ndim);
    const b = normalizeDim('transpose', dim1, this.ndim);
    if (this.ndim === 0) return apply(OPS.reshape, [this], { shape: [] });
    const order = this.shape.map((_, i) => i);
    [order[a], order[b]] = [order[b], order[a]];
    return apply(OPS.permute, [this], { order });
  }
  /** Moves dim `source` to position `destination`. */
  movedim(source: number, destination: number): Tensor {
    const s = normalizeDim('movedim', source, this.ndim);
    const d = normalizeDim('movedim', destination, this.ndim);
    const order = this.shape.map((_, i) => i).filter((i) => i !== s);
    order.splice(d, 0, s);
    return apply(OPS.permute, [this], { order });
  }
  /** Broadcasts to `shape` without copying; -1 keeps a dim. */
  expand(...shape: (number | readonly number[])[]): Tensor {
    const target = flatSizes(shape);
    const lead = target.length - this.ndim;
    const resolved = target.map((d, i) => (d === -1 && i >= lead ? this.shape[i - lead] : d));
    return apply(OPS.expand, [this], { shape: resolved });
  }
  expandAs(o: Tensor): Tensor { return this.expand(expectTensor('expandAs', 'the other tensor', o).shape); }
  /**
   * Python-style slicing per dim: `[start, end, step]` (negative indices count from the end; a
   * negative step walks backwards), or null for the whole dim. Missing trailing dims are whole.
   */
  slice(specs: readonly (readonly [(number | null)?, (number | null)?, (number | null)?] | null)[]): Tensor {
    if (!Array.isArray(specs)) throw new ShapeError(`slice: expected one [start, end, step] range (or null) per dim, got ${describeValue(specs)}`);
    if (specs.length > this.ndim) throw new ShapeError(`slice: ${specs.length} ranges given for a tensor of rank ${this.ndim} ${fmtShape(this.shape)}`);
    return F.sliceTensor(this, specs);
  }
  /** The `length` elements of `dim` starting at `start`. */
  narrow(dim: number, start: number, length: number): Tensor {
    const d = normalizeDim('narrow', dim, this.ndim);
    checkInt('narrow', 'start', start);
    checkInt('narrow', 'length', length);
    const n = this.shape[d];
    const s = start < 0 ? start + n : start;
    if (s < 0 || length < 0 || s + length > n) throw new ShapeError(`narrow: start ${start} + length ${length} exceeds dim ${dim} of size ${n} in ${fmtShape(this.shape)}`);
    return this.slice(this.shape.map((_, i) => (i === d ? [s, s + length] : null)));
  }
  flip(dims: Dims): Tensor {
    return apply(OPS.flip, [this], { dims: normalizeDims('flip', dims, this.ndim) });
  }
  /**
   * Windows of `size` taken every `step` along `dimension`, as a view (torch's Tensor.unfold): the dim
   * becomes the window count and the window is a new last dim.
   */
  unfold(dimension: number, size: number, step: number): Tensor {
    const d = normalizeDim('unfold', dimension, this.ndim);
    if (this.ndim === 0) {
      if (size !== 1 || !Number.isInteger(step) || step < 1) throw new ShapeError(`unfold: a 0-d tensor has one element: size must be 1 and step positive, got size ${size}, step ${step}`);
      return this.reshape([1]);
    }
    return apply(OPS.unfold, [this], { dims: [d], sizes: [size], steps: [step], dilations: [1] });
  }
  /** Pads with `value`: per-dim [before, after] pairs (first dim first), or torch's flat list (last dim first). */
  pad(pads: readonly (readonly [number, number])[] | readonly number[], options: Parameters<typeof F.pad>[2] = 0): Tensor { return F.pad(this, pads, options); }
  /** torch.gather: out[..j..] = this[..index[..j..]..] along `dim`. */
  gather(dim: number, index: Tensor): Tensor {
    expectTensor('gather', 'the index', index);
    return apply(OPS.gather, [this, index], { axis: normalizeDim('gather', dim, this.ndim) });
  }
  /** Picks the entries `index` (1-D int32) along `dim`. */
  indexSelect(dim: number, index: Tensor): Tensor {
    expectTensor('indexSelect', 'the index', index);
    return apply(OPS.indexSelect, [this, index], { axis: normalizeDim('indexSelect', dim, this.ndim) });
  }
  /** Splits into chunks of `size` (or of the listed sizes) along `dim`. */
  split(size: number | readonly number[], dim = 0): Tensor[] { return F.split(this, size, dim); }

  // ----- masking, triangles, scans, sorting and other torch ops (composites) ----------------------

  /** `value` where `mask` is true (mask broadcasts to this tensor). */
  maskedFill(mask: Tensor, value: TensorLike): Tensor { return TO.maskedFill(this, mask, value); }
  /** torch.scatter along `dim` (duplicates: the last along dim wins). */
  scatter(dim: number, index: Tensor, src: Tensor | number): Tensor { return SC.scatter(this, dim, index, src); }
  /** torch.scatter_add along `dim` (duplicates accumulate). */
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor { return SC.scatterAdd(this, dim, index, src); }
  /** torch.index_add: adds alpha·source at the positions of the 1-D index along `dim`. */
  indexAdd(dim: number, index: Tensor, source: Tensor, options?: SC.IndexAddOptions): Tensor { return SC.indexAdd(this, dim, index, source, options); }
  /** torch.index_put: values at the positions the index tensors name (advanced indexing). */
  indexPut(indices: readonly Tensor[], values: Tensor | number, options?: SC.IndexPutOptions): Tensor { return SC.indexPut(this, indices, values, options); }
  /** Lower triangle of the last two dims (j − i <= diagonal), zeros elsewhere. */
  tril(diagonal = 0): Tensor { return TO.tril(this, diagonal); }
  /** Upper triangle of the last two dims (j − i >= diagonal), zeros elsewhere. */
  triu(diagonal = 0): Tensor { return TO.triu(this, diagonal); }
  cumsum(dim: number): Tensor { return cumsum(this, dim); }
  cumprod(dim: number): Tensor { return cumprod(this, dim); }
  /** Sorted values and their indices along `dim` (stable; NaN largest). */
  sort(options?: SortOptions): ValuesIndices { return sort(this, options); }
  argsort(options?: SortOptions): Tensor { return argsort(this, options); }
  /** The k largest (or smallest) values along `dim` with their indices. */
  topk(k: number, options?: TopkOptions): ValuesIndices { return topk(this, k, options); }
  /** torch's repeat: `x.repeat(2, 3)` or `x.repeat([2, 3])`. */
  repeat(...sizes: (number | readonly number[])[]): Tensor { return TO.repeat(this, flatSizes(sizes)); }
  tile(...dims: (number | readonly number[])[]): Tensor { return TO.tile(this, flatSizes(dims)); }
  /** `chunks` pieces along `dim` (views). */
  chunk(chunks: number, dim = 0): Tensor[] { return TO.chunk(this, chunks, dim); }
  roll(shifts: number | readonly number[], dims?: number | readonly number[]): Tensor { return TO.roll(this, shifts, dims); }
  /** A 1-D tensor as a diagonal matrix, or the diagonal of a matrix. */
  diag(diagonal = 0): Tensor { return TO.diag(this, diagonal); }
  diagonal(offset = 0, dim1 = 0, dim2 = 1): Tensor { return TO.diagonal(this, offset, dim1, dim2); }
  outer(other: Tensor): Tensor { return TO.outer(this, other); }
  lerp(end: Tensor, weight: TensorLike): Tensor { return TO.lerp(this, end, weight); }
  /** beta·this + alpha·(mat1 @ mat2). */
  addmm(mat1: Tensor, mat2: Tensor, options?: TO.ScaleOptions): Tensor { return TO.addmm(this, mat1, mat2, options); }
  baddbmm(batch1: Tensor, batch2: Tensor, options?: TO.ScaleOptions): Tensor { return TO.baddbmm(this, batch1, batch2, options); }
  isnan(): Tensor { return TO.isnan(this); }
  isinf(): Tensor { return TO.isinf(this); }
  isfinite(): Tensor { return TO.isfinite(this); }
  isclose(other: Tensor, options?: TO.CloseOptions): Tensor { return TO.isclose(this, other, options); }
  allclose(other: Tensor, options?: TO.CloseOptions): boolean { return TO.allclose(this, other, options); }
  nanToNum(options?: TO.NanToNumOptions): Tensor { return TO.nanToNum(this, options); }
  /** The vector p-norm over `dim` (all dims by default). */
  norm(p: number | 'fro' = 'fro', dim?: Dims, keepdim = false): Tensor { return TO.norm(this, p, dim, keepdim); }

  // ----- in-place ------------------------------------------------------------------------------

  /** @internal Runs `compute` out of place and writes the result into this tensor's storage. */
  _inplace(name: string, compute: (x: Tensor) => Tensor): this {
    if (this.requiresGrad && this.isLeaf && isGradEnabled()) {
      throw new AutogradError(`${name}: a leaf tensor that requires grad cannot be modified in place; do it inside noGrad(() => ...)`);
    }
    if (this._isView && isGradEnabled() && (this.requiresGrad || this._viewOfGrad)) {
      // NOTE: the base tensor's autograd history would not see this write (no view tracking).
      throw new AutogradError(`${name}: in-place write into a view of a tensor that requires grad is not supported (the base's gradient would miss it); write into a clone(), or do it inside noGrad()`);
    }
    const tr = activeTracer();
    if (!this._lazy && !tr && !this._storage) throw new KilnError(`${name}: tensor has no storage`);
    // The old value keeps the old autograd history; the result's history moves onto this tensor.
    const alias = new Tensor(this._backendName, this._storage, this._view, this.dtype, this._version);
    alias._lazy = this._lazy;
    alias._node = this._node;
    alias._requiresGrad = this._requiresGrad;
    if (tr && !this._lazy) tr.alias(alias, this);
    const before = nextSerial;
    const result = compute(alias);
    if (!shapesEqual(result.shape, this.shape)) {
      throw new ShapeError(`${name}: result ${fmtShape(result.shape)} cannot be written into ${fmtShape(this.shape)} in place`);
    }
    if (tr) tr.assign(this, result);
    else assignEager(this, result);
    this._version.value++;
    if (result.requiresGrad && isGradEnabled()) { this._node = result._node; this._requiresGrad = true; }
    else if (this._node) { this._node = null; this._requiresGrad = false; } // overwritten: no path to the old history
    if (!tr) {
      alias.dispose(); // a trace may hold the alias as a graph input
      // The value was made for this write and is copied now: free it rather than leave it to the GC.
      // (Not when autograd saved it: the node recorded for the write holds it as its output.)
      if (result._serial > before && result !== this && !result.requiresGrad) result.dispose();
    }
    return this;
  }

  add_(o: TensorLike): this { return this._inplace('add_', (x) => x.add(o)); }
  sub_(o: TensorLike): this { return this._inplace('sub_', (x) => x.sub(o)); }
  mul_(o: TensorLike): this { return this._inplace('mul_', (x) => x.mul(o)); }
  div_(o: TensorLike): this { return this._inplace('div_', (x) => x.div(o)); }
  zero_(): this { return this.fill_(0); }
  fill_(value: number | boolean): this {
    checkScalar('fill_', 'the fill value', value);
    if (this.dtype === 'int32' && typeof value === 'number' && (!Number.isFinite(value) || outsideInt32(Math.trunc(value)))) {
      throw new KilnError(`fill_: ${value} cannot be stored in an int32 tensor (range -2147483648..2147483647)`);
    }
    return this._inplace('fill_', (x) => x._scalar(value, 'fill_').expand(this.shape).to(this.dtype));
  }
  /** Copies `src` (broadcast and cast) into this tensor. */
  copy_(src: Tensor): this {
    expectTensor('copy_', 'the source', src);
    return this._inplace('copy_', () => src.expand(this.shape).to(this.dtype));
  }
  maskedFill_(mask: Tensor, value: TensorLike): this { return this._inplace('maskedFill_', (x) => TO.maskedFill(x, mask, value)); }
  scatter_(dim: number, index: Tensor, src: Tensor | number): this { return this._inplace('scatter_', (x) => SC.scatter(x, dim, index, src)); }
  scatterAdd_(dim: number, index: Tensor, src: Tensor): this { return this._inplace('scatterAdd_', (x) => SC.scatterAdd(x, dim, index, src)); }
  indexAdd_(dim: number, index: Tensor, source: Tensor, options?: SC.IndexAddOptions): this { return this._inplace('indexAdd_', (x) => SC.indexAdd(x, dim, index, source, options)); }
  indexPut_(indices: readonly Tensor[], values: Tensor | number, options?: SC.IndexPutOptions): this { return this._inplace('indexPut_', (x) => SC.indexPut(x, indices, values, options)); }
  tril_(diagonal = 0): this { return this._inplace('tril_', (x) => TO.tril(x, diagonal)); }
  triu_(diagonal = 0): this { return this._inplace('triu_', (x) => TO.triu(x, diagonal)); }
  lerp_(end: Tensor, weight: TensorLike): this { return this._inplace('lerp_', (x) => TO.lerp(x, end, weight)); }
  nanToNum_(options?: TO.NanToNumOptions): this { return this._inplace('nanToNum_', (x) => TO.nanToNum(x, options)); }
}

