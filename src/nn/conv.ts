// Convolutions as compositions over one window view (the unfold primitive): conv = windows of the
// padded input, laid out as an im2col matrix, times the weight matrix (groups are a batch dim of the
// matmul); a depthwise conv is a product and a sum over the window. convTranspose and fold run the
// other way: a matmul, then the window view's adjoint.
import { isGradEnabled } from '../autograd.js';
import { DTypeError, KilnError, ShapeError, fmtShape } from '../core/errors.js';
import { permuteWindowed, splitOperand, windowsOf } from '../core/implicit-gemm.js';
import type { Expr, MatmulKernel } from '../core/kernel.js';
import { filled, range, sizeOf } from '../core/shape.js';
import { expandView, padView, reshapeView } from '../core/view.js';
import { activeTracer, commonBackend, runKernel } from '../dispatch.js';
import { foldWindows } from '../ops/movement.js';
import { expectTensor, type Tensor } from '../tensor.js';
import { checkInput, fmtDims, perChannel, perDim, spatialPads, windowCount, windows, type Size } from './window.js';

/** Padding of a convolution: per dim, or 'valid' (none), or 'same' (output size = input size, stride 1). */
export type ConvPadding = Size | 'same' | 'valid';

export interface ConvOptions {
  stride?: Size;
  padding?: ConvPadding;
  dilation?: Size;
  groups?: number;
}

export interface ConvTransposeOptions {
  stride?: Size;
  padding?: Size;
  outputPadding?: Size;
  groups?: number;
  dilation?: Size;
}

function checkFloat(op: string, what: string, t: Tensor): void {
  if (t.dtype !== 'float32') throw new DTypeError(`${op}: expected a float32 ${what}, got ${t.dtype} ${fmtShape(t.shape)}`);
}

function checkGroups(op: string, groups: number): number {
  if (!Number.isInteger(groups) || groups < 1) throw new KilnError(`${op}: groups must be a positive integer, got ${groups}`);
  return groups;
}

function checkBias(op: string, bias: Tensor | null | undefined, channels: number): void {
  if (bias === undefined || bias === null) return;
  expectTensor(op, 'the bias', bias);
  checkFloat(op, 'bias', bias);
  if (bias.ndim !== 1 || bias.shape[0] !== channels) throw new ShapeError(`${op}: expected a bias of shape [${channels}] (one per output channel), got ${fmtShape(bias.shape)}`);
}

/** [before, after] padding per spatial dim, with 'same' and 'valid' resolved. */
function convPads(op: string, padding: ConvPadding, ks: readonly number[], stride: readonly number[], dilation: readonly number[]): [number, number][] {
  const nd = ks.length;
  if (padding === 'valid') return ks.map(() => [0, 0]);
  if (padding === 'same') {
    if (stride.some((s) => s !== 1)) throw new KilnError(`${op}: padding 'same' needs stride 1, got stride ${fmtDims(stride)}`);
    // An even extent pads one more after than before, as PyTorch does.
    return ks.map((k, t) => { const total = dilation[t] * (k - 1); return [Math.floor(total / 2), total - Math.floor(total / 2)]; });
  }
  if (typeof padding === 'string') throw new KilnError(`${op}: padding must be a number, ${nd} numbers, 'same' or 'valid', got '${padding}'`);
  return perDim(op, 'padding', padding, nd, 0).map((p) => [p, p]);
}

/** The kernel's dilated extent must fit the padded input. */
function checkFits(op: string, x: Tensor, ks: readonly number[], dilation: readonly number[], pads: readonly (readonly [number, number])[]): void {
  const nd = ks.length;
  const spatial = x.shape.slice(x.ndim - nd);
  const extent = ks.map((k, t) => dilation[t] * (k - 1) + 1);
  const padded = spatial.map((n, t) => n + pads[t][0] + pads[t][1]);
  if (extent.some((e, t) => e > padded[t])) {
    const dil = dilation.some((d) => d > 1) ? `, dilated extent ${fmtDims(extent)}` : '';
    throw new ShapeError(`${op}: kernel ${fmtDims(ks)}${dil} is larger than the padded input ${fmtDims(padded)} (input ${fmtShape(x.shape)}, padding ${pads.map(([a, b]) => (a === b ? a : `${a}+${b}`)).join('×')})`);
  }
}

