// The import handlers: one per ONNX op, keyed by (domain, op type, the opset version it is defined
// since). A model's opset picks, for each op, the newest handler not newer than it, so an op whose
// meaning changed (Softmax at 13, Slice at 10, Squeeze at 13 ...) has one handler per meaning.
import type { BackendName } from '../core/backend.js';
import type { AttributeProto, GraphProto } from 'onnx-buf';
import type { Tensor } from '../tensor.js';
import type { HostTensor } from './host.js';

/** A value flowing through an imported graph: a kiln tensor, or a value known on the host. */
export type Value = Tensor | HostTensor;

/** Typed access to a node's attributes, with defaults; a missing required one is an error naming it. */
export interface AttrReader {
  has(name: string): boolean;
  int(name: string, def?: number): number;
  float(name: string, def?: number): number;
  string(name: string, def?: string): string;
  ints(name: string, def?: readonly number[]): number[];
  floats(name: string, def?: readonly number[]): number[];
  tensor(name: string): HostTensor;
  graph(name: string): GraphProto;
  raw(name: string): AttributeProto | undefined;
}

/** What a handler sees of one node while it runs. */
export interface OpContext {
  readonly opType: string;
  /** The opset version of the node's domain in this model. */
  readonly opset: number;
  /** The backend tensors are made on. */
  readonly backend: BackendName;
  readonly attrs: AttrReader;
  /** Number of inputs listed (omitted optional ones included). */
  readonly inputCount: number;
  /** Number of outputs the node names (some may be ''). */
  readonly outputCount: number;
  /** Whether output i is used (named). */
  wantsOutput(i: number): boolean;
  /** Whether input i was given (not omitted). */
  has(i: number): boolean;
  /** Input i as a kiln tensor (host values are converted, checked to fit kiln's dtypes). */
  tensor(i: number): Tensor;
  /** Input i as a host value (a kiln tensor is read: a graph break inside compile()). */
  host(i: number): HostTensor;
  /** Input i as it is. */
  value(i: number): Value;
  /** The ONNX element type of input i (host values keep theirs; tensors report kiln's). */
  elemType(i: number): number;
  /** Runs a subgraph attribute (If, Loop) with extra named values in scope; returns its outputs. */
  runGraph(g: GraphProto, bindings: ReadonlyMap<string, Value>): Value[];
  /** Raises an error naming this node. */
  fail(message: string): never;
  /** Raises an OnnxUnsupportedError naming this node (a feature kiln lacks, not a malformed model). */
  unsupported(message: string): never;
}

export interface OpHandler {
  /** The opset version this meaning of the op is defined since. */
  readonly since: number;
  /** Inputs read as values (shapes, axes, pads ...): initializers feeding them stay host constants. */
  readonly hostInputs?: readonly number[];
  /**
   * Pure host evaluation, tried when every given input is a host value (shape arithmetic such as
   * Shape -> Gather -> Concat -> Reshape, so tracing sees static shapes). null: not on the host.
   */
  readonly host?: (ctx: OpContext) => (HostTensor | null)[] | null;
  /** Computes the outputs with kiln ops. */
  readonly run: (ctx: OpContext) => (Value | null)[];
  /** Never fold this op on the host even when its inputs are known (random draws). */
  readonly noFold?: boolean;
}

const TABLE = new Map<string, OpHandler[]>();
const key = (domain: string, opType: string) => `${normalizeDomain(domain)}::${opType}`;

/** '' and 'ai.onnx' are the same default domain. */
export function normalizeDomain(domain: string): string { return domain === 'ai.onnx' ? '' : domain; }

/** Registers handlers of one op (one per version its meaning changed at). */
export function register(opType: string, ...handlers: OpHandler[]): void { registerIn('', opType, ...handlers); }

export function registerIn(domain: string, opType: string, ...handlers: OpHandler[]): void {
  const k = key(domain, opType);
  const list = [...(TABLE.get(k) ?? []), ...handlers].sort((a, b) => a.since - b.since);
  TABLE.set(k, list);
}

/** The handler for an op at a model's opset, or undefined (unsupported, or only defined later). */
export function handlerFor(domain: string, opType: string, opset: number): OpHandler | undefined {
  const list = TABLE.get(key(domain, opType));
  if (!list) return undefined;
  let found: OpHandler | undefined;
  for (const h of list) if (h.since <= opset) found = h;
  return found;
}

/** Every registered op: "domain::OpType" -> the versions it has handlers for. */
export function registeredOps(): Map<string, number[]> {
  return new Map([...TABLE].map(([k, hs]) => [k, hs.map((h) => h.since)]));
}

/** The domains kiln reads: ONNX's default one and the preview training domain (its optimizers). */
export const KNOWN_DOMAINS = new Set(['', 'ai.onnx.preview.training']);
