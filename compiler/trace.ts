// Tracing: while a compiled function runs, every op yields a lazy tensor recorded as a graph node, and
// every leaf (argument, captured tensor, constant, random draw) is bound to the tensor this call used.
// Views and in-place writes are functionalized: a view shares a base with what it views, a write into
// a view scatters into its base, and a read of a view sees its base's current value (see views.ts);
// writes into real tensors are committed when the call completes, all at once. A read of a concrete
// value (item(), data(), printing) is a graph break: what it needs is computed and tracing goes on.
// A trace can be checked against cached graphs as it records (Candidate): that is how a cache hit
// proves, op by op, that this call's JavaScript computes what a cached program computes.
import type { BackendName } from '../src/core/backend.js';
import type { DType } from '../src/core/dtype.js';
import { KilnError, fmtShape } from '../src/core/errors.js';
import { contiguousView, isContiguousView, type View } from '../src/core/kernel.js';
import { shapesEqual, sizeOf } from '../src/core/shape.js';
import { drawRandom, fromTypedArray, typedOf } from '../src/creation.js';
import type { RandomKind, Tracer } from '../src/dispatch.js';
import { setTracer, untraced } from '../src/dispatch.js';
import type { OpName } from '../src/ops/index.js';
import { OPS } from '../src/ops/index.js';
import type { GatherAttrs, Meta, OpDef } from '../src/ops/types.js';
import { getBackend } from '../src/core/backend.js';
import { indexError } from '../src/core/index-check.js';
import { Storage } from '../src/storage.js';
import { Tensor, lastTensorSerial } from '../src/tensor.js';
import type { Graph, GraphNode, InputSource } from './graph.js';
import { nodeText } from './graph.js';
import { callerLocation } from './source.js';
import { Settlement, exchangeAll } from './commit.js';
import { readView, writeView, type Emitter } from './views.js';

/** Thrown in fullgraph mode where the function needs a concrete value. */
export class GraphBreakError extends KilnError {
  override name = 'GraphBreakError';
  constructor(readonly reason: string, readonly loc: string | undefined) {
    super(`graph break in fullgraph mode: ${reason}${loc ? ` at ${loc}` : ''}`);
  }
}

/** A graph break that happened (and ran eagerly). */
export interface BreakRecord { readonly reason: string; readonly loc?: string }

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * The value of a base: a tensor's elements as one flat array, shared by the tensor and its views.
 * A base is a value made in the trace, or a real storage the trace wrote into.
 */
interface Base {
  readonly size: number;
  /** Node holding the current value, of shape `shape`; -1 for a real storage whose memory is current. */
  node: number;
  readonly shape: readonly number[];
  /** Bumped by every write, so views derived before it re-derive. */
  version: number;
  /** The real storage (null for a value made in the trace). */
  readonly storage: Storage | null;
  /** Made concrete at a graph break: the contiguous tensor holding the value now. */
  real: Tensor | null;
}

/** What a lazy tensor points at. */
interface LazyHandle {
  readonly trace: Trace;
  id: number;
  /** What it views (a base, or a real storage), or null while it is a plain value nothing viewed. */
  base: Base | Storage | null;
  /** Its layout within the base, as eager mode would lay it out. */
  view: View;
  /** The base's version `id` reflects. */
  seen: number;
}

/** Runs a graph of this trace; `leaf(node)` is the tensor bound to a leaf node. */
export type GraphRunner = (g: Graph, leaf: (n: GraphNode) => Tensor, onBreak: (reason: string) => void) => Tensor[];

/** A cached graph this trace is checked against while it records. */
export interface Candidate<T = unknown> {
  readonly nodes: readonly GraphNode[];
  /** Sizes may differ (dynamic dims); everything else must match. */
  readonly tolerant: boolean;
  readonly tag: T;
  alive: boolean;
  /** Why it stopped matching (the op and source line). */
  diverged: string | null;
  /** Scalar constants whose value differs from the cached one (node ids): runtime inputs. */
  readonly lifts: number[];
}

/** How one tensor gets its value once a computation finishes. */
type Fill =
  | { readonly kind: 'slot'; readonly t: Tensor; readonly slot: number }
  | { readonly kind: 'base'; readonly t: Tensor; readonly slot: number; readonly base: Base; readonly view: View }
  | { readonly kind: 'storage'; readonly t: Tensor; readonly storage: Storage; readonly view: View };

/** Outputs to compute and what to do with them: fill lazy tensors, commit writes into real storages. */
export interface Pending {
  readonly outputs: number[];
  readonly fills: Fill[];
  readonly commits: { readonly storage: Storage; readonly slot: number }[];
}

