// Transformer building blocks as torch.nn's: rmsNorm / RMSNorm and MultiheadAttention (packed input
// projection initialised Xavier-uniform, zero biases, output projection; torch's mask conventions).
import { DTypeError, KilnError, ShapeError, fmtShape } from '../core/errors.js';
import { noGrad } from '../autograd.js';
import { arange, ones, zeros } from '../creation.js';
import * as F from '../functional.js';
import { scaledDotProductAttention } from '../attention.js';
import { maskedFill } from '../tensor-ops.js';
import { describeValue } from '../core/validate.js';
import { expectTensor, type Tensor } from '../tensor.js';
import { xavierUniform_ } from './init.js';
import { Linear } from './layers.js';
import { Module, forwardInputs } from './module.js';

/** float32's machine epsilon: torch's default eps for rms_norm. */
const FLOAT32_EPS = 1.1920928955078125e-7;

/** x / √(mean(x²) + eps) over the trailing `normalizedShape` dims, times an optional weight. */
export function rmsNorm(x: Tensor, normalizedShape: readonly number[], weight?: Tensor | null, eps?: number | null): Tensor {
  expectTensor('rmsNorm', 'the input', x);
  if (!Array.isArray(normalizedShape)) throw new ShapeError(`rmsNorm: normalizedShape must be an array of sizes, got ${describeValue(normalizedShape)}`);
  if (weight !== undefined && weight !== null) expectTensor('rmsNorm', 'the weight', weight);
  const k = normalizedShape.length;
  const tail = x.shape.slice(x.ndim - k);
  if (k > x.ndim || tail.some((d, i) => d !== normalizedShape[i])) {
    throw new ShapeError(`rmsNorm: normalizedShape ${fmtShape(normalizedShape)} does not match the trailing dims of input ${fmtShape(x.shape)}`);
  }
  const dims = normalizedShape.map((_, i) => x.ndim - k + i);
  const y = x.mul(x.mul(x).mean(dims, true).add(eps ?? FLOAT32_EPS).rsqrt());
  return weight ? y.mul(weight) : y;
}

/** Root-mean-square normalisation over the trailing dims with a learnable scale (ones). */
export class RMSNorm extends Module {
  weight: Tensor | null;
  readonly normalizedShape: number[];
  constructor(normalizedShape: number | readonly number[], readonly eps: number | null = null, elementwiseAffine = true) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    this.weight = elementwiseAffine ? ones(this.normalizedShape).requiresGrad_(true) : null;
  }
  forward(x: Tensor): Tensor { forwardInputs('RMSNorm', { input: x }); return rmsNorm(x, this.normalizedShape, this.weight, this.eps); }
}

export interface MultiheadAttentionOptions {
  /** Dropout on the attention weights while training. */
  dropout?: number;
  bias?: boolean;
  /** Inputs are [N, L, E] (true) or [L, N, E] (false, the default, as torch). */
  batchFirst?: boolean;
  /** Key and value feature sizes (default embedDim). */
  kdim?: number;
  vdim?: number;
}

export interface MultiheadAttentionCallOptions {
  /** Bool [N, S]: true for keys to ignore (padding); float: added to the scores. */
  keyPaddingMask?: Tensor | null;
  /** Also return the attention weights (default true). */
  needWeights?: boolean;
  /** [L, S] or [N·heads, L, S]. Bool: true where attention is NOT allowed (torch's MHA convention); float: added. */
  attnMask?: Tensor | null;
  /** Average the returned weights over heads (default true). */
  averageAttnWeights?: boolean;
  /** A causal mask (queries attend to keys at or before their position); used when attnMask is absent. */
  isCausal?: boolean;
}

/**
 * Multi-head attention as torch.nn.MultiheadAttention: forward(query, key, value, options) returns
 * [output, weights | null].
 */
export class MultiheadAttention extends Module {
  inProjWeight: Tensor | null;
  qProjWeight: Tensor | null;
  kProjWeight: Tensor | null;
  vProjWeight: Tensor | null;
  inProjBias: Tensor | null;
  outProj: Linear;
  readonly headDim: number;
  readonly dropout: number;
  readonly batchFirst: boolean;
  readonly kdim: number;
  readonly vdim: number;

