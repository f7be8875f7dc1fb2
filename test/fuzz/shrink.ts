// The shrinker: from a program that fails, a smaller one that fails the same way (same kind of
// finding at the same kind of place). It drops calls, statements (with what depends on them),
// outputs, mutations, helpers and features; bypasses statements; shrinks sizes and view layouts.
// Edits never make a value look more exact than it is (flags are the generator's, and a bypass only
// substitutes a value at least as exact), so a shrunk program never compares more strictly than the
// original did.
import type { ArgSpec, CallSpec, Dim, Expr, Layout, Program, Stmt } from './program.js';
import { argValueId, outputRefs, stmtDefines, stmtRefs } from './program.js';
import { runProgram, signature, type Finding, type RunOptions } from './runner.js';

export interface ShrinkResult {
  readonly program: Program;
  readonly finding: Finding;
  readonly steps: number;
  readonly tries: number;
}

/** Statements (by index) that depend, transitively, on the values `gone`; extends `gone`. */
function dependents(body: readonly Stmt[], gone: Set<number>): Set<number> {
  const drop = new Set<number>();
  body.forEach((s, i) => {
    if (stmtRefs(s).some((r) => gone.has(r))) {
      drop.add(i);
      const d = stmtDefines(s);
      if (d !== null) gone.add(d);
    }
  });
  return drop;
}

function withoutStmts(p: Program, idx: Set<number>): Program | null {
  const gone = new Set<number>();
  for (const i of idx) { const d = stmtDefines(p.body[i]); if (d !== null) gone.add(d); }
  const drop = new Set([...idx, ...dependents(p.body, gone)]);
  const body = p.body.filter((_, i) => !drop.has(i));
  const outputs = p.outputs.filter((o) => !outputRefs(o).some((r) => gone.has(r)));
  if (!outputs.length) return null;
  return { ...p, body, outputs };
}

const subst = (e: Expr, from: number, to: number): Expr => ({ code: e.code, refs: e.refs.map((r) => (r === from ? to : r)) });

/** Replaces value `from` by `to` everywhere and drops the statement defining `from`. */
function bypass(p: Program, at: number, from: number, to: number): Program {
  const body = p.body.filter((_, i) => i !== at).map((s): Stmt => {
    switch (s.kind) {
      case 'let': return { ...s, expr: subst(s.expr, from, to) };
      case 'effect': return { ...s, expr: subst(s.expr, from, to), ...(s.writes === from ? { writes: to } : {}) };
      case 'branch': return { ...s, cond: subst(s.cond, from, to), then: subst(s.then, from, to), else: subst(s.else, from, to) };
      case 'throwIf': return { ...s, cond: subst(s.cond, from, to) };
      case 'await': return s;
    }
  });
  const outputs = p.outputs.map((o) => (o.kind !== 'count' && o.ref === from ? { ...o, ref: to } : o));
  return { ...p, body, outputs };
}

/** May `to` stand in for `from` without comparing anything more strictly than before? */
function asExact(p: Program, from: number, to: number): boolean {
  const a = p.values[from], b = p.values[to];
  if (!a || !b) return false;
  return (!a.exact || b.exact) && (!a.grid || !!b.grid) && !b.dropout && !b.randomIn;
}

function usedNames(p: Program): string {
  return p.body.map((s) => JSON.stringify(s)).join('\n') + p.helpers.map((h) => h.transform).join('\n');
}

