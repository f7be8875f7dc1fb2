// Non-constant padding modes of pad(): reflect, replicate and circular, built from slices, flips,
// expands and cat, so they trace, fuse and differentiate like any composite.
import { ShapeError, fmtShape } from './core/errors.js';
import { cat } from './functional.js';
import type { Tensor } from './tensor.js';

export type PadMode = 'constant' | 'reflect' | 'replicate' | 'circular';

/** Pads each dim by [before, after] taking the new values from the tensor itself (PyTorch's modes). */
export function padWithMode(x: Tensor, pairs: readonly (readonly [number, number])[], mode: Exclude<PadMode, 'constant'>): Tensor {
  let out = x;
  pairs.forEach(([l, r], d) => {
    if (l === 0 && r === 0) return;
    const n = out.shape[d];
    const bad = l < 0 || r < 0 ? 'must be non-negative'
      : mode === 'reflect' && (l >= n || r >= n) ? `must be less than the dim size ${n}`
      : mode === 'circular' && (l > n || r > n) ? `must be at most the dim size ${n}`
      : mode === 'replicate' && n === 0 ? 'needs a non-empty dim' : '';
    if (bad) throw new ShapeError(`pad: ${mode} padding [${l}, ${r}] of dim ${d} of ${fmtShape(x.shape)} ${bad}`);
    const range = (s: number, e: number) => out.slice(out.shape.map((_, i): [number, number] | null => (i === d ? [s, e] : null)));
    const edge = (s: number, count: number) => range(s, s + 1).expand(out.shape.map((m, i) => (i === d ? count : m)));
    let left: Tensor, right: Tensor;
    switch (mode) {
      case 'reflect': left = range(1, l + 1).flip(d); right = range(n - 1 - r, n - 1).flip(d); break;
      case 'replicate': left = edge(0, l); right = edge(n - 1, r); break;
      case 'circular': left = range(n - l, n); right = range(0, r); break;
    }
    out = cat([left, out, right].filter((t) => t.shape[d] > 0), d);
  });
  return out;
}
