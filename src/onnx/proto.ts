// Protobuf I/O through onnx-buf (generated from onnx.proto3 by protoc-gen-es): model and TensorProto
// decoding with the checks a bad file needs, and TensorProto <-> HostTensor conversion.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, TensorProtoSchema, TensorProto_DataLocation, type ModelProto, type TensorProto } from 'onnx-buf';
import { DTypeError, KilnError, fmtShape } from '../core/errors.js';
import { sizeOf } from '../core/shape.js';
import { ElemType, HostTensor, elemTypeName } from './host.js';

/** Resolves an external-data file (relative to the model) to its bytes. */
export type ExternalDataResolver = (location: string, tensor: string) => Uint8Array;

const asBytes = (src: Uint8Array | ArrayBuffer): Uint8Array => (src instanceof Uint8Array ? src : new Uint8Array(src));

/** Decodes a model, refusing what is not one (truncated files, other formats) with a clear error. */
export function decodeModel(src: Uint8Array | ArrayBuffer, what = 'model'): ModelProto {
  const bytes = asBytes(src);
  if (bytes.length === 0) throw new KilnError(`onnx.load: ${what} is empty (0 bytes), not an ONNX model`);
  let model: ModelProto;
  try {
    model = fromBinary(ModelProtoSchema, bytes, { readUnknownFields: false });
  } catch (e) {
    throw new KilnError(`onnx.load: ${what} (${bytes.length} bytes) is not a valid ONNX model (protobuf decoding failed: ${(e as Error).message}); is the file truncated or in another format?`);
  }
  // Protobuf decodes many byte strings "successfully"; a model has an IR version, an opset and a graph.
  if (model.irVersion <= 0n || !model.graph || model.opsetImport.length === 0) {
    const missing = [model.irVersion <= 0n ? 'ir_version' : '', model.opsetImport.length === 0 ? 'opset_import' : '', !model.graph ? 'graph' : ''].filter(Boolean);
    throw new KilnError(`onnx.load: ${what} (${bytes.length} bytes) is not an ONNX model: it has no ${missing.join(', ')}`);
  }
  return model;
}

/** Encodes a model. */
export function encodeModel(model: ModelProto): Uint8Array { return toBinary(ModelProtoSchema, model); }

/** Decodes a serialized TensorProto (a `.pb` file). */
export function decodeTensorProto(src: Uint8Array | ArrayBuffer): TensorProto {
  const bytes = asBytes(src);
  let tp: TensorProto;
  try {
    tp = fromBinary(TensorProtoSchema, bytes, { readUnknownFields: false });
  } catch (e) {
    throw new KilnError(`onnx.readTensor: ${bytes.length} bytes are not a valid TensorProto (${(e as Error).message})`);
  }
  if (tp.dataType === ElemType.UNDEFINED) throw new KilnError(`onnx.readTensor: the TensorProto${tp.name ? ` '${tp.name}'` : ''} has no data type (is this a TensorProto file?)`);
  return tp;
}

const dims = (tp: TensorProto) => tp.dims.map(Number);

/** Reads a little-endian typed view of raw bytes (copied: raw_data need not be aligned). */
function rawView<T>(raw: Uint8Array, width: number, read: (v: DataView, at: number) => T): T[] {
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Array<T>(raw.byteLength / width);
  for (let i = 0; i < out.length; i++) out[i] = read(v, i * width);
  return out;
}

/** float16 bits -> number. */
function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}
/** bfloat16 bits -> number. */
function bf16ToFloat(h: number): number {
  const v = new DataView(new ArrayBuffer(4));
  v.setUint32(0, h << 16);
  return v.getFloat32(0);
}

/** The bytes of a tensor stored outside the model (external data). */
function externalBytes(tp: TensorProto, resolve: ExternalDataResolver | undefined): Uint8Array {
  const kv = Object.fromEntries(tp.externalData.map((e) => [e.key, e.value]));
  const location = kv.location;
  if (!location) throw new KilnError(`onnx.load: tensor '${tp.name}' says its data is external but names no location`);
  if (!resolve) throw new KilnError(`onnx.load: tensor '${tp.name}' keeps its data in the external file '${location}'; load the model from its path (Node) or pass { externalData: { '${location}': bytes } }`);
  const file = resolve(location, tp.name);
  const offset = kv.offset ? Number(kv.offset) : 0;
  const length = kv.length ? Number(kv.length) : file.byteLength - offset;
  if (offset + length > file.byteLength) throw new KilnError(`onnx.load: tensor '${tp.name}' reads bytes ${offset}..${offset + length} of '${location}', which has ${file.byteLength}`);
  return file.subarray(offset, offset + length);
}

