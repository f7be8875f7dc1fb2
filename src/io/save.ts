// kiln.save / kiln.load: tensors and nested objects of them (module and optimizer state dicts) as
// safetensors. Tensors become the file's tensors, named by their path ("layers.0.weight",
// "state.0.expAvg"); everything else (numbers, strings, booleans, null, the nesting itself) goes into
// __metadata__ so load() rebuilds the same object. A module state dict is a plain safetensors file
// that PyTorch's and Hugging Face's loaders read directly. Files in Node (node:fs is imported lazily,
// so browser bundles never see it); bytes or a Blob everywhere.
import type { BackendName } from '../core/backend.js';
import { currentBackend } from '../core/backend.js';
import { KilnError } from '../core/errors.js';
import { fromTypedArray } from '../creation.js';
import { Tensor } from '../tensor.js';
import { decodeSafetensors, encodeSafetensors, type RawTensor } from './safetensors.js';

/** What save() accepts (checked when saving): tensors, and arrays and plain objects of them and of JSON-like values. */
export type Saveable = Tensor | number | string | boolean | null | undefined | readonly Saveable[] | { readonly [key: string]: Saveable };

/** The metadata key holding kiln's structure (the rest of __metadata__ is free for other tools). */
const STRUCTURE_KEY = 'kiln.structure';
const FORMAT_VERSION = 1;

/**
 * How a value is rebuilt: a tensor by name, an array, an object, or a primitive (non-JSON numbers as
 * strings). Tagged, so no user key can be mistaken for structure.
 */
type Node = { t: string } | { a: Node[] } | { o: Record<string, Node> } | { v: string | number | boolean | null } | { f: 'NaN' | 'Infinity' | '-Infinity' | '-0' } | { u: 1 };

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

/** Splits a value into its structure and its tensors (one file tensor per distinct Tensor object). */
function flatten(root: unknown): { node: Node; tensors: [string, Tensor][] } {
  const tensors: [string, Tensor][] = [];
  const names = new Map<Tensor, string>();
  const used = new Set<string>(['__metadata__']);
  const stack = new Set<object>();
  const nameFor = (t: Tensor, path: string): string => {
    const known = names.get(t);
    if (known !== undefined) return known;
    let name = path === '' ? 'tensor' : path;
    for (let i = 2; used.has(name); i++) name = `${path}#${i}`;
    used.add(name);
    names.set(t, name);
    tensors.push([name, t]);
    return name;
  };
  const walk = (v: unknown, path: string): Node => {
    if (v instanceof Tensor) return { t: nameFor(v, path) };
    if (typeof v === 'number') {
      if (Number.isNaN(v)) return { f: 'NaN' };
      if (v === Infinity) return { f: 'Infinity' };
      if (v === -Infinity) return { f: '-Infinity' };
      if (Object.is(v, -0)) return { f: '-0' };
      return { v };
    }
    if (typeof v === 'string' || typeof v === 'boolean' || v === null) return { v };
    if (v === undefined) return { u: 1 };
    const isPlain = v && typeof v === 'object' && (Array.isArray(v) || [Object.prototype, null].includes(Object.getPrototypeOf(v)));
    if (!isPlain) throw new KilnError(`save: cannot save the ${describe(v)} at ${path || 'the top level'}; save() takes tensors, numbers, strings, booleans, null, arrays and plain objects`);
    if (stack.has(v as object)) throw new KilnError(`save: the object at ${path || 'the top level'} contains itself`);
    stack.add(v as object);
    const join = (k: string) => (path === '' ? k : `${path}.${k}`);
    const node: Node = Array.isArray(v)
      ? { a: v.map((x, i) => walk(x, join(String(i)))) }
      : { o: Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, walk(x, join(k))])) };
    stack.delete(v as object);
    return node;
  };
  const node = walk(root, '');
  return { node, tensors };
}

function rebuild(node: Node, byName: Map<string, Tensor>): unknown {
  if ('t' in node) {
    const t = byName.get(node.t);
    if (!t) throw new KilnError(`load: the structure refers to tensor ${node.t}, which the file does not hold`);
    return t;
  }
  if ('a' in node) return node.a.map((x) => rebuild(x, byName));
  if ('o' in node) return Object.fromEntries(Object.entries(node.o).map(([k, x]) => [k, rebuild(x, byName)]));
  if ('f' in node) return node.f === 'NaN' ? NaN : node.f === 'Infinity' ? Infinity : node.f === '-Infinity' ? -Infinity : -0;
  if ('u' in node) return undefined;
  return node.v;
}

