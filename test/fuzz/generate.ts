// The random-program generator. A program is built statement by statement from a seeded generator;
// each candidate statement is run at once on a dry run (eager, cpu backend, one world per size of N),
// so the generator knows every value's shape, whether it needs gradients and its magnitude, and keeps
// only statements that are valid (a few that fail for one size only are kept on purpose: an error
// eagerly must be an error compiled). The dry run is only a guide: the runner compares the real eager
// and compiled runs, so a dry run that drifts can cost coverage, never a false finding.
import * as k from '../../src/index.js';
import type { DType } from '../../src/index.js';
import { chance, drawData, int, pick, rng, type Rand } from './data.js';
import type {
  ArgSpec, CallSpec, CapturedSpec, DataKind, Dim, Expr, HelperSpec, Layout, ModuleSpec, Mutation, OptimSpec, Output, PoolSpec, Program, Stmt, ValueInfo,
} from './program.js';
import { ARG_NAMES, concrete, moduleCode, optimCode } from './program.js';
import { argSeed } from './emit.js';

/** Sums and products of multiples of 2^-bits below `mag` are exact in float32 while mag·2^bits < 2^24. */
interface Grid { readonly bits: number; readonly mag: number }
const gridOk = (g: Grid | null): Grid | null => (g && g.mag * 2 ** g.bits < 2 ** 24 ? g : null);

/** The generator's view of a value: per-N shapes from the dry run, and flags for the comparison. */
interface GVal {
  readonly id: number;
  readonly name: string;
  readonly kind: 'arg' | 'captured' | 'tmp';
  dtype: DType;
  shapes: Map<number, number[]>;
  exact: boolean;
  grid: Grid | null;
  requiresGrad: boolean;
  isLeaf: boolean;
  /** The value whose storage this one views (itself when it owns its storage). */
  root: number;
  /** A broadcast (expanded) view or a view of one: never written in place. */
  noInplace: boolean;
  /** Holds infinities or subnormal-driven values: only returned, never fed on. */
  special: boolean;
  /** Depends on a dropout drawn in training mode (by that module). */
  randomIn: string | null;
  dropout?: { of: number; p: number; module: string };
  deps: Set<number>;
  mags: Map<number, number>;
}

interface Cand {
  code: string;
  refs: number[];
  exact: boolean;
  grid?: Grid | null;
  view?: boolean;
  noInplace?: boolean;
  special?: boolean;
  /** May fail for the other size (kept sometimes: error parity). */
  mayFail?: boolean;
  dtype?: DType;
  dropout?: { p: number; module: string };
  randomIn?: string;
}

type Env = Record<string, unknown>;

const MAX_MAG = 1e5;

/** A dry run: one eager world per size of N, statements run as they are generated. */
class DryRun {
  readonly envs = new Map<number, Env | null>();
  private readonly fns = new Map<string, (env: Env) => unknown>();
  constructor(readonly sizes: readonly number[]) {}

  compiled(code: string, expr: boolean): (env: Env) => unknown {
    const key = `${expr}:${code}`;
    let f = this.fns.get(key);
    if (!f) {
      f = new Function('env', `with (env) { ${expr ? `return (${code});` : code} }`) as (env: Env) => unknown;
      this.fns.set(key, f);
    }
    return f;
  }

  /** Runs code in every live world: the results, or the error, per N. */
  run(code: string, expr: boolean): Map<number, { ok: true; v: unknown } | { ok: false; e: unknown }> {
    const f = this.compiled(code, expr);
    const out = new Map<number, { ok: true; v: unknown } | { ok: false; e: unknown }>();
    for (const [n, env] of this.envs) {
      if (!env) continue;
      try { out.set(n, { ok: true, v: f(env) }); } catch (e) { out.set(n, { ok: false, e }); }
    }
    return out;
  }
}

function maxAbs(t: k.Tensor): number {
  let m = 0;
  for (const v of t.data()) { const a = Math.abs(v); if (Number.isNaN(v) || a === Infinity) return Infinity; if (a > m) m = a; }
  return m;
}

const GRID_DATA: Grid = { bits: 3, mag: 4 };

export interface GenOptions {
  /** Fewer statements and sizes (the CI test). */
  readonly small?: boolean;
  /** Features left out (diagnosis: see past a bug that hides others); see FEATURES. */
  readonly without?: ReadonlySet<string>;
}

/** A pool's output size along a dim of `n` (PyTorch's rule: a ceil-mode window starts inside the input or its left padding). */
function poolOut(p: PoolSpec, n: number, dim: 0 | 1): number {
  if ('out' in p) return p.out[dim];
  const d = p.kind === 'max' ? p.dilation : 1;
  const span = n + 2 * p.padding - d * (p.k - 1) - 1;
  if (span < 0) return 0;
  let o = (p.ceil ? Math.ceil(span / p.stride) : Math.floor(span / p.stride)) + 1;
  if (p.ceil && (o - 1) * p.stride >= n + p.padding) o--;
  return o;
}

/** What `without` can leave out. */
export const FEATURES = ['views', 'alias', 'rebind', 'dropout', 'lr', 'train', 'model', 'cnn', 'embed', 'inplace', 'branch', 'effects', 'throw', 'async',
  'tidy', 'grad', 'oob', 'special', 'sizes', 'gather', 'matmul', 'int', 'nograd'] as const;

/** Generates program `index` of seed `seed`. */
export function generate(seed: number, index: number, opts: GenOptions = {}): Program {
  // The dry run must not depend on what ran before: its own backend and random stream.
  const backend = k.currentBackend();
  k.setBackend('cpu');
  try {
    for (let attempt = 0; ; attempt++) {
      k.manualSeed(seed * 31 + index);
      const g = new Gen(rng((seed * 1000003 + index * 7919 + attempt * 104729) >>> 0), seed, index, opts);
      const p = g.build();
      if (p) return p;
      if (attempt > 20) throw new Error(`fuzz: could not generate program ${seed}#${index}`);
    }
  } finally {
    k.setBackend(backend);
  }
}

class Gen {
  private readonly vals: GVal[] = [];
  private readonly body: Stmt[] = [];
  private readonly args: ArgSpec[] = [];
  private readonly captured: CapturedSpec[] = [];
  private readonly modules: ModuleSpec[] = [];
  private readonly helpers: HelperSpec[] = [];
  private optim: OptimSpec | null = null;
  /** The learning rate stays as built (no lr mutations between calls). */
  private fixedLr = false;
  private dry!: DryRun;
  private n0 = 3;
  private n1 = 5;
  private usesN = false;
  private special = false;
  private async = false;
  private grad = false;
  private tmpCount = 0;
  private capCount = 0;
  private readonly r: Rand;
  private readonly helperExact = new Map<string, boolean>();

  constructor(r: Rand, private readonly seed: number, private readonly index: number, private readonly opts: GenOptions) { this.r = r; }

  private off(feature: typeof FEATURES[number]): boolean { return this.opts.without?.has(feature) ?? false; }

  // ----- values -----------------------------------------------------------------------------

  private live(): number[] { return [...this.dry.envs.entries()].filter(([, e]) => e).map(([n]) => n); }
  private shape(v: GVal, n = this.n0): number[] { return v.shapes.get(n) ?? v.shapes.get(this.n0)!; }
  private allShapes(v: GVal): number[][] { return this.live().map((n) => v.shapes.get(n)!).filter(Boolean); }

  /** A value satisfying `ok`, recent ones more likely. */
  private pickVal(ok: (v: GVal) => boolean): GVal | null {
    const c = this.vals.filter((v) => !v.special && ok(v));
    if (!c.length) return null;
    const w = c.map((_, i) => 1 + i * 0.6);
    let x = this.r() * w.reduce((a, b) => a + b, 0);
    for (let i = 0; i < c.length; i++) { x -= w[i]; if (x <= 0) return c[i]; }
    return c[c.length - 1];
  }
  private float(v: GVal) { return v.dtype === 'float32' && !v.randomIn && !v.dropout; }
  private size(v: GVal, n = this.n0) { return this.shape(v, n).reduce((a, b) => a * b, 1); }

  private newVal(kind: GVal['kind'], name: string, dtype: DType, c: Partial<Cand>, refs: number[]): GVal {
    const id = this.vals.length;
    const deps = new Set<number>([id]);
    for (const r of refs) for (const d of this.vals[r].deps) deps.add(d);
    const viewOf = c.view && refs.length ? this.vals[refs[0]] : null;
    const v: GVal = {
      id, name, kind, dtype, shapes: new Map(), exact: c.exact ?? true, grid: c.grid ?? null, requiresGrad: false, isLeaf: kind !== 'tmp',
      root: viewOf ? viewOf.root : id, noInplace: (c.noInplace ?? false) || (viewOf?.noInplace ?? false), special: c.special ?? false,
      randomIn: c.randomIn ?? refs.map((r) => this.vals[r].randomIn).find(Boolean) ?? null, deps, mags: new Map(),
    };
    this.vals.push(v);
    return v;
  }

  private render(code: string, refs: readonly number[]): string {
    let s = code.replace(/\$(\d+)/g, (_, i) => this.vals[refs[Number(i)]].name);
    for (let g = 0; (s.includes('ITEM⟦') || s.includes('DATA⟦')) && g < 20; g++) {
      s = s.replace(/ITEM⟦([^⟦⟧]*)⟧/g, (_, x) => `${x}.item()`).replace(/DATA⟦([^⟦⟧]*)⟧/g, (_, x) => `Array.from(${x}.data())`);
    }
    return s.replace(/HELPER⟦([^⟦⟧]*)⟧/g, (_, x) => x);
  }

  // ----- statements -------------------------------------------------------------------------