  constructor(readonly embedDim: number, readonly numHeads: number, o: MultiheadAttentionOptions = {}) {
    super();
    const { dropout = 0, bias = true, batchFirst = false, kdim = embedDim, vdim = embedDim } = o;
    if (![embedDim, numHeads, kdim, vdim].every((v) => Number.isInteger(v) && v > 0)) {
      throw new KilnError(`MultiheadAttention: embedDim, numHeads, kdim and vdim must be positive integers, got ${embedDim}, ${numHeads}, ${kdim}, ${vdim}`);
    }
    if (embedDim % numHeads !== 0) throw new ShapeError(`MultiheadAttention: embedDim ${embedDim} must be divisible by numHeads ${numHeads}`);
    if (!(dropout >= 0 && dropout <= 1)) throw new KilnError(`MultiheadAttention: dropout must be in [0, 1], got ${dropout}`);
    this.headDim = embedDim / numHeads;
    this.dropout = dropout;
    this.batchFirst = batchFirst;
    this.kdim = kdim;
    this.vdim = vdim;
    const param = (shape: number[]) => xavierUniform_(zeros(shape)).requiresGrad_(true);
    const packed = kdim === embedDim && vdim === embedDim;
    this.inProjWeight = packed ? param([3 * embedDim, embedDim]) : null;
    this.qProjWeight = packed ? null : param([embedDim, embedDim]);
    this.kProjWeight = packed ? null : param([embedDim, kdim]);
    this.vProjWeight = packed ? null : param([embedDim, vdim]);
    this.inProjBias = bias ? zeros([3 * embedDim]).requiresGrad_(true) : null;
    this.outProj = new Linear(embedDim, embedDim, { bias });
    const outBias = this.outProj.bias;
    if (outBias) noGrad(() => outBias.zero_());
  }

  forward(query: Tensor, key: Tensor, value: Tensor, o: MultiheadAttentionCallOptions = {}): [Tensor, Tensor | null] {
    forwardInputs('MultiheadAttention', { query, key, value });
    const { keyPaddingMask = null, needWeights = true, attnMask = null, averageAttnWeights = true, isCausal = false } = o;
    const E = this.embedDim, H = this.numHeads, D = this.headDim;
    const batched = query.ndim === 3;
    if (!batched && query.ndim !== 2) throw new ShapeError(`MultiheadAttention: query must be [L, E] or batched (3-D), got ${fmtShape(query.shape)}`);
    if (key.ndim !== query.ndim || value.ndim !== query.ndim) throw new ShapeError(`MultiheadAttention: query ${fmtShape(query.shape)}, key ${fmtShape(key.shape)} and value ${fmtShape(value.shape)} must have the same rank`);
    // Work in [N, L, E].
    const toNLE = (t: Tensor) => (!batched ? t.unsqueeze(0) : this.batchFirst ? t : t.transpose(0, 1));
    const [q0, k0, v0] = [toNLE(query), toNLE(key), toNLE(value)];
    const [N, L] = q0.shape;
    const S = k0.shape[1];
    if (q0.shape[2] !== E) throw new ShapeError(`MultiheadAttention: query features ${q0.shape[2]} differ from embedDim ${E}`);
    if (k0.shape[2] !== this.kdim || v0.shape[2] !== this.vdim) throw new ShapeError(`MultiheadAttention: key/value features ${k0.shape[2]}/${v0.shape[2]} differ from kdim/vdim ${this.kdim}/${this.vdim}`);
    if (k0.shape[0] !== N || v0.shape[0] !== N || v0.shape[1] !== S) throw new ShapeError(`MultiheadAttention: key ${fmtShape(key.shape)} and value ${fmtShape(value.shape)} do not match query ${fmtShape(query.shape)}`);
    const w = (i: number, own: Tensor | null) => own ?? this.inProjWeight!.narrow(0, i * E, E);
    const b = (i: number) => (this.inProjBias ? this.inProjBias.narrow(0, i * E, E) : null);
    const proj = (x: Tensor, i: number, own: Tensor | null) => {
      const y = x.matmul(w(i, own).mT());
      const bi = b(i);
      return (bi ? y.add(bi) : y).reshape([N, x.shape[1], H, D]).transpose(1, 2); // [N, H, len, D]
    };
    const q = proj(q0, 0, this.qProjWeight), k = proj(k0, 1, this.kProjWeight), v = proj(v0, 2, this.vProjWeight);
    const mask = this.combinedMask(attnMask, keyPaddingMask, N, L, S, isCausal && !attnMask);
    let out: Tensor, weights: Tensor | null = null;
    const p = this.training ? this.dropout : 0;
    if (needWeights) {
      let scores = q.matmul(k.mT()).mul(1 / Math.sqrt(D));
      if (mask) scores = mask.dtype === 'bool' ? maskedFill(scores, mask.logicalNot(), -Infinity) : scores.add(mask);
      const attn = scores.softmax(-1);
      out = F.dropout(attn, p, p > 0).matmul(v);
      weights = averageAttnWeights ? attn.mean(1) : attn;
      if (!batched) weights = weights.squeeze(0);
    } else {
      out = scaledDotProductAttention(q, k, v, { attnMask: mask, dropoutP: p });
    }
    // [N, H, L, D] -> [N, L, E] -> output projection -> the input layout.
    let y = this.outProj.forward(out.transpose(1, 2).reshape([N, L, E]));
    y = !batched ? y.squeeze(0) : this.batchFirst ? y : y.transpose(0, 1);
    return [y, weights];
  }

