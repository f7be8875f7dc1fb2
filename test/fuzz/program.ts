// The differential fuzzer's program model: a random kiln function with everything around it (captured
// tensors, modules, an optimizer, helpers with side effects, the calls made to it), as data that the
// shrinker can edit and the emitter turns into JavaScript source. The same source runs the eager and
// the compiled worlds and, with type annotations, is printed as a repro a developer can paste.
import type { DType } from '../../src/index.js';

/** A size: a number, or the program's variable size N (it changes between calls). */
export type Dim = number | 'N';

/** How an argument's or captured tensor's values are drawn (see data.ts). */
export type DataKind =
  | 'grid' // multiples of 1/8 in [-4, 4]: sums and products stay exact in float32
  | 'float' // full-precision float32 in [-2, 2]
  | 'pos' // float32 in [0.25, 3]
  | 'int' // int32 in [-6, 6]
  | 'small' // float32 integers in [-2, 2] (what the shrinker simplifies data to)
  | 'bool'
  | { readonly index: number }; // int32 in [0, index)

export interface ArgSpec {
  readonly name: string;
  readonly shape: readonly Dim[];
  readonly dtype: DType;
  readonly requiresGrad: boolean;
  readonly data: DataKind;
}

/** How an argument is passed on one call: contiguous, a view of a bigger base, or another argument again. */
export type Layout =
  | { readonly kind: 'contig' }
  | { readonly kind: 'narrow'; readonly dim: number; readonly before: number; readonly after: number }
  | { readonly kind: 'step'; readonly dim: number; readonly step: number; readonly start: number }
  | { readonly kind: 'neg'; readonly dim: number }
  | { readonly kind: 'mT' }
  | { readonly kind: 'alias'; readonly of: number };

/** Changes made to the world (both worlds alike) before a call. */
export type Mutation =
  | { readonly kind: 'rebind'; readonly name: string; readonly seed: number }
  | { readonly kind: 'train'; readonly module: string; readonly on: boolean }
  | { readonly kind: 'lr'; readonly lr: number };

export interface CallSpec {
  /** Why this call is made (trace, replay, another size, ...): printed in reports. */
  readonly label: string;
  /** The value of N on this call. */
  readonly n: number;
  readonly layouts: readonly Layout[];
  readonly before: readonly Mutation[];
  readonly dataSeed: number;
  /** Index arguments that get one out-of-range index on this call (an error, eagerly and compiled). */
  readonly oobArgs?: readonly number[];
}

export interface CapturedSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly requiresGrad: boolean;
  readonly data: DataKind;
  readonly seed: number;
}

export type ModuleSpec =
  | { readonly name: string; readonly kind: 'linear'; readonly inF: number; readonly outF: number; readonly bias: boolean }
  | { readonly name: string; readonly kind: 'dropout'; readonly p: number }
  | { readonly name: string; readonly kind: 'layerNorm'; readonly size: number }
  | { readonly name: string; readonly kind: 'mlp'; readonly inF: number; readonly hidden: number; readonly outF: number; readonly p: number }
  /** Conv2d, BatchNorm2d, ReLU and an optional pool: a CNN stage whose batch norm trains and evaluates. */
  | {
    readonly name: string; readonly kind: 'convBlock'; readonly inC: number; readonly outC: number; readonly kernel: number;
    readonly stride: number; readonly padding: number; readonly dilation: number; readonly groups: number;
    readonly paddingMode: 'zeros' | 'reflect' | 'replicate' | 'circular'; readonly pool: PoolSpec | null;
  };

/** The pool closing a conv block. */
export type PoolSpec =
  | { readonly kind: 'max'; readonly k: number; readonly stride: number; readonly padding: number; readonly dilation: number; readonly ceil: boolean }
  | { readonly kind: 'avg'; readonly k: number; readonly stride: number; readonly padding: number; readonly ceil: boolean; readonly countIncludePad: boolean }
  | { readonly kind: 'adaptiveAvg' | 'adaptiveMax'; readonly out: readonly [number, number] };

/** Source of a pool module's constructor call. */
function poolCode(p: PoolSpec): string {
  switch (p.kind) {
    case 'max': return `new k.nn.MaxPool2d(${p.k}, { stride: ${p.stride}, padding: ${p.padding}, dilation: ${p.dilation}, ceilMode: ${p.ceil} })`;
    case 'avg': return `new k.nn.AvgPool2d(${p.k}, { stride: ${p.stride}, padding: ${p.padding}, ceilMode: ${p.ceil}, countIncludePad: ${p.countIncludePad} })`;
    case 'adaptiveAvg': return `new k.nn.AdaptiveAvgPool2d([${p.out.join(', ')}])`;
    case 'adaptiveMax': return `new k.nn.AdaptiveMaxPool2d([${p.out.join(', ')}])`;
  }
}

export interface OptimSpec {
  readonly kind: 'sgd' | 'adam';
  readonly lr: number;
  readonly momentum: number;
  /** Modules whose parameters it updates. */
  readonly modules: readonly string[];
}

/** A helper the function calls: side effects (a counter, a log) around a tensor transform of `x`. */
export interface HelperSpec {
  readonly name: string;
  readonly effects: readonly ('count' | 'push' | 'log')[];
  readonly transform: string;
}

/**
 * Code with `$0`, `$1`, ... standing for the values `refs` names. `ITEM⟦x⟧` reads one number and
 * `DATA⟦x⟧` all values (`x.item()`, or `await x.itemAsync()` where reads are async); `HELPER⟦h(x)⟧` calls
 * a helper (awaited when helpers are async).
 */
export interface Expr {
  readonly code: string;
  readonly refs: readonly number[];
}

