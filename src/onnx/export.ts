// kiln.onnx.export: traces a function (or module) like compile() does, then writes each primitive of
// the traced graph through the `onnx` rule beside its gradient rule in the op registry. A graph break
// (a value read in JavaScript) is an export error, as in torch.export.
import { create, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProtoSchema, AttributeProto_AttributeType, GraphProtoSchema, ModelProtoSchema, NodeProtoSchema, OperatorSetIdProtoSchema,
  TensorShapeProtoSchema, TensorShapeProto_DimensionSchema, TypeProtoSchema, TypeProto_TensorSchema, ValueInfoProtoSchema,
  type AttributeProto, type NodeProto, type TensorProto, type ValueInfoProto,
} from 'onnx-buf';
import type { DType } from '../core/dtype.js';
import { KilnError, fmtShape } from '../core/errors.js';
import { sizeOf } from '../core/shape.js';
import { noGrad } from '../autograd.js';
import { setTracer } from '../dispatch.js';
import { Module } from '../nn/module.js';
import { OPS } from '../ops/index.js';
import type { Meta, OnnxAttr, OnnxEmitter } from '../ops/types.js';
import { Tensor } from '../tensor.js';
import type { Graph, GraphNode } from '../../compiler/graph.js';
import { deadCodeElimination } from '../../compiler/passes.js';
import { Trace } from '../../compiler/trace.js';
import { HostTensor, elemTypeOf } from './host.js';
import { protoFromHost } from './proto.js';
import { OnnxModule } from './module.js';

export interface ExportOptions {
  /** The opset version written (default 18; at least 13). */
  opset?: number;
  /** Names of the graph inputs, in argument order (default: an OnnxModule's own, else input_0 ...). */
  inputNames?: readonly string[];
  /** Names of the graph outputs (default: an OnnxModule's own, else output_0 ...). */
  outputNames?: readonly string[];
  /**
   * Dims of inputs and outputs that may change size, by name: dim index -> symbolic name (or a list of
   * dim indices). The function is traced at a second size of each: the ops whose attributes depend on
   * a dynamic size are written to follow it, and an error names an op that bakes the size in.
   */
  dynamicAxes?: Readonly<Record<string, Readonly<Record<number, string>> | readonly number[]>>;
}

const MIN_OPSET = 13;
const ATTR_TYPES = AttributeProto_AttributeType;

function attribute(name: string, v: OnnxAttr): AttributeProto {
  if ('int' in v) return create(AttributeProtoSchema, { name, type: ATTR_TYPES.INT, i: BigInt(v.int) });
  if ('float' in v) return create(AttributeProtoSchema, { name, type: ATTR_TYPES.FLOAT, f: v.float });
  if ('string' in v) return create(AttributeProtoSchema, { name, type: ATTR_TYPES.STRING, s: new TextEncoder().encode(v.string) });
  if ('ints' in v) return create(AttributeProtoSchema, { name, type: ATTR_TYPES.INTS, ints: v.ints.map((x) => BigInt(x)) });
  return create(AttributeProtoSchema, { name, type: ATTR_TYPES.FLOATS, floats: [...v.floats] });
}

/** Collects the nodes and initializers of the graph being written, with unique names. */
class Builder implements OnnxEmitter {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly constants = new Map<string, string>();
  private readonly used = new Set<string>();
  private count = 0;

  constructor(readonly opset: number) {}

  /** A fresh name with a prefix. */
  fresh(prefix: string): string {
    let name = prefix;
    while (this.used.has(name)) name = `${prefix}_${++this.count}`;
    this.used.add(name);
    return name;
  }
  claim(name: string): void { this.used.add(name); }

  node(opType: string, inputs: readonly string[], attrs: Readonly<Record<string, OnnxAttr>> = {}, outputs = 1): string[] {
    const outs = Array.from({ length: outputs }, () => this.fresh(`${opType.toLowerCase()}_out`));
    this.nodes.push(create(NodeProtoSchema, {
      opType, name: this.fresh(opType), input: [...inputs], output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    }));
    return outs;
  }

  initializer(h: HostTensor, prefix: string, dedupe: boolean): string {
    const key = dedupe ? `${h.type}:${h.shape.join(',')}:${Array.from(h.data).join(',')}` : '';
    if (dedupe && this.constants.has(key)) return this.constants.get(key)!;
    const name = this.fresh(prefix);
    this.initializers.push(protoFromHost(h, name));
    if (dedupe) this.constants.set(key, name);
    return name;
  }

  int64s(values: readonly number[], shape: readonly number[] = [values.length]): string {
    return this.initializer(new HostTensor(7, shape, values), 'const', values.length <= 64);
  }

  scalar(value: number, dtype: DType): string {
    return this.initializer(new HostTensor(elemTypeOf(dtype), [], [value]), 'const', true);
  }

