// The import interpreter: runs an ONNX graph node by node with kiln ops, so an imported model is
// ordinary kiln code (eager, compile(), autograd). Values known on the host (constants, shapes and
// what is computed from them) stay on the host, so shape arithmetic never reaches the tracer.
import type { AttributeProto, GraphProto, NodeProto, TensorProto } from 'onnx-buf';
import type { BackendName } from '../core/backend.js';
import { getBackend } from '../core/backend.js';
import { KilnError } from '../core/errors.js';
import { noGrad } from '../autograd.js';
import { setTracer } from '../dispatch.js';
import { keep, tidy } from '../tidy.js';
import { Tensor } from '../tensor.js';
import { HostTensor, elemTypeOf, kilnDTypeOf } from './host.js';
import { OnnxUnsupportedError } from './errors.js';
import { hostFromProto } from './proto.js';
import { handlerFor, normalizeDomain, type AttrReader, type OpContext, type OpHandler, type Value } from './registry.js';

/** Host values at most this large are folded on the host when all of a node's inputs are known. */
const FOLD_LIMIT = 4096;

const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7 } as const;

/** Tensors made from persistent host constants, per backend (kept alive across tidy scopes). */
const materialized = new WeakMap<HostTensor, Map<BackendName, Tensor>>();
/** Host constants of a loaded model (their tensors are cached). */
const persistent = new WeakSet<HostTensor>();

/** Marks a host value as living as long as its model (its tensor form is cached). */
export function markPersistent(h: HostTensor): HostTensor { persistent.add(h); return h; }

/** The tensor form of a host value on a backend (cached for a model's constants). */
export function toTensor(h: HostTensor, backend: BackendName, what: string): Tensor {
  if (!persistent.has(h)) return h.toTensor(backend, what);
  let m = materialized.get(h);
  if (!m) materialized.set(h, m = new Map());
  let t = m.get(backend);
  if (!t || t._storage?.isFreed) {
    // Made outside any trace, so a compiled function sees it as a captured constant, never a const
    // baked into one trace and replayed after it was freed.
    const prev = setTracer(null);
    try { t = keep(h.toTensor(backend, what)); } finally { setTracer(prev); }
    m.set(backend, t);
  }
  return t;
}

/** Tensor attributes decoded once (Constant values): the same host value on every run. */
const decoded = new WeakMap<AttributeProto, HostTensor>();

/** The host value of a tensor attribute, decoded once and kept with the model. */
export function constantOf(a: AttributeProto, what: string): HostTensor {
  let h = decoded.get(a);
  if (!h) { h = markPersistent(hostFromProto(a.t!, undefined, what)); decoded.set(a, h); }
  return h;
}

const subgraphConstants = new WeakMap<TensorProto, HostTensor>();
function subgraphConstant(t: TensorProto): HostTensor {
  let h = subgraphConstants.get(t);
  if (!h) { h = markPersistent(hostFromProto(t, undefined, `subgraph initializer '${t.name}'`)); subgraphConstants.set(t, h); }
  return h;
}

/** A node's label in messages: its name, or its op type and position. */
export function nodeLabel(node: NodeProto, index: number): string {
  return node.name ? `node '${node.name}' (${node.opType})` : `node ${index} (${node.opType})`;
}

