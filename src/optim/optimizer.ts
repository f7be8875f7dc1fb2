// The optimizer base, torch.optim.Optimizer's model: parameter groups with their own options, state
// per parameter, zeroGrad(), step(closure?), stateDict()/loadStateDict().
//
// Compile-safety: every value an update reads is a tensor. Options are plain numbers to the user
// (`group.lr = 0.01`), but each group keeps the scalars its update needs as 0-d runtime tensors,
// refreshed in place when an option is set, so a compiled step (which captures them by reference)
// sees every new value without a retrace. State (moments, step counts) is tensors created up front
// and updated in place. Boolean options decide the shape of the update itself: once a compiled
// function has traced a group's update, changing one is an error rather than silently ignored.
import type { BackendName } from '../core/backend.js';
import { KilnError, fmtShape } from '../core/errors.js';
import { shapesEqual } from '../core/shape.js';
import { noGrad, withGradMode } from '../autograd.js';
import { getBackend } from '../core/backend.js';
import { full } from '../creation.js';
import { activeTracer } from '../dispatch.js';
import { Tensor } from '../tensor.js';
import { keep } from '../tidy.js';
import { camelCase, checkOption, resolveOptions, type OptionSpec, type OptionValue } from './options.js';
import { Scratch, runsEveryCall, setScalar, type UpdateContext } from './update.js';

/** A parameter group: its parameters, its options (plain values, settable), and any extra keys. */
export type ParamGroup<O> = { params: Tensor[] } & { -readonly [K in keyof O]-?: Exclude<O[K], undefined> } & Record<string, unknown>;

/** A parameter group as passed to a constructor: parameters plus options overriding the defaults. */
export type ParamGroupSpec<O> = { params: Iterable<Tensor> } & O & Record<string, unknown>;

/** What an optimizer accepts as parameters: tensors, or parameter groups. */
export type Params<O> = Iterable<Tensor> | Iterable<ParamGroupSpec<O>>;

/** An optimizer's state: per-parameter tensors by parameter index, and the groups' options (torch's layout). */
export interface OptimizerStateDict {
  state: Record<number, Record<string, Tensor>>;
  paramGroups: (Record<string, unknown> & { params: number[] })[];
}

export interface ZeroGradOptions {
  /** Set each .grad to null (default, as torch) instead of filling it with zeros. */
  setToNone?: boolean;
}

interface GroupInternals {
  values: Record<string, OptionValue>;
  /** The float64 values of the scalars, and their 0-d tensors per backend. */
  scalarValues: Record<string, number>;
  readonly scalars: Map<BackendName, Record<string, Tensor>>;
  /** Set once compile() has traced this group's update. */
  traced: boolean;
}

/** Base of every optimizer. Subclasses declare their options and write `initState` and `update`. */
export abstract class Optimizer<O extends object = Record<string, unknown>> {
  /** The options every group starts from (the constructor's options over the optimizer's defaults). */
  readonly defaults: Readonly<Record<string, OptionValue>>;
  /** The parameter groups; set `group.lr` (or any option) to change it, also between compiled calls. */
  readonly paramGroups: ParamGroup<O>[] = [];
  /** Per-parameter state tensors (moments, step counts), as torch's `optimizer.state`. */
  readonly state = new Map<Tensor, Record<string, Tensor>>();
  private readonly internals = new WeakMap<object, GroupInternals>();
  private readonly specByName: Map<string, OptionSpec>;
  /** Parameters that have taken a step (stateDict() lists their state, as torch does). */
  protected readonly stepped = new Set<Tensor>();

