// wasm backend, JS tier: kernels rendered to JavaScript that computes, bit for bit, what the
// WebAssembly kernels compute. They run while binaryen loads (and where it cannot load), on typed
// arrays over the same memory, so results do not depend on when the tier changes. What fixes the
// bits, and how this file follows it:
//   - each value: expr.ts's lowering rules and mathlib.ts's builtins (jsmath.ts), float32 rounding
//     at every step, multiply-adds fused or not as the kernels' relaxed SIMD does (features.ts);
//   - float sums and products: reduce.ts's order: each chunk of the vectorised walk (the last inner
//     group of reduceLoopNest) goes into FLOAT_ACCS f32x4 accumulators (element p into lane p % 16),
//     flushed into two f64x2 sums every FLUSH_ITERS iterations and at the chunk's end, the scalar
//     tail into a float64 sum; float max/min take the same lanes (the sign of a zero result depends
//     on it); integer reductions and argmax/argmin do not depend on the order; small windows walked
//     across rows (reduce-rows.ts) take their taps in order into one float32 value instead;
//   - matmul: each output's dot product accumulates k = 0..K-1 in order, one multiply-add per step.
// Elementwise values do not depend on the order, so elementwise kernels walk plain row-major loops.
import type { DType } from '../../src/core/dtype.js';
import type { ElementwiseKernel, Expr, Kernel, MatmulKernel, ReduceKernel, View } from '../../src/core/kernel.js';
import { boundsTest, operandBCoords, renderDag } from '../../src/core/kernel.js';
import { assertNever } from '../../src/core/errors.js';
import { jsAddress, jsDecode, jsLoops, jsMaskTest } from '../../src/core/js-source.js';
import { JS_INDEX_CHECK, type IndexErrorRecord } from '../../src/core/index-check.js';
import { reduceIdentity, reduction } from '../../src/core/reductions.js';
import { sizeOf } from '../../src/core/shape.js';
import type { ScalarOp } from '../../src/ops/scalar.js';
import type { JsMath } from './jsmath.js';
import { pmax, pmin } from './jsmath.js';
import { FLOAT_ACCS, FLUSH_ITERS, reduceLoopNest } from './reduce.js';
import { winogradJs, winogradPlan } from './winograd.js';

/** A JS-tier kernel: `ins[i]` / `outs[i]` are typed arrays over the wasm memory; a bad index is recorded in `err`. */
export type JsTierKernel = (ins: readonly ArrayLike<number>[], outs: readonly { [i: number]: number }[], err: IndexErrorRecord) => void;

type OpExpr = Extract<Expr, { kind: 'op' }>;

/** Small value helpers the generated code calls (as `H`). */
const H = {
  pmax, pmin,
  /** A 3×3 stride-1 convolution's outputs by Winograd, as its WebAssembly computes them (winograd.ts). */
  winograd: winogradJs,
  /** JS truthiness of a float: NaN and ±0 are false (expr.ts truthy). */
  truthy: (x: number): boolean => x === x && x !== 0,
  relu: (x: number): number => (x <= 0 ? 0 : x),
  iabs: (x: number): number => (x < 0 ? -x | 0 : x),
  isign: (x: number): number => (x > 0 ? 1 : x < 0 ? -1 : 0),
  sq: (x: number): number => Math.fround(x * x),
  cube: (x: number): number => Math.fround(Math.fround(x * x) * x),
  pow4: (x: number): number => { const s = Math.fround(x * x); return Math.fround(s * s); },
  /** x ** 0.5 as expr.ts powEmit: (-Inf) ** 0.5 = Inf, and +0 for -0. */
  sqrtPow: (x: number): number => (x === -Infinity ? Infinity : Math.fround(Math.sqrt(x) + 0)),
};

// ---- values --------------------------------------------------------------------------------------

/** A value of `dt` as float32 (int32 converts with rounding, bool 0/1 exactly). */
const asF = (dt: DType, code: string): string => (dt === 'int32' ? `f32(${code})` : code);
/** A value of `dt` as int32 (float truncates like `Math.trunc(x) | 0`, expr.ts toI). */
const asI = (dt: DType, code: string): string => (dt === 'float32' ? `W.f2i(${code})` : code);
/** A value of `dt` as a JS boolean (NaN is false). */
const truth = (dt: DType, code: string): string => (dt === 'float32' ? `H.truthy(${code})` : `(${code}!==0)`);