function attrReader(node: NodeProto, label: string, refs: ReadonlyMap<string, AttributeProto> | undefined): AttrReader {
  const byName = new Map<string, AttributeProto>();
  for (const a of node.attribute) {
    // Inside a function body an attribute may refer to one of the call's attributes.
    if (a.refAttrName) { const r = refs?.get(a.refAttrName); if (r) byName.set(a.name, r); } else byName.set(a.name, a);
  }
  const get = (name: string, type: number, def: unknown) => {
    const a = byName.get(name);
    if (!a) {
      if (def === undefined) throw new KilnError(`onnx: ${label} needs attribute '${name}'`);
      return undefined;
    }
    // Some exporters leave the type unset; the field that is filled tells.
    if (a.type !== 0 && a.type !== type) throw new KilnError(`onnx: ${label}: attribute '${name}' has type ${a.type}, expected ${type}`);
    return a;
  };
  return {
    has: (name) => byName.has(name),
    raw: (name) => byName.get(name),
    int: (name, def) => { const a = get(name, ATTR.INT, def); return a ? Number(a.i) : def!; },
    float: (name, def) => { const a = get(name, ATTR.FLOAT, def); return a ? a.f : def!; },
    string: (name, def) => { const a = get(name, ATTR.STRING, def); return a ? new TextDecoder().decode(a.s) : def!; },
    ints: (name, def) => { const a = get(name, ATTR.INTS, def); return a ? a.ints.map(Number) : [...def!]; },
    floats: (name, def) => { const a = get(name, ATTR.FLOATS, def); return a ? [...a.floats] : [...def!]; },
    tensor: (name) => constantOf(get(name, ATTR.TENSOR, undefined)!, `attribute '${name}' of ${label}`),
    graph: (name) => { const a = get(name, ATTR.GRAPH, undefined)!; return a.g!; },
  };
}

/** What a graph run needs from its model. */
export interface RunEnv {
  readonly backend: BackendName;
  /** Opset version per domain. */
  readonly opsets: ReadonlyMap<string, number>;
  /** Resolved handler per node (checked at load). */
  readonly handlers: WeakMap<NodeProto, OpHandler>;
}

/** Runs a graph's nodes over `scope` (inputs and initializers bound by name); returns the named outputs. */
export function runGraph(g: GraphProto, scope: Map<string, Value>, env: RunEnv, outer?: ReadonlyMap<string, Value>): Value[] {
  const lookup = (name: string, label: string): Value => {
    const v = scope.get(name) ?? outer?.get(name);
    if (v === undefined) throw new KilnError(`onnx: ${label} reads '${name}', which no earlier node, input or initializer defines`);
    return v;
  };
  g.node.forEach((node, index) => {
    const label = nodeLabel(node, index);
    const inputs = node.input.map((name) => (name === '' ? null : lookup(name, label)));
    const visible = (): Map<string, Value> => { const m = new Map(outer ?? []); for (const [k, v] of scope) m.set(k, v); return m; };
    const outs = runNode(node, label, inputs, env, visible);
    node.output.forEach((name, i) => {
      if (name === '') return;
      const v = outs[i];
      if (v === undefined || v === null) throw new KilnError(`onnx: ${label} did not produce its output ${i} '${name}'`);
      scope.set(name, v);
    });
  });
  return g.output.map((o) => lookup(o.name, `graph output '${o.name}'`));
}

function handlerOf(node: NodeProto, env: RunEnv, label: string): { h: OpHandler; opset: number } {
  const domain = normalizeDomain(node.domain);
  const opset = env.opsets.get(domain) ?? 0;
  const h = env.handlers.get(node) ?? handlerFor(domain, node.opType, opset);
  if (!h) throw new KilnError(`onnx: ${label}: kiln has no handler for ${domain ? `${domain}.` : ''}${node.opType} at opset ${opset}`);
  return { h, opset };
}

