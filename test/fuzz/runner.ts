// Runs a fuzz program eagerly and compiled on one backend, call by call, and reports every
// difference: returned values, gradients, arguments and captured tensors after the call (in-place
// effects), module parameters, logs and counters, and whether the call threw. Optionally the eager
// run is also checked against eager on the cpu reference backend (kernel bugs that eager and
// compiled share).
import * as k from '../../src/index.js';
import type { BackendName } from '../../src/index.js';
import { backwardThrough, describeLeaf, flattenResult, leafDiff, RTOL, ATOL_PER_SCALE, type Leaf, type Tol } from './compare.js';
import { isAsync, makeWorldFactory, type World } from './emit.js';
import { argValueId, type Program } from './program.js';

export type FindingKind =
  /** Compiled returned or left something different from eager. */
  | 'compiled-differs'
  /** One of eager and compiled threw, the other did not. */
  | 'error-parity'
  /** Dropout in training mode did not zero-or-rescale its input. */
  | 'dropout'
  /** Eager on this backend differs from eager on the cpu reference. */
  | 'kernel-differs'
  /** Eager threw on one of this backend and cpu, not on the other. */
  | 'kernel-error-parity';

export interface Finding {
  readonly kind: FindingKind;
  readonly call: number;
  readonly label: string;
  /** Where: out.o0, args.1, args.0.grad, state.captured.W0, state.log.2, ... */
  readonly path: string;
  readonly detail: string;
  readonly eager: string;
  readonly compiled: string;
}

export interface RunOptions {
  readonly backend: BackendName;
  /** Also compare eager on this backend with eager on cpu. */
  readonly crossCheck: boolean;
  /**
   * What stands for kiln.compile (the fuzzer's own tests pass the identity, which must find nothing,
   * and deliberately broken compilers, which must be caught). Gets the function or the module.
   */
  readonly compileWith?: (target: unknown, opts: k.CompileOptions) => unknown;
}

/** A coarse class of a path, so a shrunk program must keep failing in the same place. */
export function pathClass(path: string): string {
  const parts = path.split('.');
  if (parts[parts.length - 1] === 'grad') return `${parts[0]}-grad`;
  if (parts[0] === 'state') return `state.${parts[1]}`;
  return parts[0];
}

/** What a finding is, for matching it while shrinking: its kind, where, and on which kind of call. */
export function signature(f: Finding): string { return `${f.kind}:${pathClass(f.path)}@${f.label.split(',')[0]}`; }

