// Kernel IR: what every backend consumes. Eager ops lower to one-op kernels; compile() lowers fused
// groups to the same kernels. Backends see kernels and buffers, never Tensor or Graph.
// NOTE: this lives in src/core beside the op registry (not in compiler/) because eager mode lowers
// to it too; the compiler and the backends both sit above it.
import type { DType } from './dtype.js';
import type { ScalarOp } from '../ops/scalar.js';
import { shortDType } from './dtype.js';
import { assertNever } from './errors.js';
import { contiguousStrides, shapesEqual, sizeOf } from './shape.js';

/**
 * How a load maps the kernel's iteration index to a buffer element: element = offset + Σ idx[d]·strides[d].
 * Stride 0 broadcasts, negative strides flip. `mask[d] = [lo, hi)`: outside it the load yields 0 (pad).
 */
export interface View {
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly mask?: readonly (readonly [number, number])[];
}

/** A scalar expression evaluated at each point of a kernel's iteration space. */
export type Expr =
  | {
      readonly kind: 'load';
      readonly input: number;
      readonly view: View;
      readonly dtype: DType;
      /**
       * Gather: the coordinate along `axis` is the value of `index` (int32), not the loop index. It must
       * lie in 0..size-1 (the source's extent along `axis`); backends check it, read element 0 instead
       * of anything outside, and raise an error naming `op` after the kernel (src/core/index-check.ts).
       */
      readonly gather?: { readonly axis: number; readonly index: Expr; readonly size: number; readonly op: string };
    }
  | { readonly kind: 'const'; readonly value: number; readonly dtype: DType }
  | { readonly kind: 'op'; readonly op: ScalarOp; readonly args: readonly Expr[]; readonly dtype: DType }
  | { readonly kind: 'cast'; readonly x: Expr; readonly dtype: DType }
  /** Result of reduction `index` of a reduce kernel, or the dot product (index 0) of a matmul kernel. */
  | { readonly kind: 'acc'; readonly index: number; readonly dtype: DType };

import type { ReduceOp } from './reductions.js';
export type { ReduceOp } from './reductions.js';

/** One output of a kernel. Contiguous in a fresh buffer unless `view` says where to store (in-place). */
export interface KernelOutput {
  readonly expr: Expr;
  readonly dtype: DType;
  readonly view?: View;
}

/** Pointwise: every output is `expr` at each index of `shape`. */
export interface ElementwiseKernel {
  readonly kind: 'elementwise';
  readonly shape: readonly number[];
  readonly nInputs: number;
  readonly outputs: readonly KernelOutput[];
}

/**
 * Reductions over the `inner` dims of the iteration space [...outer, ...inner], one row of `inner`
 * per point of `outer`. Reductions run in order; a later body may use an earlier result (acc i), so
 * softmax (max, then sum of exp) is one kernel. `scope: 'outer'` outputs are indexed by outer only;
 * `'full'` outputs by the whole space (a row-wise epilogue such as the normalise step of softmax).
 * argmax/argmin yield the flat int32 index within `inner` (first occurrence; NaN counts as largest).
 */
export interface ReduceKernel {
  readonly kind: 'reduce';
  readonly outer: readonly number[];
  readonly inner: readonly number[];
  readonly nInputs: number;
  readonly reductions: readonly { readonly op: ReduceOp; readonly body: Expr; readonly dtype: DType }[];
  readonly outputs: readonly (KernelOutput & { readonly scope: 'outer' | 'full' })[];
}

/**
 * Batched matmul: acc0 = Σ_k a[...b, m, k]·b[...b, k, n]; its one output is an expression over acc0
 * (a fused epilogue such as bias + relu) at each point of [...batch, m, n].
 */
export interface MatmulKernel {
  readonly kind: 'matmul';
  readonly batch: readonly number[];
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly nInputs: number;
  /** Views over [...batch, m, k] and [...batch, k, n] (float32, never masked: pad operands are materialised first). */
  readonly a: { readonly input: number; readonly view: View };
  readonly b: MatmulOperandB;
  readonly outputs: readonly [KernelOutput];
}

