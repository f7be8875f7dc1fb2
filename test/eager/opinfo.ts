// The op-info table: one row per public op (composites included). Each row pairs the kiln call with
// a float64 reference (reference.ts, no kiln code), lists seeded samples (0-d, broadcasting, empty,
// non-contiguous views, edge values, int/bool dtypes) and says whether to check the gradient.
import * as k from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import * as R from './reference.js';
import type { RArray, RDType, Rng } from './reference.js';
import { CNN_ROWS } from './opinfo-cnn.js';
import { PARITY_ROWS } from './opinfo-parity.js';

type SliceSpec = readonly [number?, number?, number?] | null;

/** How an input reaches the op: the tensor is `base`, then this view op (so the op sees a strided view). */
export type ViewSpec =
  | { readonly kind: 'permute'; readonly order: readonly number[] }
  | { readonly kind: 'slice'; readonly specs: readonly SliceSpec[] }
  | { readonly kind: 'flip'; readonly dims: readonly number[] }
  | { readonly kind: 'expand'; readonly shape: readonly number[] };

export interface InputSpec {
  /** The stored tensor (the leaf whose gradient is checked). */
  readonly base: RArray;
  readonly view?: ViewSpec;
  /** False: never require grad for this input (default: float inputs do). */
  readonly grad?: boolean;
}

/** A known kiln bug: a note, on every backend or only on the listed ones. */
export type KnownBug = string | { readonly note: string; readonly backends: readonly string[] };

/** The note of a known bug when it applies to `backend`. */
export function knownOn(bug: KnownBug | undefined, backend: string): string | undefined {
  if (bug === undefined || typeof bug === 'string') return bug;
  return bug.backends.includes(backend) ? bug.note : undefined;
}

export interface Sample<A = any> {
  readonly desc: string;
  readonly inputs: readonly InputSpec[];
  readonly args: A;
  /** Overrides the row's grad flag (edge-value and integer samples turn it off). */
  readonly grad?: boolean;
  readonly atol?: number;
  readonly rtol?: number;
  /** A known kiln bug: the value check is expected to fail (see the note). */
  readonly knownBug?: KnownBug;
  /** A known kiln bug in the gradient. */
  readonly knownGradBug?: KnownBug;
  /** Absolute finite-difference step (default 1e-3 relative to the value); shift-invariant ops at large values need it. */
  readonly fdStep?: number;
}

export interface OpRow<A = any> {
  readonly name: string;
  readonly op: (xs: Tensor[], args: A) => Tensor | Tensor[];
  readonly ref: (xs: RArray[], args: A) => RArray | RArray[];
  readonly samples: readonly Sample<A>[];
  readonly grad: boolean;
  readonly atol: number;
  readonly rtol: number;
  readonly gradAtol: number;
  readonly gradRtol: number;
  /** A known bug in every gradient sample of the row. */
  readonly knownGradBug?: KnownBug;
}

// Values: float32 results against the float64 reference rounded once (|got - want| <= atol + rtol·|want|).
// Gradients: float32 autograd against central differences of the float64 reference. cpu and webgpu
// pass at 1e-4 / 1e-3; the margin leaves room for backends with polynomial exp/log/tanh.
const DEFAULT_TOL = { atol: 1e-5, rtol: 1e-5, gradAtol: 5e-4, gradRtol: 5e-3 };

function row<A>(r: Omit<OpRow<A>, 'atol' | 'rtol' | 'gradAtol' | 'gradRtol' | 'samples'> & Partial<typeof DEFAULT_TOL>
  & { samples: (rng: Rng) => Sample<A>[] }): OpRow<A> {
  return { ...DEFAULT_TOL, ...r, samples: r.samples(R.makeRng(R.hashString(r.name))) };
}

// ----- views -------------------------------------------------------------------------------------

/** The reference value an input spec denotes (the view applied to the base). */
export function viewRef(x: RArray, v?: ViewSpec): RArray {
  if (!v) return x;
  switch (v.kind) {
    case 'permute': return R.permute(x, v.order);
    case 'slice': return R.slice(x, v.specs);
    case 'flip': return R.flip(x, v.dims);
    case 'expand': return R.expand(x, v.shape);
  }
}

/** The same view in kiln. */
export function viewKiln(t: Tensor, v?: ViewSpec): Tensor {
  if (!v) return t;
  switch (v.kind) {
    case 'permute': return t.permute(v.order);
    case 'slice': return t.slice(v.specs);
    case 'flip': return t.flip(v.dims);
    case 'expand': return t.expand(v.shape);
  }
}

const JUNK = 12345; // fills the gaps of strided bases: a wrong read shows up at once

function checked(spec: InputSpec, want: RArray): InputSpec {
  const got = viewRef(spec.base, spec.view);
  if (got.shape.join() !== want.shape.join() || got.data.some((v, i) => !Object.is(v, want.data[i]))) {
    throw new Error('opinfo: view helper does not reproduce its input');
  }
  return spec;
}

/** A contiguous input. */
const C = (x: RArray, grad?: boolean): InputSpec => ({ base: x, grad });
/** x, reached through a permute of a differently laid-out base. */
function P(x: RArray, order: readonly number[]): InputSpec {
  const inv: number[] = [];
  order.forEach((d, i) => { inv[d] = i; });
  return checked({ base: R.permute(x, inv), view: { kind: 'permute', order } }, x);
}
/** x, reached by transposing the last two dims. */
const T = (x: RArray): InputSpec => {
  const n = x.shape.length;
  const order = [...Array(n).keys()];
  [order[n - 2], order[n - 1]] = [order[n - 1], order[n - 2]];
  return P(x, order);
};
/** x, reached through flip(dims) (negative strides). */
const Fl = (x: RArray, dims: readonly number[]): InputSpec => checked({ base: R.flip(x, dims), view: { kind: 'flip', dims } }, x);
/** x, reached by a step-2 slice of the last dim (junk in between). */
function St(x: RArray): InputSpec {
  const n = x.shape[x.shape.length - 1];
  const lead = x.shape.slice(0, -1);
  const base = R.arr([...lead, 2 * n], Array.from({ length: R.sizeOf(lead) * 2 * n }, (_, i) => (i % 2 === 0 ? x.data[(i - (i % 2)) / 2] : JUNK)), x.dtype);
  return checked({ base, view: { kind: 'slice', specs: [...lead.map(() => null), [0, undefined, 2]] } }, x);
}
/** x, reached by a step -2 slice of the last dim (walking backwards, junk in between). */
function NSt(x: RArray): InputSpec {
  const n = x.shape[x.shape.length - 1];
  const lead = x.shape.slice(0, -1);
  const m = 2 * n + 1;
  const data = new Array<number>(R.sizeOf(lead) * m).fill(JUNK);
  for (let r = 0; r < R.sizeOf(lead); r++) for (let i = 0; i < n; i++) data[r * m + 2 * n - 1 - 2 * i] = x.data[r * n + i];
  return checked({ base: R.arr([...lead, m], data, x.dtype), view: { kind: 'slice', specs: [...lead.map(() => null), [-2, undefined, -2]] } }, x);
}
/** small, broadcast to `shape` by expand (stride-0 dims: the gradient must accumulate). */
const E = (small: RArray, shape: readonly number[]): InputSpec => ({ base: small, view: { kind: 'expand', shape } });

const fshape = (s: readonly number[]) => `[${s.join(',')}]`;

// ----- unary elementwise -------------------------------------------------------------------------

interface UnaryOpts {
  /** Result dtype for an int/bool input: 'float' ops compute in float32, 'same' keeps the dtype. */
  kind: 'float' | 'same';
  lo?: number; hi?: number;
  /** Values to steer clear of in gradient samples (kinks, discontinuities). */
  avoid?: (v: number) => boolean;
  edge?: number[];
  ints?: boolean;
  grad?: boolean;
  atol?: number; rtol?: number; gradAtol?: number; gradRtol?: number;
  knownEdgeBug?: string;
}

const EDGE = [0, -0, 1, -1, Infinity, -Infinity, NaN, 1e30, -1e30, 1e-30, 3.5, -2.25];

function unarySamples(rng: Rng, o: UnaryOpts): Sample<{ form: 'method' | 'fn' }>[] {
  const u = (shape: number[]) => R.uniform(rng, shape, o.lo ?? -2, o.hi ?? 2, o.avoid);
  const m = { form: 'method' as const };
  const s: Sample<{ form: 'method' | 'fn' }>[] = [
    { desc: '[3,4]', inputs: [C(u([3, 4]))], args: m },
    { desc: '[2,3] function form', inputs: [C(u([2, 3]))], args: { form: 'fn' } },
    { desc: '0-d', inputs: [C(u([]))], args: m },
    { desc: 'empty [0,3]', inputs: [C(u([0, 3]))], args: m },
    { desc: 'transposed [4,3]', inputs: [T(u([4, 3]))], args: m },
    { desc: 'permuted [2,3,4]', inputs: [P(u([2, 3, 4]), [2, 0, 1])], args: m },
    { desc: 'flipped [3,4]', inputs: [Fl(u([3, 4]), [0, 1])], args: m },
    { desc: 'step-2 slice [2,3]', inputs: [St(u([2, 3]))], args: m },
    { desc: 'step -2 slice [5]', inputs: [NSt(u([5]))], args: m },
    { desc: 'expanded [3,1]->[3,4]', inputs: [E(u([3, 1]), [3, 4])], args: m },
    // Long enough for vector lanes and several workgroups, with a ragged tail.
    { desc: 'long [1027]', inputs: [C(u([1027]))], args: m, grad: false },
  ];
  const edge = o.edge ?? EDGE;
  s.push({ desc: `edge values ${edge.join(' ')}`, inputs: [C(R.arr([edge.length], edge))], args: m, grad: false });
  if (o.ints) s.push({ desc: 'int32', inputs: [C(R.arr([7], [-3, -2, -1, 0, 1, 2, 3], 'int32'))], args: m, grad: false });
  return s;
}

function unaryRow(name: string, method: (x: Tensor) => Tensor, fn: (x: Tensor) => Tensor, f: (v: number) => number, o: UnaryOpts): OpRow {
  return row({
    name,
    op: ([x], a) => (a.form === 'fn' ? fn(x) : method(x)),
    ref: ([x]) => R.map1(x, f, o.kind === 'float' || x.dtype === 'float32' ? 'float32' : x.dtype),
    samples: (rng) => unarySamples(rng, o),
    grad: o.grad ?? true,
    ...(o.atol !== undefined && { atol: o.atol }), ...(o.rtol !== undefined && { rtol: o.rtol }),
    ...(o.gradAtol !== undefined && { gradAtol: o.gradAtol }), ...(o.gradRtol !== undefined && { gradRtol: o.gradRtol }),
  });
}

const near = (points: (v: number) => number, eps = 0.02) => (v: number) => Math.abs(v - points(v)) < eps;
const nearInt = near(Math.round);
const nearHalf = near((v) => Math.floor(v) + 0.5);
const nearZero = near(() => 0, 0.05);

// NOTE: relu and clamp pass NaN through, as torch.relu and torch.clamp do (the references below say so).

