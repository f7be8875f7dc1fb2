// torch.nn for kiln: modules and losses.
export { Module } from './module.js';
export { Linear, Sequential, ReLU, GELU, Sigmoid, Tanh, LayerNorm, Embedding, Dropout } from './layers.js';
export {
  mseLoss, l1Loss, smoothL1Loss, huberLoss, crossEntropy, nllLoss, binaryCrossEntropy, binaryCrossEntropyWithLogits, klDiv,
  cosineEmbeddingLoss,
} from './losses.js';
export type { Reduction, ClassLossOptions, CrossEntropyOptions } from './losses.js';
export {
  MSELoss, L1Loss, SmoothL1Loss, HuberLoss, CrossEntropyLoss, NLLLoss, BCELoss, BCEWithLogitsLoss, KLDivLoss, CosineEmbeddingLoss,
} from './loss-modules.js';
export type { LossOptions } from './loss-modules.js';
export { ModuleList, ModuleDict, ParameterList, Identity } from './containers.js';
export { SiLU, ELU, SELU, ReLU6, Hardsigmoid, Hardswish, Mish, Softsign, Softplus, GLU, PReLU, Softmax, LogSoftmax } from './activation-layers.js';
export { rmsNorm, RMSNorm, MultiheadAttention } from './transformer-layers.js';
export type { MultiheadAttentionOptions, MultiheadAttentionCallOptions } from './transformer-layers.js';
export * as init from './init.js';
export {
  Conv1d, Conv2d, ConvTranspose2d, MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d,
  BatchNorm1d, BatchNorm2d, GroupNorm, Flatten, Unflatten, LeakyReLU, Dropout2d,
} from './cnn-layers.js';
export type { ConvModuleOptions, ConvTransposeModuleOptions, BatchNormModuleOptions } from './cnn-layers.js';
export * as utils from './utils.js';