/** Structural equality of attributes (plain data), without allocating. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return typeof a !== 'number' || Object.is(a, b);
  if (typeof a === 'number' && typeof b === 'number') return Object.is(a, b);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!same(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  let n = 0;
  for (const k in a) {
    if (!Object.prototype.hasOwnProperty.call(b, k) || !same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
    n++;
  }
  for (const _ in b) n--;
  return n === 0;
}

/** A full view of its storage can stand for the storage (so in-place aliases resolve to one value). */
function keyOf(t: Tensor): object {
  const v = t._view;
  const full = t._storage && v.offset === 0 && isContiguousView(v) && sizeOf(v.shape) === t._storage.buffer.size;
  return full ? t._storage! : t;
}

const isWhole = (v: View, size: number) => v.offset === 0 && !v.mask && isContiguousView(v) && sizeOf(v.shape) === size;
const leafClass = (n: GraphNode) => (n.kind === 'input' || (n.kind === 'const' && n.scalar === undefined) ? 'leaf' : n.kind);

export class Trace implements Tracer {
  readonly nodes: GraphNode[] = [];
  /** The tensor bound to each leaf node in this call (by node id). */
  readonly bindings: (Tensor | undefined)[] = [];
  readonly breaks: BreakRecord[] = [];
  /** Real tensor (or its storage) -> the input node holding its value at the start of the call. */
  private readonly valueOf = new Map<object, number>();
  private readonly keysOfStorage = new Map<Storage, object[]>();
  /** Handles on another tensor's memory (see alias()); made on first use, as most calls have none. */
  private aliases: WeakMap<Tensor, Tensor> | null = null;
  /** The same per tensor object (a fast path while nothing real was written). */
  private readonly realIds = new Map<Tensor, number>();
  /** Real storages written in place, in the order first written. */
  readonly written = new Map<Storage, Base>();
  /** Reads of real tensors whose storage was written: derived node per base version. */
  private readonly derived = new Map<Tensor, { version: number; id: number }>();
  /** A whole, contiguous real tensor of each storage seen (the base's shape when it is written). */
  private readonly wholeOf = new Map<Storage, Tensor>();
  /** Tensors whose .grad was assigned, with the value before this call's first assignment. */
  readonly gradPrev = new Map<Tensor, Tensor | null>();
  private readonly capturedTensors: Tensor[] = [];
  private readonly realized = new WeakSet<Tensor>();
  private readonly retained: Storage[] = [];
  private readonly startSerial: number;
  /** True once anything ran eagerly in the middle (the call cannot be replayed as one graph). */
  broke = false;
  /** Set when the compiled call has returned: later realizations are not breaks. */
  done = false;
  /** Storages this call's writes were committed into (a later read of an older value is an error). */
  private readonly committed = new Set<Storage>();
  /** Every graph run during this call, with what ran it (for explain()). */
  readonly executions: { graph: Graph; outputs: readonly number[] }[] = [];
  /** Still checking against cached graphs: source locations are copied from them, not computed. */
  private verifying: boolean;

  constructor(
    readonly backendName: BackendName,
    readonly fullgraph: boolean,
    private readonly argPaths: Map<Tensor, string>,
    private readonly run: GraphRunner,
    readonly name: string,
    readonly candidates: readonly Candidate[] = [],
    /** Keep every lazy tensor made (an async function computes them all at its first await). */
    private readonly keepLazies = false,
  ) {
    // Tensors made from here on (and not arguments) are constants of this trace.
    this.startSerial = lastTensorSerial();
    this.verifying = candidates.length > 0;
  }

  /** What views.ts records functionalization's ops through (made on first use). */
  private get emitter(): Emitter {
    return this.emitterObj ??= {
      op: (name, inputs, attrs) => this.op(name, inputs, attrs),
      shape: (id) => this.nodes[id].shape,
      bool: (v) => this.push({ kind: 'const', shape: [], dtype: 'bool', scalar: v ? 1 : 0 }),
      constant: (values, dtype) => {
        const t = untraced(() => fromTypedArray(typedOf(dtype, values), [values.length], dtype, this.backendName));
        return this.bindLeaf({ kind: 'const', shape: t.shape, dtype, value: t }, t);
      },
    };
  }
  private emitterObj: Emitter | null = null;

  // ----- recording -------------------------------------------------------------------------------

  /** Appends a node (given with id -1, mutable until pushed) and returns its id. */
  private push(node: DistributiveOmit<GraphNode, 'id'>): number {
    const n = node as unknown as { id: number; bind?: number; loc?: string; kind: GraphNode["kind"] };
    const id = this.nodes.length;
    n.id = id;
    if (n.kind !== 'op') n.bind = id;
    const located = n.kind === 'op' || n.kind === 'random';
    if (this.verifying) {
      const loc = this.check(n as GraphNode);
      if (located) n.loc = loc === null ? callerLocation() : loc;
    } else if (located && n.loc === undefined) n.loc = callerLocation();
    this.nodes.push(n as GraphNode);
    return id;
  }

