// The ONNX conformance suite through compile() on the wasm and cpu backends, and a fixed sample of
// the allowlisted cases eagerly and compiled on webgpu where it starts (see suite.ts).
import { readAllowlist, sampleOf } from './conformance.js';
import { conformanceSuite } from './suite.js';

await conformanceSuite([{ backend: 'wasm', compiled: true }, { backend: 'cpu', compiled: true }]);
await conformanceSuite([{ backend: 'webgpu', compiled: false }, { backend: 'webgpu', compiled: true }], sampleOf(readAllowlist(), 20));
