// Printing tensors the way PyTorch does: tensor([[1.0000, 2.0000], ...], dtype=int32, requires_grad=True).
import type { DType, TypedArray } from './core/dtype.js';

/** Nests flat data into arrays of `shape` (bools as booleans). */
export function nest(data: TypedArray, shape: readonly number[], dtype: DType): unknown {
  const conv = (v: number) => (dtype === 'bool' ? v !== 0 : v);
  if (shape.length === 0) return conv(data[0]);
  const build = (dim: number, offset: number, stride: number): unknown[] => {
    const n = shape[dim];
    const inner = stride / Math.max(n, 1);
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) out.push(dim === shape.length - 1 ? conv(data[offset + i]) : build(dim + 1, offset + i * inner, inner));
    return out;
  };
  const total = shape.reduce((a, b) => a * b, 1);
  return build(0, 0, total);
}

function fmtFloat(v: number, intLike: boolean, sci: boolean): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (sci) return v.toExponential(4).replace(/e([+-])(\d)$/, 'e$10$2');
  return intLike ? `${v.toFixed(0)}.` : v.toFixed(4);
}

/** PyTorch-style text for a tensor's values. */
export function formatTensor(data: TypedArray, shape: readonly number[], dtype: DType, suffix: string[]): string {
  let cells: string[];
  if (dtype === 'float32') {
    const finite = Array.from(data).filter((v) => Number.isFinite(v));
    const intLike = finite.every((v) => Number.isInteger(v));
    const maxAbs = finite.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const minAbs = finite.filter((v) => v !== 0).reduce((m, v) => Math.min(m, Math.abs(v)), Infinity);
    const sci = !intLike && (maxAbs >= 1e8 || (minAbs < 1e-4 && minAbs !== Infinity));
    cells = Array.from(data, (v) => fmtFloat(v, intLike, sci));
  } else if (dtype === 'bool') cells = Array.from(data, (v) => (v ? 'True' : 'False'));
  else cells = Array.from(data, String);
  const width = cells.reduce((w, c) => Math.max(w, c.length), 0);
  const pad = (c: string) => c.padStart(width);
  const render = (dim: number, offset: number, indent: number): string => {
    if (shape.length === 0) return cells[0];
    const n = shape[dim];
    const inner = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
    if (dim === shape.length - 1) return `[${Array.from({ length: n }, (_, i) => pad(cells[offset + i])).join(', ')}]`;
    const sep = ',' + '\n'.repeat(shape.length - dim - 1) + ' '.repeat(indent + 1);
    return `[${Array.from({ length: n }, (_, i) => render(dim + 1, offset + i * inner, indent + 1)).join(sep)}]`;
  };
  const body = render(0, 0, 'tensor('.length);
  const extra = [...(dtype === 'int32' ? ['dtype=int32'] : []), ...suffix];
  return `tensor(${body}${extra.length ? ', ' + extra.join(', ') : ''})`;
}