  /** Compares a new node with each live candidate's node at the same place; returns a matching node's location (null: none matched). */
  private check(n: GraphNode): string | undefined | null {
    let loc: string | undefined | null = null;
    let alive = false;
    for (const c of this.candidates) {
      if (!c.alive) continue;
      const verdict = compareNode(c.nodes[n.id], n, c.tolerant, this.nodes);
      if (verdict === SAME || verdict === LIFT) {
        if (verdict === LIFT) c.lifts.push(n.id);
        if (loc === null) loc = c.nodes[n.id].loc;
        alive = true;
        continue;
      }
      c.alive = false;
      const here = n.kind === 'op' || n.kind === 'random' ? callerLocation() : undefined;
      c.diverged = `${verdict}${here ? ` at ${here}` : ''}`;
    }
    this.verifying = alive;
    return loc;
  }

  /** Records an op node on node ids (functionalization's own reshapes, slices and scatters). */
  private op(name: OpName, inputs: readonly number[], attrs: unknown): number {
    const meta = OPS[name].infer(inputs.map((i) => this.nodes[i]), attrs as never);
    return this.push({ kind: 'op', op: name, inputs: [...inputs], attrs, shape: meta.shape, dtype: meta.dtype, loc: undefined });
  }

  private lazy(id: number, shape: readonly number[], dtype: DType): Tensor {
    const view = contiguousView(shape);
    const handle: LazyHandle = { trace: this, id, base: null, view, seen: 0 };
    const t = Tensor._lazyTensor(this.backendName, shape, dtype, handle, view);
    if (this.keepLazies) this.lazies.push(t);
    return t;
  }

  private readonly lazies: Tensor[] = [];
  /** Every lazy tensor of this trace still lazy (with keepLazies). */
  allLazies(): Tensor[] { return this.lazies.filter((t) => t._lazy); }

  /** What a lazy tensor of this trace views (null for a plain value or another tensor). */
  baseOf(t: Tensor): object | null {
    const h = t._lazy as LazyHandle | null;
    return h && h.trace === this ? h.base : null;
  }

  /** Makes a lazy view a contiguous value of its own (nothing else may share its base afterwards). */
  ownValue(t: Tensor): void {
    const h = t._lazy as LazyHandle | null;
    if (!h || h.trace !== this || this.current(t, h) === null || h.base === null) return;
    const size = h.base instanceof Storage ? h.base.buffer.size : h.base.size;
    if (!isWhole(h.view, size)) h.id = this.op('contiguous', [h.id], {});
    h.base = null;
    h.view = contiguousView(t.shape);
    h.seen = 0;
    t._view = h.view;
    t._isView = false;
  }

  /** The argument path of a tensor passed to the call, if it is one. */
  argPathOf(t: Tensor): string | undefined { return this.argPaths.get(t); }

  private bindLeaf(node: DistributiveOmit<GraphNode, 'id'>, t: Tensor): number {
    if (t.backend !== this.backendName) {
      // The program runs on one backend: a tensor it reads from another would be read as foreign memory.
      const what = node.kind === 'input' && node.source.kind === 'captured' ? 'a captured tensor (a module parameter, buffer or closure variable)' : 'a tensor';
      throw new KilnError(`compile: ${this.name} compiles for the ${this.backendName} backend, but it reads ${what} ${fmtShape(t.shape)} on ${t.backend}; ` +
        `move it with t.to('${this.backendName}') or module.to('${this.backendName}'), or compile with { backend: '${t.backend}' }`);
    }
    const id = this.push(node);
    this.bindings[id] = t;
    if (t._storage && !t._lazy) { t._storage.retain(); this.retained.push(t._storage); }
    return id;
  }

  /** The node id standing for tensor `t` now: its current value. */
  idOf(t: Tensor): number {
    const h = t._lazy as LazyHandle | null;
    if (h) {
      if (h.trace === this) {
        const id = this.current(t, h);
        if (id !== null) return id;
      } else h.trace.realize(t, 'a value from another compiled call was used');
    }
    return this.idOfReal(t);
  }

  /** A lazy tensor's node, re-derived if its base was written since; null if it just became real. */
  private current(t: Tensor, h: LazyHandle): number | null {
    const b = h.base;
    if (b === null) return h.id;
    if (b instanceof Storage) {
      const w = this.written.get(b);
      const version = w ? w.version : 0;
      if (version === h.seen) return h.id;
      if (!w || w.node < 0) { this.fillView(t, b, h.view); return null; } // the memory is current
      h.id = this.derive(w, h.view);
      h.seen = version;
      return h.id;
    }
    if (b.real) { this.fillView(t, b.real._storage!, h.view); return null; }
    if (b.version === h.seen) return h.id;
    h.id = this.derive(b, h.view);
    h.seen = b.version;
    return h.id;
  }