const UNARY: OpRow[] = [
  unaryRow('neg', (x) => x.neg(), k.neg, (v) => -v, { kind: 'same', ints: true }),
  unaryRow('abs', (x) => x.abs(), k.abs, Math.abs, { kind: 'same', ints: true, avoid: nearZero }),
  unaryRow('exp', (x) => x.exp(), k.exp, Math.exp, { kind: 'float', ints: true, edge: [...EDGE, 88, 89, -104] }),
  unaryRow('log', (x) => x.log(), k.log, Math.log, { kind: 'float', ints: true, lo: 0.1, hi: 3 }),
  unaryRow('sqrt', (x) => x.sqrt(), k.sqrt, Math.sqrt, { kind: 'float', ints: true, lo: 0.1, hi: 3 }),
  unaryRow('rsqrt', (x) => x.rsqrt(), k.rsqrt, (v) => 1 / Math.sqrt(v), { kind: 'float', ints: true, lo: 0.1, hi: 3 }),
  unaryRow('sin', (x) => x.sin(), k.sin, Math.sin, { kind: 'float', ints: true, lo: -4, hi: 4, edge: [0, -0, 1, Infinity, -Infinity, NaN, 100, -1000.5] }),
  unaryRow('cos', (x) => x.cos(), k.cos, Math.cos, { kind: 'float', ints: true, lo: -4, hi: 4, edge: [0, -0, 1, Infinity, -Infinity, NaN, 100, -1000.5] }),
  unaryRow('tanh', (x) => x.tanh(), k.tanh, Math.tanh, { kind: 'float', ints: true, lo: -3, hi: 3 }),
  unaryRow('sigmoid', (x) => x.sigmoid(), k.sigmoid, R.sigmoid, { kind: 'float', ints: true, lo: -5, hi: 5, atol: 1e-6, rtol: 1e-5 }),
  unaryRow('relu', (x) => x.relu(), k.relu, (v) => (Number.isNaN(v) ? NaN : Math.max(v, 0)), { kind: 'same', ints: true, avoid: nearZero }),
  unaryRow('gelu', (x) => x.gelu(), (x) => k.gelu(x, 'none'), R.geluErf, { kind: 'float', lo: -4, hi: 4, edge: [0, -0, 1, -1, NaN, 1e30, -1e30, 10, -10, 3.5, -2.25], atol: 1e-6, rtol: 1e-5 }),
  unaryRow('gelu(tanh)', (x) => x.gelu('tanh'), (x) => k.gelu(x, 'tanh'), R.geluTanh, { kind: 'float', lo: -4, hi: 4, edge: [0, -0, 1, -1, NaN, 1e30, -1e30, 10, -10, 3.5, -2.25], atol: 1e-6, rtol: 1e-5 }),
  unaryRow('silu', (x) => x.silu(), k.silu, (v) => v * R.sigmoid(v), { kind: 'float', ints: true, lo: -5, hi: 5, edge: [0, -0, 1, -1, NaN, 1e30, -1e30, 100, -100], atol: 1e-6, rtol: 1e-5 }),
  unaryRow('softplus', (x) => x.softplus(), (x) => k.softplus(x), (v) => R.softplus(v), { kind: 'float', lo: -5, hi: 5, edge: [...EDGE, 20, 20.5, -20, 50] }),
  unaryRow('softplus(beta=2,threshold=5)', (x) => x.softplus(2, 5), (x) => k.softplus(x, 2, 5), (v) => R.softplus(v, 2, 5), { kind: 'float', lo: -4, hi: 4, avoid: near(() => 2.5), edge: [...EDGE, 2.5, 2.4, 2.6] }),
  unaryRow('floor', (x) => x.floor(), k.floor, Math.floor, { kind: 'same', ints: true, lo: -3, hi: 3, avoid: nearInt, edge: [...EDGE, 0.5, -0.5, 2.5, -2.5, 0.99999994] }),
  unaryRow('ceil', (x) => x.ceil(), k.ceil, Math.ceil, { kind: 'same', ints: true, lo: -3, hi: 3, avoid: nearInt, edge: [...EDGE, 0.5, -0.5, 2.5, -2.5, 0.99999994] }),
  unaryRow('round', (x) => x.round(), k.round, R.roundHalfEven, { kind: 'same', ints: true, lo: -3, hi: 3, avoid: nearHalf, edge: [...EDGE, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, 8388609] }),
  unaryRow('sign', (x) => x.sign(), k.sign, R.sign, { kind: 'same', ints: true, avoid: nearZero }),
  unaryRow('reciprocal', (x) => x.reciprocal(), k.reciprocal, (v) => 1 / v, { kind: 'float', ints: true, avoid: near(() => 0, 0.3) }),
  unaryRow('erf', (x) => x.erf(), k.erf, R.erf, { kind: 'float', ints: true, lo: -3, hi: 3, atol: 1e-6, rtol: 1e-5, edge: [...EDGE, 0.4999, 0.5, 3, 6, -0.01] }),
];

// logicalNot: bool result from any input; not differentiable.
const LOGICAL_NOT = row({
  name: 'logicalNot',
  op: ([x], a: { form: string }) => (a.form === 'fn' ? k.logicalNot(x) : x.logicalNot()),
  ref: ([x]) => R.map1(x, (v) => (v !== 0 ? 0 : 1), 'bool'),
  grad: false,
  samples: (rng) => [
    { desc: 'bool [3,4]', inputs: [C(R.bools(rng, [3, 4]))], args: { form: 'method' } },
    { desc: 'bool function form, transposed', inputs: [T(R.bools(rng, [4, 3]))], args: { form: 'fn' } },
    { desc: 'float edge values (NaN is true)', inputs: [C(R.arr([6], [0, -0, 1, NaN, -Infinity, 1e-30]))], args: { form: 'method' } },
    { desc: 'int32', inputs: [C(R.arr([4], [0, 1, -5, 7], 'int32'))], args: { form: 'method' } },
    { desc: '0-d bool', inputs: [C(R.arr([], [1], 'bool'))], args: { form: 'method' } },
    { desc: 'empty [0]', inputs: [C(R.arr([0], [], 'bool'))], args: { form: 'method' } },
  ],
});

// ----- binary elementwise ------------------------------------------------------------------------

type BinaryArgs = { form: 'method' | 'fn' | 'scalarR' | 'scalarL'; scalar?: number | boolean };
type BinKind = 'arith' | 'float' | 'compare' | 'logical';

interface BinaryOpts {
  kind: BinKind;
  /** Generators for the two operands of gradient samples. */
  gen?: (rng: Rng, sa: number[], sb: number[]) => [RArray, RArray];
  ints?: boolean;
  bools?: boolean;
  /** Reference on bool operands (torch: add is or, mul is and). */
  boolRef?: (a: number, b: number) => number;
  /** Integer reference (defaults to f then int32 storage). */
  intRef?: (a: number, b: number) => number;
  grad?: boolean;
  scalars?: (number | boolean)[];
  edge?: number[];
  knownEdgeBug?: string;
  knownBoolBug?: string;
  atol?: number; rtol?: number;
  extra?: (rng: Rng) => Sample<BinaryArgs>[];
}

const BIN_EDGE = [0, -0, 1, -1.5, Infinity, -Infinity, NaN, 1e30, -3e38];

function binaryDType(kind: BinKind, a: RDType, b: RDType): RDType {
  if (kind === 'compare' || kind === 'logical') return 'bool';
  if (kind === 'float') return 'float32';
  return R.promote(a, b);
}

function binaryRow(name: keyof typeof k & string, f: (a: number, b: number) => number, o: BinaryOpts): OpRow<BinaryArgs> {
  const method = name as 'add';
  const fn = k[name] as (a: unknown, b: unknown) => Tensor;
  const refOf = (a: RArray, b: RArray): RArray => {
    const dt = binaryDType(o.kind, a.dtype, b.dtype);
    const operand = R.promote(a.dtype, b.dtype);
    let g = f;
    if (o.kind === 'logical') g = (x, y) => f(x !== 0 ? 1 : 0, y !== 0 ? 1 : 0);
    else if (operand === 'bool' && o.boolRef) g = o.boolRef;
    else if (operand === 'int32' && o.intRef) g = o.intRef;
    return R.map2(a, b, g, dt);
  };
  const scalarRef = (t: RArray, s: number | boolean) => R.scalar(Number(s), R.weakScalarDType(t.dtype, s));
  return row<BinaryArgs>({
    name,
    op: (xs, a) => {
      switch (a.form) {
        case 'method': return (xs[0] as any)[method](xs[1]);
        case 'fn': return fn(xs[0], xs[1]);
        case 'scalarR': return (xs[0] as any)[method](a.scalar);
        case 'scalarL': return fn(a.scalar, xs[0]);
      }
    },
    ref: (xs, a) => {
      if (a.form === 'scalarR') return refOf(xs[0], scalarRef(xs[0], a.scalar!));
      if (a.form === 'scalarL') return refOf(scalarRef(xs[0], a.scalar!), xs[0]);
      return refOf(xs[0], xs[1]);
    },
    grad: o.grad ?? (o.kind === 'arith' || o.kind === 'float'),
    ...(o.atol !== undefined && { atol: o.atol }), ...(o.rtol !== undefined && { rtol: o.rtol }),
    samples: (rng) => {
      const gen = o.gen ?? ((r: Rng, sa: number[], sb: number[]) => [R.uniform(r, sa), R.uniform(r, sb)] as [RArray, RArray]);
      const g = (sa: number[], sb: number[]) => gen(rng, sa, sb);
      const m = { form: 'method' as const };
      const s: Sample<BinaryArgs>[] = [];
      const pair = (desc: string, sa: number[], sb: number[], wrap: (a: RArray, b: RArray) => [InputSpec, InputSpec] = (a, b) => [C(a), C(b)], args: BinaryArgs = m) => {
        const [a, b] = g(sa, sb);
        s.push({ desc, inputs: wrap(a, b), args });
      };
      pair('[3,4] op [3,4]', [3, 4], [3, 4]);
      pair('[2,3] function form', [2, 3], [2, 3], undefined, { form: 'fn' });
      pair('[2,3,4] op [3,1] (broadcast)', [2, 3, 4], [3, 1]);
      pair('[1,4] op [3,1] (both broadcast)', [1, 4], [3, 1]);
      pair('0-d op [3]', [], [3]);
      pair('[2,3] op 0-d', [2, 3], []);
      pair('0-d op 0-d', [], []);
      pair('empty [0,3] op [3]', [0, 3], [3]);
      pair('[2,0] op [2,1]', [2, 0], [2, 1]);
      pair('transposed [4,3] op flipped [4,3]', [4, 3], [4, 3], (a, b) => [T(a), Fl(b, [0])]);
      pair('step-2 slice [2,3] op step -2 slice [2,3]', [2, 3], [2, 3], (a, b) => [St(a), NSt(b)]);
      pair('permuted [2,3,4] op expanded [1,4]->[3,4]', [2, 3, 4], [1, 4], (a, b) => [P(a, [1, 2, 0]), E(b, [3, 4])]);
      // Value only, so plain generators (the gradient-safe ones reject far too much at this size).
      s.push({ desc: 'long [1027] op [1027]', inputs: [C(R.uniform(rng, [1027], 0.2, 2)), C(R.uniform(rng, [1027], -2, 2, near(() => 0, 0.3)))], args: m, grad: false });
      for (const sc of o.scalars ?? [2, 0.5]) {
        const [a] = g([2, 3], [2, 3]);
        s.push({ desc: `[2,3] op weak scalar ${sc}`, inputs: [C(a)], args: { form: 'scalarR', scalar: sc } });
        s.push({ desc: `weak scalar ${sc} op [2,3] (function form)`, inputs: [C(g([2, 3], [2, 3])[1])], args: { form: 'scalarL', scalar: sc } });
      }
      const edge = o.edge ?? BIN_EDGE;
      s.push({
        desc: `edge table [${edge.length},1] op [1,${edge.length}] of ${edge.join(' ')}`,
        inputs: [C(R.arr([edge.length, 1], edge)), C(R.arr([1, edge.length], edge))], args: m, grad: false,
      });
      if (o.ints !== false) {
        const ia = R.randint(rng, [3, 4], -9, 10), ib = R.arr([3, 4], R.randint(rng, [3, 4], 1, 6).data.map((v, i) => (i % 2 ? v : -v)), 'int32');
        s.push({ desc: 'int32 op int32', inputs: [C(ia), C(ib)], args: m, grad: false });
        s.push({ desc: 'int32 op float32 (promotes)', inputs: [C(R.randint(rng, [2, 3], -5, 6)), C(g([2, 3], [2, 3])[1])], args: m, grad: false });
        s.push({ desc: 'int32 op weak int scalar 3 (stays int32)', inputs: [C(ia)], args: { form: 'scalarR', scalar: 3 }, grad: false });
        s.push({ desc: 'int32 op weak float scalar 2.5', inputs: [C(ia)], args: { form: 'scalarR', scalar: 2.5 }, grad: false });
        s.push({ desc: 'int32 [2,3] op int32 0-d', inputs: [C(R.randint(rng, [2, 3], -9, 10)), C(R.arr([], [4], 'int32'))], args: m, grad: false });
      }
      if (o.bools) {
        const ba = R.arr([2, 2], [0, 0, 1, 1], 'bool'), bb = R.arr([2, 2], [0, 1, 0, 1], 'bool');
        s.push({ desc: 'bool op bool', inputs: [C(ba), C(bb)], args: m, grad: false });
        s.push({ desc: 'bool op int32', inputs: [C(ba), C(R.arr([2, 2], [3, -1, 0, 2], 'int32'))], args: m, grad: false });
        s.push({ desc: 'bool op weak true (stays bool)', inputs: [C(ba)], args: { form: 'scalarR', scalar: true }, grad: false });
        s.push({ desc: 'bool op weak int 1 (int32)', inputs: [C(ba)], args: { form: 'scalarR', scalar: 1 }, grad: false });
        s.push({ desc: 'bool op weak float 1.5 (float32)', inputs: [C(ba)], args: { form: 'scalarR', scalar: 1.5 }, grad: false });
      }
      return [...s, ...(o.extra?.(rng) ?? [])];
    },
  });
}