/** expr.ts castTo: float -> int truncates, -> bool is x != 0 (NaN true), int -> float rounds. */
function castCode(from: DType, to: DType, code: string): string {
  if (from === to) return code;
  switch (to) {
    case 'float32': return asF(from, code);
    case 'int32': return asI(from, code);
    case 'bool': return `(${code}!==0?1:0)`;
  }
}

function constCode(value: number, dt: DType): string {
  const v = dt === 'float32' ? Math.fround(value) : dt === 'int32' ? (Number.isNaN(value) ? 0 : Math.trunc(value) | 0) : value !== 0 ? 1 : 0;
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  return `(${Object.is(v, -0) ? '-0' : v === -Infinity ? '-Infinity' : String(v)})`;
}

type OpRender = (e: OpExpr, a: readonly string[]) => string;
const dt = (e: OpExpr, i: number): DType => e.args[i].dtype;
const isF = (e: OpExpr) => e.dtype === 'float32';
const un = (f: (x: string) => string, i: (x: string) => string): OpRender => (e, [a]) => (isF(e) ? f(asF(dt(e, 0), a)) : i(asI(dt(e, 0), a)));
const unF = (f: (x: string) => string): OpRender => (e, [a]) => f(asF(dt(e, 0), a));
const bin = (f: (x: string, y: string) => string, i: (x: string, y: string) => string): OpRender => (e, [a, b]) =>
  (isF(e) ? f(asF(dt(e, 0), a), asF(dt(e, 1), b)) : i(asI(dt(e, 0), a), asI(dt(e, 1), b)));
const cmp = (op: string): OpRender => (e, [a, b]) => (dt(e, 0) === 'float32' || dt(e, 1) === 'float32'
  ? `(${asF(dt(e, 0), a)}${op}${asF(dt(e, 1), b)}?1:0)` : `(${asI(dt(e, 0), a)}${op}${asI(dt(e, 1), b)}?1:0)`);

/** expr.ts minMax: against a non-NaN constant, pmax/pmin (a NaN in the other operand passes). */
function minMax(which: 'max' | 'min'): OpRender {
  return (e, a) => {
    if (!isF(e)) return `Math.${which}(${asI(dt(e, 0), a[0])},${asI(dt(e, 1), a[1])})`;
    const k = e.args.findIndex((x) => x.kind === 'const' && !Number.isNaN(x.value));
    if (k < 0) return `Math.${which}(${asF(dt(e, 0), a[0])},${asF(dt(e, 1), a[1])})`;
    return `H.p${which}(${asF(dt(e, 1 - k), a[1 - k])},${asF(dt(e, k), a[k])})`;
  };
}

/** expr.ts powEmit: small constant exponents become multiplies. */
const powRender: OpRender = (e, [a, b]) => {
  const ex = e.args[1];
  const k = ex.kind === 'const' ? ex.value : ex.kind === 'cast' && ex.x.kind === 'const' ? ex.x.value : undefined;
  const x = asF(dt(e, 0), a);
  switch (k) {
    case 0: return '1';
    case 1: return x;
    case 2: return `H.sq(${x})`;
    case 3: return `H.cube(${x})`;
    case 4: return `H.pow4(${x})`;
    case -1: return `f32(1/${x})`;
    case 0.5: return `H.sqrtPow(${x})`;
    default: return `W.pow(${x},${asF(dt(e, 1), b)})`;
  }
};