/**
 * An eager convolution as the one kernel compile() makes of the composite below: a matmul reading the
 * (padded) input's windows in place, the bias in its epilogue. Only when nothing is traced or
 * differentiated (autograd records the composite's ops); null when the views do not allow it.
 */
function implicitGemm(op: string, x: Tensor, weight: Tensor, bias: Tensor | null | undefined, groups: number,
  ks: readonly number[], stride: readonly number[], dilation: readonly number[], pads: readonly (readonly [number, number])[]): Tensor | null {
  if (activeTracer() || (isGradEnabled() && [x, weight, bias].some((t) => t?.requiresGrad))) return null;
  if ([x, weight, bias].some((t) => t?._lazy)) return null;
  const nd = ks.length;
  const [n, c] = x.shape;
  const outC = weight.shape[0], cg = c / groups, og = outC / groups, k = cg * sizeOf(ks);
  const padded = pads.some(([a, b]) => a > 0 || b > 0) ? padView(x._view, [[0, 0], [0, 0], ...pads]) : x._view;
  const w = windowsOf(padded, { dims: range(2, 2 + nd), sizes: ks, steps: stride, dilations: dilation }); // [N, C, ...out, ...ks]
  if (!w) return null;
  const out = w.view.shape.slice(2, 2 + nd);
  const cols = permuteWindowed({ ...w, shape: [n, groups, cg, ...out, ...ks] }, [0, 1, 2, ...range(3 + nd, 3 + 2 * nd), ...range(3, 3 + nd)]);
  const b = cols && splitOperand({ ...cols, shape: [n, groups, k, sizeOf(out)] }, [n, groups]);
  const a = reshapeView(weight._view, [groups, og, k]);
  if (!b || !a || sizeOf(out) === 0) return null;
  const batch = [n, groups], L = sizeOf(out);
  const acc: Expr = { kind: 'acc', index: 0, dtype: 'float32' };
  const bv = bias?._view;
  const epilogue: Expr = bias && bv
    ? { kind: 'op', op: 'add', dtype: 'float32', args: [acc, { kind: 'load', input: 2, dtype: 'float32', view: { shape: [n, groups, og, L], strides: [0, og * bv.strides[0], bv.strides[0], 0], offset: bv.offset } }] }
    : acc;
  const kernel: MatmulKernel = {
    kind: 'matmul', batch, m: og, n: L, k, nInputs: bias ? 3 : 2,
    a: { input: 0, view: expandView(a, [...batch, og, k]) }, b: { input: 1, ...b },
    outputs: [{ expr: epilogue, dtype: 'float32' }],
  };
  const inputs = bias ? [weight, x, bias] : [weight, x];
  const y = runKernel(commonBackend(op, inputs), kernel, inputs, { shape: [...batch, og, L], dtype: 'float32' }, op);
  const result = y.reshape([n, outC, ...out]);
  // The result views y's storage; dropping y's own hold now frees that storage with the result, so
  // a loop that disposes each result reuses one warm buffer instead of waiting for a collection.
  y.dispose();
  return result;
}