/**
 * B of a matmul. With `split = [kDims, nDims]` its view is over [...batch, ...kShape, ...nShape]
 * instead: row k and column n decode row-major into several dims each (a convolution's window view,
 * whose im2col matrix no strides can express, is read in place instead of copied).
 */
export interface MatmulOperandB {
  readonly input: number;
  readonly view: View;
  readonly split?: readonly [number, number];
  /** B reads 0 wherever a bound fails (a padded input seen through a window, read without a padded copy). */
  readonly bounds?: readonly WindowBound[];
}

/**
 * lo <= Σ coord(d)·coef over `terms` < hi, over B's view dims: a padded dim seen through a window is
 * position·step + tap·dilation in padded coordinates, and only [pad, pad + size) holds data.
 */
export interface WindowBound {
  readonly terms: readonly (readonly [number, number])[];
  readonly lo: number;
  readonly hi: number;
}

/** The test that every bound holds, given code for each view dim's coordinate (null when there are none). */
export function boundsTest(bounds: readonly WindowBound[] | undefined, coord: (d: number) => string, int: (v: number) => string = String): string | null {
  if (!bounds?.length) return null;
  return bounds.map((bd) => {
    const sum = bd.terms.map(([d, c]) => (c === 1 ? coord(d) : `${coord(d)} * ${int(c)}`)).join(' + ');
    return `(${sum}) >= ${int(bd.lo)} && (${sum}) < ${int(bd.hi)}`;
  }).join(' && ');
}

/**
 * Coordinates of B's view dims given code for the batch coordinates, row k and column n: `decode(flat,
 * inner, size)` renders (flat / inner) mod size in the backend's language (size 0: no mod).
 */
export function operandBCoords(b: MatmulOperandB, nb: number, batch: (d: number) => string, k: string, n: string,
  decode: (flat: string, inner: number, size: number) => string): (d: number) => string {
  const [kd, nd] = b.split ?? [1, 1];
  const coords: string[] = [];
  const dims = (first: number, count: number, flat: string) => {
    let inner = 1;
    const out: string[] = [];
    for (let d = first + count - 1; d >= first; d--) {
      out.unshift(count === 1 ? flat : decode(flat, inner, d === first ? 0 : b.view.shape[d]));
      inner *= b.view.shape[d];
    }
    coords.push(...out);
  };
  for (let d = 0; d < nb; d++) coords.push(batch(d));
  dims(nb, kd, k);
  dims(nb + kd, nd, n);
  return (d) => coords[d];
}

/**
 * A kernel is marked `dynamicOuter` where compile() planned it for dynamic dims: the size of the
 * outermost dim of its iteration space (elementwise shape[0], reduce outer[0], matmul batch[0], or m
 * when there is no batch) may change from call to call. A backend may then build code that takes
 * that size at run time and share it among kernels that differ in nothing else (the wasm backend
 * does, backends/wasm/shared.ts). It never changes what the kernel computes.
 */
export type Kernel = (ElementwiseKernel | ReduceKernel | MatmulKernel) & { readonly dynamicOuter?: boolean };

/** The shape a kernel output occupies. */
export function outputShape(kernel: Kernel, i: number): number[] {
  switch (kernel.kind) {
    case 'elementwise': return [...kernel.shape];
    case 'reduce': return kernel.outputs[i].scope === 'outer' ? [...kernel.outer] : [...kernel.outer, ...kernel.inner];
    case 'matmul': return [...kernel.batch, kernel.m, kernel.n];
    default: return assertNever(kernel, 'kernel');
  }
}

/** A contiguous view of `shape` starting at `offset`. */
export function contiguousView(shape: readonly number[], offset = 0): View {
  return { shape: [...shape], strides: contiguousStrides(shape), offset };
}