  protected constructor(params: Params<O>, options: O | undefined, protected readonly specs: readonly OptionSpec[]) {
    this.specByName = new Map(specs.map((s) => [s.name, s]));
    const base = Object.fromEntries(specs.map((s) => [s.name, s.default])) as Record<string, OptionValue>;
    if (options !== undefined && (typeof options !== 'object' || options === null || options instanceof Tensor)) {
      throw new KilnError(`${this.name}: options must be an object, got ${options instanceof Tensor ? 'a Tensor' : String(options)}`);
    }
    this.defaults = Object.freeze(resolveOptions(this.name, specs, (options ?? {}) as Record<string, unknown>, base, true).values);
    this.checkCombination(this.defaults);
    if (params instanceof Tensor) throw new KilnError(`${this.name}: params must be an iterable of tensors or parameter groups, got a single Tensor; pass [tensor]`);
    if (params === null || params === undefined || typeof (params as Iterable<unknown>)[Symbol.iterator] !== 'function') {
      throw new KilnError(`${this.name}: params must be an iterable of tensors or parameter groups, got ${String(params)}`);
    }
    const list = [...(params as Iterable<unknown>)];
    if (list.length === 0) throw new KilnError(`${this.name}: got an empty parameter list`);
    const groups = list.every((x) => x instanceof Tensor) ? [{ params: list as Tensor[] }] : list;
    groups.forEach((g, i) => {
      if (g instanceof Tensor || !g || typeof g !== 'object') {
        throw new KilnError(`${this.name}: params mixes tensors and parameter groups (entry ${i}); pass all tensors or all { params, ... } groups`);
      }
      this.addParamGroup(g as ParamGroupSpec<O>);
    });
  }

  /** The optimizer's name in messages (the class name). */
  get name(): string { return this.constructor.name; }

  /** Adds a parameter group (options missing from it come from the defaults), as torch's add_param_group. */
  addParamGroup(spec: ParamGroupSpec<O>): void {
    const gi = this.paramGroups.length;
    if (!spec || typeof spec !== 'object' || !('params' in spec)) throw new KilnError(`${this.name}: parameter group ${gi} needs a params list`);
    const raw = spec.params as unknown;
    if (raw instanceof Tensor) throw new KilnError(`${this.name}: parameter group ${gi}: params must be a list of tensors, got a single Tensor; pass [tensor]`);
    if (!raw || typeof (raw as Iterable<unknown>)[Symbol.iterator] !== 'function') throw new KilnError(`${this.name}: parameter group ${gi}: params must be a list of tensors, got ${String(raw)}`);
    const params = [...(raw as Iterable<unknown>)];
    const seen = new Set<Tensor>();
    params.forEach((p, i) => {
      const where = `parameter ${i} of group ${gi}`;
      if (!(p instanceof Tensor)) throw new KilnError(`${this.name}: ${where} is not a Tensor (got ${p === null ? 'null' : typeof p})`);
      if (!p.isLeaf) throw new KilnError(`${this.name}: ${where} is not a leaf tensor (it was computed by ${p.gradFn}); optimize the leaves, or detach() it and set requiresGrad`);
      if (p.dtype !== 'float32') throw new KilnError(`${this.name}: ${where} has dtype ${p.dtype}; only float32 tensors can be optimized`);
      if (seen.has(p)) throw new KilnError(`${this.name}: ${where} appears twice in the group`);
      seen.add(p);
      if (this.state.has(p)) throw new KilnError(`${this.name}: ${where} is already in another parameter group; a parameter may belong to one group only`);
    });
    const { values, extra } = resolveOptions(this.name, this.specs, spec as Record<string, unknown>, { ...this.defaults }, false);
    this.checkCombination(values);
    const group = { params: params as Tensor[] } as ParamGroup<O>;
    const internals: GroupInternals = { values, scalarValues: this.scalarsOf(values), scalars: new Map(), traced: false };
    this.internals.set(group, internals);
    for (const s of this.specs) {
      Object.defineProperty(group, s.name, {
        enumerable: true,
        get: () => internals.values[s.name],
        set: (v: unknown) => this.setOption(group, s.name, v),
      });
    }
    Object.assign(group, extra);
    for (const p of group.params) {
      this.state.set(p, keepAll(noGrad(() => this.initState(p, values))));
      this.scalarsFor(internals, p.backend);
    }
    this.paramGroups.push(group);
  }

