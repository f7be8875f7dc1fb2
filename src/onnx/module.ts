// OnnxModule: an imported model as an nn.Module. Its float initializers are named parameters (so
// stateDict(), optimizers, compile() and backward() see them); forward() runs the graph through the
// interpreter with kiln ops.
import type { GraphProto, ModelProto, NodeProto, ValueInfoProto } from 'onnx-buf';
import type { BackendName } from '../core/backend.js';
import { currentBackend } from '../core/backend.js';
import { DTypeError, KilnError, ShapeError, fmtShape } from '../core/errors.js';
import { describeValue } from '../core/validate.js';
import { Module } from '../nn/module.js';
import { Tensor } from '../tensor.js';
import { HostTensor, elemTypeName, kilnDTypeOf } from './host.js';
import { constantOf, markPersistent, runGraph, toTensor, type RunEnv } from './interpreter.js';
import { decodeModel, hostFromProto, type ExternalDataResolver } from './proto.js';
import { KNOWN_DOMAINS, handlerFor, normalizeDomain, type OpHandler, type Value } from './registry.js';
import './ops/index.js';

export interface LoadOptions {
  /** Backend the parameters live on (default: the current backend). */
  backend?: BackendName;
  /** Load float initializers as trainable parameters (default true) or as constants. */
  trainable?: boolean;
  /** Bytes of external-data files by location, for a model given as bytes. */
  externalData?: Readonly<Record<string, Uint8Array>>;
}

/** A declared graph input or output: name, element type and dims (a number, or a symbolic name). */
export interface ValueInfo {
  readonly name: string;
  readonly elemType: string;
  readonly shape: readonly (number | string)[] | null;
}

function valueInfo(v: ValueInfoProto): ValueInfo & { type: number } {
  const t = v.type?.value;
  if (t?.case !== 'tensorType') return { name: v.name, elemType: t?.case ? `${t.case}` : 'unknown', shape: null, type: 0 };
  const shape = t.value.shape ? t.value.shape.dim.map((d) => (d.value.case === 'dimValue' ? Number(d.value.value) : d.value.case === 'dimParam' ? d.value.value : '?')) : null;
  return { name: v.name, elemType: elemTypeName(t.value.elemType), shape, type: t.value.elemType };
}

/** Every node of a graph and of its subgraphs (If branches, Loop bodies). */
export function allNodes(g: GraphProto): NodeProto[] {
  const out: NodeProto[] = [];
  for (const n of g.node) {
    out.push(n);
    for (const a of n.attribute) {
      if (a.g) out.push(...allNodes(a.g));
      for (const sg of a.graphs) out.push(...allNodes(sg));
    }
  }
  return out;
}

/** The opset version of each domain a model imports. */
export function opsetsOf(model: ModelProto): Map<string, number> {
  return new Map(model.opsetImport.map((o) => [normalizeDomain(o.domain), Number(o.version)]));
}

/** Ops a model uses that kiln cannot run, as "Op" -> count (domains other than ONNX's are named). */
export function unsupportedOps(model: ModelProto): Map<string, number> {
  const opsets = opsetsOf(model);
  const missing = new Map<string, number>();
  for (const n of allNodes(model.graph!)) {
    const domain = normalizeDomain(n.domain);
    const name = domain ? `${domain}.${n.opType}` : n.opType;
    if (!handlerFor(domain, n.opType, opsets.get(domain) ?? 0)) missing.set(name, (missing.get(name) ?? 0) + 1);
  }
  return missing;
}

export class OnnxModule extends Module {
  /** Names of the graph inputs forward() takes, in order (initializers excluded). */
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Declared types and shapes of the inputs and outputs. */
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  /**
   * Inputs the graph reads as values on the host (shapes, axes, counts). On webgpu, whose reads are
   * asynchronous, give these as cpu or wasm tensors.
   */
  readonly valueInputs: readonly string[];
  /** The default domain's opset version. */
  readonly opset: number;
  /** "producer_name producer_version" of the file. */
  readonly producer: string;
  readonly backend: BackendName;
  private readonly params = new Map<string, Tensor>();
  private readonly constants = new Map<string, HostTensor>();
  /** Values of the main graph's Constant nodes. */
  private readonly nodeConstants: HostTensor[] = [];
  private readonly graph: GraphProto;
  private readonly env: RunEnv;
  private readonly inputTypes: Map<string, number>;