async function invoke(fn: (...a: unknown[]) => unknown, args: unknown[], externalBackward: boolean, tidy: boolean): Promise<unknown> {
  try {
    let v = tidy ? k.tidy(() => fn(...args)) : fn(...args);
    if (v && typeof (v as Promise<unknown>).then === 'function') v = await v;
    if (externalBackward) backwardThrough(v);
    return v;
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

/** The tolerance of a leaf (see compare.ts). */
export function tolFor(p: Program, path: string, n: number, baseArgs: readonly number[]): Tol {
  const parts = path.split('.');
  const loose: Tol = { exact: false, scale: p.programScale[n] ?? 1 };
  if (parts[parts.length - 1] === 'grad') return loose;
  const ofValue = (id: number | undefined): Tol => {
    const v = id === undefined ? undefined : p.values[id];
    return v ? { exact: v.exact, scale: v.scale[n] ?? v.scale[Number(Object.keys(v.scale)[0])] ?? 1 } : loose;
  };
  if (parts[0] === 'out') {
    const idx = p.compileModel ? 0 : p.externalBackward ? Number(parts[1]) : Number((parts[1] ?? 'o0').slice(1));
    const o = p.outputs[idx];
    if (!o) return loose;
    if (o.kind === 'count' || o.kind === 'str' || o.kind === 'shape') return { exact: true, scale: 1 };
    return ofValue(o.ref);
  }
  if (parts[0] === 'args') return ofValue(argValueId(p, Number(parts[1])));
  if (parts[0] === 'state' && parts[1] === 'captured') {
    const id = Object.entries(p.values).find(([, v]) => v.name === parts[2])?.[0];
    return ofValue(id === undefined ? undefined : Number(id));
  }
  if (parts[0] === 'state' && parts[1] === 'bases') return ofValue(argValueId(p, baseArgs[Number(parts[2])]));
  if (parts[0] === 'state' && parts[1] === 'count') return { exact: true, scale: 1 };
  return loose;
}

/** Which output holds a dropout's result, and which its input, by leaf path. */
function outputPath(p: Program, i: number): string {
  return p.compileModel ? 'out' : p.externalBackward ? `out.${i}` : `out.o${i}`;
}

async function leavesOf(out: unknown, args: unknown[], state: Record<string, unknown>): Promise<Map<string, Leaf>> {
  const m = new Map<string, Leaf>();
  await flattenResult(out, 'out', m);
  await flattenResult(args, 'args', m);
  await flattenResult(state, 'state', m);
  return m;
}

const READ_FAILED = 'reading the tensor failed: ';

/**
 * The error a call raised: thrown by the call, or (webgpu, whose kernels report bad indices with the
 * next read) raised by reading a result.
 */
const errorOf = (m: Map<string, Leaf>): string | null => {
  const o = m.get('out');
  if (o?.t === 'error') return o.v;
  for (const l of m.values()) if (l.t === 'error' && l.v.startsWith(READ_FAILED)) return l.v.slice(READ_FAILED.length);
  return null;
};

/** Runs one program; returns its findings (empty when compiled matched eager everywhere). */
export async function runProgram(p: Program, o: RunOptions): Promise<Finding[]> {
  const asyncReads = o.backend === 'webgpu';
  const factory = makeWorldFactory(p, { ts: false, asyncReads });
  // tidy() is synchronous: an async function (webgpu's reads are async) is called plainly.
  const tidy = p.tidy && !isAsync(p, { ts: false, asyncReads });
  const findings: Finding[] = [];
  let E: World, C: World, R: World | null = null;
  E = factory(k, o.backend);
  C = factory(k, o.backend);
  const dyn = p.dynamic === 'auto' ? {} : { dynamic: p.dynamic };
  let f: (...a: unknown[]) => unknown;
  const compile = o.compileWith ?? ((t: unknown, opts: k.CompileOptions) => k.compile(t as never, opts));
  if (p.compileModel) {
    compile(C.model, { backend: o.backend, ...dyn });
    f = C.fn;
  } else {
    f = compile(C.fn, { backend: o.backend, ...dyn }) as (...a: unknown[]) => unknown;
  }
  const cross = o.crossCheck && o.backend !== 'cpu' && !(o.backend === 'webgpu' && p.special);
  if (cross) R = factory(k, 'cpu');
  const training = new Map<string, boolean>(p.modules.map((m) => [m.name, true]));
  const masks = new Map<string, string>();
  for (let i = 0; i < p.calls.length; i++) {
    const call = p.calls[i];
    for (const m of call.before) if (m.kind === 'train') training.set(m.module, m.on);
    const baseArgs = call.layouts.map((l, j) => (l.kind === 'contig' || l.kind === 'alias' ? -1 : j)).filter((j) => j >= 0);
    k.setBackend(o.backend);
    const ea = E.calls[i]();
    const e = await invoke(E.fn, ea, p.externalBackward, tidy);
    const eL = await leavesOf(e, ea, E.state());
    k.setBackend(o.backend);
    const ca = C.calls[i]();
    const c = await invoke(f, ca, p.externalBackward, tidy);
    const cL = await leavesOf(c, ca, C.state());
    const add = (kind: FindingKind, path: string, detail: string, ev: Leaf | undefined, cv: Leaf | undefined) =>
      findings.push({ kind, call: i, label: `${call.label}, N=${call.n}`, path, detail, eager: describeLeaf(ev), compiled: describeLeaf(cv) });
    const eErr = errorOf(eL), cErr = errorOf(cL);
    if (!!eErr !== !!cErr) {
      add('error-parity', 'out', eErr ? `eager threw, compiled did not` : `compiled threw, eager did not`, eL.get('out'), cL.get('out'));
    } else if (!eErr) {
      compareLeaves(p, call.n, eL, cL, baseArgs, training, (path, detail) => add('compiled-differs', path, detail, eL.get(path), cL.get(path)), (path, detail, leaf) => add('dropout', path, detail, leaf, leaf));
      repeatedMasks(p, training, cL, eL, masks, (path, detail) => add('dropout', path, detail, eL.get(path), cL.get(path)));
    }
    if (R) {
      k.setBackend('cpu');
      const ra = R.calls[i]();
      const rv = await invoke(R.fn, ra, p.externalBackward, tidy);
      const rL = await leavesOf(rv, ra, R.state());
      const rErr = errorOf(rL);
      const kernelAdd = (kind: FindingKind, path: string, detail: string) =>
        findings.push({ kind, call: i, label: `${call.label}, N=${call.n}`, path, detail: `${detail} (eager ${o.backend} vs eager cpu)`, eager: describeLeaf(rL.get(path)), compiled: describeLeaf(eL.get(path)) });
      if (!!eErr !== !!rErr) kernelAdd('kernel-error-parity', 'out', eErr ? `eager ${o.backend} threw (${eErr}), eager cpu did not` : `eager cpu threw (${rErr}), eager ${o.backend} did not`);
      else if (!eErr && !(p.optim && i > 0)) {
        // After an optimizer step, backends legitimately drift apart (Adam divides by √v): only the first call is compared.
        // webgpu's division, sqrt and builtins are not correctly rounded (WGSL allows 2.5 ulp and more): no
        // bit-exact check there, and 5x the tolerance.
        const relax = o.backend === 'webgpu' ? 5 : 0;
        // String(tensor) prints the values only where reads are synchronous (webgpu prints the
        // tensor's shape and dtype): printed text is compared across backends only where both print values.
        const printsValues = k.getBackend(o.backend).syncReads;
        compareLeaves(p, call.n, rL, eL, baseArgs, training, (path, detail) => {
          if (p.optim && path.startsWith('state.params')) return;
          if (!printsValues && eL.get(path)?.t === 'string') return;
          kernelAdd('kernel-differs', path, detail);
        }, () => {}, relax);
      }
    }
    if (findings.length) break;
  }
  return findings;
}

/**
 * Dropout in training mode must draw a fresh mask on every call: a compiled replay that reuses the
 * traced mask is wrong (a mask of >= 48 elements repeats by chance with probability < 1e-9).
 */
function repeatedMasks(p: Program, training: ReadonlyMap<string, boolean>, cL: Map<string, Leaf>, eL: Map<string, Leaf>, masks: Map<string, string>, bad: (path: string, detail: string) => void): void {
  p.outputs.forEach((out, i) => {
    if (out.kind === 'count') return;
    const info = p.values[out.ref];
    if (!info?.dropout || !training.get(info.dropout.module)) return;
    const d = cL.get(outputPath(p, i));
    if (d?.t !== 'tensor' || d.data.length < 48) return;
    const mask = d.data.map((x) => (x === 0 ? '0' : '1')).join('');
    const key = `${outputPath(p, i)}:${d.shape.join('x')}`;
    // Zeros the input already had look like a mask: eager's output repeating too means they do.
    const e = eL.get(outputPath(p, i));
    const eMask = e?.t === 'tensor' ? e.data.map((x) => (x === 0 ? '0' : '1')).join('') : null;
    const eagerRepeats = eMask !== null && masks.get(`eager:${key}`) === eMask;
    if (masks.get(key) === mask && !eagerRepeats) bad(outputPath(p, i), `compiled dropout(p=${info.dropout.p}) drew the same mask of ${d.data.length} elements on two training calls`);
    masks.set(key, mask);
    if (eMask !== null) masks.set(`eager:${key}`, eMask);
  });
}

function compareLeaves(
  p: Program, n: number, eL: Map<string, Leaf>, cL: Map<string, Leaf>, baseArgs: readonly number[], training: ReadonlyMap<string, boolean>,
  differs: (path: string, detail: string) => void, dropoutBad: (path: string, detail: string, leaf: Leaf | undefined) => void, relax = 0,
): void {
  // Outputs drawn by a dropout that is training: not comparable by value.
  const skip = new Set<string>();
  p.outputs.forEach((out, i) => {
    if (out.kind === 'count') return;
    const info = p.values[out.ref];
    if (info?.randomIn && training.get(info.randomIn)) skip.add(outputPath(p, i));
    if (info?.dropout && training.get(info.dropout.module)) {
      const j = p.outputs.findIndex((q) => q.kind === 'tensor' && q.ref === info.dropout!.of);
      if (j < 0) return;
      for (const [L, who] of [[eL, 'eager'], [cL, 'compiled']] as const) {
        const d = L.get(outputPath(p, i)), h = L.get(outputPath(p, j));
        if (d?.t !== 'tensor' || h?.t !== 'tensor') continue;
        const scale = 1 / (1 - info.dropout.p);
        // A dropped infinity is NaN (∞·0, as in PyTorch, which multiplies by the mask too).
        const ok = (x: number, v: number) => x === 0 || x === v * scale || Math.abs(x - v * scale) <= RTOL * Math.abs(v * scale) + ATOL_PER_SCALE ||
          (Number.isNaN(x) && Math.abs(v) === Infinity);
        const bad = d.data.findIndex((x, q) => !ok(x, h.data[q]));
        if (bad >= 0) dropoutBad(outputPath(p, i), `${who}: dropout(p=${info.dropout.p}) in training mode gave ${d.data[bad]} at [${bad}] for input ${h.data[bad]} (expected 0 or ${h.data[bad] * scale})`, d);
      }
    }
  });
  for (const path of new Set([...eL.keys(), ...cL.keys()])) {
    if ([...skip].some((s) => path === s || path.startsWith(`${s}.`))) continue;
    const tol = tolFor(p, path, n, baseArgs);
    const d = leafDiff(cL.get(path), eL.get(path), relax ? { exact: false, scale: tol.scale, factor: relax } : tol);
    if (d) differs(path, d);
  }
}
