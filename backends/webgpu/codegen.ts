// webgpu backend, kernel level: one WGSL compute shader per kernel kind. Elementwise kernels run a
// thread per element; reductions a workgroup per row with a shared-memory tree (or a thread per row
// when rows are short); matmul a 64x64 tile per workgroup staged through workgroup memory, with the
// epilogue fused into the store. Every dispatch is a linear workgroup count laid out on a 1-3-D grid.
import type { DType } from '../../src/core/dtype.js';
import type { Expr, Kernel, KernelOutput, MatmulKernel, ReduceKernel, ReduceOp, ElementwiseKernel, View } from '../../src/core/kernel.js';
import { boundsTest, exprNodes, kernelExprs, operandBCoords } from '../../src/core/kernel.js';
import { sizeOf } from '../../src/core/shape.js';
import { assertNever } from '../../src/core/errors.js';
import { reduceIdentity, reduction } from '../../src/core/reductions.js';
import { Coords, Emitter, type Scope, type Slot, storageType } from './emit.js';
import { renderHelpers, wgslType } from './wgsl-ops.js';

/** Which storage binding each kernel input and output uses (buffers bound twice share one binding). */
export interface BindingPlan {
  readonly slots: readonly Slot[];
  /** Slot of kernel input i, or null when the kernel does not read it. */
  readonly inputs: readonly (number | null)[];
  readonly outputs: readonly number[];
}

/** A kernel rendered for one dispatch: the WGSL (also the pipeline cache key) and its uniform words. */
export interface WgslProgram {
  readonly source: string;
  readonly params: Uint32Array;
  /** Linear workgroup count; 0 means nothing to run (empty iteration space). */
  readonly workgroups: number;
  /** True when the shader checks gathered indices: it binds the index-error buffer after the data buffers. */
  readonly checksIndices: boolean;
}

/** Tuning knobs, from the device's limits. */
export interface CodegenLimits {
  /** Threads per workgroup for elementwise and reduction kernels (a power of two, <= 256). */
  readonly workgroupSize: number;
}

/** Rows of at most this many elements reduce one per thread instead of one per workgroup. */
export const SERIAL_ROW_MAX = 32;

const ARG_SENTINEL = 2147483647;

/** Threads of a row's workgroup: enough for a few elements each, so short rows do not idle 256 threads. */
export function treeWorkgroupSize(inner: number, max: number): number {
  const want = inner <= 256 ? 64 : inner <= 2048 ? 128 : 256;
  return Math.min(want, max);
}

/** The reductions a reduce kernel's outputs need (directly or through later reductions), ascending. */
export function neededReductions(k: ReduceKernel): number[] {
  const need = new Set<number>();
  const visit = (e: Expr): void => exprNodes([e]).forEach((x) => {
    if (x.kind === 'acc' && !need.has(x.index)) {
      need.add(x.index);
      visit(k.reductions[x.index].body);
    }
  });
  k.outputs.forEach((o) => visit(o.expr));
  return [...need].sort((a, b) => a - b);
}

/** True when a kernel gathers (so its shader binds the index-error buffer: one more storage binding). */
export function checksIndices(k: Kernel): boolean {
  return exprNodes(kernelExprs(k)).some((e) => e.kind === 'load' && e.gather !== undefined);
}

/** The kernel inputs the generated shader reads, with the dtype each is loaded as. */
export function usedInputs(k: Kernel): Map<number, DType> {
  const used = new Map<number, DType>();
  const readAll = (roots: readonly Expr[]) => {
    for (const e of exprNodes(roots)) if (e.kind === 'load' && !used.has(e.input)) used.set(e.input, e.dtype);
  };
  switch (k.kind) {
    case 'elementwise': readAll(kernelExprs(k)); break;
    // Reductions no output needs are not computed.
    case 'reduce': readAll([...neededReductions(k).map((i) => k.reductions[i].body), ...k.outputs.map((o) => o.expr)]); break;
    case 'matmul':
      readAll(kernelExprs(k));
      // The operands are staged as float32 whatever else reads their buffers.
      used.set(k.a.input, 'float32');
      used.set(k.b.input, 'float32');
      break;
    default: return assertNever(k, 'kernel');
  }
  return used;
}