  elemType(dtype: DType): number { return elemTypeOf(dtype); }
}

function valueInfo(name: string, dtype: DType, shape: readonly number[], symbolic: ReadonlyMap<number, string> | undefined): ValueInfoProto {
  const dim = shape.map((d, i) => create(TensorShapeProto_DimensionSchema, {
    value: symbolic?.has(i) ? { case: 'dimParam', value: symbolic.get(i)! } : { case: 'dimValue', value: BigInt(d) },
  }));
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: elemTypeOf(dtype), shape: create(TensorShapeProtoSchema, { dim }) }) } }),
  });
}

/** The traced graph of `fn` on `args` (fullgraph: a break throws), with its output tensors' ids. */
function traceGraph(fn: (...a: Tensor[]) => unknown, args: readonly Tensor[], backend: Tensor['backend']): { graph: Graph; outputs: number } {
  const argPaths = new Map<Tensor, string>();
  args.forEach((t, i) => { if (!argPaths.has(t)) argPaths.set(t, String(i)); });
  const refuse = () => { throw new KilnError('onnx.export: the traced function needed a value in JavaScript (a graph break), which an ONNX graph cannot express'); };
  const trace = new Trace(backend, true, argPaths, refuse, fn.name || 'exported');
  const prev = setTracer(trace);
  let ids: number[];
  let count: number;
  try {
    const ret = noGrad(() => fn(...args));
    const outs = flattenOutputs(ret);
    count = outs.length;
    ids = outs.map((t) => trace.idOf(t));
  } catch (e) {
    if (e instanceof Error && e.name === 'GraphBreakError') e.message = `onnx.export: ${e.message.replace('graph break in fullgraph mode', 'the function needs a concrete value in JavaScript (a graph break), which an ONNX graph cannot express')}`;
    throw e;
  } finally {
    setTracer(prev);
    trace.done = true;
  }
  if (trace.mutations.size) {
    const shapes = [...trace.mutations.values()].map(([t]) => fmtShape(t.shape)).join(', ');
    throw new KilnError(`onnx.export: the function writes tensors from outside it in place (${shapes}; a batch norm's running statistics in training mode?); export in eval mode, or return the new values instead`);
  }
  return { graph: deadCodeElimination(trace.graphFor(ids)), outputs: count };
}

function flattenOutputs(v: unknown): Tensor[] {
  if (v instanceof Tensor) return [v];
  if (Array.isArray(v)) return v.flatMap(flattenOutputs);
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) return Object.values(v).flatMap(flattenOutputs);
  throw new KilnError(`onnx.export: the function must return tensors (or arrays or objects of them), got ${v === null ? 'null' : typeof v}`);
}

/** Writes each graph node through its op's onnx rule; returns the value name of every node. */
function emitGraph(g: Graph, b: Builder, inputNames: readonly string[], paramNames: ReadonlyMap<Tensor, string>): Map<number, string> {
  const names = new Map<number, string>();
  let params = 0;
  for (const n of g.nodes) names.set(n.id, emitNode(n));
  return names;

  function emitNode(n: GraphNode): string {
    switch (n.kind) {
      case 'input': {
        const s = n.source;
        if (s.kind === 'arg') return inputNames[Number(s.path)];
        if (s.kind === 'captured') {
          const name = paramNames.get(s.tensor) ?? `param_${params++}`;
          return b.initializer(HostTensor.fromTensor(s.tensor), name, false);
        }
        throw new KilnError(`onnx.export: a ${s.kind} value cannot be exported`);
      }
      case 'const': {
        if (n.scalar !== undefined && n.shape.length === 0) return b.scalar(n.scalar, n.dtype);
        return b.initializer(HostTensor.fromTensor(n.value!), 'const', n.value!.size <= 64);
      }
      case 'random':
        throw new KilnError(`onnx.export: the function draws random numbers (${n.random}${n.loc ? ` at ${n.loc}` : ''}; dropout while training?); call eval() before exporting`);
      case 'op': {
        // An empty result is a constant (onnxruntime mishandles some ops on zero-size operands).
        if (sizeOf(n.shape) === 0) return b.node('Expand', [b.scalar(0, n.dtype), b.int64s(n.shape)])[0];
        const def = OPS[n.op];
        const metas: Meta[] = n.inputs.map((i) => { const m = g.nodes[i]; return { shape: m.shape, dtype: m.dtype }; });
        let ins = n.inputs.map((i) => names.get(i)!);
        let opMetas = metas;
        if (def.kind === 'elementwise') {
          // Operands are cast to the dtypes the op computes in, as kiln's lowering does.
          const want = def.operandDTypes(metas, n.attrs as never);
          ins = ins.map((x, i) => (metas[i].dtype === want[i] ? x : b.node('Cast', [x], { to: { int: elemTypeOf(want[i]) } })[0]));
          opMetas = metas.map((m, i) => ({ shape: m.shape, dtype: want[i] }));
        }
        const rule = def.onnx as (e: OnnxEmitter, ins: readonly string[], attrs: unknown, meta: { inputs: readonly Meta[]; output: Meta }) => string;
        return rule(b, ins, n.attrs, { inputs: opMetas, output: { shape: n.shape, dtype: n.dtype } });
      }
    }
  }
}

