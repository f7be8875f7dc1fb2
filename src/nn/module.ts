// nn.Module: parameters are tensor fields that require grad; submodules are Module fields. Both are
// also found inside arrays (nested), plain objects and Maps held by a field; a Set holding them is
// an error (its entries have no names).
import type { BackendName } from '../core/backend.js';
import { KilnError, ShapeError, fmtShape } from '../core/errors.js';
import { noGrad } from '../autograd.js';
import { shapesEqual } from '../core/shape.js';
import { Tensor, expectTensor } from '../tensor.js';

/**
 * Checks the tensor arguments of a module's forward, given by name (`{ input: x }`): one that is not a
 * tensor is a KilnError naming `Module.forward` and the argument, before the layer's ops see it.
 */
export function forwardInputs(module: string, args: Record<string, unknown>): void {
  for (const [name, v] of Object.entries(args)) expectTensor(`${module}.forward`, `the ${name}`, v);
}

/** A module is callable: `model(x)` is `model.forward(x)`, typed as forward is. */
export interface Module {
  (...args: Parameters<this['forward']>): ReturnType<this['forward']>;
}

/**
 * Base class of layers and models. Subclasses define forward(); instances are callable as torch's
 * are (`model(x)`): the constructor returns a function object with the subclass's prototype, so
 * fields, methods and `instanceof` work as on any object.
 */
export abstract class Module {
  /** True in training mode (dropout active); set by train()/eval(). */
  declare training: boolean;

  constructor() {
    // NOTE: a base class's field initialisers would run on the discarded `this`: set fields here.
    // forward is looked up at each call, so compile(model) and later reassignments take effect.
    const self = ((...args: unknown[]) => self.forward(...args)) as unknown as Module;
    Object.setPrototypeOf(self, new.target.prototype);
    // A function's own `length` and `name` would shadow members of that name (ModuleList.length).
    delete (self as { length?: number }).length;
    delete (self as { name?: string }).name;
    self.training = true;
    return self;
  }

  abstract forward(...args: any[]): any;

  /** Same as forward(...args). */
  call(...args: any[]): any { return this.forward(...args); }

  /** Child modules by field name (entries of arrays, plain objects and Maps named `field.key`). */
  namedChildren(): [string, Module][] {
    const out: [string, Module][] = [];
    holdings(this, (name, m) => out.push([name, m]), () => {});
    return out;
  }

  /** Tensors of this module and its children, with dotted names (parameters and buffers), each once. */
  namedTensors(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    const add = (name: string, t: Tensor) => { if (!seen.has(t)) { seen.add(t); out.push([name, t]); } };
    holdings(this, () => {}, (name, t) => add(prefix + name, t));
    for (const [k, m] of this.namedChildren()) for (const [n, t] of m.namedTensors(`${prefix}${k}.`)) add(n, t);
    return out;
  }

  /** Trainable tensors (requiresGrad), with dotted names. */
  namedParameters(): [string, Tensor][] {
    return this.namedTensors().filter(([, t]) => t.requiresGrad);
  }

  parameters(): Tensor[] { return this.namedParameters().map(([, t]) => t); }

  /** Sets training mode here and in every child. */
  train(mode = true): this {
    this.training = mode;
    for (const [, m] of this.namedChildren()) m.train(mode);
    return this;
  }

  eval(): this { return this.train(false); }

  /** Clears every parameter's .grad. */
  zeroGrad(): void { for (const p of this.parameters()) p.grad = null; }

  /** Name -> tensor (shared, not copied), as torch's state_dict (non-persistent buffers left out). */
  stateDict(): Record<string, Tensor> {
    const skip = new Set(nonPersistentNames(this, ''));
    return Object.fromEntries(this.namedTensors().filter(([k]) => !skip.has(k)));
  }

  /** Copies values into this module's tensors; names and shapes must match (strict). */
  loadStateDict(state: Record<string, Tensor>, strict = true): void {
    const mine = new Map(Object.entries(this.stateDict()));
    if (strict) {
      const missing = [...mine.keys()].filter((k) => !(k in state));
      const extra = Object.keys(state).filter((k) => !mine.has(k));
      if (missing.length || extra.length) {
        throw new KilnError(`loadStateDict: missing keys [${missing.join(', ')}], unexpected keys [${extra.join(', ')}]`);
      }
    }
    noGrad(() => {
      for (const [k, src] of Object.entries(state)) {
        const dst = mine.get(k);
        if (!dst) continue;
        if (!shapesEqual(dst.shape, src.shape)) {
          throw new ShapeError(`loadStateDict: ${k} has shape ${fmtShape(src.shape)} but the module expects ${fmtShape(dst.shape)}`);
        }
        dst.copy_(src.backend === dst.backend ? src : src.to(dst.backend));
      }
    });
  }

  /** Calls `fn` on every submodule (children first, recursively) and then on this module, as torch's apply. */
  apply(fn: (m: Module) => void): this {
    for (const [, m] of this.namedChildren()) m.apply(fn);
    fn(this);
    return this;
  }

