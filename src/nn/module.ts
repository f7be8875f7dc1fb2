// nn.Module: parameters are tensor fields that require grad; submodules are Module fields (or arrays of them).
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

  /** Child modules by field name (array entries named `field.i`). */
  namedChildren(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [k, v] of Object.entries(this)) {
      if (v instanceof Module) out.push([k, v]);
      else if (Array.isArray(v)) v.forEach((m, i) => { if (m instanceof Module) out.push([`${k}.${i}`, m]); });
    }
    return out;
  }

  /** Tensor fields of this module and its children, with dotted names (parameters and buffers). */
  namedTensors(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [k, v] of Object.entries(this)) if (v instanceof Tensor) out.push([prefix + k, v]);
    for (const [k, m] of this.namedChildren()) out.push(...m.namedTensors(`${prefix}${k}.`));
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