const positive = (r: Rng, s: number[]) => R.uniform(r, s, 0.2, 2);
const awayFromZero = (r: Rng, s: number[]) => R.uniform(r, s, -2, 2, near(() => 0, 0.3));
// maximum/minimum: keep the operands apart so the gradient does not meet a tie.
const separated = (r: Rng, sa: number[], sb: number[]): [RArray, RArray] => {
  const a = R.uniform(r, sa);
  const b = R.uniform(r, sb, -2, 2, (v) => a.data.some((x) => Math.abs(x - v) < 0.05));
  return [a, b];
};
// remainder: rejection-sample until no broadcast pair has a/b near an integer (a jump of the remainder).
const remainderPair = (r: Rng, sa: number[], sb: number[]): [RArray, RArray] => {
  for (let tries = 0; ; tries++) {
    if (tries > 10000) throw new Error(`remainderPair: no sample for [${sa}] and [${sb}]`);
    const a = R.uniform(r, sa, -3, 3);
    const b = R.arr(sb, R.uniform(r, sb, 0.5, 2).data.map((v, i) => (i % 2 ? -v : v)));
    const q = R.map2(a, b, (x, y) => x / y, 'float32');
    if (q.data.every((v) => Math.abs(v - Math.round(v)) > 0.05)) return [a, b];
  }
};

// NOTE: C's pow (and torch) give pow(1, y) = 1 and pow(-1, ±inf) = 1 for any y; JS's ** gives NaN.
const cpow = (a: number, b: number): number => (a === 1 || b === 0 ? 1 : a === -1 && !Number.isFinite(b) && !Number.isNaN(b) ? 1 : Math.pow(a, b));
const fmax = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b));
const fmin = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b));

const BINARY: OpRow[] = [
  binaryRow('add', (a, b) => a + b, { kind: 'arith', bools: true, boolRef: (a, b) => (a || b ? 1 : 0) }),
  binaryRow('sub', (a, b) => a - b, { kind: 'arith' }),
  binaryRow('mul', (a, b) => a * b, { kind: 'arith', bools: true, boolRef: (a, b) => (a && b ? 1 : 0), intRef: (a, b) => Math.imul(a, b) }),
  binaryRow('div', (a, b) => a / b, { kind: 'float', gen: (r, sa, sb) => [R.uniform(r, sa), awayFromZero(r, sb)], scalars: [2, 0.5, -4] }),
  binaryRow('pow', cpow, {
    kind: 'float', gen: (r, sa, sb) => [positive(r, sa), R.uniform(r, sb)], scalars: [2, 0.5, 3],
    edge: [0, -0, 1, -1, 2, -2, 0.5, Infinity, -Infinity, NaN], rtol: 2e-5,
    extra: (rng) => [
      { desc: 'negative base ** 3 (integer scalar exponent)', inputs: [C(R.uniform(rng, [2, 3], -2, 2, nearZero))], args: { form: 'scalarR', scalar: 3 } },
      { desc: 'negative base ** 2 tensor exponent (value only: d/db is NaN)', inputs: [C(R.arr([3], [-2, -0.5, -3])), C(R.arr([3], [2, 3, -1]), false)], args: { form: 'method' } },
      {
        desc: 'x ** 0 at x = 0 (gradient 0)', inputs: [C(R.arr([3], [0, 1, -2]))], args: { form: 'scalarR', scalar: 0 },
      },
    ],
  }),
  binaryRow('maximum', fmax, { kind: 'arith', gen: separated, bools: true, boolRef: (a, b) => (a || b ? 1 : 0) }),
  binaryRow('minimum', fmin, { kind: 'arith', gen: separated, bools: true, boolRef: (a, b) => (a && b ? 1 : 0) }),
  binaryRow('remainder', R.pyMod, { kind: 'arith', gen: remainderPair, scalars: [3, -2.5], edge: [0, -0, 1, -1.5, 3, -3, Infinity, -Infinity, NaN] }),
  binaryRow('eq', (a, b) => (a === b ? 1 : 0), { kind: 'compare', bools: true, scalars: [1, 0.5, true] }),
  binaryRow('ne', (a, b) => (a !== b ? 1 : 0), { kind: 'compare', bools: true, scalars: [1, 0.5, true] }),
  binaryRow('lt', (a, b) => (a < b ? 1 : 0), { kind: 'compare', bools: true }),
  binaryRow('le', (a, b) => (a <= b ? 1 : 0), { kind: 'compare', bools: true }),
  binaryRow('gt', (a, b) => (a > b ? 1 : 0), { kind: 'compare', bools: true }),
  binaryRow('ge', (a, b) => (a >= b ? 1 : 0), { kind: 'compare', bools: true }),
  binaryRow('logicalAnd', (a, b) => (a && b ? 1 : 0), { kind: 'logical', bools: true, scalars: [true, 0, 2.5] }),
  binaryRow('logicalOr', (a, b) => (a || b ? 1 : 0), { kind: 'logical', bools: true, scalars: [false, 0, 2.5] }),
];

// ----- clamp and where ---------------------------------------------------------------------------

const clampRef = (v: number, lo?: number | null, hi?: number | null) => {
  if (Number.isNaN(v)) return NaN;
  let r = v;
  if (lo !== undefined && lo !== null) r = Math.max(r, lo);
  if (hi !== undefined && hi !== null) r = Math.min(r, hi);
  return r;
};

type ClampArgs = { min?: number | null; max?: number | null; fn?: boolean };
const CLAMP = row<ClampArgs>({
  name: 'clamp',
  op: ([x], a) => (a.fn ? k.clamp(x, a.min, a.max) : x.clamp(a.min, a.max)),
  ref: ([x], a) => R.map1(x, (v) => clampRef(v, a.min, a.max), x.dtype === 'float32' || !Number.isInteger(a.min ?? 0) || !Number.isInteger(a.max ?? 0) ? 'float32' : x.dtype),
  grad: true,
  samples: (rng) => {
    const away = (lo: number, hi: number) => (v: number) => Math.abs(v - lo) < 0.03 || Math.abs(v - hi) < 0.03;
    const u = (s: number[]) => R.uniform(rng, s, -2, 2, away(-0.5, 1));
    return [
      { desc: '[3,4] min -0.5 max 1', inputs: [C(u([3, 4]))], args: { min: -0.5, max: 1 } },
      { desc: '[3,4] min only', inputs: [C(u([3, 4]))], args: { min: -0.5 } },
      { desc: '[3,4] max only (min null)', inputs: [C(u([3, 4]))], args: { min: null, max: 1 } },
      { desc: 'function form, transposed', inputs: [T(u([4, 3]))], args: { min: -0.5, max: 1, fn: true } },
      { desc: '0-d', inputs: [C(u([]))], args: { min: -0.5, max: 1 } },
      { desc: 'empty [0,2]', inputs: [C(u([0, 2]))], args: { min: -0.5, max: 1 } },
      { desc: 'step -2 slice [6]', inputs: [NSt(u([6]))], args: { min: -0.5, max: 1 } },
      { desc: 'edge values', inputs: [C(R.arr([6], [Infinity, -Infinity, -0, 1e30, -0.5, 1]))], args: { min: -0.5, max: 1 }, grad: false },
      { desc: 'NaN propagates', inputs: [C(R.arr([3], [NaN, -3, 3]))], args: { min: -0.5, max: 1 }, grad: false },
      { desc: 'min > max gives max everywhere', inputs: [C(R.arr([3], [-2, 0, 2]))], args: { min: 1, max: -1 }, grad: false },
      { desc: 'int32 with int bounds', inputs: [C(R.arr([5], [-5, -1, 0, 2, 9], 'int32'))], args: { min: -1, max: 3 }, grad: false },
      { desc: 'int32 with float bound (promotes)', inputs: [C(R.arr([3], [-5, 0, 9], 'int32'))], args: { min: -0.5 }, grad: false },
    ];
  },
});

