// Index checks: a kernel that reads through an index (a gathering load) tests every index against
// the source's extent. An index outside it reads element 0 instead (never memory outside the tensor)
// and is recorded; the backend raises the error below after the kernel. Kernels record the op as a
// small code (wasm memory, a WGSL buffer); these functions map names and codes.
import { ShapeError } from './errors.js';

/** What a gathering load reports when an index is out of range. */
export interface IndexSite {
  /** The op the user called (gather, indexSelect, embedding, crossEntropy). */
  readonly op: string;
  /** The dim the index runs along, in the source. */
  readonly axis: number;
  /** Valid indices are 0..size-1. */
  readonly size: number;
}

/** The error for an index outside its range, naming the op, the index and the valid range. */
export function indexError(site: IndexSite, index: number): ShapeError {
  const range = site.size > 0 ? `valid indices are 0..${site.size - 1}` : 'it is empty';
  return new ShapeError(`${site.op}: index ${index} is out of range for dim ${site.axis} of size ${site.size} (${range})`);
}

const names: string[] = [];

/** A small positive code for an op name (stable within a process), for kernels to record. */
export function opCode(op: string): number {
  let i = names.indexOf(op);
  if (i < 0) i = names.push(op) - 1;
  return i + 1;
}

/** The op name of a code from opCode(). */
export function opName(code: number): string {
  return names[code - 1] ?? `op #${code}`;
}

/** Where a kernel run on the JS side (cpu, the wasm JS tier) records the first bad index. */
export interface IndexErrorRecord {
  site: IndexSite | null;
  index: number;
}

/**
 * JS source of `ix(v, size, op, axis)`, which kernels rendered to JS call on every gathered index: v
 * when it is in 0..size-1, else 0, recording the first bad index in `err` (an IndexErrorRecord).
 */
export const JS_INDEX_CHECK = 'const ix = (v, n, op, axis) => (v >= 0 && v < n ? v : (err.site === null && (err.site = { op, axis, size: n }, err.index = v), 0));';

/** Runs a JS kernel with a fresh record and raises the index error it recorded, if any. */
export function runChecked(run: (err: IndexErrorRecord) => void): void {
  const err: IndexErrorRecord = { site: null, index: 0 };
  run(err);
  if (err.site) throw indexError(err.site, err.index);
}