function convNd(op: string, nd: number, x: Tensor, weight: Tensor, bias: Tensor | null | undefined, o: ConvOptions): Tensor {
  checkInput(op, x, nd, false);
  expectTensor(op, 'the weight', weight);
  const kdims = nd === 1 ? 'kL' : 'kH, kW';
  if (weight.ndim !== nd + 2) throw new ShapeError(`${op}: expected a ${nd + 2}-D weight [outChannels, inChannels/groups, ${kdims}], got ${fmtShape(weight.shape)}`);
  checkFloat(op, 'weight', weight);
  const groups = checkGroups(op, o.groups ?? 1);
  const [n, c] = x.shape;
  const [outC, cg] = weight.shape;
  if (c % groups !== 0) throw new ShapeError(`${op}: input channels ${c} are not divisible by groups ${groups} (input ${fmtShape(x.shape)})`);
  if (outC % groups !== 0) throw new ShapeError(`${op}: output channels ${outC} are not divisible by groups ${groups} (weight ${fmtShape(weight.shape)})`);
  if (c / groups !== cg) {
    throw new ShapeError(`${op}: weight ${fmtShape(weight.shape)} expects ${cg * groups} input channels (${cg} per group × ${groups} groups), but the input ${fmtShape(x.shape)} has ${c}`);
  }
  checkBias(op, bias, outC);
  const ks = weight.shape.slice(2);
  const stride = perDim(op, 'stride', o.stride ?? 1, nd);
  const dilation = perDim(op, 'dilation', o.dilation ?? 1, nd);
  const pads = convPads(op, o.padding ?? 0, ks, stride, dilation);
  checkFits(op, x, ks, dilation, pads);
  const og = outC / groups;
  const padded = pads.some(([a, b]) => a > 0 || b > 0);
  if (ks.every((kk) => kk === 1) && !padded) {
    // 1×1: a plain matmul of the weight by the (strided) input, no window view at all.
    const xs = stride.some((st) => st > 1) ? x.slice([null, null, ...stride.map((st): [number, null, number] => [0, null, st])]) : x;
    const out = xs.shape.slice(2);
    const y = weight.reshape([groups, og, cg]).matmul(xs.reshape([n, groups, cg, sizeOf(out)])).reshape([n, outC, ...out]);
    return bias ? y.add(perChannel(bias, nd + 2)) : y;
  }
  if (cg > 1 || og > 1) {
    const y = implicitGemm(op, x, weight, bias, groups, ks, stride, dilation, pads);
    if (y) return y;
  }
  const xp = padded ? x.pad(spatialPads(x, pads)) : x;
  const win = windows(xp, ks, stride, dilation); // [N, C, ...out, ...ks]
  const out = win.shape.slice(2, 2 + nd);
  let y: Tensor;
  if (cg === 1 && og === 1) {
    // Depthwise: each channel's window dotted with its own kernel, a sum over the window dims.
    const w = weight.reshape([outC, ...filled(nd, 1), ...ks]);
    y = win.mul(w).sum(range(2 + nd, 2 + 2 * nd));
  } else {
    // im2col: [N, G, Cg·k, L] columns, one per output position; the weight is [G, Og, Cg·k].
    const k = cg * sizeOf(ks);
    const cols = win.reshape([n, groups, cg, ...out, ...ks])
      .permute([0, 1, 2, ...range(3 + nd, 3 + 2 * nd), ...range(3, 3 + nd)])
      .reshape([n, groups, k, sizeOf(out)]);
    y = weight.reshape([groups, og, k]).matmul(cols).reshape([n, outC, ...out]);
  }
  return bias ? y.add(perChannel(bias, nd + 2)) : y;
}

/** 1-D convolution of [N, C, L] by a weight [outC, C/groups, kL] (cross-correlation, as PyTorch). */
export function conv1d(input: Tensor, weight: Tensor, bias?: Tensor | null, options: ConvOptions = {}): Tensor {
  return convNd('conv1d', 1, input, weight, bias, options);
}

/** 2-D convolution of [N, C, H, W] by a weight [outC, C/groups, kH, kW] (cross-correlation, as PyTorch). */
export function conv2d(input: Tensor, weight: Tensor, bias?: Tensor | null, options: ConvOptions = {}): Tensor {
  return convNd('conv2d', 2, input, weight, bias, options);
}