type WhereArgs = { form: 'fn' | 'method' | 'scalarA' | 'scalarB'; scalar?: number };
const WHERE = row<WhereArgs>({
  name: 'where',
  op: (xs, a) => {
    switch (a.form) {
      case 'fn': return k.where(xs[0], xs[1], xs[2]);
      case 'method': return xs[1].where(xs[0], xs[2]);
      case 'scalarA': return k.where(xs[0], a.scalar!, xs[1]);
      case 'scalarB': return k.where(xs[0], xs[1], a.scalar!);
    }
  },
  ref: (xs, a) => {
    const [c, x, y] = a.form === 'scalarA' ? [xs[0], R.scalar(a.scalar!, R.weakScalarDType(xs[1].dtype, a.scalar!)), xs[1]]
      : a.form === 'scalarB' ? [xs[0], xs[1], R.scalar(a.scalar!, R.weakScalarDType(xs[1].dtype, a.scalar!))] : xs;
    return R.mapN([c, x, y], (cv, xv, yv) => (cv ? xv : yv), R.promote(x.dtype, y.dtype));
  },
  grad: true,
  samples: (rng) => {
    const b = (s: number[]) => R.bools(rng, s);
    const u = (s: number[]) => R.uniform(rng, s);
    return [
      { desc: '[3,4] all same shape', inputs: [C(b([3, 4])), C(u([3, 4])), C(u([3, 4]))], args: { form: 'fn' } },
      { desc: 'cond [3,1], a [1,4], b [3,4] (3-way broadcast)', inputs: [C(b([3, 1])), C(u([1, 4])), C(u([3, 4]))], args: { form: 'fn' } },
      { desc: 'method form x.where(cond, y)', inputs: [C(b([2, 3])), C(u([2, 3])), C(u([2, 3]))], args: { form: 'method' } },
      { desc: 'scalar a', inputs: [C(b([2, 3])), C(u([2, 3]))], args: { form: 'scalarA', scalar: 0.5 } },
      { desc: 'scalar b', inputs: [C(b([2, 3])), C(u([2, 3]))], args: { form: 'scalarB', scalar: -1 } },
      { desc: '0-d cond', inputs: [C(R.arr([], [1], 'bool')), C(u([2, 2])), C(u([2, 2]))], args: { form: 'fn' } },
      { desc: 'empty [0,3]', inputs: [C(b([0, 3])), C(u([0, 3])), C(u([3]))], args: { form: 'fn' } },
      { desc: 'non-contiguous: transposed cond, flipped a, step-2 b', inputs: [T(b([4, 3])), Fl(u([4, 3]), [1]), St(u([4, 3]))], args: { form: 'fn' } },
      { desc: 'NaN/Inf in the branch not taken', inputs: [C(R.arr([4], [1, 0, 1, 0], 'bool')), C(R.arr([4], [1, NaN, 2, Infinity])), C(R.arr([4], [NaN, 3, -Infinity, 4]))], args: { form: 'fn' }, grad: false },
      { desc: 'int32 a, float32 b (promotes)', inputs: [C(b([2, 3])), C(R.randint(rng, [2, 3], -5, 5)), C(u([2, 3]))], args: { form: 'fn' }, grad: false },
      { desc: 'int32 both', inputs: [C(b([2, 3])), C(R.randint(rng, [2, 3], -5, 5)), C(R.randint(rng, [2, 3], -5, 5))], args: { form: 'fn' }, grad: false },
      { desc: 'bool both', inputs: [C(b([2, 3])), C(b([2, 3])), C(b([2, 3]))], args: { form: 'fn' }, grad: false },
    ];
  },
});

// ----- reductions --------------------------------------------------------------------------------

type ReduceArgs = { dim?: number | number[]; keepdim?: boolean; correction?: number; fn?: boolean };

interface ReduceOpts {
  ints?: boolean;
  bools?: boolean;
  lo?: number; hi?: number;
  grad?: boolean;
  edge?: number[][];
  emptyOk?: boolean;
  /** torch's argmax/argmin take one dim only. */
  singleDim?: boolean;
  /** False for var/std: a lane of equal values (expanded, or one element) has no usable gradient. */
  expandGrad?: boolean;
  emptyInputBug?: string;
  atol?: number; rtol?: number;
  extra?: (rng: Rng) => Sample<ReduceArgs>[];
}

function reduceSamples(rng: Rng, o: ReduceOpts): Sample<ReduceArgs>[] {
  const u = (s: number[]) => R.uniform(rng, s, o.lo ?? -2, o.hi ?? 2);
  const x = () => u([3, 4, 5]);
  const s: Sample<ReduceArgs>[] = [
    { desc: '[3,4,5] all dims', inputs: [C(x())], args: {} },
    { desc: '[3,4,5] all dims keepdim', inputs: [C(x())], args: { dim: undefined, keepdim: true } },
    { desc: '[3,4,5] dim 1', inputs: [C(x())], args: { dim: 1 } },
    { desc: '[3,4,5] dim -1 keepdim', inputs: [C(x())], args: { dim: -1, keepdim: true } },
    { desc: '[3,4,5] dim 0 function form', inputs: [C(x())], args: { dim: 0, fn: true } },
    // var/std of one element (correction 1) is NaN: there is no gradient to check.
    { desc: '0-d all dims', inputs: [C(u([]))], args: {}, grad: o.expandGrad },
    { desc: '0-d dim 0', inputs: [C(u([]))], args: { dim: 0 }, grad: o.expandGrad },
    { desc: '0-d dim -1 keepdim', inputs: [C(u([]))], args: { dim: -1, keepdim: true }, grad: o.expandGrad },
    { desc: 'transposed [5,3] dim 0', inputs: [T(u([5, 3]))], args: { dim: 0 } },
    { desc: 'permuted [4,2,3] dim 1 keepdim', inputs: [P(u([4, 2, 3]), [2, 0, 1])], args: { dim: 1, keepdim: true } },
    { desc: 'flipped [3,4] dim 1', inputs: [Fl(u([3, 4]), [1])], args: { dim: 1 } },
    { desc: 'step -2 slice [3,5] dim 1', inputs: [NSt(u([3, 5]))], args: { dim: 1 } },
    // An expanded lane holds one value repeated: std sits on its sqrt kink there, so no gradient check.
    { desc: 'expanded [3,1]->[3,4] dim 1', inputs: [E(u([3, 1]), [3, 4])], args: { dim: 1 }, grad: o.expandGrad ?? true },
    { desc: '[2,0] dim 0 (reduce the non-empty dim)', inputs: [C(u([2, 0]))], args: { dim: 0 } },
  ];
  if (!o.singleDim) {
    s.push({ desc: '[3,4,5] dims [0,2]', inputs: [C(x())], args: { dim: [0, 2] } });
    s.push({ desc: '[3,4,5] dims [2,-3] keepdim', inputs: [C(x())], args: { dim: [2, -3], keepdim: true } });
  }
  if (o.emptyOk) s.push({ desc: 'empty [0,3] dim 0', inputs: [C(u([0, 3]))], args: { dim: 0 } }, { desc: 'empty [0] all', inputs: [C(u([0]))], args: {} });
  for (const e of o.edge ?? []) s.push({ desc: `edge values ${e.join(' ')}`, inputs: [C(R.arr([e.length], e))], args: {}, grad: false });
  if (o.ints) {
    s.push({ desc: 'int32 [3,4] dim 1', inputs: [C(R.randint(rng, [3, 4], -3, 4))], args: { dim: 1 }, grad: false });
    s.push({ desc: 'int32 [3,4] all', inputs: [C(R.randint(rng, [3, 4], -3, 4))], args: {}, grad: false });
  }
  if (o.bools) s.push({ desc: 'bool [3,4] dim 0', inputs: [C(R.bools(rng, [3, 4]))], args: { dim: 0 }, grad: false });
  return [...s, ...(o.extra?.(rng) ?? [])];
}

function reduceRow(name: 'sum' | 'mean' | 'amax' | 'amin' | 'prod' | 'var' | 'std' | 'logsumexp' | 'argmax' | 'argmin',
  ref: (x: RArray, a: ReduceArgs) => RArray, o: ReduceOpts): OpRow<ReduceArgs> {
  const fnName = name === 'var' ? 'variance' : name;
  return row<ReduceArgs>({
    name,
    op: ([x], a) => {
      const extra = a.correction === undefined ? [] : [a.correction];
      if (a.fn) return (k as any)[fnName](x, a.dim, a.keepdim ?? false, ...extra);
      return (x as any)[name](a.dim, a.keepdim ?? false, ...extra);
    },
    ref: ([x], a) => ref(x, a),
    grad: o.grad ?? true,
    samples: (rng) => reduceSamples(rng, o),
    ...(o.atol !== undefined && { atol: o.atol }), ...(o.rtol !== undefined && { rtol: o.rtol }),
  });
}

/** Long rows (several workgroups, accumulation error) and many short rows; value checks only. */
const LONG_REDUCE = (rng: Rng): Sample<ReduceArgs>[] => [
  { desc: 'long row [4099] (positive values: accumulation error shows)', inputs: [C(R.uniform(rng, [4099], 0, 1))], args: {}, grad: false },
  { desc: 'many rows [257,33] dim 1', inputs: [C(R.uniform(rng, [257, 33]))], args: { dim: 1 }, grad: false, atol: 1e-5, rtol: 1e-4 },
  { desc: 'many columns [33,257] dim 0', inputs: [C(R.uniform(rng, [33, 257]))], args: { dim: 0 }, grad: false, atol: 1e-5, rtol: 1e-4 },
];
const REDUCE_EDGE = [[1, NaN, 3], [Infinity, 1, -Infinity], [-Infinity, -Infinity], [1e30, 1e30, -1e30], [-0, 0]];

