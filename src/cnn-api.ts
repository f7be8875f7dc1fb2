// The public functions of convolutional networks (torch.nn.functional's conv, pooling, normalisation,
// resampling and activations), re-exported on `kiln`.
export { conv1d, conv2d, convTranspose1d, convTranspose2d, unfold, fold } from './nn/conv.js';
export type { ConvOptions, ConvPadding, ConvTransposeOptions, FoldOptions } from './nn/conv.js';
export { maxPool1d, maxPool2d, avgPool1d, avgPool2d, adaptiveAvgPool2d, adaptiveMaxPool2d } from './nn/pooling.js';
export type { MaxPoolOptions, AvgPoolOptions, AdaptiveSize } from './nn/pooling.js';
export { batchNorm, groupNorm, instanceNorm } from './nn/norm.js';
export type { BatchNormOptions, InstanceNormOptions } from './nn/norm.js';
export { interpolate, pixelShuffle, pixelUnshuffle } from './nn/resample.js';
export type { InterpolateOptions, InterpolateMode } from './nn/resample.js';
export type { Size } from './nn/window.js';
export type { PadMode } from './padding.js';
export { leakyRelu, elu, selu, prelu, hardswish, hardsigmoid, relu6, mish, softsign, glu } from './activations.js';
export { dropout2d } from './functional.js';