/** Words of the buffer a kernel that checks indices records the first bad one in: flag, index, op code, axis, size. */
export const INDEX_ERROR_WORDS = 8;

function header(plan: BindingPlan, em: Emitter, extra: string[]): string {
  const lines = [`@group(0) @binding(0) var<uniform> U: array<vec4<u32>, ${em.params.vec4s}>;`];
  plan.slots.forEach((s, i) => {
    lines.push(`@group(0) @binding(${i + 1}) var<storage, ${s.write ? 'read_write' : 'read'}> b${i}: array<${storageType(s.dtype)}>;`);
  });
  // The index-error buffer binds after the data buffers (see checksIndices).
  if (em.helpers.has('k_ix')) lines.push(`@group(0) @binding(${plan.slots.length + 1}) var<storage, read_write> kerr: array<atomic<u32>, ${INDEX_ERROR_WORDS}>;`);
  const helpers = renderHelpers(em.helpers);
  return [...lines, ...extra, ...(helpers ? [helpers] : [])].join('\n');
}

const MAIN_ARGS = '@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32';
const WID = 'let wid = wg.x + nwg.x * (wg.y + nwg.y * wg.z);';

const indent = (lines: readonly string[], n = 1): string[] => lines.map((l) => '  '.repeat(n) + l);

function emitterFor(plan: BindingPlan): Emitter {
  return new Emitter(plan.inputs.map((s) => (s === null ? null : { name: `b${s}`, slot: plan.slots[s] })));
}

/** Store statements for outputs evaluated at `scope`; `flatIndex` is the contiguous destination. */
function storeOutputs(em: Emitter, plan: BindingPlan, outs: readonly (readonly [KernelOutput, number])[], scope: Scope, flatIndex: string, lines: string[]): void {
  const values = em.exprs(outs.map(([o]) => o.expr), scope, lines);
  outs.forEach(([o, i], j) => {
    const slot = plan.outputs[i];
    // A strided destination (in-place op) is addressed like a load; its mask, if any, is ignored as the cpu does.
    const index = o.view ? em.address({ ...o.view, mask: undefined } as View, scope).index : flatIndex;
    // Stored as the cpu reference's typed-array store converts (ToInt32 for int32, its low byte for bool).
    lines.push(em.store(`b${slot}`, plan.slots[slot], index, values[j]));
  });
}

// ---------------------------------------------------------------------------------------------

function renderElementwise(k: ElementwiseKernel, plan: BindingPlan, lim: CodegenLimits): WgslProgram {
  const em = emitterFor(plan);
  const total = sizeOf(k.shape);
  const wgs = lim.workgroupSize;
  const TOTAL = em.params.u32(total);
  const coords = new Coords(k.shape.map((_, d) => `c${d}`), k.shape, em.params, 'gi');
  const scope: Scope = { coord: (d) => coords.coord(d), flat: 'gi', acc: () => { throw new Error('acc in an elementwise kernel'); } };
  const body: string[] = [];
  storeOutputs(em, plan, k.outputs.map((o, i) => [o, i] as const), scope, 'gi', body);
  const main = perThreadMain(wgs, 'gid', TOTAL, 'gi', [...coords.decode(), ...body]);
  return finish(em, plan, [], main, total === 0 ? 0 : Math.ceil(total / wgs));
}

/** main() with one item per thread: `v` = wid * wgs + lid (as i32 `iv`), returning past `limit`. */
function perThreadMain(wgs: number, v: string, limit: string, iv: string, lines: readonly string[]): string[] {
  return [
    `@compute @workgroup_size(${wgs})`,
    `fn main(${MAIN_ARGS}) {`,
    `  ${WID}`,
    `  let ${v} = wid * ${wgs}u + lid;`,
    `  if (${v} >= ${limit}) { return; }`,
    `  let ${iv} = i32(${v});`,
    ...indent(lines),
    '}',
  ];
}

