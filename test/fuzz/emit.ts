// Turns a fuzz program into JavaScript: a world factory `(k, backend) => world` whose source is what
// the runner evaluates (once for the eager world, once for the compiled one) and, with TypeScript
// annotations, what a failing program prints as a repro.
import { drawData, nestedLiteral } from './data.js';
import type { ArgSpec, CallSpec, Expr, Layout, Mutation, Program, Stmt } from './program.js';
import { argValueId, concrete, moduleCode, optimCode } from './program.js';

export interface EmitOptions {
  /** TypeScript annotations (the printed repro). */
  readonly ts: boolean;
  /** Reads are async (`await x.itemAsync()`): webgpu has no synchronous reads. */
  readonly asyncReads: boolean;
}

/** The program's function is async (it awaits, or its reads are async). */
export function isAsync(p: Program, o: EmitOptions): boolean {
  return p.async || (o.asyncReads && readsValues(p));
}

function readsValues(p: Program): boolean {
  const has = (e: Expr) => e.code.includes('ITEM⟦') || e.code.includes('DATA⟦');
  return p.helpers.some((h) => h.effects.includes('log')) || p.outputs.some((o) => o.kind === 'item' || o.kind === 'str') ||
    p.body.some((s) => (s.kind === 'let' || s.kind === 'effect') ? has(s.expr) : s.kind === 'branch' ? has(s.cond) || has(s.then) || has(s.else) : s.kind === 'throwIf' ? has(s.cond) : false);
}

/** Expression source with value names and reads filled in. */
export function renderExpr(p: Program, e: Expr, o: EmitOptions): string {
  let code = e.code.replace(/\$(\d+)/g, (_, i) => p.values[e.refs[Number(i)]].name);
  // ITEM⟦x⟧ -> x.item() / (await x.itemAsync()); innermost first.
  for (let guard = 0; (code.includes('ITEM⟦') || code.includes('DATA⟦')) && guard < 20; guard++) {
    code = code.replace(/ITEM⟦([^⟦⟧]*)⟧/g, (_, x) => (o.asyncReads ? `(await ${x}.itemAsync())` : `${x}.item()`));
    code = code.replace(/DATA⟦([^⟦⟧]*)⟧/g, (_, x) => (o.asyncReads ? `Array.from(await ${x}.dataAsync())` : `Array.from(${x}.data())`));
  }
  // HELPER⟦h(x)⟧ -> h(x) / (await h(x)) when helpers are async.
  code = code.replace(/HELPER⟦([^⟦⟧]*)⟧/g, (_, x) => (helpersAsync(p, o) ? `(await ${x})` : x));
  return code;
}

const helpersAsync = (p: Program, o: EmitOptions) => isAsync(p, o);

function renderStmt(p: Program, s: Stmt, o: EmitOptions): string {
  switch (s.kind) {
    case 'let': return `const ${p.values[s.id].name} = ${renderExpr(p, s.expr, o)};`;
    case 'effect': return `${renderExpr(p, s.expr, o)};`;
    case 'branch': {
      const n = p.values[s.id].name;
      return `let ${n}${o.ts ? ': k.Tensor' : ''};\n  if (${renderExpr(p, s.cond, o)}) ${n} = ${renderExpr(p, s.then, o)};\n  else ${n} = ${renderExpr(p, s.else, o)};`;
    }
    case 'await': return 'await Promise.resolve();';
    case 'throwIf': return `if (${renderExpr(p, s.cond, o)}) throw new Error(${JSON.stringify(s.message)});`;
  }
}

function tensorLiteral(values: readonly number[], shape: readonly number[], dtype: string, extra = ''): string {
  const lit = nestedLiteral(values, shape, dtype === 'bool', dtype === 'float32');
  const opts = [dtype === 'int32' ? "dtype: 'int32'" : '', 'backend', extra].filter(Boolean).join(', ');
  return `k.tensor(${lit}, { ${opts} })`;
}

