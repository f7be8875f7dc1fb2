// The ONNX conformance suite run eagerly: every case on cpu, and on wasm a quarter of the allowlist
// (every case with KILN_ONNX_FULL=1, as `npm run onnx:conformance` sets it; see conformance.ts).
import { defaultShare, everyCase } from './conformance.js';
import { conformanceSuite } from './suite.js';

await conformanceSuite([{ backend: 'cpu', compiled: false }], everyCase);
await conformanceSuite([{ backend: 'wasm', compiled: false }], defaultShare(1));