/** Converts a TensorProto to a host tensor (values as numbers, element type kept). */
export function hostFromProto(tp: TensorProto, resolve?: ExternalDataResolver, what = `tensor '${tp.name}'`): HostTensor {
  const shape = dims(tp);
  const n = sizeOf(shape);
  const t = tp.dataType;
  const raw = tp.dataLocation === TensorProto_DataLocation.EXTERNAL ? externalBytes(tp, resolve) : tp.rawData;
  const hasRaw = raw.byteLength > 0 || tp.dataLocation === TensorProto_DataLocation.EXTERNAL;
  let data: ArrayLike<number>;
  switch (t) {
    case ElemType.FLOAT: data = hasRaw ? rawView(raw, 4, (v, i) => v.getFloat32(i, true)) : tp.floatData; break;
    case ElemType.DOUBLE: data = hasRaw ? rawView(raw, 8, (v, i) => v.getFloat64(i, true)) : tp.doubleData; break;
    case ElemType.FLOAT16: data = (hasRaw ? rawView(raw, 2, (v, i) => v.getUint16(i, true)) : tp.int32Data).map(halfToFloat); break;
    case ElemType.BFLOAT16: data = (hasRaw ? rawView(raw, 2, (v, i) => v.getUint16(i, true)) : tp.int32Data).map(bf16ToFloat); break;
    case ElemType.INT32: data = hasRaw ? rawView(raw, 4, (v, i) => v.getInt32(i, true)) : tp.int32Data; break;
    case ElemType.INT16: data = hasRaw ? rawView(raw, 2, (v, i) => v.getInt16(i, true)) : tp.int32Data; break;
    case ElemType.UINT16: data = hasRaw ? rawView(raw, 2, (v, i) => v.getUint16(i, true)) : tp.int32Data; break;
    case ElemType.INT8: data = hasRaw ? rawView(raw, 1, (v, i) => v.getInt8(i)) : tp.int32Data; break;
    case ElemType.UINT8: data = hasRaw ? rawView(raw, 1, (v, i) => v.getUint8(i)) : tp.int32Data; break;
    case ElemType.BOOL: data = (hasRaw ? rawView(raw, 1, (v, i) => v.getUint8(i)) : tp.int32Data).map((x) => (x ? 1 : 0)); break;
    case ElemType.INT64: data = (hasRaw ? rawView(raw, 8, (v, i) => v.getBigInt64(i, true)) : tp.int64Data).map(Number); break;
    case ElemType.UINT32: data = hasRaw ? rawView(raw, 4, (v, i) => v.getUint32(i, true)) : tp.uint64Data.map(Number); break;
    case ElemType.UINT64: data = (hasRaw ? rawView(raw, 8, (v, i) => v.getBigUint64(i, true)) : tp.uint64Data).map(Number); break;
    default:
      throw new DTypeError(`onnx: ${what} has element type ${elemTypeName(t)}, which kiln does not support (float32, int32 and bool, and the types that convert to them losslessly)`);
  }
  if (data.length !== n) throw new KilnError(`onnx: ${what} declares shape ${fmtShape(shape)} (${n} values) but holds ${data.length}`);
  return new HostTensor(t, shape, data, tp.name);
}

/** A TensorProto holding a host tensor's data as raw little-endian bytes. */
export function protoFromHost(h: HostTensor, name: string): TensorProto {
  const n = h.size;
  let raw: Uint8Array<ArrayBuffer>;
  const fill = (width: number, write: (v: DataView, at: number, x: number) => void) => {
    raw = new Uint8Array(n * width);
    const v = new DataView(raw.buffer);
    for (let i = 0; i < n; i++) write(v, i * width, h.data[i]);
  };
  switch (h.type) {
    case ElemType.FLOAT: fill(4, (v, i, x) => v.setFloat32(i, x, true)); break;
    case ElemType.DOUBLE: fill(8, (v, i, x) => v.setFloat64(i, x, true)); break;
    case ElemType.INT32: fill(4, (v, i, x) => v.setInt32(i, x, true)); break;
    // int64 sentinels (INT64_MAX) arrive as the double 2^63, one past the range: clamp.
    case ElemType.INT64: fill(8, (v, i, x) => v.setBigInt64(i, x >= 2 ** 63 ? 2n ** 63n - 1n : BigInt(x), true)); break;
    case ElemType.BOOL: fill(1, (v, i, x) => v.setUint8(i, x ? 1 : 0)); break;
    default: throw new DTypeError(`onnx: cannot write element type ${elemTypeName(h.type)} (${name})`);
  }
  return create(TensorProtoSchema, { name, dataType: h.type, dims: h.shape.map((d) => BigInt(d)), rawData: raw! });
}

/** Serializes a TensorProto. */
export function encodeTensorProto(tp: TensorProto): Uint8Array { return toBinary(TensorProtoSchema, tp); }