  /** Tries a candidate `const vN = ...`; returns the new value or null (rejected). */
  private tryLet(c: Cand | null): GVal | null {
    if (!c) return null;
    const res = this.dry.run(this.render(c.code, c.refs), true);
    const primary = res.get(this.n0);
    if (!primary || !primary.ok) return null;
    const fails: number[] = [];
    let dtype: DType | null = null;
    for (const [n, r] of res) {
      if (!r.ok) { fails.push(n); continue; }
      if (!(r.v instanceof k.Tensor)) return null;
      if (r.v.size === 0) return null;
      if (dtype && r.v.dtype !== dtype) return null;
      dtype = r.v.dtype;
      if (!c.special && r.v.dtype === 'float32' && maxAbs(r.v) > MAX_MAG) return null;
    }
    if (fails.length && !(c.mayFail && chance(this.r, 0.35))) return null;
    const v = this.newVal('tmp', `v${this.tmpCount++}`, dtype!, c, c.refs);
    v.grid = gridOk(c.grid ?? null);
    v.exact = c.exact || v.grid !== null;
    if (c.dropout) v.dropout = { of: c.refs[0], ...c.dropout };
    for (const [n, r] of res) {
      if (!r.ok) { this.dry.envs.set(n, null); continue; }
      const t = r.v as k.Tensor;
      v.shapes.set(n, [...t.shape]);
      v.mags.set(n, t.dtype === 'float32' ? maxAbs(t) : 0);
      v.requiresGrad ||= t.requiresGrad;
      this.dry.envs.get(n)![v.name] = t;
    }
    v.isLeaf = false;
    this.body.push({ kind: 'let', id: v.id, expr: { code: c.code, refs: c.refs } });
    if (c.special) this.special = true;
    return v;
  }

  /** Tries a statement for its effect (in-place writes, logs, backward); `target` is written. */
  private tryEffect(code: string, refs: number[], target: GVal | null, operandExact = true, operandGrid: Grid | null = null, mayFail = false): boolean {
    const res = this.dry.run(this.render(code, refs), false);
    const primary = res.get(this.n0);
    if (!primary || !primary.ok) return false;
    const fails = [...res].filter(([, r]) => !r.ok).map(([n]) => n);
    if (fails.length && !(mayFail && chance(this.r, 0.35))) return false;
    for (const n of fails) this.dry.envs.set(n, null);
    this.body.push({ kind: 'effect', expr: { code, refs }, ...(target ? { writes: target.id } : {}) });
    if (target) {
      // A write into a captured tensor lasts into the next call, where the values that read it earlier
      // in the body read the written value: they are compared as computed from it (not bit for bit).
      const lasts = this.vals[target.root].kind === 'captured';
      for (const v of this.vals) {
        if (v.root !== target.root) {
          if (lasts && v.deps.has(target.root)) { v.exact = false; v.grid = null; }
          continue;
        }
        v.exact = v.exact && operandExact;
        v.grid = v.grid && operandGrid ? gridOk({ bits: Math.max(v.grid.bits, operandGrid.bits), mag: v.grid.mag + operandGrid.mag }) : null;
        if (!v.grid && !operandExact) v.exact = false;
        for (const r of refs) for (const d of this.vals[r].deps) v.deps.add(d);
        for (const n of this.live()) {
          const t = this.dry.envs.get(n)![v.name] as k.Tensor | undefined;
          if (t instanceof k.Tensor && t.dtype === 'float32') { try { v.mags.set(n, Math.max(v.mags.get(n) ?? 0, maxAbs(t))); } catch { /* disposed */ } }
        }
      }
    }
    return true;
  }

  // ----- setup ------------------------------------------------------------------------------

  private addArg(shape: Dim[], dtype: DType, data: DataKind, requiresGrad: boolean): GVal {
    const a: ArgSpec = { name: ARG_NAMES[this.args.length], shape, dtype, requiresGrad, data };
    this.args.push(a);
    if (shape.includes('N')) this.usesN = true;
    const v = this.newVal('arg', a.name, dtype, { exact: true, grid: data === 'grid' ? GRID_DATA : data === 'int' ? { bits: 0, mag: 6 } : null }, []);
    v.requiresGrad = requiresGrad;
    return v;
  }

  private addCaptured(shape: number[], dtype: DType, data: DataKind, requiresGrad = false): GVal {
    const c: CapturedSpec = { name: `${dtype === 'int32' ? 'I' : 'W'}${this.capCount++}`, shape, dtype, requiresGrad, data, seed: int(this.r, 1, 1e6) };
    this.captured.push(c);
    const v = this.newVal('captured', c.name, dtype, { exact: true, grid: data === 'grid' ? GRID_DATA : null }, []);
    v.requiresGrad = requiresGrad;
    for (const n of this.live()) {
      const t = k.tensor(drawData(data, shape.reduce((a, b) => a * b, 1), c.seed), { dtype, backend: 'cpu', shape, requiresGrad });
      this.dry.envs.get(n)![c.name] = t;
      v.shapes.set(n, [...shape]);
      v.mags.set(n, dtype === 'float32' ? maxAbs(t) : 0);
    }
    return v;
  }

  private addModule(m: ModuleSpec): void {
    this.modules.push(m);
    for (const n of this.live()) {
      const env = this.dry.envs.get(n)!;
      k.manualSeed(this.modules.length);
      env[m.name] = this.dry.compiled(moduleCode(m), true)(env);
    }
  }

  private startWorlds(): void {
    const sizes = this.usesN ? [this.n0, this.n1] : [this.n0];
    this.dry = new DryRun(sizes);
    for (const n of sizes) {
      const env: Env = Object.create(null);
      env.k = k;
      env.backend = 'cpu';
      env.count = 0;
      env.log = [];
      env.setLr = () => {};
      this.dry.envs.set(n, env);
      this.args.forEach((a, i) => {
        const shape = concrete(a.shape, n);
        // The data of the first call at this size (contiguous), so magnitudes are the real ones.
        const call = { dataSeed: this.index * 10 + (n === this.n0 ? 1 : 3) } as CallSpec;
        const t = k.tensor(drawData(a.data, shape.reduce((x, y) => x * y, 1), argSeed(call, i)), { dtype: a.dtype, backend: 'cpu', shape, requiresGrad: a.requiresGrad });
        env[a.name] = t;
        const v = this.vals[i];
        v.shapes.set(n, shape);
        v.mags.set(n, a.dtype === 'float32' ? maxAbs(t) : 0);
      });
    }
  }

  // ----- templates --------------------------------------------------------------------------

  private scalar(kind: 'grid' | 'any' | 'divisor'): { text: string; grid: Grid | null; special: boolean } {
    if (kind === 'grid' || (kind === 'any' && chance(this.r, 0.6))) {
      const v = pick(this.r, [0.5, -1.5, 2, 3, -0.25, 1.125, 4]);
      return { text: String(v), grid: { bits: 3, mag: Math.abs(v) }, special: false };
    }
    if (kind === 'divisor') {
      if (chance(this.r, 0.2) && !this.off('special')) return { text: pick(this.r, ['1e-40', '1e30', '3e38', '-1e-40']), grid: null, special: true };
      return { text: pick(this.r, ['7', '3', '0.1', '-6', '10', '0.3', '1.7']), grid: null, special: false };
    }
    return { text: pick(this.r, ['0.1', '1.1', '0.7', '-0.3', '2.5', '1e-3']), grid: null, special: false };
  }

  /** A constant tensor literal in the body, broadcastable against `shape` (its last dims). */
  private constLiteral(shape: readonly number[], values: 'grid' | 'divisor'): { text: string; special: boolean } {
    const rank = Math.min(shape.length, int(this.r, 1, 2));
    const s = shape.slice(shape.length - rank).map((d) => (chance(this.r, 0.3) ? 1 : d));
    const n = s.reduce((a, b) => a * b, 1);
    let special = false;
    const vals = Array.from({ length: n }, () => {
      if (values === 'divisor') {
        if (chance(this.r, 0.25) && !this.off('special')) { special = true; return pick(this.r, ['1e-40', '1e30', '-3e38']); }
        return pick(this.r, ['7', '3', '0.1', '-6', '0.5', '1.7']);
      }
      return String(int(this.r, -16, 16) / 8);
    });
    let i = 0;
    const rec = (d: number): string => `[${Array.from({ length: s[d] }, () => (d === s.length - 1 ? vals[i++] : rec(d + 1))).join(', ')}]`;
    return { text: `k.tensor(${rec(0)}, { backend })`, special };
  }

  /** Another value broadcastable with `x` in every live size (or null). */
  private broadcastPartner(x: GVal, into = false): GVal | null {
    return this.pickVal((y) => this.float(y) && y.id !== x.id && this.live().every((n) => {
      const a = x.shapes.get(n), b = y.shapes.get(n);
      if (!a || !b) return false;
      if (into && b.length > a.length) return false;
      for (let i = 1; i <= Math.min(a.length, b.length); i++) {
        const p = a[a.length - i], q = b[b.length - i];
        if (into ? !(q === p || q === 1) : !(p === q || p === 1 || q === 1)) return false;
      }
      return true;
    }));
  }