  private fillView(t: Tensor, storage: Storage, view: View): void {
    t._fill({ _backendName: storage.backend.name, _storage: storage, _view: view });
  }

  private idOfReal(t: Tensor): number {
    const of = this.aliases?.get(t);
    if (of) return this.idOf(of);
    const s = t._storage;
    if (!this.written.size) { const id = this.realIds.get(t); if (id !== undefined) return id; }
    if (s && this.written.size) {
      const w = this.written.get(s);
      if (w && w.node >= 0) {
        const c = this.derived.get(t);
        if (c && c.version === w.version) return c.id;
        const id = this.derive(w, t._view);
        this.derived.set(t, { version: w.version, id });
        return id;
      }
    }
    const key = keyOf(t);
    const known = this.valueOf.get(key);
    if (known !== undefined) { this.realIds.set(t, known); return known; }
    const meta = { shape: t.shape, dtype: t.dtype };
    let id: number;
    const argPath = this.argPaths.get(t);
    if (argPath !== undefined) id = this.bindLeaf({ kind: 'input', ...meta, source: { kind: 'arg', path: argPath } }, t);
    else if (t._constant !== undefined) id = this.bindLeaf({ kind: 'const', ...meta, scalar: t._constant }, t);
    else if (this.realized.has(t)) id = this.bindLeaf({ kind: 'input', ...meta, source: { kind: 'realized', tensor: t } }, t);
    else if (t._serial > this.startSerial) id = this.bindLeaf({ kind: 'const', ...meta, value: t }, t);
    else {
      const owner = this.capturedTensors.find((c) => c.grad === t);
      const source: InputSource = owner ? { kind: 'grad', of: owner } : { kind: 'captured', tensor: t };
      if (!owner) this.capturedTensors.push(t);
      id = this.bindLeaf({ kind: 'input', ...meta, source }, t);
    }
    this.valueOf.set(key, id);
    this.realIds.set(t, id);
    if (s) {
      (this.keysOfStorage.get(s) ?? this.keysOfStorage.set(s, []).get(s)!).push(key);
      if (key === s && !this.wholeOf.has(s)) this.wholeOf.set(s, t);
    }
    return id;
  }

  /** The value of view `v` of base `b`, as nodes. */
  private derive(b: Base, v: View): number {
    if (isWhole(v, b.size)) return shapesEqual(v.shape, b.shape) ? b.node : this.op('reshape', [b.node], { shape: [...v.shape] });
    const flat = this.flat(b);
    const id = readView(this.emitter, flat, b.size, v);
    if (id === null) throw new KilnError(`compile(): cannot follow a view ${fmtShape(v.shape)} with strides ${fmtShape(v.strides)} and offset ${v.offset} of a tensor written in place in ${this.name}`);
    return id;
  }

  private flat(b: Base): number {
    return b.shape.length === 1 ? b.node : this.op('reshape', [b.node], { shape: [b.size] });
  }

  record(op: OpDef, inputs: readonly Tensor[], attrs: unknown, meta: Meta): Tensor {
    const ids = inputs.map((t) => this.idOf(t));
    if (op.kind === 'gather') this.checkKnownIndices(op, inputs[0], ids[1], attrs as GatherAttrs);
    const id = this.push({ kind: 'op', op: op.name as OpName, inputs: ids, attrs, shape: meta.shape, dtype: meta.dtype });
    const out = this.lazy(id, meta.shape, meta.dtype);
    if (op.kind === 'movement') this.linkView(inputs[0], out, op.view(this.layoutOf(inputs[0]), attrs as never));
    return out;
  }

  /** Where `t` lives as eager mode would lay it out (a lazy tensor's place in its base). */
  private layoutOf(t: Tensor): View {
    const h = t._lazy as LazyHandle | null;
    return h && h.trace === this ? h.view : t._view;
  }

  /** Makes `out` a view of what `x` views when eager mode would make it one (shared base, version). */
  private linkView(x: Tensor, out: Tensor, view: View | null): void {
    if (!view || view.mask) return; // eager mode copies here: `out` is a value of its own
    const h = out._lazy as LazyHandle;
    const xh = x._lazy as LazyHandle | null;
    if (xh && xh.trace === this) {
      if (xh.base === null) xh.base = { size: x.size, node: xh.id, shape: x.shape, version: 0, storage: null, real: null };
      h.base = xh.base;
      h.seen = xh.seen;
    } else if (x._storage) {
      h.base = x._storage;
      h.seen = this.written.get(x._storage)?.version ?? 0;
    } else return;
    h.view = view;
    out._view = view;
    out._version = x._version;
    out._isView = true;
    out._viewOfGrad = x.requiresGrad || x._viewOfGrad;
  }