/** True when a view reads elements offset..offset+size in order (SIMD-able, no index math). */
export function isContiguousView(v: View): boolean {
  if (v.mask) return false;
  // Row-major strides, except on size-1 dims (any stride reads the same element there).
  let expected = 1;
  for (let i = v.shape.length - 1; i >= 0; i--) {
    if (v.shape[i] !== 1 && v.strides[i] !== expected) return false;
    expected *= v.shape[i];
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Traversal: `children` and `mapExpr` are the one way to walk and rewrite expressions.

const NO_CHILDREN: readonly Expr[] = [];

/** The direct sub-expressions of a node: an op's arguments, a cast's operand, a gathering load's index. */
export function children(e: Expr): readonly Expr[] {
  switch (e.kind) {
    case 'op': return e.args;
    case 'cast': return [e.x];
    case 'load': return e.gather ? [e.gather.index] : NO_CHILDREN;
    case 'const': case 'acc': return NO_CHILDREN;
    default: return assertNever(e, 'expr');
  }
}

/** `e` with its children replaced by `kids` (the same object when nothing changed). */
function withChildren(e: Expr, kids: readonly Expr[]): Expr {
  switch (e.kind) {
    case 'op': return kids.every((k, i) => k === e.args[i]) ? e : { ...e, args: kids };
    case 'cast': return kids[0] === e.x ? e : { ...e, x: kids[0] };
    case 'load': return !e.gather || kids[0] === e.gather.index ? e : { ...e, gather: { ...e.gather, index: kids[0] } };
    case 'const': case 'acc': return e;
    default: return assertNever(e, 'expr');
  }
}

/**
 * Rebuilds an expression bottom-up: each node gets its children mapped first, then `f` maps the
 * rebuilt node (return it unchanged to keep it). Shared nodes map once (`memo`, by identity), so a
 * DAG stays a DAG; pass one memo to several calls to keep sharing across roots.
 */
export function mapExpr(e: Expr, f: (e: Expr) => Expr, memo: Map<Expr, Expr> = new Map()): Expr {
  const hit = memo.get(e);
  if (hit) return hit;
  const kids = children(e);
  const out = f(kids.length ? withChildren(e, kids.map((k) => mapExpr(k, f, memo))) : e);
  memo.set(e, out);
  return out;
}

/** Every node under `roots` once, parents before children (first-occurrence order of a depth-first walk). */
export function exprNodes(roots: readonly Expr[]): Expr[] {
  const seen = new Set<Expr>();
  const out: Expr[] = [];
  const visit = (e: Expr): void => {
    if (seen.has(e)) return;
    seen.add(e);
    out.push(e);
    children(e).forEach(visit);
  };
  roots.forEach(visit);
  return out;
}

/** True when some node under `e` satisfies `test`. */
export function someExpr(e: Expr, test: (e: Expr) => boolean): boolean {
  return exprNodes([e]).some(test);
}

// ---------------------------------------------------------------------------------------------
// Printing: kernels print as readable text; the text doubles as the cache key.

function fmtView(v: View): string {
  const base = `[${v.shape.join(',')}]/(${v.strides.join(',')})+${v.offset}`;
  return v.mask ? `${base} mask(${v.mask.map(([lo, hi]) => `${lo}:${hi}`).join(',')})` : base;
}

/** Expressions used more than once in `roots` (by identity): the shared nodes of the DAG, in DFS order. */
export function sharedExprs(roots: readonly Expr[]): Expr[] {
  const seen = new Set<Expr>();
  const shared = new Set<Expr>();
  const order: Expr[] = [];
  const visit = (e: Expr): void => {
    if (seen.has(e)) { if (e.kind !== 'const' && e.kind !== 'acc') shared.add(e); return; }
    seen.add(e);
    children(e).forEach(visit);
    order.push(e);
  };
  roots.forEach(visit);
  return order.filter((e) => shared.has(e));
}

/**
 * Renders an expression DAG to code, each node once: `render(e, sub)` builds a node's code from its
 * children's (`sub`); a node used more than once, or one `alwaysBind` picks, is bound to a temp by
 * `bind(e, code)`, which returns the temp's name for every later use. Backends emitting source text
 * (JS, WGSL) share this; what a temp looks like is theirs.
 */
export function renderDag(
  roots: readonly Expr[],
  render: (e: Expr, sub: (x: Expr) => string) => string,
  bind: (e: Expr, code: string) => string,
  alwaysBind: (e: Expr) => boolean = () => false,
): string[] {
  const shared = new Set(sharedExprs(roots));
  const names = new Map<Expr, string>();
  const gen = (e: Expr): string => {
    const named = names.get(e);
    if (named) return named;
    const code = render(e, gen);
    if (!shared.has(e) && !alwaysBind(e)) return code;
    const name = bind(e, code);
    names.set(e, name);
    return name;
  };
  return roots.map(gen);
}

/** Prints an expression; nodes in `names` print as their name (shared subexpressions). */
export function printExpr(e: Expr, names: ReadonlyMap<Expr, string> = new Map(), top = true): string {
  const name = names.get(e);
  if (name && !top) return name;
  const p = (x: Expr) => printExpr(x, names, false);
  switch (e.kind) {
    case 'load': {
      const g = e.gather ? ` gather(${e.gather.axis}, ${p(e.gather.index)}, ${e.gather.op} < ${e.gather.size})` : '';
      return `in${e.input}${fmtView(e.view)}${g}:${shortDType(e.dtype)}`;
    }
    case 'const': return `${Object.is(e.value, -0) ? '-0' : e.value}:${shortDType(e.dtype)}`;
    case 'op': return `${e.op}(${e.args.map(p).join(', ')})`;
    case 'cast': return `cast<${shortDType(e.dtype)}>(${p(e.x)})`;
    case 'acc': return `acc${e.index}:${shortDType(e.dtype)}`;
    default: return assertNever(e, 'expr');
  }
}

/** Prints a kernel on a few lines; identical kernels print identically, so this is also the cache key. */
export function printKernel(k: Kernel): string {
  return k.dynamicOuter ? printKernelBody(k).replace('\n', ' dynamic-outer\n') : printKernelBody(k);
}

function printKernelBody(k: Kernel): string {
  const shared = sharedExprs(kernelExprs(k));
  const names = new Map(shared.map((e, i) => [e, `t${i}`] as const));
  const lets = shared.map((e, i) => `  let t${i} = ${printExpr(e, names)}\n`).join('');
  const ex = (e: Expr) => printExpr(e, names, false);
  const out = (o: KernelOutput) => `${ex(o.expr)} -> ${shortDType(o.dtype)}${o.view ? ` @${fmtView(o.view)}` : ''}`;
  switch (k.kind) {
    case 'elementwise':
      return `elementwise[${k.shape.join(',')}] inputs=${k.nInputs}\n` + lets + k.outputs.map((o, i) => `  out${i} = ${out(o)}`).join('\n');
    case 'reduce':
      return `reduce outer=[${k.outer.join(',')}] inner=[${k.inner.join(',')}] inputs=${k.nInputs}\n` + lets +
        k.reductions.map((r, i) => `  acc${i} = ${r.op}(${ex(r.body)}) : ${shortDType(r.dtype)}`).join('\n') + '\n' +
        k.outputs.map((o, i) => `  out${i} (${o.scope}) = ${out(o)}`).join('\n');
    case 'matmul':
      return `matmul batch=[${k.batch.join(',')}] m=${k.m} n=${k.n} k=${k.k} inputs=${k.nInputs}\n` + lets +
        `  a = in${k.a.input}${fmtView(k.a.view)}\n  b = in${k.b.input}${fmtView(k.b.view)}${k.b.split ? ` split(${k.b.split.join(',')})` : ''}${k.b.bounds?.length ? ` bounds(${k.b.bounds.map((bd) => `${bd.lo}<=${bd.terms.map(([d, c]) => `${c}*d${d}`).join('+')}<${bd.hi}`).join(', ')})` : ''}\n  out0 = ${out(k.outputs[0])}`;
    default: return assertNever(k, 'kernel');
  }
}

/** Elements a kernel iterates (for cost figures). */
export function kernelIterations(k: Kernel): number {
  switch (k.kind) {
    case 'elementwise': return sizeOf(k.shape);
    case 'reduce': return sizeOf(k.outer) * sizeOf(k.inner) * k.reductions.length;
    case 'matmul': return sizeOf(k.batch) * k.m * k.n * k.k;
    default: return assertNever(k, 'kernel');
  }
}

/** The root expressions of a kernel: reduction bodies first, then outputs (walk them with exprNodes). */
export function kernelExprs(k: Kernel): Expr[] {
  switch (k.kind) {
    case 'elementwise': case 'matmul': return k.outputs.map((o) => o.expr);
    case 'reduce': return [...k.reductions.map((r) => r.body), ...k.outputs.map((o) => o.expr)];
    default: return assertNever(k, 'kernel');
  }
}

/** The kernel with every root expression rewritten by mapExpr(root, f), one memo for all (sharing stays). */
export function mapKernelExprs(k: Kernel, f: (e: Expr) => Expr): Kernel {
  const memo = new Map<Expr, Expr>();
  const m = <O extends { readonly expr: Expr }>(o: O): O => ({ ...o, expr: mapExpr(o.expr, f, memo) });
  switch (k.kind) {
    case 'elementwise': return { ...k, outputs: k.outputs.map(m) };
    case 'reduce': return { ...k, reductions: k.reductions.map((r) => ({ ...r, body: mapExpr(r.body, f, memo) })), outputs: k.outputs.map(m) };
    case 'matmul': return { ...k, outputs: [m(k.outputs[0])] };
    default: return assertNever(k, 'kernel');
  }
}

/**
 * A kernel whose loads name buffers by global ids, renumbered as its own inputs 0..n-1 in order of
 * first use (a matmul's operands first), with the ids in that order.
 */
export function localizeInputs(k: Kernel): { kernel: Kernel; inputs: number[] } {
  const local = new Map<number, number>();
  const use = (b: number) => { if (!local.has(b)) local.set(b, local.size); };
  if (k.kind === 'matmul') { use(k.a.input); use(k.b.input); }
  for (const e of exprNodes(kernelExprs(k))) if (e.kind === 'load') use(e.input);
  const renamed = mapKernelExprs(k, (e) => (e.kind === 'load' ? { ...e, input: local.get(e.input)! } : e));
  const nInputs = local.size;
  let kernel: Kernel;
  switch (renamed.kind) {
    case 'elementwise': case 'reduce': kernel = { ...renamed, nInputs }; break;
    case 'matmul': kernel = { ...renamed, nInputs, a: { ...renamed.a, input: local.get(renamed.a.input)! }, b: { ...renamed.b, input: local.get(renamed.b.input)! } }; break;
    default: return assertNever(renamed, 'kernel');
  }
  return { kernel, inputs: [...local.keys()] };
}

/** Flop and byte counts of a kernel, for GFLOP/s and GB/s figures. */
export function kernelCost(k: Kernel, inputBytes: readonly number[]): { flops: number; bytes: number } {
  // Ops per point as the expression trees count them (a shared node once per use).
  const counted = new Map<Expr, number>();
  const treeOps = (e: Expr): number => {
    let n = counted.get(e);
    if (n === undefined) {
      n = children(e).reduce((s, c) => s + treeOps(c), e.kind === 'op' ? 1 : 0);
      counted.set(e, n);
    }
    return n;
  };
  const opsPerPoint = kernelExprs(k).reduce((s, e) => s + treeOps(e), 0);
  const outBytes = k.outputs.reduce((s, _o, i) => s + 4 * sizeOf(outputShape(k, i)), 0);
  const bytes = inputBytes.reduce((s, b) => s + b, 0) + outBytes;
  switch (k.kind) {
    case 'elementwise': return { flops: opsPerPoint * sizeOf(k.shape), bytes };
    case 'reduce': return { flops: opsPerPoint * sizeOf(k.outer) * sizeOf(k.inner) + kernelIterations(k), bytes };
    case 'matmul': return { flops: 2 * kernelIterations(k) + opsPerPoint * sizeOf(outputShape(k, 0)), bytes };
    default: return assertNever(k, 'kernel');
  }
}