  private unary(): Cand | null {
    const x = this.pickVal((v) => this.float(v));
    if (!x) return null;
    const g = x.grid;
    const exactOps: [string, boolean][] = [['$0.neg()', true], ['$0.abs()', true], ['$0.relu()', true], ['$0.mul($0)', false], ['$0.abs().sqrt()', false],
      ['$0.abs().add(0.25).rsqrt()', false], ['$0.abs().add(1).reciprocal()', false], ['$0.clamp(-1, 1.5)', true], ['$0.clamp(null, 0.5)', true],
      // CNN activations built of correctly rounded ops (a division by 6 must stay a division).
      ['k.relu6($0)', true], ['k.hardsigmoid($0)', false], ['k.hardswish($0)', false], ['k.softsign($0)', false]];
    const inexact = ['$0.exp()', '$0.tanh()', '$0.sigmoid()', '$0.sin()', '$0.cos()', '$0.erf()', '$0.gelu()', "$0.gelu('tanh')", '$0.silu()', '$0.softplus()',
      '$0.abs().add(0.5).log()', '$0.abs().add(0.5).pow(1.5)', '$0.pow(2)', '$0.mul(3).sin()', 'k.elu($0)', 'k.selu($0)', 'k.mish($0)', 'k.glu($0, -1)'];
    const disc = ['$0.floor()', '$0.ceil()', '$0.round()', '$0.sign()', '$0.remainder(2)', '$0.mul(2).round().div(2)'];
    const roll = this.r();
    if (roll < 0.4) {
      const [code, keepGrid] = pick(this.r, exactOps);
      return { code, refs: [x.id], exact: x.exact, grid: keepGrid ? g : code === '$0.mul($0)' && g ? { bits: g.bits * 2, mag: g.mag * g.mag } : null };
    }
    if (roll < 0.45) return { code: 'k.leakyRelu($0, 0.125)', refs: [x.id], exact: x.exact, grid: g ? { bits: g.bits + 3, mag: g.mag } : null };
    if (roll < 0.85 || !x.exact) return { code: pick(this.r, inexact), refs: [x.id], exact: false };
    return { code: pick(this.r, disc), refs: [x.id], exact: true, grid: g ? { bits: g.bits, mag: g.mag + 1 } : null };
  }

