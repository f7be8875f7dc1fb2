// kiln.onnx: import ONNX models as modules you can run, compile and fine-tune; read and write tensors.
export { load, OnnxModule } from './module.js';
export type { LoadOptions, ValueInfo } from './module.js';
export { readTensor, writeTensor } from './tensor-io.js';
export { exportModel as export } from './export.js';
export type { ExportOptions } from './export.js';
