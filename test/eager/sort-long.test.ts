// sort/argsort/topk on rows longer than HOST_SORT_MIN run on the host (O(n log n)); they must order
// exactly as the fused rank path does: stable, NaN largest, descending keeping ties in order.
import { describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import { HOST_SORT_MIN } from '../../src/sorting.js';

/** A stable reference order for one row: NaN largest, ties by position. */
function refOrder(row: number[], descending: boolean): number[] {
  const ids = row.map((_, i) => i);
  const cmp = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? Number(Number.isNaN(a)) - Number(Number.isNaN(b)) : a - b);
  return ids.sort((i, j) => (descending ? -cmp(row[i], row[j]) : cmp(row[i], row[j])));
}

describe.each(['cpu', 'wasm'] as const)('sort of long rows on %s', (backend) => {
  const n = HOST_SORT_MIN + 77;
  // Values with many ties and a few NaNs.
  const rows = [0, 1, 2].map((r) => Array.from({ length: n }, (_, i) => (i % 97 === 5 ? NaN : ((i * 7919 + r * 31) % 50) - 25)));
  const x = k.tensor(rows, { backend });

  it.each([false, true])('descending %s: indices stable, values gathered, NaN largest', (descending) => {
    const { values, indices } = x.sort({ descending });
    const idx = indices.toArray() as number[][];
    const vals = values.toArray() as number[][];
    rows.forEach((row, r) => {
      const want = refOrder(row, descending);
      expect(idx[r]).toEqual(want);
      expect(vals[r].map((v) => (Number.isNaN(v) ? 'nan' : v))).toEqual(want.map((i) => (Number.isNaN(row[i]) ? 'nan' : row[i])));
    });
  });

  it('along dim 0, topk, and the gradient reaches each value\'s source', () => {
    const t = k.tensor(rows, { backend }).transpose(0, 1).contiguous().requiresGrad_();
    const { indices } = t.sort({ dim: 0 });
    expect((indices.transpose(0, 1).toArray() as number[][])[1]).toEqual(refOrder(rows[1], false));
    const top = t.transpose(0, 1).topk(3);
    const want = rows.map((row) => refOrder(row, true).slice(0, 3));
    expect(top.indices.toArray()).toEqual(want);
    // The gradient (on NaN-free rows): each of the k values' weights lands where it came from.
    const clean = rows.map((row) => row.map((v, i) => (Number.isNaN(v) ? -100 - i : v)));
    const c = k.tensor(clean, { backend }).requiresGrad_();
    const ctop = c.topk(3);
    const cwant = clean.map((row) => refOrder(row, true).slice(0, 3));
    const w = k.arange(3, undefined, 1, { backend, dtype: 'float32' }).add(1);
    ctop.values.mul(w).sum().backward();
    const g = c.grad!.toArray() as number[][];
    cwant.forEach((ids, r) => ids.forEach((i, j) => expect(g[r][i]).toBe(j + 1)));
    expect(g.flat().filter((v) => v !== 0)).toHaveLength(9);
  });

  it('a long sort runs on the host, so it finishes: 200,000 elements', () => {
    const big = k.randn([200_000], { backend });
    const s = big.sort().values.data();
    for (let i = 1; i < s.length; i++) expect(s[i - 1] <= s[i]).toBe(true);
  });
});
