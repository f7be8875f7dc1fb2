// readTensor / writeTensor: TensorProto files (the .pb inputs and outputs of the conformance suite).
import type { BackendName } from '../core/backend.js';
import { currentBackend } from '../core/backend.js';
import { expectTensor, type Tensor } from '../tensor.js';
import { HostTensor, elemTypeOf } from './host.js';
import { decodeTensorProto, encodeTensorProto, hostFromProto, protoFromHost } from './proto.js';

/** Reads a serialized TensorProto into a tensor (int64 -> int32 and double -> float32 when lossless, else an error naming it). */
export function readTensor(bytes: Uint8Array | ArrayBuffer, opts: { backend?: BackendName } = {}): Tensor {
  const tp = decodeTensorProto(bytes);
  return hostFromProto(tp, undefined, `tensor '${tp.name}'`).toTensor(opts.backend ?? currentBackend(), `tensor '${tp.name || 'unnamed'}'`);
}

/** Serializes a tensor as a TensorProto (float32 as FLOAT, int32 as INT32, or INT64 with `{ int64: true }`, bool as BOOL). */
export function writeTensor(t: Tensor, opts: { name?: string; int64?: boolean } = {}): Uint8Array {
  expectTensor('onnx.writeTensor', 'the tensor', t);
  const type = t.dtype === 'int32' && opts?.int64 ? 7 : elemTypeOf(t.dtype);
  return encodeTensorProto(protoFromHost(new HostTensor(type, [...t.shape], t.data()), opts?.name ?? ''));
}
