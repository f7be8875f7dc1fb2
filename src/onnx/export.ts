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
import { describeValue } from '../core/validate.js';
import { sizeOf } from '../core/shape.js';
import { noGrad } from '../autograd.js';
import { setTracer } from '../dispatch.js';
import { Module } from '../nn/module.js';
import { OPS } from '../ops/index.js';
import type { Meta, OnnxAttr, OnnxEmitter } from '../ops/types.js';
import { Tensor } from '../tensor.js';
import { zeros } from '../creation.js';
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

  /** A parameter or buffer: an initializer (loaded back as a trainable parameter when float). */
  initializer(h: HostTensor, name: string): string {
    const unique = this.fresh(name);
    this.initializers.push(protoFromHost(h, unique));
    return unique;
  }

  /** A constant: a Constant node (small equal ones are shared). */
  constant(h: HostTensor): string {
    const key = h.size <= 64 ? `${h.type}:${h.shape.join(',')}:${Array.from(h.data).join(',')}` : '';
    if (key && this.constants.has(key)) return this.constants.get(key)!;
    const name = this.fresh('const');
    const value = create(AttributeProtoSchema, { name: 'value', type: ATTR_TYPES.TENSOR, t: protoFromHost(h, name) });
    this.nodes.push(create(NodeProtoSchema, { opType: 'Constant', name: this.fresh('Constant'), input: [], output: [name], attribute: [value] }));
    if (key) this.constants.set(key, name);
    return name;
  }

  int64s(values: readonly number[], shape: readonly number[] = [values.length]): string {
    return this.constant(new HostTensor(7, shape, values));
  }

  scalar(value: number, dtype: DType): string {
    return this.constant(new HostTensor(elemTypeOf(dtype), [], [value]));
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
  if (trace.written.size) {
    const shapes = [...trace.written.values()].map((base) => fmtShape(base.shape)).join(', ');
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

/** How a node whose attributes follow a dynamic size is written instead of its rule (see dynamicForm). */
type DynamicForm =
  | { readonly kind: 'reshape'; readonly spec: readonly number[] }
  | { readonly kind: 'expand'; readonly shape: readonly number[] }
  | { readonly kind: 'slice'; readonly starts: readonly number[]; readonly ends: readonly number[]; readonly steps: readonly number[] };

/** Writes each graph node through its op's onnx rule; returns the value name of every node and the ONNX nodes each wrote. */
function emitGraph(g: Graph, b: Builder, inputNames: readonly string[], paramNames: ReadonlyMap<Tensor, string>, constants: ReadonlySet<Tensor>, forms: ReadonlyMap<number, DynamicForm>): { names: Map<number, string>; spans: Map<number, [number, number]> } {
  const names = new Map<number, string>();
  const spans = new Map<number, [number, number]>();
  let params = 0;
  for (const n of g.nodes) {
    const start = b.nodes.length;
    names.set(n.id, emitNode(n));
    spans.set(n.id, [start, b.nodes.length]);
  }
  return { names, spans };

  function emitNode(n: GraphNode): string {
    switch (n.kind) {
      case 'input': {
        const s = n.source;
        if (s.kind === 'arg') return inputNames[Number(s.path)];
        if (s.kind === 'captured') {
          // An imported model's constants stay constants; parameters, buffers and captured tensors are initializers.
          if (constants.has(s.tensor)) return b.constant(HostTensor.fromTensor(s.tensor));
          return b.initializer(HostTensor.fromTensor(s.tensor), paramNames.get(s.tensor) ?? `param_${params++}`);
        }
        throw new KilnError(`onnx.export: a ${s.kind} value cannot be exported`);
      }
      case 'const': {
        if (n.scalar !== undefined && n.shape.length === 0) return b.scalar(n.scalar, n.dtype);
        return b.constant(HostTensor.fromTensor(n.value!));
      }
      case 'random':
        throw new KilnError(`onnx.export: the function draws random numbers (${n.random}${n.loc ? ` at ${n.loc}` : ''}; dropout while training?); call eval() before exporting`);
      case 'op': {
        const form = forms.get(n.id);
        const x = names.get(n.inputs[0])!;
        if (form?.kind === 'reshape') return b.node('Reshape', [x, b.int64s(form.spec)])[0];
        if (form?.kind === 'expand') return b.node('Expand', [x, b.int64s(form.shape)])[0];
        if (form?.kind === 'slice') return b.node('Slice', [x, b.int64s(form.starts), b.int64s(form.ends), b.int64s(form.starts.map((_, i) => i)), b.int64s(form.steps)])[0];
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

// ----- dynamic axes --------------------------------------------------------------------------------

const INT64_MAX = 2 ** 63;

/** ONNX Reshape's result for a spec (0 copies the input dim, -1 is inferred). */
function reshapeResult(from: readonly number[], spec: readonly number[]): number[] | null {
  const out = spec.map((d, i) => (d === 0 ? from[i] : d));
  const neg = out.indexOf(-1);
  if (neg >= 0) {
    const known = out.reduce((p, d) => (d === -1 ? p : p * d), 1);
    if (known === 0) return null;
    out[neg] = sizeOf(from) / known;
  }
  return out;
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * A node traced at two sizes whose attributes differ: the form that gives both results (Reshape with 0
 * copying a dim and -1 inferring one, Expand with 1 keeping the input's dim, Slice from the end), or null.
 */
function dynamicForm(n1: Extract<GraphNode, { kind: 'op' }>, n2: Extract<GraphNode, { kind: 'op' }>, in1: readonly number[], in2: readonly number[]): DynamicForm | null {
  if (n1.op === 'reshape') {
    const a1 = (n1.attrs as { shape: number[] }).shape, a2 = (n2.attrs as { shape: number[] }).shape;
    if (a1.length !== a2.length || a1.includes(0)) return null;
    const spec = a1.map((d, i) => (d === a2[i] ? d : i < in1.length && d === in1[i] && a2[i] === in2[i] ? 0 : -1));
    if (spec.filter((d) => d === -1).length > 1) return null;
    const r1 = reshapeResult(in1, spec), r2 = reshapeResult(in2, spec);
    return r1 && r2 && same(r1, a1) && same(r2, a2) ? { kind: 'reshape', spec } : null;
  }
  if (n1.op === 'expand') {
    const t1 = (n1.attrs as { shape: number[] }).shape, t2 = (n2.attrs as { shape: number[] }).shape;
    if (t1.length !== t2.length) return null;
    const lead = t1.length - in1.length;
    const shape = t1.map((d, i) => (d === t2[i] ? d : i >= lead && in1[i - lead] === d && in2[i - lead] === t2[i] ? 1 : -1));
    return shape.includes(-1) ? null : { kind: 'expand', shape };
  }
  if (n1.op === 'slice') {
    type S = { starts: number[]; ends: number[]; steps: number[] };
    const a = n1.attrs as S, b = n2.attrs as S;
    if (!same(a.steps, b.steps)) return null;
    const starts: number[] = [], ends: number[] = [];
    for (let d = 0; d < in1.length; d++) {
      const [s1, s2, e1, e2, m1, m2] = [a.starts[d], b.starts[d], a.ends[d], b.ends[d], in1[d], in2[d]];
      if (s1 === s2) starts.push(s1); else if (s1 - m1 === s2 - m2 && s1 - m1 < 0) starts.push(s1 - m1); else return null;
      if (e1 === e2 && !(e1 === m1 && m1 !== m2)) ends.push(e1);
      else if (e1 === m1 && e2 === m2) ends.push(INT64_MAX);
      else if (e1 - m1 === e2 - m2 && e1 - m1 < 0) ends.push(e1 - m1);
      else return null;
    }
    return { kind: 'slice', starts, ends, steps: a.steps };
  }
  return null;
}

/** Where a node came from, for messages. */
const where = (n: GraphNode) => `${n.kind === 'op' ? n.op : n.kind}${n.loc ? ` at ${n.loc}` : ''}`;

/** Compares two traces at different sizes: the forms of nodes that follow a size, or an error naming the node that bakes one. */
function dynamicForms(g1: Graph, g2: Graph): Map<number, DynamicForm> {
  const fail = (n: GraphNode, why: string): never => {
    throw new KilnError(`onnx.export: dynamicAxes: ${where(n)} ${why}, so the exported graph cannot follow the dynamic size (export with static sizes, or compute it from shapes that stay fixed)`);
  };
  if (g1.nodes.length !== g2.nodes.length) throw new KilnError(`onnx.export: dynamicAxes: the function traces to a different graph at another size (${g1.nodes.length} vs ${g2.nodes.length} nodes): it branches on a dynamic size`);
  const forms = new Map<number, DynamicForm>();
  g1.nodes.forEach((n1, i) => {
    const n2 = g2.nodes[i];
    if (n1.kind !== n2.kind || (n1.kind === 'op' && (n2.kind !== 'op' || n1.op !== n2.op || !same(n1.inputs, n2.inputs)))) fail(n1, 'traces to a different op at another size');
    if (n1.kind === 'const' && n2.kind === 'const') {
      const v1 = n1.scalar ?? (n1.value ? Array.from(n1.value.data()).join() : ''), v2 = n2.scalar ?? (n2.value ? Array.from(n2.value.data()).join() : '');
      if (!same(n1.shape, n2.shape) || v1 !== v2) fail(n1, `is a constant that depends on the size (${n1.scalar !== undefined ? `${n1.scalar} vs ${n2.scalar}: a mean or a count over a dynamic dim?` : 'a tensor made with a dynamic shape'})`);
    }
    if (n1.kind === 'op' && n2.kind === 'op' && JSON.stringify(n1.attrs) !== JSON.stringify(n2.attrs)) {
      const form = dynamicForm(n1, n2, g1.nodes[n1.inputs[0]].shape, g2.nodes[n2.inputs[0]].shape);
      if (!form) fail(n1, `has attributes that depend on the size (${JSON.stringify(n1.attrs)} vs ${JSON.stringify(n2.attrs)})`);
      forms.set(i, form!);
    }
  });
  return forms;
}

/** The tensors of a module by object, named as in its stateDict (an OnnxModule's initializer names). */
function parameterNames(m: Module | null): Map<Tensor, string> {
  const out = new Map<Tensor, string>();
  if (m) for (const [k, t] of m.namedTensors()) if (!out.has(t)) out.set(t, k);
  return out;
}

/** Exports a function or module, traced on example arguments, as an ONNX model (bytes). */
export function exportModel(target: ((...args: Tensor[]) => unknown) | Module, exampleArgs: Tensor | readonly Tensor[], opts: ExportOptions = {}): Uint8Array {
  if (!(exampleArgs instanceof Tensor) && !Array.isArray(exampleArgs)) throw new KilnError(`onnx.export: the example arguments must be a Tensor or an array of them, got ${describeValue(exampleArgs)}`);
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
  const params = parameterNames(module);
  const constants = new Set(module instanceof OnnxModule ? module._constantTensors() : []);

  const emit = (g: Graph, forms: ReadonlyMap<number, DynamicForm>) => {
    const b = new Builder(opset);
    for (const n of all) b.claim(n);
    const { names, spans } = emitGraph(g, b, inputNames, params, constants, forms);
    g.outputs.forEach((id, i) => {
      b.nodes.push(create(NodeProtoSchema, { opType: 'Identity', name: b.fresh('output'), input: [names.get(id)!], output: [outputNames[i]] }));
    });
    return { b, spans };
  };
  const inputDynamic = inputNames.some((n) => dynamic.has(n));
  let forms = new Map<number, DynamicForm>();
  let outShapes2: (readonly number[])[] | null = null;
  if (inputDynamic) {
    // Trace again with every dynamic dim one larger: what differs follows the size, or is an error.
    const alt = alternateArgs(args, inputNames, dynamic);
    const second = traceGraph(fn, alt, backend);
    forms = dynamicForms(graph, second.graph);
    const e1 = emit(graph, forms), e2 = emit(second.graph, forms);
    checkSameEmission(graph, e1, e2);
    outShapes2 = second.graph.outputs.map((id) => second.graph.nodes[id].shape);
  }
  const { b } = emit(graph, forms);
  const nodeOf = (id: number) => graph.nodes[id];
  // Output dims that changed with the input sizes are symbolic too (named after the output unless given).
  graph.outputs.forEach((id, i) => {
    if (!outShapes2) return;
    const s1 = nodeOf(id).shape, s2 = outShapes2[i];
    const m = dynamic.get(outputNames[i]) ?? new Map<number, string>();
    s1.forEach((d, k) => { if (d !== s2[k] && !m.has(k)) m.set(k, `${outputNames[i]}_dim${k}`); });
    if (m.size) dynamic.set(outputNames[i], m);
  });
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

/** The example arguments with every dynamic dim one larger (zeros: a trace does not read values). */
function alternateArgs(args: readonly Tensor[], inputNames: readonly string[], dynamic: ReadonlyMap<string, ReadonlyMap<number, string>>): Tensor[] {
  const sizeOfSymbol = new Map<string, number>();
  return args.map((t, i) => {
    const dims = dynamic.get(inputNames[i]);
    if (!dims) return t;
    const shape = t.shape.map((d, k) => {
      const sym = dims.get(k);
      if (sym === undefined) return d;
      if (k >= t.ndim) throw new KilnError(`onnx.export: dynamicAxes: input '${inputNames[i]}' has no dim ${k} (shape ${fmtShape(t.shape)})`);
      if (d < 2) throw new KilnError(`onnx.export: dynamicAxes: dim ${k} of input '${inputNames[i]}' has size ${d} in the example; give an example of size 2 or more (sizes 0 and 1 broadcast differently)`);
      const known = sizeOfSymbol.get(sym);
      if (known !== undefined && known !== d) throw new KilnError(`onnx.export: dynamicAxes: '${sym}' is ${known} in one input and ${d} in '${inputNames[i]}'`);
      sizeOfSymbol.set(sym, d);
      return d + 1;
    });
    for (const k of dims.keys()) if (k >= t.ndim) throw new KilnError(`onnx.export: dynamicAxes: input '${inputNames[i]}' has no dim ${k} (shape ${fmtShape(t.shape)})`);
    return zeros(shape, { dtype: t.dtype, backend: t.backend });
  });
}

/** The two emissions must be the same graph: the first node that differs bakes a dynamic size in. */
function checkSameEmission(g: Graph, e1: { b: Builder; spans: Map<number, [number, number]> }, e2: { b: Builder; spans: Map<number, [number, number]> }): void {
  const bytes = (b: Builder, i: number) => {
    const n = b.nodes[i];
    // Constant nodes carry their values; initializers (parameters) are the same tensors in both traces.
    const consts = n.input.map((x) => b.initializers.find((t) => t.name === x)).map((t) => (t ? `${t.name}:${t.dims.join(',')}` : ''));
    return `${Array.from(toBinary(NodeProtoSchema, n)).join()}|${consts.join('|')}`;
  };
  for (const n of g.nodes) {
    const [a0, a1] = e1.spans.get(n.id)!, [b0, b1] = e2.spans.get(n.id)!;
    const differs = a1 - a0 !== b1 - b0 || Array.from({ length: a1 - a0 }, (_, k) => bytes(e1.b, a0 + k) !== bytes(e2.b, b0 + k)).some(Boolean);
    if (differs) throw new KilnError(`onnx.export: dynamicAxes: ${where(n)} is written with sizes that depend on the dynamic dims, so the exported graph cannot follow them (export with static sizes)`);
  }
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