  constructor(readonly model: ModelProto, opts: LoadOptions & { resolve?: ExternalDataResolver } = {}) {
    super();
    if (model === null || typeof model !== 'object' || !model.graph) {
      throw new KilnError(`OnnxModule: expected a decoded ONNX model with a graph (onnx.load makes one from bytes or a path), got ${describeValue(model)}`);
    }
    this.graph = model.graph;
    this.backend = opts.backend ?? currentBackend();
    const opsets = opsetsOf(model);
    // A model of other domains only (the training optimizers) may import no default-domain opset.
    this.opset = opsets.get('') ?? 0;
    this.producer = [model.producerName, model.producerVersion].filter(Boolean).join(' ');
    // Every problem is listed at once: unknown domains, then ops without a handler.
    const nodes = allNodes(this.graph);
    const unknownDomains = [...new Set(nodes.map((n) => normalizeDomain(n.domain)).filter((d) => !KNOWN_DOMAINS.has(d)))];
    const missing = unsupportedOps(model);
    if (unknownDomains.length || missing.size) {
      const parts = [];
      if (unknownDomains.length) parts.push(`unknown opset domain${unknownDomains.length > 1 ? 's' : ''} ${unknownDomains.map((d) => `'${d}'`).join(', ')} (kiln reads the default ONNX domain)`);
      const ops = [...missing].filter(([k]) => !k.includes('.') || !unknownDomains.some((d) => k.startsWith(`${d}.`)));
      if (ops.length) parts.push(`ops kiln does not support yet at opset ${this.opset}: ${ops.map(([k, c]) => `${k} (${c} node${c > 1 ? 's' : ''})`).join(', ')}`);
      throw new KilnError(`onnx.load: cannot run this model: ${parts.join('; ')}`);
    }
    const handlers = new WeakMap<NodeProto, OpHandler>();
    for (const n of nodes) handlers.set(n, handlerFor(normalizeDomain(n.domain), n.opType, opsets.get(normalizeDomain(n.domain)) ?? 0)!);
    this.env = { backend: this.backend, opsets, handlers };

    // Initializers read as values (shapes, axes) stay host constants; other float ones are parameters.
    const hostSlots = new Set<string>();
    for (const n of nodes) for (const i of handlers.get(n)!.hostInputs ?? []) if (n.input[i]) hostSlots.add(n.input[i]);
    const trainable = opts.trainable ?? true;
    for (const init of this.graph.initializer) {
      const h = hostFromProto(init, opts.resolve ?? externalFrom(opts.externalData), `initializer '${init.name}'`);
      if (kilnDTypeOf(h.type) === 'float32' && !hostSlots.has(init.name)) {
        const t = h.toTensor(this.backend, `initializer '${init.name}'`);
        if (trainable) t.requiresGrad_(true);
        this.params.set(init.name, t);
      } else {
        this.constants.set(init.name, markPersistent(h));
      }
    }
    // Constants that feed tensor slots are made now, before any trace: every compiled or exported
    // trace then sees the same captured tensor (one made during a trace would be that trace's constant).
    const tensorSlots = new Set<string>();
    for (const n of nodes) n.input.forEach((x, i) => { if (x && !handlers.get(n)!.hostInputs?.includes(i)) tensorSlots.add(x); });
    for (const [name, h] of this.constants) {
      if (!tensorSlots.has(name)) continue;
      try { toTensor(h, this.backend, `initializer '${name}'`); } catch { /* too wide for kiln: an error names it if a node needs it as a tensor */ }
    }
    for (const n of this.graph.node) {
      if (n.opType !== 'Constant' || normalizeDomain(n.domain) !== '' || !n.attribute.some((a) => a.name === 'value' && a.t)) continue;
      const h = constantOf(n.attribute.find((a) => a.name === 'value')!, `Constant '${n.output[0]}'`);
      this.nodeConstants.push(h);
      if (!tensorSlots.has(n.output[0])) continue;
      try { toTensor(h, this.backend, `Constant '${n.output[0]}'`); } catch { /* as above */ }
    }
    if (this.graph.sparseInitializer.length) throw new KilnError(`onnx.load: sparse initializers are not supported (${this.graph.sparseInitializer.length} in the model)`);
    const infos = this.graph.input.map(valueInfo);
    const inputs = infos.filter((v) => !this.params.has(v.name) && !this.constants.has(v.name));
    this.inputs = inputs.map(({ name, elemType, shape }) => ({ name, elemType, shape }));
    this.inputTypes = new Map(inputs.map((v) => [v.name, v.type]));
    this.inputNames = inputs.map((v) => v.name);
    this.valueInputs = this.inputNames.filter((n) => hostSlots.has(n));
    this.outputs = this.graph.output.map(valueInfo).map(({ name, elemType, shape }) => ({ name, elemType, shape }));
    this.outputNames = this.outputs.map((v) => v.name);
  }

  /** The initializers (parameters, or constants with `trainable: false`), by their ONNX names. */
  override namedTensors(prefix = ''): [string, Tensor][] {
    return [...this.params].map(([k, t]) => [prefix + k, t]);
  }