  private binary(): Cand | null {
    const x = this.pickVal((v) => this.float(v));
    if (!x) return null;
    const op = pick(this.r, ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'add', 'mul']);
    const roll = this.r();
    const gridOf = (o: Grid | null): Grid | null => {
      if (!x.grid || !o) return null;
      if (op === 'mul') return { bits: x.grid.bits + o.bits, mag: x.grid.mag * o.mag };
      if (op === 'div') return null;
      return { bits: Math.max(x.grid.bits, o.bits), mag: x.grid.mag + o.mag };
    };
    if (roll < 0.35) {
      const s = this.scalar(op === 'div' ? 'divisor' : 'any');
      return { code: `$0.${op}(${s.text})`, refs: [x.id], exact: x.exact, grid: gridOf(s.grid), special: s.special };
    }
    if (roll < 0.55) {
      const lit = this.constLiteral(this.shape(x), op === 'div' ? 'divisor' : 'grid');
      return { code: `$0.${op}(${lit.text})`, refs: [x.id], exact: x.exact, grid: op === 'div' ? null : gridOf({ bits: 3, mag: 2 }), special: lit.special };
    }
    const y = this.broadcastPartner(x);
    if (!y) return null;
    if (op === 'div') return { code: '$0.div($1.abs().add(0.5))', refs: [x.id, y.id], exact: x.exact && y.exact };
    const fn = chance(this.r, 0.2) ? `k.${op}($0, $1)` : `$0.${op}($1)`;
    return { code: fn, refs: [x.id, y.id], exact: x.exact && y.exact, grid: gridOf(y.grid) };
  }

  private compareWhere(): Cand | null {
    const x = this.pickVal((v) => this.float(v) && v.exact);
    if (!x) return null;
    const y = this.broadcastPartner(x);
    const cmp = pick(this.r, ['gt', 'lt', 'ge', 'le', 'eq', 'ne']);
    const rhs = y && y.exact && chance(this.r, 0.6) ? '$1' : pick(this.r, ['0', '0.5', '-1']);
    const refs = rhs === '$1' ? [x.id, y!.id] : [x.id];
    const cond = `$0.${cmp}(${rhs})`;
    const roll = this.r();
    if (roll < 0.25) return { code: `${cond}.to('float32')`, refs, exact: true, grid: { bits: 0, mag: 1 } };
    if (roll < 0.35) return { code: `${cond}.logicalAnd($0.lt(1.5)).logicalNot().to('float32').mul($0)`, refs, exact: x.exact, grid: x.grid };
    if (roll < 0.45) return { code: cond, refs, exact: true };
    const other = refs.length > 1 ? '$1' : pick(this.r, ['0', '$0.mul(-0.5)']);
    const both = refs.length > 1 ? x.exact && y!.exact : x.exact;
    return { code: chance(this.r, 0.5) ? `k.where(${cond}, $0, ${other})` : `$0.where(${cond}, ${other})`, refs, exact: both, grid: x.grid && (refs.length === 1 || y!.grid) ? x.grid : null };
  }

  private dimsArg(rank: number): { text: string; dims: number[] } | null {
    if (rank === 0) return null;
    const roll = this.r();
    if (roll < 0.55) { const d = int(this.r, -rank, rank - 1); return { text: String(d), dims: [(d + rank) % rank] }; }
    const dims = Array.from({ length: rank }, (_, i) => i).filter(() => chance(this.r, 0.5));
    if (!dims.length) return { text: '0', dims: [0] };
    return { text: `[${dims.join(', ')}]`, dims };
  }

  private reduction(): Cand | null {
    const x = this.pickVal((v) => this.float(v) && this.shape(v).length > 0);
    if (!x) return null;
    const rank = this.shape(x).length;
    const keep = chance(this.r, 0.4);
    const da = chance(this.r, 0.2) ? null : this.dimsArg(rank);
    const count = Math.max(...this.allShapes(x).map((s) => (da ? da.dims.reduce((a, d) => a * s[d], 1) : s.reduce((a, b) => a * b, 1))));
    const args = da ? `${da.text}${keep ? ', true' : ''}` : '';
    const op = pick(this.r, ['sum', 'mean', 'max', 'min', 'prod', 'var', 'std', 'logsumexp', 'argmax', 'argmin', 'sum', 'max']);
    const g = x.grid;
    switch (op) {
      case 'sum': return { code: `$0.sum(${args})`, refs: [x.id], exact: false, grid: g ? { bits: g.bits, mag: g.mag * count } : null };
      case 'mean': return { code: `$0.mean(${args})`, refs: [x.id], exact: !!g && gridOk({ bits: g.bits, mag: g.mag * count }) !== null && x.exact };
      // Over dims, the values-only forms are amax/amin (max(dim) returns values and indices, as torch's).
      case 'max': case 'min': return { code: args ? `$0.a${op}(${args})` : `$0.${op}()`, refs: [x.id], exact: x.exact, grid: g };
      case 'prod': {
        if (count > 6) return null;
        return { code: `$0.prod(${args})`, refs: [x.id], exact: false, grid: g ? { bits: g.bits * count, mag: g.mag ** count } : null };
      }
      case 'var': case 'std': {
        const corr = chance(this.r, 0.5) ? 0 : 1;
        if (corr === 1 && count < 2) return null;
        return { code: `$0.${op}(${da ? da.text : 'undefined'}, ${keep}, ${corr})`, refs: [x.id], exact: false };
      }
      case 'logsumexp': return { code: `$0.logsumexp(${da ? da.text : 'undefined'}${keep ? ', true' : ''})`, refs: [x.id], exact: false };
      default: {
        if (!x.exact) return null;
        const d = int(this.r, 0, rank - 1);
        return { code: chance(this.r, 0.2) ? `$0.${op}()` : `$0.${op}(${d}${keep ? ', true' : ''})`, refs: [x.id], exact: true };
      }
    }
  }

  private view(): Cand | null {
    const x = this.pickVal((v) => v.dtype !== 'bool' && !v.randomIn && !v.dropout);
    if (!x) return null;
    const rank = this.shape(x).length;
    const shapes = this.allShapes(x);
    const base = { refs: [x.id], exact: x.exact, grid: x.grid, view: true };
    const d = rank ? int(this.r, 0, rank - 1) : 0;
    const roll = int(this.r, 0, 13);
    switch (roll) {
      case 0: {
        if (!rank) return null;
        const specs = this.shape(x).map(() => pick(this.r, ['null', 'null', '[1]', '[undefined, undefined, 2]', '[undefined, undefined, -1]', '[-2]', '[0, -1]', '[1, undefined, 2]', '[-1, undefined, -2]']));
        return { ...base, code: `$0.slice([${specs.join(', ')}])` };
      }
      case 1: {
        if (!rank) return null;
        const minN = Math.min(...shapes.map((s) => s[d]));
        if (minN < 2) return null;
        const start = int(this.r, 0, 1);
        if (chance(this.r, 0.6)) return { ...base, code: `$0.narrow(${d}, ${start}, $0.shape[${d}] - ${start + int(this.r, 0, 1)})` };
        return { ...base, code: `$0.narrow(${d}, ${start}, ${int(this.r, 1, this.shape(x)[d] - start)})`, mayFail: true };
      }
      case 2: {
        if (rank < 2) return null;
        const order = Array.from({ length: rank }, (_, i) => i).sort(() => this.r() - 0.5);
        return { ...base, code: `$0.permute(${chance(this.r, 0.5) ? `[${order.join(', ')}]` : order.join(', ')})` };
      }
      case 3: return rank >= 2 ? { ...base, code: chance(this.r, 0.5) ? '$0.mT()' : `$0.transpose(${d}, ${int(this.r, -rank, -1)})` } : null;
      case 4: {
        if (rank >= 4) return null;
        return { ...base, code: `$0.unsqueeze(0).expand([${int(this.r, 2, 3)}, ...$0.shape])`, noInplace: true };
      }
      case 5: {
        const ones = this.shape(x).map((_, i) => i).filter((i) => shapes.every((s) => s[i] === 1));
        if (!ones.length) return null;
        const target = this.shape(x).map((_, i) => (i === ones[0] ? String(int(this.r, 2, 4)) : '-1'));
        return { ...base, code: `$0.expand([${target.join(', ')}])`, noInplace: true };
      }
      case 6: {
        if (rank === 0) return { ...base, code: '$0.reshape([1, 1])' };
        const roll2 = int(this.r, 0, 3);
        if (roll2 === 0) return { ...base, code: '$0.reshape([-1])' };
        if (roll2 === 1 && rank >= 2) return { ...base, code: '$0.reshape([$0.shape[0], -1])' };
        if (roll2 === 2 && rank === 2) return { ...base, code: '$0.reshape([$0.shape[1], $0.shape[0]])' };
        // A literal target: the traced sizes, baked (fails, as it should, for another size).
        const s = this.shape(x);
        const total = s.reduce((a, b) => a * b, 1);
        const f = [2, 3, 4].find((q) => total % q === 0 && total > q);
        return { ...base, code: f ? `$0.reshape([${f}, ${total / f}])` : `$0.reshape([${total}])`, mayFail: true };
      }
      case 7: return rank >= 2 ? { ...base, code: chance(this.r, 0.5) ? '$0.flatten()' : `$0.flatten(${int(this.r, 0, rank - 2)})` } : null;
      case 8: {
        const ones = this.shape(x).map((_, i) => i).filter((i) => shapes.every((s) => s[i] === 1));
        if (ones.length) return { ...base, code: `$0.squeeze(${ones[0]})` };
        return rank < 4 ? { ...base, code: `$0.unsqueeze(${int(this.r, -rank - 1, rank)})` } : null;
      }
      case 9: return rank ? { ...base, code: `$0.flip(${chance(this.r, 0.5) ? d : `[${Array.from({ length: rank }, (_, i) => i).filter(() => chance(this.r, 0.6)).join(', ') || '0'}]`})` } : null;
      case 10: {
        if (!rank) return null;
        if (chance(this.r, 0.5)) {
          const pairs = this.shape(x).map(() => `[${int(this.r, 0, 2)}, ${int(this.r, 0, 1)}]`);
          return { ...base, code: `$0.pad([${pairs.join(', ')}]${chance(this.r, 0.4) ? ', 1.5' : ''})`, view: false };
        }
        return { ...base, code: `$0.pad([${int(this.r, 0, 2)}, ${int(this.r, 0, 2)}]${chance(this.r, 0.3) ? ', -2' : ''})`, view: false };
      }
      case 11: return { ...base, code: chance(this.r, 0.5) ? '$0.contiguous()' : '$0.clone()', view: false };
      case 12: return rank >= 2 ? { ...base, code: `$0.movedim(0, -1)` } : null;
      default: {
        if (!rank) return null;
        const parts = chance(this.r, 0.5) ? '2' : '[1, $0.shape[' + d + '] - 1]';
        return { ...base, code: `$0.split(${parts}, ${d})[0]`, mayFail: true };
      }
    }
  }

  private matmul(): Cand | null {
    const x = this.pickVal((v) => this.float(v) && this.shape(v).length >= 1);
    if (!x) return null;
    const shapes = this.allShapes(x);
    const K = this.shape(x)[this.shape(x).length - 1];
    const fixedK = shapes.every((s) => s[s.length - 1] === K);
    const roll = this.r();
    const gridMul = (o: GVal) => (x.grid && o.grid ? { bits: x.grid.bits + o.grid.bits, mag: x.grid.mag * o.grid.mag * K } : null);
    if (roll < 0.2 && this.shape(x).length >= 2) {
      return { code: chance(this.r, 0.5) ? '$0.matmul($0.mT())' : '$0.mT().matmul($0)', refs: [x.id], exact: false, grid: x.grid ? { bits: x.grid.bits * 2, mag: x.grid.mag ** 2 * 8 } : null };
    }
    // Another value whose second-to-last dim (or only dim) matches K, batch dims broadcasting.
    const y = roll < 0.6 ? this.pickVal((v) => this.float(v) && v.id !== x.id && this.live().every((n) => {
      const a = x.shapes.get(n), b = v.shapes.get(n);
      if (!a || !b || !b.length) return false;
      const kb = b.length === 1 ? b[0] : b[b.length - 2];
      if (kb !== a[a.length - 1]) return false;
      const ba = a.slice(0, -2), bb = b.slice(0, -2);
      for (let i = 1; i <= Math.min(ba.length, bb.length); i++) { const p = ba[ba.length - i], q = bb[bb.length - i]; if (p !== q && p !== 1 && q !== 1) return false; }
      return true;
    })) : null;
    if (y) {
      const lead = chance(this.r, 0.15) ? 'k.where($0.gt(0), $0, $0.mul(0.25))' : chance(this.r, 0.1) ? '$0.relu()' : '$0';
      return { code: `${lead}.matmul($1)`, refs: [x.id, y.id], exact: false, grid: lead === '$0' ? gridMul(y) : null };
    }
    if (!fixedK) return null;
    // A captured weight [K, M] (or [K] for a matrix-vector product).
    const M = int(this.r, 1, 5);
    const W = this.addCaptured(chance(this.r, 0.2) ? [K] : [K, M], 'float32', chance(this.r, 0.5) ? 'grid' : 'float', this.grad && chance(this.r, 0.3));
    const lead = this.grad && chance(this.r, 0.3) ? 'k.where($0.gt(0), $0, $0.mul(0.25))' : '$0';
    return { code: `${lead}.matmul($1)`, refs: [x.id, W.id], exact: false, grid: lead === '$0' ? gridMul(W) : null };
  }

  private normalize(): Cand | null {
    const x = this.pickVal((v) => this.float(v) && this.shape(v).length >= 1);
    if (!x) return null;
    const rank = this.shape(x).length;
    const d = int(this.r, -rank, rank - 1);
    const roll = this.r();
    if (roll < 0.35) return { code: `$0.softmax(${d})`, refs: [x.id], exact: false };
    if (roll < 0.6) return { code: `$0.logSoftmax(${d})`, refs: [x.id], exact: false };
    const last = this.shape(x)[rank - 1];
    if (!this.allShapes(x).every((s) => s[rank - 1] === last) || last < 2) return null;
    // eps 0.01, not 1e-5: a row of equal values has variance 0, and 1/√eps would multiply rounding noise by 316.
    if (roll < 0.8) return { code: `k.layerNorm($0, [$0.shape[${rank - 1}]], null, null, 0.01)`, refs: [x.id], exact: false };
    const w = this.addCaptured([last], 'float32', 'grid', this.grad && chance(this.r, 0.5));
    return { code: `k.layerNorm($0, [${last}], $1, null, 0.01)`, refs: [x.id, w.id], exact: false };
  }

  /** An int32 index literal with values below `hi` (sometimes one past the end: must be an error). */
  private indexLiteral(shape: readonly number[], hi: number, allowOob: boolean): { text: string; oob: boolean } {
    const n = shape.reduce((a, b) => a * b, 1);
    const oob = allowOob && chance(this.r, 0.08) && !this.off('oob');
    const vals = Array.from({ length: n }, () => int(this.r, 0, hi - 1));
    if (oob) vals[int(this.r, 0, n - 1)] = hi + int(this.r, 0, 2);
    let i = 0;
    const rec = (d: number): string => `[${Array.from({ length: shape[d] }, () => (d === shape.length - 1 ? vals[i++] : rec(d + 1))).join(', ')}]`;
    return { text: shape.length ? `k.tensor(${rec(0)}, { dtype: 'int32', backend })` : `k.tensor(${vals[0]}, { dtype: 'int32', backend })`, oob };
  }

  private gatherish(): Cand | null {
    const roll = int(this.r, 0, 5);
    if (roll <= 1) {
      // A gather feeding a broadcast: x - x.gather(d, x.argmax(d, true)).
      const x = this.pickVal((v) => this.float(v) && v.exact && this.shape(v).length >= 2);
      if (!x) return null;
      const rank = this.shape(x).length;
      const d = int(this.r, 1, rank - 1);
      const op = pick(this.r, ['sub', 'add', 'mul', 'div']);
      const which = chance(this.r, 0.7) ? 'argmax' : 'argmin';
      const rhs = op === 'div' ? `$0.gather(${d}, $0.${which}(${d}, true)).abs().add(1)` : `$0.gather(${d}, $0.${which}(${d}, true))`;
      return { code: `$0.${op}(${rhs})`, refs: [x.id], exact: x.exact, grid: op === 'div' ? null : x.grid ? { bits: x.grid.bits * (op === 'mul' ? 2 : 1), mag: op === 'mul' ? x.grid.mag ** 2 : x.grid.mag * 2 } : null };
    }
    if (roll === 2) {
      const x = this.pickVal((v) => this.float(v) && this.shape(v).length >= 1);
      if (!x) return null;
      const rank = this.shape(x).length;
      const d = int(this.r, 0, rank - 1);
      const minD = Math.min(...this.allShapes(x).map((s) => s[d]));
      const ishape = this.shape(x).map((_, i) => (i === d ? int(this.r, 1, 4) : Math.min(...this.allShapes(x).map((q) => q[i]))));
      const idx = this.indexLiteral(ishape, minD, true);
      return { code: `$0.gather(${d}, ${idx.text})`, refs: [x.id], exact: x.exact, grid: x.grid, mayFail: idx.oob };
    }
    if (roll === 3) {
      const x = this.pickVal((v) => this.float(v) && this.shape(v).length >= 1);
      if (!x) return null;
      const rank = this.shape(x).length;
      const d = int(this.r, 0, rank - 1);
      const minD = Math.min(...this.allShapes(x).map((s) => s[d]));
      const idx = this.indexLiteral([int(this.r, 1, 5)], minD, true);
      return { code: `$0.indexSelect(${d}, ${idx.text})`, refs: [x.id], exact: x.exact, grid: x.grid, mayFail: idx.oob };
    }
    // Embedding-like: W.indexSelect(0, i).add(z) with z of extra leading dims, or k.embedding.
    const V = int(this.r, 3, 7), D = int(this.r, 1, 4), L = int(this.r, 1, 4);
    const W = this.addCaptured([V, D], 'float32', chance(this.r, 0.5) ? 'grid' : 'float', this.grad && chance(this.r, 0.4));
    const idx = this.indexLiteral([L], V, true);
    if (roll === 4) {
      const z = this.pickVal((v) => this.float(v) && this.allShapes(v).every((s) => s.length >= 2 && s[s.length - 1] === D && (s[s.length - 2] === L || s[s.length - 2] === 1)));
      if (z) return { code: `$0.indexSelect(0, ${idx.text}).add($1)`, refs: [W.id, z.id], exact: W.exact && z.exact, grid: W.grid && z.grid ? { bits: 3, mag: 8 } : null, mayFail: idx.oob };
      const lead = int(this.r, 2, 3);
      const zl = this.constLiteral([lead, L, D], 'grid');
      return { code: `$0.indexSelect(0, ${idx.text}).add(${zl.text}.expand([${lead}, ${L}, ${D}]))`, refs: [W.id], exact: true, grid: W.grid ? { bits: 3, mag: 6 } : null, mayFail: idx.oob };
    }
    const idx2 = this.indexLiteral([int(this.r, 1, 3), L], V, true);
    return { code: `k.embedding(${idx2.text}, $0)`, refs: [W.id], exact: W.exact, grid: W.grid, mayFail: idx2.oob };
  }

  private catStack(): Cand | null {
    const x = this.pickVal((v) => this.float(v) && this.shape(v).length >= 1);
    if (!x) return null;
    const rank = this.shape(x).length;
    const d = int(this.r, 0, rank - 1);
    const y = this.pickVal((v) => this.float(v) && this.live().every((n) => {
      const a = x.shapes.get(n), b = v.shapes.get(n);
      return !!a && !!b && a.length === b.length && a.every((s, i) => i === d || s === b[i]);
    }));
    const other = y ?? x;
    const both = x.exact && other.exact;
    const g = x.grid && other.grid ? { bits: Math.max(x.grid.bits, other.grid.bits), mag: Math.max(x.grid.mag, other.grid.mag) } : null;
    if (chance(this.r, 0.3) && y && this.allShapes(x).every((s, i) => s.join() === this.allShapes(y)[i].join())) {
      return { code: `k.stack([$0, $1], ${int(this.r, 0, rank)})`, refs: [x.id, y.id], exact: both, grid: g };
    }
    if (!y) return { code: `k.cat([$0, $0.mul(2)], ${d})`, refs: [x.id], exact: x.exact, grid: x.grid ? { bits: x.grid.bits, mag: x.grid.mag * 2 } : null };
    return { code: `k.cat([$0, $1${chance(this.r, 0.3) ? ', $0' : ''}], ${d})`, refs: [x.id, y.id], exact: both, grid: g };
  }

  private helperCall(): Cand | null {
    const x = this.pickVal((v) => this.float(v));
    if (!x) return null;
    let h = this.helpers.length && chance(this.r, 0.4) ? pick(this.r, this.helpers) : null;
    if (!h) {
      const effects = (['count', 'push', 'log'] as const).filter(() => chance(this.r, 0.6));
      if (!effects.length) effects.push('count');
      const [transform, exact] = pick(this.r, [['x.mul(2)', true], ['x.add(1)', true], ['x.relu()', true], ['x.tanh()', false]] as const);
      h = { name: `helper${this.helpers.length}`, effects, transform };
      this.helpers.push(h);
      for (const n of this.live()) {
        const env = this.dry.envs.get(n)!;
        env[h.name] = this.dry.compiled(`function ${h.name}(x) { ${effects.map((e) => (e === 'count' ? 'count++;' : e === 'push' ? `log.push('${h!.name}');` : 'log.push(x.sum().item());')).join(' ')} return ${transform}; }`, true)(env);
      }
      this.helperExact.set(h.name, exact);
    }
    const exactT = this.helperExact.get(h.name) ?? false;
    return { code: `HELPER⟦${h.name}($0)⟧`, refs: [x.id], exact: x.exact && exactT, grid: exactT && x.grid ? { bits: x.grid.bits, mag: x.grid.mag * 2 + 1 } : null };
  }

  /** In-place writes into clones, intermediates, views of them, arguments, views of arguments and captured tensors. */
  private inplace(): boolean {
    // A captured parameter updated by hand under noGrad (SGD written out), sometimes.
    const param = this.pickVal((v) => v.kind === 'captured' && v.requiresGrad && v.dtype === 'float32');
    if (param && chance(this.r, 0.25)) {
      const x = this.broadcastPartner(param, true);
      const upd = x ? `$0.sub_($1.mul(0.125))` : '$0.mul_(0.5)';
      return this.tryEffect(`k.noGrad(() => ${upd})`, x ? [param.id, x.id] : [param.id], param, x ? x.exact : true, x?.grid ? { bits: x.grid.bits + 3, mag: x.grid.mag } : null, true);
    }
    const target = this.pickVal((v) => v.dtype === 'float32' && !v.noInplace && !v.randomIn && !v.dropout &&
      !(v.requiresGrad && v.isLeaf) && !(v.root !== v.id && this.vals[v.root].requiresGrad) && !(v.kind !== 'tmp' && v.requiresGrad));
    if (!target) return false;
    let t = target;
    // Sometimes through a fresh view of it.
    const rank = this.shape(t).length;
    let viaView = '';
    if (rank >= 1 && chance(this.r, 0.35) && !(t.requiresGrad)) {
      const minD = Math.min(...this.allShapes(t).map((s) => s[0]));
      viaView = pick(this.r, rank >= 2 ? ['.mT()', `.narrow(0, 0, 1)`, '.slice([[undefined, undefined, 2]])', '.flip(0)'] : ['.narrow(0, 0, 1)', '.slice([[1]])', '.flip(0)']);
      if (viaView.startsWith('.narrow') && minD < 1) viaView = '';
    }
    const op = pick(this.r, ['add_', 'mul_', 'sub_', 'div_', 'zero_', 'fill_', 'copy_', 'add_', 'mul_']);
    let code: string, refs = [t.id], exact = true, grid: Grid | null = { bits: 3, mag: 4 };
    if (op === 'zero_') code = `$0${viaView}.zero_()`;
    else if (op === 'fill_') code = `$0${viaView}.fill_(${pick(this.r, ['1.5', '-2', '0.1'])})`;
    else if (op === 'div_') { const s = this.scalar('divisor'); if (s.special) return false; code = `$0${viaView}.div_(${s.text})`; grid = null; }
    else {
      const y = this.broadcastPartner(t, true);
      if (y && chance(this.r, 0.6) && !viaView) {
        code = op === 'copy_' ? '$0.copy_($1)' : `$0.${op}($1)`;
        refs = [t.id, y.id];
        exact = y.exact;
        grid = y.grid;
      } else {
        const s = this.scalar('grid');
        code = op === 'copy_' ? `$0${viaView}.copy_(${this.constLiteral(this.shape(t), 'grid').text}${viaView ? '' : ''})` : `$0${viaView}.${op}(${s.text})`;
        if (op === 'copy_' && viaView) return false;
        grid = s.grid;
      }
    }
    // A clone first, sometimes (the classic `y = x.clone(); y.add_(1)`).
    if (t.kind !== 'tmp' && chance(this.r, 0.3)) {
      const c = this.tryLet({ code: '$0.clone()', refs: [t.id], exact: t.exact, grid: t.grid });
      if (!c) return false;
      t = c;
      refs = [c.id, ...refs.slice(1)];
    }
    // A product stays on a grid only when both factors are on one (a tensor operand may not be).
    const written = op === 'mul_' ? (t.grid && grid ? { bits: t.grid.bits + grid.bits, mag: t.grid.mag * grid.mag } : null) : grid;
    return this.tryEffect(code, refs, t, exact, written, false);
  }

  private branch(): boolean {
    const x = this.pickVal((v) => this.float(v) && v.exact);
    const y = this.pickVal((v) => this.float(v));
    if (!x || !y) return false;
    const byShape = this.usesN && chance(this.r, 0.4);
    let cond: Expr;
    if (byShape) {
      const a = this.vals.find((v) => v.kind === 'arg' && this.args[v.id]?.shape.includes('N'))!;
      const dim = this.args[a.id].shape.indexOf('N');
      const thr = Math.min(this.n0, this.n1);
      cond = { code: `$0.shape[${dim}] > ${thr}`, refs: [a.id] };
    } else {
      cond = { code: `ITEM⟦$0.${pick(this.r, ['sum', 'max', 'mean'])}()⟧ > ${pick(this.r, ['0', '0.5', '-1'])}`, refs: [x.id] };
    }
    const forms: [string, boolean][] = [['$0.mul(2)', true], ['$0.neg()', true], ['$0.relu()', true], ['$0.add(1)', true], ['$0.exp()', false], ['$0.tanh()', false]];
    const [t, te] = pick(this.r, forms), [e, ee] = pick(this.r, forms);
    const id = this.vals.length;
    const name = `v${this.tmpCount}`;
    // Both arms must be valid (their shapes agree): run them separately first.
    for (const arm of [t, e]) {
      const res = this.dry.run(this.render(arm, [y.id]), true);
      if ([...res.values()].some((r) => !r.ok || !(r.v instanceof k.Tensor) || maxAbs(r.v) > MAX_MAG)) return false;
    }
    const src = `${this.render(cond.code, cond.refs)} ? ${this.render(t, [y.id])} : ${this.render(e, [y.id])}`;
    const res = this.dry.run(src, true);
    if ([...res.values()].some((r) => !r.ok)) return false;
    this.tmpCount++;
    const v = this.newVal('tmp', name, 'float32', { exact: y.exact && te && ee }, [y.id, ...cond.refs]);
    v.isLeaf = false;
    for (const [n, r] of res) {
      const tt = (r as { v: k.Tensor }).v;
      v.shapes.set(n, [...tt.shape]);
      v.mags.set(n, maxAbs(tt));
      v.requiresGrad ||= tt.requiresGrad;
      this.dry.envs.get(n)![name] = tt;
    }
    if (v.id !== id) throw new Error('fuzz: value ids out of order');
    this.body.push({ kind: 'branch', id: v.id, cond, then: { code: t, refs: [y.id] }, else: { code: e, refs: [y.id] } });
    return true;
  }

  private sideEffect(): boolean {
    const roll = this.r();
    if (roll < 0.3) return this.tryEffect('count++', [], null);
    if (roll < 0.55) return this.tryEffect(`log.push('step ' + ${pick(this.r, ['1', '2'])})`, [], null);
    const x = this.pickVal((v) => this.float(v) && v.exact);
    if (!x) return false;
    const rank = this.shape(x).length;
    // Reads at a graph break, of reductions and of views (a transposed or permuted value, printed).
    if (roll < 0.7 || rank < 2) return this.tryEffect(`log.push(ITEM⟦$0.${pick(this.r, ['sum', 'max', 'min'])}()⟧)`, [x.id], null);
    if (roll < 0.85) return this.tryEffect(`log.push(DATA⟦$0.${pick(this.r, ['mT()', 'flip(0)', 'slice([[undefined, undefined, 2]])'])}⟧)`, [x.id], null);
    return this.tryEffect(`log.push(String($0.permute([${Array.from({ length: rank }, (_, i) => rank - 1 - i).join(', ')}])))`, [x.id], null);
  }

  private throwIf(): boolean {
    if (!this.usesN) return false;
    const a = this.vals.find((v) => v.kind === 'arg' && this.args[v.id]?.shape.includes('N'));
    if (!a) return false;
    const dim = this.args[a.id].shape.indexOf('N');
    const thr = Math.min(this.n0, this.n1);
    const cond: Expr = { code: `$0.shape[${dim}] > ${thr}`, refs: [a.id] };
    const res = this.dry.run(`if (${this.render(cond.code, cond.refs)}) throw new Error('too long')`, false);
    if (!res.get(this.n0)?.ok) return false;
    for (const [n, r] of res) if (!r.ok) this.dry.envs.set(n, null);
    this.body.push({ kind: 'throwIf', cond, message: 'input too long' });
    return true;
  }

  private dropout(): Cand | null {
    const x = this.pickVal((v) => this.float(v) && this.size(v) >= 8);
    if (!x) return null;
    let m = this.modules.find((q) => q.kind === 'dropout');
    if (!m) { m = { name: 'drop0', kind: 'dropout', p: pick(this.r, [0.25, 0.5]) }; this.addModule(m); }
    return { code: `${m.name}.forward($0)`, refs: [x.id], exact: x.exact, grid: null, dropout: { p: (m as { p: number }).p, module: m.name }, randomIn: m.name };
  }

  private noGrad(): Cand | null {
    const x = this.pickVal((v) => this.float(v));
    if (!x) return null;
    const [code, keep] = pick(this.r, [['k.noGrad(() => $0.mul(2))', true], ['k.noGrad(() => $0.relu().add(1))', true], ['k.noGrad(() => $0.exp())', false]] as const);
    return { code, refs: [x.id], exact: x.exact && keep, grid: keep && x.grid ? { bits: x.grid.bits, mag: x.grid.mag * 2 + 1 } : null };
  }

  /** int32 arithmetic, including JavaScript numbers beyond int32 and true division. */
  private intOps(): Cand | null {
    const x = this.pickVal((v) => v.dtype === 'int32' && !v.randomIn);
    if (!x) return null;
    const y = this.pickVal((v) => v.dtype === 'int32' && v.id !== x.id && this.live().every((n) => {
      const a = x.shapes.get(n), b = v.shapes.get(n);
      if (!a || !b) return false;
      for (let i = 1; i <= Math.min(a.length, b.length); i++) { const p = a[a.length - i], q = b[b.length - i]; if (p !== q && p !== 1 && q !== 1) return false; }
      return true;
    }));
    const forms = ['$0.add(3)', '$0.mul(-2)', '$0.add(2 ** 32 + 5)', '$0.sub(2 ** 31)', '$0.mul(2 ** 33)', '$0.div(1e10)', '$0.div(2)', '$0.div(3)', '$0.remainder(3)',
      '$0.abs()', '$0.neg()', '$0.sum()', '$0.amax(0)', "$0.to('float32')", "$0.gt(0).to('float32')", 'k.where($0.gt(0), $0, 0)', '$0.add(0.5)'];
    const both = y ? ['$0.add($1)', '$0.mul($1)', '$0.maximum($1)', '$0.sub($1)', '$0.div($1.abs().add(1))'] : [];
    const code = pick(this.r, [...forms, ...both]);
    return { code, refs: code.includes('$1') ? [x.id, y!.id] : [x.id], exact: true };
  }

  // ----- the program ------------------------------------------------------------------------

  private step(): void {
    if (this.vals.some((v) => v.dtype === 'int32' && v.kind === 'arg') && chance(this.r, 0.12)) { this.tryLet(this.intOps()); return; }
    const roll = this.r();
    if (roll < 0.14) this.tryLet(this.unary());
    else if (roll < 0.30) this.tryLet(this.binary());
    else if (roll < 0.37) this.tryLet(this.compareWhere());
    else if (roll < 0.47) this.tryLet(this.reduction());
    else if (roll < 0.59) this.tryLet(this.view());
    else if (roll < 0.65) { if (!this.off('matmul')) this.tryLet(this.matmul()); }
    else if (roll < 0.70) this.tryLet(this.normalize());
    else if (roll < 0.76) { if (!this.off('gather')) this.tryLet(this.gatherish()); }
    else if (roll < 0.80) this.tryLet(this.catStack());
    else if (roll < 0.88) { if (!this.off('inplace')) this.inplace(); }
    else if (roll < 0.91) { if (!this.off('branch')) this.branch(); }
    else if (roll < 0.94) { if (!this.off('effects')) this.sideEffect(); }
    else if (roll < 0.955) { if (!this.off('effects')) this.tryLet(this.helperCall()); }
    else if (roll < 0.965) { if (!this.off('throw')) this.throwIf(); }
    else if (roll < 0.975) { if (!this.off('nograd')) this.tryLet(this.noGrad()); }
    else if (roll < 0.99) { if (this.vals.some((v) => v.dtype === 'int32')) this.tryLet(this.intOps()); }
    else if (this.async) this.body.push({ kind: 'await' });
  }

  private argShapes(): void {
    const r = this.r;
    // Small programs draw sizes from fewer values, so kernels repeat across programs (kernel caches hit).
    const sm = this.opts.small;
    this.n0 = sm ? int(r, 2, 3) : int(r, 2, 5);
    this.n1 = pick(r, (sm ? [1, 4] : [1, 2, 3, 4, 5, 6, 7]).filter((x) => x !== this.n0));
    const dims = sm ? [int(r, 2, 4), int(r, 2, 3), int(r, 1, 2)] : [int(r, 1, 5), int(r, 2, 4), int(r, 1, 3)];
    const nArgs = int(r, 1, 3);
    for (let i = 0; i < nArgs; i++) {
      const rank = pick(r, [1, 2, 2, 2, 3, 3, 0]);
      let shape: Dim[] = dims.slice(0, rank).reverse();
      if (rank > 0 && chance(r, 0.6) && !this.off('sizes')) shape[0] = 'N';
      if (i > 0 && chance(r, 0.35)) shape = [...this.args[0].shape];
      if (shape.length && chance(r, 0.15)) shape[int(r, 0, shape.length - 1)] = 1;
      const data: DataKind = pick(r, ['grid', 'grid', 'float', 'float', 'pos']);
      this.addArg(shape, 'float32', data, this.grad && chance(r, 0.7));
    }
    if (chance(r, 0.15) && !this.off('int')) this.addArg(dims.slice(0, int(r, 1, 2)).reverse(), 'int32', 'int', false);
  }

  /**
   * A CNN stage on [N, C, H, W]: conv (any kernel, stride, padding and padding mode, dilation, groups),
   * batch norm (batch statistics and running-stat updates while training, running statistics in eval),
   * ReLU, a pool.
   * Sometimes 16 channels and 8×8 at 3×3, stride 1: the size where wasm computes it by Winograd.
   */
  private cnn(outputs: Output[]): boolean {
    const b = this.convBlock();
    if (!b) return false;
    this.startWorlds();
    this.addModule(b.spec);
    const v = this.tryLet({ code: 'cnn0.forward($0)', refs: [b.x.id], exact: false });
    if (!v) return false;
    outputs.push({ kind: 'tensor', ref: v.id });
    return true;
  }

  /**
   * Adds the argument [N, C, H, W] of a conv block; returns it, the block (module cnn0, added once
   * the worlds start) and its output features per item (C·H·W after the pool).
   */
  private convBlock(): { x: GVal; spec: ModuleSpec; features: number } | null {
    const r = this.r;
    this.n0 = int(r, 1, 3); this.n1 = pick(r, [1, 2, 3, 4].filter((x) => x !== this.n0));
    const winograd = chance(r, 0.25);
    const inC = winograd ? 16 : int(r, 1, 4);
    const groups = !winograd && inC > 1 && chance(r, 0.3) ? inC : 1;
    const outC = winograd ? 16 : groups * int(r, 1, groups > 1 ? 2 : 5);
    const kernel = winograd ? 3 : pick(r, [1, 2, 3, 3]);
    const stride = winograd ? 1 : pick(r, [1, 1, 2]);
    const padding = winograd ? 1 : pick(r, [0, 0, 1]);
    const dilation = winograd || kernel === 1 ? 1 : pick(r, [1, 1, 2]);
    const paddingMode = padding ? pick(r, ['zeros', 'zeros', 'reflect', 'replicate', 'circular'] as const) : 'zeros';
    const [h, w] = winograd ? [8, 8] : [int(r, 4, 8), int(r, 4, 8)];
    const out = (n: number) => Math.floor((n + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
    // Batch norm trains on more than one value per channel; the pools below need 2 rows and columns.
    if (out(h) < 2 || out(w) < 2) return null;
    const pool = this.poolSpec();
    const x = this.addArg(['N', inC, h, w], 'float32', pick(r, ['grid', 'float']), false);
    const pooled = (n: number, dim: 0 | 1) => (pool ? poolOut(pool, n, dim) : n);
    if (pooled(out(h), 0) < 1 || pooled(out(w), 1) < 1) return null;
    return { x, spec: { name: 'cnn0', kind: 'convBlock', inC, outC, kernel, stride, padding, dilation, groups, paddingMode, pool }, features: outC * pooled(out(h), 0) * pooled(out(w), 1) };
  }

  /** A conv block's pool: max (dilation, ceil mode), average (ceil mode, counting the padding or not), adaptive, or none. */
  private poolSpec(): PoolSpec | null {
    const r = this.r;
    const kind = pick(r, ['max', 'max', 'avg', 'avg', 'adaptiveAvg', 'adaptiveMax', null] as const);
    if (kind === null) return null;
    if (kind === 'adaptiveAvg' || kind === 'adaptiveMax') return { kind, out: [int(r, 1, 3), int(r, 1, 3)] };
    // Padding at most half the window, as PyTorch requires.
    const k = pick(r, [2, 2, 3]), stride = pick(r, [k, k, 1]), padding = pick(r, [0, 0, 1]), ceil = chance(r, 0.4);
    return kind === 'max' ? { kind, k, stride, padding, dilation: k === 3 && padding === 0 ? pick(r, [1, 2]) : 1, ceil } : { kind, k, stride, padding, ceil, countIncludePad: chance(r, 0.5) };
  }

  /** One CNN training step inside the function: conv block, linear head, loss, backward, optimizer step. */
  private cnnTrain(outputs: Output[]): boolean {
    const r = this.r;
    const b = this.convBlock();
    if (!b) return false;
    const outF = int(r, 2, 4);
    const ce = chance(r, 0.5);
    const y = ce ? this.addArg(['N'], 'int32', { index: outF }, false) : this.addArg(['N', outF], 'float32', 'grid', false);
    this.startWorlds();
    this.addModule(b.spec);
    this.addModule({ name: 'lin0', kind: 'linear', inF: b.features, outF, bias: true });
    // Well-conditioned steps: later calls compare parameters after several steps, and a conv block's
    // gradients pass through batch norm (divided by the batch's deviation), which amplifies the
    // rounding noise of one order of summation against another. So SGD with a small fixed rate: Adam's
    // first step is about lr·sign(g) for every gradient above its eps, noise or not, and a large rate
    // diverges.
    this.optim = { kind: 'sgd', lr: pick(r, [0.01, 0.005]), momentum: chance(r, 0.3) ? 0.9 : 0, modules: ['cnn0', 'lin0'] };
    this.fixedLr = true;
    for (const n of this.live()) {
      const env = this.dry.envs.get(n)!;
      env.opt = this.dry.compiled(optimCode(this.optim), true)(env);
    }
    if (!this.tryEffect('opt.zeroGrad()', [], null)) return false;
    const h = this.tryLet({ code: 'lin0.forward(cnn0.forward($0).flatten(1))', refs: [b.x.id], exact: false });
    if (!h) return false;
    const loss = this.tryLet(ce ? { code: 'k.nn.crossEntropy($0, $1)', refs: [h.id, y.id], exact: false } : { code: 'k.nn.mseLoss($0, $1)', refs: [h.id, y.id], exact: false });
    if (!loss) return false;
    if (!this.tryEffect('$0.backward()', [loss.id], null)) return false;
    if (!this.tryEffect('opt.step()', [], null)) return false;
    outputs.push({ kind: 'tensor', ref: loss.id });
    if (chance(r, 0.4)) outputs.push({ kind: 'tensor', ref: h.id });
    return true;
  }

  build(): Program | null {
    const r = this.r;
    const kinds = ['ops', 'ops', 'ops', 'ops', 'ops', 'train', 'dropout', 'model', 'cnn', 'embed'] as const;
    const kind = pick(r, kinds.filter((x) => x === 'ops' || !this.off(x)));
    this.async = chance(r, 0.12) && !this.off('async');
    this.grad = kind === 'ops' && chance(r, 0.3) && !this.off('grad');
    const externalBackward = this.grad && chance(r, 0.35);
    let compileModel: string | null = null;
    const outputs: Output[] = [];
    if (kind === 'model') {
      this.n0 = int(r, 2, 4); this.n1 = this.n0 + int(r, 1, 2);
      const inF = int(r, 2, 6), hidden = int(r, 4, 12), outF = int(r, 1, 4);
      this.addArg(['N', inF], 'float32', pick(r, ['grid', 'float']), false);
      this.startWorlds();
      this.addModule({ name: 'mlp0', kind: 'mlp', inF, hidden, outF, p: pick(r, [0, 0.5, 0.5]) });
      compileModel = chance(r, 0.5) ? 'mlp0' : null;
      const p = (this.modules[0] as { p: number }).p;
      const v = this.tryLet({ code: 'mlp0.forward($0)', refs: [0], exact: false, ...(p > 0 ? { randomIn: 'mlp0' } : {}) });
      if (!v) return null;
      outputs.push({ kind: 'tensor', ref: v.id });
    } else if (kind === 'cnn') {
      if (!this.cnn(outputs)) return null;
      compileModel = chance(r, 0.5) ? 'cnn0' : null;
    } else if (kind === 'train' && chance(r, 0.35) && !this.off('cnn')) {
      if (!this.cnnTrain(outputs)) return null;
    } else if (kind === 'train') {
      this.n0 = int(r, 2, 5); this.n1 = pick(r, [1, 2, 3, 4, 6].filter((x) => x !== this.n0));
      const inF = int(r, 2, 5), outF = int(r, 2, 4);
      const x = this.addArg(['N', inF], 'float32', pick(r, ['grid', 'float']), false);
      const ce = chance(r, 0.4);
      const y = ce ? this.addArg(['N'], 'int32', { index: outF }, false) : this.addArg(['N', outF], 'float32', 'grid', false);
      this.startWorlds();
      this.addModule({ name: 'lin0', kind: 'linear', inF, outF, bias: chance(r, 0.8) });
      const mods = ['lin0'];
      // LayerNorm over 2 features is degenerate (outputs near ±1, gradients that are rounding noise): 3 or more.
      if (outF >= 3 && chance(r, 0.3)) { this.addModule({ name: 'ln0', kind: 'layerNorm', size: outF }); mods.push('ln0'); }
      this.optim = { kind: chance(r, 0.5) ? 'sgd' : 'adam', lr: pick(r, [0.1, 0.05, 0.01]), momentum: chance(r, 0.3) ? 0.9 : 0, modules: mods };
      for (const n of this.live()) {
        const env = this.dry.envs.get(n)!;
        env.opt = this.dry.compiled(optimCode(this.optim), true)(env);
      }
      if (!this.tryEffect('opt.zeroGrad()', [], null)) return null;
      let h = this.tryLet({ code: 'lin0.forward($0)', refs: [x.id], exact: false });
      if (!h) return null;
      if (mods.includes('ln0')) h = this.tryLet({ code: 'ln0.forward($0)', refs: [h.id], exact: false }) ?? h;
      if (chance(r, 0.5)) h = this.tryLet({ code: pick(r, ['$0.relu()', '$0.tanh()', '$0.gelu()']), refs: [h.id], exact: false }) ?? h;
      const loss = this.tryLet(ce ? { code: 'k.nn.crossEntropy($0, $1)', refs: [h.id, y.id], exact: false } : { code: chance(r, 0.5) ? 'k.nn.mseLoss($0, $1)' : '$0.sub($1).pow(2).sum()', refs: [h.id, y.id], exact: false });
      if (!loss) return null;
      if (!this.tryEffect('$0.backward()', [loss.id], null)) return null;
      if (!this.tryEffect('opt.step()', [], null)) return null;
      outputs.push({ kind: 'tensor', ref: loss.id });
      if (chance(r, 0.4)) outputs.push({ kind: 'tensor', ref: h.id });
    } else {
      if (kind === 'dropout') this.grad = false;
      this.argShapes();
      const V = int(r, 3, 8), D = int(r, 2, 4);
      const iv = kind === 'embed' ? this.addArg(['N'], 'int32', { index: V }, false) : null;
      this.startWorlds();
      if (iv) {
        const W = this.addCaptured([V, D], 'float32', pick(r, ['grid', 'float']));
        const e = this.tryLet({ code: chance(r, 0.5) ? '$0.indexSelect(0, $1)' : 'k.embedding($1, $0)', refs: [W.id, iv.id], exact: W.exact, grid: W.grid });
        if (e && chance(r, 0.7)) {
          const lead = int(r, 2, 3);
          this.tryLet({ code: `$0.add(${this.constLiteral([lead, 1, D], 'grid').text})`, refs: [e.id], exact: true, grid: W.grid ? { bits: 3, mag: 6 } : null });
        }
      }
      const steps = this.opts.small ? int(r, 3, 8) : int(r, 4, 14);
      for (let i = 0; i < steps; i++) this.step();
      if (kind === 'dropout' && !this.off('dropout')) { const d = this.tryLet(this.dropout()); if (d) outputs.push({ kind: 'tensor', ref: d.dropout!.of }, { kind: 'tensor', ref: d.id }); }
      if (this.async && !this.body.some((s) => s.kind === 'await')) this.body.splice(int(r, 0, this.body.length), 0, { kind: 'await' });
    }
    // Outputs: the last values, a few earlier ones, sometimes a number or the counter.
    const tmps = this.vals.filter((v) => v.kind === 'tmp' && !outputs.some((o) => o.kind !== 'count' && o.ref === v.id));
    if (kind !== 'model' && kind !== 'cnn' && kind !== 'train') {
      if (!tmps.length) return null;
      outputs.push({ kind: 'tensor', ref: tmps[tmps.length - 1].id });
      for (const v of tmps.slice(0, -1)) if (chance(r, 0.25) && !v.randomIn) outputs.push({ kind: 'tensor', ref: v.id });
      const scalarish = tmps.find((v) => v.dtype === 'float32' && v.exact && !v.randomIn && !v.dropout);
      if (scalarish && chance(r, 0.1) && !externalBackward) outputs.push({ kind: 'item', ref: scalarish.id });
      if (scalarish && chance(r, 0.05) && !externalBackward) outputs.push({ kind: 'str', ref: scalarish.id });
      const last = tmps[tmps.length - 1];
      if (chance(r, 0.06) && !externalBackward) outputs.push({ kind: 'shape', ref: last.id });
      if (chance(r, 0.08) && !externalBackward) { outputs.push({ kind: 'count' }); }
    }
    // Gradients: a loss from the outputs, backward inside the function (or by the caller).
    if (this.grad && !externalBackward) {
      const gs = outputs.filter((o) => o.kind === 'tensor' && this.vals[o.ref].requiresGrad && this.vals[o.ref].dtype === 'float32').map((o) => (o as { ref: number }).ref);
      if (gs.length) {
        const code = gs.map((_, i) => `$${i}.${pick(r, ['sum', 'mean'])}()`).join('.add(') + ')'.repeat(gs.length - 1);
        const loss = this.tryLet({ code, refs: gs, exact: false });
        if (loss && this.tryEffect('$0.backward()', [loss.id], null, true, null, true)) outputs.push({ kind: 'tensor', ref: loss.id });
      }
    }
    if (externalBackward && !outputs.some((o) => o.kind === 'tensor' && this.vals[o.ref].requiresGrad)) return null;
    return this.finish(outputs, externalBackward, compileModel);
  }

  private finish(outputs: Output[], externalBackward: boolean, compileModel: string | null): Program {
    const r = this.r;
    const nArgs = this.args.length;
    // Layouts: contiguous mostly; view arguments (offsets that change between calls), aliasing.
    const viewLayout = (shape: readonly number[], varied: number): Layout => {
      const rank = shape.length;
      if (!rank) return { kind: 'contig' };
      const d = int(r, 0, rank - 1);
      const roll = int(r, 0, 3);
      if (roll === 0) return { kind: 'narrow', dim: d, before: varied, after: int(r, 0, 2) };
      if (roll === 1) return { kind: 'step', dim: d, step: 2, start: varied % 2 };
      if (roll === 2) return { kind: 'neg', dim: d };
      return rank >= 2 ? { kind: 'mT' } : { kind: 'narrow', dim: d, before: varied + 1, after: 0 };
    };
    const canView = (i: number) => this.args[i].dtype === 'float32';
    const viewArgs = this.args.map((_, i) => canView(i) && chance(r, 0.3) && !this.off('views'));
    const aliasPair = (() => {
      if (this.off('alias')) return null;
      for (let i = 1; i < nArgs; i++) {
        for (let j = 0; j < i; j++) {
          const a = this.args[i], b = this.args[j];
          // Same data kind too: an alias reads the other's values, which must keep the grid its value model assumes.
          if (a.shape.join() === b.shape.join() && a.dtype === b.dtype && a.data === b.data && !a.requiresGrad && !b.requiresGrad && chance(r, 0.5)) return [i, j];
        }
      }
      return null;
    })();
    const aliasFirst = chance(r, 0.5);
    const layoutsFor = (call: number, n: number): Layout[] => this.args.map((a, i) => {
      const shape = concrete(a.shape, n);
      if (aliasPair && aliasPair[0] === i && (call === 0) === aliasFirst && call !== 3) return { kind: 'alias', of: aliasPair[1] };
      if (call === 3 && canView(i) && i === otherLayoutArg) return shape.length >= 2 ? { kind: 'mT' } : { kind: 'step', dim: 0, step: 2, start: 1 };
      if (viewArgs[i]) return viewLayout(shape, call === 1 ? 2 : call === 4 ? 3 : 1);
      return { kind: 'contig' };
    });
    const otherLayoutArg = this.off('views') ? -1 : this.args.findIndex((_, i) => canView(i) && !viewArgs[i]);
    // Mutations between calls.
    const muts: Mutation[][] = [[], [], [], [], []];
    const rebindable = this.captured.filter((c) => !c.requiresGrad);
    if (rebindable.length && chance(r, 0.4) && !this.off('rebind')) {
      const c = pick(r, rebindable);
      muts[int(r, 1, 4)].push({ kind: 'rebind', name: c.name, seed: int(r, 1, 1e6) });
    }
    // Modules whose mode changes what they compute (dropout; batch norm's batch or running statistics).
    const modal = this.modules.filter((m) => m.kind === 'dropout' || m.kind === 'mlp' || m.kind === 'convBlock');
    for (const m of modal) {
      // Train for the trace, then eval; train again (another size); eval; train (the first size: a fresh mask,
      // batch statistics again).
      muts[1].push({ kind: 'train', module: m.name, on: false });
      muts[2].push({ kind: 'train', module: m.name, on: true });
      muts[3].push({ kind: 'train', module: m.name, on: false });
      muts[4].push({ kind: 'train', module: m.name, on: true });
    }
    if (this.optim && !this.fixedLr && !this.off('lr')) {
      // Adam's step is lr·m/(√v + eps): keep lr small there, so rounding noise in a gradient near 0 stays small.
      const adam = this.optim.kind === 'adam';
      muts[int(r, 1, 2)].push({ kind: 'lr', lr: pick(r, adam ? [0.05, 0.001, 0.02] : [0.5, 0.001, 0.2]) });
      if (chance(r, 0.5)) muts[int(r, 3, 4)].push({ kind: 'lr', lr: pick(r, adam ? [0.002, 0.03] : [0.02, 0.3]) });
    }
    const labels = ['trace', 'replay (new values, new view offsets)', this.usesN ? 'another size' : 'replay again', 'another layout (a transposed or strided argument)', 'back to the first size'];
    // An out-of-range index on one call (not the trace): an error eagerly, so one compiled too.
    const indexArgs = this.args.map((a, i) => (typeof a.data === 'object' ? i : -1)).filter((i) => i >= 0);
    const oobCall = indexArgs.length && chance(r, 0.12) && !this.off('oob') ? pick(r, [1, 3]) : -1;
    const calls: CallSpec[] = labels.map((label, i) => {
      const n = i === 2 ? this.n1 : this.n0;
      return { label, n, layouts: layoutsFor(i, n), before: muts[i], dataSeed: this.index * 10 + i + 1, ...(i === oobCall ? { oobArgs: [pick(r, indexArgs)] } : {}) };
    });
    // Scales: the largest magnitude in each value's dependency cone, per N.
    const values: Record<number, ValueInfo> = {};
    const programScale: Record<number, number> = {};
    for (const v of this.vals) {
      const scale: Record<number, number> = {};
      for (const n of [this.n0, this.n1]) {
        let s = 1;
        for (const d of v.deps) s = Math.max(s, this.vals[d].mags.get(n) ?? this.vals[d].mags.get(this.n0) ?? 1);
        scale[n] = Number.isFinite(s) ? s : 1;
        programScale[n] = Math.max(programScale[n] ?? 1, scale[n]);
      }
      values[v.id] = { name: v.name, exact: v.exact, grid: v.grid !== null, scale, ...(v.dropout ? { dropout: v.dropout } : {}), ...(v.randomIn ? { randomIn: v.randomIn } : {}) } as ValueInfo;
    }
    return {
      seed: this.seed, index: this.index, args: this.args, captured: this.captured, modules: this.modules, optim: this.optim, helpers: this.helpers,
      body: this.body, outputs, async: this.async, externalBackward, tidy: !this.async && !externalBackward && chance(r, 0.1) && !this.off('tidy'), dynamic: chance(r, 0.15) ? true : 'auto', compileModel, calls, values, programScale, special: this.special,
    };
  }
}