const REDUCTIONS: OpRow[] = [
  reduceRow('sum', (x, a) => R.sum(x, a.dim, a.keepdim), { ints: true, bools: true, emptyOk: true, edge: REDUCE_EDGE, atol: 1e-5, rtol: 1e-5, extra: LONG_REDUCE }),
  reduceRow('mean', (x, a) => R.mean(x, a.dim, a.keepdim), { ints: true, emptyOk: true, edge: REDUCE_EDGE, extra: LONG_REDUCE }),
  reduceRow('amax', (x, a) => R.amax(x, a.dim, a.keepdim), { ints: true, edge: REDUCE_EDGE, extra: (rng) => [
    { desc: 'long row [4099]', inputs: [C(R.uniform(rng, [4099]))], args: {}, grad: false },
    { desc: 'ties split the gradient evenly', inputs: [C(R.arr([2, 3], [1, 3, 3, 2, 2, 0]))], args: { dim: 1 } },
  ] }),
  reduceRow('amin', (x, a) => R.amin(x, a.dim, a.keepdim), { ints: true, edge: REDUCE_EDGE, extra: () => [
    { desc: 'ties split the gradient evenly', inputs: [C(R.arr([2, 3], [1, 1, 3, 0, 2, 0]))], args: { dim: 1 } },
  ] }),
  reduceRow('prod', (x, a) => R.prod(x, a.dim, a.keepdim), {
    ints: true, bools: true, emptyOk: true, lo: 0.5, hi: 1.5, edge: REDUCE_EDGE, rtol: 2e-5,
    extra: () => [
      { desc: 'negative factors', inputs: [C(R.arr([2, 3], [-1.5, 0.5, 2, -0.75, -1.25, 1.1]))], args: { dim: 1 } },
      { desc: 'a zero factor (value only)', inputs: [C(R.arr([2, 3], [0, 0.5, 2, 0, 0, 1.1]))], args: { dim: 1 }, grad: false },
      {
        desc: 'a zero factor: gradient', inputs: [C(R.arr([4], [0, 0.5, 2, 3]))], args: {},
      },
    ],
  }),
  reduceRow('var', (x, a) => R.variance(x, a.dim, a.keepdim, a.correction ?? 1), {
    ints: true, expandGrad: false, emptyOk: true, edge: [[1, NaN, 3], [Infinity, 1], [5]], atol: 1e-5, rtol: 1e-4,
    extra: (rng) => [
      { desc: 'correction 0, dim 1', inputs: [C(R.uniform(rng, [3, 4]))], args: { dim: 1, correction: 0 } },
      { desc: 'correction 2, all', inputs: [C(R.uniform(rng, [3, 4]))], args: { dim: undefined, keepdim: false, correction: 2 } },
      { desc: 'function form, correction 0 keepdim', inputs: [C(R.uniform(rng, [3, 4]))], args: { dim: [0], keepdim: true, correction: 0, fn: true } },
    ],
  }),
  reduceRow('std', (x, a) => R.std(x, a.dim, a.keepdim, a.correction ?? 1), {
    emptyOk: true, expandGrad: false, edge: [[1, NaN, 3], [Infinity, 1], [5]], atol: 1e-5, rtol: 1e-4,
    extra: (rng) => [
      { desc: 'correction 0, dim 1', inputs: [C(R.uniform(rng, [3, 4]))], args: { dim: 1, correction: 0 } },
      { desc: 'function form, dims [0,1]', inputs: [C(R.uniform(rng, [3, 4]))], args: { dim: [0, 1], keepdim: false, fn: true } },
    ],
  }),
  reduceRow('logsumexp', (x, a) => R.logsumexp(x, a.dim, a.keepdim), {
    edge: [...REDUCE_EDGE, [-1e30, 0], [88, 89, 90], [-200, -201]], atol: 1e-5, rtol: 1e-5,
    extra: () => [{
      desc: 'empty [0,3] dim 0 (-inf)', inputs: [C(R.arr([0, 3], []))], args: { dim: 0 },
    }],
  }),
  reduceRow('argmax', (x, a) => R.argmax(x, a.dim as number | undefined, a.keepdim), {
    singleDim: true, grad: false, ints: true, edge: REDUCE_EDGE, extra: () => [
      { desc: 'ties: first index', inputs: [C(R.arr([2, 4], [1, 3, 3, 0, 2, 2, 2, 2]))], args: { dim: 1 } },
      { desc: 'ties: first index, flattened', inputs: [C(R.arr([2, 2], [5, 1, 5, 5]))], args: {} },
      { desc: 'bool', inputs: [C(R.arr([4], [0, 1, 0, 1], 'bool'))], args: { dim: 0 } },
    ],
  }),
  reduceRow('argmin', (x, a) => R.argmin(x, a.dim as number | undefined, a.keepdim), {
    singleDim: true, grad: false, ints: true, edge: REDUCE_EDGE, extra: () => [
      { desc: 'ties: first index', inputs: [C(R.arr([2, 4], [1, 0, 0, 3, 2, 2, 2, 2]))], args: { dim: 1 } },
    ],
  }),
];

// ----- linear algebra and normalisation ----------------------------------------------------------

const MATMUL = row<{ fn?: boolean }>({
  name: 'matmul',
  op: ([a, b], o) => (o.fn ? k.matmul(a, b) : a.matmul(b)),
  ref: ([a, b]) => R.matmul(a, b),
  grad: true,
  atol: 1e-5, rtol: 1e-5,
  samples: (rng) => {
    const u = (s: number[]) => R.uniform(rng, s);
    const mm = (desc: string, a: InputSpec, b: InputSpec, extra: Partial<Sample> = {}): Sample<{ fn?: boolean }> => ({ desc, inputs: [a, b], args: {}, ...extra });
    return [
      mm('[3,4] @ [4,5]', C(u([3, 4])), C(u([4, 5]))),
      mm('function form [2,3] @ [3,2]', C(u([2, 3])), C(u([3, 2])), { args: { fn: true } }),
      mm('batched [2,3,4] @ [2,4,5]', C(u([2, 3, 4])), C(u([2, 4, 5]))),
      mm('batch broadcast [2,3,4] @ [4,5]', C(u([2, 3, 4])), C(u([4, 5]))),
      mm('batch broadcast [2,1,3,4] @ [3,4,2]', C(u([2, 1, 3, 4])), C(u([3, 4, 2]))),
      mm('1-D @ 1-D (dot, 0-d result)', C(u([4])), C(u([4]))),
      mm('1-D @ 2-D', C(u([3])), C(u([3, 5]))),
      mm('2-D @ 1-D', C(u([2, 3])), C(u([3]))),
      mm('batched [2,3,4] @ 1-D', C(u([2, 3, 4])), C(u([4]))),
      mm('1-D @ batched [2,3,4]', C(u([3])), C(u([2, 3, 4]))),
      mm('inner dim 0: [2,0] @ [0,3] gives zeros', C(u([2, 0])), C(u([0, 3]))),
      mm('m = 0: [0,3] @ [3,2]', C(u([0, 3])), C(u([3, 2]))),
      mm('transposed @ flipped', T(u([3, 4])), Fl(u([4, 2]), [0, 1])),
      mm('permuted batch @ step-2 slice', P(u([2, 3, 4]), [1, 2, 0]), St(u([4, 2]))),
      mm('expanded (stride-0) operand', E(u([1, 4]), [3, 4]), C(u([4, 2]))),
      mm('edge values', C(R.arr([2, 2], [Infinity, 1, NaN, 0])), C(R.arr([2, 2], [1, 0, 2, 1e30])), { grad: false }),
      mm('ragged tiles [33,65] @ [65,17]', C(u([33, 65])), C(u([65, 17])), { grad: false, atol: 1e-5, rtol: 1e-4 }),
      mm('batched ragged [3,17,40] @ transposed [40,9]', C(u([3, 17, 40])), T(u([40, 9])), { grad: false, atol: 1e-5, rtol: 1e-4 }),
      mm('int32 @ int32', C(R.randint(rng, [2, 3], -4, 5)), C(R.randint(rng, [3, 2], -4, 5)), { grad: false }),
    ];
  },
});

type SoftmaxArgs = { dim?: number; fn?: boolean };
function softmaxRow(name: 'softmax' | 'logSoftmax', ref: (x: RArray, dim: number) => RArray): OpRow<SoftmaxArgs> {
  return row<SoftmaxArgs>({
    name,
    op: ([x], a) => (a.fn ? (k as any)[name](x, a.dim) : a.dim === undefined ? (x as any)[name]() : (x as any)[name](a.dim)),
    ref: ([x], a) => ref(x, a.dim ?? -1),
    grad: true,
    atol: 1e-6, rtol: 1e-5,
    samples: (rng) => {
      const u = (s: number[]) => R.uniform(rng, s, -3, 3);
      return [
        { desc: '[3,5] default dim -1', inputs: [C(u([3, 5]))], args: {} },
        { desc: '[3,4,5] dim 0', inputs: [C(u([3, 4, 5]))], args: { dim: 0 } },
        { desc: '[3,4,5] dim 1 function form', inputs: [C(u([3, 4, 5]))], args: { dim: 1, fn: true } },
        { desc: '0-d', inputs: [C(u([]))], args: { dim: 0 } },
        { desc: '[1] single class', inputs: [C(u([1]))], args: { dim: 0 } },
        { desc: 'empty [0,4] dim -1', inputs: [C(u([0, 4]))], args: { dim: -1 } },
        {
          desc: 'empty [0,4] along the empty dim 0', inputs: [C(u([0, 4]))], args: { dim: 0 },
        },
        { desc: 'transposed [5,3] dim 0', inputs: [T(u([5, 3]))], args: { dim: 0 } },
        { desc: 'step -2 slice [2,4]', inputs: [NSt(u([2, 4]))], args: { dim: -1 } },
        { desc: 'large logits 1e30 (stable)', inputs: [C(R.arr([2, 3], [1e30, 1e30, 0, -1e30, 5, 4]))], args: { dim: -1 }, grad: false },
        { desc: '-inf entries, an all -inf row gives NaN', inputs: [C(R.arr([3, 3], [-Infinity, 0, 1, -Infinity, -Infinity, -Infinity, NaN, 1, 2]))], args: { dim: -1 }, grad: false },
        { desc: 'long rows [3,300]', inputs: [C(u([3, 300]))], args: { dim: -1 }, grad: false },
        { desc: 'large shift invariance (values 1000..1002)', inputs: [C(R.arr([3], [1000, 1001, 1002]))], args: { dim: 0 }, fdStep: 1e-3 },
      ];
    },
  });
}

type LayerNormArgs = { shape: number[]; eps?: number };
const LAYER_NORM = row<LayerNormArgs>({
  name: 'layerNorm',
  op: (xs, a) => k.layerNorm(xs[0], a.shape, xs[1] ?? null, xs[2] ?? null, ...(a.eps === undefined ? [] : [a.eps])),
  ref: (xs, a) => R.layerNorm(xs[0], a.shape, xs[1] ?? null, xs[2] ?? null, a.eps ?? 1e-5),
  grad: true,
  atol: 2e-5, rtol: 1e-4,
  samples: (rng) => {
    const u = (s: number[], lo = -2, hi = 2) => R.uniform(rng, s, lo, hi);
    return [
      { desc: '[2,3,4] over [4] with weight and bias', inputs: [C(u([2, 3, 4])), C(u([4], 0.5, 1.5)), C(u([4]))], args: { shape: [4] } },
      { desc: '[2,3,4] over [3,4] with weight and bias', inputs: [C(u([2, 3, 4])), C(u([3, 4], 0.5, 1.5)), C(u([3, 4]))], args: { shape: [3, 4] } },
      { desc: '[3,5] without weight or bias', inputs: [C(u([3, 5]))], args: { shape: [5] } },
      { desc: '[3,5] weight only', inputs: [C(u([3, 5])), C(u([5], 0.5, 1.5))], args: { shape: [5] } },
      { desc: '[5] 1-D input, eps 0.1', inputs: [C(u([5])), C(u([5])), C(u([5]))], args: { shape: [5], eps: 0.1 } },
      { desc: 'transposed input [4,3] over [3]', inputs: [T(u([4, 3])), C(u([3], 0.5, 1.5)), C(u([3]))], args: { shape: [3] } },
      { desc: 'empty batch [0,4]', inputs: [C(u([0, 4])), C(u([4])), C(u([4]))], args: { shape: [4] } },
      { desc: 'constant row (zero variance)', inputs: [C(R.arr([2, 3], [2, 2, 2, 1, 2, 3]))], args: { shape: [3] }, grad: false },
    ];
  },
});

// ----- movement ----------------------------------------------------------------------------------