/** One renderer per elementwise primitive (expr.ts OP_EMITTERS). */
const OPS: Record<ScalarOp, OpRender> = {
  neg: un((x) => `(-${x})`, (x) => `((-${x})|0)`),
  recip: unF((x) => `f32(1/${x})`),
  sqrt: unF((x) => `f32(Math.sqrt(${x}))`),
  exp: unF((x) => `W.exp(${x})`),
  log: unF((x) => `W.log(${x})`),
  sin: unF((x) => `W.sin(${x})`),
  cos: unF((x) => `W.cos(${x})`),
  tanh: unF((x) => `W.tanh(${x})`),
  erf: unF((x) => `W.erf(${x})`),
  floor: un((x) => `Math.floor(${x})`, (x) => x),
  ceil: un((x) => `Math.ceil(${x})`, (x) => x),
  round: un((x) => `W.round(${x})`, (x) => x),
  abs: un((x) => `Math.abs(${x})`, (x) => `H.iabs(${x})`),
  sign: un((x) => `W.sign(${x})`, (x) => `H.isign(${x})`),
  relu: un((x) => `H.relu(${x})`, (x) => `H.relu(${x})`),
  not: (e, [a]) => `(${truth(dt(e, 0), a)}?0:1)`,
  add: bin((x, y) => `f32(${x}+${y})`, (x, y) => `((${x}+${y})|0)`),
  sub: bin((x, y) => `f32(${x}-${y})`, (x, y) => `((${x}-${y})|0)`),
  mul: bin((x, y) => `f32(${x}*${y})`, (x, y) => `Math.imul(${x},${y})`),
  div: (e, [a, b]) => `f32(${asF(dt(e, 0), a)}/${asF(dt(e, 1), b)})`,
  pow: powRender,
  max: minMax('max'),
  min: minMax('min'),
  mod: bin((x, y) => `W.fmod(${x},${y})`, (x, y) => `W.imod(${x},${y})`),
  lt: cmp('<'),
  le: cmp('<='),
  eq: cmp('==='),
  ne: cmp('!=='),
  and: (e, [a, b]) => `(${truth(dt(e, 0), a)}&&${truth(dt(e, 1), b)}?1:0)`,
  or: (e, [a, b]) => `(${truth(dt(e, 0), a)}||${truth(dt(e, 1), b)}?1:0)`,
  where: (e, [c, a, b]) => {
    const v = (i: number, code: string) => (isF(e) ? asF(dt(e, i), code) : asI(dt(e, i), code));
    return `(${truth(dt(e, 0), c)}?${v(1, a)}:${v(2, b)})`;
  },
};

/** Emits statements computing `roots` at coordinates c0..; returns the root expressions' code. */
function emitExprs(roots: readonly Expr[], lines: string[], tmp: { n: number }): string[] {
  const render = (e: Expr, gen: (x: Expr) => string): string => {
    switch (e.kind) {
      case 'load': {
        let addr = jsAddress(e.view, (d) => `c${d}`);
        let coord = (d: number) => `c${d}`;
        if (e.gather) {
          const axis = e.gather.axis;
          const idx = `ix(${asI(e.gather.index.dtype, gen(e.gather.index))},${e.gather.size},${JSON.stringify(e.gather.op)},${axis})`;
          const s = e.view.strides[axis] ?? 0; // a 0-d source: one element
          addr = `${jsAddress({ ...e.view, strides: e.view.strides.map((x, d) => (d === axis ? 0 : x)) }, (d) => `c${d}`)}+${idx}*${s}`;
          coord = (d) => (d === axis ? idx : `c${d}`);
        }
        const m = jsMaskTest(e.view, coord);
        return m ? `((${m})?in${e.input}[${addr}]:0)` : `in${e.input}[${addr}]`;
      }
      case 'const': return constCode(e.value, e.dtype);
      case 'op': return OPS[e.op](e, e.args.map(gen));
      case 'cast': return castCode(e.x.dtype, e.dtype, gen(e.x));
      case 'acc': return `acc${e.index}`;
      default: return assertNever(e, 'expr');
    }
  };
  return renderDag(roots, render, (_e, code) => {
    const name = `t${tmp.n++}`;
    lines.push(`const ${name} = ${code};`);
    return name;
  });
}

const storeAddr = (v: View | undefined, counter: string) => (v ? jsAddress(v, (d) => `c${d}`) : counter);

// ---- kernels -------------------------------------------------------------------------------------

function elementwise(k: ElementwiseKernel, lines: string[], tmp: { n: number }): void {
  k.outputs.forEach((_, i) => lines.push(`const out${i} = outs[${i}];`));
  const body: string[] = [];
  const exprs = emitExprs(k.outputs.map((o) => o.expr), body, tmp);
  k.outputs.forEach((o, i) => body.push(`out${i}[${storeAddr(o.view, 'o')}] = ${castCode(o.expr.dtype, o.dtype, exprs[i])};`));
  body.push('o++;');
  lines.push('let o = 0;', ...jsLoops(k.shape, 0, body));
}

