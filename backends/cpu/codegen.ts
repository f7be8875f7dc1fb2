// cpu backend: renders a kernel (src/core/kernel.ts) as a plain JS function. This is the reference
// the other backends are tested against, so it favours clarity: nested loops over coordinates, float64
// accumulation, every address computed from the view's strides. Every float32 value an expression
// computes is rounded to float32 (Math.fround) as it is made, as eager mode stores it: a fused
// `x.eq(x.max())` must compare the same float32 numbers that the unfused ops would.
import type { Expr, Kernel, View } from '../../src/core/kernel.js';
import { boundsTest, operandBCoords, renderDag } from '../../src/core/kernel.js';
import { scalarTemplate, SCALAR_HELPERS } from '../../src/ops/scalar.js';
import type { DType } from '../../src/core/dtype.js';
import { assertNever } from '../../src/core/errors.js';
import { JS_INDEX_CHECK, type IndexErrorRecord } from '../../src/core/index-check.js';
import { jsAddress as address, jsDecode, jsLoops as loops, jsMaskTest as maskTest } from '../../src/core/js-source.js';
import { reduceIdentity, reduction, type ReduceOp } from '../../src/core/reductions.js';

/** A compiled cpu kernel: `ins[i]` / `outs[i]` are typed arrays; a bad gathered index is recorded in `err`. */
export type CpuKernelFn = (ins: readonly ArrayLike<number>[], outs: readonly { [i: number]: number }[], err: IndexErrorRecord) => void;

/** Emits JS statements computing `roots`; shared nodes become `const` temps. Returns the root expressions. */
function emitExprs(roots: readonly Expr[], lines: string[], tmp: { n: number }): string[] {
  const render = (e: Expr, gen: (x: Expr) => string): string => {
    switch (e.kind) {
      case 'load': {
        let addr = address(e.view, (d) => `c${d}`);
        let coord = (d: number) => `c${d}`;
        if (e.gather) {
          const axis = e.gather.axis;
          const idx = `ix(${gen(e.gather.index)},${e.gather.size},${JSON.stringify(e.gather.op)},${axis})`;
          const s = e.view.strides[axis] ?? 0; // a 0-d source: one element
          addr = `${address({ ...e.view, strides: e.view.strides.map((x, d) => (d === axis ? 0 : x)) }, (d) => `c${d}`)}+${idx}*${s}`;
          // The gathered coordinate replaces the loop coordinate in the mask test too.
          coord = (d) => (d === axis ? idx : `c${d}`);
        }
        const m = maskTest(e.view, coord);
        return m ? `((${m})?in${e.input}[${addr}]:0)` : `in${e.input}[${addr}]`;
      }
      case 'const': return constCode(e.value, e.dtype);
      case 'op': {
        const args = e.args.map(gen);
        const code = scalarTemplate(e.op, e.dtype)(args[0], args[1], args[2]);
        return e.dtype === 'float32' ? `Math.fround(${code})` : code;
      }
      case 'cast': return castCode(gen(e.x), e.x.dtype, e.dtype);
      // Float accumulators run in float64; the value an expression sees is the stored float32 one.
      case 'acc': return e.dtype === 'float32' ? `Math.fround(acc${e.index})` : e.dtype === 'int32' ? `(acc${e.index}|0)` : `acc${e.index}`;
      default: return assertNever(e, 'expr');
    }
  };
  return renderDag(roots, render, (_e, code) => {
    const name = `t${tmp.n++}`;
    lines.push(`const ${name} = ${code};`);
    return name;
  });
}

/** A constant as the dtype holds it, parenthesised so `-` never merges with a neighbour (`x--2`). */
function constCode(value: number, dtype: DType): string {
  const v = dtype === 'float32' ? Math.fround(value) : dtype === 'int32' ? (Number.isNaN(value) ? 0 : Math.trunc(value) | 0) : value !== 0 ? 1 : 0;
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  return `(${Object.is(v, -0) ? '-0' : v === -Infinity ? '-Infinity' : String(v)})`;
}

