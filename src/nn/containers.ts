// Containers (ModuleList, ModuleDict, ParameterList) and Identity, as torch.nn's. Their entries are
// ordinary fields named by index or key, so parameter discovery, stateDict() names ('layers.0.weight'),
// train()/eval() and compile() see them as any submodule or parameter.
import { KilnError } from '../core/errors.js';
import { Tensor } from '../tensor.js';
import { Module } from './module.js';

type Fields = Record<string, unknown>;

/** A list of modules, registered as fields '0', '1', ... (indexable, iterable). */
export class ModuleList<M extends Module = Module> extends Module {
  [index: number]: M;

  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  /** The number of modules. */
  override get length(): number {
    let n = 0;
    while ((this as unknown as Fields)[String(n)] !== undefined) n++;
    return n;
  }

  /** Adds a module at the end. */
  append(m: M): this {
    if (!(m instanceof Module)) throw new KilnError(`ModuleList.append: expected a Module, got ${describe(m)}`);
    Object.defineProperty(this, String(this.length), { value: m, enumerable: true, writable: true, configurable: true });
    return this;
  }

  /** Appends every module of `ms`. */
  extend(ms: Iterable<M>): this {
    for (const m of ms) this.append(m);
    return this;
  }

  /** The module at `i` (negative counts from the end). */
  at(i: number): M | undefined {
    const n = this.length;
    const j = i < 0 ? i + n : i;
    return j >= 0 && j < n ? this[j] : undefined;
  }

  [Symbol.iterator](): Iterator<M> {
    const items: M[] = [];
    for (let i = 0; i < this.length; i++) items.push(this[i]);
    return items[Symbol.iterator]();
  }

  /** A ModuleList holds modules for a parent to call; it has no forward of its own (as torch's). */
  forward(): never {
    throw new KilnError('ModuleList has no forward(): iterate over it and call its modules');
  }
}

/** Modules by name, registered as fields of those names. */
export class ModuleDict<M extends Module = Module> extends Module {
  [key: string]: unknown;

  constructor(modules: Record<string, M> | Iterable<[string, M]> = {}) {
    super();
    const entries = Symbol.iterator in Object(modules) ? [...(modules as Iterable<[string, M]>)] : Object.entries(modules as Record<string, M>);
    for (const [k, m] of entries) this.set(k, m);
  }

  /** Adds (or replaces) the module `key`. */
  set(key: string, m: M): this {
    if (typeof key !== 'string' || key === '' || key.includes('.')) throw new KilnError(`ModuleDict: keys must be non-empty strings without '.', got ${JSON.stringify(key)}`);
    if (!(m instanceof Module)) throw new KilnError(`ModuleDict: entry ${key} must be a Module, got ${describe(m)}`);
    const existing = (this as Fields)[key];
    if (key in this && !(existing instanceof Module)) throw new KilnError(`ModuleDict: key '${key}' clashes with a member of ModuleDict`);
    Object.defineProperty(this, key, { value: m, enumerable: true, writable: true, configurable: true });
    return this;
  }

  /** The module `key`, if any. */
  get(key: string): M | undefined {
    const v = Object.prototype.hasOwnProperty.call(this, key) ? (this as Fields)[key] : undefined;
    return v instanceof Module ? v as M : undefined;
  }

  has(key: string): boolean { return this.get(key) !== undefined; }

  keys(): string[] { return this.entries().map(([k]) => k); }
  values(): M[] { return this.entries().map(([, m]) => m); }
  entries(): [string, M][] {
    return Object.entries(this).filter((e): e is [string, M] => e[1] instanceof Module);
  }

  forward(): never {
    throw new KilnError('ModuleDict has no forward(): call its modules by key');
  }
}

/** A list of trainable tensors, registered as fields '0', '1', ... */
export class ParameterList extends Module {
  [index: number]: Tensor;

  constructor(params: Iterable<Tensor> = []) {
    super();
    for (const p of params) this.append(p);
  }

  override get length(): number {
    let n = 0;
    while ((this as unknown as Fields)[String(n)] !== undefined) n++;
    return n;
  }

  /** Adds a tensor at the end; it becomes trainable (requiresGrad), as nn.Parameter would make it. */
  append(p: Tensor): this {
    if (!(p instanceof Tensor)) throw new KilnError(`ParameterList.append: expected a Tensor, got ${describe(p)}`);
    if (!p.requiresGrad) p.requiresGrad_(true);
    Object.defineProperty(this, String(this.length), { value: p, enumerable: true, writable: true, configurable: true });
    return this;
  }

  extend(ps: Iterable<Tensor>): this {
    for (const p of ps) this.append(p);
    return this;
  }

  [Symbol.iterator](): Iterator<Tensor> {
    const items: Tensor[] = [];
    for (let i = 0; i < this.length; i++) items.push(this[i]);
    return items[Symbol.iterator]();
  }

  forward(): never {
    throw new KilnError('ParameterList has no forward(): use its tensors in a parent module');
  }
}

/** Returns its input (a placeholder layer). */
export class Identity extends Module {
  constructor(..._args: unknown[]) { super(); }
  forward(x: Tensor): Tensor { return x; }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object' || typeof v === 'function') return (v as object).constructor?.name ?? typeof v;
  return typeof v;
}