/** A movement row: samples cover float (with grad), int32 and bool data. */
function moveRow<A>(name: string, op: (xs: Tensor[], a: A) => Tensor | Tensor[], ref: (xs: RArray[], a: A) => RArray | RArray[],
  samples: (u: (s: number[]) => RArray, rng: Rng) => Sample<A>[], knownGradBug?: KnownBug): OpRow<A> {
  return row<A>({ name, op, ref, grad: true, samples: (rng) => samples((s) => R.uniform(rng, s), rng), knownGradBug });
}

const ints = (rng: Rng, s: number[]) => R.randint(rng, s, -50, 50);
// NOTE: the gather load's axis 0 does not exist in a 0-d view; backends/cpu/codegen.ts multiplies the index by strides[0] (undefined).

const MOVEMENT: OpRow[] = [
  moveRow<{ shape: number[]; fn?: boolean }>('reshape', ([x], a) => (a.fn ? k.reshape(x, a.shape) : x.reshape(a.shape)), ([x], a) => R.reshape(x, a.shape), (u, rng) => [
    { desc: '[2,3,4] -> [6,4]', inputs: [C(u([2, 3, 4]))], args: { shape: [6, 4] } },
    { desc: '[2,3,4] -> [-1] function form', inputs: [C(u([2, 3, 4]))], args: { shape: [-1], fn: true } },
    { desc: '[2,3,4] -> [4,-1,2]', inputs: [C(u([2, 3, 4]))], args: { shape: [4, -1, 2] } },
    { desc: '0-d -> [1,1]', inputs: [C(u([]))], args: { shape: [1, 1] } },
    { desc: '[1] -> 0-d', inputs: [C(u([1]))], args: { shape: [] } },
    { desc: 'empty [0,3] -> [3,0]', inputs: [C(u([0, 3]))], args: { shape: [3, 0] } },
    { desc: 'transposed [4,3] -> [12] (needs a copy)', inputs: [T(u([4, 3]))], args: { shape: [12] } },
    { desc: 'permuted [2,3,4] -> [3,8]', inputs: [P(u([2, 3, 4]), [1, 0, 2])], args: { shape: [3, 8] } },
    { desc: 'step-2 slice [3,4] -> [2,6]', inputs: [St(u([3, 4]))], args: { shape: [2, 6] } },
    { desc: 'flipped [2,3] -> [3,2]', inputs: [Fl(u([2, 3]), [0])], args: { shape: [3, 2] } },
    { desc: 'expanded [3,1]->[3,2] -> [6]', inputs: [E(u([3, 1]), [3, 2])], args: { shape: [6] } },
    { desc: 'int32', inputs: [C(ints(rng, [2, 3]))], args: { shape: [3, 2] } },
    { desc: 'bool, transposed', inputs: [T(R.bools(rng, [3, 2]))], args: { shape: [6] } },
  ]),
  moveRow<{ start?: number; end?: number }>('flatten', ([x], a) => x.flatten(a.start, a.end), ([x], a) => R.flatten(x, a.start, a.end), (u, rng) => [
    { desc: '[2,3,4] all', inputs: [C(u([2, 3, 4]))], args: {} },
    { desc: '[2,3,4] from 1', inputs: [C(u([2, 3, 4]))], args: { start: 1 } },
    { desc: '[2,3,4,2] dims 1..2', inputs: [C(u([2, 3, 4, 2]))], args: { start: 1, end: 2 } },
    { desc: '[2,3,4] dims 0..-2', inputs: [C(u([2, 3, 4]))], args: { start: 0, end: -2 } },
    { desc: '0-d gives [1]', inputs: [C(u([]))], args: {} },
    { desc: 'permuted [2,3,4]', inputs: [P(u([2, 3, 4]), [2, 1, 0])], args: {} },
    { desc: 'empty [2,0,3]', inputs: [C(u([2, 0, 3]))], args: { start: 1 } },
    { desc: 'int32', inputs: [C(ints(rng, [2, 2]))], args: {} },
  ]),
  moveRow<{ dim?: number | number[] }>('squeeze', ([x], a) => x.squeeze(a.dim), ([x], a) => R.squeeze(x, a.dim), (u) => [
    { desc: '[1,3,1,2] all', inputs: [C(u([1, 3, 1, 2]))], args: {} },
    { desc: '[1,3,1,2] dim 0', inputs: [C(u([1, 3, 1, 2]))], args: { dim: 0 } },
    { desc: '[1,3,1,2] dims [0,-2]', inputs: [C(u([1, 3, 1, 2]))], args: { dim: [0, -2] } },
    { desc: '[1,3] dim 1 (size 3: no-op)', inputs: [C(u([1, 3]))], args: { dim: 1 } },
    { desc: '0-d', inputs: [C(u([]))], args: {} },
    { desc: '[1,0,1] all', inputs: [C(u([1, 0, 1]))], args: {} },
    { desc: 'transposed [3,1]', inputs: [T(u([3, 1]))], args: { dim: 1 } },
  ]),
  moveRow<{ dim: number; fn?: boolean }>('unsqueeze', ([x], a) => (a.fn ? k.unsqueeze(x, a.dim) : x.unsqueeze(a.dim)), ([x], a) => R.unsqueeze(x, a.dim), (u) => [
    { desc: '[2,3] dim 0', inputs: [C(u([2, 3]))], args: { dim: 0 } },
    { desc: '[2,3] dim 1 function form', inputs: [C(u([2, 3]))], args: { dim: 1, fn: true } },
    { desc: '[2,3] dim -1', inputs: [C(u([2, 3]))], args: { dim: -1 } },
    { desc: '0-d dim 0', inputs: [C(u([]))], args: { dim: 0 } },
    { desc: 'empty [0] dim 1', inputs: [C(u([0]))], args: { dim: 1 } },
    { desc: 'flipped [3,2] dim 1', inputs: [Fl(u([3, 2]), [0])], args: { dim: 1 } },
  ]),
  moveRow<{ d0: number; d1: number; fn?: boolean }>('transpose', ([x], a) => (a.fn ? k.transpose(x, a.d0, a.d1) : x.transpose(a.d0, a.d1)), ([x], a) => R.transpose(x, a.d0, a.d1), (u, rng) => [
    { desc: '[2,3] (0,1)', inputs: [C(u([2, 3]))], args: { d0: 0, d1: 1 } },
    { desc: '[2,3,4] (-1,0) function form', inputs: [C(u([2, 3, 4]))], args: { d0: -1, d1: 0, fn: true } },
    { desc: '[2,3,4] (1,1) identity', inputs: [C(u([2, 3, 4]))], args: { d0: 1, d1: 1 } },
    { desc: 'already transposed [3,4]', inputs: [T(u([3, 4]))], args: { d0: 0, d1: 1 } },
    { desc: 'step -2 slice [2,3]', inputs: [NSt(u([2, 3]))], args: { d0: 0, d1: 1 } },
    { desc: 'empty [0,2]', inputs: [C(u([0, 2]))], args: { d0: 0, d1: 1 } },
    { desc: '0-d (0,-1) is the identity', inputs: [C(u([]))], args: { d0: 0, d1: -1 } },
    { desc: 'int32', inputs: [C(ints(rng, [2, 3]))], args: { d0: 0, d1: 1 } },
  ]),
  moveRow<{ order: number[]; fn?: boolean }>('permute', ([x], a) => (a.fn ? k.permute(x, a.order) : x.permute(a.order)), ([x], a) => R.permute(x, a.order), (u, rng) => [
    { desc: '[2,3,4] [2,0,1]', inputs: [C(u([2, 3, 4]))], args: { order: [2, 0, 1] } },
    { desc: '[2,3,4] [1,2,0] function form', inputs: [C(u([2, 3, 4]))], args: { order: [1, 2, 0], fn: true } },
    { desc: '[2,3,4,2] [-1,0,2,1]', inputs: [C(u([2, 3, 4, 2]))], args: { order: [-1, 0, 2, 1] } },
    { desc: '0-d []', inputs: [C(u([]))], args: { order: [] } },
    { desc: 'permuted input', inputs: [P(u([2, 3, 4]), [1, 2, 0])], args: { order: [2, 0, 1] } },
    { desc: 'flipped input', inputs: [Fl(u([3, 2]), [0, 1])], args: { order: [1, 0] } },
    { desc: 'empty [2,0,3]', inputs: [C(u([2, 0, 3]))], args: { order: [2, 1, 0] } },
    { desc: 'bool', inputs: [C(R.bools(rng, [2, 3]))], args: { order: [1, 0] } },
  ]),
  moveRow<{ shape: number[]; fn?: boolean }>('expand', ([x], a) => (a.fn ? k.expand(x, a.shape) : x.expand(a.shape)), ([x], a) => R.expand(x, a.shape), (u, rng) => [
    { desc: '[3,1] -> [2,3,4]', inputs: [C(u([3, 1]))], args: { shape: [2, 3, 4] } },
    { desc: '[3,1] -> [-1,4] function form', inputs: [C(u([3, 1]))], args: { shape: [-1, 4], fn: true } },
    { desc: '0-d -> [2,3]', inputs: [C(u([]))], args: { shape: [2, 3] } },
    { desc: '[1,3] -> [0,3]', inputs: [C(u([1, 3]))], args: { shape: [0, 3] } },
    { desc: 'empty [1,0] -> [2,0]', inputs: [C(u([1, 0]))], args: { shape: [2, 0] } },
    { desc: '[2,3] -> [2,3] (same)', inputs: [C(u([2, 3]))], args: { shape: [2, 3] } },
    { desc: 'transposed [3,1] -> [2,3,5]', inputs: [T(u([3, 1]))], args: { shape: [2, 3, 5] } },
    { desc: 'int32', inputs: [C(ints(rng, [1, 2]))], args: { shape: [3, 2] } },
  ]),
  moveRow<{ specs: SliceSpec[]; fn?: boolean }>('slice', ([x], a) => (a.fn ? k.slice(x, a.specs) : x.slice(a.specs)), ([x], a) => R.slice(x, a.specs), (u, rng) => [
    { desc: '[6] [1,4]', inputs: [C(u([6]))], args: { specs: [[1, 4]] } },
    { desc: '[6,4] [null, [0,,2]] step 2', inputs: [C(u([6, 4]))], args: { specs: [null, [0, undefined, 2]] } },
    { desc: '[7] step 3 from 1', inputs: [C(u([7]))], args: { specs: [[1, undefined, 3]] } },
    { desc: '[6] reversed [,,-1]', inputs: [C(u([6]))], args: { specs: [[undefined, undefined, -1]] } },
    { desc: '[7] [5,0,-2]', inputs: [C(u([7]))], args: { specs: [[5, 0, -2]] } },
    { desc: '[7] [-1,-8,-3] (to the start)', inputs: [C(u([7]))], args: { specs: [[-1, -8, -3]] } },
    { desc: '[6] negative indices [-4,-1]', inputs: [C(u([6]))], args: { specs: [[-4, -1]] } },
    { desc: '[5] out-of-range bounds clamp [-100,100]', inputs: [C(u([5]))], args: { specs: [[-100, 100]] } },
    { desc: '[5] empty result [3,1]', inputs: [C(u([5]))], args: { specs: [[3, 1]] } },
    { desc: '[5] empty result [1,3,-1]', inputs: [C(u([5]))], args: { specs: [[1, 3, -1]] } },
    { desc: '[4,5] both dims [1,,2], [4,0,-3] function form', inputs: [C(u([4, 5]))], args: { specs: [[1, undefined, 2], [4, 0, -3]], fn: true } },
    { desc: '[3,4,5] fewer specs than dims', inputs: [C(u([3, 4, 5]))], args: { specs: [[1, 3]] } },
    { desc: 'transposed [4,3] [,,-2] on dim 0', inputs: [T(u([4, 3]))], args: { specs: [[undefined, undefined, -2]] } },
    { desc: 'slice of a step -2 slice', inputs: [NSt(u([2, 6]))], args: { specs: [null, [1, undefined, 2]] } },
    { desc: 'slice of an empty tensor [0,3]', inputs: [C(u([0, 3]))], args: { specs: [null, [1, 3]] } },
    { desc: '0-d with no specs', inputs: [C(u([]))], args: { specs: [] } },
    { desc: 'int32 reversed', inputs: [C(ints(rng, [5]))], args: { specs: [[undefined, undefined, -2]] } },
  ]),
  moveRow<{ dim: number; start: number; length: number }>('narrow', ([x], a) => x.narrow(a.dim, a.start, a.length), ([x], a) => R.narrow(x, a.dim, a.start, a.length), (u) => [
    { desc: '[5,3] dim 0 start 1 length 2', inputs: [C(u([5, 3]))], args: { dim: 0, start: 1, length: 2 } },
    { desc: '[3,5] dim -1 start -3 length 3', inputs: [C(u([3, 5]))], args: { dim: -1, start: -3, length: 3 } },
    { desc: '[3,5] length 0', inputs: [C(u([3, 5]))], args: { dim: 1, start: 2, length: 0 } },
    { desc: 'transposed [4,3] dim 1', inputs: [T(u([4, 3]))], args: { dim: 1, start: 1, length: 2 } },
    { desc: 'empty [0,3] dim 1', inputs: [C(u([0, 3]))], args: { dim: 1, start: 1, length: 2 } },
  ]),
  moveRow<{ dims: number | number[]; fn?: boolean }>('flip', ([x], a) => (a.fn ? k.flip(x, a.dims) : x.flip(a.dims)), ([x], a) => R.flip(x, a.dims), (u, rng) => [
    { desc: '[3,4] dim 0', inputs: [C(u([3, 4]))], args: { dims: 0 } },
    { desc: '[2,3,4] dims [0,2] function form', inputs: [C(u([2, 3, 4]))], args: { dims: [0, 2], fn: true } },
    { desc: '[3,4] dim -1', inputs: [C(u([3, 4]))], args: { dims: -1 } },
    { desc: '0-d dims []', inputs: [C(u([]))], args: { dims: [] } },
    { desc: 'empty [0,3] dim 0', inputs: [C(u([0, 3]))], args: { dims: 0 } },
    { desc: 'flip of a flip', inputs: [Fl(u([3, 4]), [0, 1])], args: { dims: 1 } },
    { desc: 'step-2 slice', inputs: [St(u([2, 3]))], args: { dims: [1] } },
    { desc: 'bool', inputs: [C(R.bools(rng, [5]))], args: { dims: 0 } },
  ]),
  moveRow<{ fn?: boolean; clone?: boolean }>('contiguous', ([x], a) => (a.clone ? x.clone() : a.fn ? k.contiguous(x) : x.contiguous()), ([x]) => x, (u, rng) => [
    { desc: 'already contiguous [2,3]', inputs: [C(u([2, 3]))], args: {} },
    { desc: 'transposed [4,3]', inputs: [T(u([4, 3]))], args: {} },
    { desc: 'permuted [2,3,4] function form', inputs: [P(u([2, 3, 4]), [2, 0, 1])], args: { fn: true } },
    { desc: 'step -2 slice [3,4]', inputs: [NSt(u([3, 4]))], args: {} },
    { desc: 'expanded [1,3]->[4,3]', inputs: [E(u([1, 3]), [4, 3])], args: {} },
    { desc: 'clone of a flipped view', inputs: [Fl(u([3, 3]), [0])], args: { clone: true } },
    { desc: '0-d', inputs: [C(u([]))], args: {} },
    { desc: 'empty transposed [0,3]', inputs: [T(u([0, 3]))], args: {} },
    { desc: 'int32 transposed', inputs: [T(ints(rng, [3, 2]))], args: {} },
  ]),
  moveRow<{ dim?: number; twice?: boolean }>('cat',
    (xs, a) => { const l = a.twice ? [xs[0], xs[0]] : xs; return a.dim === undefined ? k.cat(l) : k.cat(l, a.dim); },
    (xs, a) => R.cat(a.twice ? [xs[0], xs[0]] : xs, a.dim ?? 0), (u, rng) => [
    { desc: '[2,3] [1,3] [4,3] dim 0', inputs: [C(u([2, 3])), C(u([1, 3])), C(u([4, 3]))], args: {} },
    { desc: '[2,3] [2,1] dim 1', inputs: [C(u([2, 3])), C(u([2, 1]))], args: { dim: 1 } },
    { desc: '[2,2,3] [2,2,1] dim -1', inputs: [C(u([2, 2, 3])), C(u([2, 2, 1]))], args: { dim: -1 } },
    { desc: 'with an empty [0,3]', inputs: [C(u([0, 3])), C(u([2, 3]))], args: { dim: 0 } },
    { desc: 'a single tensor', inputs: [C(u([2, 3]))], args: { dim: 0 } },
    { desc: 'non-contiguous parts', inputs: [T(u([3, 2])), Fl(u([3, 2]), [1]), NSt(u([3, 2]))], args: { dim: 1 } },
    { desc: 'same tensor twice (gradient accumulates)', inputs: [C(u([2, 2]))], args: { dim: 0, twice: true } },
    { desc: 'int32', inputs: [C(ints(rng, [2])), C(ints(rng, [3]))], args: {} },
    { desc: 'bool', inputs: [C(R.bools(rng, [2])), C(R.bools(rng, [3]))], args: {} },
    { desc: 'int32 and float32 (promotes)', inputs: [C(ints(rng, [2])), C(u([3]))], args: {} },
    { desc: 'bool and int32 (promotes)', inputs: [C(R.bools(rng, [2])), C(ints(rng, [1]))], args: {} },
  ]),
  moveRow<{ dim?: number }>('stack', (xs, a) => (a.dim === undefined ? k.stack(xs) : k.stack(xs, a.dim)), (xs, a) => R.stack(xs, a.dim ?? 0), (u, rng) => [
    { desc: 'three [2,3] dim 0', inputs: [C(u([2, 3])), C(u([2, 3])), C(u([2, 3]))], args: {} },
    { desc: 'two [2,3] dim 1', inputs: [C(u([2, 3])), C(u([2, 3]))], args: { dim: 1 } },
    { desc: 'two [2,3] dim -1', inputs: [C(u([2, 3])), C(u([2, 3]))], args: { dim: -1 } },
    { desc: '0-d tensors', inputs: [C(u([])), C(u([])), C(u([]))], args: {} },
    {
      desc: 'empty [0,2]', inputs: [C(u([0, 2])), C(u([0, 2]))], args: { dim: 1 },
    },
    { desc: 'non-contiguous', inputs: [T(u([2, 3])), Fl(u([2, 3]), [0])], args: { dim: 2 } },
    { desc: 'int32', inputs: [C(ints(rng, [3])), C(ints(rng, [3]))], args: { dim: 1 } },
  ]),
  moveRow<{ size: number | number[]; dim?: number; fn?: boolean }>('split', ([x], a) => (a.fn ? k.split(x, a.size, a.dim) : x.split(a.size, a.dim)), ([x], a) => R.split(x, a.size, a.dim ?? 0), (u, rng) => [
    { desc: '[5,3] size 2 dim 0 (uneven)', inputs: [C(u([5, 3]))], args: { size: 2 } },
    { desc: '[5,3] sizes [1,3,1]', inputs: [C(u([5, 3]))], args: { size: [1, 3, 1] } },
    { desc: '[2,6] size 3 dim 1 function form', inputs: [C(u([2, 6]))], args: { size: 3, dim: 1, fn: true } },
    { desc: '[2,4] sizes [0,4] dim -1', inputs: [C(u([2, 4]))], args: { size: [0, 4], dim: -1 } },
    { desc: 'transposed [4,3] size 2 dim 0', inputs: [T(u([4, 3]))], args: { size: 2 } },
    { desc: '[3,0] size 2 dim 0', inputs: [C(u([3, 0]))], args: { size: 2 } },
    {
      desc: 'empty [0,2] size 2 along the empty dim: one empty chunk', inputs: [C(u([0, 2]))], args: { size: 2 },
    },
    { desc: 'int32', inputs: [C(ints(rng, [5]))], args: { size: 2 } },
  ]),
  moveRow<{ pads: [number, number][] | number[]; value?: number; fn?: boolean }>('pad',
    ([x], a) => (a.fn ? k.pad(x, a.pads, a.value) : x.pad(a.pads, a.value)),
    ([x], a) => R.pad(x, typeof a.pads[0] === 'number' ? R.flatPads(x.shape.length, a.pads as number[]) : a.pads as [number, number][], a.value ?? 0), (u, rng) => [
      { desc: '[2,3] pairs [[1,0],[0,2]]', inputs: [C(u([2, 3]))], args: { pads: [[1, 0], [0, 2]] } },
      { desc: '[2,3] flat [1,2] (last dim)', inputs: [C(u([2, 3]))], args: { pads: [1, 2] } },
      { desc: '[2,3] flat [1,0,0,1] value 5 function form', inputs: [C(u([2, 3]))], args: { pads: [1, 0, 0, 1], value: 5, fn: true } },
      { desc: '[3] value -inf', inputs: [C(u([3]))], args: { pads: [[2, 1]], value: -Infinity } },
      { desc: '[2,3] no padding', inputs: [C(u([2, 3]))], args: { pads: [[0, 0], [0, 0]] } },
      { desc: 'empty [0,2] padded', inputs: [C(u([0, 2]))], args: { pads: [[1, 1], [0, 1]] } },
      { desc: 'transposed [3,2]', inputs: [T(u([3, 2]))], args: { pads: [[0, 1], [2, 0]] } },
      { desc: 'step -2 slice [2,3]', inputs: [NSt(u([2, 3]))], args: { pads: [1, 1], value: 0.5 } },
      { desc: 'int32 value 7', inputs: [C(ints(rng, [2, 2]))], args: { pads: [1, 1], value: 7 } },
      { desc: 'bool', inputs: [C(R.bools(rng, [2]))], args: { pads: [1, 0] } },
    ]),
  moveRow<{ dim: number; fn?: boolean }>('gather', ([x, i], a) => (a.fn ? k.gather(x, a.dim, i) : x.gather(a.dim, i)), ([x, i], a) => R.gather(x, a.dim, i), (u, rng) => [
    { desc: '[3,4] dim 1 index [3,2]', inputs: [C(u([3, 4])), C(R.randint(rng, [3, 2], 0, 4))], args: { dim: 1 } },
    { desc: '[3,4] dim 0 index [2,4] function form', inputs: [C(u([3, 4])), C(R.randint(rng, [2, 4], 0, 3))], args: { dim: 0, fn: true } },
    { desc: '[2,3,4] dim -1 index [2,2,5] (repeats)', inputs: [C(u([2, 3, 4])), C(R.randint(rng, [2, 2, 5], 0, 4))], args: { dim: -1 } },
    { desc: 'repeated index (gradient accumulates)', inputs: [C(u([2, 3])), C(R.arr([2, 3], [1, 1, 1, 0, 2, 2], 'int32'))], args: { dim: 1 } },
    { desc: 'index with a 0 dim', inputs: [C(u([3, 4])), C(R.arr([3, 0], [], 'int32'))], args: { dim: 1 } },
    { desc: '0-d input and index', inputs: [C(u([])), C(R.arr([], [0], 'int32'))], args: { dim: 0 } },
    { desc: 'transposed input, flipped index', inputs: [T(u([4, 3])), Fl(R.randint(rng, [4, 3], 0, 4), [0])], args: { dim: 0 } },
    { desc: 'int32 data', inputs: [C(ints(rng, [2, 3])), C(R.randint(rng, [2, 3], 0, 3))], args: { dim: 1 } },
  ]),
  moveRow<{ dim: number; fn?: boolean }>('indexSelect', ([x, i], a) => (a.fn ? k.indexSelect(x, a.dim, i) : x.indexSelect(a.dim, i)), ([x, i], a) => R.indexSelect(x, a.dim, i), (u, rng) => [
    { desc: '[4,3] dim 0 index [2,0,2]', inputs: [C(u([4, 3])), C(R.arr([3], [2, 0, 2], 'int32'))], args: { dim: 0 } },
    { desc: '[3,4] dim 1 index [3,3,0,1,1] function form', inputs: [C(u([3, 4])), C(R.arr([5], [3, 3, 0, 1, 1], 'int32'))], args: { dim: 1, fn: true } },
    { desc: '[2,3,4] dim -2', inputs: [C(u([2, 3, 4])), C(R.arr([2], [2, 1], 'int32'))], args: { dim: -2 } },
    { desc: 'empty index', inputs: [C(u([3, 2])), C(R.arr([0], [], 'int32'))], args: { dim: 0 } },
    { desc: '0-d input, index [0]', inputs: [C(u([])), C(R.arr([1], [0], 'int32'))], args: { dim: 0 } },
    { desc: 'transposed input, step -2 index', inputs: [T(u([4, 3])), NSt(R.arr([3], [3, 0, 1], 'int32'))], args: { dim: 0 } },
    { desc: 'bool data', inputs: [C(R.bools(rng, [3, 2])), C(R.arr([2], [2, 2], 'int32'))], args: { dim: 0 } },
  ]),
  moveRow<Record<string, never>>('embedding', ([i, w]) => k.embedding(i, w), ([i, w]) => R.embedding(i, w), (u, rng) => [
    { desc: 'indices [2,3] into [5,4]', inputs: [C(R.randint(rng, [2, 3], 0, 5)), C(u([5, 4]))], args: {} },
    { desc: 'repeated indices (gradient accumulates)', inputs: [C(R.arr([4], [1, 1, 4, 1], 'int32')), C(u([5, 2]))], args: {} },
    { desc: '0-d index', inputs: [C(R.arr([], [3], 'int32')), C(u([4, 3]))], args: {} },
    { desc: 'empty indices [0]', inputs: [C(R.arr([0], [], 'int32')), C(u([3, 2]))], args: {} },
    { desc: 'transposed weight', inputs: [C(R.arr([3], [0, 2, 1], 'int32')), T(u([3, 4]))], args: {} },
  ]),
];

