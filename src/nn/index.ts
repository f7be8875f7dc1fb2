// torch.nn for kiln: modules and losses.
export { Module } from './module.js';
export { Linear, Sequential, ReLU, GELU, Sigmoid, Tanh, LayerNorm, Embedding, Dropout } from './layers.js';
export { mseLoss, crossEntropy, binaryCrossEntropy } from './losses.js';
