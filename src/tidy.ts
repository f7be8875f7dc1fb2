// Deterministic memory release for eager code. JavaScript has no reference counts and finalizers only
// run when the event loop turns, so a long synchronous loop of eager ops would hold every intermediate
// until it yields. tidy(fn), as in TensorFlow.js, disposes the tensors fn creates except the ones it
// returns, the ones written to a .grad, and the ones passed to keep().
import type { Tensor } from './tensor.js';

interface Scope { readonly created: Tensor[]; readonly kept: Set<Tensor> }
const scopes: Scope[] = [];

/** Called by the Tensor constructor: the innermost scope owns the new tensor. */
export function trackCreated(t: Tensor): void {
  if (scopes.length) scopes[scopes.length - 1].created.push(t);
}

/** Exempts a tensor from every enclosing tidy() (it outlives them, e.g. a value stored for later). */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.kept.add(t);
  return t;
}

function collect(v: unknown, into: Set<Tensor>, isTensor: (x: unknown) => x is Tensor): void {
  if (isTensor(v)) into.add(v);
  else if (Array.isArray(v)) v.forEach((x) => collect(x, into, isTensor));
  else if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) Object.values(v).forEach((x) => collect(x, into, isTensor));
}

/**
 * Runs fn and disposes the tensors it created, except those in its result (arrays and plain objects
 * are searched), those assigned to a tensor's .grad, and those passed to keep(). A .grad replaced or
 * cleared inside fn (zeroGrad, accumulation) is freed too. Storage shared with a survivor (a view)
 * stays alive through the survivor.
 */
export function tidy<T>(fn: () => T, isTensor: (x: unknown) => x is Tensor): T {
  const scope: Scope = { created: [], kept: new Set() };
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  const survivors = new Set<Tensor>(scope.kept);
  collect(result, survivors, isTensor);
  for (const t of new Set(scope.created)) {
    if (survivors.has(t) || t._constant !== undefined || t._lazy) continue;
    if (t._isGradOf) { keepInParent(t); continue; }
    t.dispose();
  }
  // What survives belongs to the enclosing scope now.
  for (const t of survivors) if (scope.created.includes(t)) trackCreated(t);
  return result;
}

function keepInParent(t: Tensor): void {
  if (scopes.length) scopes[scopes.length - 1].created.push(t);
}

/** True while some tidy() is active. */
export function inTidy(): boolean { return scopes.length > 0; }