// ----- casts -------------------------------------------------------------------------------------

const TO = row<{ dtype: RDType }>({
  name: 'to',
  op: ([x], a) => x.to(a.dtype),
  ref: ([x], a) => R.cast(x, a.dtype),
  grad: false,
  samples: (rng) => [
    { desc: 'float32 -> int32 truncates toward zero', inputs: [C(R.arr([8], [2.7, -2.7, 0.5, -0.5, -0, 100.99, -2147483648, 16777216]))], args: { dtype: 'int32' } },
    { desc: 'float32 -> bool (NaN is true, -0 false)', inputs: [C(R.arr([6], [0, -0, 1e-30, NaN, -Infinity, 2]))], args: { dtype: 'bool' } },
    { desc: 'int32 -> float32', inputs: [C(R.arr([4], [-3, 0, 16777217, 2147483647], 'int32'))], args: { dtype: 'float32' } },
    { desc: 'int32 -> bool', inputs: [C(R.arr([4], [-3, 0, 1, 2], 'int32'))], args: { dtype: 'bool' } },
    { desc: 'bool -> float32', inputs: [C(R.bools(rng, [2, 3]))], args: { dtype: 'float32' } },
    { desc: 'bool -> int32, transposed', inputs: [T(R.bools(rng, [3, 2]))], args: { dtype: 'int32' } },
    { desc: 'float32 -> float32 (gradient passes)', inputs: [C(R.uniform(rng, [2, 3]))], args: { dtype: 'float32' }, grad: true },
    { desc: 'float32 -> int32, step -2 slice', inputs: [NSt(R.uniform(rng, [2, 3], -5, 5))], args: { dtype: 'int32' } },
    { desc: 'empty [0,2] -> int32', inputs: [C(R.uniform(rng, [0, 2]))], args: { dtype: 'int32' } },
    { desc: '0-d int32 -> float32', inputs: [C(R.arr([], [7], 'int32'))], args: { dtype: 'float32' } },
  ],
});