function convTransposeNd(op: string, nd: number, x: Tensor, weight: Tensor, bias: Tensor | null | undefined, o: ConvTransposeOptions): Tensor {
  checkInput(op, x, nd, false);
  expectTensor(op, 'the weight', weight);
  const kdims = nd === 1 ? 'kL' : 'kH, kW';
  if (weight.ndim !== nd + 2) throw new ShapeError(`${op}: expected a ${nd + 2}-D weight [inChannels, outChannels/groups, ${kdims}], got ${fmtShape(weight.shape)}`);
  checkFloat(op, 'weight', weight);
  const groups = checkGroups(op, o.groups ?? 1);
  const [n, c] = x.shape;
  if (c % groups !== 0) throw new ShapeError(`${op}: input channels ${c} are not divisible by groups ${groups} (input ${fmtShape(x.shape)})`);
  if (weight.shape[0] !== c) throw new ShapeError(`${op}: weight ${fmtShape(weight.shape)} expects ${weight.shape[0]} input channels, but the input ${fmtShape(x.shape)} has ${c}`);
  const og = weight.shape[1];
  const outC = og * groups;
  checkBias(op, bias, outC);
  const ks = weight.shape.slice(2);
  const stride = perDim(op, 'stride', o.stride ?? 1, nd);
  const dilation = perDim(op, 'dilation', o.dilation ?? 1, nd);
  const padding = perDim(op, 'padding', o.padding ?? 0, nd, 0);
  const outPad = perDim(op, 'outputPadding', o.outputPadding ?? 0, nd, 0);
  if (outPad.some((p, t) => p >= Math.max(stride[t], dilation[t]))) {
    throw new ShapeError(`${op}: outputPadding ${fmtDims(outPad)} must be smaller than the stride ${fmtDims(stride)} or the dilation ${fmtDims(dilation)}`);
  }
  const inS = x.shape.slice(2);
  // The output before cropping `padding`: every input position's window, plus outputPadding.
  const full = inS.map((m, t) => (m - 1) * stride[t] + dilation[t] * (ks[t] - 1) + 1 + outPad[t]);
  const outS = full.map((f, t) => f - 2 * padding[t]);
  if (outS.some((s) => s <= 0)) {
    throw new ShapeError(`${op}: padding ${fmtDims(padding)} leaves no output (input ${fmtShape(x.shape)}, kernel ${fmtDims(ks)}, output would be ${fmtDims(outS)})`);
  }
  const cg = c / groups;
  const k = og * sizeOf(ks);
  // cols[n, g, (o, taps), l] = Σ_c w[g, c, (o, taps)] x[n, g, c, l]; fold sums the taps into place.
  const cols = weight.reshape([groups, cg, k]).mT().matmul(x.reshape([n, groups, cg, sizeOf(inS)]));
  const taps = cols.reshape([n, outC, ...ks, ...inS]).permute([0, 1, ...range(2 + nd, 2 + 2 * nd), ...range(2, 2 + nd)]);
  let y = foldWindows(taps, [n, outC, ...full], { dims: range(2, 2 + nd), sizes: ks, steps: stride, dilations: dilation });
  if (padding.some((p) => p > 0)) y = y.slice([null, null, ...padding.map((p, t): [number, number] => [p, p + outS[t]])]);
  return bias ? y.add(perChannel(bias, nd + 2)) : y;
}

/** Transposed 2-D convolution (the gradient of conv2d w.r.t. its input) of [N, C, H, W] by [C, outC/groups, kH, kW]. */
export function convTranspose2d(input: Tensor, weight: Tensor, bias?: Tensor | null, options: ConvTransposeOptions = {}): Tensor {
  return convTransposeNd('convTranspose2d', 2, input, weight, bias, options);
}

/** Transposed 1-D convolution of [N, C, L] by [C, outC/groups, kL]. */
export function convTranspose1d(input: Tensor, weight: Tensor, bias?: Tensor | null, options: ConvTransposeOptions = {}): Tensor {
  return convTransposeNd('convTranspose1d', 1, input, weight, bias, options);
}