  random(kind: RandomKind, shape: readonly number[], dtype: DType, params: readonly number[]): Tensor {
    // Drawn now, so draws interleave with manualSeed() and other draws exactly as in eager mode.
    const drawn = this.runEagerly(() => drawRandom(kind, shape, dtype, params, this.backendName));
    const id = this.bindLeaf({ kind: 'random', shape, dtype, random: kind, params }, drawn);
    return this.lazy(id, shape, dtype);
  }

  /**
   * Indices already known when the op is recorded are checked where eager mode checks them (before
   * anything after this op runs, and even when the result is unused); computed indices are checked
   * by the kernels.
   */
  private checkKnownIndices(op: OpDef, x: Tensor, indexId: number, attrs: GatherAttrs): void {
    let id = indexId;
    for (let n = this.nodes[id]; n.kind === 'op' && VALUE_PRESERVING.has(n.op); n = this.nodes[id]) id = n.inputs[0];
    const t = this.bindings[id];
    if (!t || t._lazy || !t._storage || this.nodes[id].kind === 'random' || this.written.has(t._storage) || !getBackend(t.backend).syncReads) return;
    const size = x.shape[attrs.axis] ?? 1;
    const data = untraced(() => t.data());
    for (let i = 0; i < data.length; i++) {
      if (data[i] < 0 || data[i] >= size) throw indexError({ op: attrs.op ?? op.name, axis: attrs.axis, size }, data[i]);
    }
  }

  assign(target: Tensor, value: Tensor): void {
    let vid = this.idOf(value);
    if (value.dtype !== target.dtype) vid = this.op('cast', [vid], { dtype: target.dtype });
    const h = target._lazy as LazyHandle | null;
    if (h && h.trace !== this) h.trace.realize(target, 'in-place write into a value from another compiled call');
    if (h && h.trace === this && this.current(target, h) !== null) {
      const b = h.base;
      if (b === null) { h.id = vid; return; }
      const base = b instanceof Storage ? this.writable(b, target) : b;
      this.write(base, h.view, vid);
      h.id = vid;
      h.seen = base.version;
      return;
    }
    const base = this.writable(target._storage!, target);
    this.write(base, target._view, vid);
    this.derived.set(target, { version: base.version, id: vid });
  }

  /** The base of a real storage about to be written (its value so far: an input bound to it). */
  private writable(s: Storage, like: Tensor): Base {
    let b = this.written.get(s);
    if (b && b.node >= 0) return b;
    const whole = like._storage === s && !like._lazy && isWhole(like._view, s.buffer.size) ? like : this.wholeOf.get(s);
    const t = whole ?? new Tensor(s.backend.name, s, contiguousView([s.buffer.size]), s.buffer.dtype);
    let node = this.valueOf.get(s);
    if (node === undefined || (b && b.node < 0)) {
      const path = whole && this.argPaths.get(whole);
      const source: InputSource = path !== undefined && path !== null ? { kind: 'arg', path }
        : whole && whole._serial <= this.startSerial ? { kind: 'captured', tensor: whole } : { kind: 'storage' };
      node = this.bindLeaf({ kind: 'input', shape: t.shape, dtype: t.dtype, source }, t);
      this.valueOf.set(s, node);
    }
    if (b) { b.node = node; return b; }
    b = { size: s.buffer.size, node, shape: t.shape, version: 0, storage: s, real: null };
    this.written.set(s, b);
    return b;
  }

  /** Writes node `vid` (shape v.shape) into view `v` of base `b`. */
  private write(b: Base, v: View, vid: number): void {
    if (isWhole(v, b.size)) {
      b.node = shapesEqual(v.shape, b.shape) ? vid : this.op('reshape', [vid], { shape: [...b.shape] });
    } else {
      const flat = writeView(this.emitter, this.flat(b), b.size, v, vid);
      if (flat === null) throw new KilnError(`compile(): cannot follow an in-place write into a view ${fmtShape(v.shape)} with strides ${fmtShape(v.strides)} and offset ${v.offset} in ${this.name}`);
      b.node = b.shape.length === 1 ? flat : this.op('reshape', [flat], { shape: [...b.shape] });
    }
    b.version++;
  }

  alias(t: Tensor, of: Tensor): void { (this.aliases ??= new WeakMap()).set(t, of); }