// ----- losses ------------------------------------------------------------------------------------

type Red = { reduction?: R.Reduction };
const red = (a: Red) => (a.reduction === undefined ? [] : [a.reduction]) as [];

const LOSSES: OpRow[] = [
  row<Red>({
    name: 'mseLoss',
    op: ([p, t], a) => k.nn.mseLoss(p, t, ...red(a)),
    ref: ([p, t], a) => R.mseLoss(p, t, a.reduction),
    grad: true,
    samples: (rng) => {
      const u = (s: number[]) => R.uniform(rng, s);
      return [
        { desc: '[3,4] mean (default)', inputs: [C(u([3, 4])), C(u([3, 4]))], args: {} },
        { desc: '[3,4] sum', inputs: [C(u([3, 4])), C(u([3, 4]))], args: { reduction: 'sum' } },
        { desc: '[3,4] none', inputs: [C(u([3, 4])), C(u([3, 4]))], args: { reduction: 'none' } },
        { desc: '0-d', inputs: [C(u([])), C(u([]))], args: {} },
        { desc: 'transposed input, flipped target', inputs: [T(u([4, 3])), Fl(u([4, 3]), [1])], args: {} },
        { desc: 'empty [2,0] none', inputs: [C(u([2, 0])), C(u([2, 0]))], args: { reduction: 'none' } },
        { desc: 'edge values none', inputs: [C(R.arr([3], [Infinity, NaN, 1e30])), C(R.arr([3], [1, 1, -1e30]))], args: { reduction: 'none' }, grad: false },
      ];
    },
  }),
  row<Red>({
    name: 'crossEntropy',
    op: ([x, t], a) => k.nn.crossEntropy(x, t, ...red(a)),
    ref: ([x, t], a) => R.crossEntropy(x, t, a.reduction),
    grad: true,
    atol: 1e-5, rtol: 1e-5,
    samples: (rng) => {
      const u = (s: number[]) => R.uniform(rng, s, -3, 3);
      return [
        { desc: '[4,5] mean (default)', inputs: [C(u([4, 5])), C(R.randint(rng, [4], 0, 5))], args: {} },
        { desc: '[4,5] sum', inputs: [C(u([4, 5])), C(R.randint(rng, [4], 0, 5))], args: { reduction: 'sum' } },
        { desc: '[4,5] none', inputs: [C(u([4, 5])), C(R.randint(rng, [4], 0, 5))], args: { reduction: 'none' } },
        { desc: '[5] logits with 0-d target', inputs: [C(u([5])), C(R.arr([], [3], 'int32'))], args: {} },
        { desc: 'transposed logits [3,6]', inputs: [T(u([3, 6])), C(R.randint(rng, [3], 0, 6))], args: {} },
        { desc: 'empty batch [0,5] sum', inputs: [C(u([0, 5])), C(R.arr([0], [], 'int32'))], args: { reduction: 'sum' } },
        { desc: 'large logits (stable)', inputs: [C(R.arr([2, 3], [1e4, 0, -1e4, 50, 60, 70])), C(R.arr([2], [1, 2], 'int32'))], args: { reduction: 'none' }, grad: false },
      ];
    },
  }),
  row<Red>({
    name: 'binaryCrossEntropy',
    op: ([p, t], a) => k.nn.binaryCrossEntropy(p, t, ...red(a)),
    ref: ([p, t], a) => R.binaryCrossEntropy(p, t, a.reduction),
    grad: true,
    atol: 1e-5, rtol: 1e-5,
    samples: (rng) => {
      const p = (s: number[]) => R.uniform(rng, s, 0.05, 0.95);
      const t = (s: number[]) => R.cast(R.bools(rng, s), 'float32');
      return [
        { desc: '[3,4] mean (default)', inputs: [C(p([3, 4])), C(t([3, 4]), false)], args: {} },
        { desc: '[3,4] sum, soft targets', inputs: [C(p([3, 4])), C(R.uniform(rng, [3, 4], 0, 1))], args: { reduction: 'sum' } },
        { desc: '[6] none', inputs: [C(p([6])), C(t([6]), false)], args: { reduction: 'none' } },
        { desc: '0-d', inputs: [C(p([])), C(R.arr([], [1]), false)], args: {} },
        { desc: 'transposed probabilities', inputs: [T(p([4, 3])), C(t([4, 3]), false)], args: {} },
        { desc: 'empty [0] (mean is NaN)', inputs: [C(p([0])), C(t([0]), false)], args: {} },
        { desc: 'p = 0 and 1: logs clamp at -100', inputs: [C(R.arr([4], [0, 1, 0, 1])), C(R.arr([4], [1, 0, 0, 1]))], args: { reduction: 'none' }, grad: false },
      ];
    },
  }),
];

/** Looks rows of a table up by name, never by position: adding or reordering a row cannot shift another. */
function byName(table: readonly OpRow[]): (...names: string[]) => OpRow[] {
  return (...names) => names.map((n) => {
    const r = table.find((x) => x.name === n);
    if (!r) throw new Error(`op-info: no row named '${n}'`);
    return r;
  });
}
const binary = byName(BINARY);

/** Every row, in the order the eager op list names them (elementwise, reductions, linear algebra, movement, casts, losses). */
export const OPINFO: readonly OpRow[] = [
  ...binary('add', 'sub', 'mul', 'div', 'pow'), ...UNARY, ...binary('maximum', 'minimum'), CLAMP, WHERE,
  ...binary('eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr'), LOGICAL_NOT, ...binary('remainder'),
  ...REDUCTIONS, MATMUL, softmaxRow('softmax', R.softmax), softmaxRow('logSoftmax', R.logSoftmax), LAYER_NORM,
  ...MOVEMENT, TO, ...LOSSES, ...CNN_ROWS, ...PARITY_ROWS,
];
