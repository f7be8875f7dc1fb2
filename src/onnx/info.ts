// What `kiln onnx info` prints: a model's opset, producer, inputs and outputs with their shapes,
// parameter count, op histogram, and the ops kiln does not support yet (none of which needs running it).
import type { ModelProto, ValueInfoProto } from 'onnx-buf';
import { sizeOf } from '../core/shape.js';
import { elemTypeName } from './host.js';
import { allNodes, opsetsOf, unsupportedOps } from './module.js';
import { decodeModel } from './proto.js';

export interface ModelInfo {
  readonly irVersion: number;
  readonly opsets: Readonly<Record<string, number>>;
  readonly producer: string;
  readonly graphName: string;
  readonly inputs: readonly { name: string; type: string; shape: (number | string)[] | null }[];
  readonly outputs: readonly { name: string; type: string; shape: (number | string)[] | null }[];
  /** Elements in the initializers (the parameters and constants stored in the file). */
  readonly parameterCount: number;
  readonly initializers: number;
  /** Op type -> node count (subgraphs included), most frequent first. */
  readonly ops: readonly [string, number][];
  /** Ops with no kiln handler at the model's opset -> node count. */
  readonly unsupported: readonly [string, number][];
}

function describeValue(v: ValueInfoProto) {
  const t = v.type?.value;
  if (t?.case !== 'tensorType') return { name: v.name, type: t?.case ?? 'unknown', shape: null };
  const shape = t.value.shape ? t.value.shape.dim.map((d) => (d.value.case === 'dimValue' ? Number(d.value.value) : d.value.case === 'dimParam' ? d.value.value : '?')) : null;
  return { name: v.name, type: elemTypeName(t.value.elemType), shape };
}

/** Summarises a decoded model. */
export function modelInfo(model: ModelProto): ModelInfo {
  const g = model.graph!;
  const inits = new Set(g.initializer.map((t) => t.name));
  const hist = new Map<string, number>();
  for (const n of allNodes(g)) {
    const k = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
    hist.set(k, (hist.get(k) ?? 0) + 1);
  }
  return {
    irVersion: Number(model.irVersion),
    opsets: Object.fromEntries([...opsetsOf(model)].map(([d, v]) => [d || 'ai.onnx', v])),
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    graphName: g.name,
    inputs: g.input.filter((v) => !inits.has(v.name)).map(describeValue),
    outputs: g.output.map(describeValue),
    parameterCount: g.initializer.reduce((s, t) => s + sizeOf(t.dims.map(Number)), 0),
    initializers: g.initializer.length,
    ops: [...hist].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])),
    unsupported: [...unsupportedOps(model)],
  };
}

/** modelInfo of model bytes. */
export function infoOf(bytes: Uint8Array | ArrayBuffer, what = 'model'): ModelInfo {
  return modelInfo(decodeModel(bytes, what));
}

const fmtShape = (s: (number | string)[] | null) => (s ? `[${s.join(', ')}]` : '(unknown shape)');

/** The report as text. */
export function formatInfo(info: ModelInfo): string {
  const lines = [
    `producer:   ${info.producer || '(none)'}${info.graphName ? `   graph: ${info.graphName}` : ''}`,
    `ir version: ${info.irVersion}   opsets: ${Object.entries(info.opsets).map(([d, v]) => `${d} ${v}`).join(', ')}`,
    'inputs:',
    ...info.inputs.map((v) => `  ${v.name}: ${v.type} ${fmtShape(v.shape)}`),
    'outputs:',
    ...info.outputs.map((v) => `  ${v.name}: ${v.type} ${fmtShape(v.shape)}`),
    `parameters: ${info.parameterCount.toLocaleString('en-US')} values in ${info.initializers} initializer(s)`,
    `ops (${info.ops.reduce((s, [, c]) => s + c, 0)} nodes):`,
    ...info.ops.map(([op, c]) => `  ${op.padEnd(28)} ${c}`),
    info.unsupported.length
      ? `not supported by kiln yet: ${info.unsupported.map(([op, c]) => `${op} (${c})`).join(', ')}`
      : 'kiln supports every op of this model',
  ];
  return lines.join('\n');
}