  /** @internal The model's constants made into tensors (export writes them back as constants). */
  _constantTensors(): Tensor[] {
    const out: Tensor[] = [];
    for (const h of [...this.constants.values(), ...this.nodeConstants]) {
      try { out.push(toTensor(h, this.backend, h.name)); } catch { /* never a tensor */ }
    }
    return out;
  }

  /** Runs the graph on inputs in `inputNames` order; one output is returned as a tensor, several as an array. */
  forward(...inputs: Tensor[]): Tensor | Tensor[] {
    if (inputs.length !== this.inputNames.length) {
      throw new KilnError(`OnnxModule.forward: the model takes ${this.inputNames.length} input(s) (${this.inputNames.join(', ')}), got ${inputs.length}`);
    }
    const outs = this.execute(new Map(this.inputNames.map((n, i) => [n, inputs[i]])));
    return outs.length === 1 ? outs[0] : outs;
  }

  /** Runs the graph on named inputs; returns every output by name. */
  run(feeds: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
    const unknown = Object.keys(feeds).filter((k) => !this.inputNames.includes(k));
    const missing = this.inputNames.filter((k) => !(k in feeds));
    if (unknown.length || missing.length) {
      throw new KilnError(`OnnxModule.run: ${missing.length ? `missing input(s) ${missing.join(', ')}` : ''}${missing.length && unknown.length ? '; ' : ''}${unknown.length ? `unknown input(s) ${unknown.join(', ')}` : ''} (the model takes ${this.inputNames.join(', ')})`);
    }
    const outs = this.execute(new Map(Object.entries(feeds)));
    return Object.fromEntries(this.outputNames.map((n, i) => [n, outs[i]]));
  }

  private execute(feeds: Map<string, Tensor>): Tensor[] {
    const scope = new Map<string, Value>();
    for (const [k, h] of this.constants) scope.set(k, h);
    for (const [k, t] of this.params) scope.set(k, t);
    for (const info of this.inputs) {
      const t = feeds.get(info.name)!;
      checkInput(info, this.inputTypes.get(info.name)!, t);
      scope.set(info.name, t);
    }
    const outs = runGraph(this.graph, scope, this.env);
    // Values read on the host may live elsewhere (a cpu input on webgpu): results are on the model's backend.
    return outs.map((v, i) => (v instanceof HostTensor ? v.toTensor(this.backend, `output '${this.outputNames[i]}'`) : v));
  }
}

function checkInput(info: ValueInfo, type: number, t: unknown): void {
  if (!(t instanceof Tensor)) throw new KilnError(`OnnxModule: input '${info.name}' must be a Tensor, got ${t === null ? 'null' : typeof t}`);
  const want = kilnDTypeOf(type);
  if (want && t.dtype !== want) throw new DTypeError(`OnnxModule: input '${info.name}' is declared ${info.elemType} (a ${want} tensor in kiln), got a ${t.dtype} tensor`);
  if (info.shape) {
    const bad = info.shape.length !== t.ndim || info.shape.some((d, i) => typeof d === 'number' && d > 0 && d !== t.shape[i]);
    if (bad) throw new ShapeError(`OnnxModule: input '${info.name}' is declared [${info.shape.join(',')}], got ${fmtShape(t.shape)}`);
  }
}

function externalFrom(files: Readonly<Record<string, Uint8Array>> | undefined): ExternalDataResolver | undefined {
  if (!files) return undefined;
  return (location, tensor) => {
    const f = files[location];
    if (!f) throw new KilnError(`onnx.load: tensor '${tensor}' keeps its data in '${location}', which is not among the externalData given (${Object.keys(files).join(', ') || 'none'})`);
    return f;
  };
}

/** Loads a model from bytes, or (in Node) from a path, whose directory holds its external data. */
export async function load(source: Uint8Array | ArrayBuffer | string, opts: LoadOptions = {}): Promise<OnnxModule> {
  if (typeof source === 'string') {
    const fs = await import('node:fs');
    const path = await import('node:path');
    let bytes: Uint8Array;
    try { bytes = fs.readFileSync(source); } catch (e) { throw new KilnError(`onnx.load: cannot read '${source}': ${(e as Error).message}`); }
    const dir = path.dirname(source);
    const resolve: ExternalDataResolver = (location, tensor) => {
      const file = path.join(dir, location);
      try { return fs.readFileSync(file); } catch { throw new KilnError(`onnx.load: tensor '${tensor}' keeps its data in '${location}', but ${file} cannot be read`); }
    };
    return new OnnxModule(decodeModel(bytes, `'${source}'`), { ...opts, resolve: opts.externalData ? externalFrom(opts.externalData) : resolve });
  }
  return new OnnxModule(decodeModel(source), opts);
}
