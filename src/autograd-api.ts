// kiln.autograd, as torch.autograd: the functional gradient API.
export { grad, backward } from './grad.js';
export type { GradOptions, BackwardOptions } from './grad.js';
