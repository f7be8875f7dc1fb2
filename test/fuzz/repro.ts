// What a printed fuzz repro imports: the comparison of a compiled call with the eager call as a
// vitest assertion.
import { expect } from 'vitest';
import { flattenResult, leafDiff, type Leaf } from './compare.js';

export { backwardThrough } from './compare.js';

/**
 * For a printed repro: asserts that a compiled call's results match the eager call's (`exact` lists
 * the paths compared bit for bit; others use the tolerance rule of compare.ts with the given scale).
 */
export async function expectSameResult(compiled: unknown, eager: unknown, label: string, opts: { exact?: readonly string[]; scale?: number } = {}): Promise<void> {
  const c = new Map<string, Leaf>(), e = new Map<string, Leaf>();
  await flattenResult(compiled, 'r', c);
  await flattenResult(eager, 'r', e);
  const problems: string[] = [];
  for (const p of new Set([...c.keys(), ...e.keys()])) {
    const d = leafDiff(c.get(p), e.get(p), { exact: opts.exact?.includes(p.slice(2)) ?? false, scale: opts.scale ?? 1 });
    if (d) problems.push(`${label} ${p.slice(2)}: ${d}`);
  }
  expect(problems).toEqual([]);
}