function finish(em: Emitter, plan: BindingPlan, decls: string[], main: string[], workgroups: number): WgslProgram {
  const source = header(plan, em, decls) + '\n' + main.join('\n') + '\n';
  const params = new Uint32Array(em.params.vec4s * 4);
  params.set(em.params.words);
  return { source, params, workgroups, checksIndices: em.helpers.has('k_ix') };
}

// ---------------------------------------------------------------------------------------------

interface RedInfo {
  readonly i: number;
  readonly op: ReduceOp;
  readonly body: Expr;
  /** Register type the partial values have (the body's for arg reductions, else the result's). */
  readonly vt: 'f32' | 'i32';
  readonly isArg: boolean;
}

/** The accumulator's start value as a WGSL literal (infinities through the k_inf helper). */
function reduceInit(op: ReduceOp, vt: 'f32' | 'i32', use: (h: 'k_inf') => string): string {
  const x = reduceIdentity(op, vt === 'f32');
  if (vt === 'i32') return x === -2147483648 ? '(-2147483647 - 1)' : String(x);
  if (x === Infinity) return `${use('k_inf')}()`;
  if (x === -Infinity) return `-${use('k_inf')}()`;
  return Number.isInteger(x) ? `${x}.0` : String(x);
}

/** `p = p (op) v` for the reductions that combine values (arg reductions combine by index: argHelper). */
function combine(op: ReduceOp, vt: 'f32' | 'i32', a: string, b: string, use: (h: 'k_max' | 'k_min') => string): string {
  const sem = reduction(op);
  if (sem.arg) throw new Error('arg reductions combine by index');
  switch (sem.combine) {
    case 'add': return `${a} + ${b}`;
    case 'mul': return `${a} * ${b}`;
    // Math.max semantics: NaN propagates (the helper tests bits; WGSL max may drop NaN).
    case 'max': return vt === 'f32' ? `${use('k_max')}(${a}, ${b})` : `max(${a}, ${b})`;
    case 'min': return vt === 'f32' ? `${use('k_min')}(${a}, ${b})` : `min(${a}, ${b})`;
    default: return assertNever(sem, 'reduction');
  }
}

/** The step of an arg reduction: does (v at i) beat (b at j)? (NaN wins, ties go to the first index.) */
function argHelper(r: RedInfo): 'k_argmax_f' | 'k_argmin_f' | 'k_argmax_i' | 'k_argmin_i' {
  const sem = reduction(r.op);
  if (!sem.arg) throw new Error(`${r.op} is not an arg reduction`);
  return `k_arg${sem.combine}_${r.vt === 'f32' ? 'f' : 'i'}` as const;
}

