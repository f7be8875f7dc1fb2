// Deterministic memory release for eager code. tidy(fn), as in TensorFlow.js, disposes the tensors fn
// creates except the ones it returns, the ones written to a .grad, and the ones passed to keep().
// It is not needed for bounded memory (see memory.ts), but frees a step's temporaries at once.
// The same creation scopes let kiln's composites mark their intermediates as internal (unreachable
// from user code) and let the autograd engine see the tensors backward creates.
import type { Tensor } from './tensor.js';
import { KilnError } from './core/errors.js';

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

/** Runs fn in a fresh creation scope; returns its result and the scope (what it created and kept). */
function inScope<T>(fn: () => T): { result: T; scope: Scope } {
  const scope: Scope = { created: [], kept: new Set() };
  scopes.push(scope);
  try {
    return { result: fn(), scope };
  } finally {
    scopes.pop();
  }
}

/**
 * Runs fn and disposes the tensors it created, except those in its result (arrays and plain objects
 * are searched), those assigned to a tensor's .grad, and those passed to keep(). A .grad replaced or
 * cleared inside fn (zeroGrad, accumulation) is freed too. Storage shared with a survivor (a view)
 * stays alive through the survivor.
 */
export function tidy<T>(fn: () => T, isTensor: (x: unknown) => x is Tensor): T {
  const { result, scope } = inScope(fn);
  if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
    // The work after an await would run outside this scope, with its tensors already freed: keep
    // everything (the garbage collector frees it) and say so instead of corrupting the async body.
    for (const t of scope.created) trackCreated(t);
    (result as unknown as Promise<unknown>).then(undefined, () => {}); // the error below is the one to report
    throw new KilnError('tidy: the function returned a Promise, but tidy() is synchronous: it frees tensors when the function returns, before an await resumes; call tidy() inside the async function around synchronous work');
  }
  const survivors = new Set<Tensor>(scope.kept);
  collect(result, survivors, isTensor);
  for (const t of new Set(scope.created)) {
    if (survivors.has(t) || t._constant !== undefined || t._lazy) continue;
    if (t._isGradOf) { trackCreated(t); continue; }
    t._releasedBy = 'kiln.tidy() (it frees what its callback created unless returned or kept)';
    t.dispose();
  }
  // What survives belongs to the enclosing scope now.
  for (const t of survivors) if (scope.created.includes(t)) trackCreated(t);
  return result;
}

/**
 * Runs a kiln composite's body while autograd records: the tensors it creates and does not return are
 * internal (no user code can reach them). Those no autograd node saves are freed now; the others
 * when backward has consumed every node saving them (autograd.ts). Everything is also handed to the
 * enclosing scope, so an enclosing tidy() still frees it.
 */
export function internalScope<T extends Tensor>(fn: () => T): T {
  const { result, scope } = inScope(fn);
  for (const t of scope.created) {
    if (t !== result && !scope.kept.has(t) && t._constant === undefined && !t._lazy && !t._isGradOf) {
      t._internal = true;
      if (t._saves === 0) { t.dispose(); continue; }
    }
    trackCreated(t);
  }
  return result;
}

/** A scope the autograd engine opens around backward: it reads and empties `created` as it goes. */
export function openScope(): { readonly created: Tensor[] } {
  const scope: Scope = { created: [], kept: new Set() };
  scopes.push(scope);
  return scope;
}

/** Closes a scope from openScope(), handing `survivors` to the enclosing one. */
export function closeScope(scope: { readonly created: Tensor[] }, survivors: Iterable<Tensor>): void {
  const i = scopes.lastIndexOf(scope as Scope);
  if (i >= 0) scopes.splice(i, 1);
  for (const t of survivors) trackCreated(t);
}