  gradSet(t: Tensor, prev: Tensor | null): void {
    if (!this.gradPrev.has(t)) this.gradPrev.set(t, prev);
  }

  // ----- breaks and realization -------------------------------------------------------------------

  /** Records a graph break at the caller's line (throws in fullgraph mode). */
  breakHere(reason: string): void {
    if (this.done) return;
    const loc = callerLocation();
    if (this.fullgraph) throw new GraphBreakError(reason, loc);
    this.broke = true;
    this.breaks.push({ reason, loc });
    for (const c of this.candidates) if (c.alive) { c.alive = false; c.diverged = `graph break: ${reason}${loc ? ` at ${loc}` : ''}`; }
    this.verifying = false;
  }

  /** Runs `fn` eagerly (tracer off), e.g. the JS between two graph segments. */
  runEagerly<T>(fn: () => T): T {
    const prev = setTracer(null);
    try { return fn(); } finally { setTracer(prev); }
  }

  /** The first host read of tensor values in this call (a hit must then run the JavaScript). */
  valueRead: string | null = null;

  readValues(what: string): void {
    this.valueRead ??= `${what}${this.verifying ? '' : ` at ${callerLocation() ?? 'an unknown location'}`}`;
  }

  realize(t: Tensor, reason: string): void {
    const h = t._lazy as LazyHandle | null;
    if (!h) {
      // A real tensor read while a write into its storage is pending: land the write first.
      const w = t._storage && this.written.get(t._storage);
      if (!w || w.node < 0 || this.done) return;
      this.breakHere(reason);
      this.compute([], true);
      return;
    }
    if (h.trace !== this) { h.trace.realize(t, reason); return; }
    if (this.current(t, h) === null) return;
    this.breakHere(reason);
    if (this.done) this.checkLate(t);
    this.compute([t], false);
  }

  /** A value read after its call returned must not depend on a tensor changed since. */
  private checkLate(t: Tensor): void {
    const h = t._lazy as LazyHandle;
    const root = h.base && !(h.base instanceof Storage) ? h.base.node : h.id;
    const seen = new Set<number>();
    const stack = [root];
    while (stack.length) {
      const id = stack.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      const n = this.nodes[id];
      if (n.kind === 'op') stack.push(...n.inputs);
      const b = this.bindings[id];
      if (b?._storage && this.committed.has(b._storage)) {
        throw new KilnError(`compile(): a tensor ${fmtShape(t.shape)} made inside ${this.name}${this.nodes[root].loc ? ` at ${this.nodes[root].loc}` : ''} is read after the call, ` +
          'but the call wrote in place into a tensor it was computed from; read it inside the function, return it, or clone() it there');
      }
    }
  }

  /**
   * Computes `roots` (and, with `commitAll`, every pending write into real storage) now, mid-call or
   * after it, and applies the results. Tensors that read the old contents of a storage written here
   * keep reading them (the old buffer stays bound to their inputs).
   */
  private compute(roots: readonly Tensor[], commitAll: boolean): void {
    const p = this.pending(roots, commitAll ? [...this.written.keys()] : []);
    const g = this.graphFor(p.outputs);
    const outs = this.executeGraph(g);
    this.apply(p, outs, true);
  }

  /** What to compute so that `roots` are real and the writes into `commit` land. */
  pending(roots: readonly Tensor[], commit: readonly Storage[], reuse: readonly [Tensor, Tensor][] = []): Pending {
    const outputs: number[] = [], fills: Fill[] = [], commits: Pending['commits'] = [];
    const slot = (id: number) => { let i = outputs.indexOf(id); if (i < 0) { i = outputs.length; outputs.push(id); } return i; };
    const toCommit = new Set(commit);
    const seen = new Set<Tensor>();
    for (const t of roots) {
      if (seen.has(t)) continue;
      seen.add(t);
      const h = t._lazy as LazyHandle | null;
      if (!h || h.trace !== this || this.current(t, h) === null) continue;
      const b = h.base;
      if (b === null) fills.push({ kind: 'slot', t, slot: slot(h.id) });
      else if (b instanceof Storage) { toCommit.add(b); fills.push({ kind: 'storage', t, storage: b, view: h.view }); }
      else fills.push({ kind: 'base', t, slot: slot(b.node), base: b, view: h.view });
    }
    // A .grad this function wrote last call takes the new value in its own storage (see compile.ts).
    for (const [grad, into] of reuse) {
      commits.push({ storage: into._storage!, slot: slot(this.idOf(grad)) });
      fills.push({ kind: 'storage', t: grad, storage: into._storage!, view: into._view });
    }
    for (const s of toCommit) {
      const w = this.written.get(s);
      if (w && w.node >= 0) commits.push({ storage: s, slot: slot(w.node) });
    }
    // A gather whose result nothing uses still runs, as it does eagerly: its kernel checks the indices
    // (webgpu raises a bad one at the next read, so the check cannot happen when the op is recorded).
    for (const id of this.deadGathers(outputs)) slot(id);
    this.lastPending = { outputs, fills, commits };
    return this.lastPending;
  }