function renderReduce(k: ReduceKernel, plan: BindingPlan, lim: CodegenLimits): WgslProgram {
  const em = emitterFor(plan);
  const no = k.outer.length;
  const rows = sizeOf(k.outer);
  const innerSize = sizeOf(k.inner);
  const serial = innerSize <= SERIAL_ROW_MAX;
  const wgs = serial ? lim.workgroupSize : treeWorkgroupSize(innerSize, lim.workgroupSize);
  const ROWS = em.params.u32(rows);
  const INNER = em.params.i32(innerSize);
  const outerCoords = new Coords(k.outer.map((_, d) => `c${d}`), k.outer, em.params, 'ri');
  const reds: RedInfo[] = neededReductions(k).map((i) => {
    const r = k.reductions[i];
    const isArg = reduction(r.op).arg;
    return { i, op: r.op, body: r.body, vt: wgslType(isArg ? r.body.dtype : r.dtype), isArg };
  });
  const accName = (i: number): string => {
    if (!reds.some((r) => r.i === i)) throw new Error(`webgpu codegen: acc${i} is used before it is computed`);
    return `acc${i}`;
  };

  /** A loop over the row's elements with inner coordinates decoded on demand. */
  const rowLoop = (emitBody: (scope: Scope, lines: string[]) => void): string[] => {
    const inner = new Coords(k.inner.map((_, d) => `c${no + d}`), k.inner, em.params, 'r');
    const scope: Scope = {
      coord: (d) => (d < no ? outerCoords.coord(d) : inner.coord(d - no)),
      flat: `(ri * ${INNER} + r)`,
      acc: accName,
    };
    const lines: string[] = [];
    emitBody(scope, lines);
    const head = serial ? `for (var r = 0; r < ${INNER}; r++) {` : `for (var r = i32(lid); r < ${INNER}; r += ${wgs}) {`;
    return [head, ...indent(inner.decode()), ...indent(lines), '}'];
  };

  const body: string[] = [];
  const sharedDecls = new Set<string>();
  for (const r of reds) {
    const p = `p${r.i}`, x = `x${r.i}`;
    body.push(`var ${p}: ${r.vt} = ${reduceInit(r.op, r.vt, em.use)};`);
    if (r.isArg) body.push(`var ${x}: i32 = ${ARG_SENTINEL};`);
    body.push(...rowLoop((scope, lines) => {
      const [v] = em.exprs([r.body], scope, lines);
      const val = r.isArg ? v.code : em.castArg(v, r.vt === 'f32' ? 'float32' : 'int32');
      if (r.isArg) {
        lines.push(`let v${r.i} = ${val};`, `if (${em.use(argHelper(r))}(v${r.i}, r, ${p}, ${x})) { ${p} = v${r.i}; ${x} = r; }`);
      }
      else lines.push(`${p} = ${combine(r.op, r.vt, p, val, em.use)};`);
    }));
    if (serial) {
      body.push(r.isArg ? `let acc${r.i} = select(${x}, 0, ${x} == ${ARG_SENTINEL});` : `let acc${r.i} = ${p};`);
      continue;
    }
    // Tree reduction in workgroup memory: halve the active threads each step.
    const sv = r.vt === 'f32' ? 'svf' : 'svi';
    sharedDecls.add(`var<workgroup> ${sv}: array<${r.vt}, ${wgs}>;`);
    if (r.isArg) sharedDecls.add(`var<workgroup> svx: array<i32, ${wgs}>;`);
    body.push(`${sv}[lid] = ${p};`);
    if (r.isArg) body.push(`svx[lid] = ${x};`);
    body.push('workgroupBarrier();', `for (var s = ${wgs / 2}u; s > 0u; s = s >> 1u) {`, '  if (lid < s) {');
    if (r.isArg) {
      body.push(`    if (${em.use(argHelper(r))}(${sv}[lid + s], svx[lid + s], ${sv}[lid], svx[lid])) { ${sv}[lid] = ${sv}[lid + s]; svx[lid] = svx[lid + s]; }`);
    } else {
      body.push(`    ${sv}[lid] = ${combine(r.op, r.vt, `${sv}[lid]`, `${sv}[lid + s]`, em.use)};`);
    }
    body.push('  }', '  workgroupBarrier();', '}');
    body.push(r.isArg ? `let acc${r.i} = select(svx[0], 0, svx[0] == ${ARG_SENTINEL});` : `let acc${r.i} = ${sv}[0];`);
    body.push('workgroupBarrier();');
  }

  const outer = k.outputs.map((o, i) => [o, i] as const).filter(([o]) => o.scope === 'outer');
  const full = k.outputs.map((o, i) => [o, i] as const).filter(([o]) => o.scope === 'full');
  if (outer.length) {
    // Loads in a per-row output see the row's outer coordinates; inner coordinates are 0 there.
    const scope: Scope = { coord: (d) => (d < no ? outerCoords.coord(d) : '0'), flat: null, acc: accName };
    const lines: string[] = [];
    storeOutputs(em, plan, outer, scope, 'ri', lines);
    body.push(...(serial ? lines : ['if (lid == 0u) {', ...indent(lines), '}']));
  }
  if (full.length) body.push(...rowLoop((scope, lines) => storeOutputs(em, plan, full, scope, `(ri * ${INNER} + r)`, lines)));

  const main = serial
    ? perThreadMain(wgs, 'row', ROWS, 'ri', [...outerCoords.decode(), ...body])
    : [
      `@compute @workgroup_size(${wgs})`,
      `fn main(${MAIN_ARGS}) {`,
      `  ${WID}`,
      // The row is uniform across the workgroup, so this early return keeps barriers in uniform control flow.
      `  if (wid >= ${ROWS}) { return; }`,
      '  let ri = i32(wid);',
      ...indent(outerCoords.decode()),
      ...indent(body),
      '}',
    ];
  const workgroups = rows === 0 ? 0 : serial ? Math.ceil(rows / wgs) : rows;
  return finish(em, plan, [...sharedDecls], main, workgroups);
}

