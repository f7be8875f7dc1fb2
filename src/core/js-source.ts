// Fragments of JavaScript source for kernels rendered to JS (the cpu reference backend and the wasm
// backend's JS tier): a view's address at loop coordinates, its mask test, and nested loops.
import type { View } from './kernel.js';

/** Address of a view at coordinates `coord(d)` (JS expressions), as `offset + Σ coord·stride`. */
export function jsAddress(v: View, coord: (d: number) => string): string {
  const terms: string[] = v.offset !== 0 ? [String(v.offset)] : [];
  v.strides.forEach((s, d) => {
    if (s !== 0 && v.shape[d] !== 1) terms.push(s === 1 ? coord(d) : `${coord(d)}*${s}`);
  });
  return terms.length ? terms.join('+') : '0';
}

/** The in-bounds test of a masked view at `coord(d)`, or null when nothing is masked. */
export function jsMaskTest(v: View, coord: (d: number) => string): string | null {
  if (!v.mask) return null;
  const tests: string[] = [];
  v.mask.forEach(([lo, hi], d) => {
    if (lo > 0) tests.push(`${coord(d)}>=${lo}`);
    if (hi < v.shape[d]) tests.push(`${coord(d)}<${hi}`);
  });
  return tests.length ? tests.join('&&') : null;
}

/** Nested loops over `shape`, coordinates named c{first}.., wrapping `body` (row-major order). */
export function jsLoops(shape: readonly number[], first: number, body: string[]): string[] {
  let out = body;
  for (let d = shape.length - 1; d >= 0; d--) {
    const c = `c${first + d}`;
    out = [`for (let ${c} = 0; ${c} < ${shape[d]}; ${c}++) {`, ...out.map((l) => '  ' + l), '}'];
  }
  return out;
}

/** JS for (flat / inner) mod size over non-negative integers (size 0: no mod), for operandBCoords. */
export function jsDecode(flat: string, inner: number, size: number): string {
  const q = inner === 1 ? flat : `Math.floor(${flat}/${inner})`;
  return size ? `(${q}%${size})` : q;
}