function castCode(x: string, from: DType, to: DType): string {
  if (from === to) return x;
  if (to === 'bool') return `(${x}!==0?1:0)`;
  if (to === 'int32') return from === 'float32' ? `H.toInt(${x})` : x;
  return from === 'int32' ? `Math.fround(${x})` : x; // int32 past 2^24 rounds; bool is exact
}

function storeAddr(v: View | undefined, counter: string): string {
  return v ? address(v, (d) => `c${d}`) : counter;
}

/** The accumulator's start value as JS source. */
function reduceInit(op: ReduceOp, dtype: DType): string {
  return String(reduceIdentity(op, dtype === 'float32'));
}

/** One step of a reduction over the value `v` (JS source); arg reductions track the best value too. */
function reduceStep(op: ReduceOp, i: number, v: string): string[] {
  const s = reduction(op);
  const a = `acc${i}`;
  switch (s.combine) {
    case 'add': return [`${a} += ${v};`];
    case 'mul': return [`${a} *= ${v};`];
    case 'max': case 'min': {
      const beats = s.combine === 'max' ? '>' : '<';
      if (!s.arg) return [`{ const v = ${v}; if (v ${beats} ${a}${nanTest(s.nan, a)}) ${a} = v; }`];
      // First occurrence wins (a strict comparison).
      return [`{ const v = ${v}; if ((v ${beats} best${i}${nanTest(s.nan, `best${i}`)}) ) { best${i} = v; ${a} = r; } }`];
    }
    default: return assertNever(s, 'reduction');
  }
}

/** The NaN rule of a max/min step against the kept value `kept`, as a JS condition to OR in. */
function nanTest(nan: 'propagate' | 'wins', kept: string): string {
  switch (nan) {
    case 'propagate': return ' || v !== v';
    case 'wins': return ` || (v !== v && ${kept} === ${kept})`;
    default: return assertNever(nan, 'NaN rule');
  }
}

