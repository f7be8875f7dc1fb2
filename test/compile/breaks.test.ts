// Graph breaks and side effects: behaviour identical to eager, with breaks reported where they happen.
import { describe, expect, it, vi } from 'vitest';
import * as k from '../../src/index.js';
import { findSideEffects } from '../../compiler/source.js';

describe('graph breaks', () => {
  it('async functions compile: an await is a break, the result matches eager', async () => {
    const fn = async (x: k.Tensor) => {
      const h = x.mul(3);
      await Promise.resolve();
      return h.add(1).exp();
    };
    const f = k.compile(fn);
    const x = k.randn([4]);
    for (let i = 0; i < 2; i++) {
      const [a, b] = [await f(x), await fn(x)];
      a.data().forEach((v, j) => expect(v).toBeCloseTo(b.data()[j], 5));
    }
  });

  it('a tensor used as a number or a string reads it (a break), as in eager mode', () => {
    const fn = (x: k.Tensor) => {
      const s = x.sum();
      const n = +s; // Symbol.toPrimitive
      return { label: `sum=${s}`, y: x.mul(n) };
    };
    const f = k.compile(fn);
    const x = k.tensor([1, 2]);
    const r = f(x), e = fn(x);
    expect(r.label).toBe(e.label);
    expect(r.y.toArray()).toEqual(e.y.toArray());
    expect(k.explain(fn, x).breaks.length).toBeGreaterThanOrEqual(1);
  });

  it('side effects keep the JavaScript running on every call (pushes to an outer array, console.log)', () => {
    const seen: number[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const fn = (x: k.Tensor) => { const y = x.add(1); seen.push(y.shape[0]); console.log('step'); return y; };
    const f = k.compile(fn);
    for (let i = 0; i < 3; i++) f(k.ones([2]));
    expect(seen).toEqual([2, 2, 2]);
    expect(log).toHaveBeenCalledTimes(3);
    log.mockRestore();
    expect(f.cacheInfo().traces).toBe(1);
  });

  it('acorn finds the side effects that make whole-graph replay wrong', () => {
    const outer: number[] = [];
    let counter = 0;
    expect(findSideEffects((x: k.Tensor) => x.add(1))).toEqual([]);
    const found = findSideEffects((x: k.Tensor) => { console.log(x.shape); outer.push(1); counter++; Math.random(); Date.now(); return x; })!;
    expect(found.map((s) => s.what)).toEqual(['console.log()', 'outer.push() on an outer variable', 'write to outer variable counter', 'Math.random()', 'Date.now()']);
    void counter;
  });

  it('explain() reports the break with its source line and the graphs around it', () => {
    const fn = (x: k.Tensor) => { const m = x.max().item() as number; return x.div(m).exp(); };
    const e = k.explain(fn, k.tensor([1, 2, 4]));
    expect(e.breaks[0].loc).toMatch(/breaks\.test\.ts:\d+/);
    expect(e.graphCount).toBeGreaterThanOrEqual(2);
    expect(e.toString()).toMatch(/break 1: item\(\) at .*breaks\.test\.ts/);
  });

  it('KILN_LOGS channels print as things happen; unknown names list the valid ones', () => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    k.setLogs('graph,breaks,recompiles,guards');
    try {
      const f = k.compile((x: k.Tensor) => x.sum().item() as number > 0 ? x : x.neg(), { dynamic: false });
      f(k.ones([2]));
      f(k.ones([3]));
      const text = err.mock.calls.map((c) => String(c[0])).join('\n');
      expect(text).toMatch(/graph break: item\(\)/);
      expect(text).toMatch(/recompiling: guard failed/);
      expect(text).toMatch(/traced /);
    } finally {
      k.setLogs('');
      err.mockRestore();
    }
    expect(() => k.setLogs('graph,bogus')).toThrow(/unknown log name\(s\) bogus; valid names: graph, breaks, recompiles, guards, fusion, kernels/);
  });
});
