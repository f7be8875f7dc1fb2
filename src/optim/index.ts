// torch.optim for kiln: optimizers with parameter groups and state dicts, and lrScheduler.
export { Optimizer } from './optimizer.js';
export type { ParamGroup, ParamGroupSpec, Params, OptimizerStateDict, ZeroGradOptions } from './optimizer.js';
export { SGD } from './sgd.js';
export type { SGDOptions } from './sgd.js';
export { Adam, AdamW } from './adam.js';
export type { AdamOptions } from './adam.js';
export { RMSprop } from './rmsprop.js';
export type { RMSpropOptions } from './rmsprop.js';
export { Adagrad } from './adagrad.js';
export type { AdagradOptions } from './adagrad.js';
export * as lrScheduler from './lr-scheduler.js';
export type { UpdateContext } from './update.js';
export type { OptionSpec, OptionValue } from './options.js';