// ---------------------------------------------------------------------------------------------

/** Matmul tiling: a TILE x TILE output tile per 256-thread workgroup, each thread 4x4 outputs, K staged by TK. */
const TILE = 64;
const TK = 16;

function renderMatmul(k: MatmulKernel, plan: BindingPlan): WgslProgram {
  const em = emitterFor(plan);
  const nb = k.batch.length;
  const tilesM = Math.ceil(k.m / TILE), tilesN = Math.ceil(k.n / TILE);
  const batch = sizeOf(k.batch);
  const workgroups = k.m === 0 || k.n === 0 ? 0 : batch * tilesM * tilesN;
  const NWG = em.params.u32(workgroups);
  const TN = em.params.u32(tilesN), TM = em.params.u32(tilesM);
  const M = em.params.i32(k.m), N = em.params.i32(k.n), K = em.params.i32(k.k);
  const batchCoords = new Coords(k.batch.map((_, d) => `c${d}`), k.batch, em.params, 'bi');
  const tileScope = (r: string, c: string): Scope => ({
    coord: (d) => (d < nb ? batchCoords.coord(d) : d === nb ? r : c),
    flat: null,
    acc: () => { throw new Error('acc in a matmul operand'); },
  });
  const aLines: string[] = [], bLines: string[] = [];
  const av = em.load(k.a.input, k.a.view, 'float32', tileScope('gm', 'gk'), aLines);
  // A split B decodes its row and column over several dims each (i32 coordinates, non-negative).
  const decode = (flat: string, inner: number, size: number) => {
    const q = inner === 1 ? flat : `(${flat} / ${em.params.i32(inner)})`;
    return size ? `(${q} % ${em.params.i32(size)})` : q;
  };
  const bScope: Scope = { ...tileScope('gk', 'gn'), coord: operandBCoords(k.b, nb, (d) => batchCoords.coord(d), 'gk', 'gn', decode) };
  const bv = em.load(k.b.input, k.b.view, 'float32', bScope, bLines);
  // Bounds (a padded input read through a window): the tile keeps 0 where one fails.
  const bBounds = boundsTest(k.b.bounds, bScope.coord, (v) => em.params.i32(v));
  const epi: string[] = [];
  const epiScope: Scope = {
    coord: (d) => (d < nb ? batchCoords.coord(d) : d === nb ? 'cm' : 'cn'),
    flat: `((bi * ${M} + cm) * ${N} + cn)`,
    acc: (i) => { if (i !== 0) throw new Error(`matmul epilogue uses acc${i}`); return 'acc0'; },
  };
  storeOutputs(em, plan, [[k.outputs[0], 0]], epiScope, `((bi * ${M} + cm) * ${N} + cn)`, epi);
  const decls = [`var<workgroup> As: array<f32, ${TK * TILE}>;`, `var<workgroup> Bs: array<f32, ${TK * TILE}>;`];
  const main = [
    '@compute @workgroup_size(256)',
    `fn main(${MAIN_ARGS}) {`,
    `  ${WID}`,
    `  if (wid >= ${NWG}) { return; }`,
    `  let tn = i32(wid % ${TN});`,
    `  let tm = i32((wid / ${TN}) % ${TM});`,
    `  let bi = i32(wid / (${TN} * ${TM}));`,
    ...indent(batchCoords.decode()),
    `  let m0 = tm * ${TILE};`,
    `  let n0 = tn * ${TILE};`,
    '  let tx = i32(lid % 16u);',
    '  let ty = i32(lid / 16u);',
    '  var acc: array<f32, 16>;',
    `  for (var k0 = 0; k0 < ${K}; k0 += ${TK}) {`,
    '    for (var l = 0; l < 4; l++) {',
    '      let e = i32(lid) + l * 256;',
    '      {',
    `        let gm = m0 + e / ${TK};`,
    `        let gk = k0 + e % ${TK};`,
    '        var v = 0.0;',
    `        if (gm < ${M} && gk < ${K}) {`,
    ...indent(aLines, 5),
    `          v = ${av};`,
    '        }',
    `        As[(e % ${TK}) * ${TILE} + e / ${TK}] = v;`,
    '      }',
    '      {',
    `        let gk = k0 + e / ${TILE};`,
    `        let gn = n0 + e % ${TILE};`,
    '        var v = 0.0;',
    `        if (gk < ${K} && gn < ${N}${bBounds ? ` && ${bBounds}` : ''}) {`,
    ...indent(bLines, 5),
    `          v = ${bv};`,
    '        }',
    '        Bs[e] = v;',
    '      }',
    '    }',
    '    workgroupBarrier();',
    `    for (var kk = 0; kk < ${TK}; kk++) {`,
    '      var ar: array<f32, 4>;',
    '      var br: array<f32, 4>;',
    `      for (var i = 0; i < 4; i++) { ar[i] = As[kk * ${TILE} + ty + 16 * i]; br[i] = Bs[kk * ${TILE} + tx + 16 * i]; }`,
    '      for (var i = 0; i < 4; i++) {',
    '        for (var j = 0; j < 4; j++) { acc[i * 4 + j] = acc[i * 4 + j] + ar[i] * br[j]; }',
    '      }',
    '    }',
    '    workgroupBarrier();',
    '  }',
    '  for (var i = 0; i < 4; i++) {',
    '    for (var j = 0; j < 4; j++) {',
    '      let cm = m0 + ty + 16 * i;',
    '      let cn = n0 + tx + 16 * j;',
    `      if (cm < ${M} && cn < ${N}) {`,
    '        let acc0 = acc[i * 4 + j];',
    ...indent(epi, 4),
    '      }',
    '    }',
    '  }',
    '}',
  ];
  return finish(em, plan, decls, main, workgroups);
}