/** The statements of one reduction pass over the row at c0..c{nO-1}, leaving its result in acc{i}. */
function reducePass(k: ReduceKernel, i: number, L: number, acrossRows: boolean, tmp: { n: number }): string[] {
  const red = k.reductions[i];
  const nO = k.outer.length;
  const bodyDt = red.body.dtype;
  const inner: string[] = [];
  const [v0] = emitExprs([red.body], inner, tmp);
  const out: string[] = [];
  const isFloatPass = bodyDt === 'float32' || red.dtype === 'float32';
  const result = (tot: string) => (red.dtype === 'float32' ? `f32(${tot})` : red.dtype === 'int32' ? `W.f2i(f32(${tot}))` : `(f32(${tot})!==0?1:0)`);
  const sem = reduction(red.op);
  if (acrossRows && !sem.arg) {
    // reduce-rows.ts: taps in order, float32 sums and products, pmax/pmin with NaN apart.
    const f = sem.combine;
    const step = f === 'add' ? 'tl = f32(tl + v);' : f === 'mul' ? 'tl = f32(tl * v);' : `if (v !== v) nan = true; else tl = H.p${f}(tl, v);`;
    out.push(`let tl = ${sem.identity.float32}, nan = false;`, ...jsLoops(k.inner, nO, [...inner, `const v = ${v0};`, step]), `acc${i} = nan ? NaN : tl;`);
    return [`let acc${i};`, '{', ...out.map((l) => '  ' + l), '}'];
  }
  switch (sem.combine) {
    case 'add': case 'mul': {
      const add = sem.combine === 'add';
      if (!isFloatPass) {
        // int32 wraps: the order does not matter.
        const step = add ? `acc${i} = (acc${i} + v) | 0;` : `acc${i} = Math.imul(acc${i}, v);`;
        out.push(`acc${i} = ${sem.identity.int32};`, ...jsLoops(k.inner, nO, [...inner, `const v = ${asI(bodyDt, v0)};`, step]));
        break;
      }
      const op = add ? '+' : '*';
      const id = sem.identity.float32;
      const nv4 = Math.floor(L / 4) * 4;
      const iters = Math.floor(L / 4 / FLOAT_ACCS);
      const lanes = 4 * FLOAT_ACCS;
      const block = lanes * FLUSH_ITERS;
      const flushed = iters > FLUSH_ITERS ? Math.floor(iters / FLUSH_ITERS) * block : 0;
      const flush = `{ ${[0, 1, 2, 3].map((l) => `const s${l} = ${[1, 2, 3].reduce((x, u) => `f32(${x}${op}A[${4 * u + l}])`, `A[${l}]`)};`).join(' ')} ` +
        `d00 ${op}= s0; d01 ${op}= s1; d10 ${op}= s2; d11 ${op}= s3; A.fill(${id}); }`;
      out.push(`A.fill(${id}); let d00 = ${id}, d01 = ${id}, d10 = ${id}, d11 = ${id}, tl = ${id}, p = 0;`);
      const step = [
        ...inner,
        `const v = ${asF(bodyDt, v0)};`,
        `if (p < ${nv4}) { A[p & ${lanes - 1}] = f32(A[p & ${lanes - 1}] ${op} v);${flushed ? ` if (p < ${flushed} && ((p + 1) % ${block}) === 0) ${flush}` : ''} }`,
        `else tl ${op}= v;`,
        `if (++p === ${L}) { ${flush} p = 0; }`,
      ];
      out.push(...jsLoops(k.inner, nO, step));
      out.push(`acc${i} = ${result(`((d00 ${op} d10) ${op} (d01 ${op} d11)) ${op} tl`)};`);
      break;
    }
    case 'max': case 'min': {
      const which = sem.combine;
      if (sem.arg) {
        // The first index of the extreme (NaN counts as the extreme): the lanes' combine gives the same.
        const f = bodyDt === 'float32';
        const init = f ? sem.identity.float32 : sem.identity.int32;
        const v = f ? v0 : asI(bodyDt, v0);
        const beats = which === 'max' ? '>' : '<';
        const better = f ? `(v ${beats} best || (v !== v && best === best))` : `v ${beats} best`;
        out.push(`acc${i} = 0; let best = ${init}, r = 0;`,
          ...jsLoops(k.inner, nO, [...inner, `const v = ${v};`, `if (${better}) { best = v; acc${i} = r; }`, 'r++;']));
        if (red.dtype === 'float32') out.push(`acc${i} = f32(acc${i});`);
        break;
      }
      // Any NaN in the row makes the result NaN ('propagate').
      if (bodyDt !== 'float32') {
        out.push(`acc${i} = ${sem.identity.int32};`, ...jsLoops(k.inner, nO, [...inner, `acc${i} = Math.${which}(acc${i}, ${asI(bodyDt, v0)});`]));
        if (red.dtype === 'float32') out.push(`acc${i} = f32(acc${i});`);
        break;
      }
      const nv4 = Math.floor(L / 4) * 4;
      const lanes = 4 * FLOAT_ACCS;
      const init = sem.identity.float32;
      out.push(`A.fill(${init}); let tl = ${init}, nan = false, p = 0;`);
      const step = [
        ...inner,
        `const v = ${v0};`,
        `if (p < ${nv4}) { if (v !== v) nan = true; else A[p & ${lanes - 1}] = H.p${which}(A[p & ${lanes - 1}], v); }`,
        `else tl = Math.${which}(tl, v);`,
        `if (++p === ${L}) p = 0;`,
      ];
      out.push(...jsLoops(k.inner, nO, step));
      const comb = [0, 1, 2, 3].map((l) => [1, 2, 3].reduce((x, u) => `Math.${which}(${x},A[${4 * u + l}])`, `A[${l}]`));
      out.push(`acc${i} = tl;`, ...comb.map((c) => `acc${i} = Math.${which}(acc${i}, ${c});`), `if (nan) acc${i} = NaN;`);
      if (red.dtype !== 'float32') out.push(`acc${i} = W.f2i(acc${i});`);
      break;
    }
    default: assertNever(sem, 'reduction');
  }
  // The pass's locals live in a block; its result in acc{i}, which outputs and later passes read.
  return [`let acc${i};`, '{', ...out.map((l) => '  ' + l), '}'];
}

