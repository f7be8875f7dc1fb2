// The ONNX conformance suite through compile() on wasm and cpu (a quarter of the allowlist each, a
// different quarter per mode; every case with KILN_ONNX_FULL=1, as `npm run onnx:conformance` sets
// it), and a fixed sample of the allowlist eagerly and compiled on webgpu where it starts (suite.ts).
import { defaultShare, readAllowlist, sampleOf } from './conformance.js';
import { conformanceSuite } from './suite.js';

await conformanceSuite([{ backend: 'wasm', compiled: true }], defaultShare(2));
await conformanceSuite([{ backend: 'cpu', compiled: true }], defaultShare(3));
await conformanceSuite([{ backend: 'webgpu', compiled: false }, { backend: 'webgpu', compiled: true }], sampleOf(readAllowlist(), 20));