/** The base tensor an argument is a view of on one call, and the view taken of it. */
export function layoutBase(shape: readonly number[], l: Layout): { base: number[]; view: (b: string) => string } {
  switch (l.kind) {
    case 'contig': case 'alias': return { base: [...shape], view: (b) => b };
    case 'narrow': {
      const base = [...shape];
      base[l.dim] += l.before + l.after;
      return { base, view: (b) => `${b}.narrow(${l.dim}, ${l.before}, ${shape[l.dim]})` };
    }
    case 'step': {
      const base = [...shape];
      base[l.dim] = l.start + (shape[l.dim] - 1) * l.step + 1;
      const specs = shape.map((_, i) => (i === l.dim ? `[${l.start}, undefined, ${l.step}]` : 'null'));
      return { base, view: (b) => `${b}.slice([${specs.join(', ')}])` };
    }
    case 'neg': {
      const specs = shape.map((_, i) => (i === l.dim ? '[undefined, undefined, -1]' : 'null'));
      return { base: [...shape], view: (b) => `${b}.slice([${specs.join(', ')}])` };
    }
    case 'mT': {
      const base = [...shape];
      [base[base.length - 2], base[base.length - 1]] = [base[base.length - 1], base[base.length - 2]];
      return { base, view: (b) => `${b}.mT()` };
    }
  }
}

/** Seed of argument `i`'s data on a call. */
export const argSeed = (call: CallSpec, i: number) => call.dataSeed * 31 + i * 7 + 1;

function argSource(p: Program, call: CallSpec, i: number, _o: EmitOptions): { lines: string[]; base: string | null } {
  const a: ArgSpec = p.args[i];
  const l = call.layouts[i];
  if (l.kind === 'alias') return { lines: [`const ${a.name} = ${p.args[l.of].name};`], base: null };
  const shape = concrete(a.shape, call.n);
  const { base, view } = layoutBase(shape, l);
  const size = base.reduce((x, y) => x * y, 1);
  const data = drawData(a.data, size, argSeed(call, i));
  if (call.oobArgs?.includes(i) && typeof a.data === 'object' && data.length) data[data.length - 1] = a.data.index;
  const lit = tensorLiteral(data, base, a.dtype, a.requiresGrad ? 'requiresGrad: true' : '');
  if (l.kind === 'contig') return { lines: [`const ${a.name} = ${lit};`], base: null };
  const b = `base_${a.name}`;
  return { lines: [`const ${b} = ${lit};`, `const ${a.name} = ${view(b)};`], base: b };
}

function mutationSource(p: Program, m: Mutation): string {
  switch (m.kind) {
    case 'rebind': {
      const c = p.captured.find((x) => x.name === m.name)!;
      const data = drawData(c.data, c.shape.reduce((x, y) => x * y, 1), m.seed);
      return `${c.name} = ${tensorLiteral(data, c.shape, c.dtype, c.requiresGrad ? 'requiresGrad: true' : '')};`;
    }
    case 'train': return `${m.module}.train(${m.on});`;
    case 'lr': return `setLr(opt, ${m.lr});`;
  }
}

const hasParams = (m: Program['modules'][number]) => m.kind !== 'dropout';
/** Modules with buffers (batch norm's running statistics, updated in place while training). */
const hasBuffers = (m: Program['modules'][number]) => m.kind === 'convBlock';