function reduce(k: ReduceKernel, lines: string[], tmp: { n: number }): void {
  const nO = k.outer.length;
  const innerSize = sizeOf(k.inner);
  const { innerGroups, acrossRows } = reduceLoopNest(k);
  const L = innerGroups.length ? innerGroups[innerGroups.length - 1].size : 1;
  k.outputs.forEach((_, i) => lines.push(`const out${i} = outs[${i}];`));
  lines.push(`const A = new Float64Array(${4 * FLOAT_ACCS});`);
  const perRow: string[] = [];
  k.reductions.forEach((red, i) => {
    if (innerSize === 0) {
      // An empty row: the identity, or index 0 for arg reductions.
      perRow.push(`const acc${i} = ${reduction(red.op).arg ? 0 : reduceIdentity(red.op, red.dtype === 'float32')};`);
      return;
    }
    perRow.push(...reducePass(k, i, L, acrossRows, tmp));
  });
  const outer = k.outputs.map((o, i) => [o, i] as const).filter(([o]) => o.scope === 'outer');
  const full = k.outputs.map((o, i) => [o, i] as const).filter(([o]) => o.scope === 'full');
  if (outer.length) {
    const exprs = emitExprs(outer.map(([o]) => o.expr), perRow, tmp);
    outer.forEach(([o, i], j) => perRow.push(`out${i}[${storeAddr(o.view, 'o')}] = ${castCode(o.expr.dtype, o.dtype, exprs[j])};`));
  }
  if (full.length && innerSize > 0) {
    const inner: string[] = [];
    const exprs = emitExprs(full.map(([o]) => o.expr), inner, tmp);
    full.forEach(([o, i], j) => inner.push(`out${i}[${storeAddr(o.view, 'f')}] = ${castCode(o.expr.dtype, o.dtype, exprs[j])};`));
    inner.push('f++;');
    perRow.push('{', ...jsLoops(k.inner, nO, inner), '}');
  }
  perRow.push('o++;');
  lines.push('let o = 0; let f = 0;', ...jsLoops(k.outer, 0, perRow));
}