/** Candidate programs, roughly from the biggest cut to the smallest. */
function* candidates(p: Program): Generator<Program> {
  // Calls: keep fewer (the first call always traces).
  for (let i = p.calls.length - 1; i >= 1; i--) {
    if (p.calls.length > 1) yield { ...p, calls: p.calls.filter((_, j) => j !== i) };
  }
  if (p.calls.length > 1) yield { ...p, calls: p.calls.slice(1) };
  // Statements, last first, with their dependents; halves of the body first.
  const n = p.body.length;
  if (n >= 4) {
    const half = withoutStmts(p, new Set(Array.from({ length: Math.floor(n / 2) }, (_, i) => i)));
    if (half) yield half;
    const half2 = withoutStmts(p, new Set(Array.from({ length: n - Math.floor(n / 2) }, (_, i) => i + Math.floor(n / 2))));
    if (half2) yield half2;
  }
  for (let i = n - 1; i >= 0; i--) {
    const q = withoutStmts(p, new Set([i]));
    if (q) yield q;
  }
  // Bypass a statement: its uses read one of its inputs instead.
  for (let i = n - 1; i >= 0; i--) {
    const s = p.body[i];
    const d = stmtDefines(s);
    if (d === null) continue;
    for (const r of new Set(stmtRefs(s))) if (asExact(p, d, r)) yield bypass(p, i, d, r);
  }
  // Arguments nothing reads.
  for (let i = p.args.length - 1; i >= 0; i--) {
    const id = argValueId(p, i);
    if (p.compileModel || id === undefined) continue;
    if (p.body.some((s) => stmtRefs(s).includes(id)) || p.outputs.some((o) => outputRefs(o).includes(id))) continue;
    if (p.calls.some((c) => c.layouts.some((l) => l.kind === 'alias' && l.of === i))) continue;
    const calls = p.calls.map((c) => ({ ...c, layouts: c.layouts.filter((_, j) => j !== i).map((l) => (l.kind === 'alias' && l.of > i ? { ...l, of: l.of - 1 } : l)) }));
    yield { ...p, args: p.args.filter((_, j) => j !== i), calls };
  }
  // Outputs.
  for (let i = 0; i < p.outputs.length; i++) if (p.outputs.length > 1) yield { ...p, outputs: p.outputs.filter((_, j) => j !== i) };
  // Mutations between calls.
  for (let c = 0; c < p.calls.length; c++) {
    for (let m = 0; m < p.calls[c].before.length; m++) {
      yield { ...p, calls: p.calls.map((x, j) => (j === c ? { ...x, before: x.before.filter((_, q) => q !== m) } : x)) };
    }
  }
  // Features.
  if (p.async) yield { ...p, async: false, body: p.body.filter((s) => s.kind !== 'await') };
  if (p.dynamic !== 'auto') yield { ...p, dynamic: 'auto' };
  if (p.tidy) yield { ...p, tidy: false };
  for (let c = 0; c < p.calls.length; c++) {
    if (p.calls[c].oobArgs) yield { ...p, calls: p.calls.map((x, j): CallSpec => (j === c ? { ...x, oobArgs: undefined } : x)) };
  }
  const used = usedNames(p);
  for (const h of p.helpers) if (!used.includes(`${h.name}(`)) yield { ...p, helpers: p.helpers.filter((x) => x !== h) };
  const usedAll = used + p.calls.map((c) => JSON.stringify(c.before)).join('');
  for (const c of p.captured) if (!p.body.some((s) => stmtRefs(s).some((r) => p.values[r]?.name === c.name)) && !p.outputs.some((o) => o.kind !== 'count' && p.values[o.ref]?.name === c.name)) {
    const calls = p.calls.map((x) => ({ ...x, before: x.before.filter((m) => !(m.kind === 'rebind' && m.name === c.name)) }));
    yield { ...p, captured: p.captured.filter((x) => x !== c), calls };
  }
  if (p.optim && !p.body.some((s) => JSON.stringify(s).includes('opt.'))) {
    yield { ...p, optim: null, calls: p.calls.map((c) => ({ ...c, before: c.before.filter((m) => m.kind !== 'lr') })) };
  }
  for (const m of p.modules) {
    if (usedAll.includes(`${m.name}.`) || p.compileModel === m.name || p.optim?.modules.includes(m.name)) continue;
    yield { ...p, modules: p.modules.filter((x) => x !== m) };
  }
  // Layouts: contiguous arguments.
  const views: { c: number; a: number }[] = [];
  p.calls.forEach((call, c) => call.layouts.forEach((l, a) => { if (l.kind !== 'contig') views.push({ c, a }); }));
  for (const { c, a } of views) {
    yield { ...p, calls: p.calls.map((x, j) => (j === c ? { ...x, layouts: x.layouts.map((l, q): Layout => (q === a ? { kind: 'contig' } : l)) } : x)) };
  }
  // Sizes: N and fixed dims smaller.
  for (let c = 0; c < p.calls.length; c++) {
    const n = p.calls[c].n;
    for (const m of [1, 2, n - 1]) {
      if (m >= 1 && m < n) yield { ...p, calls: p.calls.map((x, j) => (j === c || x.n === n ? { ...x, n: m } : x)) };
    }
  }
  const dims: { a: number; i: number; m: number }[] = [];
  p.args.forEach((arg, a) => arg.shape.forEach((d, i) => { if (typeof d === 'number' && d > 1) for (const m of [1, d - 1]) dims.push({ a, i, m }); }));
  for (const { a, i, m } of dims) {
    const args = p.args.map((x, j): ArgSpec => (j === a ? { ...x, shape: x.shape.map((d, q): Dim => (q === i ? m : d)) } : x));
    yield { ...p, args };
  }
  // Fewer dims: drop a leading size-1 or any dim of an argument.
  for (let a = 0; a < p.args.length; a++) {
    for (let i = 0; i < p.args[a].shape.length; i++) {
      yield { ...p, args: p.args.map((x, j): ArgSpec => (j === a ? { ...x, shape: x.shape.filter((_, q) => q !== i) } : x)) };
    }
  }
  // Simpler data: small integers (exact in every kind's sense, no larger than any kind's values).
  for (let a = 0; a < p.args.length; a++) {
    const arg = p.args[a];
    if (arg.dtype === 'float32' && arg.data !== 'small') yield { ...p, args: p.args.map((x, j): ArgSpec => (j === a ? { ...x, data: 'small' } : x)) };
  }
  for (const c of p.captured) {
    if (c.dtype === 'float32' && c.data !== 'small') yield { ...p, captured: p.captured.map((x) => (x === c ? { ...x, data: 'small' as const } : x)) };
  }
  for (let c = 0; c < p.calls.length; c++) {
    if (p.calls[c].dataSeed !== p.calls[0].dataSeed) yield { ...p, calls: p.calls.map((x, j): CallSpec => (j === c ? { ...x, dataSeed: p.calls[0].dataSeed } : x)) };
  }
}

/** Shrinks `p`, which fails with `finding`, within `timeLimitMs`. */
export async function shrink(p: Program, finding: Finding, o: RunOptions, timeLimitMs: number, onStep?: (p: Program, tries: number) => void): Promise<ShrinkResult> {
  const sig = signature(finding);
  const opts: RunOptions = { ...o, crossCheck: finding.kind.startsWith('kernel') };
  const t0 = performance.now();
  let best = p, bestFinding = finding, steps = 0, tries = 0;
  const fails = async (q: Program): Promise<Finding | null> => {
    tries++;
    try {
      const fs = await runProgram(q, opts);
      return fs.find((f) => signature(f) === sig) ?? null;
    } catch {
      return null;
    }
  };
  let progress = true;
  while (progress && performance.now() - t0 < timeLimitMs) {
    progress = false;
    for (const q of candidates(best)) {
      if (performance.now() - t0 > timeLimitMs) break;
      const f = await fails(q);
      if (f) {
        best = q; bestFinding = f; steps++; progress = true;
        onStep?.(best, tries);
        break;
      }
    }
  }
  return { program: best, finding: bestFinding, steps, tries };
}