/** The body of the world factory `(k, backend) => world`. */
export function emitWorld(p: Program, o: EmitOptions): string {
  const T = (t: string) => (o.ts ? `: ${t}` : '');
  const lines: string[] = [];
  const fnAsync = isAsync(p, o);
  lines.push('k.setBackend(backend);');
  lines.push(`k.manualSeed(${p.seed % 100000 + p.index});`);
  const usesCount = p.helpers.some((h) => h.effects.includes('count')) || p.outputs.some((x) => x.kind === 'count') || p.body.some((s) => s.kind === 'effect' && s.expr.code.includes('count'));
  const usesLog = p.helpers.some((h) => h.effects.some((e) => e !== 'count')) || p.body.some((s) => s.kind === 'effect' && s.expr.code.includes('log.'));
  if (usesCount) lines.push('let count = 0;');
  if (usesLog) lines.push(`const log${T('unknown[]')} = [];`);
  const rebound = new Set(p.calls.flatMap((c) => c.before).filter((m) => m.kind === 'rebind').map((m) => (m as { name: string }).name));
  for (const c of p.captured) {
    const data = drawData(c.data, c.shape.reduce((x, y) => x * y, 1), c.seed);
    lines.push(`${rebound.has(c.name) ? 'let' : 'const'} ${c.name} = ${tensorLiteral(data, c.shape, c.dtype, c.requiresGrad ? 'requiresGrad: true' : '')};`);
  }
  for (const m of p.modules) lines.push(`const ${m.name} = ${moduleCode(m)};`);
  if (p.optim) {
    lines.push(`const opt = ${optimCode(p.optim)};`);
    if (p.calls.some((c) => c.before.some((m) => m.kind === 'lr'))) {
      // Optimizers keep lr per parameter group where they have groups, else as a field.
      lines.push(`function setLr(o${T('any')}, lr${T('number')}) { if (Array.isArray(o.paramGroups)) for (const g of o.paramGroups) g.lr = lr; else o.lr = lr; }`);
    }
  }
  for (const h of p.helpers) {
    const body: string[] = [];
    for (const e of h.effects) {
      if (e === 'count') body.push('count++;');
      else if (e === 'push') body.push(`log.push('${h.name}');`);
      else body.push(`log.push(${o.asyncReads ? 'await x.sum().itemAsync()' : 'x.sum().item()'});`);
    }
    lines.push(`${fnAsync ? 'async ' : ''}function ${h.name}(x${T('k.Tensor')}) { ${body.join(' ')} return ${h.transform}; }`);
  }
  const params = p.args.map((a) => `${a.name}${T('k.Tensor')}`).join(', ');
  const body = p.body.map((s) => `  ${renderStmt(p, s, o)}`);
  const outs = p.outputs.map((x, i) => {
    const v = x.kind === 'count' ? 'count' : x.kind === 'item' ? renderExpr(p, { code: 'ITEM⟦$0.max()⟧', refs: [x.ref] }, o)
      : x.kind === 'str' ? renderExpr(p, { code: "'max=' + ITEM⟦$0.max()⟧", refs: [x.ref] }, o)
      : x.kind === 'shape' ? renderExpr(p, { code: "'shape ' + $0.shape.join('x')", refs: [x.ref] }, o) : p.values[x.ref].name;
    return p.externalBackward ? v : `o${i}: ${v}`;
  });
  const ret = p.externalBackward ? `[${outs.join(', ')}]` : `{ ${outs.join(', ')} }`;
  if (p.compileModel) lines.push(`const fn = (${params}) => ${p.compileModel}.forward(${p.args.map((a) => a.name).join(', ')});`);
  else lines.push(`const fn = ${fnAsync ? 'async ' : ''}(${params}) => {\n${body.join('\n')}\n  return ${ret};\n};`);
  lines.push(`let bases${T('k.Tensor[]')} = [];`);
  const calls = p.calls.map((call) => {
    const src: string[] = call.before.map((m) => mutationSource(p, m));
    const made = p.args.map((_, i) => argSource(p, call, i, o));
    made.forEach((m) => src.push(...m.lines));
    const bases = made.map((m) => m.base).filter(Boolean);
    if (bases.length || !o.ts) src.push(`bases = [${bases.join(', ')}];`);
    src.push(`return [${p.args.map((a) => a.name).join(', ')}];`);
    return `  // call: ${call.label} (N=${call.n})\n  () => {\n    ${src.join('\n    ')}\n  },`;
  });
  lines.push(`const calls = [\n${calls.join('\n')}\n];`);
  const stateParts = [
    usesCount ? 'count' : '',
    usesLog ? 'log: [...log]' : '',
    p.captured.length ? `captured: { ${p.captured.map((c) => c.name).join(', ')} }` : '',
    p.modules.some(hasParams) ? `params: { ${p.modules.filter(hasParams).map((m) => `${m.name}: ${m.name}.parameters()`).join(', ')} }` : '',
    p.modules.some(hasBuffers) ? `buffers: { ${p.modules.filter(hasBuffers).map((m) => `${m.name}: ${m.name}.buffers()`).join(', ')} }` : '',
    'bases',
  ].filter(Boolean);
  lines.push(`const state = () => ({ ${stateParts.join(', ')} });`);
  lines.push(`return { fn, calls, state${p.compileModel ? `, model: ${p.compileModel}` : ''} };`);
  return lines.join('\n');
}