  private lastPending: Pending | null = null;
  /** The output slot the last pending() commits into storage `s` (-1 if none). */
  lastCommitSlot(s: Storage): number { return this.lastPending?.commits.find((c) => c.storage === s)?.slot ?? -1; }
  /** The output slot that fills `t` as a value of its own in the last pending() (-1 if none). */
  lastFillSlot(t: Tensor): number {
    const f = this.lastPending?.fills.find((x) => x.t === t);
    return f && f.kind === 'slot' ? f.slot : -1;
  }

  /**
   * Applies computed outputs: first everything that can fail (copies), then buffer exchanges and
   * fills, which cannot. On failure nothing visible has changed and the outputs are freed.
   */
  apply(p: Pending, outs: readonly Tensor[], midCall: boolean): void {
    const st = new Settlement(outs, this.leafStorages());
    let staged: { storage: Storage; from: Tensor }[];
    const bases = new Map<Base, Tensor>();
    const values = new Map<Fill, Tensor>();
    try {
      staged = p.commits.map((c) => ({ storage: c.storage, from: st.own(c.slot) }));
      for (const f of p.fills) {
        if (f.kind === 'slot') values.set(f, st.own(f.slot));
        else if (f.kind === 'base' && !bases.has(f.base)) bases.set(f.base, st.own(f.slot));
      }
    } catch (e) {
      st.abort();
      throw e;
    }
    // Nothing below can fail.
    exchangeAll(staged);
    for (const { storage, from } of staged) {
      this.committed.add(storage);
      const w = this.written.get(storage);
      if (w) { w.node = -1; w.version++; }
      // Inputs bound to the old contents keep them: that buffer now lives in `from`'s storage.
      if (midCall) this.rebind(storage, from._storage!);
      this.forget(storage);
    }
    for (const f of p.fills) {
      if (f.kind === 'slot') f.t._fill(values.get(f)!);
      else if (f.kind === 'storage') this.fillView(f.t, f.storage, f.view);
      else {
        const r = bases.get(f.base)!;
        f.base.real = r;
        this.fillView(f.t, r._storage!, f.view);
      }
      this.realized.add(f.t);
    }
    st.release(new Set(bases.values()));
  }

  /** Storages of the tensors bound to inputs and constants (outputs must not alias them). */
  leafStorages(): Set<Storage> {
    const out = new Set<Storage>();
    this.bindings.forEach((b, i) => { if (b?._storage && this.nodes[i].kind !== 'random') out.add(b._storage); });
    return out;
  }

  /** After a commit mid-call: leaves bound to the storage's old contents now read `old`. */
  private rebind(s: Storage, old: Storage): void {
    this.bindings.forEach((b, i) => {
      if (b && b._storage === s) {
        const t = new Tensor(old.backend.name, old, b._view, b.dtype);
        this.bindings[i] = t;
        old.retain();
        this.retained.push(old);
      }
    });
  }

  /** Forgets input nodes and derived reads of a storage whose memory changed (reads lift it anew). */
  private forget(s: Storage): void {
    for (const t of [...this.realIds.keys()]) if (t._storage === s) this.realIds.delete(t);
    for (const k of this.keysOfStorage.get(s) ?? []) this.valueOf.delete(k);
    this.keysOfStorage.delete(s);
    for (const t of [...this.derived.keys()]) if (t._storage === s) this.derived.delete(t);
  }

  /** Gather nodes that no output depends on (no walk when the trace has no gather). */
  private deadGathers(outputs: readonly number[]): number[] {
    const gathers = this.nodes.filter((n) => n.kind === 'op' && OPS[n.op].kind === 'gather');
    if (!gathers.length) return [];
    const live = new Set<number>();
    const stack = [...outputs];
    while (stack.length) {
      const id = stack.pop()!;
      if (live.has(id)) continue;
      live.add(id);
      const n = this.nodes[id];
      if (n.kind === 'op') stack.push(...n.inputs);
    }
    return gathers.filter((n) => !live.has(n.id)).map((n) => n.id);
  }

  /** The sub-graph computing `outputs` (a snapshot: nodes added later are not part of it). */
  graphFor(outputs: readonly number[]): Graph {
    return { name: this.name, nodes: this.nodes.slice(), outputs };
  }

