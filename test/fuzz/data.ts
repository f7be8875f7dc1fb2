// Values of the fuzzer's tensors: drawn from a seed (so a program is reproducible from its numbers)
// and printed as literals a developer can read.
import { mulberry32 } from '../rng.js';
import type { DataKind } from './program.js';

export type Rand = () => number;
export const rng = mulberry32;

export const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
export const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
export const chance = (r: Rand, p: number): boolean => r() < p;

/** `n` values of a kind (float kinds are float32 values). */
export function drawData(kind: DataKind, n: number, seed: number): number[] {
  const r = rng(seed * 7919 + 17);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (typeof kind === 'object') out.push(Math.floor(r() * kind.index));
    else if (kind === 'grid') out.push(r() < 0.08 ? 0 : int(r, -32, 32) / 8);
    else if (kind === 'float') out.push(Math.fround((r() * 2 - 1) * 2));
    else if (kind === 'pos') out.push(Math.fround(0.25 + r() * 2.75));
    else if (kind === 'int') out.push(int(r, -6, 6));
    else if (kind === 'small') out.push(int(r, -2, 2));
    else out.push(r() < 0.5 ? 1 : 0);
  }
  return out;
}

/** The shortest decimal that reads back as the same float32. */
export function f32Literal(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  if (Object.is(v, -0)) return '-0';
  const f = Math.fround(v);
  for (let p = 1; p <= 9; p++) {
    const s = Number(f.toPrecision(p));
    if (Math.fround(s) === f) return String(s);
  }
  return String(f);
}

/** Nested array literal of flat values in `shape`. */
export function nestedLiteral(values: readonly number[], shape: readonly number[], bool = false, floats = true): string {
  const fmt = (v: number) => (bool ? (v ? 'true' : 'false') : floats ? f32Literal(v) : String(v));
  if (shape.length === 0) return fmt(values[0]);
  let i = 0;
  const rec = (d: number): string => {
    const parts: string[] = [];
    for (let j = 0; j < shape[d]; j++) parts.push(d === shape.length - 1 ? fmt(values[i++]) : rec(d + 1));
    return `[${parts.join(', ')}]`;
  };
  return rec(0);
}