/** The world factory, evaluated. */
export type World = {
  fn: (...args: unknown[]) => unknown;
  calls: (() => unknown[])[];
  state: () => Record<string, unknown>;
  model?: unknown;
};

const factoryCache = new WeakMap<Program, Map<string, (k: unknown, backend: string) => World>>();

export function makeWorldFactory(p: Program, o: EmitOptions): (k: unknown, backend: string) => World {
  let byMode = factoryCache.get(p);
  if (!byMode) { byMode = new Map(); factoryCache.set(p, byMode); }
  const key = `${o.ts}${o.asyncReads}`;
  let f = byMode.get(key);
  if (!f) {
    f = new Function('k', 'backend', emitWorld(p, o)) as (k: unknown, backend: string) => World;
    byMode.set(key, f);
  }
  return f;
}

/** Leaves compared bit for bit (see compare.ts). */
export function exactPaths(p: Program): string[] {
  const out: string[] = [];
  p.outputs.forEach((o, i) => {
    const exact = o.kind === 'count' || o.kind === 'shape' || o.kind === 'str' || !!p.values[o.ref]?.exact;
    if (exact) out.push(p.compileModel ? 'out' : p.externalBackward ? `out.${i}` : `out.o${i}`);
  });
  p.args.forEach((_, i) => { const id = argValueId(p, i); if (id !== undefined && p.values[id]?.exact) out.push(`args.${i}`); });
  for (const v of Object.values(p.values)) if (p.captured.some((c) => c.name === v.name) && v.exact) out.push(`state.captured.${v.name}`);
  return out;
}

/** A readable, pasteable vitest case for a program on one backend. */
export function emitRepro(p: Program, backend: string, note: string, asyncReads: boolean): string {
  const o: EmitOptions = { ts: true, asyncReads };
  const world = emitWorld(p, o).split('\n').map((l) => `    ${l}`).join('\n');
  const anyAsync = true;
  const tidy = p.tidy && !isAsync(p, o);
  const call = isAsync(p, o) ? 'await ' : '';
  const post = p.externalBackward ? `\n      for (const r of [e, c]) backwardThrough(r);` : '';
  return [
    `// ${note.split('\n').join('\n// ')}`,
    `// fuzz program seed ${p.seed} #${p.index}; needs: import * as k from '../../src/index.js'; import { expectSameResult${p.externalBackward ? ', backwardThrough' : ''} } from '../fuzz/repro.js';`,
    `it('fuzz ${p.seed}#${p.index} on ${backend}: compiled matches eager', ${anyAsync ? 'async ' : ''}() => {`,
    `  const world = (backend: k.BackendName) => {`,
    world,
    `  };`,
    `  const E = world('${backend}'), C = world('${backend}');`,
    p.compileModel ? `  k.compile(C.model as k.nn.Module${p.dynamic !== 'auto' ? `, { dynamic: ${p.dynamic} }` : ''});\n  const f = C.fn;` : `  const f = k.compile(C.fn${p.dynamic !== 'auto' ? `, { dynamic: ${p.dynamic} }` : ''});`,
    `  for (let i = 0; i < E.calls.length; i++) {`,
    `    const ea = E.calls[i](), ca = C.calls[i]();`,
    `    let e: unknown, c: unknown;`,
    tidy ? `    try { e = k.tidy(() => E.fn(...ea)); } catch (err) { e = err; }` : `    try { e = ${call}E.fn(...ea); } catch (err) { e = err; }`,
    tidy ? `    try { c = k.tidy(() => f(...ca)); } catch (err) { c = err; }${post}` : `    try { c = ${call}f(...ca); } catch (err) { c = err; }${post}`,
    `    await expectSameResult({ out: c, args: ca, state: C.state() }, { out: e, args: ea, state: E.state() }, \`call \${i}\`, { exact: [${exactPaths(p).map((x) => `'${x}'`).join(', ')}], scale: ${Number(Math.max(...Object.values(p.programScale)).toPrecision(3))} });`,
    `  }`,
    `});`,
  ].join('\n');
}