function matmul(k: MatmulKernel, lines: string[], tmp: { n: number }, winogradF4: boolean): void {
  const nb = k.batch.length;
  const operand = (x: MatmulKernel['a'] | MatmulKernel['b'], row: string, col: string, isB: boolean) => {
    // A split B decodes its row and column over several dims each.
    const coord = isB ? operandBCoords(x, nb, (d) => `c${d}`, row, col, jsDecode) : (d: number) => (d < nb ? `c${d}` : d === nb ? row : col);
    const addr = jsAddress(x.view, coord);
    const tests = [jsMaskTest(x.view, coord), isB ? boundsTest((x as MatmulKernel['b']).bounds, coord) : null].filter((t) => t !== null);
    const m = tests.length ? tests.join(' && ') : null;
    // Integer and bool operands are converted to float32 first (matmul.ts toF32).
    return m ? `((${m})?f32(in${x.input}[${addr}]):0)` : `f32(in${x.input}[${addr}])`;
  };
  lines.push('const out0 = outs[0];', 'let o = 0;');
  const inner: string[] = [];
  const [out] = k.outputs;
  const [e] = emitExprs([out.expr], inner, tmp);
  // A 3×3 stride-1 convolution: float32 operands take Winograd's outputs where all are finite (matmul.ts).
  const wp = winogradPlan(k, winogradF4);
  if (wp) lines.push(`const WP = ${JSON.stringify(wp)};`);
  const batchOnly = (d: number) => (d < nb ? `c${d}` : '0');
  const direct = `for (let kk = 0; kk < ${k.k}; kk++) acc0 = W.madd(${operand(k.a, 'm', 'kk', false)}, ${operand(k.b, 'kk', `c${nb + 1}`, true)}, acc0);`;
  const body = [
    ...(wp ? [`const Y = in${k.a.input} instanceof Float32Array && in${k.b.input} instanceof Float32Array ? H.winograd(WP, in${k.a.input}, ${jsAddress(k.a.view, batchOnly)}, ${k.a.view.strides[nb]}, ${k.a.view.strides[nb + 1]}, in${k.b.input}, ${jsAddress(k.b.view, batchOnly)}, W.madd) : null;`] : []),
    `for (let m = 0; m < ${k.m}; m++) {`,
    `  const c${nb} = m;`,
    `  for (let c${nb + 1} = 0; c${nb + 1} < ${k.n}; c${nb + 1}++) {`,
    '    let acc0 = 0;',
    wp ? `    if (Y) acc0 = Y[m * ${k.n} + c${nb + 1}]; else ${direct}` : `    ${direct}`,
    ...inner.map((l) => '    ' + l),
    `    out0[${storeAddr(out.view, 'o')}] = ${castCode(out.expr.dtype, out.dtype, e)};`,
    '    o++;',
    '  }',
    '}',
  ];
  lines.push(...jsLoops(k.batch, 0, body));
}

/** The JS source of a kernel's body (for dumps and tests); `winogradF4` as the wasm backend's option. */
export function renderJsTier(k: Kernel, winogradF4 = false): string {
  const lines: string[] = Array.from({ length: k.nInputs }, (_, i) => `const in${i} = ins[${i}];`);
  const tmp = { n: 0 };
  switch (k.kind) {
    case 'elementwise': elementwise(k, lines, tmp); break;
    case 'reduce': reduce(k, lines, tmp); break;
    case 'matmul': matmul(k, lines, tmp, winogradF4); break;
    default: assertNever(k, 'kernel');
  }
  return lines.join('\n');
}

/** Compiles a kernel to a JS function computing what its WebAssembly computes (builtins from `W`). */
export function compileJsTier(k: Kernel, W: JsMath, winogradF4 = false): JsTierKernel {
  const src = renderJsTier(k, winogradF4);
  return new Function('W', 'H', 'f32', `return function kernel(ins, outs, err) {\n${JS_INDEX_CHECK}\n${src}\n};`)(W, H, Math.fround) as JsTierKernel;
}
