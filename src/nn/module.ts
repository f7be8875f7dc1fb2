// nn.Module: parameters are tensor fields that require grad; submodules are Module fields. Both are
// also found inside arrays (nested), plain objects and Maps held by a field; a Set holding them is
// an error (its entries have no names).
import { KilnError, ShapeError, fmtShape } from '../core/errors.js';
import { noGrad } from '../autograd.js';
import { shapesEqual } from '../core/shape.js';
import { Tensor } from '../tensor.js';

/** Base class of layers and models. Subclasses define forward(). */
export abstract class Module {
  /** True in training mode (dropout active); set by train()/eval(). */
  training = true;

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

  /** Name -> tensor (shared, not copied), as torch's state_dict. */
  stateDict(): Record<string, Tensor> {
    return Object.fromEntries(this.namedTensors());
  }

  /** Copies values into this module's tensors; names and shapes must match (strict). */
  loadStateDict(state: Record<string, Tensor>, strict = true): void {
    const mine = new Map(this.namedTensors());
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
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;

/** Walks a module's own fields into arrays, plain objects and Maps, reporting modules and tensors (not inside modules). */
function holdings(m: Module, onModule: (name: string, m: Module) => void, onTensor: (name: string, t: Tensor) => void): void {
  const seen = new Set<unknown>();
  const walk = (v: unknown, name: string): void => {
    if (v instanceof Module) { onModule(name, v); return; }
    if (v instanceof Tensor) { onTensor(name, v); return; }
    if (!v || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${name}.${i}`));
    else if (v instanceof Map) v.forEach((x, key) => walk(x, `${name}.${String(key)}`));
    else if (isPlainObject(v)) for (const [k, x] of Object.entries(v)) walk(x, `${name}.${k}`);
    else if (v instanceof Set && [...v].some((x) => x instanceof Module || x instanceof Tensor)) {
      throw new KilnError(`${m.constructor.name}.${name}: a Set holds modules or tensors, which then have no names; keep them in an array, a plain object or a Map`);
    }
  };
  for (const [k, v] of Object.entries(m)) walk(v, k);
}