export interface FoldOptions {
  dilation?: Size;
  padding?: Size;
  stride?: Size;
}

/** im2col (torch.nn.functional.unfold): [N, C, H, W] -> [N, C·kH·kW, L], one column per window. */
export function unfold(input: Tensor, kernelSize: Size, options: FoldOptions = {}): Tensor {
  const op = 'unfold';
  checkInput(op, input, 2, true);
  if (input.ndim === 3) return unfold(input.unsqueeze(0), kernelSize, options).squeeze(0);
  const ks = perDim(op, 'kernelSize', kernelSize, 2);
  const dilation = perDim(op, 'dilation', options.dilation ?? 1, 2);
  const stride = perDim(op, 'stride', options.stride ?? 1, 2);
  const pads = perDim(op, 'padding', options.padding ?? 0, 2, 0).map((p): [number, number] => [p, p]);
  checkFits(op, input, ks, dilation, pads);
  const xp = pads.some(([p]) => p > 0) ? input.pad(spatialPads(input, pads)) : input;
  const win = windows(xp, ks, stride, dilation); // [N, C, OH, OW, kH, kW]
  const [n, c] = input.shape;
  return win.permute([0, 1, 4, 5, 2, 3]).reshape([n, c * sizeOf(ks), win.shape[2] * win.shape[3]]);
}

/** col2im (torch.nn.functional.fold), the adjoint of unfold: sums columns [N, C·kH·kW, L] into [N, C, H, W]. */
export function fold(input: Tensor, outputSize: Size, kernelSize: Size, options: FoldOptions = {}): Tensor {
  const op = 'fold';
  expectTensor(op, 'the input', input);
  if (input.ndim === 2) return fold(input.unsqueeze(0), outputSize, kernelSize, options).squeeze(0);
  if (input.ndim !== 3) throw new ShapeError(`${op}: expected a 3-D input [N, C·kH·kW, L] or 2-D [C·kH·kW, L], got ${fmtShape(input.shape)}`);
  checkFloat(op, 'input', input);
  const size = perDim(op, 'outputSize', outputSize, 2);
  const ks = perDim(op, 'kernelSize', kernelSize, 2);
  const dilation = perDim(op, 'dilation', options.dilation ?? 1, 2);
  const stride = perDim(op, 'stride', options.stride ?? 1, 2);
  const padding = perDim(op, 'padding', options.padding ?? 0, 2, 0);
  const [n, ck, l] = input.shape;
  const taps = sizeOf(ks);
  if (ck % taps !== 0) throw new ShapeError(`${op}: input ${fmtShape(input.shape)} has ${ck} rows, not a multiple of the kernel's ${fmtDims(ks)} = ${taps} taps`);
  const padded = size.map((s, t) => s + 2 * padding[t]);
  if (padded.some((p, t) => dilation[t] * (ks[t] - 1) + 1 > p)) throw new ShapeError(`${op}: kernel ${fmtDims(ks)} is larger than the padded output ${fmtDims(padded)}`);
  const counts = size.map((s, t) => windowCount(s, ks[t], stride[t], padding[t], dilation[t]));
  if (sizeOf(counts) !== l) {
    throw new ShapeError(`${op}: input ${fmtShape(input.shape)} has ${l} columns, but output ${fmtDims(size)} with kernel ${fmtDims(ks)} has ${fmtDims(counts)} = ${sizeOf(counts)} windows`);
  }
  const c = ck / taps;
  const g = input.reshape([n, c, ...ks, ...counts]).permute([0, 1, 4, 5, 2, 3]);
  const y = foldWindows(g, [n, c, ...padded], { dims: [2, 3], sizes: ks, steps: stride, dilations: dilation });
  return padding.some((p) => p > 0) ? y.slice([null, null, ...padding.map((p, t): [number, number] => [p, p + size[t]])]) : y;
}