/** The tensors of a module by object, named as in its stateDict (an OnnxModule's initializer names). */
function parameterNames(m: Module | null): Map<Tensor, string> {
  const out = new Map<Tensor, string>();
  if (m) for (const [k, t] of m.namedTensors()) if (!out.has(t)) out.set(t, k);
  return out;
}

/** Exports a function or module, traced on example arguments, as an ONNX model (bytes). */
export function exportModel(target: ((...args: Tensor[]) => unknown) | Module, exampleArgs: Tensor | readonly Tensor[], opts: ExportOptions = {}): Uint8Array {
  const args = exampleArgs instanceof Tensor ? [exampleArgs] : [...exampleArgs];
  args.forEach((a, i) => { if (!(a instanceof Tensor)) throw new KilnError(`onnx.export: example argument ${i} must be a Tensor`); });
  if (args.length === 0) throw new KilnError('onnx.export: give at least one example input tensor');
  const opset = opts.opset ?? 18;
  if (!Number.isInteger(opset) || opset < MIN_OPSET) throw new KilnError(`onnx.export: opset ${opset} is not supported (kiln writes opset ${MIN_OPSET} or newer; 18 by default)`);
  const module = target instanceof Module ? target : null;
  const fn = module ? (...xs: Tensor[]) => module.forward(...xs) : (target as (...args: Tensor[]) => unknown);
  if (typeof fn !== 'function') throw new KilnError('onnx.export: expected a function or an nn.Module');
  const backend = args[0].backend;
  const { graph, outputs } = traceGraph(fn, args, backend);

  const defaultIn = module instanceof OnnxModule && module.inputNames.length === args.length ? module.inputNames : args.map((_, i) => `input_${i}`);
  const defaultOut = module instanceof OnnxModule && module.outputNames.length === outputs ? module.outputNames : Array.from({ length: outputs }, (_, i) => `output_${i}`);
  const inputNames = opts.inputNames ?? defaultIn;
  const outputNames = opts.outputNames ?? defaultOut;
  if (inputNames.length !== args.length) throw new KilnError(`onnx.export: ${inputNames.length} input names for ${args.length} inputs`);
  if (outputNames.length !== outputs) throw new KilnError(`onnx.export: ${outputNames.length} output names for ${outputs} outputs`);
  const all = [...inputNames, ...outputNames];
  const dup = all.find((n, i) => all.indexOf(n) !== i);
  if (dup !== undefined) throw new KilnError(`onnx.export: the name '${dup}' is used twice among inputs and outputs`);
  const dynamic = symbolicDims(opts.dynamicAxes, new Set(all));

  const b = new Builder(opset);
  for (const n of all) b.claim(n);
  const names = emitGraph(graph, b, inputNames, parameterNames(module));
  graph.outputs.forEach((id, i) => {
    b.nodes.push(create(NodeProtoSchema, { opType: 'Identity', name: b.fresh('output'), input: [names.get(id)!], output: [outputNames[i]] }));
  });
  const nodeOf = (id: number) => graph.nodes[id];
  const model = create(ModelProtoSchema, {
    irVersion: 8n,
    producerName: 'kiln',
    producerVersion: '0.1.0',
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(opset) })],
    graph: create(GraphProtoSchema, {
      name: fn.name || 'kiln_graph',
      node: b.nodes,
      initializer: b.initializers,
      input: args.map((t, i) => valueInfo(inputNames[i], t.dtype, t.shape, dynamic.get(inputNames[i]))),
      output: graph.outputs.map((id, i) => valueInfo(outputNames[i], nodeOf(id).dtype, nodeOf(id).shape, dynamic.get(outputNames[i]))),
    }),
  });
  return toBinary(ModelProtoSchema, model);
}

/** dynamicAxes as name -> (dim -> symbol). */
function symbolicDims(spec: ExportOptions['dynamicAxes'], known: ReadonlySet<string>): Map<string, Map<number, string>> {
  const out = new Map<string, Map<number, string>>();
  for (const [name, dims] of Object.entries(spec ?? {})) {
    if (!known.has(name)) throw new KilnError(`onnx.export: dynamicAxes names '${name}', which is not an input or output (${[...known].join(', ')})`);
    const m = new Map<number, string>();
    if (Array.isArray(dims)) dims.forEach((d) => m.set(d, `${name}_dim${d}`));
    else for (const [d, sym] of Object.entries(dims as Record<number, string>)) m.set(Number(d), sym);
    out.set(name, m);
  }
  return out;
}