  /**
   * Adds a buffer: a tensor that is part of the module's state (in stateDict(), unless persistent is
   * false) but not a parameter (running statistics, masks). It becomes the field `name`.
   */
  registerBuffer(name: string, tensor: Tensor | null, persistent = true): void {
    if (typeof name !== 'string' || name === '' || name.includes('.')) throw new KilnError(`registerBuffer: buffer name must be a non-empty string without ".", got ${JSON.stringify(name)}`);
    const own = bufferNames.get(this) ?? new Map<string, boolean>();
    if (name in this && !own.has(name)) throw new KilnError(`registerBuffer: ${this.constructor.name} already has an attribute ${name}`);
    if (tensor !== null && !(tensor instanceof Tensor)) throw new KilnError(`registerBuffer: buffer ${name} must be a Tensor or null`);
    if (tensor?.requiresGrad) throw new KilnError(`registerBuffer: buffer ${name} requires grad, so it would be trained as a parameter; detach() it, or make it a parameter`);
    own.set(name, persistent);
    bufferNames.set(this, own);
    (this as Record<string, unknown>)[name] = tensor;
  }

  /**
   * Buffers of this module and its children, with dotted names: the tensor fields that are not
   * parameters (registered with registerBuffer or not, as kiln's running statistics are).
   */
  namedBuffers(): [string, Tensor][] {
    return this.namedTensors().filter(([, t]) => !t.requiresGrad);
  }

  buffers(): Tensor[] { return this.namedBuffers().map(([, t]) => t); }

  /**
   * Moves every parameter and buffer (and their .grad) to `backend`, as torch's module.to(device):
   * the fields are replaced by copies, so build optimizers after moving. From webgpu use toAsync().
   */
  to(backend: BackendName): this {
    checkBackendName(backend);
    const moved = new Map<Tensor, Tensor>(); // a tensor held twice (tied weights) stays one tensor
    for (const { t, set } of allTensorFields(this)) {
      if (!moved.has(t)) moved.set(t, moveTensor(t, t.to(backend), t.grad?.to(backend)));
      set(moved.get(t)!);
    }
    return this;
  }

  /** to(), reading asynchronously (works from webgpu). */
  async toAsync(backend: BackendName): Promise<this> {
    checkBackendName(backend);
    const moved = new Map<Tensor, Tensor>();
    for (const { t, set } of allTensorFields(this)) {
      if (!moved.has(t)) moved.set(t, moveTensor(t, await t.toAsync(backend), await t.grad?.toAsync(backend)));
      set(moved.get(t)!);
    }
    return this;
  }
}

/** Buffer names registered per module, with their persistence. */
const bufferNames = new WeakMap<Module, Map<string, boolean>>();

function nonPersistentNames(m: Module, prefix: string): string[] {
  const out = [...(bufferNames.get(m) ?? [])].filter(([, persistent]) => !persistent).map(([n]) => prefix + n);
  for (const [k, c] of m.namedChildren()) out.push(...nonPersistentNames(c, `${prefix}${k}.`));
  return out;
}

function checkBackendName(backend: unknown): void {
  if (backend !== 'cpu' && backend !== 'wasm' && backend !== 'webgpu') {
    throw new KilnError(`Module.to: expected a backend ('cpu', 'wasm' or 'webgpu'), got ${JSON.stringify(backend)}`);
  }
}

/** The moved copy of a tensor: a leaf keeps requiresGrad, and its gradient moves with it. */
function moveTensor(t: Tensor, moved: Tensor, grad: Tensor | undefined): Tensor {
  if (moved === t) return t;
  if (t.requiresGrad && !moved.requiresGrad) moved.requiresGrad_(true);
  if (grad) moved.grad = grad;
  return moved;
}

/** The tensor fields of a module and of every module under it (each module once). */
function allTensorFields(root: Module): { t: Tensor; set: (t: Tensor) => void }[] {
  const out: { t: Tensor; set: (t: Tensor) => void }[] = [];
  const seen = new Set<Module>();
  const visit = (m: Module) => {
    if (seen.has(m)) return;
    seen.add(m);
    out.push(...tensorFields(m));
    for (const [, c] of m.namedChildren()) visit(c);
  };
  visit(root);
  return out;
}

/** This module's own tensors (in fields, arrays, plain objects and Maps), each with a setter that replaces it. */
function tensorFields(m: Module): { t: Tensor; set: (t: Tensor) => void }[] {
  const out: { t: Tensor; set: (t: Tensor) => void }[] = [];
  holdings(m, () => {}, (_, t, set) => out.push({ t, set }));
  return out;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;

/**
 * Walks a module's own fields into arrays, plain objects and Maps, reporting modules and tensors (not
 * inside modules); a tensor comes with a setter that replaces it where it is held.
 */
function holdings(m: Module, onModule: (name: string, m: Module) => void, onTensor: (name: string, t: Tensor, set: (t: Tensor) => void) => void): void {
  const seen = new Set<unknown>();
  const walk = (v: unknown, name: string, set: (t: Tensor) => void): void => {
    if (v instanceof Module) { onModule(name, v); return; }
    if (v instanceof Tensor) { onTensor(name, v, set); return; }
    if (!v || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${name}.${i}`, (t) => { v[i] = t; }));
    else if (v instanceof Map) v.forEach((x, key) => walk(x, `${name}.${String(key)}`, (t) => { v.set(key, t); }));
    else if (isPlainObject(v)) for (const [k, x] of Object.entries(v)) walk(x, `${name}.${k}`, (t) => { v[k] = t; });
    else if (v instanceof Set && [...v].some((x) => x instanceof Module || x instanceof Tensor)) {
      throw new KilnError(`${m.constructor.name}.${name}: a Set holds modules or tensors, which then have no names; keep them in an array, a plain object or a Map`);
    }
  };
  const rec = m as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(rec)) walk(v, k, (t) => { rec[k] = t; });
}