export type Stmt =
  | { readonly kind: 'let'; readonly id: number; readonly expr: Expr }
  | { readonly kind: 'effect'; readonly expr: Expr; readonly writes?: number }
  | { readonly kind: 'branch'; readonly id: number; readonly cond: Expr; readonly then: Expr; readonly else: Expr }
  | { readonly kind: 'await' }
  | { readonly kind: 'throwIf'; readonly cond: Expr; readonly message: string };

export type Output =
  | { readonly kind: 'tensor'; readonly ref: number }
  | { readonly kind: 'item'; readonly ref: number }
  | { readonly kind: 'str'; readonly ref: number }
  /** A string made from a shape, no read: a replay must not return the traced one. */
  | { readonly kind: 'shape'; readonly ref: number }
  | { readonly kind: 'count' };

/** What the generator knows about a value, for the comparison. */
export interface ValueInfo {
  readonly name: string;
  /** Computed only by correctly rounded float32 ops (or exact sums): every faithful kernel gives the same bits. */
  exact: boolean;
  /** Drawn by dropout in training mode: compared by structure (0 or x/(1-p)), not by value. */
  /** Its exactness comes from small multiples of 1/8 (sums of it are exact too). */
  grid?: boolean;
  dropout?: { readonly of: number; readonly p: number; readonly module: string };
  /** Depends on a dropout of that module: not compared on calls where the module is training. */
  randomIn?: string;
  /** Largest |value| in its dependency cone, per N (from the dry run): sets the absolute tolerance. */
  scale: Record<number, number>;
}

export interface Program {
  readonly seed: number;
  readonly index: number;
  readonly args: readonly ArgSpec[];
  readonly captured: readonly CapturedSpec[];
  readonly modules: readonly ModuleSpec[];
  readonly optim: OptimSpec | null;
  readonly helpers: readonly HelperSpec[];
  readonly body: readonly Stmt[];
  readonly outputs: readonly Output[];
  readonly async: boolean;
  /** The caller runs backward through the returned tensors (sum of outputs) after the call. */
  readonly externalBackward: boolean;
  readonly dynamic: boolean | 'auto';
  /** Each call runs inside kiln.tidy() (eagerly and compiled; not for async functions, tidy is synchronous). */
  readonly tidy: boolean;
  /** compile(model) instead of compile(fn): the function is `x => model.forward(x)`. */
  readonly compileModel: string | null;
  readonly calls: readonly CallSpec[];
  /** By value id: args first, then captured tensors, then intermediates. */
  readonly values: Readonly<Record<number, ValueInfo>>;
  /** Largest |value| over the whole dry run per N: the scale of gradients, logs and parameters. */
  readonly programScale: Record<number, number>;
  /** Uses subnormal or huge constants (webgpu may flush subnormals: no cross-backend check there). */
  readonly special: boolean;
}

export const ARG_NAMES = ['a', 'b', 'c', 'd', 'e'];

/** The concrete shape of a symbolic one for a given N. */
export function concrete(shape: readonly Dim[], n: number): number[] {
  return shape.map((d) => (d === 'N' ? n : d));
}

/** Value ids an expression or statement reads. */
export function stmtRefs(s: Stmt): number[] {
  switch (s.kind) {
    case 'let': case 'effect': return [...s.expr.refs];
    case 'branch': return [...s.cond.refs, ...s.then.refs, ...s.else.refs];
    case 'throwIf': return [...s.cond.refs];
    case 'await': return [];
  }
}

export function stmtDefines(s: Stmt): number | null {
  return s.kind === 'let' || s.kind === 'branch' ? s.id : null;
}

export function outputRefs(o: Output): number[] {
  return o.kind === 'count' ? [] : [o.ref];
}

/** Source of a module's constructor call. */
export function moduleCode(m: ModuleSpec): string {
  switch (m.kind) {
    case 'linear': return `new k.nn.Linear(${m.inF}, ${m.outF}${m.bias ? '' : ', { bias: false }'})`;
    case 'dropout': return `new k.nn.Dropout(${m.p})`;
    case 'layerNorm': return `new k.nn.LayerNorm(${m.size}, 0.01)`;
    case 'mlp': return `new k.nn.Sequential(new k.nn.Linear(${m.inF}, ${m.hidden}), new k.nn.ReLU(), new k.nn.Dropout(${m.p}), new k.nn.Linear(${m.hidden}, ${m.outF}))`;
    case 'convBlock': {
      // No conv bias: batch norm removes it (its exact gradient is 0, and a difference of rounding noise is no finding).
      const conv = `new k.nn.Conv2d(${m.inC}, ${m.outC}, ${m.kernel}, { stride: ${m.stride}, padding: ${m.padding}, dilation: ${m.dilation}, ` +
        `groups: ${m.groups}, paddingMode: '${m.paddingMode}', bias: false })`;
      const pool = m.pool ? `, ${poolCode(m.pool)}` : '';
      return `new k.nn.Sequential(${conv}, new k.nn.BatchNorm2d(${m.outC}), new k.nn.ReLU()${pool})`;
    }
  }
}

/** Source of the optimizer's constructor call. */
export function optimCode(o: OptimSpec): string {
  const params = o.modules.map((m) => `...${m}.parameters()`).join(', ');
  const opts = o.kind === 'sgd' ? `{ lr: ${o.lr}${o.momentum ? `, momentum: ${o.momentum}` : ''} }` : `{ lr: ${o.lr}, eps: 1e-3 }`;
  return `new k.optim.${o.kind === 'sgd' ? 'SGD' : 'Adam'}([${params}], ${opts})`;
}

/** The value id of argument `i` (ids are fixed at generation; the shrinker may drop arguments). */
export function argValueId(p: Program, i: number): number | undefined {
  const name = p.args[i]?.name;
  for (const [id, v] of Object.entries(p.values)) if (v.name === name) return Number(id);
  return undefined;
}