  /** Clears gradients: to null (default) or, with setToNone: false, to zeros in place. */
  zeroGrad(opts: ZeroGradOptions = {}): void {
    const setToNone = opts.setToNone ?? true;
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (!p.grad) continue;
        if (setToNone) { p.grad = null; continue; }
        if (p.grad.requiresGrad) p.grad = p.grad.detach();
        noGrad(() => p.grad!.zero_());
      }
    }
  }

  /**
   * Applies one update from the current gradients (parameters whose .grad is null are skipped). With
   * a closure, runs it first with gradients on (it should zero the grads, compute the loss and call
   * backward) and returns its loss.
   */
  step<L = undefined>(closure?: () => L): L | undefined {
    let loss: L | undefined;
    if (closure) loss = withGradMode(true, closure);
    const tracing = activeTracer() !== null;
    noGrad(() => {
      for (const group of this.paramGroups) {
        const gi = this.internals.get(group)!;
        for (const p of group.params) {
          const grad = p.grad;
          if (!grad) continue;
          if (grad.dtype !== 'float32' || grad.backend !== p.backend || !shapesEqual(grad.shape, p.shape)) {
            throw new KilnError(`${this.name}: the gradient of a parameter ${fmtShape(p.shape)}:${p.dtype} on ${p.backend} is ${fmtShape(grad.shape)}:${grad.dtype} on ${grad.backend}`);
          }
          if (tracing) gi.traced = true;
          const tmp = new Scratch(tracing);
          const sync = !tracing && getBackend(p.backend).syncReads;
          const scratch = (name: string, value: number) => this.scratchScalar(p.backend, name, value);
          this.update({ p, grad, state: this.state.get(p)!, s: this.scalarsFor(gi, p.backend), v: gi.values, tracing, sync, scratch, stepped: this.stepped.has(p), tmp });
          tmp.freeAll();
          this.stepped.add(p);
        }
      }
    });
    return loss;
  }

  /** The state as torch lays it out: `state` by parameter index (stepped ones), `paramGroups` with options. */
  stateDict(): OptimizerStateDict {
    let next = 0;
    const index = new Map<Tensor, number>();
    const paramGroups = this.paramGroups.map((g) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(g)) if (k !== 'params') out[k] = Array.isArray(v) ? [...v] : v;
      out.params = g.params.map((p) => { index.set(p, next); return next++; });
      return out as Record<string, unknown> & { params: number[] };
    });
    const state: Record<number, Record<string, Tensor>> = {};
    for (const [p, i] of index) {
      if (!this.stepped.has(p)) continue;
      // Keys starting with _ are kiln's own bookkeeping, rebuilt on load.
      state[i] = Object.fromEntries(Object.entries(this.state.get(p)!).filter(([k]) => !k.startsWith('_')));
    }
    return { state, paramGroups };
  }

  /**
   * Loads a state dict from stateDict() (or torch's: `param_groups`, snake_case names): options are set
   * group by group and state is copied into this optimizer's own tensors, so compiled steps that
   * captured them keep working.
   */
  loadStateDict(sd: OptimizerStateDict | Record<string, unknown>): void {
    const raw = sd as Record<string, unknown>;
    const groups = (raw.paramGroups ?? raw.param_groups) as Record<string, unknown>[] | undefined;
    const state = (raw.state ?? {}) as Record<string, Record<string, unknown>>;
    if (!Array.isArray(groups)) throw new KilnError(`${this.name}.loadStateDict: the state dict has no paramGroups list`);
    if (groups.length !== this.paramGroups.length) {
      throw new KilnError(`${this.name}.loadStateDict: the state dict has ${groups.length} parameter groups, this optimizer ${this.paramGroups.length}`);
    }
    groups.forEach((g, i) => {
      const n = Array.isArray(g.params) ? g.params.length : -1;
      if (n !== this.paramGroups[i].params.length) {
        throw new KilnError(`${this.name}.loadStateDict: group ${i} has ${n} parameters in the state dict, ${this.paramGroups[i].params.length} here`);
      }
    });
    // Check everything before changing anything, so a bad dict leaves the optimizer as it was.
    const IGNORED = ['foreach', 'capturable', 'differentiable', 'fused', 'decoupledWeightDecay'];
    const newValues = groups.map((g, i) => {
      const gi = this.internals.get(this.paramGroups[i])!;
      const given = Object.fromEntries(Object.entries(g).map(([k, v]) => [camelCase(k), v]).filter(([k]) => this.specByName.has(k as string)));
      const { values } = resolveOptions(`${this.name}.loadStateDict`, this.specs, given, gi.values, false);
      this.checkCombination(values);
      if (gi.traced && this.structure(values) !== this.structure(gi.values)) {
        throw new KilnError(`${this.name}.loadStateDict: group ${i} changes options that compile() traced (${this.structure(values)} vs ${this.structure(gi.values)}); load into a new optimizer instead`);
      }
      return values;
    });
    const byIndex = new Map<number, [Tensor, number]>();
    groups.forEach((g, gi) => (g.params as number[]).forEach((id, j) => byIndex.set(Number(id), [this.paramGroups[gi].params[j], gi])));
    for (const key of Object.keys(state)) {
      if (!byIndex.has(Number(key))) throw new KilnError(`${this.name}.loadStateDict: state for parameter index ${key}, which no group lists`);
    }
    const plans: [Tensor, Record<string, Tensor | number> | null][] = [];
    for (const [id, [p, gi]] of byIndex) {
      const entry = state[id] ?? null;
      if (!entry) { plans.push([p, null]); continue; }
      // The state the loaded options need, to check shapes against.
      const want = noGrad(() => this.initState(p, newValues[gi]));
      const src: Record<string, Tensor | number> = {};
      try {
        for (const [k0, v] of Object.entries(entry)) {
          const k = camelCase(k0);
          const dst = want[k];
          if (!dst) continue; // state this configuration does not use
          if (typeof v === 'number') { src[k] = v; continue; }
          if (!(v instanceof Tensor)) throw new KilnError(`${this.name}.loadStateDict: state ${k0} of parameter ${id} is not a tensor`);
          if (!shapesEqual(v.shape, dst.shape)) {
            throw new KilnError(`${this.name}.loadStateDict: state ${k0} of parameter ${id} has shape ${fmtShape(v.shape)}, expected ${fmtShape(dst.shape)}`);
          }
          src[k] = v;
        }
      } finally { for (const t of Object.values(want)) t.dispose(); }
      plans.push([p, src]);
    }
    groups.forEach((g, i) => {
      const group = this.paramGroups[i] as Record<string, unknown>;
      for (const [k0, v] of Object.entries(g)) {
        const k = camelCase(k0);
        if (k0 !== 'params' && !IGNORED.includes(k)) group[k] = v;
      }
    });
    noGrad(() => {
      for (const [p, src] of plans) {
        const mine = this.state.get(p)!;
        if (!src) { this.resetState(p); continue; }
        const values = this.internals.get(this.groupOf(p))!.values;
        const fresh = this.initState(p, values);
        for (const [k, dst] of Object.entries(mine)) {
          const v = src[k];
          if (v === undefined) dst.copy_(fresh[k]);
          else if (typeof v === 'number') setScalar(dst, v);
          else dst.copy_(v.backend === dst.backend ? v : v.to(dst.backend));
        }
        for (const t of Object.values(fresh)) t.dispose();
        this.stepped.add(p);
        this.afterLoad(p, Object.keys(src));
      }
    });
  }

  // ----- for subclasses ------------------------------------------------------------------------

  /** Fresh state tensors for a parameter under these options. */
  protected abstract initState(p: Tensor, v: Readonly<Record<string, OptionValue>>): Record<string, Tensor>;
  /** The scalars the update reads, in float64 from the options (become 0-d tensors). */
  protected abstract scalarsOf(v: Readonly<Record<string, OptionValue>>): Record<string, number>;
  /** One parameter's update (runs under noGrad). */
  protected abstract update(c: UpdateContext): void;
  /** Cross-option rules (e.g. nesterov needs momentum); throw a KilnError naming the options. */
  protected checkCombination(_v: Readonly<Record<string, OptionValue>>): void {}
  /** What the traced update's shape depends on: boolean options, and options that decide which state exists. */
  protected structure(v: Readonly<Record<string, OptionValue>>): string {
    return this.specs.filter((s) => s.kind === 'boolean').map((s) => `${s.name}=${v[s.name]}`).join(',');
  }
  /** Called after state was loaded for a parameter (the keys that came from the dict). */
  protected afterLoad(_p: Tensor, _loadedKeys: readonly string[]): void {}

  /** Puts a parameter's state back to its initial values. */
  protected resetState(p: Tensor): void {
    const values = this.internals.get(this.groupOf(p))!.values;
    const fresh = this.initState(p, values);
    const mine = this.state.get(p)!;
    for (const [k, dst] of Object.entries(mine)) dst.copy_(fresh[k]);
    for (const t of Object.values(fresh)) t.dispose();
    this.stepped.delete(p);
  }

  private groupOf(p: Tensor): ParamGroup<O> {
    return this.paramGroups.find((g) => g.params.includes(p))!;
  }

  // ----- options as runtime scalars ------------------------------------------------------------

  private scalarsFor(gi: GroupInternals, backend: BackendName): Record<string, Tensor> {
    let s = gi.scalars.get(backend);
    if (!s) {
      // Created before any trace reads them, so compile() captures them as inputs.
      s = keepAll(Object.fromEntries(Object.entries(gi.scalarValues).map(([k, v]) => [k, full([], v, { dtype: 'float32', backend })])));
      gi.scalars.set(backend, s);
    }
    return s;
  }

  private readonly scratchSlots = new Map<BackendName, Map<string, Tensor>>();

  private scratchScalar(backend: BackendName, name: string, value: number): Tensor {
    let slots = this.scratchSlots.get(backend);
    if (!slots) this.scratchSlots.set(backend, slots = new Map());
    let t = slots.get(name);
    if (!t) slots.set(name, t = keep(full([], value, { dtype: 'float32', backend })));
    else setScalar(t, value);
    return t;
  }

  private setOption(group: ParamGroup<O>, name: string, raw: unknown): void {
    const gi = this.internals.get(group)!;
    const spec = this.specByName.get(name)!;
    const value = checkOption(this.name, spec, raw);
    const next = { ...gi.values, [name]: value };
    this.checkCombination(next);
    if (gi.traced && this.structure(next) !== this.structure(gi.values)) {
      throw new KilnError(
        `${this.name}: cannot change ${name} to ${String(raw)} after compile() traced this group's update: it decides the shape of ` +
        'the compiled update, which would silently ignore it; create a new optimizer (and compiled step) instead');
    }
    const scalars = this.scalarsOf(next);
    const changed = Object.keys(scalars).filter((k) => !Object.is(scalars[k], gi.scalarValues[k]));
    // Inside a compiled function the setter must run on every call (a replay would skip it and keep
    // the traced value), even when this call's value is unchanged: a graph break ensures that.
    runsEveryCall(`${this.name}: option ${name} set inside the compiled function (e.g. by an LR scheduler's step())`);
    gi.values = next;
    gi.scalarValues = scalars;
    noGrad(() => {
      for (const ts of gi.scalars.values()) for (const k of changed) setScalar(ts[k], scalars[k]);
      // State a new structure needs (e.g. amsgrad's running maximum) is added, never dropped.
      for (const p of group.params) {
        const mine = this.state.get(p)!;
        const fresh = this.initState(p, next);
        for (const [k, t] of Object.entries(fresh)) { if (mine[k]) t.dispose(); else mine[k] = keep(t); }
      }
    });
  }

}

/** The optimizer's own tensors outlive any tidy() they were made in (state made in a setup scope). */
function keepAll<T extends Record<string, Tensor>>(ts: T): T {
  for (const t of Object.values(ts)) keep(t);
  return ts;
}