  /** The masks as one bool "may attend" mask or one additive float mask broadcasting to [N, H, L, S]. */
  private combinedMask(attnMask: Tensor | null, keyPadding: Tensor | null, N: number, L: number, S: number, causal: boolean): Tensor | null {
    const H = this.numHeads;
    const parts: Tensor[] = [];
    if (causal) {
      const backend = this.outProj.weight.backend;
      parts.push(arange(S, undefined, 1, { backend }).reshape([1, S]).le(arange(L, undefined, 1, { backend }).reshape([L, 1])));
    }
    if (attnMask) {
      let m = attnMask;
      if (m.ndim === 3) {
        if (m.shape[0] !== N * H || m.shape[1] !== L || m.shape[2] !== S) throw new ShapeError(`MultiheadAttention: a 3-D attnMask must be [${N * H}, ${L}, ${S}], got ${fmtShape(m.shape)}`);
        m = m.reshape([N, H, L, S]);
      } else if (m.ndim !== 2 || m.shape[0] !== L || m.shape[1] !== S) throw new ShapeError(`MultiheadAttention: attnMask must be [${L}, ${S}] or [${N * H}, ${L}, ${S}], got ${fmtShape(m.shape)}`);
      parts.push(m.dtype === 'bool' ? m.logicalNot() : checkFloat(m, 'attnMask'));
    }
    if (keyPadding) {
      const want = N === 1 && keyPadding.ndim === 1 ? [S] : [N, S];
      if (keyPadding.ndim !== want.length || keyPadding.shape.some((d, i) => d !== want[i])) throw new ShapeError(`MultiheadAttention: keyPaddingMask must be ${fmtShape(want)}, got ${fmtShape(keyPadding.shape)}`);
      const m = keyPadding.reshape([N, 1, 1, S]);
      parts.push(m.dtype === 'bool' ? m.logicalNot() : checkFloat(m, 'keyPaddingMask'));
    }
    if (!parts.length) return null;
    // Bool parts AND together; a float part turns the bool ones into 0 / −inf and adds.
    if (parts.every((m) => m.dtype === 'bool')) return parts.reduce((a, m) => a.logicalAnd(m));
    return parts.map((m) => (m.dtype === 'bool' ? F.where(m, 0, -Infinity) : m)).reduce((a, m) => a.add(m));
  }
}

function checkFloat(m: Tensor, what: string): Tensor {
  if (m.dtype !== 'float32') throw new DTypeError(`MultiheadAttention: ${what} must be bool or float32, got ${m.dtype}`);
  return m;
}
