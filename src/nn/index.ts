// torch.nn for kiln: modules and losses.
export { Module } from './module.js';
export { Linear, Sequential, ReLU, GELU, Sigmoid, Tanh, LayerNorm, Embedding, Dropout } from './layers.js';
export { mseLoss, crossEntropy, binaryCrossEntropy } from './losses.js';
export {
  Conv1d, Conv2d, ConvTranspose2d, MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d,
  BatchNorm1d, BatchNorm2d, GroupNorm, Flatten, Unflatten, LeakyReLU, Dropout2d,
} from './cnn-layers.js';
export type { ConvModuleOptions, ConvTransposeModuleOptions, BatchNormModuleOptions } from './cnn-layers.js';
export * as utils from './utils.js';
