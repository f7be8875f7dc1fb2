// The ONNX conformance suite run eagerly on the cpu and wasm backends (see suite.ts).
import { conformanceSuite } from './suite.js';

await conformanceSuite([{ backend: 'cpu', compiled: false }, { backend: 'wasm', compiled: false }]);