/** Generates the JS source of a kernel's body (exported for snapshots and debugging). */
export function renderJs(k: Kernel): string {
  const lines: string[] = [];
  const ins = Array.from({ length: k.nInputs }, (_, i) => `const in${i} = ins[${i}];`);
  const tmp = { n: 0 };
  switch (k.kind) {
    case 'elementwise': {
      k.outputs.forEach((_, i) => lines.push(`const out${i} = outs[${i}];`));
      const body: string[] = [];
      const exprs = emitExprs(k.outputs.map((o) => o.expr), body, tmp);
      k.outputs.forEach((o, i) => body.push(`out${i}[${storeAddr(o.view, 'o')}] = ${exprs[i]};`));
      body.push('o++;');
      lines.push('let o = 0;', ...loops(k.shape, 0, body));
      break;
    }
    case 'reduce': {
      const no = k.outer.length;
      k.outputs.forEach((_, i) => lines.push(`const out${i} = outs[${i}];`));
      const perRow: string[] = [];
      k.reductions.forEach((red, i) => {
        const bodyDType = red.body.dtype;
        if (reduction(red.op).arg) perRow.push(`let acc${i} = 0; let best${i} = ${reduceInit(red.op, bodyDType)};`);
        else perRow.push(`let acc${i} = ${reduceInit(red.op, red.dtype)};`);
        const inner: string[] = [];
        const [v] = emitExprs([red.body], inner, tmp);
        inner.push(...reduceStep(red.op, i, v), 'r++;');
        perRow.push('{ let r = 0;', ...loops(k.inner, no, inner), '}');
      });
      const outer = k.outputs.map((o, i) => [o, i] as const).filter(([o]) => o.scope === 'outer');
      const full = k.outputs.map((o, i) => [o, i] as const).filter(([o]) => o.scope === 'full');
      if (outer.length) {
        const exprs = emitExprs(outer.map(([o]) => o.expr), perRow, tmp);
        outer.forEach(([o, i], j) => perRow.push(`out${i}[${storeAddr(o.view, 'o')}] = ${exprs[j]};`));
      }
      if (full.length) {
        const inner: string[] = [];
        const exprs = emitExprs(full.map(([o]) => o.expr), inner, tmp);
        full.forEach(([o, i], j) => inner.push(`out${i}[${storeAddr(o.view, 'f')}] = ${exprs[j]};`));
        inner.push('f++;');
        perRow.push('{', ...loops(k.inner, no, inner), '}');
      }
      perRow.push('o++;');
      lines.push('let o = 0; let f = 0;', ...loops(k.outer, 0, perRow));
      break;
    }
    case 'matmul': {
      const nb = k.batch.length;
      const { a, b } = k;
      if (a.view.mask || b.view.mask) throw new Error('cpu: matmul operand views must not be masked (materialise padded operands first)');
      // Coordinates: c0..c{nb-1} batch, then m = c{nb}, n = c{nb+1} (so epilogue views index [...batch, m, n]).
      const am = a.view.strides[nb], ak = a.view.strides[nb + 1];
      const batchOff = (v: View) => address({ ...v, shape: v.shape.slice(0, nb), strides: v.strides.slice(0, nb) }, (d) => `c${d}`);
      // B's row and column offsets (from its strides, or decoded over the dims of a split B).
      const [kd, nd] = b.split ?? [1, 1];
      const bc = operandBCoords(b, nb, (d) => `c${d}`, 'kk', 'n', jsDecode);
      const inBounds = boundsTest(b.bounds, bc);
      const part = (first: number, count: number) => address({ shape: b.view.shape.slice(first, first + count), strides: b.view.strides.slice(first, first + count), offset: 0 }, (d) => bc(first + d));
      lines.push('const out0 = outs[0];', `const row = new Float64Array(${k.n});`, `const bn = new Int32Array(${k.n});`, 'let o = 0;',
        `for (let n = 0; n < ${k.n}; n++) bn[n] = ${part(nb + kd, nd)};`);
      const body: string[] = [
        `const ab = ${batchOff(a.view)}; const bb = ${batchOff(b.view)};`,
        `for (let m = 0; m < ${k.m}; m++) {`,
        '  row.fill(0);',
        `  for (let kk = 0; kk < ${k.k}; kk++) {`,
        `    const av = in${a.input}[ab + m*${am} + kk*${ak}];`,
        `    const bo = bb + ${part(nb, kd)};`,
        // Bounds (a padded input read through a window) skip the terms that fall in the padding.
        `    for (let n = 0; n < ${k.n}; n++) ${inBounds ? `if (${inBounds}) ` : ''}row[n] += av * in${b.input}[bo + bn[n]];`,
        '  }',
        `  const c${nb} = m;`,
        `  for (let c${nb + 1} = 0; c${nb + 1} < ${k.n}; c${nb + 1}++) {`,
        `    const acc0 = Math.fround(row[c${nb + 1}]);`,
      ];
      const inner: string[] = [];
      const [out] = k.outputs;
      const [e] = emitExprs([out.expr], inner, tmp);
      inner.push(`out0[${storeAddr(out.view, 'o')}] = ${e};`, 'o++;');
      body.push(...inner.map((l) => '    ' + l), '  }', '}');
      lines.push(...loops(k.batch, 0, body));
      break;
    }
    default: assertNever(k, 'kernel');
  }
  return [...ins, ...lines].join('\n');
}

const HELPERS = { ...SCALAR_HELPERS, toInt: (x: number) => (Number.isNaN(x) ? 0 : Math.trunc(x) | 0) };

/** Compiles a kernel to a JS function. */
export function compileJs(k: Kernel): CpuKernelFn {
  const src = renderJs(k);
  return new Function('H', `return function kernel(ins, outs, err) {\n${JS_INDEX_CHECK}\n${src}\n};`)(HELPERS) as CpuKernelFn;
}
