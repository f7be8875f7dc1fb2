// Builds small ONNX models by hand for tests (onnx-buf messages), so each test states its graph.
import { create, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProtoSchema, GraphProtoSchema, ModelProtoSchema, NodeProtoSchema, OperatorSetIdProtoSchema, TensorProtoSchema,
  TensorShapeProtoSchema, TensorShapeProto_DimensionSchema, TypeProtoSchema, TypeProto_TensorSchema, ValueInfoProtoSchema,
  type AttributeProto, type NodeProto, type TensorProto, type ValueInfoProto,
} from 'onnx-buf';

export const FLOAT = 1, INT64 = 7, UINT8 = 2, DOUBLE = 11, BOOL = 9, INT32 = 6;

export function value(name: string, elemType: number, shape: readonly (number | string)[]): ValueInfoProto {
  const dim = shape.map((d) => create(TensorShapeProto_DimensionSchema, { value: typeof d === 'number' ? { case: 'dimValue', value: BigInt(d) } : { case: 'dimParam', value: d } }));
  return create(ValueInfoProtoSchema, { name, type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType, shape: create(TensorShapeProtoSchema, { dim }) }) } }) });
}

type AttrValue = number | readonly number[] | string | { floats: readonly number[] } | { float: number } | TensorProto;

function attr(name: string, v: AttrValue): AttributeProto {
  if (typeof v === 'string') return create(AttributeProtoSchema, { name, type: 3, s: new TextEncoder().encode(v) });
  if (typeof v === 'number') return create(AttributeProtoSchema, { name, type: 2, i: BigInt(v) });
  if (Array.isArray(v)) return create(AttributeProtoSchema, { name, type: 7, ints: v.map((x) => BigInt(x)) });
  if ('floats' in v) return create(AttributeProtoSchema, { name, type: 6, floats: [...(v as { floats: number[] }).floats] });
  if ('float' in v) return create(AttributeProtoSchema, { name, type: 1, f: (v as { float: number }).float });
  return create(AttributeProtoSchema, { name, type: 4, t: v as TensorProto });
}

export function node(opType: string, input: readonly string[], output: readonly string[], attrs: Record<string, AttrValue> = {}, domain = ''): NodeProto {
  return create(NodeProtoSchema, { opType, input: [...input], output: [...output], domain, attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)) });
}

/** A TensorProto with raw little-endian data. */
export function tensorProto(name: string, elemType: number, dims: readonly number[], values: readonly number[]): TensorProto {
  const width = elemType === INT64 || elemType === DOUBLE ? 8 : elemType === UINT8 || elemType === BOOL ? 1 : 4;
  const raw = new Uint8Array(values.length * width);
  const v = new DataView(raw.buffer);
  values.forEach((x, i) => {
    if (elemType === FLOAT) v.setFloat32(i * 4, x, true);
    else if (elemType === DOUBLE) v.setFloat64(i * 8, x, true);
    else if (elemType === INT64) v.setBigInt64(i * 8, BigInt(x), true);
    else if (elemType === INT32) v.setInt32(i * 4, x, true);
    else v.setUint8(i, x);
  });
  return create(TensorProtoSchema, { name, dataType: elemType, dims: dims.map((d) => BigInt(d)), rawData: raw });
}

export interface ModelSpec {
  nodes: NodeProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
  initializers?: TensorProto[];
  opset?: number;
  extraOpsets?: Record<string, number>;
}

export function model(spec: ModelSpec): Uint8Array {
  return toBinary(ModelProtoSchema, create(ModelProtoSchema, {
    irVersion: 8n, producerName: 'kiln-tests', producerVersion: '1',
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(spec.opset ?? 17) }),
      ...Object.entries(spec.extraOpsets ?? {}).map(([domain, v]) => create(OperatorSetIdProtoSchema, { domain, version: BigInt(v) }))],
    graph: create(GraphProtoSchema, { name: 'g', node: spec.nodes, input: spec.inputs, output: spec.outputs, initializer: spec.initializers ?? [] }),
  }));
}