/** Runs one node: host evaluation when its inputs are known, kiln ops otherwise. Errors name the node. */
function runNode(node: NodeProto, label: string, inputs: (Value | null)[], env: RunEnv, visible: () => Map<string, Value>): (Value | null)[] {
  const { h, opset } = handlerOf(node, env, label);
  const given = inputs.filter((v): v is Value => v !== null);
  const allHost = given.every((v) => v instanceof HostTensor);
  try {
    if (allHost && h.host) {
      const ctx = makeContext(node, label, opset, inputs, env.backend, env, visible);
      const outs = h.host(ctx);
      if (outs && outs.every((o, i) => o !== null || !ctx.wantsOutput(i))) return outs;
    }
    const small = given.every((v) => (v as HostTensor).size <= FOLD_LIMIT && (v as HostTensor).dtype !== null);
    if (allHost && small && !h.noFold && given.length > 0 && !node.attribute.some((a) => a.g || a.graphs.length)) return fold(node, label, opset, inputs as (HostTensor | null)[], h, env, visible);
    return h.run(makeContext(node, label, opset, inputs, env.backend, env, visible));
  } catch (e) {
    if (e instanceof Error && !e.message.includes(label)) e.message = e.message.startsWith('onnx: ') ? `onnx: ${label}: ${e.message.slice(6)}` : `onnx: ${label}: ${e.message}`;
    throw e;
  }
}

/** Evaluates a node whose inputs are all small host values with kiln's cpu kernels, outside any trace. */
function fold(node: NodeProto, label: string, opset: number, inputs: (HostTensor | null)[], h: OpHandler, env: RunEnv, visible: () => Map<string, Value>): (Value | null)[] {
  const prev = setTracer(null);
  try {
    return noGrad(() => tidy(() => {
      const outs = h.run(makeContext(node, label, opset, inputs, 'cpu', { ...env, backend: 'cpu' }, visible));
      return outs.map((o) => (o instanceof Tensor ? HostTensor.fromTensor(o, o.dtype === 'int32' ? 7 : elemTypeOf(o.dtype)) : o));
    }, (x): x is Tensor => x instanceof Tensor));
  } finally {
    setTracer(prev);
  }
}

function makeContext(node: NodeProto, label: string, opset: number, inputs: readonly (Value | null)[], backend: BackendName, env: RunEnv, visible: () => Map<string, Value>): OpContext {
  const fail = (message: string): never => { throw new KilnError(`onnx: ${label}: ${message}`); };
  const unsupported = (message: string): never => { throw new OnnxUnsupportedError(`onnx: ${label}: ${message}`); };
  const need = (i: number): Value => {
    const v = inputs[i];
    if (v === null || v === undefined) return fail(`input ${i} is required but not given`);
    return v;
  };
  return {
    opType: node.opType,
    opset,
    backend,
    attrs: attrReader(node, label, undefined),
    inputCount: inputs.length,
    outputCount: node.output.length,
    wantsOutput: (i) => i < node.output.length && node.output[i] !== '',
    has: (i) => inputs[i] !== null && inputs[i] !== undefined,
    value: need,
    tensor: (i) => {
      const v = need(i);
      if (v instanceof HostTensor) return toTensor(v, backend, `input ${i} '${node.input[i]}' of ${label}`);
      if (v.backend !== backend) return v.to(backend);
      return v;
    },
    host: (i) => {
      const v = need(i);
      if (v instanceof HostTensor) return v;
      // A value the graph computes is needed as a number (a shape, axes, a count): read it.
      // On a backend with asynchronous reads that is a data-dependent shape kiln cannot trace there.
      if (!getBackend(v.backend).syncReads) {
        unsupported(`reads input ${i} '${node.input[i]}' as values on the host (a shape, axes or count), but ${v.backend} reads are asynchronous; give the model inputs it is computed from as cpu or wasm tensors, or run the model on cpu or wasm`);
      }
      return HostTensor.fromTensor(v);
    },
    elemType: (i) => {
      const v = need(i);
      return v instanceof HostTensor ? v.type : elemTypeOf(v.dtype);
    },
    runGraph: (g, bindings) => {
      const scope = new Map<string, Value>(bindings);
      // A subgraph's own initializers are constants of the model.
      for (const init of g.initializer) if (!scope.has(init.name)) scope.set(init.name, subgraphConstant(init));
      const inner = visible();
      return runGraph(g, scope, env, inner);
    },
    fail,
    unsupported,
  };
}

export { kilnDTypeOf };
