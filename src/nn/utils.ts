// torch.nn.utils: gradient clipping and flattening parameters to one vector. The clips rewrite each
// .grad in place with tensor ops, so they trace into a compiled training step like the rest of it.
import { KilnError, ShapeError, fmtShape } from '../core/errors.js';
import { noGrad } from '../autograd.js';
import { full } from '../creation.js';
import { cat, tidy } from '../functional.js';
import { currentBackend } from '../core/backend.js';
import { Tensor } from '../tensor.js';

/** Parameters as torch.nn.utils takes them: one tensor or any iterable of tensors. */
export type ParamsLike = Tensor | Iterable<Tensor>;

function paramList(op: string, params: ParamsLike): Tensor[] {
  if (params instanceof Tensor) return [params];
  if (!params || typeof (params as Iterable<Tensor>)[Symbol.iterator] !== 'function') throw new KilnError(`${op}: expected a tensor or an iterable of tensors, got ${String(params)}`);
  const list = [...params];
  list.forEach((p, i) => { if (!(p instanceof Tensor)) throw new KilnError(`${op}: parameter ${i} is not a Tensor`); });
  return list;
}

export interface ClipGradNormOptions {
  /** Order of the norm: a positive number, or Infinity / 'inf' for the largest magnitude (default 2). */
  normType?: number | 'inf';
  /** Throw when the total norm is NaN or infinite instead of scaling by it (reads the norm: a graph break when compiled). */
  errorIfNonfinite?: boolean;
}

/** The norm of one gradient (a 0-d tensor). */
function gradNorm(g: Tensor, p: number): Tensor {
  return tidy(() => {
    if (p === 2) return g.mul(g).sum().sqrt();
    if (p === Infinity) return g.size === 0 ? full([], 0, { backend: g.backend }) : g.abs().max();
    if (p === 1) return g.abs().sum();
    return g.abs().pow(p).sum().pow(1 / p);
  });
}

/**
 * Scales all gradients together so that their combined norm is at most maxNorm (torch's
 * clip_grad_norm_); returns the total norm before clipping, a 0-d tensor. Gradients are modified in
 * place; parameters without one are ignored.
 */
export function clipGradNorm_(parameters: ParamsLike, maxNorm: number, opts: ClipGradNormOptions = {}): Tensor {
  const params = paramList('clipGradNorm_', parameters);
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm)) throw new KilnError(`clipGradNorm_: maxNorm must be a number, got ${String(maxNorm)}`);
  const p = opts.normType === 'inf' ? Infinity : opts.normType ?? 2;
  if (typeof p !== 'number' || !(p > 0)) throw new KilnError(`clipGradNorm_: normType must be a positive number or 'inf', got ${String(opts.normType)}`);
  const grads = params.flatMap((q) => (q.grad ? [q.grad] : []));
  if (grads.length === 0) return full([], 0, { dtype: 'float32', backend: params[0]?.backend ?? currentBackend() });
  return noGrad(() => {
    const total = tidy(() => {
      const norms = grads.map((g) => gradNorm(g, p));
      if (p === Infinity) return norms.reduce((a, b) => a.maximum(b));
      if (p === 2) return norms.map((n) => n.mul(n)).reduce((a, b) => a.add(b)).sqrt();
      if (p === 1) return norms.reduce((a, b) => a.add(b));
      return norms.map((n) => n.pow(p)).reduce((a, b) => a.add(b)).pow(1 / p);
    });
    if (opts.errorIfNonfinite) {
      if (total.backend === 'webgpu') {
        throw new KilnError('clipGradNorm_: errorIfNonfinite reads the norm, which on webgpu is asynchronous; clip without it and check `await norm.itemAsync()`');
      }
      const v = Number(total.item());
      if (!Number.isFinite(v)) {
        throw new KilnError(`clipGradNorm_: the total norm of order ${p} of the gradients is ${v}, so they cannot be clipped; pass errorIfNonfinite: false to scale by it anyway`);
      }
    }
    // coefficient = min(maxNorm / (total + 1e-6), 1)
    tidy(() => {
      const coef = total.add(1e-6).reciprocal().mul(maxNorm).minimum(1);
      for (const g of grads) g.mul_(coef);
    });
    return total;
  });
}

/** Clamps every gradient to [-clipValue, clipValue] in place (torch's clip_grad_value_). */
export function clipGradValue_(parameters: ParamsLike, clipValue: number): void {
  const params = paramList('clipGradValue_', parameters);
  if (typeof clipValue !== 'number' || Number.isNaN(clipValue)) throw new KilnError(`clipGradValue_: clipValue must be a number, got ${String(clipValue)}`);
  const c = Math.abs(clipValue);
  noGrad(() => {
    for (const q of params) {
      const g = q.grad;
      if (g) tidy(() => { g.copy_(g.clamp(-c, c)); });
    }
  });
}

/** The parameters flattened and concatenated into one 1-D tensor (torch's parameters_to_vector). */
export function parametersToVector(parameters: ParamsLike): Tensor {
  const params = paramList('parametersToVector', parameters);
  if (params.length === 0) throw new KilnError('parametersToVector: expected at least one parameter');
  const backends = new Set(params.map((q) => q.backend));
  if (backends.size > 1) throw new KilnError(`parametersToVector: parameters live on different backends (${[...backends].join(', ')})`);
  return cat(params.map((q) => q.reshape([-1])));
}

/** Copies consecutive slices of a 1-D vector into the parameters, in place (torch's vector_to_parameters). */
export function vectorToParameters(vec: Tensor, parameters: ParamsLike): void {
  const params = paramList('vectorToParameters', parameters);
  if (!(vec instanceof Tensor)) throw new KilnError('vectorToParameters: vec must be a Tensor');
  if (vec.ndim !== 1) throw new ShapeError(`vectorToParameters: vec must be 1-D, got ${fmtShape(vec.shape)}`);
  const total = params.reduce((s, q) => s + q.size, 0);
  if (vec.shape[0] !== total) throw new ShapeError(`vectorToParameters: vec has ${vec.shape[0]} elements, the parameters ${total}`);
  noGrad(() => {
    let offset = 0;
    for (const q of params) {
      const n = q.size;
      tidy(() => { q.copy_(vec.narrow(0, offset, n).reshape(q.shape)); });
      offset += n;
    }
  });
}
