// torch.optim for kiln.
export { Optimizer, SGD, Adam, AdamW } from './optimizer.js';
