// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length N, N bytes
// of UTF-8 JSON (per tensor: dtype, shape, data_offsets into the data; an optional __metadata__ map of
// strings), padded with spaces to 8-byte alignment, then the raw little-endian row-major data.
// Encoding and decoding here are pure byte work; save.ts adds kiln's objects, files and Blobs.
import { KilnError } from '../core/errors.js';
import type { DType, TypedArray } from '../core/dtype.js';

/** A tensor's raw contents on their way to or from a file. */
export interface RawTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: TypedArray;
}

/** safetensors' dtype names for kiln's dtypes. */
const TO_FORMAT: Record<DType, string> = { float32: 'F32', int32: 'I32', bool: 'BOOL' };

/** Element sizes of the format's dtypes that load() converts (to float32, int32 or bool). */
const FORMAT_SIZE: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1 };

const MAX_HEADER = 100_000_000; // the reference implementation's limit
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Encodes named tensors and string metadata into safetensors bytes. */
export function encodeSafetensors(tensors: readonly [string, RawTensor][], metadata: Record<string, string>): Uint8Array<ArrayBuffer> {
  // Wider elements first, so every tensor's data starts aligned to its element size.
  const order = [...tensors].sort((a, b) => FORMAT_SIZE[TO_FORMAT[b[1].dtype]] - FORMAT_SIZE[TO_FORMAT[a[1].dtype]]);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of order) {
    const bytes = t.data.length * FORMAT_SIZE[TO_FORMAT[t.dtype]];
    header[name] = { dtype: TO_FORMAT[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) {
    const padded = new Uint8Array(json.length + pad).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const [, t] of order) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (littleEndian || t.data.BYTES_PER_ELEMENT === 1) out.set(bytes, at);
    else writeSwapped(out, at, t.data);
    at += bytes.length;
  }
  return out;
}

function writeSwapped(out: Uint8Array, at: number, data: TypedArray): void {
  const view = new DataView(out.buffer, out.byteOffset + at);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) view.setFloat32(i * 4, data[i], true);
    else view.setInt32(i * 4, data[i], true);
  }
}

/** A decoded file: tensors in header order, and the metadata. */
export interface DecodedSafetensors {
  readonly tensors: [string, RawTensor][];
  readonly metadata: Record<string, string>;
}

const bad = (what: string) => new KilnError(`load: not a valid safetensors file: ${what}`);

/** Decodes and validates safetensors bytes (offsets contiguous, in bounds, sizes matching the shapes). */
export function decodeSafetensors(bytes: Uint8Array): DecodedSafetensors {
  if (bytes.length < 8) throw bad(`${bytes.length} bytes is too short for the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = dv.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER)) throw bad(`header length ${n64} exceeds ${MAX_HEADER} bytes`);
  const n = Number(n64);
  if (8 + n > bytes.length) throw bad(`header length ${n} runs past the end of the ${bytes.length} bytes`);
  let text: string;
  try { text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)); } catch { throw bad('the header is not valid UTF-8'); }
  if (!text.startsWith('{')) throw bad('the header does not start with {');
  let header: unknown;
  try { header = JSON.parse(text); } catch (e) { throw bad(`the header is not valid JSON (${(e as Error).message})`); }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw bad('the header is not a JSON object');
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  let metadata: Record<string, string> = {};
  const entries: { name: string; dtype: string; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (!v || typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) throw bad('__metadata__ must map strings to strings');
      metadata = v as Record<string, string>;
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!e || typeof e !== 'object') throw bad(`entry ${name} is not an object`);
    if (typeof e.dtype !== 'string' || !(e.dtype in FORMAT_SIZE)) throw bad(`tensor ${name} has dtype ${String(e.dtype)}, which kiln cannot read (${Object.keys(FORMAT_SIZE).join(', ')})`);
    if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isInteger(d) || d < 0)) throw bad(`tensor ${name} has an invalid shape ${JSON.stringify(e.shape)}`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || off.some((x) => !Number.isInteger(x) || x < 0) || off[1] < off[0]) throw bad(`tensor ${name} has invalid data_offsets ${JSON.stringify(off)}`);
    const size = (e.shape as number[]).reduce((a, b) => a * b, 1) * FORMAT_SIZE[e.dtype];
    if (off[1] - off[0] !== size) throw bad(`tensor ${name} (${e.dtype}[${(e.shape as number[]).join(',')}]) needs ${size} bytes, its offsets span ${off[1] - off[0]}`);
    entries.push({ name, dtype: e.dtype, shape: e.shape as number[], begin: off[0], end: off[1] });
  }
  // The data must be covered exactly: sorted by offset, each tensor starts where the previous ended.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of sorted) {
    if (e.begin !== expected) throw bad(`tensor ${e.name} starts at byte ${e.begin}, expected ${expected} (offsets must be contiguous)`);
    expected = e.end;
  }
  if (expected !== dataLength) throw bad(`the tensors cover ${expected} bytes of data, the file has ${dataLength}`);
  const tensors = entries.map((e): [string, RawTensor] => [e.name, convert(e.name, e.dtype, e.shape, bytes.subarray(dataStart + e.begin, dataStart + e.end))]);
  return { tensors, metadata };
}

/** Converts a tensor's bytes to kiln's dtypes (wider floats and integers narrow, with a range check). */
function convert(name: string, dtype: string, shape: number[], raw: Uint8Array): RawTensor {
  const count = raw.length / FORMAT_SIZE[dtype];
  const copy = raw.slice(); // aligned, and detached from the file's buffer
  const dv = new DataView(copy.buffer);
  if (dtype === 'BOOL') return { dtype: 'bool', shape, data: copy.map((b) => (b !== 0 ? 1 : 0)) };
  if (dtype === 'F32' && littleEndian) return { dtype: 'float32', shape, data: new Float32Array(copy.buffer) };
  if (dtype === 'I32' && littleEndian) return { dtype: 'int32', shape, data: new Int32Array(copy.buffer) };
  if (dtype === 'F32' || dtype === 'F64' || dtype === 'F16' || dtype === 'BF16') {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      out[i] = dtype === 'F32' ? dv.getFloat32(i * 4, true) : dtype === 'F64' ? dv.getFloat64(i * 8, true)
        : dtype === 'F16' ? half(dv.getUint16(i * 2, true)) : bfloat(dv.getUint16(i * 2, true));
    }
    return { dtype: 'float32', shape, data: out };
  }
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const v = readInt(dv, dtype, i);
    if (v < -2147483648 || v > 2147483647) throw new KilnError(`load: tensor ${name} (${dtype}) holds ${v}, outside the int32 range kiln stores integers in`);
    out[i] = Number(v);
  }
  return { dtype: 'int32', shape, data: out };
}

function readInt(dv: DataView, dtype: string, i: number): number | bigint {
  switch (dtype) {
    case 'I64': return dv.getBigInt64(i * 8, true);
    case 'U64': return dv.getBigUint64(i * 8, true);
    case 'I32': return dv.getInt32(i * 4, true);
    case 'U32': return dv.getUint32(i * 4, true);
    case 'I16': return dv.getInt16(i * 2, true);
    case 'U16': return dv.getUint16(i * 2, true);
    case 'I8': return dv.getInt8(i);
    default: return dv.getUint8(i);
  }
}

/** IEEE half precision bits to a number. */
function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** bfloat16 bits (the top half of a float32) to a number. */
function bfloat(h: number): number {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setUint32(0, h << 16, true);
  return dv.getFloat32(0, true);
}