/** Renders a kernel for a binding plan. */
export function renderWgsl(k: Kernel, plan: BindingPlan, lim: CodegenLimits): WgslProgram {
  switch (k.kind) {
    case 'elementwise': return renderElementwise(k, plan, lim);
    case 'reduce': return renderReduce(k, plan, lim);
    case 'matmul': return renderMatmul(k, plan);
    default: return assertNever(k, 'kernel');
  }
}

/** The plan for distinct buffers: each used input and each output its own binding (for dumps and snapshots). */
export function defaultPlan(k: Kernel): BindingPlan {
  const used = usedInputs(k);
  const slots: Slot[] = [];
  const inputs = Array.from({ length: k.nInputs }, (_, i) => {
    const dt = used.get(i);
    if (dt === undefined) return null;
    slots.push({ dtype: dt, write: false });
    return slots.length - 1;
  });
  const outputs = k.outputs.map((o) => { slots.push({ dtype: o.dtype, write: true }); return slots.length - 1; });
  return { slots, inputs, outputs };
}

/** The WGSL of a kernel as it runs on distinct buffers (for `kiln dump` and snapshots). */
export function kernelWgsl(k: Kernel, lim: CodegenLimits = { workgroupSize: 256 }): string {
  return renderWgsl(k, defaultPlan(k), lim).source;
}