  /** The tensor bound to a leaf node of this trace. */
  leafOf(n: GraphNode): Tensor {
    const t = this.bindings[n.kind === 'op' ? -1 : n.bind ?? n.id];
    if (!t) throw new KilnError(`compile(): no tensor bound to node %${n.id} (${nodeText(n)}) of ${this.name}`);
    return t;
  }

  /** leafOf bound to this trace (made on first use). */
  get leaf(): (n: GraphNode) => Tensor { return this.leafFn ??= (n) => this.leafOf(n); }
  private leafFn: ((n: GraphNode) => Tensor) | null = null;

  /** Compiles and runs a graph of this trace (recorded for explain() and dumps). */
  executeGraph(g: Graph): Tensor[] {
    this.executions.push({ graph: g, outputs: g.outputs });
    return this.runEagerly(() => this.run(g, this.leaf, (r) => this.breakHere(r)));
  }

  /** Ends the call: later realizations are late reads; storages held for the call are let go. */
  close(): void {
    this.done = true;
    for (const s of this.retained.splice(0)) s.release();
  }
}

const SAME = 0, LIFT = 1;

/** A node in a recompile reason: an op by its inputs' shapes (and its dtype where that is what changed), a leaf by its dtype and shape. */
function describe(n: GraphNode, nodes: readonly GraphNode[], dtype = false): string {
  if (n.kind === 'op') return `${n.op}(${n.inputs.map((i) => fmtShape(nodes[i]?.shape ?? [])).join(', ')})${dtype ? ` -> ${n.dtype}` : ''}`;
  return `${nodeText(n)} ${n.dtype}${fmtShape(n.shape)}`;
}

function mismatch(a: GraphNode | undefined, b: GraphNode, nodes: readonly GraphNode[], why: 'kind' | 'shape' | 'attrs'): string {
  if (!a) return `the function now runs more ops than the cached graph (${describe(b, nodes)})`;
  const at = a.loc ? ` (cached at ${a.loc})` : '';
  if (why === 'shape') return `${describe(a, nodes)}${at} now has shape ${fmtShape(b.shape)} instead of ${fmtShape(a.shape)}`;
  if (why === 'attrs' && a.kind === 'op' && b.kind === 'op') return `${a.op}${at} changed ${JSON.stringify(a.attrs)} to ${JSON.stringify(b.attrs)}`;
  const dtype = a.dtype !== b.dtype;
  return `${describe(a, nodes, dtype)}${at} became ${describe(b, nodes, dtype)}`;
}

/**
 * SAME, LIFT (a scalar constant that changed value: a runtime input), or why a cached node `a`
 * does not match the node `b` just recorded.
 */
function compareNode(a: GraphNode | undefined, b: GraphNode, tolerant: boolean, nodes: readonly GraphNode[]): number | string {
  if (!a || a.kind !== b.kind && leafClass(a) !== leafClass(b) || a.dtype !== b.dtype) return mismatch(a, b, nodes, 'kind');
  if (!shapesEqual(a.shape, b.shape) && (!tolerant || a.shape.length !== b.shape.length)) return mismatch(a, b, nodes, 'shape');
  switch (b.kind) {
    case 'op': {
      const x = a as typeof b;
      if (x.op !== b.op || !same(x.inputs, b.inputs)) return mismatch(a, b, nodes, 'kind');
      // With dynamic sizes, sizes in attributes may follow them (the program key holds them).
      if (!same(x.attrs, b.attrs) && !(tolerant && SIZE_ATTR_OPS.has(b.op))) return mismatch(a, b, nodes, 'attrs');
      return SAME;
    }
    case 'const': {
      const x = a as typeof b;
      if (x.kind !== 'const' || (x.scalar === undefined) !== (b.scalar === undefined)) return mismatch(a, b, nodes, 'kind');
      return b.scalar === undefined || Object.is(x.scalar, b.scalar) ? SAME : LIFT;
    }
    case 'random': {
      const x = a as typeof b;
      return x.random === b.random && same(x.params, b.params) ? SAME : mismatch(a, b, nodes, 'kind');
    }
    case 'input': return SAME;
  }
}

/** Movement ops whose output holds exactly the values of their input (an index known through them is known). */
const VALUE_PRESERVING: ReadonlySet<string> = new Set(['reshape', 'permute', 'contiguous']);

/** Ops whose attributes are sizes (the registry's `sizeAttrs`; a dynamic graph keys its programs by them). */
export const SIZE_ATTR_OPS: ReadonlySet<string> = new Set((Object.keys(OPS) as OpName[]).filter((n) => (OPS[n] as OpDef).sizeAttrs));

/** The trace a lazy tensor belongs to (or null for real tensors). */
export function lazyHandle(t: Tensor): { trace: Trace; id: number } | null {
  return t._lazy as LazyHandle | null;
}