/** Encodes a value as safetensors bytes (tensor data is read asynchronously, so webgpu works too). */
export async function toSafetensors(obj: unknown, metadata: Record<string, string> = {}): Promise<Uint8Array<ArrayBuffer>> {
  const { node, tensors } = flatten(obj);
  const raw: [string, RawTensor][] = [];
  for (const [name, t] of tensors) raw.push([name, { dtype: t.dtype, shape: t.shape, data: await t.dataAsync() }]);
  const meta: Record<string, string> = { format: 'pt', ...metadata, [STRUCTURE_KEY]: JSON.stringify({ version: FORMAT_VERSION, root: node }) };
  return encodeSafetensors(raw, meta);
}

const isNode = (): boolean => typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/**
 * Saves tensors, state dicts (module or optimizer) and nested objects of them in the safetensors
 * format: to a file at `path` (Node), or, without a path, returns the bytes.
 */
export async function save(obj: unknown, path: string): Promise<void>;
export async function save(obj: unknown): Promise<Uint8Array>;
export async function save(obj: unknown, path?: string): Promise<Uint8Array | void> {
  if (path !== undefined && typeof path !== 'string') throw new KilnError(`save: path must be a string, got ${describe(path)}`);
  const bytes = await toSafetensors(obj);
  if (path === undefined) return bytes;
  if (!isNode()) throw new KilnError('save: writing to a path needs Node; in a browser call save(obj) for the bytes or saveBlob(obj) for a Blob');
  const fs = await import('node:fs/promises');
  await fs.writeFile(path, bytes);
}

/**
 * What kiln's signatures say of a Blob: structural, so kiln's declarations type-check without the
 * DOM library (a Blob is one; so is Node's).
 */
export interface BlobLike {
  readonly size: number;
  readonly type: string;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** save() as a Blob (for a download link in a browser). */
export async function saveBlob(obj: unknown): Promise<BlobLike> {
  const bytes = await toSafetensors(obj);
  return new Blob([bytes], { type: 'application/octet-stream' });
}

export interface LoadOptions {
  /** Backend the tensors are created on (default: the current backend). */
  backend?: BackendName;
}

/**
 * Loads what save() wrote (the same nesting of objects, arrays, numbers and tensors), or any
 * safetensors file (an object of its tensors by name; F16/BF16/F64 become float32, other integers
 * int32). Accepts a path (Node), bytes, an ArrayBuffer or a Blob.
 */
export async function load(src: string | Uint8Array | ArrayBuffer | BlobLike, opts: LoadOptions = {}): Promise<any> {
  let bytes: Uint8Array;
  if (typeof src === 'string') {
    if (!isNode()) throw new KilnError('load: reading a path needs Node; in a browser pass the bytes, an ArrayBuffer or a Blob (e.g. from fetch or a file input)');
    const fs = await import('node:fs/promises');
    const buf = await fs.readFile(src).catch((e: unknown) => {
      throw new KilnError(`load: cannot read ${JSON.stringify(src)}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    });
    bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } else if (src instanceof Uint8Array) bytes = src;
  else if (src instanceof ArrayBuffer) bytes = new Uint8Array(src);
  else if (src !== null && typeof src === 'object' && typeof (src as BlobLike).arrayBuffer === 'function') bytes = new Uint8Array(await (src as BlobLike).arrayBuffer());
  else throw new KilnError(`load: expected a path, bytes (Uint8Array), an ArrayBuffer or a Blob, got ${describe(src)}`);
  const { tensors, metadata } = decodeSafetensors(bytes);
  const backend = opts.backend ?? currentBackend();
  const byName = new Map(tensors.map(([name, t]) => [name, fromTypedArray(t.data, t.shape, t.dtype, backend)]));
  const structure = metadata[STRUCTURE_KEY];
  if (structure === undefined) return Object.fromEntries(byName);
  let parsed: { version?: number; root?: Node };
  try { parsed = JSON.parse(structure); } catch { throw new KilnError(`load: the file's ${STRUCTURE_KEY} metadata is not valid JSON`); }
  if (parsed.version !== FORMAT_VERSION || !parsed.root) throw new KilnError(`load: the file's ${STRUCTURE_KEY} has version ${String(parsed.version)}; this kiln reads version ${FORMAT_VERSION}`);
  return rebuild(parsed.root, byName);
}
