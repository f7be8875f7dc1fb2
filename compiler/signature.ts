// What compile() reads of a call's arguments before anything runs: the tensors (by path) and the
// structure around them. A cache hit that runs the JavaScript is checked against the structure, the
// shapes (dynamic dims aside) and grad mode; one that skips the JavaScript also against every
// primitive value, every tensor's layout, which arguments share memory, and `this`.
import { isGradEnabled } from '../src/autograd.js';
import { KilnError, fmtShape } from '../src/core/errors.js';
import type { View } from '../src/core/kernel.js';
import { Tensor } from '../src/tensor.js';

/** A tensor argument and where it sits in the arguments (`0`, `1.weights.2`). */
export interface Leaf { readonly path: string; readonly tensor: Tensor }

export interface Signature {
  /** Structure and tensor metadata, one part per `|`, without primitive values. */
  readonly struct: string;
  readonly shapes: readonly (readonly number[])[];
  /** Primitive values by path (guarded only where the JavaScript is skipped). */
  readonly values: string;
  /** The first argument kiln cannot look into (a class instance, a function), or null. */
  readonly opaque: string | null;
}

/** An opaque id per object, so a JS-skipping replay can compare `this` and opaque arguments by identity. */
const objectIds = new WeakMap<object, number>();
let nextObjectId = 0;
export const idOfObject = (o: object): number => {
  let i = objectIds.get(o);
  if (i === undefined) { i = ++nextObjectId; objectIds.set(o, i); }
  return i;
};

const isPlain = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;

interface Walk { leaves: Leaf[]; parts: string[]; values: string[]; shapes: number[][]; seen: Set<unknown>; opaque: string | null }

function walk(w: Walk, v: unknown, path: string): void {
  if (v instanceof Tensor) {
    w.leaves.push({ path, tensor: v });
    w.parts.push(`${path}:T(${v.dtype},${v.backend},${v.requiresGrad},${v.ndim})`);
    w.shapes.push(v.shape as number[]);
  } else if (Array.isArray(v) || isPlain(v)) {
    if (w.seen.has(v)) throw new KilnError(`compile: argument ${path} contains a cycle`);
    w.seen.add(v);
    if (Array.isArray(v)) {
      w.parts.push(`${path}:[${v.length}]`);
      for (let i = 0; i < v.length; i++) walk(w, v[i], `${path}.${i}`);
    } else {
      const keys = Object.keys(v);
      w.parts.push(`${path}:{${keys.join(',')}}`);
      for (const k of keys) walk(w, v[k], `${path}.${k}`);
    }
  } else if (v && (typeof v === 'object' || typeof v === 'function')) {
    w.parts.push(`${path}:object`);
    w.values.push(`${path}=#${idOfObject(v)}`);
    w.opaque ??= path;
  } else {
    w.parts.push(`${path}:${typeof v}`);
    w.values.push(`${path}=${typeof v === 'number' && Object.is(v, -0) ? '-0' : String(v)}`);
  }
}

/** Flattens arguments into tensors (by path) and the rest of the structure as text. */
export function flatten(args: readonly unknown[], self: unknown): { leaves: Leaf[]; sig: Signature } {
  const w: Walk = { leaves: [], parts: [isGradEnabled() ? 'grad=true' : 'grad=false'], values: [], shapes: [], seen: new Set(), opaque: self !== undefined && self !== null ? 'this' : null };
  for (let i = 0; i < args.length; i++) walk(w, args[i], String(i));
  return { leaves: w.leaves, sig: { struct: w.parts.join('|'), shapes: w.shapes, values: w.values.join('|'), opaque: w.opaque } };
}

/** Null when a call's signature fits an entry's, else the failing guard. */
export function guardFailure(want: Signature, dynamicDims: ReadonlyMap<number, ReadonlySet<number>>, sig: Signature): string | null {
  if (want.struct !== sig.struct) {
    const a = want.struct.split('|'), b = sig.struct.split('|');
    const i = a.findIndex((x, k) => x !== b[k]);
    return `guard failed: ${i >= 0 ? `expected ${a[i]}, got ${b[i] ?? 'nothing'}` : 'argument structure changed'}`;
  }
  for (let i = 0; i < sig.shapes.length; i++) {
    const w = want.shapes[i], got = sig.shapes[i];
    const dyn = dynamicDims.get(i);
    const d = w.findIndex((x, k) => x !== got[k] && !dyn?.has(k));
    if (d >= 0) return `guard failed: tensor argument ${i} dim ${d}: expected size ${w[d]}, got ${got[d]} (shape ${fmtShape(w)} vs ${fmtShape(got)})`;
  }
  return null;
}

/** Same structure and ranks, other sizes: a candidate for making dims dynamic. */
export function sameButSizes(want: Signature, sig: Signature): boolean {
  return want.struct === sig.struct && want.shapes.every((s, i) => s.length === sig.shapes[i].length);
}

/** Dims (tensor index -> dims) where two signatures' sizes differ. */
export function differingDims(a: Signature, b: Signature): Map<number, Set<number>> {
  const out = new Map<number, Set<number>>();
  a.shapes.forEach((s, i) => s.forEach((d, k) => {
    if (d !== b.shapes[i][k]) (out.get(i) ?? out.set(i, new Set()).get(i)!).add(k);
  }));
  return out;
}

export const viewKey = (v: View): string => `${v.shape.join(',')}/${v.strides.join(',')}+${v.offset}`;

/** Which leaves share storage: each leaf's storage numbered in order of first appearance. */
export function aliasPattern(leaves: readonly Leaf[]): string {
  const storages: unknown[] = [];
  return leaves.map(({ tensor: t }) => {
    const s = t._storage ?? t;
    let k = storages.indexOf(s);
    if (k < 0) { k = storages.length; storages.push(s); }
    return k;
  }).join(',');
}

/**
 * Everything a JS-skipping replay assumes beyond the structure: primitive values, `this`, each
 * tensor's layout, autograd flags, and which arguments share storage (and how).
 */
export function strictKey(leaves: readonly Leaf[], sig: Signature, self: unknown): string {
  const storages: unknown[] = [];
  const parts = [sig.struct, sig.values, self && (typeof self === 'object' || typeof self === 'function') ? `this#${idOfObject(self)}` : ''];
  for (const { tensor: t } of leaves) {
    const s = t._storage ?? t;
    let k = storages.indexOf(s);
    if (k < 0) { k = storages.length; storages.push(s); }
    parts.push(`${viewKey(t._view)}@${k}${t.isLeaf ? '' : 'n'}${t._lazy ? 'L' : ''}`);
  }
  return parts.join('|');
}
